"""The selected data as tensors, the goal fixed to g*: what the test-time losses consume.

A :class:`TTTBatch` holds the selected rows once, as our agents' :class:`~ttt_gym.agents.TensorBatch` (dataset
states, actions, next states, OGBench's rewards and masks for g*, and g* as the goals). What an SB3 policy consumes,
its observation and its action convention, is a view of those rows (:class:`PolicyView`), built per minibatch on
first use: in the dict layout it holds the same tensors, in the flat layout their concatenation.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Union

import numpy as np
import torch

from ttt_gym.agents.base import TensorBatch
from ttt_gym.data import GoalDataset
from ttt_gym.ttt.selection import Selection

__all__ = ["PolicyObservation", "PolicyView", "TTTBatch", "build_batch"]

PolicyObservation = Union[torch.Tensor, dict[str, torch.Tensor]]  # noqa: UP007  (a runtime alias)


@dataclasses.dataclass(frozen=True)
class PolicyView:
    """How a policy sees a batch of transitions.

    Attributes:
        to_policy: ``(states (B, obs_dim), goals (B, goal_dim)) -> observation`` in the policy's layout (a tensor or
            a dict of tensors), e.g. :meth:`GoalObservationAdapter.to_policy <ttt_gym.ttt.adapter.
            GoalObservationAdapter.to_policy>`.
        scale_actions: Dataset actions (env units) -> the policy's convention (``[-1, 1]`` for squashing policies:
            SAC, TD3); None keeps them.
    """

    to_policy: Callable[[torch.Tensor, torch.Tensor], Any]
    scale_actions: Callable[[torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def of(
        cls, policy: Any, to_policy: Callable[[torch.Tensor, torch.Tensor], Any], device: torch.device
    ) -> PolicyView:
        """The view for an SB3 policy: its observation layout, and its action scaling when it squashes."""
        if not getattr(policy, "squash_output", False):
            return cls(to_policy)
        low = torch.as_tensor(policy.action_space.low, dtype=torch.float32, device=device)
        high = torch.as_tensor(policy.action_space.high, dtype=torch.float32, device=device)
        return cls(to_policy, lambda actions: 2.0 * (actions - low) / (high - low) - 1.0)


@dataclasses.dataclass(frozen=True)
class TTTBatch:
    """Selected transitions for the policy being adapted (all tensors on the wrapper's device).

    Attributes:
        transitions: The rows, once: dataset observations, actions (env units), next observations, and
            ``actor_goals = value_goals = g*`` with rewards and masks for g* (OGBench's convention: reward 0 and
            mask 0 at the goal). Our agents' actor losses read these.
        view: How the policy sees them (:attr:`observations`, :attr:`actions`).
        weights: ``(B,)`` weights of the agent's actor loss from its frozen critics (AWR's), filled once per
            adaptation by :meth:`AgentActorLoss.prepare <ttt_gym.ttt.losses.AgentActorLoss.prepare>`; ``None``: the
            loss evaluates what it needs on every minibatch.
    """

    transitions: TensorBatch
    view: PolicyView
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.transitions.observations.shape[0])

    @functools.cached_property
    def observations(self) -> PolicyObservation:
        """What the policy consumes, the goal set to g*: a ``(B, ...)`` tensor or a dict of tensors."""
        return self.view.to_policy(self.transitions.observations, self.transitions.actor_goals)  # type: ignore[no-any-return]

    @functools.cached_property
    def actions(self) -> torch.Tensor:
        """``(B, action_dim)`` dataset actions in the policy's convention."""
        actions = self.transitions.actions
        return actions if self.view.scale_actions is None else self.view.scale_actions(actions)

    def take(self, indices: torch.Tensor) -> TTTBatch:
        """The rows ``indices`` (a minibatch)."""
        rows = {
            f.name: getattr(self.transitions, f.name).index_select(0, indices) for f in dataclasses.fields(TensorBatch)
        }
        weights = None if self.weights is None else self.weights.index_select(0, indices)
        return TTTBatch(TensorBatch(**rows), self.view, weights)


def build_batch(
    dataset: GoalDataset, selection: Selection, goal: np.ndarray, view: PolicyView, device: torch.device
) -> TTTBatch:
    """The selected rows with the goal fixed to ``goal`` (as the policy sees it), on ``device``; rewards and masks
    come from ``selection.reaches_goal``, the selector's own success test."""
    indices = selection.indices
    success = selection.reaches_goal.astype(np.float32)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(array, dtype=np.float32)).to(device)

    goals = tensor(np.broadcast_to(np.asarray(goal, dtype=np.float32), (len(indices), len(goal))))
    transitions = TensorBatch(
        observations=tensor(dataset.observations.take(indices, axis=0)),
        actions=tensor(dataset.actions.take(indices, axis=0)),
        next_observations=tensor(dataset.next_observations.take(indices, axis=0)),
        rewards=tensor(success - 1.0),
        masks=tensor(1.0 - success),
        value_goals=goals,
        actor_goals=goals,
    )
    return TTTBatch(transitions, view)
