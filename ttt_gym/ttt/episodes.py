"""The GC-TTT authors' episode-level selection (``make_selector("gc-ttt-episodes", ...)``), beside ours.

Their rule (the public history of their repository, commit ea8e889; ``../shared/DESIGN.md``), which ranks whole
dataset trajectories rather than sub-trajectory starts:

1. the trajectories that pass within ``epsilon`` (goal space; 1.0 in pointmaze) of the current state, each from its
   first such row, the *match*;
2. along the rest of each one, the critic's ``V(s, g*)`` turned into steps to the goal,
   ``d = log(1 + V (1 - gamma)) / log(gamma)`` (OGBench's reward: V = -(1 - gamma^d) / (1 - gamma));
3. its *best point*: the row with the smallest ``d``; a trajectory whose best point comes fewer than ``min_steps``
   after its match is dropped;
4. the ``n_episodes`` trajectories with the smallest best ``d``; the states from each match up to its best point are
   the selection.

It differs from :class:`~ttt_gym.ttt.selection.GoalRelatedSelector` (H-step returns of every relevant start, then a
percentile cut) in that the critic alone ranks, over whole trajectories, with no horizon.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ttt_gym.data import GoalDataset
from ttt_gym.ttt.selection import GoalRelatedSelector
from ttt_gym.ttt.selection_types import Critic, Selection

__all__ = ["EpisodeSelector"]


class EpisodeSelector(GoalRelatedSelector):
    """The authors' rule (module docstring); the distance, success test and critic caching are
    :class:`GoalRelatedSelector`'s.

    Args:
        dataset: The offline data.
        critic: ``V(observations, goals)`` (required: the critic alone ranks).
        n_episodes: Trajectories kept (the authors: 10).
        min_steps: Fewest steps from a trajectory's match to its best point (the authors: 10).
        epsilon: Relevance radius in goal space (default: the success threshold, 1.0 in pointmaze).
        discount: ``gamma`` of the critic (0.99).
        max_candidates: At most this many matching trajectories are scored (a seeded random subset), bounding the
            critic calls; None scores all.
        kwargs: Other :class:`GoalRelatedSelector` arguments (``success_tolerance``, ``cache_goals``, ``seed``).

    Raises:
        ValueError: no critic, or ``n_episodes`` / ``min_steps`` out of range.
    """

    def __init__(
        self,
        dataset: GoalDataset,
        critic: Critic | None = None,
        *,
        n_episodes: int = 10,
        min_steps: int = 10,
        epsilon: float | None = None,
        discount: float = 0.99,
        max_candidates: int | None = 512,
        **kwargs: Any,
    ) -> None:
        if critic is None:
            raise ValueError(
                "gc-ttt-episodes ranks trajectories by the critic alone: pass critic=agent.value (GCIVL / GCIQL) "
                "or use selector='critic-free'"
            )
        if n_episodes < 1 or min_steps < 0 or (max_candidates is not None and max_candidates < 1):
            raise ValueError(
                f"Need n_episodes >= 1, min_steps >= 0 and max_candidates >= 1 or None; got {n_episodes}, "
                f"{min_steps}, {max_candidates}"
            )
        super().__init__(
            dataset, critic, relevance="distance", optimality="h_step", epsilon=epsilon, discount=discount, **kwargs
        )
        self.n_episodes, self.min_steps, self.max_candidates = int(n_episodes), int(min_steps), max_candidates

    def select(self, state: np.ndarray, goal: np.ndarray) -> Selection:
        """The states from each kept trajectory's match to its best point, and which of them are at ``goal``."""
        tic = time.perf_counter()
        relevant = self.relevant(state)
        trajectories = self.dataset.trajectory_ids.take(relevant)
        # The match of each trajectory: its first relevant row (relevant is sorted, so np.unique's first index).
        _, first = np.unique(trajectories, return_index=True)
        matches = relevant.take(first)
        if self.max_candidates is not None and len(matches) > self.max_candidates:
            matches = np.sort(self.rng.choice(matches, size=self.max_candidates, replace=False))
        cache = self._goal_cache(goal)
        starts, stops, best_steps = [], [], []
        for match in matches.tolist():
            rows = np.arange(match, int(self._last_row[match]) + 1, dtype=np.int64)
            steps = self._steps_to_goal(self._critic_values(cache, rows))
            best = int(np.argmin(steps))
            if best >= self.min_steps:
                starts.append(match)
                stops.append(match + best + 1)
                best_steps.append(steps[best])
        keep = np.argsort(np.asarray(best_steps), kind="stable")[: self.n_episodes]
        pieces = [np.arange(starts[i], stops[i], dtype=np.int64) for i in keep]
        selected = np.unique(np.concatenate(pieces)) if pieces else np.zeros(0, dtype=np.int64)
        success = cache.success_rows
        position = np.minimum(np.searchsorted(success, selected), max(len(success) - 1, 0))
        reaches = success.take(position) == selected if len(success) else np.zeros(len(selected), dtype=bool)
        elapsed_ms = 1e3 * (time.perf_counter() - tic)
        stats = self.stats
        stats.selections += 1
        stats.last_relevant, stats.last_subtrajectories, stats.last_selected = len(relevant), len(keep), len(selected)
        stats.last_ms = elapsed_ms
        stats.total_ms += elapsed_ms
        return Selection(selected, reaches, len(relevant), len(keep), elapsed_ms)

    def _steps_to_goal(self, values: np.ndarray) -> np.ndarray:
        """``d = log(1 + V (1 - gamma)) / log(gamma)``, V clipped into the range it can take."""
        gamma = self.discount
        inside = np.clip(1.0 + values * (1.0 - gamma), 1e-12, 1.0)
        return np.log(inside) / np.log(gamma)

    def __repr__(self) -> str:
        return (
            f"EpisodeSelector(n_episodes={self.n_episodes}, min_steps={self.min_steps}, epsilon={self.epsilon}, "
            f"discount={self.discount}, max_candidates={self.max_candidates})"
        )
