"""The policy-accuracy diagnostic: the point-mass oracle, the error, and the recorder of visited states."""

from __future__ import annotations

import numpy as np
import pytest

from ttt_gym.goal_evaluation import evaluate_goal_policy, make_goal_env
from ttt_gym.improve import MazeOracle, RecordingPolicy, action_mse


class Still:
    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.zeros(2, np.float32), state


def test_oracle_points_to_the_next_subgoal_with_unit_actions():
    env = make_goal_env("pointmaze-medium-navigate-v0")
    oracle = MazeOracle(env)
    maze = env.unwrapped
    start = np.asarray(maze.ij_to_xy((1, 1)))
    same_cell_goal = start + np.array([0.3, 0.0])
    actions = oracle(np.stack([start, start]), np.stack([same_cell_goal, np.asarray(maze.ij_to_xy((6, 6)))]))
    np.testing.assert_allclose(np.linalg.norm(actions, axis=1), 1.0, atol=1e-5)
    assert actions[0][0] > 0.99  # straight at a goal in the same cell
    assert action_mse(actions, actions) == 0.0 and action_mse(-actions, actions) == pytest.approx(4.0, abs=1e-4)
    with pytest.raises(TypeError, match="point-mass"):
        MazeOracle(make_goal_env("ttt_gym/MysteryPath-v0"))


def test_recorder_keeps_every_step_it_acted_on():
    recorder = RecordingPolicy(Still())
    evaluate_goal_policy(recorder, "pointmaze-medium-navigate-v0", tasks=(1,), episodes_per_task=2, max_episode_steps=5)
    states, goals, actions = recorder.visited()
    assert states.shape == goals.shape == (10, 2) and actions.shape == (10, 2) and not actions.any()
