"""What the offline goal-conditioned agents share: config handling, the SB3 policy, the training loop, save/load.

Each agent file (``gcbc.py``, ``gcivl.py``, ``gciql.py``) holds a frozen config dataclass and a subclass of
:class:`GoalConditionedAgent` that defines its critics, one gradient step and its actor loss. Goal relabelling is the
dataset's job (:class:`ttt_gym.data.GoalDataset`); the agents only consume :class:`ttt_gym.data.GoalBatch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.logger import HumanOutputFormat, Logger, configure
from stable_baselines3.common.policies import BasePolicy
from torch import nn

from ttt_gym._spaces import space_from_data, space_to_data
from ttt_gym.agents.networks import GaussianActor
from ttt_gym.data import GoalBatch, GoalSamplingConfig

OBSERVATION_KEY = "observation"
GOAL_KEY = "desired_goal"
AWR_MAX_WEIGHT = 100.0
_FILE_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------------------------
# Config


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Hyperparameters every agent has (OGBench's names and defaults).

    Attributes:
        lr: Adam learning rate of every network.
        batch_size: transitions per gradient step.
        actor_hidden_dims: widths of the actor's hidden layers.
        discount: discount factor; also the parameter of geometric goal sampling.
        const_std: keep the actor's standard deviation at 1 (OGBench's default); otherwise learn a
            state-independent log standard deviation.
        value_p_curgoal: probability that the value goal is the current state.
        value_p_trajgoal: probability that the value goal is a future state of the same trajectory.
        value_p_randomgoal: probability that the value goal is a random dataset state.
        value_geom_sample: sample future value goals geometrically (else uniformly).
        actor_p_curgoal: probability that the actor goal is the current state.
        actor_p_trajgoal: probability that the actor goal is a future state of the same trajectory.
        actor_p_randomgoal: probability that the actor goal is a random dataset state.
        actor_geom_sample: sample future actor goals geometrically (else uniformly).
        seed: seeds the network initialisation, the batch sampling and stochastic actions.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    """

    lr: float = 3e-4
    batch_size: int = 1024
    actor_hidden_dims: tuple[int, ...] = (512, 512, 512)
    discount: float = 0.99
    const_std: bool = True
    value_p_curgoal: float = 0.2
    value_p_trajgoal: float = 0.5
    value_p_randomgoal: float = 0.3
    value_geom_sample: bool = True
    actor_p_curgoal: float = 0.0
    actor_p_trajgoal: float = 1.0
    actor_p_randomgoal: float = 0.0
    actor_geom_sample: bool = False
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("actor_hidden_dims", "value_hidden_dims"):
            if hasattr(self, name):
                dims = tuple(int(d) for d in getattr(self, name))
                if not dims or min(dims) < 1:
                    raise ValueError(f"{name} must be a non-empty sequence of positive widths, got {dims}.")
                object.__setattr__(self, name, dims)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        if not 0.0 < self.discount < 1.0:
            raise ValueError(f"discount must lie in (0, 1), got {self.discount}.")
        for prefix in ("value", "actor"):
            probs = [getattr(self, f"{prefix}_p_{kind}") for kind in ("curgoal", "trajgoal", "randomgoal")]
            if min(probs) < 0 or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
                raise ValueError(
                    f"{prefix}_p_curgoal + {prefix}_p_trajgoal + {prefix}_p_randomgoal must be probabilities summing "
                    f"to 1, got {probs}."
                )

    @classmethod
    def from_kwargs(cls: type[_ConfigT], **kwargs: Any) -> _ConfigT:
        """Build the config from keyword arguments, with a clear error for unknown keys.

        ``hidden_dims`` is accepted as a shorthand that sets every ``*_hidden_dims`` field at once.
        """
        valid = [f.name for f in dataclasses.fields(cls)]
        if "hidden_dims" in kwargs:
            dims = tuple(kwargs.pop("hidden_dims"))
            for name in valid:
                if name.endswith("_hidden_dims"):
                    if name in kwargs and tuple(kwargs[name]) != dims:
                        raise ValueError(f"hidden_dims={dims} conflicts with {name}={tuple(kwargs[name])}.")
                    kwargs[name] = dims
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, valid, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise TypeError(
                f"Unknown {cls.__name__} key(s): {', '.join(hints)}. Valid keys: {', '.join(valid)}, hidden_dims."
            )
        return cls(**kwargs)

    def goal_sampling(self) -> GoalSamplingConfig:
        """The dataset's goal-relabelling config implied by this agent config."""
        return GoalSamplingConfig(
            value_p_curgoal=self.value_p_curgoal,
            value_p_trajgoal=self.value_p_trajgoal,
            value_p_randomgoal=self.value_p_randomgoal,
            value_geom_sample=self.value_geom_sample,
            actor_p_curgoal=self.actor_p_curgoal,
            actor_p_trajgoal=self.actor_p_trajgoal,
            actor_p_randomgoal=self.actor_p_randomgoal,
            actor_geom_sample=self.actor_geom_sample,
            discount=self.discount,
        )


