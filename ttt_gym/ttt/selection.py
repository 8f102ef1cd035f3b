"""Which offline data to fine-tune on at test time: GC-TTT's relevance x optimality selection and its ablations.

GC-TTT (Bagatella et al., eqs. 2-4 and Algorithm 1) fine-tunes a policy on sub-trajectories of the offline dataset
that start near the agent's current state (*relevance*) and lead towards the evaluation goal g* (*optimality*).
Every dataset transition ``i`` starts one sub-trajectory ``(s_i, s_{i+1}, ...)`` inside its own trajectory. The
tests below pick sub-trajectories by their start (:meth:`GoalRelatedSelector.select_starts`); the selection D(s, g*)
that the policy is fine-tuned on holds their states (:meth:`GoalRelatedSelector.subtrajectories`): ``select`` returns
a frozen :class:`Selection`, the transition indices into the :class:`~ttt_gym.data.GoalDataset` and which of their
states are at g* (the success test of the returns, which the fine-tuning's rewards then reuse).

* **Relevance** (eq. 2): ``d(s, s_i) < epsilon`` in goal space, where ``d`` is the distance of the success test
  (Euclidean x-y in the mazes; per cube, the largest cube distance) and ``epsilon`` defaults to the success
  threshold (1.0 in pointmaze, as in OGBench and the authors' code). Or value-based (eq. 13): ``V(s, s_i) > C``.
* **Optimality** (eqs. 3-4): the H-step return ``sum_{k<H-1} gamma^k R(s_{i+k}, g*) + gamma^(H-1) V(s_{i+H-1}, g*)``
  with OGBench's reward (0 at the goal, -1 elsewhere), then a percentile cut that keeps the best
  ``optimal_fraction`` of the relevant sub-trajectories. The critic-free variant replaces the H-step return by the
  Monte-Carlo return of the rest of the trajectory.

Which side of the percentile is kept: eq. 4 keeps ``V_hat >= C`` with ``C`` "the q-th percentile" and q = 0.2,
which read literally keeps the best 80%. The text around it says the cut selects "the most optimal ones", and the
ablation (Insight 3) shows that relevant data with a weak optimality filter does not help, so we keep the *best*
``optimal_fraction = 0.2``: ``C`` is the ``1 - 0.2`` quantile. ``optimal_fraction=0.8`` gives the literal reading.

The states fine-tuned on are each selected sub-trajectory's first ``H`` steps (critic-free: up to g*), stopping
before g*; with a critic, one that does not reach g* also ends at its best k-step-return checkpoint
(``best_cut_every``).

Speed: relevance queries use the dataset sorted once along its first goal coordinate (a window by binary search,
then exact distances inside it); per-goal work (the rows that reach g*) is cached for the episode, and the critic is
called only on the end states of relevant sub-trajectories that do not reach g* and on the checkpoints of the
selected ones, each state at most once per goal.
``python -m benchmarks.selection_speed`` measures it (see ``docs/TTT.md``).

(Over 500 lines: :class:`GoalRelatedSelector`'s relevance, returns, cuts and caches read best in one place.)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ttt_gym.data import GoalDataset
from ttt_gym.data.goal_space import GoalSpace
from ttt_gym.evaluation import derived_seed
from ttt_gym.ttt.copies import torch_threads as threads_set_to
from ttt_gym.ttt.selection_types import Critic, Selection, SelectionStats, Selector, goal_coordinates

__all__ = [
    "SELECTOR_KINDS",
    "Critic",
    "GoalRelatedSelector",
    "RandomSelector",
    "Selection",
    "SelectionStats",
    "Selector",
    "make_selector",
]


@dataclass
class _GoalCache:
    """Work that depends on the goal only, kept for the episode."""

    coordinates: np.ndarray
    critic_goal: np.ndarray | None
    success_rows: np.ndarray
    """Sorted indices of the transitions whose state is at the goal (reward 0)."""
    values: np.ndarray | None = None
    """``V(s_j, g*)`` per dataset row, NaN where not computed yet (allocated on first use)."""


# --------------------------------------------------------------------------------------------------------------------
# Selectors

RelevanceKind = Literal["distance", "value", "none"]
OptimalityKind = Literal["auto", "h_step", "monte_carlo", "none"]


class GoalRelatedSelector:
    """GC-TTT's data selection D(s, g*): relevant sub-trajectories whose return towards g* is among the best.

    Args:
        dataset: The offline data; its goal space gives the distance and the default thresholds.
        critic: ``V(observations, goals)`` (e.g. ``agent.value`` of GCIQL / GCIVL, or the agent itself); needed by
            ``"h_step"`` optimality and ``"value"`` relevance. Its goals are full goal observations, so the policy's
            goal must be one (``GoalObservation(env, full_goal=True)``) whenever a critic is used.
        relevance: ``"distance"`` (eq. 2: ``d(s, s_i) < epsilon`` in goal space), ``"value"`` (eq. 13:
            ``V(s, s_i) > value_threshold``) or ``"none"`` (every transition: the optimal-only ablation).
        optimality: ``"h_step"`` (eq. 3 with the critic), ``"monte_carlo"`` (critic-free: discounted return of the
            rest of the trajectory), ``"none"`` (keep every relevant transition: the relevant-only ablation) or
            ``"auto"`` (``"h_step"`` when a critic is given, else ``"monte_carlo"``).
        epsilon: Relevance radius in goal space; defaults to the dataset's success threshold (1.0 in pointmaze).
        value_threshold: ``C`` of value-based relevance (the paper tries -14 to -22 in antmaze).
        candidate_radius: With ``"value"`` relevance, only transitions within this goal-space distance are scored
            (None scores the whole dataset: one critic pass over every state per selection).
        horizon_steps: ``H`` of the H-step return: ``H - 1`` rewards, then the critic at ``s_{i+H-1}``.
            Sub-trajectories stop at the end of their trajectory. Not given in the paper; 200 is our default: on
            pointmaze-medium-navigate with a 25k-step GCIVL critic it took GC-TTT from 0.5 (H = 50) to 0.9 (probes
            in ``docs/TTT.md``, "What to fine-tune on"), relying on the data's rewards where the critic is poor.
        discount: ``gamma`` of the returns (the critic's discount, 0.99 for OGBench's agents).
        optimal_fraction: Fraction of the relevant sub-trajectories kept by the percentile cut (eq. 4): those with
            the highest returns (ties with the threshold are kept too).
        subtrajectory_steps: How many states of each selected sub-trajectory to fine-tune on (eq. 1 averages the
            loss over the states of D(s, g*), a set of sub-trajectories). A sub-trajectory stops early before the
            first state at g* (whose action says nothing about reaching it) and at the end of its trajectory.
            ``None`` (default): the sub-trajectory that was scored, ``(s_1, ..., s_H)`` with ``H = horizon_steps``
            for ``"h_step"`` and ``"none"``, up to g* for ``"monte_carlo"``. ``1``: the start states only; they lie
            in the ``epsilon`` ball around the agent, which it leaves long before the next adaptation
            (``docs/TTT.md``, "What to fine-tune on": on pointmaze-medium-navigate the critic-free success went
            from 0.19 with start states to 0.85 with the sub-trajectories up to g*).
        best_cut_every: With a critic, cut each selected sub-trajectory that does not reach g* after its best
            checkpoint: of ``k = 0, c, 2c, ...`` (``c = best_cut_every``) below its length, the one with the highest
            k-step return ``-(1 - gamma^k) / (1 - gamma) + gamma^k V(s_{i+k}, g*)``; the states ``s_i .. s_{i+k-1}``
            are kept (at least ``s_i``; with H = 200 and c = 25, at most the first 175). Data past the point where it
            stops heading for g* (e.g. a stitch trajectory hovering at its own goal) is then left out. Only with a
            critic and ``"h_step"`` optimality; ``None``: no cut.
        max_relevant: Score at most this many relevant transitions, a uniform random subset, before the cut (None:
            all of them, as in the paper). The cut then keeps a uniform subsample of the same D(s, g*) with its
            threshold estimated from the subset; it bounds the critic calls per selection (a pointmaze-medium
            relevant set holds up to 30k transitions) while leaving hundreds of transitions to fine-tune on.
        success_tolerance: Goal-reaching radius of the reward; defaults to the dataset's success threshold.
        cache_goals: Number of goals whose caches are kept (one per concurrent environment is enough).
        seed: Seed of the ``max_relevant`` subsampling.
        torch_threads: torch's intra-op threads during the critic calls (restored afterwards; None: unchanged). One
            by default: the calls are small batches, which more threads slow down whenever another process uses
            the other cores (docs/TTT.md, "Measured speed").

    Reaching the goal ends a sub-trajectory: its return is ``-(1 - gamma^k) / (1 - gamma)`` after ``k`` steps and the
    critic is not consulted, matching OGBench's value targets (mask 0 at the goal). A Monte-Carlo return of a
    trajectory that never reaches g* is ``-1 / (1 - gamma)``, the return of never reaching it, and the critic-free
    cut never selects such sub-trajectories: on OGBench's navigate data only 0.4-9% of the transitions near a
    task's start reach its goal later in their trajectory, so a plain ``>= C`` cut (C at the never-reaching value)
    would keep every relevant transition. With no relevant sub-trajectory reaching g*, the selection is empty.
    """

    def __init__(
        self,
        dataset: GoalDataset,
        critic: Critic | None = None,
        *,
        relevance: RelevanceKind = "distance",
        optimality: OptimalityKind = "auto",
        epsilon: float | None = None,
        value_threshold: float | None = None,
        candidate_radius: float | None = None,
        horizon_steps: int = 200,
        discount: float = 0.99,
        optimal_fraction: float = 0.2,
        max_relevant: int | None = 4096,
        subtrajectory_steps: int | None = None,
        best_cut_every: int | None = 25,
        success_tolerance: float | None = None,
        cache_goals: int = 16,
        seed: int = 0,
        torch_threads: int | None = 1,
    ) -> None:
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1 or None, got {torch_threads}")
        if relevance not in ("distance", "value", "none"):
            raise ValueError(f"relevance must be 'distance', 'value' or 'none', got {relevance!r}")
        if optimality == "auto":
            optimality = "h_step" if critic is not None else "monte_carlo"
        if optimality not in ("h_step", "monte_carlo", "none"):
            raise ValueError(f"optimality must be 'auto', 'h_step', 'monte_carlo' or 'none', got {optimality!r}")
        if critic is None and (optimality == "h_step" or relevance == "value"):
            raise ValueError(
                f"relevance={relevance!r}, optimality={optimality!r} need a critic V(observations, goals): pass "
                "critic=agent.value (GCIQL / GCIVL), or use optimality='monte_carlo' (critic-free)"
            )
        if relevance == "value" and value_threshold is None:
            raise ValueError("relevance='value' needs value_threshold (C in V(s, s_i) > C, e.g. -20)")
        if horizon_steps < 1:
            raise ValueError(f"horizon_steps must be >= 1, got {horizon_steps}")
        if not 0.0 < discount < 1.0:
            raise ValueError(f"discount must lie in (0, 1), got {discount}")
        if not 0.0 < optimal_fraction <= 1.0:
            raise ValueError(f"optimal_fraction must lie in (0, 1], got {optimal_fraction}")
        if max_relevant is not None and max_relevant < 1:
            raise ValueError(f"max_relevant must be positive or None, got {max_relevant}")
        if subtrajectory_steps is not None and subtrajectory_steps < 1:
            raise ValueError(f"subtrajectory_steps must be positive or None, got {subtrajectory_steps}")
        if best_cut_every is not None and best_cut_every < 1:
            raise ValueError(f"best_cut_every must be positive or None, got {best_cut_every}")

        goal_space = dataset.goal_space
        default_tolerance = None if goal_space is None else goal_space.tolerance
        self.epsilon = float(epsilon if epsilon is not None else default_tolerance or 0.0)
        self.success_tolerance = float(success_tolerance if success_tolerance is not None else default_tolerance or 0.0)
        if goal_space is None and (
            (relevance == "distance" and epsilon is None) or (optimality != "none" and success_tolerance is None)
        ):
            raise ValueError(
                f"{dataset.source}: the dataset has no known goal space, so the relevance radius and the success "
                "threshold cannot be looked up: pass epsilon= and success_tolerance= (in observation units), or "
                "load the dataset with goal_space=ttt_gym.data.GoalSpace(...)"
            )
        if self.epsilon <= 0 and relevance == "distance":
            raise ValueError(f"epsilon must be positive, got {self.epsilon}")

        if critic is not None and not callable(critic):
            value = getattr(critic, "value", None)
            if not callable(value):
                raise TypeError(
                    f"critic must be V(observations, goals) -> values, e.g. agent.value; got {type(critic).__name__}"
                )
            critic = value  # an agent with a value function (GCIVL, GCIQL): use it
        self.dataset = dataset
        self.critic = critic
        self.relevance: RelevanceKind = relevance
        self.optimality: OptimalityKind = optimality
        self.value_threshold = value_threshold
        self.candidate_radius = candidate_radius
        self.horizon_steps = int(horizon_steps)
        self.discount = float(discount)
        self.optimal_fraction = float(optimal_fraction)
        self.max_relevant = max_relevant
        self.subtrajectory_steps = subtrajectory_steps
        self.best_cut_every = best_cut_every
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.cache_goals = int(cache_goals)
        self.torch_threads = torch_threads
        self.stats = SelectionStats()

        # The success test of the returns (and of the rewards the wrapper fine-tunes with): the dataset's goal space
        # at success_tolerance; without one, the whole observation as one group.
        if goal_space is None:
            self.goal_space = GoalSpace.full(dataset.observation_dim, self.success_tolerance)
        else:
            self.goal_space = dataclasses.replace(goal_space, tolerance=self.success_tolerance)
        self._index = self.goal_space.index(dataset.goal_coordinates)
        self._last_row = np.arange(len(dataset), dtype=np.int64) + dataset.steps_to_end
        self._all_rows: np.ndarray | None = None
        self._goal_caches: OrderedDict[bytes, _GoalCache] = OrderedDict()

    # -- public -------------------------------------------------------------------------------------------------------

    def reseed(self, seed: int) -> None:
        """Key the ``max_relevant`` subsampling by ``(self.seed, seed)`` (an episode's seed), so that an episode's
        selections do not depend on the episodes before it (what the wrapper's ``reseed`` forwards)."""
        self.rng = np.random.default_rng(derived_seed((self.seed, seed)))

    def select(self, state: np.ndarray, goal: np.ndarray) -> Selection:
        """D(s, g*): the states of the sub-trajectories that start relevant to ``state`` and are optimal for ``goal``
        (their first ``subtrajectory_steps`` states, each transition once), and which of them are at ``goal``."""
        tic = time.perf_counter()
        starts = self.select_starts(state, goal)
        selected = self.subtrajectories(starts, goal)
        success = self._goal_cache(goal).success_rows
        position = np.minimum(np.searchsorted(success, selected), max(len(success) - 1, 0))
        reaches = success.take(position) == selected if len(success) else np.zeros(len(selected), dtype=bool)
        elapsed_ms = 1e3 * (time.perf_counter() - tic)
        self.stats.last_selected = len(selected)
        self.stats.last_ms = elapsed_ms
        self.stats.total_ms += elapsed_ms
        return Selection(
            indices=selected,
            reaches_goal=reaches,
            relevant=self.stats.last_relevant,
            subtrajectories=self.stats.last_subtrajectories,
            milliseconds=elapsed_ms,
        )

    def select_starts(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Sorted start indices of the selected sub-trajectories (eqs. 2-4), before :meth:`subtrajectories`."""
        state = self._check_state(state)
        relevant = self.relevant(state)
        selected = relevant
        if self.optimality != "none" and len(relevant):
            scored = relevant
            if self.max_relevant is not None and len(relevant) > self.max_relevant:
                scored = np.sort(self.rng.choice(relevant, size=self.max_relevant, replace=False))
            returns, reached = self._returns(scored, goal)
            keep = returns >= _top_fraction_threshold(returns, self.optimal_fraction)
            if self.optimality == "monte_carlo":
                keep &= reached  # a sub-trajectory that never reaches g* says nothing about how to reach it
            selected = scored[keep]
        self.stats.selections += 1
        self.stats.last_relevant = len(relevant)
        self.stats.last_subtrajectories = len(selected)
        return selected

    def subtrajectories(self, starts: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Sorted, distinct indices of the states of the sub-trajectories starting at ``starts``: the rows
        ``[start, stop)`` of :meth:`subtrajectory_bounds`."""
        starts, stop = self.subtrajectory_bounds(starts, goal)
        if len(starts) == 0 or np.all(stop == starts + 1):
            return starts
        # Union of the intervals [start, stop): merge the overlapping ones (starts are sorted), then list their rows.
        # Linear in the output, where np.unique over all rows of all sub-trajectories sorted up to 50x more.
        reach = np.maximum.accumulate(stop)
        begins = np.flatnonzero(np.r_[True, starts[1:] >= reach[:-1]])
        merged_starts, merged_stops = starts[begins], np.maximum.reduceat(stop, begins)
        lengths = merged_stops - merged_starts
        offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.repeat(merged_starts, lengths) + offsets

    def subtrajectory_bounds(self, starts: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted distinct ``starts`` and the exclusive ``stops`` of their sub-trajectories: the first
        ``subtrajectory_steps`` transitions, stopping before the first state at ``goal`` and at the end of the
        trajectory, and with a critic and H-step optimality at the best checkpoint (``best_cut_every``)."""
        starts = np.unique(np.asarray(starts, dtype=np.int64))  # sorted, as the interval merge needs
        steps = self.subtrajectory_steps
        if steps is None and self.optimality != "monte_carlo":
            steps = self.horizon_steps
        if steps == 1 or len(starts) == 0:
            return starts, starts + 1
        stop = self._last_row.take(starts) + 1  # exclusive
        if steps is not None:
            stop = np.minimum(stop, starts + steps)
        success = self._goal_cache(goal).success_rows
        position = np.searchsorted(success, starts)
        has_next = position < len(success)
        first_success = np.full(len(starts), np.iinfo(np.int64).max, dtype=np.int64)
        first_success[has_next] = success.take(position[has_next])
        reaches = first_success < stop
        stop = np.minimum(stop, np.maximum(first_success, starts + 1))  # a start at the goal keeps itself
        cuts = self.best_cut_every is not None and self.critic is not None and self.optimality == "h_step"
        if cuts and (~reaches).any():
            cut = ~reaches
            stop[cut] = self._best_cut(starts[cut], stop[cut], goal)
        return starts, stop

    def _best_cut(self, starts: np.ndarray, stops: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """New exclusive stops: each sub-trajectory ends at its best checkpoint ``k`` (0 and multiples of
        ``best_cut_every`` inside it), the one maximising the k-step return ``-(1 - gamma^k) / (1 - gamma) + gamma^k
        V(s_{i+k}, g*)``; its states ``s_i .. s_{i+k-1}`` are kept (at least ``s_i``)."""
        assert self.best_cut_every is not None
        cache = self._goal_cache(goal)
        lengths = stops - starts
        offsets = np.arange(0, int(lengths.max()), self.best_cut_every, dtype=np.int64)
        valid = offsets[None, :] < lengths[:, None]
        rows = starts[:, None] + offsets[None, :]
        gamma = self.discount
        discounted = gamma ** offsets.astype(np.float64)
        returns = np.full(rows.shape, -np.inf)
        returns[valid] = -(1.0 - np.broadcast_to(discounted, rows.shape)[valid]) / (1.0 - gamma) + np.broadcast_to(
            discounted, rows.shape
        )[valid] * self._critic_values(cache, rows[valid])
        best = offsets[np.argmax(np.nan_to_num(returns, nan=-np.inf), axis=1)]  # a NaN value never wins
        return starts + np.maximum(best, 1)

    def relevant(self, state: np.ndarray) -> np.ndarray:
        """Sorted indices of the transitions relevant to ``state`` (eq. 2 or eq. 13)."""
        state = self._check_state(state)
        if self.relevance == "none":
            if self._all_rows is None:
                self._all_rows = np.arange(len(self.dataset), dtype=np.int64)
            return self._all_rows
        coordinates = self.goal_space.coordinates(state)
        if self.relevance == "distance":
            return self._index.within(coordinates, self.epsilon, inclusive=False)
        # Value-based relevance: V(s, s_i) > C, the dataset states acting as goals.
        if self.candidate_radius is not None:
            candidates = self._index.within(coordinates, self.candidate_radius, inclusive=True)
        else:
            candidates = np.arange(len(self.dataset), dtype=np.int64)
        if len(candidates) == 0:
            return candidates
        assert self.critic is not None and self.value_threshold is not None
        goals = self.dataset.observations.take(candidates, axis=0)
        with threads_set_to(self.torch_threads):
            values = np.asarray(self.critic(np.broadcast_to(state, goals.shape), goals)).reshape(-1)
        self.stats.critic_states += len(candidates)
        return candidates[values > self.value_threshold]

    def returns(self, indices: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Return estimates towards ``goal`` of the sub-trajectories starting at ``indices`` (float64).

        ``"h_step"``: eq. 3, the critic at the H-step-ahead state unless g* is reached first. ``"monte_carlo"``:
        the discounted return of the rest of the trajectory.
        """
        return self._returns(indices, goal)[0]

    def _returns(self, indices: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns and whether each sub-trajectory reaches the goal (within H steps, or at all for Monte-Carlo)."""
        indices = np.asarray(indices, dtype=np.int64)
        cache = self._goal_cache(goal)
        gamma = self.discount
        last = self._last_row.take(indices)
        end = last if self.optimality == "monte_carlo" else np.minimum(indices + self.horizon_steps - 1, last)
        # First row at the goal at or after each start (searching the goal's success rows, cached per goal).
        success = cache.success_rows
        position = np.searchsorted(success, indices)
        has_next = position < len(success)
        first_success = np.full(len(indices), -1, dtype=np.int64)
        first_success[has_next] = success.take(position[has_next])
        reached = has_next & (first_success <= end)
        steps = np.where(reached, first_success - indices, end - indices)
        discounted = gamma ** steps.astype(np.float64)
        returns = -(1.0 - discounted) / (1.0 - gamma)
        not_reached = ~reached
        if self.optimality == "monte_carlo":
            returns[not_reached] = -1.0 / (1.0 - gamma)
        elif not_reached.any():
            values = self._critic_values(cache, end[not_reached])
            returns[not_reached] += discounted[not_reached] * values
        return returns, reached

    def reaches_goal(self, states: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Whether each of ``states (B, obs_dim)`` is at ``goal``: the success test behind the returns' rewards.

        A state is at the goal when its goal-space distance to it is at most ``success_tolerance`` (the distance of
        relevance): :meth:`GoalSpace.is_success <ttt_gym.data.GoalSpace.is_success>` of :attr:`goal_space`.
        """
        coordinates, _ = self._split_goal(goal)
        states = np.asarray(states, dtype=np.float32).reshape(-1, self.dataset.observation_dim)
        return self.goal_space.is_success(self.goal_space.coordinates(states), coordinates)

    def reset(self) -> None:
        """Forget the per-goal caches (they are also evicted automatically, least recently used first)."""
        self._goal_caches.clear()

    def __repr__(self) -> str:
        return (
            f"GoalRelatedSelector(relevance={self.relevance!r}, optimality={self.optimality!r}, "
            f"epsilon={self.epsilon}, horizon_steps={self.horizon_steps}, optimal_fraction={self.optimal_fraction}, "
            f"subtrajectory_steps={self.subtrajectory_steps}, best_cut_every={self.best_cut_every}, "
            f"max_relevant={self.max_relevant}, discount={self.discount})"
        )

    # -- internals ----------------------------------------------------------------------------------------------------

    def _check_state(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=np.float32).reshape(-1)
        if state.shape[0] != self.dataset.observation_dim:
            raise ValueError(
                f"The state has {state.shape[0]} entries but the dataset's observations have "
                f"{self.dataset.observation_dim}: pass the env's observation (the 'observation' entry of a "
                "GoalObservation dict), and use the dataset of this env"
            )
        return state

    def _split_goal(self, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Goal coordinates and the critic's goal (a full goal observation, or None when only coordinates given)."""
        goal = np.asarray(goal, dtype=np.float32).reshape(-1)
        coordinates = goal_coordinates(goal, self.dataset, self.goal_space)
        if goal.shape[0] == self.dataset.observation_dim:
            return coordinates, goal
        # Goal coordinates: a critic that takes them (ModelCritic, on the policy's own goals) still gets one.
        return coordinates, (goal if getattr(self.critic, "accepts_goal_coordinates", False) else None)

    def _goal_cache(self, goal: np.ndarray) -> _GoalCache:
        coordinates, critic_goal = self._split_goal(goal)
        key = coordinates.tobytes() + (b"" if critic_goal is None else critic_goal.tobytes())
        cache = self._goal_caches.get(key)
        if cache is not None:
            self._goal_caches.move_to_end(key)
            return cache
        cache = _GoalCache(
            coordinates=coordinates,
            critic_goal=critic_goal,
            success_rows=self._index.within(coordinates, self.success_tolerance, inclusive=True),
        )
        self._goal_caches[key] = cache
        self.stats.goals_seen += 1
        while len(self._goal_caches) > self.cache_goals:
            self._goal_caches.popitem(last=False)
        return cache

    def _critic_values(self, cache: _GoalCache, rows: np.ndarray) -> np.ndarray:
        if cache.critic_goal is None:
            raise ValueError(
                "The critic needs the full goal observation, but the policy's goal holds only goal coordinates: "
                "wrap the env in ttt_gym.wrappers.GoalObservation(env, full_goal=True), or use "
                "optimality='monte_carlo'"
            )
        if cache.values is None:
            cache.values = np.full(len(self.dataset), np.nan, dtype=np.float32)
        values = cache.values.take(rows)
        missing = np.isnan(values)
        if missing.any():
            todo = np.unique(rows[missing])
            states = self.dataset.observations.take(todo, axis=0)
            assert self.critic is not None
            with threads_set_to(self.torch_threads):
                computed = np.asarray(
                    self.critic(states, np.broadcast_to(cache.critic_goal, (len(todo), len(cache.critic_goal))))
                )
            cache.values[todo] = computed.reshape(-1)
            self.stats.critic_states += len(todo)
            values = cache.values.take(rows)
        return values.astype(np.float64)


class RandomSelector:
    """Uniformly random transitions, whatever the state and goal (the "random" ablation of the paper's Figure 2).

    Args:
        dataset: The offline data.
        size: Number of distinct transitions per selection (all of them when the dataset is smaller).
        seed: Seed of the selector's generator.
    """

    def __init__(self, dataset: GoalDataset, size: int = 4096, *, seed: int = 0) -> None:
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.dataset = dataset
        self.size = int(size)
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.stats = SelectionStats()

    def reseed(self, seed: int) -> None:
        """Key the generator by ``(self.seed, seed)``, an episode's seed (:func:`ttt_gym.evaluation.reseed_policy`)."""
        self.rng = np.random.default_rng(derived_seed((self.seed, seed)))

    def select(self, state: np.ndarray, goal: np.ndarray) -> Selection:
        """``size`` distinct random transition indices, sorted; which are at ``goal`` by the dataset's goal space."""
        tic = time.perf_counter()
        n = len(self.dataset)
        selected = np.sort(self.rng.choice(n, size=min(self.size, n), replace=False)).astype(np.int64)
        selection = Selection.of(selected, self.dataset, goal)
        elapsed_ms = 1e3 * (time.perf_counter() - tic)
        self.stats.selections += 1
        self.stats.last_relevant = self.stats.last_selected = self.stats.last_subtrajectories = len(selected)
        self.stats.last_ms = elapsed_ms
        self.stats.total_ms += elapsed_ms
        return dataclasses.replace(selection, subtrajectories=len(selected), milliseconds=elapsed_ms)


SELECTOR_KINDS = (
    "gc-ttt",
    "critic-free",
    "relevant-only",
    "optimal-only",
    "value-relevance",
    "random",
    "gc-ttt-episodes",
)


def make_selector(kind: str, dataset: GoalDataset, critic: Critic | None = None, **kwargs: object) -> Selector:
    """A selector by name, for configs and ablations.

    ``"gc-ttt"``: distance relevance + H-step return with ``critic``. ``"critic-free"``: distance relevance +
    Monte-Carlo return. ``"relevant-only"``: distance relevance alone. ``"optimal-only"``: the optimality cut over
    the whole dataset (H-step with a critic, else Monte-Carlo). ``"value-relevance"``: ``V(s, s_i) > C`` relevance +
    H-step return (pass ``value_threshold``). ``"random"``: :class:`RandomSelector` (``size``, ``seed``).
    ``"gc-ttt-episodes"``: the GC-TTT authors' episode-level rule (:class:`~ttt_gym.ttt.episodes.EpisodeSelector`).
    Other keyword arguments go to :class:`GoalRelatedSelector`.
    """
    if kind == "random":
        return RandomSelector(dataset, **kwargs)  # type: ignore[arg-type]
    if kind == "gc-ttt-episodes":
        from ttt_gym.ttt.episodes import EpisodeSelector  # it builds on GoalRelatedSelector, below

        return EpisodeSelector(dataset, critic, **kwargs)  # type: ignore[arg-type]
    presets: dict[str, dict[str, str]] = {
        "gc-ttt": {"relevance": "distance", "optimality": "h_step"},
        "critic-free": {"relevance": "distance", "optimality": "monte_carlo"},
        "relevant-only": {"relevance": "distance", "optimality": "none"},
        "optimal-only": {"relevance": "none", "optimality": "auto"},
        "value-relevance": {"relevance": "value", "optimality": "h_step"},
    }
    if kind not in presets:
        raise ValueError(f"Unknown selector kind {kind!r}; choose one of {', '.join(SELECTOR_KINDS)}")
    return GoalRelatedSelector(dataset, critic, **presets[kind], **kwargs)  # type: ignore[arg-type]


def _top_fraction_threshold(returns: np.ndarray, fraction: float) -> float:
    """``C`` such that ``returns >= C`` holds for the best ``ceil(fraction * n)`` values (and ties with them)."""
    n = len(returns)
    keep = min(n, max(1, math.ceil(fraction * n - 1e-9)))
    return float(np.partition(returns, n - keep)[n - keep])


if __name__ == "__main__":
    raise SystemExit(
        "The selection timing moved out of the library: run `python -m benchmarks.selection_speed` from a "
        "repository checkout."
    )
