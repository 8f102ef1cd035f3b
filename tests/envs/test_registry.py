"""Registry-driven checks that every ``ttt_gym/`` id must pass: checkers, seeding, pickling, rendering, errors."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

from ttt_envs import ENV_IDS, PIXEL_ENV_IDS
from ttt_envs._base import EpisodeOrderError
from ttt_gym.wrappers import PrivilegedObservation

#: Every registered id: the state envs and their pixel variants go through the same checks.
ALL_IDS = ENV_IDS + PIXEL_ENV_IDS


def registered_ids() -> list[str]:
    return [env_id for env_id in gym.envs.registry if env_id.startswith("ttt_gym/")]


def rollout(env: gym.Env, seed: int, n_steps: int, action_seed: int = 0) -> list:
    """Observations, rewards, flags and privileged states of a seeded random rollout (resets when done)."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    trace = [(obs, info["state"], info["success"])]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        trace.append((obs, reward, terminated, truncated, info["state"], info["success"]))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append((obs, info["state"]))
    return trace


def assert_traces_equal(a: list, b: list) -> None:
    assert len(a) == len(b)
    for step_a, step_b in zip(a, b, strict=True):
        for x, y in zip(step_a, step_b, strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_every_id_is_registered_once() -> None:
    assert sorted(registered_ids()) == sorted(ALL_IDS)
    assert len(ENV_IDS) == 11 and len(PIXEL_ENV_IDS) == 3


def test_make_without_import_uses_the_plugin_entry_point() -> None:
    # A fresh interpreter that imports only gymnasium must find the ids (gymnasium 0.29 loads plugins on import).
    import subprocess
    import sys

    code = "import gymnasium as gym; env = gym.make('ttt_gym/MysteryPath-v0'); env.reset(seed=0); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_unknown_id_gets_a_clear_error() -> None:
    with pytest.raises(gym.error.Error, match="MysteryPth"):
        gym.make("ttt_gym/MysteryPth-v0")


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_and_sb3_env_checkers(env_id: str) -> None:
    env = gym.make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_deterministic_under_a_seed(env_id: str) -> None:
    first = rollout(gym.make(env_id), seed=123, n_steps=300)
    second = rollout(gym.make(env_id), seed=123, n_steps=300)
    assert_traces_equal(first, second)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_different_seeds_give_different_episodes(env_id: str) -> None:
    states = {tuple(np.round(gym.make(env_id).reset(seed=s)[1]["state"], 6)) for s in range(8)}
    assert len(states) > 1


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_pickled_mid_episode_env_continues_identically(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=7)
    for _ in range(5):
        env.step(0)
    clone = pickle.loads(pickle.dumps(env))
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    for _ in range(20):
        out_a = env.step(int(rng_a.integers(env.action_space.n)))
        out_b = clone.step(int(rng_b.integers(clone.action_space.n)))
        np.testing.assert_array_equal(out_a[0], out_b[0])
        assert out_a[1:4] == out_b[1:4]
        np.testing.assert_array_equal(out_a[4]["state"], out_b[4]["state"])
        if out_a[2] or out_a[3]:
            break


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_privileged_view(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert min(frame.shape[:2]) >= 64
    assert frame.std() > 0  # something is drawn
    env.step(1)
    assert env.render().shape == frame.shape


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_privileged_info_at_reset_and_every_step(env_id: str) -> None:
    env = gym.make(env_id)
    state_space = env.unwrapped.state_space
    obs, info = env.reset(seed=3)
    assert state_space.contains(np.asarray(info["state"], dtype=state_space.dtype))
    assert info["success"] is False
    for t in range(50):
        obs, _, terminated, truncated, info = env.step(t % env.action_space.n)
        assert env.observation_space.contains(obs)
        assert state_space.contains(np.asarray(info["state"], dtype=state_space.dtype))
        assert isinstance(info["success"], bool)
        if terminated or truncated:
            break


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_privileged_observation_wrapper(env_id: str) -> None:
    env = PrivilegedObservation(gym.make(env_id))
    assert set(env.observation_space.spaces) == {"obs", "state"}
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs["state"], np.asarray(info["state"], dtype=np.float32))
    obs, *_, info = env.step(0)
    np.testing.assert_array_equal(obs["state"], np.asarray(info["state"], dtype=np.float32))


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_works_in_sb3_vectorised_envs(env_id: str) -> None:
    venv = make_vec_env(env_id, n_envs=3, seed=0)
    obs = venv.reset()
    assert obs.shape == (3, *venv.observation_space.shape)
    for _ in range(200):
        obs, rewards, _dones, infos = venv.step(np.array([venv.action_space.sample() for _ in range(3)]))
        assert obs.shape[0] == 3 and rewards.shape == (3,)
        assert all("state" in i and "success" in i for i in infos)
    venv.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_step_before_reset_and_after_end_raise(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    with pytest.raises(EpisodeOrderError, match="reset"):
        env.step(0)
    env = gym.make(env_id, max_steps=3).unwrapped
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
    with pytest.raises(EpisodeOrderError, match="reset"):
        env.step(0)


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize(
    ("action", "error"),
    [(1.0, TypeError), (0.5, TypeError), (True, TypeError), (-1, ValueError), (99, ValueError), ([0, 1], ValueError)],
)
def test_invalid_actions_are_rejected_not_clipped(env_id: str, action: object, error: type) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(error, match="action"):
        env.step(action)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_valid_action_forms_are_accepted(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    for action in (0, np.int64(1), np.array(0), np.array([1])):
        env.step(action)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_bad_max_steps_is_rejected(env_id: str) -> None:
    with pytest.raises(ValueError, match="max_steps"):
        gym.make(env_id, max_steps=0)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_unknown_render_mode_is_rejected(env_id: str) -> None:
    with pytest.raises(ValueError, match="render_mode"):
        gym.make(env_id, render_mode="human-ish")