_ConfigT = TypeVar("_ConfigT", bound=AgentConfig)


def ogbench_hyperparameters(agent: str, env_name: str) -> dict[str, Any]:
    """Per-environment overrides of OGBench's ``impls/hyperparameters.sh`` for a state-based env.

    Pass the result as keyword arguments: ``GCIQL(env, dataset, **ogbench_hyperparameters("gciql", name))``.
    Covers the pointmaze / antmaze / humanoidmaze / antsoccer / cube / scene / puzzle families; an env outside them
    gets an empty dict (the agent's defaults).

    Args:
        agent: ``"gcbc"``, ``"gcivl"`` or ``"gciql"`` (case-insensitive).
        env_name: an OGBench dataset name such as ``"pointmaze-medium-navigate-v0"``.
    """
    agent = agent.lower()
    if agent not in ("gcbc", "gcivl", "gciql"):
        raise ValueError(f"agent must be 'gcbc', 'gcivl' or 'gciql', got {agent!r}.")
    family = env_name.split("-")[0]
    overrides: dict[str, Any] = {}
    if family == "humanoidmaze" or "-giant-" in env_name:
        if agent != "gcbc":
            overrides["discount"] = 0.995
    if agent != "gcbc" and "-stitch-" in env_name:
        overrides.update(actor_p_trajgoal=0.5, actor_p_randomgoal=0.5)
    if agent != "gcbc" and "-explore-" in env_name:
        overrides.update(actor_p_trajgoal=0.0, actor_p_randomgoal=1.0)
    if agent == "gcivl":
        overrides["alpha"] = 10.0
    elif agent == "gciql":
        noisy = "-noisy-" in env_name
        alphas = {"pointmaze": 0.003, "antmaze": 0.3, "humanoidmaze": 0.1, "antsoccer": 0.1}
        if family in alphas:
            overrides["alpha"] = 0.01 if "-explore-" in env_name else alphas[family]
        elif family in ("cube", "scene", "puzzle"):
            overrides["alpha"] = 0.03 if noisy else 1.0
    return overrides


# ----------------------------------------------------------------------------------------------------------------
# Batches and losses


class SupportsGoalSampling(Protocol):
    """What the agents need from a dataset (:class:`ttt_gym.data.GoalDataset` provides it)."""

    @property
    def observation_dim(self) -> int: ...

    @property
    def action_dim(self) -> int: ...

    def sample(
        self, batch_size: int, rng: np.random.Generator, config: GoalSamplingConfig | None = None
    ) -> GoalBatch: ...


@dataclasses.dataclass(frozen=True)
class TensorBatch:
    """A :class:`ttt_gym.data.GoalBatch` as float32 tensors on the agent's device (same field names)."""

    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    rewards: torch.Tensor
    masks: torch.Tensor
    value_goals: torch.Tensor
    actor_goals: torch.Tensor

    @classmethod
    def from_batch(cls, batch: GoalBatch | TensorBatch, device: torch.device) -> TensorBatch:
        """Convert a numpy batch (zero-copy on CPU when already float32); a TensorBatch is moved if needed."""
        values = {}
        for f in dataclasses.fields(cls):
            value = getattr(batch, f.name)
            if isinstance(value, torch.Tensor):
                values[f.name] = value.to(device=device, dtype=torch.float32)
            else:
                array = np.ascontiguousarray(value, dtype=np.float32)
                if not array.flags.writeable:  # e.g. a view of a dataset's read-only arrays: torch would warn
                    array = array.copy()
                values[f.name] = torch.from_numpy(array).to(device, non_blocking=True)
        return cls(**values)


