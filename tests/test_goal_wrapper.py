"""GoalObservation: OGBench envs as SB3 / HER goal dictionaries."""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import ogbench  # noqa: F401  (registers the OGBench ids)
import pytest
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env

from ttt_gym.data import GoalSpace
from ttt_gym.wrappers import GoalObservation


@pytest.fixture
def maze() -> Iterator[GoalObservation]:
    env = GoalObservation(gym.make("pointmaze-medium-v0"))
    yield env
    env.close()


def test_maze_spaces_pass_sb3_checks(maze: GoalObservation) -> None:
    space = maze.observation_space
    assert isinstance(space, spaces.Dict)
    assert set(space.spaces) == {"observation", "achieved_goal", "desired_goal"}
    assert space["achieved_goal"].shape == space["desired_goal"].shape == (2,)
    check_env(maze, warn=True)  # SB3's checks, including compute_reward on single and batched goals
    obs, _ = maze.reset(seed=0)
    assert space.contains(obs)


def test_task_id_and_goal_pass_through(maze: GoalObservation) -> None:
    for task_id in (1, 3):
        obs, info = maze.reset(seed=task_id, options=dict(task_id=task_id))
        unwrapped = maze.unwrapped
        assert unwrapped.cur_task_id == task_id  # type: ignore[attr-defined]
        np.testing.assert_allclose(obs["desired_goal"], unwrapped.cur_goal_xy)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(obs["achieved_goal"], obs["observation"][:2])
        np.testing.assert_array_equal(info["goal"], maze.goal_observation)
    obs, _, _, _, info = maze.step(maze.action_space.sample())
    np.testing.assert_array_equal(info["goal"], maze.goal_observation)  # the full goal stays available
    assert maze.compute_reward(obs["achieved_goal"], obs["desired_goal"], info) == info["success"]


def test_compute_reward_matches_the_success_radius(maze: GoalObservation) -> None:
    goal = np.array([[4.0, 4.0]] * 3)
    achieved = goal + np.array([[0.0, 0.0], [0.0, 0.99], [0.8, 0.8]])
    np.testing.assert_array_equal(maze.compute_reward(achieved, goal, [{}] * 3), [1.0, 1.0, 0.0])


def test_multi_input_policy_trains_on_it(maze: GoalObservation) -> None:
    model = PPO("MultiInputPolicy", maze, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=16)
    obs, _ = maze.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert maze.action_space.contains(action.astype(np.float32))


def test_full_goal_observations() -> None:
    env = GoalObservation(gym.make("pointmaze-medium-v0"), full_goal=True)
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs["desired_goal"], info["goal"])
    np.testing.assert_array_equal(obs["achieved_goal"], obs["observation"])
    assert env.compute_reward(obs["desired_goal"], obs["desired_goal"], info) == 1.0
    env.close()


@pytest.mark.filterwarnings("ignore:.*DISPLAY")  # dm_control probes GLFW at import, harmless without a display
def test_cube_goal_space_is_the_cube_position() -> None:
    env = GoalObservation(gym.make("cube-single-v0"))
    assert env.goal_space == GoalSpace(indices=(19, 20, 21), group_size=3, tolerance=0.4)
    obs, _ = env.reset(seed=0, options=dict(task_id=1))
    data = env.unwrapped._data  # type: ignore[attr-defined]
    cube = (data.joint("object_joint_0").qpos[:3] - np.array([0.425, 0.0, 0.0])) * 10.0
    np.testing.assert_allclose(obs["achieved_goal"], cube, atol=1e-9)
    assert obs["observation"].shape == (28,)
    env.close()


def test_envs_without_a_goal_are_rejected() -> None:
    env = GoalObservation(gym.make("CartPole-v1"))
    assert env.goal_space is None and env.full_goal
    with pytest.raises(KeyError, match="no 'goal'"):
        env.reset(seed=0)
    with pytest.raises(NotImplementedError, match="goal_space"):
        env.compute_reward(np.zeros(4), np.zeros(4), {})
