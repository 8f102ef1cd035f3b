"""GC-TTT data selection on hand-built datasets whose relevant and optimal transitions are known."""

from __future__ import annotations

import numpy as np
import pytest

from ttt_gym.data import GoalDataset, GoalSpace
from ttt_gym.ttt.selection import (
    GoalRelatedSelector,
    RandomSelector,
    Selector,
    _top_fraction_threshold,
    make_selector,
)

GAMMA = 0.9
TOLERANCE = 0.5


def _dataset(velocity_dims: int = 0) -> GoalDataset:
    """Three trajectories of 5 transitions each (a 6th, terminal row ends each one).

    A (rows 0-4): (0,0) (1,0) (2,0) (3,0) (4,0), moving along +x.
    B (rows 5-9): (0,0.2) (0,1) (0,2) (0,3) (0,4), moving along +y.
    C (rows 10-14): (10,10) ... (10,14), far away.
    """
    a = [(float(x), 0.0) for x in range(6)]
    b = [(0.0, 0.2)] + [(0.0, float(y)) for y in range(1, 6)]
    c = [(10.0, 10.0 + y) for y in range(6)]
    positions = np.array(a + b + c, dtype=np.float32)
    observations = np.concatenate([positions, np.zeros((len(positions), velocity_dims), np.float32)], axis=1)
    terminals = np.zeros(18, dtype=bool)
    terminals[[5, 11, 17]] = True
    return GoalDataset.from_arrays(
        observations,
        np.zeros((18, 2), np.float32),
        terminals,
        goal_space=GoalSpace(indices=(0, 1), group_size=2, tolerance=TOLERANCE),
    )


