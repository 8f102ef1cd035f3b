"""The agents' actor as a Stable-Baselines3 policy, and the goal-dict spaces it acts on.

An agent acts on ``{"observation", "desired_goal"}`` dicts (an OGBench env's raw observation plus ``info["goal"]``, or
``ttt_gym.wrappers.GoalObservation(env, full_goal=True)``); :func:`goal_spaces` turns an env or a space pair into
that dict space and checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from ttt_gym._checkpoint import read_checkpoint, spaces_from_data, spaces_to_data, write_checkpoint
from ttt_gym.agents.networks import GaussianActor
from ttt_gym.evaluation import derived_seed

__all__ = ["GOAL_KEY", "OBSERVATION_KEY", "GoalConditionedPolicy", "flat_dim", "goal_spaces", "resolve_device"]

OBSERVATION_KEY = "observation"
GOAL_KEY = "desired_goal"


def goal_spaces(env_or_spaces: Any) -> tuple[spaces.Dict, spaces.Box]:
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


def flat_dim(space: spaces.Space) -> int:
    """Number of entries of one element of a Box space."""
    return int(np.prod(space.shape or ()))


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class GoalConditionedPolicy(BasePolicy):
    """The agents' actor as a Stable-Baselines3 policy, acting on ``{"observation", "desired_goal"}`` dicts.

    ``predict`` is SB3's (eval mode, ``no_grad``, batching, clipping to the action space), so
    ``evaluate_policy`` and any SB3 tool can drive it. Deterministic actions are the Gaussian mean; stochastic ones
    add noise from a generator seeded with ``seed``, or with ``(seed, s)`` after :meth:`reseed` ``(s)``.

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
        *,
        actor_hidden_dims: Sequence[int] = (512, 512, 512),
        const_std: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(observation_space, action_space)
        self.actor_hidden_dims = tuple(actor_hidden_dims)
        self.const_std = const_std
        self.seed = seed
        obs_dim = flat_dim(observation_space[OBSERVATION_KEY])
        goal_dim = flat_dim(observation_space[GOAL_KEY])
        self.actor = GaussianActor(
            obs_dim, goal_dim, flat_dim(action_space), self.actor_hidden_dims, const_std=const_std
        )
        self._generator: torch.Generator | None = None
        self._episode_seed: int | None = None

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
        data.update(spaces_to_data(self.observation_space, self.action_space))
        write_checkpoint(path, {"data": data, "state_dict": self.state_dict()})

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "auto") -> GoalConditionedPolicy:
        """Load a policy written by :meth:`save`.

        SB3 2.2's own ``BasePolicy.load`` cannot read policies under torch >= 2.6 (it unpickles gymnasium
        spaces with ``weights_only`` on), hence this override.
        """
        saved = read_checkpoint(path, kind="policy", entry="data")
        data = dict(saved["data"])
        data["observation_space"], data["action_space"] = spaces_from_data(data)
        policy = cls(**data)
        policy.load_state_dict(saved["state_dict"])
        return policy.to(resolve_device(device))

    def reseed(self, seed: int) -> None:
        """Draw the noise of the next stochastic actions from a stream keyed by ``(self.seed, seed)`` (the evaluation
        functions pass each episode's seed, so that an episode's noise does not depend on the episodes before it)."""
        self._episode_seed = int(seed)
        self._generator = None

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            episode = self._episode_seed
            self._generator.manual_seed(self.seed if episode is None else derived_seed((self.seed, episode)))
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
