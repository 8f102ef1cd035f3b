"""The goal-conditioned value of an SB3 off-policy model, for GC-TTT's data selection.

SAC, TD3, DDPG (and sb3-contrib's TQC) learn ``Q(s, g, a)``; the H-step selection of GC-TTT needs ``V(s, g)``. Here
``V(s, g) = Q(s, g, pi(s, g))`` with the model's own deterministic action, the minimum over its Q heads (the mean
of the quantiles for TQC), turned into the selector's scale.

The selector adds the data's rewards (OGBench's: -1 per step, 0 at the goal, which ends the episode) to
``gamma^(H-1) V``, so ``V`` must be on that scale. A model trained on :class:`~ttt_gym.wrappers.GoalObservation`
(reward 1 when the goal is reached, the episode ending there, as OGBench's envs do) has ``Q = gamma^(d-1)`` for a
state ``d`` steps from the goal, where OGBench's return is ``-(1 - gamma^d) / (1 - gamma)``; hence
``V = (gamma Q - 1) / (1 - gamma)``. The map is affine and increasing, and it is not clipped: the ranking of states
by ``Q`` is kept whatever reward the model learned. SB3's HER keeps the episode's own ``dones`` for relabelled goals,
so its Q can exceed 1 (about ``gamma^(d-1) / (1 - gamma)`` for goals it did not stop at); V then leaves OGBench's
range ``[-1 / (1 - gamma), 0]`` and the H-step returns mix scales with the data's rewards. Pass ``critic=`` (e.g. a
GCIVL agent's value trained on the same data) where that matters; ``rescale=False`` gives ``Q`` itself.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy

__all__ = ["ModelCritic", "has_q_critic", "q_estimate"]

CHUNK_ROWS = 8192
"""States per forward pass (a selection can score the whole dataset)."""


def has_q_critic(policy: Any) -> bool:
    """Whether ``policy`` (an SB3 policy) has an actor and a Q critic, as SAC / TD3 / DDPG / TQC policies do."""
    return isinstance(getattr(policy, "actor", None), torch.nn.Module) and isinstance(
        getattr(policy, "critic", None), torch.nn.Module
    )


class ModelCritic:
    """``V(states, goals)`` from an SB3 off-policy policy's actor and Q critic (see the module docstring).

    Args:
        policy: A SAC / TD3 / DDPG / TQC policy (``model.policy``); only read, never modified.
        adapter: Builds the policy's observations from ``(state, goal)``
            (:class:`~ttt_gym.ttt.wrapper.GoalObservationAdapter`).
        discount: The model's ``gamma``.
        rescale: Turn ``Q`` into the selector's return scale (see the module docstring); False returns ``Q``.

    Raises:
        TypeError: ``policy`` has no actor and Q critic.
    """

    accepts_goal_coordinates = True
    """The selector may pass goal coordinates (the policy's own goals) instead of full goal observations."""

    def __init__(self, policy: BasePolicy, adapter: Any, discount: float, *, rescale: bool = True) -> None:
        if not has_q_critic(policy):
            raise TypeError(
                f"{type(policy).__name__} has no Q critic (SAC, TD3, DDPG and TQC have one): pass critic= "
                "(e.g. a GCIVL agent trained on the dataset) or use selector='critic-free'"
            )
        if not 0.0 < discount < 1.0:
            raise ValueError(f"discount must lie in (0, 1), got {discount}")
        self.policy = policy
        self.adapter = adapter
        self.discount = float(discount)
        self.rescale = bool(rescale)

    def __repr__(self) -> str:
        return f"ModelCritic({type(self.policy).__name__}, discount={self.discount}, rescale={self.rescale})"

    def __call__(self, states: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """``V`` of ``states (n, obs_dim)`` for ``goals``, full goal observations or goal coordinates ``(n, .)``."""
        states = np.asarray(states, dtype=np.float32).reshape(-1, self.adapter.observation_dim)
        goals = self._policy_goals(np.asarray(goals, dtype=np.float32).reshape(len(states), -1))
        values = np.empty(len(states), dtype=np.float32)
        for start in range(0, len(states), CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            values[rows] = self._q(self.adapter.to_policy(states[rows], goals[rows]))
        if not self.rescale:
            return values
        return (self.discount * values - 1.0) / (1.0 - self.discount)

    def _policy_goals(self, goals: np.ndarray) -> np.ndarray:
        """Goals in the policy's representation (coordinates of a full goal observation where the policy wants them)."""
        width, adapter = goals.shape[1], self.adapter
        if width == adapter.goal_dim:
            return goals
        if width == adapter.observation_dim and not adapter.full_goal:
            return adapter.coordinates(goals)
        raise ValueError(
            f"The critic got goals of {width} entries; the policy takes {adapter.goal_dim} "
            f"({'full goal observations' if adapter.full_goal else 'goal coordinates'})"
        )

    @torch.no_grad()
    def _q(self, observations: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        policy = self.policy
        actor: torch.nn.Module = policy.actor  # type: ignore[assignment]
        critic: torch.nn.Module = policy.critic  # type: ignore[assignment]
        obs, _ = policy.obs_to_tensor(observations)
        actions = actor(obs, deterministic=True) if _takes_deterministic(actor) else actor(obs)
        return q_estimate(critic(obs, actions)).float().cpu().numpy()


def q_estimate(q: Any) -> torch.Tensor:
    """``(n,)`` values from an SB3 critic's output: the smallest head (SAC / TD3 / DDPG: a tuple of ``(n, 1)``), or
    the mean quantile (TQC: ``(n, n_critics, n_quantiles)``)."""
    if isinstance(q, tuple | list):
        return torch.cat(list(q), dim=1).min(dim=1).values
    return q.reshape(len(q), -1).mean(dim=1)


def _takes_deterministic(actor: torch.nn.Module) -> bool:
    """SAC's (and TQC's) actor samples unless told ``deterministic=True``; TD3's is deterministic and takes no flag."""
    return "deterministic" in inspect.signature(actor.forward).parameters