def expectile_loss(advantages: torch.Tensor, differences: torch.Tensor, expectile: float) -> torch.Tensor:
    """Elementwise asymmetric square: ``w * diff**2`` with ``w = expectile`` where ``adv >= 0``, else ``1 - expectile``.

    IQL uses ``adv = diff = Q - V``; GCIVL takes the weight from the target network's advantage.
    """
    weight = torch.where(advantages >= 0, expectile, 1.0 - expectile)
    return weight * differences.square()


def awr_weights(advantages: torch.Tensor, alpha: float, max_weight: float = AWR_MAX_WEIGHT) -> torch.Tensor:
    """Advantage-weighted-regression weights ``min(exp(alpha * adv), max_weight)`` (OGBench caps them at 100)."""
    return torch.exp(advantages * alpha).clamp(max=max_weight)


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * source``, parameter by parameter, in place."""
    with torch.no_grad():
        target_params: list[torch.Tensor] = list(target.parameters())
        source_params: list[torch.Tensor] = list(source.parameters())
        torch._foreach_lerp_(target_params, source_params, tau)


@contextlib.contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[None]:
    """Stop gradients into ``module``'s parameters (gradients still flow through it to its inputs)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


# ----------------------------------------------------------------------------------------------------------------
# Spaces


def _goal_spaces(env_or_spaces: Any) -> tuple[spaces.Dict, spaces.Box]:
    """The policy's dict observation space and the Box action space from an env or an (obs, action) space pair."""
    if isinstance(env_or_spaces, tuple | list) and len(env_or_spaces) == 2:
        observation_space, action_space = env_or_spaces
    elif hasattr(env_or_spaces, "observation_space") and hasattr(env_or_spaces, "action_space"):
        observation_space, action_space = env_or_spaces.observation_space, env_or_spaces.action_space
    else:
        raise TypeError(
            "Expected a gymnasium env or an (observation_space, action_space) pair, got "
            f"{type(env_or_spaces).__name__}."
        )
    if not isinstance(action_space, spaces.Box):
        raise TypeError(f"The agents need a continuous Box action space, got {action_space}.")
    if isinstance(observation_space, spaces.Box):
        observation_space = spaces.Dict({OBSERVATION_KEY: observation_space, GOAL_KEY: observation_space})
    if not isinstance(observation_space, spaces.Dict) or not {OBSERVATION_KEY, GOAL_KEY} <= set(
        observation_space.spaces
    ):
        raise TypeError(
            "Expected a Box observation space (an OGBench env) or a Dict with 'observation' and 'desired_goal' "
            f"(ttt_gym.wrappers.GoalObservation(env, full_goal=True)), got {observation_space}."
        )
    obs_space, goal_space = observation_space[OBSERVATION_KEY], observation_space[GOAL_KEY]
    if not isinstance(obs_space, spaces.Box) or not isinstance(goal_space, spaces.Box):
        raise TypeError(f"'observation' and 'desired_goal' must be Box spaces, got {obs_space} and {goal_space}.")
    if len(obs_space.shape) != 1 or goal_space.shape != obs_space.shape:
        raise ValueError(
            f"The networks take the full goal observation, as in OGBench: 'desired_goal' must have the shape of "
            f"'observation' {obs_space.shape}, got {goal_space.shape}. Wrap the env in "
            "ttt_gym.wrappers.GoalObservation(env, full_goal=True), which puts info['goal'] in desired_goal."
        )
    return observation_space, action_space


def _flat_dim(space: spaces.Space) -> int:
    return int(np.prod(space.shape or ()))


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ----------------------------------------------------------------------------------------------------------------
# Policy


