"""What every sequence actor shares: configs, input encoding, action heads, SB3-style ``predict``, training calls, I/O.

An actor is an ``nn.Module`` built as ``Actor(observation_space, action_space, **config)``. It has two forms that
compute the same function:

* the **step form** (``forward_step`` / ``predict``): one observation per env and a memory ``state`` that is carried
  from step to step (a GRU hidden state, a KV cache, fast weights). This is what runs in an env loop.
* the **sequence form** (``forward_sequence`` / ``log_prob`` / ``loss``): whole trajectories ``[B, T, ...]`` at once,
  differentiable end to end, which is what behaviour cloning and DAgger train on.

Training interface (what a trainer calls)::

    out = actor.forward_sequence(observations, episode_starts, previous_actions)  # SequenceOutput
    out.distribution.log_prob(actions)                                           # [B, T]
    loss, info = actor.loss(observations, actions, mask=mask)                    # masked NLL (+ auxiliary terms)
    loss.backward()

Shapes: ``observations`` ``[B, T, *obs_shape]``; ``actions`` ``[B, T]`` (Discrete, integer) or ``[B, T, act_dim]``
(Box); ``mask`` ``[B, T]`` bool, False on padding; ``episode_starts`` ``[B, T]`` bool, True where a new episode begins
(column 0 always starts one, so a row holding one episode needs no ``episode_starts`` at all). Rows may hold several
episodes back to back: the memory is reset at every start, exactly as ``predict`` does on ``episode_start``.

Previous actions: with ``previous_action=True`` (the default of the sequence actors) every step's input also holds the
action executed at the previous step (zeros at an episode start), as the blog's interleaved (observation, action)
tokens do; Confounded Controls cannot be solved without it. By default the sequence form takes the previous actions
from ``actions`` shifted by one step, which is right for demonstrations (the labels are the executed actions). When
the executed actions differ from the labels (DAgger with a beta mixture, where the expert sometimes acts), pass the
executed ones as ``previous_actions``; in an env loop, ``predict`` records the actions it returns, and
:meth:`SequenceActor.record_actions` overwrites them with the ones really sent to the env.

State: a ``dict[str, torch.Tensor]`` whose tensors all have the env index first. It is owned by the actor: ``predict``
may update it in place (a KV cache append must not copy the cache), so keep using the returned state, not an old one.

Around :class:`SequenceActor`, and importable from here too: the configs (:mod:`ttt_gym.policies.config`), the
building blocks (:mod:`~ttt_gym.policies.blocks`), the numpy side of ``predict`` (:mod:`~ttt_gym.policies.predict`),
the registry and the file format (:mod:`~ttt_gym.policies.registry`).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn
from torch.distributions import Distribution

from ttt_gym.evaluation import derived_seed
from ttt_gym.policies.blocks import (
    LOG_STD_MAX,
    LOG_STD_MIN,
    ActionHead,
    FeedForward,
    ImageEncoder,
    SequenceOutput,
    action_dim,
    check_actor_spaces,
    distribution_params,
    reset_where,
    should_skip_update,
)
from ttt_gym.policies.config import ActorConfig, check_grad_stop, check_heads
from ttt_gym.policies.predict import batch_observations, choose_actions
from ttt_gym.policies.registry import load_actor, read_actor, register_actor, write_actor

# What the actor modules, benchmarks and users import from here; it lives in the modules imported above.
__all__ = [
    "LOG_STD_MAX",
    "LOG_STD_MIN",
    "ActionHead",
    "ActorConfig",
    "FeedForward",
    "SequenceActor",
    "SequenceOutput",
    "State",
    "distribution_params",
    "load_actor",
    "register_actor",
    "reset_where",
    "should_skip_update",
]

State = dict[str, torch.Tensor]
"""Memory of a batch of envs: tensors with the env index first (see the module docstring)."""

_ENCODER_STREAM = 1
"""Second key of the CNN encoder's initialisation seed, ``(config.seed, _ENCODER_STREAM)``."""

_check_heads = check_heads  # the names the actor modules import
_check_grad_stop = check_grad_stop


# ----------------------------------------------------------------------------------------------------------------
# Base class


