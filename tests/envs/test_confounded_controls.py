"""Confounded Controls: the hidden rotation / flip / curl, goal reaching, and how well each kind of policy does."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from ttt_envs.confounded_controls import ConfoundedControlsEnv
from ttt_envs.experts.confounded_controls import GoalDirectionPolicy, best_command
from ttt_gym.evaluation import evaluate_success
from ttt_gym.experts import make_demonstrator, make_expert

torch.set_num_threads(1)

ENV_ID = "ttt_gym/ConfoundedControls-v0"
E, NE, N, NW, W, SW, S, SE = range(8)
STEP = 0.05
DIAGONAL = STEP / math.sqrt(2.0)


def make_env(rotation_deg: float = 0.0, flip: bool = False, curl_sign: int = 1, **kwargs: Any) -> ConfoundedControlsEnv:
    env = ConfoundedControlsEnv(**kwargs)
    options = dict(rotation_deg=rotation_deg, flip=flip, curl_sign=curl_sign, start=(0.0, 0.0), goal=(0.8, -0.8))
    env.reset(seed=0, options=options)
    return env


def move(env: ConfoundedControlsEnv, action: int) -> np.ndarray:
    before = env._observation()[:2].astype(np.float64)
    obs, *_ = env.step(action)
    return obs[:2].astype(np.float64) - before


@pytest.mark.parametrize(
    ("rotation_deg", "flip", "action", "expected"),
    [
        (0.0, False, E, (STEP, 0.0)),
        (0.0, False, NE, (DIAGONAL, DIAGONAL)),
        (90.0, False, E, (0.0, STEP)),  # the frame turned a quarter counter-clockwise: E pushes north
        (90.0, False, N, (-STEP, 0.0)),
        (0.0, True, E, (-STEP, 0.0)),  # mirrored: E and W swap, N stays north
        (0.0, True, N, (0.0, STEP)),
        (0.0, True, NE, (-DIAGONAL, DIAGONAL)),
        (90.0, True, E, (0.0, -STEP)),  # mirror first (E -> west), then turn west a quarter -> south
        (180.0, False, SE, (-DIAGONAL, DIAGONAL)),
    ],
)
def test_rotation_and_flip_change_the_first_press(
    rotation_deg: float, flip: bool, action: int, expected: tuple
) -> None:
    env = make_env(rotation_deg=rotation_deg, flip=flip)
    np.testing.assert_allclose(move(env, action), expected, atol=1e-6)


@pytest.mark.parametrize("curl_sign", [1, -1])
def test_curl_accumulates_on_repeats_and_resets_on_a_change(curl_sign: int) -> None:
    env = make_env(curl_sign=curl_sign, curl_deg=20.0)
    c20, s20, c40, s40 = (
        math.cos(math.radians(20)),
        math.sin(math.radians(20)),
        math.cos(math.radians(40)),
        math.sin(math.radians(40)),
    )
    np.testing.assert_allclose(move(env, E), (STEP, 0.0), atol=1e-6)
    np.testing.assert_allclose(move(env, E), (STEP * c20, curl_sign * STEP * s20), atol=1e-6)
    np.testing.assert_allclose(move(env, E), (STEP * c40, curl_sign * STEP * s40), atol=1e-6)
    state = env._privileged_state()
    assert state[10] == E and state[11] == 2
    assert state[9] == pytest.approx(curl_sign * math.radians(40), abs=1e-6)
    np.testing.assert_allclose(move(env, N), (0.0, STEP), atol=1e-6)  # a new command is not curled
    assert env._privileged_state()[11] == 0 and env._privileged_state()[9] == 0.0
    np.testing.assert_allclose(move(env, N), (-curl_sign * STEP * s20, STEP * c20), atol=1e-6)
    np.testing.assert_allclose(move(env, E), (STEP, 0.0), atol=1e-6)  # back to E: the count restarted


def test_curl_zero_and_flip_combined_with_curl() -> None:
    env = make_env(flip=True, curl_sign=1, curl_deg=0.0)
    for _ in range(5):
        np.testing.assert_allclose(move(env, W), (STEP, 0.0), atol=1e-6)
    env = make_env(rotation_deg=90.0, flip=True, curl_sign=-1, curl_deg=90.0)
    np.testing.assert_allclose(move(env, E), (0.0, -STEP), atol=1e-6)
    np.testing.assert_allclose(move(env, E), (-STEP, 0.0), atol=1e-6)  # curl -90 turns south to west


def test_moves_are_clamped_at_the_walls() -> None:
    env = ConfoundedControlsEnv()
    env.reset(seed=0, options=dict(rotation_deg=0.0, flip=False, start=(0.98, -0.99), goal=(0.0, 0.0)))
    obs, *_ = env.step(SE)
    np.testing.assert_allclose(obs[:2], (1.0, -1.0))


def test_reaching_the_goal_terminates_with_success_and_reward() -> None:
    env = ConfoundedControlsEnv(curl_deg=0.0)
    obs, info = env.reset(seed=0, options=dict(rotation_deg=0.0, flip=False, start=(0.0, 0.0), goal=(0.18, 0.0)))
    np.testing.assert_allclose(obs, (0.0, 0.0, 0.18, 0.0), atol=1e-7)
    _, reward, terminated, truncated, info = env.step(E)  # 0.13 away: not yet
    assert (reward, terminated, truncated, info["success"]) == (0.0, False, False, False)
    _, reward, terminated, truncated, info = env.step(E)  # 0.08 <= goal_radius 0.1
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)


def test_episode_truncates_after_300_steps() -> None:
    assert ConfoundedControlsEnv().max_steps == ConfoundedControlsEnv.default_max_steps == 300
    env = ConfoundedControlsEnv()
    env.reset(seed=0, options=dict(start=(0.9, 0.9), goal=(-0.9, -0.9), rotation_deg=0.0, flip=False))
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, info = env.step(E if steps % 2 else NE)  # pinned in the north-east corner
        assert not terminated
        steps += 1
    assert steps == 300 and info["success"] is False


def test_episodes_draw_every_confound_and_keep_start_and_goal_apart() -> None:
    env = ConfoundedControlsEnv()
    rotations, flips, signs = [], set(), set()
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        state = info["state"]
        assert math.dist(obs[:2], obs[2:]) >= 0.8 - 1e-6
        assert np.all(np.abs(obs) <= 0.9)
        np.testing.assert_array_equal(state[:4], obs)
        assert state[4] ** 2 + state[5] ** 2 == pytest.approx(1.0, abs=1e-5)
        rotations.append(math.atan2(state[5], state[4]))
        flips.add(float(state[6]))
        signs.add(float(state[7]))
        assert state[8] == pytest.approx(math.radians(20.0)) and state[10] == -1 and state[11] == 0
    assert flips == {0.0, 1.0} and signs == {-1.0, 1.0}
    # uniform rotation: every quadrant is hit
    assert {int((r + math.pi) // (math.pi / 2)) for r in rotations} == {0, 1, 2, 3}


def test_expert_turns_the_goal_direction_through_the_hidden_frame() -> None:
    here, north = np.zeros(2), np.array([0.0, 0.5])
    assert (
        best_command(here, north, rotation=0.0, flip=False, curl_per_press=0.0, previous_action=-1, repeat_count=0) == N
    )
    # frame turned 90 degrees counter-clockwise: E pushes north
    assert best_command(here, north, math.pi / 2, False, 0.0, -1, 0) == E
    # mirrored and turned 90: W pushes north
    assert best_command(here, north, math.pi / 2, True, 0.0, -1, 0) == W
    # goal at 80 degrees, N just pressed twice with +30 degrees of curl per repeat: a third N would head to 150
    # degrees, so the expert switches to the uncurled NE (45 degrees)
    goal = 0.5 * np.array([math.cos(math.radians(80)), math.sin(math.radians(80))])
    assert best_command(here, goal, 0.0, False, 0.0, previous_action=N, repeat_count=1) == N
    assert best_command(here, goal, 0.0, False, math.pi / 6, previous_action=N, repeat_count=1) == NE


def test_expert_succeeds_on_50_seeded_episodes() -> None:
    result = evaluate_success(make_expert(ENV_ID), ENV_ID, n_episodes=50, seed=0)
    assert result.success_rate >= 0.98
    assert result.lengths.mean() < 60


def test_memoryless_and_random_policies_rarely_succeed() -> None:
    naive = evaluate_success(GoalDirectionPolicy(), ENV_ID, n_episodes=50, seed=0)
    random = evaluate_success("random", ENV_ID, n_episodes=50, seed=0)
    assert naive.success_rate <= 0.2
    assert random.success_rate <= 0.1


def test_memoryless_policy_succeeds_when_the_controls_are_honest() -> None:
    # The same baseline with no rotation, flip or curl: the failures above come from the confound alone.
    env = ConfoundedControlsEnv(curl_deg=0.0)
    policy = GoalDirectionPolicy()
    for seed in range(10):
        obs, _ = env.reset(seed=seed, options=dict(rotation_deg=0.0, flip=False))
        terminated = truncated = False
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(policy.predict(obs)[0])
        assert info["success"]


def test_demonstrator_probes_then_clearly_beats_random() -> None:
    demonstrator = make_demonstrator(ENV_ID, rng=0)
    env = ConfoundedControlsEnv()
    obs, _ = env.reset(seed=0)
    memory = demonstrator.initial_memory()
    first, memory = demonstrator.act(obs, memory)
    obs, *_ = env.step(first)
    second, memory = demonstrator.act(obs, memory)
    assert (first, second) == (E, N)
    obs, *_ = env.step(second)
    _, memory = demonstrator.act(obs, memory)  # learns from the N move
    assert memory.frame_known
    rotation, flip = memory.frame()
    assert math.cos(rotation - env._rotation) == pytest.approx(1.0, abs=1e-5)
    assert flip == env._flip

    result = evaluate_success(make_demonstrator(ENV_ID, rng=0), ENV_ID, n_episodes=50, seed=0)
    random = evaluate_success("random", ENV_ID, n_episodes=50, seed=0)
    assert result.success_rate >= 0.9
    assert result.success_rate > random.success_rate + 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(step_length=0.0), "step_length"),
        (dict(step_length=0.5), "step_length"),
        (dict(goal_radius=0.01), "goal_radius"),
        (dict(goal_radius=0.6), "goal_radius"),
        (dict(curl_deg=-5.0), "curl_deg"),
        (dict(curl_deg=270.0), "curl_deg"),
        (dict(flip_prob=1.5), "flip_prob"),
        (dict(min_goal_distance=0.05), "min_goal_distance"),
        (dict(min_goal_distance=2.0), "min_goal_distance"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(ENV_ID, **kwargs)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(rotation=1.0), "unknown options"),
        (dict(curl_sign=0), "curl_sign"),
        (dict(start=(2.0, 0.0)), "start"),
        (dict(start=(0.0, 0.0), goal=(0.05, 0.0)), "goal_radius"),
    ],
)
def test_bad_reset_options_raise(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ConfoundedControlsEnv().reset(seed=0, options=options)