class GoalConditionedPolicy(BasePolicy):
    """The agents' actor as a Stable-Baselines3 policy, acting on ``{"observation", "desired_goal"}`` dicts.

    ``predict`` is SB3's (eval mode, ``no_grad``, batching, clipping to the action space), so
    ``evaluate_policy`` and any SB3 tool can drive it. Deterministic actions are the Gaussian mean; stochastic ones
    add noise from a generator seeded with ``seed``.

    Args:
        observation_space: a Dict space with ``observation`` and ``desired_goal`` Box entries (others are ignored).
        action_space: a Box action space.
        actor_hidden_dims: widths of the actor's hidden layers.
        const_std: see :class:`AgentConfig`.
        seed: seed of the noise of stochastic actions.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        actor_hidden_dims: Sequence[int] = (512, 512, 512),
        const_std: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(observation_space, action_space)
        self.actor_hidden_dims = tuple(actor_hidden_dims)
        self.const_std = const_std
        self.seed = seed
        obs_dim = _flat_dim(observation_space[OBSERVATION_KEY])
        goal_dim = _flat_dim(observation_space[GOAL_KEY])
        self.actor = GaussianActor(
            obs_dim, goal_dim, _flat_dim(action_space), self.actor_hidden_dims, const_std=const_std
        )
        self._generator: torch.Generator | None = None

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "actor_hidden_dims": self.actor_hidden_dims,
            "const_std": self.const_std,
            "seed": self.seed,
        }

    def save(self, path: str | Path) -> None:
        """Write the policy alone (constructor arguments and weights), loadable with ``weights_only=True``."""
        data = self._get_constructor_parameters()
        data["observation_space"] = space_to_data(self.observation_space)
        data["action_space"] = space_to_data(self.action_space)
        torch.save({"data": data, "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "auto") -> GoalConditionedPolicy:
        """Load a policy written by :meth:`save`.

        SB3 2.2's own ``BasePolicy.load`` cannot read policies under torch >= 2.6 (it unpickles gymnasium
        spaces with ``weights_only`` on), hence this override.
        """
        saved = torch.load(path, map_location="cpu", weights_only=True)
        data = dict(saved["data"])
        data["observation_space"] = space_from_data(data["observation_space"])
        data["action_space"] = space_from_data(data["action_space"])
        policy = cls(**data)
        policy.load_state_dict(saved["state_dict"])
        return policy.to(resolve_device(device))

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
        return self._generator

    def forward(self, observation: dict[str, torch.Tensor], deterministic: bool = True) -> torch.Tensor:
        """Unclipped actions for a batch of dict observations (tensors)."""
        obs = observation[OBSERVATION_KEY].float().flatten(1)
        goal = observation[GOAL_KEY].float().flatten(1)
        mean, log_std = self.actor(obs, goal)
        if deterministic:
            return mean
        noise = torch.randn(mean.shape, generator=self._noise_generator(mean.device), device=mean.device)
        return mean + noise * torch.exp(log_std)

    def _predict(self, observation: Any, deterministic: bool = True) -> torch.Tensor:
        if not isinstance(observation, dict):
            raise TypeError(
                "GoalConditionedPolicy acts on dict observations {'observation': ..., 'desired_goal': ...}; wrap the "
                "env in ttt_gym.wrappers.GoalObservation(env, full_goal=True) or use the agent's "
                "predict(obs, goal=info['goal'])."
            )
        return self(observation, deterministic)


# ----------------------------------------------------------------------------------------------------------------
# Agent


_AgentT = TypeVar("_AgentT", bound="GoalConditionedAgent")


class GoalConditionedAgent(ABC):
    """Base of GCBC / GCIVL / GCIQL: an offline goal-conditioned agent with a Stable-Baselines-style API.

    Subclasses set ``config_class`` and implement :meth:`_build_critics`, :meth:`_train_step` and
    :meth:`actor_loss`.

    Args:
        env_or_spaces: a gymnasium env (an OGBench env, or one wrapped in ``GoalObservation``) or an
            ``(observation_space, action_space)`` pair.
        dataset: the offline data (:class:`ttt_gym.data.GoalDataset`); may be ``None`` for inference only.
        **config: fields of the agent's config dataclass (OGBench names); ``hidden_dims`` sets all widths.
    """

    config_class: ClassVar[type[AgentConfig]] = AgentConfig
    #: critic modules updated by ``critic_optimizer`` (targets are excluded).
    trained_critics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, env_or_spaces: Any, dataset: SupportsGoalSampling | None = None, **config: Any) -> None:
        self.config = self.config_class.from_kwargs(**config)
        self.observation_space, self.action_space = _goal_spaces(env_or_spaces)
        self.device = resolve_device(self.config.device)
        self.observation_dim = _flat_dim(self.observation_space[OBSERVATION_KEY])
        self.action_dim = _flat_dim(self.action_space)
        self.dataset: SupportsGoalSampling | None = None
        if dataset is not None:
            self.set_dataset(dataset)
        self.rng = np.random.default_rng(self.config.seed)
        """Samples the training batches (saved with the agent)."""
        self.torch_rng = torch.Generator(device=self.device)
        """Noise inside losses, e.g. sampled actions in DDPG+BC without const_std (saved with the agent)."""
        self.torch_rng.manual_seed(self.config.seed)
        self.num_timesteps = 0
        self._logger: Logger | None = None

        # Initialise on the CPU from the config seed, so that weights do not depend on the device or global state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.policy = GoalConditionedPolicy(
                self.observation_space,
                self.action_space,
                actor_hidden_dims=self.config.actor_hidden_dims,
                const_std=self.config.const_std,
                seed=self.config.seed,
            )
            self.critics = nn.ModuleDict(self._build_critics())
        self.policy.to(self.device)
        self.critics.to(self.device)
        self.actor_optimizer = self._adam(self.actor.parameters())
        critic_params = [p for name in self.trained_critics for p in self.critics[name].parameters()]
        self.critic_optimizer = self._adam(critic_params) if critic_params else None

    # --- subclass hooks ------------------------------------------------------------------------------------------

    def _build_critics(self) -> dict[str, nn.Module]:
        """The critic networks (and their targets), built on the CPU; GCBC has none."""
        return {}

    @abstractmethod
    def _train_step(self, batch: TensorBatch) -> dict[str, torch.Tensor]:
        """One gradient step on every network; returns detached scalar diagnostics."""

    @abstractmethod
    def actor_loss(
        self,
        batch: GoalBatch | TensorBatch,
        actor: nn.Module | None = None,
        params: Mapping[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The agent's actor loss on ``batch`` with the critics frozen; differentiable in the actor parameters.

        This is the loss a test-time-training wrapper fine-tunes a copy of the actor with.

        Args:
            batch: a batch whose ``actor_goals`` are the goals to condition on (fixed to g* at test time).
            actor: the actor to evaluate, e.g. a copy of ``agent.actor``; defaults to ``agent.actor``.
            params: optional parameters for ``actor`` (``torch.func.functional_call``), for ``torch.func`` use.

        Returns:
            The scalar loss and detached diagnostics.
        """

    def actor_weights(self, batch: GoalBatch | TensorBatch) -> torch.Tensor | None:
        """Per-transition weights of the actor loss that only the frozen critics set, e.g. AWR's; ``None`` if none.

        The critics and the selected data stay fixed during a test-time adaptation, so
        :meth:`ttt_gym.losses.AgentActorLoss.prepare` computes these once for the whole selection, and each step passes
        its minibatch's rows back as ``actor_loss(..., weights=...)`` instead of evaluating the critics again. An
        agent that returns weights here takes that keyword in :meth:`actor_loss`, and gives the same loss with them.

        This default returns ``None``: the loss has no such weights (GCBC), or its critic term depends on the actor
        (GCIQL's DDPG+BC) and is evaluated at every step.

        Args:
            batch: a batch whose ``actor_goals`` are the goals to condition on (fixed to g* at test time).

        Returns:
            A ``(B,)`` tensor on the agent's device, computed without gradients, or ``None``.
        """
        return None

    # --- construction helpers ------------------------------------------------------------------------------------

    def _adam(self, params: Any) -> torch.optim.Optimizer:
        # foreach beat the default and fused CPU paths here (519 vs 630 and 569 ms for a 512^3 actor step under
        # load); fused is the CUDA path the torch docs recommend (not measured here: no GPU).
        if self.device.type == "cuda":
            return torch.optim.Adam(params, lr=self.config.lr, fused=True)
        return torch.optim.Adam(params, lr=self.config.lr, foreach=True)

    @property
    def actor(self) -> GaussianActor:
        """The Gaussian actor (owned by :attr:`policy`)."""
        return self.policy.actor

    def _actor_outputs(
        self,
        actor: nn.Module | None,
        params: Mapping[str, torch.Tensor] | None,
        observations: torch.Tensor,
        goals: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        module = self.actor if actor is None else getattr(actor, "actor", actor)
        if params is None:
            return module(observations, goals)
        return torch.func.functional_call(module, dict(params), (observations, goals))

    def _to_tensors(self, batch: GoalBatch | TensorBatch) -> TensorBatch:
        return TensorBatch.from_batch(batch, self.device)

    @staticmethod
    def _check_weights(weights: torch.Tensor, batch: TensorBatch) -> torch.Tensor:
        """Precomputed :meth:`actor_weights` must hold one weight per transition of ``batch``."""
        rows = batch.observations.shape[0]
        if weights.shape != (rows,):
            raise ValueError(
                f"weights must hold one value per transition, shape ({rows},), got {tuple(weights.shape)}: pass the "
                "rows of actor_weights(batch) that belong to this batch."
            )
        return weights

    def set_dataset(self, dataset: SupportsGoalSampling) -> None:
        """Attach the offline dataset used by :meth:`learn` (checked against the spaces)."""
        if dataset.observation_dim != self.observation_dim or dataset.action_dim != self.action_dim:
            raise ValueError(
                f"The dataset has observation_dim={dataset.observation_dim}, action_dim={dataset.action_dim}; the env "
                f"has {self.observation_dim} and {self.action_dim}. Load the dataset that belongs to this env."
            )
        self.dataset = dataset

    # --- training ------------------------------------------------------------------------------------------------

    def set_logger(self, logger: Logger) -> None:
        """Use an SB3 logger, e.g. ``configure(folder, ["stdout", "csv", "tensorboard"])``."""
        self._logger = logger

    @property
    def logger(self) -> Logger:
        """The SB3 logger (stdout only unless :meth:`set_logger` or ``learn(log_dir=...)`` set another)."""
        if self._logger is None:
            self._logger = Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)])
        return self._logger

    def update(self, batch: GoalBatch | TensorBatch) -> dict[str, float]:
        """One gradient step of every network on ``batch``; returns OGBench-style diagnostics as floats."""
        info = self._train_step(self._to_tensors(batch))
        self.num_timesteps += 1
        return {key: float(value) for key, value in info.items()}

    def learn(
        self: _AgentT,
        total_timesteps: int | None = None,
        *,
        progress_bar: bool = True,
        log_interval: int = 1000,
        log_dir: str | Path | None = None,
        total_steps: int | None = None,
    ) -> _AgentT:
        """Run ``total_timesteps`` gradient steps on batches sampled from the dataset.

        Args:
            total_timesteps: number of gradient steps (OGBench trains for 1M); SB3's name, as in ``model.learn``.
            total_steps: deprecated name of ``total_timesteps``.
            progress_bar: show a tqdm bar.
            log_interval: record the diagnostics of every ``log_interval``-th step (0 disables logging).
            log_dir: if given (and no logger was set), log to stdout, CSV and TensorBoard in this folder.

        Returns:
            The agent itself.
        """
        if total_steps is not None:
            if total_timesteps is not None:
                raise TypeError("pass total_timesteps only (total_steps is its deprecated name)")
            warnings.warn(
                "learn(total_steps=...) is deprecated: call learn(total_timesteps=...), SB3's name",
                DeprecationWarning,
                stacklevel=2,
            )
            total_timesteps = total_steps
        if total_timesteps is None or total_timesteps < 0:
            raise ValueError(f"learn needs total_timesteps >= 0 (gradient steps), got {total_timesteps}")
        if self.dataset is None:
            raise ValueError(
                f"{type(self).__name__}.learn needs a dataset: pass it to the constructor or to load(), or call "
                "set_dataset(ttt_gym.data.GoalDataset.load(path))."
            )
        if log_dir is not None and self._logger is None:
            self.set_logger(configure(str(log_dir), ["stdout", "csv", "tensorboard"]))
        from tqdm.auto import tqdm

        sampling = self.config.goal_sampling()
        start, window_start, window_steps = time.perf_counter(), time.perf_counter(), 0
        with tqdm(total=total_timesteps, disable=not progress_bar, desc=type(self).__name__) as bar:
            for _ in range(total_timesteps):
                batch = self.dataset.sample(self.config.batch_size, self.rng, sampling)
                info = self._train_step(self._to_tensors(batch))
                self.num_timesteps += 1
                window_steps += 1
                bar.update(1)
                if log_interval and self.num_timesteps % log_interval == 0:
                    now = time.perf_counter()
                    for key, value in info.items():
                        self.logger.record(key, float(value))
                    self.logger.record("time/steps_per_second", window_steps / max(now - window_start, 1e-9))
                    self.logger.record("time/total_steps", self.num_timesteps)
                    self.logger.record("time/elapsed_s", now - start)
                    self.logger.dump(step=self.num_timesteps)
                    window_start, window_steps = now, 0
        return self

    # --- acting --------------------------------------------------------------------------------------------------

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        *,
        goal: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict``: actions clipped to the action space for one or a batch of observations.

        Args:
            observation: a ``GoalObservation`` dict (``observation`` and ``desired_goal``; other keys are ignored)
                or a raw OGBench observation together with ``goal``.
            state: unused (the agents are memoryless); returned as is.
            episode_start: unused.
            deterministic: the Gaussian mean (what OGBench evaluates; the evaluation functions pass True) or a
                sample (the default, as in SB3).
            goal: the goal observation (OGBench's ``info["goal"]``) when ``observation`` is an array.

        Returns:
            ``(actions, state)``.
        """
        if isinstance(observation, tuple) and len(observation) == 2 and isinstance(observation[1], dict):
            raise ValueError("predict() got an (obs, info) tuple: pass obs alone, e.g. `obs, info = env.reset()`.")
        if isinstance(observation, dict):
            if goal is not None:
                raise ValueError("The dict observation already holds 'desired_goal'; do not pass goal= as well.")
            missing = {OBSERVATION_KEY, GOAL_KEY} - set(observation)
            if missing:
                raise KeyError(
                    f"The observation dict lacks {sorted(missing)}; wrap the env in "
                    "GoalObservation(env, full_goal=True)."
                )
            obs_dict = {OBSERVATION_KEY: observation[OBSERVATION_KEY], GOAL_KEY: observation[GOAL_KEY]}
        else:
            if goal is None:
                raise ValueError(
                    f"{type(self).__name__}.predict needs a goal: pass goal=info['goal'] with an OGBench observation, "
                    "or wrap the env in ttt_gym.wrappers.GoalObservation(env, full_goal=True) and pass its dict "
                    "observation."
                )
            obs_dict = {OBSERVATION_KEY: np.asarray(observation), GOAL_KEY: np.asarray(goal)}
        goal_dim = np.shape(obs_dict[GOAL_KEY])[-1] if np.ndim(obs_dict[GOAL_KEY]) else 0
        if goal_dim != self.observation_dim:
            raise ValueError(
                f"The goal has {goal_dim} entries but the networks take the full goal observation "
                f"({self.observation_dim} entries), as in OGBench: pass info['goal'], or wrap the env in "
                "GoalObservation(env, full_goal=True)."
            )
        actions, _ = self.policy.predict(obs_dict, deterministic=deterministic)
        return actions, state

    def _evaluate_in_chunks(self, fn: Any, *arrays: np.ndarray | torch.Tensor, chunk_size: int = 65536) -> np.ndarray:
        """Apply a tensor function to row chunks of ``arrays`` without gradients; returns a float32 numpy array.

        One ``(dim,)`` input per argument gives a 0-d result, ``(B, dim)`` inputs give ``(B,)``.
        """
        single = np.ndim(arrays[0]) == 1
        rows = [a[None] if single else a for a in arrays]
        n = len(rows[0])
        if any(len(r) != n for r in rows):
            raise ValueError(f"Inputs have different batch sizes: {[len(r) for r in rows]}.")

        def to_tensor(chunk: np.ndarray | torch.Tensor) -> torch.Tensor:
            if isinstance(chunk, torch.Tensor):
                return chunk.to(self.device, torch.float32)
            # A copy: dataset arrays are read-only, which torch.from_numpy warns about.
            return torch.from_numpy(np.array(chunk, dtype=np.float32)).to(self.device)

        outputs = []
        with torch.no_grad():
            for begin in range(0, n, chunk_size):
                outputs.append(fn(*(to_tensor(r[begin : begin + chunk_size]) for r in rows)).float().cpu())
        result = torch.cat(outputs).numpy() if outputs else np.zeros((0,), np.float32)
        return result[0] if single else result

    # --- persistence ---------------------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "format_version": _FILE_FORMAT_VERSION,
            "agent": type(self).__name__,
            "config": dataclasses.asdict(self.config),
            "observation_space": space_to_data(self.observation_space),
            "action_space": space_to_data(self.action_space),
            "policy": self.policy.state_dict(),
            "critics": self.critics.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": None if self.critic_optimizer is None else self.critic_optimizer.state_dict(),
            "num_timesteps": self.num_timesteps,
            "rng_state": self.rng.bit_generator.state,
            "torch_rng_state": self.torch_rng.get_state(),
            "torch_rng_device": self.device.type,
        }

    def save(self, path: str | Path) -> None:
        """Write weights, config, optimizer states, step count and sampling RNG state to ``path`` (torch format)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self._state(), path)

    @classmethod
    def load(
        cls: type[_AgentT],
        path: str | Path,
        dataset: SupportsGoalSampling | None = None,
        *,
        device: str | None = None,
    ) -> _AgentT:
        """Restore an agent written by :meth:`save`; training continues exactly where it stopped.

        Exactly means on the same device type: a CPU and a CUDA torch generator cannot exchange states, so moving
        between them reseeds the loss-noise generator from ``seed`` (GCIQL's DDPG+BC without ``const_std`` only).

        Args:
            path: the file.
            dataset: the dataset to keep training on (optional).
            device: override the saved ``device`` config (e.g. load a CUDA-trained agent on the CPU).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No saved agent at {path}.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(f"{path} is not a readable agent file written by save(): {error}") from error
        if not isinstance(state, dict) or "agent" not in state:
            raise ValueError(f"{path} is not an agent file written by save() (no 'agent' entry).")
        if state["agent"] != cls.__name__:
            raise TypeError(f"{path} holds a {state['agent']} agent; load it with {state['agent']}.load.")
        config = dict(state["config"])
        if device is not None:
            config["device"] = device
        spaces_pair = (space_from_data(state["observation_space"]), space_from_data(state["action_space"]))
        agent = cls(spaces_pair, dataset, **config)
        agent.policy.load_state_dict(state["policy"])
        agent.critics.load_state_dict(state["critics"])
        agent.actor_optimizer.load_state_dict(state["actor_optimizer"])
        if agent.critic_optimizer is not None and state["critic_optimizer"] is not None:
            agent.critic_optimizer.load_state_dict(state["critic_optimizer"])
        agent.num_timesteps = int(state["num_timesteps"])
        agent.rng.bit_generator.state = state["rng_state"]
        if state["torch_rng_device"] == agent.device.type:  # CPU and CUDA generators have different states
            agent.torch_rng.set_state(state["torch_rng_state"])
        return agent

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device}, steps={self.num_timesteps}, config={self.config})"