class SequenceActor(nn.Module, ABC):
    """Base class of the sequence actors (one level deep: subclasses define the memory, this class the rest).

    A subclass sets ``config_class`` and implements:

    * ``_forward_features(inputs [B, T, in], valid [B, T]) -> (features [B, T, F], aux_loss, stats)`` for rows that
      each start one fresh episode at column 0 (the base class splits rows with several episodes before calling it);
    * ``_memory_state(n_envs) -> State`` and ``_reset_memory(state, reset [B]) -> State``;
    * ``_step_features(inputs [B, in], state) -> (features [B, F], state)``.

    Args:
        observation_space: a Box space (flattened; an image space with ``encoder="cnn"``).
        action_space: Discrete or a flat Box.
        **config: fields of the actor's ``config_class``.
    """

    config_class: ClassVar[type[ActorConfig]] = ActorConfig
    legacy_config_defaults: ClassVar[dict[str, Any]] = {}
    """Config values for files saved before a field existed (:meth:`load`), e.g. ``{"conv_kernel": 0}``."""
    _obs_center: torch.Tensor
    _obs_scale: torch.Tensor
    _act_center: torch.Tensor
    _act_scale: torch.Tensor

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> None:
        super().__init__()
        check_actor_spaces(observation_space, action_space)
        self.observation_space = observation_space
        self.action_space = action_space
        self.config = self.config_class.from_kwargs(**config)
        self.validated_deterministic: bool | None = None
        """How the actor acts best, as validation found (the trainers set it: True the mode, False seeded samples);
        ``evaluate_success`` acts that way unless told otherwise. None: not validated."""
        self.observation_dim = int(np.prod(observation_space.shape or ()))
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.action_dim = action_dim(action_space)
        self.observation_encoder = self._build_encoder()
        self.observation_feature_dim = (
            self.observation_dim if self.observation_encoder is None else self.observation_encoder.features_dim
        )
        """Width of the observation part of the input: the flattened observation, or the CNN's features."""
        self.input_dim = self.observation_feature_dim * (2 if self.config.observation_delta else 1) + (
            self.action_dim if self.config.previous_action else 0
        )
        self._register_normalisers()
        self._generator: torch.Generator | None = None
        self._episode_seed: int | None = None

    # -- construction helpers -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def seeded_init(self) -> Iterator[None]:
        """Build the layers inside this block: initialisation seeded by ``config.seed``, global RNG untouched."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            yield

    def _build_encoder(self) -> ImageEncoder | None:
        """The CNN of ``encoder="cnn"`` (None for ``"flat"``), built at construction so that a non-image space fails
        here. Its weights come from their own stream keyed by ``config.seed``: the subclass's layers, seeded by
        ``config.seed`` itself, do not repeat its draws."""
        if self.config.encoder != "cnn":
            return None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derived_seed((self.config.seed % 2**32, _ENCODER_STREAM)))
            return ImageEncoder(self.observation_space, self.config.encoder_features)

    def _register_normalisers(self) -> None:
        def affine(space: spaces.Box, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
            low = np.asarray(space.low, dtype=np.float64).reshape(-1)
            high = np.asarray(space.high, dtype=np.float64).reshape(-1)
            finite = np.isfinite(low) & np.isfinite(high) & (high > low)
            center = np.where(finite, (low + high) / 2, 0.0)
            scale = np.where(finite, (high - low) / 2, 1.0)
            assert center.shape == (dim,)
            return torch.as_tensor(center, dtype=torch.float32), torch.as_tensor(scale, dtype=torch.float32)

        obs_space = self.observation_space
        assert isinstance(obs_space, spaces.Box)
        if self.config.normalize_observations:
            center, scale = affine(obs_space, self.observation_dim)
        else:
            center, scale = torch.zeros(self.observation_dim), torch.ones(self.observation_dim)
        self.register_buffer("_obs_center", center, persistent=False)
        self.register_buffer("_obs_scale", scale, persistent=False)
        if isinstance(self.action_space, spaces.Box):
            center, scale = affine(self.action_space, self.action_dim)
        else:
            center, scale = torch.zeros(self.action_dim), torch.ones(self.action_dim)
        self.register_buffer("_act_center", center, persistent=False)
        self.register_buffer("_act_scale", scale, persistent=False)

    def make_head(self, feature_dim: int) -> ActionHead:
        """The action head subclasses put on their features."""
        return ActionHead(feature_dim, self.action_space, self.config.log_std_init)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the weights (``actor.double()`` makes the whole actor, state included, float64)."""
        return next(self.parameters()).dtype

    # -- inputs ---------------------------------------------------------------------------------------------------

    def encode_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions -> the previous-action input features: one-hot (Discrete) or bound-normalised vectors (Box)."""
        if self.discrete:
            start = int(self.action_space.start)  # type: ignore[attr-defined]
            return F.one_hot(actions.long() - start, self.action_dim).to(self._obs_center.dtype)
        return (actions.to(self._act_center.dtype) - self._act_center) / self._act_scale

    def _normalise_observations(self, observations: torch.Tensor, batch_dims: int) -> torch.Tensor:
        flat = observations.reshape(*observations.shape[:batch_dims], self.observation_dim)
        return (flat.to(self._obs_center.dtype) - self._obs_center) / self._obs_scale

    def _encode_observations(self, observations: torch.Tensor, batch_dims: int) -> torch.Tensor:
        """``[*batch, *obs_shape]`` -> ``[*batch, observation_feature_dim]``: normalised and flattened, or the CNN's
        features (the step and the sequence form both come here, so they see the same numbers)."""
        if self.observation_encoder is None:
            return self._normalise_observations(observations, batch_dims)
        batch_shape = observations.shape[:batch_dims]
        images = observations.reshape(-1, *observations.shape[batch_dims:])
        return self.observation_encoder(images).reshape(*batch_shape, self.observation_feature_dim)

    def _sequence_inputs(
        self, observations: torch.Tensor, starts: torch.Tensor, previous_actions: torch.Tensor | None
    ) -> torch.Tensor:
        obs = self._encode_observations(observations, 2)
        if self.config.observation_delta:
            delta = torch.zeros_like(obs)
            delta[:, 1:] = obs[:, 1:] - obs[:, :-1]
            delta = delta * (~starts).unsqueeze(-1).to(obs.dtype) * self.config.observation_delta
            obs = torch.cat([obs, delta], dim=-1)
        if not self.config.previous_action:
            return obs
        if previous_actions is None:
            raise ValueError(
                "This actor was built with previous_action=True: pass previous_actions (the executed actions "
                "shifted by one step) to forward_sequence, or actions to log_prob / loss."
            )
        encoded = self.encode_actions(previous_actions)
        encoded = encoded * (~starts).unsqueeze(-1).to(encoded.dtype)  # no previous action at an episode start
        return torch.cat([obs, encoded], dim=-1)

    @staticmethod
    def shift_actions(actions: torch.Tensor) -> torch.Tensor:
        """``previous[t] = actions[t - 1]`` (zeros at t = 0; episode starts are zeroed by the input encoding)."""
        previous = torch.zeros_like(actions)
        previous[:, 1:] = actions[:, :-1]
        return previous

    # -- sequence form --------------------------------------------------------------------------------------------

    def forward_sequence(
        self,
        observations: torch.Tensor,
        episode_starts: torch.Tensor | None = None,
        previous_actions: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> SequenceOutput:
        """Action distributions of every step of ``B`` trajectories, differentiable (see the module docstring).

        Args:
            observations: ``[B, T, *obs_shape]``.
            episode_starts: ``[B, T]`` bool; column 0 is always a start.
            previous_actions: ``[B, T]`` / ``[B, T, act_dim]`` executed action of the previous step (row t holds
                a_{t-1}); required when ``config.previous_action``; ignored at episode starts.
            mask: ``[B, T]`` bool, False on padding. Padding must come after the valid steps of its episode: the
                memory still consumes masked steps (TTT-E2E leaves them out of its inner loss), so a hole in the
                middle of an episode would make the sequence form differ from ``predict``.
        """
        observations = torch.as_tensor(observations, device=self.device)
        if observations.dim() < 3:
            raise ValueError(
                f"forward_sequence takes [B, T, *obs_shape] observations, got shape {tuple(observations.shape)}; "
                "add the batch dimension with observations[None]."
            )
        batch, length = observations.shape[:2]
        starts = torch.zeros(batch, length, dtype=torch.bool, device=self.device)
        if episode_starts is not None:
            starts |= torch.as_tensor(episode_starts, device=self.device).bool()
        starts[:, 0] = True
        valid = torch.ones_like(starts) if mask is None else torch.as_tensor(mask, device=self.device).bool().clone()
        if previous_actions is not None:
            previous_actions = torch.as_tensor(previous_actions, device=self.device)
        inputs = self._sequence_inputs(observations, starts, previous_actions)
        if bool(starts[:, 1:].any()):
            features, aux_loss, stats = self._forward_split_episodes(inputs, starts, valid)
        else:
            features, aux_loss, stats = self._forward_features(inputs, valid)
        return SequenceOutput(self.head(features), aux_loss, stats)

    def _forward_split_episodes(
        self, inputs: torch.Tensor, starts: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Repack rows holding several episodes into one episode per row, run, and scatter back."""
        batch, length = starts.shape
        flat_starts = starts.reshape(-1)
        episode = torch.cumsum(flat_starts.long(), 0) - 1  # rows start with True, so episodes never cross rows
        first = torch.nonzero(flat_starts).squeeze(-1)
        position = torch.arange(batch * length, device=inputs.device) - first[episode]
        n_episodes = int(first.numel())
        longest = int(position.max()) + 1
        packed = inputs.new_zeros(n_episodes, longest, inputs.shape[-1])
        packed[episode, position] = inputs.reshape(batch * length, -1)
        packed_valid = torch.zeros(n_episodes, longest, dtype=torch.bool, device=inputs.device)
        packed_valid[episode, position] = valid.reshape(-1)
        features, aux_loss, stats = self._forward_features(packed, packed_valid)
        return features[episode, position].reshape(batch, length, -1), aux_loss, stats

    def log_prob(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        episode_starts: torch.Tensor | None = None,
        previous_actions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, T]`` log-probabilities of ``actions`` (0 where ``mask`` is False).

        ``previous_actions`` defaults to ``actions`` shifted by one step (demonstrations); see the module docstring.
        """
        actions = self._actions_tensor(actions, mask)
        if previous_actions is None and self.config.previous_action:
            previous_actions = self.shift_actions(actions)
        out = self.forward_sequence(observations, episode_starts, previous_actions, mask)
        return self._masked_log_prob(out, actions, mask)

    def _actions_tensor(self, actions: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Actions on the device, with padding (``mask`` False) replaced by a valid action."""
        actions = torch.as_tensor(actions, device=self.device)
        if mask is None:
            return actions
        keep = torch.as_tensor(mask, device=self.device).bool()
        if self.discrete:
            return torch.where(keep, actions, torch.full_like(actions, int(self.action_space.start)))  # type: ignore[attr-defined]
        return torch.where(keep.unsqueeze(-1), actions, torch.zeros_like(actions))

    def _masked_log_prob(self, out: SequenceOutput, actions: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if self.discrete:
            start = int(self.action_space.start)  # type: ignore[attr-defined]
            actions = actions.long() - start
            log_prob = out.distribution.log_prob(actions)
        else:
            log_prob = out.distribution.log_prob(actions.to(out.params.dtype))
        if mask is not None:
            log_prob = log_prob * torch.as_tensor(mask, device=log_prob.device).to(log_prob.dtype)
        return log_prob

    def loss(
        self,
        observations: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        episode_starts: torch.Tensor | None = None,
        previous_actions: torch.Tensor | None = None,
        loss_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Behaviour-cloning loss on whole trajectories: mean NLL over valid steps plus the actor's auxiliary loss.

        ``loss_mask`` (``[B, T]`` bool, default: ``mask``) picks the steps whose NLL counts: a window's burn-in steps
        are valid (they build up the memory) but not scored.

        Returns:
            The scalar loss to backpropagate and a dict of floats for logging (``nll``, ``aux_loss``,
            ``accuracy`` for Discrete actions, and the actor's ``stats``).
        """
        actions = self._actions_tensor(actions, mask)
        if previous_actions is None and self.config.previous_action:
            previous_actions = self.shift_actions(actions)
        out = self.forward_sequence(observations, episode_starts, previous_actions, mask)
        log_prob = self._masked_log_prob(out, actions, mask)
        weights = (
            torch.ones_like(log_prob)
            if mask is None
            else torch.as_tensor(mask, device=log_prob.device).to(log_prob.dtype)
        )
        if loss_mask is not None:
            weights = weights * torch.as_tensor(loss_mask, device=log_prob.device).to(log_prob.dtype)
        n_valid = weights.sum().clamp_min(1.0)
        nll = -(log_prob * weights).sum() / n_valid
        loss = nll + self.aux_loss_weight * out.aux_loss
        info = {"nll": float(nll.detach()), "aux_loss": float(out.aux_loss.detach()), **out.stats}
        if self.discrete:
            start = int(self.action_space.start)  # type: ignore[attr-defined]
            correct = (out.params.argmax(-1) == actions.long() - start).to(weights.dtype)
            info["accuracy"] = float((correct * weights).sum() / n_valid)
        return loss, info

    @property
    def aux_loss_weight(self) -> float:
        """Weight of ``SequenceOutput.aux_loss`` in :meth:`loss` (0 unless the actor defines one)."""
        return 0.0

    # -- step form ------------------------------------------------------------------------------------------------

    def initial_state(self, n_envs: int = 1) -> State:
        """Fresh memory for ``n_envs`` envs (on the actor's device)."""
        with torch.no_grad():
            state = self._memory_state(n_envs)
        state["previous_action"] = torch.zeros(n_envs, self.action_dim, device=self.device, dtype=self.dtype)
        if self.config.observation_delta:
            # The last normalised observation (or CNN features) and whether there is one (0 at an episode start).
            state["previous_observation"] = torch.zeros(
                n_envs, self.observation_feature_dim, device=self.device, dtype=self.dtype
            )
            state["has_previous_observation"] = torch.zeros(n_envs, 1, device=self.device, dtype=self.dtype)
        return state

    def reset_state(self, state: State, reset: torch.Tensor | np.ndarray) -> State:
        """Fresh memory for the envs where ``reset`` (``[B]`` bool) is set; the others keep theirs."""
        reset = torch.as_tensor(np.asarray(reset, dtype=bool) if not torch.is_tensor(reset) else reset)
        reset = reset.to(self.device).reshape(-1)
        if not bool(reset.any()):
            return state
        state = self._reset_memory(state, reset)
        for key in ("previous_action", "previous_observation", "has_previous_observation"):
            if key in state:
                state[key] = reset_where(state[key], reset, torch.zeros_like(state[key]))
        return state

    def record_actions(self, state: State, actions: torch.Tensor | np.ndarray) -> State:
        """Store the actions sent to the envs, the next step's previous-action input (``predict`` calls it)."""
        actions = torch.as_tensor(np.asarray(actions) if not torch.is_tensor(actions) else actions)
        n_envs = state["previous_action"].shape[0]
        actions = actions.to(self.device).reshape(n_envs, *(() if self.discrete else (self.action_dim,)))
        state["previous_action"] = self.encode_actions(actions).to(state["previous_action"].dtype)
        return state

    def forward_step(
        self, observations: torch.Tensor, state: State, episode_start: torch.Tensor | None = None
    ) -> tuple[Distribution, State]:
        """One step for a batch of envs: ``[B, *obs_shape]`` tensors -> (distribution with batch shape ``[B]``, state).

        The previous action comes from ``state`` (see :meth:`record_actions`).
        """
        if episode_start is not None:
            state = self.reset_state(state, episode_start)
        obs = self._encode_observations(observations.to(self.device), 1)
        if self.config.observation_delta:
            delta = (obs - state["previous_observation"]) * state["has_previous_observation"]
            state["previous_observation"] = obs.to(state["previous_observation"].dtype)
            state["has_previous_observation"] = torch.ones_like(state["has_previous_observation"])
            obs = torch.cat([obs, delta * self.config.observation_delta], dim=-1)
        inputs = torch.cat([obs, state["previous_action"]], dim=-1) if self.config.previous_action else obs
        features, state = self._step_features(inputs, state)
        return self.head(features), state

    def predict(
        self,
        observation: np.ndarray,
        state: State | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, State]:
        """SB3 recurrent ``predict`` (as sb3-contrib's RecurrentPPO): numpy observations in, numpy actions out.

        Args:
            observation: one observation ``obs_shape`` or a batch ``[n_envs, *obs_shape]``.
            state: the memory returned by the previous call, or None for a fresh one.
            episode_start: ``[n_envs]`` bool; resets the memory of those envs before acting.
            deterministic: the distribution's mode instead of a sample.

        Returns:
            Actions (un-batched for a single observation; Box actions clipped to the space) and the new state.
        """
        obs, single = batch_observations(observation, self.observation_space)
        n_envs = obs.shape[0]
        if state is None:
            state = self.initial_state(n_envs)
        elif state["previous_action"].shape[0] != n_envs:
            raise ValueError(
                f"The state holds {state['previous_action'].shape[0]} envs but {n_envs} observations were given; "
                "pass state=None to start fresh."
            )
        # No dropout or batch norm anywhere, so train / eval mode does not matter here (and toggling it for every
        # module would cost more than a small actor's whole step).
        with torch.no_grad():
            starts = None if episode_start is None else np.asarray(episode_start, dtype=bool).reshape(n_envs)
            distribution, state = self.forward_step(
                torch.as_tensor(obs, device=self.device),
                state,
                None if starts is None else torch.as_tensor(starts),
            )
            actions = self._choose(distribution, deterministic)
            state = self.record_actions(state, actions)
        out = actions.cpu().numpy()
        if single:
            out = out[0]
        return out, state

    def reset_sampling(self) -> None:
        """Restart the seeded stream of sampled actions (``config.seed``), as a freshly loaded actor has it."""
        self._generator = None
        self._episode_seed = None

    def reseed(self, seed: int) -> None:
        """Draw the next sampled actions from a stream keyed by ``(config.seed, seed)`` (the evaluation functions pass
        each episode's seed, so that an episode's draws do not depend on the episodes before it);
        :meth:`reset_sampling` goes back to the ``config.seed`` stream."""
        self._generator = None
        self._episode_seed = int(seed)

    def _choose(self, distribution: Distribution, deterministic: bool) -> torch.Tensor:
        if self._generator is None or self._generator.device != self.device:
            self._generator = torch.Generator(device=self.device)
            episode = self._episode_seed
            self._generator.manual_seed(
                self.config.seed if episode is None else derived_seed((self.config.seed, episode))
            )
        return choose_actions(distribution, self.action_space, self._generator, deterministic)

    # -- subclass hooks -------------------------------------------------------------------------------------------

    head: ActionHead

    @abstractmethod
    def _forward_features(
        self, inputs: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """``[B, T, in]`` inputs (each row one episode from column 0) -> features, auxiliary loss, stats."""

    @abstractmethod
    def _memory_state(self, n_envs: int) -> State:
        """The actor's own memory tensors for ``n_envs`` fresh episodes (called under ``no_grad``)."""

    @abstractmethod
    def _reset_memory(self, state: State, reset: torch.Tensor) -> State:
        """Fresh memory where ``reset`` is set."""

    @abstractmethod
    def _step_features(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """``[B, in]`` inputs of one step -> ``[B, F]`` features and the updated state."""

    def _zero(self) -> torch.Tensor:
        return torch.zeros((), device=self.device, dtype=self.dtype)

    # -- save / load ----------------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the config, the spaces and the weights (a torch file readable with ``weights_only=True``)."""
        write_actor(self, path)

    @classmethod
    def load(cls: type[_ActorT], path: str | Path, device: str | torch.device = "auto") -> _ActorT:
        """Read an actor written by :meth:`save` (``SequenceActor.load`` accepts any actor class).

        ``device="auto"`` (SB3's default) puts it on CUDA when available, else the CPU."""
        return read_actor(path, device, expected=None if cls is SequenceActor else cls)  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"{self.config}"


_ActorT = TypeVar("_ActorT", bound=SequenceActor)