class DistanceCritic:
    """V(s, g) = -||s_xy - g_xy||, counting the states it is called on."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, observations: np.ndarray, goals: np.ndarray) -> np.ndarray:
        self.calls.append(len(observations))
        return -np.linalg.norm(observations[:, :2] - goals[:, :2], axis=1)


def _mc(steps: int) -> float:
    return -(1 - GAMMA**steps) / (1 - GAMMA)


@pytest.fixture(scope="module")
def dataset() -> GoalDataset:
    return _dataset()


def test_relevance_is_goal_space_distance_below_epsilon(dataset):
    selector = GoalRelatedSelector(dataset, optimality="none")
    assert selector.epsilon == TOLERANCE  # the dataset's success threshold by default
    np.testing.assert_array_equal(selector.select_starts(np.array([0.0, 0.0]), np.array([3.0, 0.0])), [0, 5])
    wide = GoalRelatedSelector(dataset, optimality="none", epsilon=1.5)
    np.testing.assert_array_equal(wide.select_starts(np.array([0.0, 0.0]), np.array([3.0, 0.0])), [0, 1, 5, 6])
    # Strictly below epsilon: (1, 0) and (0, 1) sit at distance exactly 1.
    exact = GoalRelatedSelector(dataset, optimality="none", epsilon=1.0)
    np.testing.assert_array_equal(exact.relevant(np.array([0.0, 0.0])), [0, 5])
    assert len(wide.relevant(np.array([50.0, 50.0]))) == 0


def test_monte_carlo_returns_count_steps_to_the_goal(dataset):
    selector = GoalRelatedSelector(dataset, optimality="monte_carlo", discount=GAMMA)
    returns = selector.returns(np.array([0, 1, 3, 5, 10]), np.array([3.0, 0.0]))
    # Row 0 reaches (3, 0) after 3 steps, row 1 after 2, row 3 is at the goal; B and C never reach it.
    np.testing.assert_allclose(returns, [_mc(3), _mc(2), 0.0, -1 / (1 - GAMMA), -1 / (1 - GAMMA)])


def test_critic_free_selection_keeps_the_sub_trajectories_that_reach_the_goal(dataset):
    selector = make_selector("critic-free", dataset, discount=GAMMA, epsilon=1.5, optimal_fraction=0.5)
    # Relevant: rows 0, 1 (reach (3,0) in 3 and 2 steps) and 5, 6 (never): the better half is 0 and 1.
    np.testing.assert_array_equal(selector.select_starts(np.array([0.0, 0.0]), np.array([3.0, 0.0])), [0, 1])
    assert selector.stats.last_relevant == 4 and selector.stats.last_subtrajectories == 2
    # Towards (0, 3) the +y trajectory is the optimal one.
    np.testing.assert_array_equal(selector.select_starts(np.array([0.0, 0.0]), np.array([0.0, 3.0])), [5, 6])


def test_h_step_return_bootstraps_with_the_critic_at_the_h_th_state(dataset):
    critic = DistanceCritic()
    selector = GoalRelatedSelector(dataset, critic, horizon_steps=2, discount=GAMMA)
    goal = np.array([3.0, 0.0])
    returns = selector.returns(np.array([0, 5]), goal)
    # Eq. 3 with H = 2: R(s_1) + gamma V(s_2): row 0 -> s_2 = (1, 0), row 5 -> s_2 = (0, 1).
    np.testing.assert_allclose(returns, [-1 - GAMMA * 2.0, -1 - GAMMA * np.sqrt(10.0)], rtol=1e-6)
    assert critic.calls == [2] and selector.stats.critic_states == 2
    selector.returns(np.array([0, 5]), goal)  # values are cached for the goal: no new critic call
    assert critic.calls == [2]


def test_h_step_return_stops_at_the_goal_and_at_the_trajectory_end(dataset):
    critic = DistanceCritic()
    selector = GoalRelatedSelector(dataset, critic, horizon_steps=5, discount=GAMMA)
    returns = selector.returns(np.array([1, 4]), np.array([3.0, 0.0]))
    # Row 1 reaches the goal after 2 steps (no critic); row 4 is its trajectory's last transition: V(s_4) alone.
    np.testing.assert_allclose(returns, [_mc(2), -1.0], rtol=1e-6)
    assert critic.calls == [1]


def test_gc_ttt_selection_is_relevant_and_optimal(dataset):
    selector = make_selector(
        "gc-ttt", dataset, DistanceCritic(), horizon_steps=2, discount=GAMMA, epsilon=1.5, optimal_fraction=0.5
    )
    selected = selector.select_starts(np.array([0.0, 0.0]), np.array([3.0, 0.0]))
    # H-step returns: row 0 -1-0.9*2, row 1 -1-0.9*1, row 5 -1-0.9*sqrt(10), row 6 -1-0.9*sqrt(13): best half 0, 1.
    np.testing.assert_array_equal(selected, [0, 1])
    assert isinstance(selector, Selector)


def test_selection_holds_the_states_of_the_selected_sub_trajectories(dataset):
    goal = np.array([3.0, 0.0])
    # Starts 0 and 1 (see above); with H = 2 their sub-trajectories are rows 0-1 and 1-2, each transition once.
    gc_ttt = make_selector(
        "gc-ttt",
        dataset,
        DistanceCritic(),
        horizon_steps=2,
        discount=GAMMA,
        epsilon=1.5,
        optimal_fraction=0.5,
        best_cut_every=None,
    )
    np.testing.assert_array_equal(gc_ttt.select(np.zeros(2), goal).indices, [0, 1, 2])
    assert gc_ttt.stats.last_subtrajectories == 2 and gc_ttt.stats.last_selected == 3
    # Critic-free: the whole way to g*, which row 3 reaches; the state at the goal is left out.
    critic_free = make_selector("critic-free", dataset, discount=GAMMA, epsilon=1.5, optimal_fraction=0.5)
    np.testing.assert_array_equal(critic_free.select(np.zeros(2), goal).indices, [0, 1, 2])
    capped = make_selector(
        "critic-free", dataset, discount=GAMMA, epsilon=1.5, optimal_fraction=0.5, subtrajectory_steps=2
    )
    np.testing.assert_array_equal(capped.select(np.zeros(2), goal).indices, [0, 1, 2])
    starts_only = make_selector(
        "critic-free", dataset, discount=GAMMA, epsilon=1.5, optimal_fraction=0.5, subtrajectory_steps=1
    )
    np.testing.assert_array_equal(starts_only.select(np.zeros(2), goal).indices, [0, 1])
    # Relevant-only runs H steps and stops at the trajectory's end: B's rows 5-9 from starts 5, 6 (H = 200).
    relevant = make_selector("relevant-only", dataset, epsilon=1.5)
    everything = relevant.select(np.zeros(2), np.array([10.0, 14.0]))
    np.testing.assert_array_equal(everything.indices, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert not everything.reaches_goal.any() and everything.relevant == 4
    # A start at the goal keeps itself; starts may come unsorted and repeated.
    np.testing.assert_array_equal(critic_free.subtrajectories(np.array([3]), goal), [3])
    np.testing.assert_array_equal(critic_free.subtrajectories(np.array([6, 1, 0, 1]), goal), [0, 1, 2, 6, 7, 8, 9])
    with pytest.raises(ValueError, match="subtrajectory_steps"):
        GoalRelatedSelector(dataset, subtrajectory_steps=0)


def test_best_cut_ends_a_sub_trajectory_at_its_best_checkpoint():
    # One trajectory along x: 0, 1, ..., 5, then back 4, 3, 2, 1, 0 (it turns away from the goal after x = 5).
    xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    terminals = np.zeros(len(xs), dtype=bool)
    terminals[-1] = True
    data = GoalDataset.from_arrays(
        np.array([[x, 0.0] for x in xs], np.float32),
        np.zeros((len(xs), 2), np.float32),
        terminals,
        goal_space=GoalSpace((0, 1), 2, TOLERANCE),
    )
    goal = np.array([5.5, 1.0])  # 1.1 from the closest state: no sub-trajectory reaches it

    def critic(observations: np.ndarray, goals: np.ndarray) -> np.ndarray:  # 10 steps per unit of distance
        return -10.0 * np.linalg.norm(observations[:, :2] - goals[:, :2], axis=1)

    kwargs = dict(horizon_steps=10, discount=0.99, optimal_fraction=1.0, max_relevant=None)
    cut = GoalRelatedSelector(data, critic, best_cut_every=1, **kwargs)
    # The k-step return -(1 - 0.99^k) / 0.01 + 0.99^k V(s_k) from row 0 is best at k = 5 (x = 5): rows 0-4 kept.
    np.testing.assert_array_equal(cut.subtrajectories(np.array([0]), goal), [0, 1, 2, 3, 4])
    # Checkpoints every 2 steps, k in {0, 2, 4, 6, 8}: k = 4 (x = 4 on the way out) is the best of them.
    every_2 = GoalRelatedSelector(data, critic, best_cut_every=2, **kwargs)
    np.testing.assert_array_equal(every_2.subtrajectories(np.array([0]), goal), [0, 1, 2, 3])
    # A start whose best checkpoint is itself keeps itself only; without the cut the whole window is kept.
    np.testing.assert_array_equal(cut.subtrajectories(np.array([5]), goal), [5])
    no_cut = GoalRelatedSelector(data, critic, best_cut_every=None, **kwargs)
    np.testing.assert_array_equal(no_cut.subtrajectories(np.array([0]), goal), np.arange(10))
    # The cut belongs to the H-step selection: other optimality kinds keep their windows even with a critic.
    relevant_only = GoalRelatedSelector(data, critic, optimality="none", best_cut_every=1, **kwargs)
    np.testing.assert_array_equal(relevant_only.subtrajectories(np.array([0]), goal), np.arange(10))

    # A NaN value (a broken critic) never wins the cut.
    def nan_at_start(observations: np.ndarray, goals: np.ndarray) -> np.ndarray:
        values = critic(observations, goals)
        values[observations[:, 0] == 0.0] = np.nan
        return values

    with_nan = GoalRelatedSelector(data, nan_at_start, best_cut_every=1, **kwargs)
    np.testing.assert_array_equal(with_nan.subtrajectories(np.array([0]), goal), [0, 1, 2, 3, 4])
    starts, stops = cut.subtrajectory_bounds(np.array([5, 0, 5]), goal)
    np.testing.assert_array_equal(starts, [0, 5])
    np.testing.assert_array_equal(stops, [5, 6])
    with pytest.raises(ValueError, match="best_cut_every"):
        GoalRelatedSelector(data, critic, best_cut_every=0)


def test_optimal_only_ablation_searches_the_whole_dataset(dataset):
    selector = make_selector("optimal-only", dataset, discount=GAMMA, optimal_fraction=0.2)
    # Far from every state, still picks rows that reach (0, 3) fastest: 7 (1 step), 8 (at the goal), 6 (2 steps).
    selected = selector.select_starts(np.array([50.0, 50.0]), np.array([0.0, 3.0]))
    np.testing.assert_array_equal(selected, [6, 7, 8])


def test_relevant_only_and_random_ablations(dataset):
    relevant = make_selector("relevant-only", dataset, epsilon=1.5)
    np.testing.assert_array_equal(relevant.select_starts(np.zeros(2), np.array([3.0, 0.0])), [0, 1, 5, 6])
    random = make_selector("random", dataset, size=6, seed=1)
    assert isinstance(random, RandomSelector)
    picked = random.select(np.zeros(2), np.zeros(2)).indices
    assert len(picked) == 6 and len(np.unique(picked)) == 6 and np.all(np.diff(picked) > 0)
    assert picked.min() >= 0 and picked.max() < len(dataset)
    assert len(RandomSelector(dataset, size=100).select(np.zeros(2), np.zeros(2))) == len(dataset)


def test_value_based_relevance_uses_v_of_state_to_start(dataset):
    selector = make_selector(
        "value-relevance", dataset, DistanceCritic(), value_threshold=-1.2, optimal_fraction=1.0, discount=GAMMA
    )
    # V(s, s_i) = -distance > -1.2: the same rows as distance < 1.2.
    np.testing.assert_array_equal(selector.relevant(np.zeros(2)), [0, 1, 5, 6])
    bounded = make_selector(
        "value-relevance", dataset, DistanceCritic(), value_threshold=-1.2, candidate_radius=0.5, optimal_fraction=1.0
    )
    np.testing.assert_array_equal(bounded.relevant(np.zeros(2)), [0, 5])


def test_percentile_cut_keeps_the_top_fraction_and_ties():
    returns = np.array([-5.0, -1.0, -3.0, -2.0, -4.0, -6.0, -7.0, -8.0, -9.0, -10.0])
    assert _top_fraction_threshold(returns, 0.2) == -2.0  # the best 2 of 10
    assert _top_fraction_threshold(returns, 1.0) == -10.0
    assert _top_fraction_threshold(np.array([-1.0, -1.0, -1.0, -2.0]), 0.25) == -1.0  # ties are all kept
    assert _top_fraction_threshold(np.array([-3.0]), 0.01) == -3.0  # at least one


def test_goal_as_coordinates_or_full_observation():
    dataset = _dataset(velocity_dims=2)  # 4-d observations, goals in the first two
    selector = GoalRelatedSelector(dataset, optimality="monte_carlo", discount=GAMMA, epsilon=1.5, optimal_fraction=0.5)
    state = np.zeros(4)
    full = selector.select_starts(state, np.array([3.0, 0.0, 0.0, 0.0]))
    coordinates = selector.select_starts(state, np.array([3.0, 0.0]))
    np.testing.assert_array_equal(full, [0, 1])
    np.testing.assert_array_equal(coordinates, full)
    with_critic = GoalRelatedSelector(dataset, DistanceCritic(), epsilon=1.5)
    with pytest.raises(ValueError, match="full_goal=True"):
        with_critic.select(state, np.array([3.0, 0.0]))
    with pytest.raises(ValueError, match="entries"):
        selector.select(state, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="observation"):
        selector.select(np.zeros(3), np.array([3.0, 0.0]))


def test_configuration_errors_name_the_fix(dataset):
    with pytest.raises(ValueError, match="critic"):
        GoalRelatedSelector(dataset, optimality="h_step")
    with pytest.raises(ValueError, match="value_threshold"):
        GoalRelatedSelector(dataset, DistanceCritic(), relevance="value")
    no_goal_space = GoalDataset.from_arrays(dataset.observations, dataset.actions, np.r_[np.zeros(14), 1])
    with pytest.raises(ValueError, match="epsilon="):
        GoalRelatedSelector(no_goal_space)
    assert len(GoalRelatedSelector(no_goal_space, epsilon=0.5, success_tolerance=0.5).relevant(np.zeros(2))) == 2
    with pytest.raises(ValueError, match="Unknown selector kind"):
        make_selector("best", dataset)


def _scattered_dataset() -> GoalDataset:
    """2,001 uniform points in [-1, 1]^2 cut into trajectories of 101 steps: every row is relevant at epsilon 10."""
    rng = np.random.default_rng(0)
    observations = rng.uniform(-1, 1, size=(2001, 2)).astype(np.float32)
    terminals = np.zeros(2001, dtype=bool)
    terminals[100::101] = True
    terminals[-1] = True
    return GoalDataset.from_arrays(
        observations, np.zeros_like(observations), terminals, goal_space=GoalSpace((0, 1), 2, 0.3)
    )


def test_max_relevant_subsamples_before_the_cut():
    data = _scattered_dataset()
    selector = GoalRelatedSelector(data, optimality="monte_carlo", epsilon=10.0, max_relevant=200)
    selected = selector.select_starts(np.zeros(2), np.array([0.5, 0.5]))
    assert selector.stats.last_relevant == len(data)
    assert 40 <= len(selected) <= 200 and np.all(np.diff(selected) > 0)


def test_reseed_makes_the_subsampling_a_function_of_the_episode_seed():
    """After ``reseed(s)`` the ``max_relevant`` draw (and the random ablation's) depends on s alone, not on the
    selections made before: what makes ``evaluate_goal_policy(workers=N)`` equal ``workers=1``."""
    data = _scattered_dataset()
    for make in (
        lambda: GoalRelatedSelector(data, optimality="monte_carlo", epsilon=10.0, max_relevant=200, seed=3),
        lambda: RandomSelector(data, size=50, seed=3),
    ):
        fresh, used = make(), make()
        for _ in range(3):  # a history of earlier selections
            used.select(np.zeros(2), np.array([0.5, 0.5]))
        fresh.reseed(7)
        used.reseed(7)
        first = fresh.select(np.zeros(2), np.array([0.5, 0.5])).indices
        np.testing.assert_array_equal(first, used.select(np.zeros(2), np.array([0.5, 0.5])).indices)
        fresh.reseed(8)
        assert not np.array_equal(first, fresh.select(np.zeros(2), np.array([0.5, 0.5])).indices)


def test_critic_free_cut_drops_sub_trajectories_that_never_reach_the_goal(dataset):
    # Relevant to (0, 0) with epsilon 1.5: rows 0, 1 (reach (3, 0)) and 5, 6 (never). A cut at 90% would keep
    # the never-reaching rows as ties; the critic-free cut keeps only the ones with a return towards the goal.
    selector = GoalRelatedSelector(dataset, optimality="monte_carlo", epsilon=1.5, optimal_fraction=0.9)
    np.testing.assert_array_equal(selector.select_starts(np.zeros(2), np.array([3.0, 0.0])), [0, 1])
    assert len(selector.select_starts(np.zeros(2), np.array([10.0, 14.0]))) == 0  # no relevant row reaches C's end


def _reference_selection(
    data: GoalDataset,
    critic: DistanceCritic | None,
    state: np.ndarray,
    goal: np.ndarray,
    *,
    epsilon: float,
    tolerance: float,
    horizon_steps: int,
    fraction: float,
) -> np.ndarray:
    """GC-TTT's selection written out row by row, without the index, the caches or the lazy critic."""
    xy = data.observations[:, :2].astype(np.float64)
    trajectory_last = np.arange(len(data)) + data.steps_to_end
    relevant = np.flatnonzero(np.linalg.norm(xy - state[:2], axis=1) < epsilon)
    returns, reached = [], []
    for i in relevant:
        last = trajectory_last[i] if critic is None else min(i + horizon_steps - 1, trajectory_last[i])
        at_goal = [k for k in range(last - i + 1) if np.linalg.norm(xy[i + k] - goal[:2]) <= tolerance]
        if at_goal:
            returns.append(-(1 - 0.99 ** at_goal[0]) / (1 - 0.99))
        elif critic is None:
            returns.append(-1 / (1 - 0.99))
        else:
            value = critic(data.observations[last][None], goal[None])[0]
            returns.append(-(1 - 0.99 ** (last - i)) / (1 - 0.99) + 0.99 ** (last - i) * value)
        reached.append(bool(at_goal))
    returns_array = np.array(returns)
    keep = returns_array >= np.sort(returns_array)[::-1][int(np.ceil(fraction * len(relevant))) - 1]
    if critic is None:
        keep &= np.array(reached)
    return relevant[keep]


@pytest.mark.parametrize("optimality", ["h_step", "monte_carlo"])
def test_selection_matches_a_row_by_row_reference(optimality):
    # Random walks on a 6 x 6 square: many relevant rows, some reaching the goal, many cut by the horizon.
    rng = np.random.default_rng(1)
    n_trajectories, length = 40, 60
    steps = rng.normal(0.0, 0.3, size=(n_trajectories, length, 2))
    positions = np.clip(rng.uniform(0, 6, (n_trajectories, 1, 2)) + np.cumsum(steps, axis=1), 0, 6)
    terminals = np.zeros((n_trajectories, length), dtype=bool)
    terminals[:, -1] = True
    data = GoalDataset.from_arrays(
        positions.reshape(-1, 2).astype(np.float32),
        np.zeros((n_trajectories * length, 2), np.float32),
        terminals.reshape(-1),
        goal_space=GoalSpace((0, 1), 2, 0.4),
    )
    critic = DistanceCritic() if optimality == "h_step" else None
    selector = GoalRelatedSelector(
        data,
        critic,
        optimality=optimality,
        epsilon=1.0,
        horizon_steps=8,
        max_relevant=None,
        optimal_fraction=0.3,
        best_cut_every=None,  # the cut has its own test
    )
    checked = 0
    for _ in range(12):
        goal = data.observations[rng.integers(len(data))]
        for _ in range(3):  # several states per goal: the per-goal caches are reused
            state = data.observations[rng.integers(len(data))]
            expected = _reference_selection(
                data, critic, state, goal, epsilon=1.0, tolerance=0.4, horizon_steps=8, fraction=0.3
            )
            np.testing.assert_array_equal(selector.select_starts(state, goal), expected)
            checked += len(expected)
            # select(): the union of each start's first H steps (critic-free: all of them) before the goal.
            xy = data.observations[:, :2]
            rows: set[int] = set()
            for i in expected:
                last = i + int(data.steps_to_end[i]) if critic is None else min(i + 7, i + int(data.steps_to_end[i]))
                for k in range(i, last + 1):
                    at_goal = np.linalg.norm(xy[k] - goal[:2]) <= 0.4
                    if k > i and at_goal:
                        break
                    rows.add(k)
                    if at_goal:  # a start at the goal keeps itself only
                        break
            np.testing.assert_array_equal(selector.select(state, goal).indices, sorted(rows))
    assert checked > 100


def test_reaches_goal_is_the_success_test_of_the_returns(dataset):
    selector = GoalRelatedSelector(dataset, optimality="monte_carlo", discount=GAMMA, epsilon=1.5)
    goal = np.array([0.0, 0.5])
    at_goal = selector.reaches_goal(dataset.observations, goal)
    # Within TOLERANCE = 0.5 of (0, 0.5), boundary included: rows 0 (0, 0), 5 (0, 0.2) and 6 (0, 1).
    np.testing.assert_array_equal(np.flatnonzero(at_goal), [0, 5, 6])
    returns = selector.returns(np.arange(len(dataset)), goal)
    np.testing.assert_array_equal(returns == 0.0, at_goal)  # a return of 0: at the goal at the first step
    # The same test on the GoalSpace the selector holds, and in its Selection (a start at the goal keeps itself).
    np.testing.assert_array_equal(selector.goal_space.is_success(dataset.observations, goal), at_goal)
    selection = make_selector("relevant-only", dataset, epsilon=5.0, subtrajectory_steps=1).select(np.zeros(2), goal)
    np.testing.assert_array_equal(selection.reaches_goal, at_goal[selection.indices])


def test_critic_calls_run_on_the_selectors_thread_count_whatever_the_callers():
    """Selection is small-batch work: it runs on ``torch_threads`` (1 by default) and leaves the caller's count."""
    import torch

    seen = []

    def critic(states, goals):
        seen.append(torch.get_num_threads())
        return -np.linalg.norm(states - goals, axis=1)

    data = _dataset()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        make_selector("gc-ttt", data, critic, epsilon=1.5).select(np.zeros(2), np.array([3.0, 0.0]))
        make_selector("gc-ttt", data, critic, epsilon=1.5, torch_threads=None).select(np.zeros(2), np.array([3.0, 0.0]))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen[0] == 1 and seen[-1] == 2
    with pytest.raises(ValueError, match="torch_threads"):
        make_selector("gc-ttt", data, critic, torch_threads=0)
