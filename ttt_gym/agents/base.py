"""The offline goal-conditioned agent: the training loop, acting, save/load; what GCBC, GCIVL and GCIQL share.

Each agent file (``gcbc.py``, ``gcivl.py``, ``gciql.py``) holds a frozen config dataclass and a subclass of
:class:`GoalConditionedAgent` that defines its critics, one gradient step and its actor loss. Goal relabelling is the
dataset's job (:class:`ttt_gym.data.GoalDataset`); the agents only consume :class:`ttt_gym.data.GoalBatch`.

The rest lives next door, and is importable from here too: the configs in :mod:`ttt_gym.agents.config`, the SB3 policy
and the goal-dict spaces in :mod:`ttt_gym.agents.policy`, the loss terms in :mod:`ttt_gym.agents.objectives`, the
networks in :mod:`ttt_gym.agents.networks`.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import torch
from stable_baselines3.common.logger import HumanOutputFormat, Logger, configure
from torch import nn

from ttt_gym._checkpoint import check_saved_class, read_checkpoint, spaces_from_data, spaces_to_data, write_checkpoint
from ttt_gym.agents.config import AgentConfig, ogbench_hyperparameters
from ttt_gym.agents.networks import GaussianActor
from ttt_gym.agents.objectives import (
    AWR_MAX_WEIGHT,
    TensorBatch,
    actor_diagnostics,
    awr_weights,
    expectile_loss,
    frozen_parameters,
    polyak_update,
)
from ttt_gym.agents.policy import (
    GOAL_KEY,
    OBSERVATION_KEY,
    GoalConditionedPolicy,
    flat_dim,
    goal_spaces,
    resolve_device,
)
from ttt_gym.data import GoalBatch, GoalSamplingConfig

__all__ = [
    "AWR_MAX_WEIGHT",
    "GOAL_KEY",
    "OBSERVATION_KEY",
    "AgentConfig",
    "GoalConditionedAgent",
    "GoalConditionedPolicy",
    "SupportsGoalSampling",
    "TensorBatch",
    "actor_diagnostics",
    "awr_weights",
    "expectile_loss",
    "frozen_parameters",
    "ogbench_hyperparameters",
    "polyak_update",
    "resolve_device",
]


class SupportsGoalSampling(Protocol):
    """What the agents need from a dataset (:class:`ttt_gym.data.GoalDataset` provides it)."""

    @property
    def observation_dim(self) -> int: ...

    @property
    def action_dim(self) -> int: ...

    def sample(
        self, batch_size: int, rng: np.random.Generator, config: GoalSamplingConfig | None = None
    ) -> GoalBatch: ...


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
        self.observation_space, self.action_space = goal_spaces(env_or_spaces)
        self.device = resolve_device(self.config.device)
        self.observation_dim = flat_dim(self.observation_space[OBSERVATION_KEY])
        self.action_dim = flat_dim(self.action_space)
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
        *,
        with_info: bool = True,
        weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The agent's actor loss on ``batch`` with the critics frozen; differentiable in the actor parameters.

        This is the loss a test-time-training wrapper fine-tunes a copy of the actor with.

        Args:
            batch: a batch whose ``actor_goals`` are the goals to condition on (fixed to g* at test time).
            actor: the actor to evaluate, e.g. a copy of ``agent.actor``; defaults to ``agent.actor``.
            params: optional parameters for ``actor`` (``torch.func.functional_call``), for ``torch.func`` use.
            with_info: also return the detached diagnostics (False at test time: nobody reads them).
            weights: per-row weights from :meth:`actor_weights` (the same loss without evaluating the critics);
                only agents whose :meth:`actor_weights` returns some take them.

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
        """One gradient step of every network on ``batch``; returns OGBench-style diagnostics as floats.

        :meth:`learn` is a loop of this over batches sampled from the dataset.
        """
        info = self._train_step(self._to_tensors(batch))
        self.num_timesteps += 1
        if not info:
            return {}
        # One device-to-host copy for all of them (a float() per entry would wait for the device once per entry).
        values = torch.stack([value.detach().float().reshape(()) for value in info.values()]).tolist()
        return dict(zip(info, values, strict=True))

    def learn(
        self: _AgentT,
        total_timesteps: int | None = None,
        *,
        progress_bar: bool = True,
        log_interval: int = 1000,
        log_dir: str | Path | None = None,
        total_steps: int | None = None,
    ) -> _AgentT:
        """Run ``total_timesteps`` gradient steps (:meth:`update`) on batches sampled from the dataset.

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
                info = self.update(self.dataset.sample(self.config.batch_size, self.rng, sampling))
                window_steps += 1
                bar.update(1)
                if log_interval and self.num_timesteps % log_interval == 0:
                    now = time.perf_counter()
                    for key, value in info.items():
                        self.logger.record(key, value)
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

    def reseed(self, seed: int) -> None:
        """Key the noise of the next sampled actions by ``(config.seed, seed)``
        (:meth:`GoalConditionedPolicy.reseed`); the evaluation functions pass each episode's seed."""
        self.policy.reseed(seed)

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
            "agent": type(self).__name__,
            "config": dataclasses.asdict(self.config),
            **spaces_to_data(self.observation_space, self.action_space),
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
        write_checkpoint(path, self._state())

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
        state = read_checkpoint(path, kind="agent", entry="agent")
        check_saved_class(path, state["agent"], cls.__name__)
        config = dict(state["config"])
        if device is not None:
            config["device"] = device
        agent = cls(spaces_from_data(state), dataset, **config)
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
