"""The GC-TTT authors' episode-level selection: whole trajectories ranked by the critic's steps to the goal."""

from __future__ import annotations

import numpy as np
import pytest

from ttt_gym.data import GoalDataset, GoalSpace
from ttt_gym.ttt.episodes import EpisodeSelector
from ttt_gym.ttt.selection import make_selector

GAMMA, STEP = 0.99, 0.25


def line(start: float, stop: float) -> np.ndarray:
    xs = np.arange(start, stop + np.sign(stop - start) * 1e-9, np.sign(stop - start) * STEP)
    return np.stack([xs, np.zeros_like(xs)], axis=1)


@pytest.fixture(scope="module")
def dataset() -> GoalDataset:
    trajectories = [line(0.0, 3.0), line(0.0, -3.0), line(10.0, 12.0), line(0.2, 1.45)]  # T0 .. T3
    observations = np.concatenate(trajectories).astype(np.float32)
    terminals = np.concatenate([np.eye(1, len(t), len(t) - 1)[0] for t in trajectories])
    return GoalDataset.from_arrays(
        observations, np.zeros((len(observations), 2)), terminals, goal_space=GoalSpace((0, 1), 2, 0.5)
    )


def critic(states: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """OGBench's value of being |x - g_x| / STEP steps from the goal."""
    steps = np.abs(states[:, 0] - goals[:, 0]) / STEP
    return -(1.0 - GAMMA**steps) / (1.0 - GAMMA)


def rows_of(dataset: GoalDataset, trajectory: int) -> np.ndarray:
    return np.flatnonzero(dataset.trajectory_ids == trajectory)


def test_keeps_the_trajectories_that_lead_to_the_goal_from_match_to_best_point(dataset):
    goal, state = np.array([3.0, 0.0], np.float32), np.zeros(2, np.float32)
    selector = make_selector("gc-ttt-episodes", dataset, critic, discount=GAMMA, n_episodes=10, min_steps=10)
    assert isinstance(selector, EpisodeSelector)
    selection = selector.select(state, goal)
    # T0 walks to the goal (best point: its end, 12 steps on); T1 walks away (best point: its match); T2 is far;
    # T3's best point is only 5 steps on.
    np.testing.assert_array_equal(selection.indices, rows_of(dataset, 0))
    at_goal = np.abs(dataset.observations[selection.indices, 0] - 3.0) <= 0.5
    np.testing.assert_array_equal(selection.reaches_goal, at_goal)
    assert selection.relevant > 0 and selection.subtrajectories == 1
    # A shorter minimum keeps T3 too; one episode keeps the one whose best point is nearest the goal.
    two = make_selector("gc-ttt-episodes", dataset, critic, discount=GAMMA, min_steps=3).select(state, goal)
    np.testing.assert_array_equal(two.indices, np.concatenate([rows_of(dataset, 0), rows_of(dataset, 3)]))
    one = make_selector("gc-ttt-episodes", dataset, critic, discount=GAMMA, min_steps=3, n_episodes=1)
    np.testing.assert_array_equal(one.select(state, goal).indices, rows_of(dataset, 0))


def test_steps_to_goal_inverts_ogbench_values(dataset):
    selector = EpisodeSelector(dataset, critic, discount=GAMMA)
    steps = np.array([0.0, 1.0, 12.0, 150.0])
    values = -(1.0 - GAMMA**steps) / (1.0 - GAMMA)
    np.testing.assert_allclose(selector._steps_to_goal(values), steps, atol=1e-6)


def test_needs_a_critic(dataset):
    with pytest.raises(ValueError, match="critic"):
        make_selector("gc-ttt-episodes", dataset)
