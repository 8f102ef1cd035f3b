"""OGBench's goal relabelling: the config, the batch it produces, and the draw of goal indices.

:class:`~ttt_gym.data.GoalDataset` owns the arrays; this module holds the relabelling rule itself, so that the rule
reads in one place: each goal is the current state, a later state of the same trajectory, or a random dataset state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

import numpy as np

from ttt_gym._config import ConfigMixin

__all__ = ["GoalBatch", "GoalKind", "GoalSamplingConfig", "relabel_goals", "uniform_indices"]


class GoalKind(enum.IntEnum):
    """Where a relabelled goal came from."""

    CURRENT = 0
    """The transition's own state (a success: reward 0, mask 0)."""
    TRAJECTORY = 1
    """A later state of the same trajectory."""
    RANDOM = 2
    """A state drawn uniformly from the whole dataset."""


_CURRENT, _TRAJECTORY = int(GoalKind.CURRENT), int(GoalKind.TRAJECTORY)  # plain ints compare faster with arrays


@dataclass(frozen=True)
class GoalSamplingConfig(ConfigMixin):
    """Goal relabelling probabilities (OGBench's ``GCDataset`` config names and defaults).

    Value goals train critics, actor goals train policies. Each triple of probabilities must sum to 1. The agents'
    configs (:class:`ttt_gym.agents.AgentConfig`) extend this one.
    """

    value_p_curgoal: float = 0.2
    """Probability that the value goal is the current state."""
    value_p_trajgoal: float = 0.5
    """Probability that the value goal is a future state of the same trajectory."""
    value_p_randomgoal: float = 0.3
    """Probability that the value goal is a random dataset state."""
    value_geom_sample: bool = True
    """Future value goals at a Geometric(1 - discount) offset (True) or uniformly over the rest of the trajectory."""
    actor_p_curgoal: float = 0.0
    """Probability that the actor goal is the current state."""
    actor_p_trajgoal: float = 1.0
    """Probability that the actor goal is a future state of the same trajectory."""
    actor_p_randomgoal: float = 0.0
    """Probability that the actor goal is a random dataset state."""
    actor_geom_sample: bool = False
    """Future actor goals at a geometric offset (True) or uniformly over the rest of the trajectory."""
    discount: float = 0.99
    """Discount of the geometric offsets (mean offset ``1 / (1 - discount)``); the agents' discount factor too."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        for prefix in ("value", "actor"):
            probs = [getattr(self, f"{prefix}_p_{kind}goal") for kind in ("cur", "traj", "random")]
            if min(probs) < 0 or not np.isclose(sum(probs), 1.0):
                raise ValueError(f"{name}: {prefix}_p_curgoal/trajgoal/randomgoal = {probs} must be >= 0 and sum to 1")
        if not 0.0 < self.discount < 1.0:
            raise ValueError(f"{name}: discount must be in (0, 1), got {self.discount}")


@dataclass(frozen=True)
class GoalBatch:
    """A batch of relabelled transitions (float32 numpy arrays, leading dimension B).

    ``rewards`` and ``masks`` follow OGBench: success means the value goal *is* the current state
    (``reward = success - 1``, ``mask = 1 - success``). Goals are full observations.
    """

    observations: np.ndarray
    actions: np.ndarray
    next_observations: np.ndarray
    rewards: np.ndarray
    masks: np.ndarray
    value_goals: np.ndarray
    actor_goals: np.ndarray

    def __len__(self) -> int:
        return len(self.observations)

    def as_dict(self) -> dict[str, np.ndarray]:
        """The batch as OGBench's dict of arrays."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def relabel_goals(
    indices: np.ndarray,
    last_index: np.ndarray,
    rng: np.random.Generator,
    *,
    p_curgoal: float,
    p_trajgoal: float,
    p_randomgoal: float,
    geom_sample: bool,
    discount: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Goal transitions for transitions ``indices`` (see :meth:`ttt_gym.data.GoalDataset.sample_goals`).

    Args:
        indices: int64 transition indices.
        last_index: for every transition of the dataset, the index of its trajectory's last transition.
        rng: source of randomness (three uniform draws per index).

    Returns:
        ``(goal_indices, kinds)``: int64 transition indices of the goals and their :class:`GoalKind` (int8).
    """
    size = len(indices)
    draws = rng.random((3, size))  # goal kind, future offset, random goal
    # A zero probability must give exactly zero draws, whatever the rounding of p_curgoal + p_trajgoal.
    random_from = p_curgoal + p_trajgoal if p_randomgoal > 0 else np.inf
    kinds = (draws[0] >= p_curgoal).astype(np.int8) + (draws[0] >= random_from)
    last = last_index.take(indices)
    if geom_sample:
        offsets = np.floor(np.log1p(-draws[1]) / np.log1p(-(1.0 - discount))).astype(np.int64) + 1
        future = np.minimum(indices + offsets, last)
    else:
        span = last - indices
        future = np.where(span > 0, indices + 1 + (draws[1] * span).astype(np.int64), indices)
    random_goals = (draws[2] * len(last_index)).astype(np.int64)
    goals = np.where(kinds == _CURRENT, indices, np.where(kinds == _TRAJECTORY, future, random_goals))
    return goals, kinds


def uniform_indices(rng: np.random.Generator, high: int, size: int) -> np.ndarray:
    """``size`` integers uniform in ``[0, high)`` (a few times faster than ``rng.integers`` at batch sizes)."""
    return (rng.random(size) * high).astype(np.int64)
