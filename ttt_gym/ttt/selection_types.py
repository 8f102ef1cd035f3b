"""What a selection is: :class:`Selection`, the :class:`Selector` protocol, :class:`SelectionStats` and the critic's
type, shared by the selectors (:mod:`ttt_gym.ttt.selection`), the batch builder and the wrapper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ttt_gym.data import GoalDataset
from ttt_gym.data.goal_space import GoalSpace

__all__ = ["Critic", "Selection", "SelectionStats", "Selector", "goal_coordinates"]

Critic = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``V(observations, goals) -> values``: ``(B, obs_dim)`` states and ``(B, goal_obs_dim)`` goals to ``(B,)`` values,
e.g. ``GCIQL.value`` or ``GCIVL.value``. Values follow OGBench's reward: about ``-(steps to reach the goal)``."""


@dataclass
class SelectionStats:
    """Counters of a selector (mutable; read them after an episode)."""

    selections: int = 0
    """Calls to ``select``."""
    goals_seen: int = 0
    """Per-goal caches built (one per new goal, unless evicted)."""
    last_relevant: int = 0
    """Size of the relevant set of the last selection (before the optimality cut)."""
    last_selected: int = 0
    """Size of the last selection: the transitions to fine-tune on."""
    last_subtrajectories: int = 0
    """Sub-trajectories in the last selection (their start states passed the relevance and optimality tests)."""
    last_ms: float = 0.0
    """Wall-clock milliseconds of the last selection, critic calls included."""
    total_ms: float = 0.0
    """Wall-clock milliseconds of all selections."""
    critic_states: int = 0
    """States the critic has been evaluated on (cached values are not counted again)."""

    @property
    def mean_ms(self) -> float:
        """Mean milliseconds per selection."""
        return self.total_ms / max(self.selections, 1)


@dataclass(frozen=True)
class Selection:
    """One selection D(s, g*): what the wrapper fine-tunes on.

    Attributes:
        indices: Sorted, distinct dataset transition indices (int64, possibly empty).
        reaches_goal: Per index, whether its state is at g* (reward 0 and mask 0 in OGBench's convention): the
            selector's success test, the one its returns used.
        relevant: Size of the relevant set before the optimality cut.
        subtrajectories: Sub-trajectories whose states make up ``indices``.
        milliseconds: Wall-clock time of the selection, critic calls included.
    """

    indices: np.ndarray
    reaches_goal: np.ndarray
    relevant: int = 0
    subtrajectories: int = 0
    milliseconds: float = 0.0

    def __post_init__(self) -> None:
        if self.indices.shape != self.reaches_goal.shape:
            raise ValueError(f"Selection: {self.indices.shape} indices but {self.reaches_goal.shape} reaches_goal")
        for array in (self.indices, self.reaches_goal):
            array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.indices)

    @classmethod
    def of(cls, indices: np.ndarray, dataset: GoalDataset, goal: np.ndarray) -> Selection:
        """A selection of ``indices`` whose success test is the dataset's goal space (exact equality without one):
        for selectors that return bare indices."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        goal_space = dataset.goal_space or GoalSpace.full(dataset.observation_dim, tolerance=0.0)
        coordinates = goal_coordinates(goal, dataset, goal_space)
        reaches = goal_space.is_success(goal_space.coordinates(dataset.observations.take(indices, axis=0)), coordinates)
        return cls(indices=indices, reaches_goal=np.asarray(reaches, dtype=bool), relevant=len(indices))


def goal_coordinates(goal: np.ndarray, dataset: GoalDataset, goal_space: GoalSpace) -> np.ndarray:
    """The goal coordinates of ``goal``, a full goal observation ``(obs_dim,)`` or goal coordinates ``(dim,)``.

    Raises:
        ValueError: ``goal`` is neither.
    """
    goal = np.asarray(goal, dtype=np.float32).reshape(-1)
    if goal.shape[0] == dataset.observation_dim:
        return goal_space.coordinates(goal)
    if goal.shape[0] == goal_space.dim:
        return goal
    raise ValueError(
        f"The goal has {goal.shape[0]} entries; expected a full goal observation ({dataset.observation_dim}) or goal "
        f"coordinates ({goal_space.dim}) of this dataset"
    )


@runtime_checkable
class Selector(Protocol):
    """What :class:`~ttt_gym.ttt.wrapper.TestTimeTraining` needs from a data selector.

    ``state`` is the agent's current observation ``(obs_dim,)``; ``goal`` is the evaluation goal as the policy sees
    it: a full goal observation ``(obs_dim,)`` or its goal coordinates ``(goal_dim,)``. The result is a
    :class:`Selection` (a selector that returns bare indices still works: the wrapper makes them a
    :meth:`Selection.of`). Selectors keep caches and are not thread-safe.
    """

    stats: SelectionStats

    def select(self, state: np.ndarray, goal: np.ndarray) -> Selection: ...
