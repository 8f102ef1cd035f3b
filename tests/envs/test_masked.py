"""Masked CartPole / Acrobot: masking, horizon and success rules, the numpy-2 shim, experts and demonstrators."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control import acrobot as gym_acrobot

from ttt_envs.experts.masked import (
    ExpertWeightsError,
    default_weights_path,
    make_demonstrator,
    make_expert,
)
from ttt_envs.masked import ACROBOT_NUMPY_SHIM_APPLIED, MaskedAcrobotEnv, MaskedCartPoleEnv
from ttt_gym.evaluation import evaluate_success
from ttt_gym.wrappers import PrivilegedObservation

CARTPOLE = "ttt_gym/MaskedCartPole-v1"
ACROBOT = "ttt_gym/MaskedAcrobot-v1"


@pytest.fixture(autouse=True)
def single_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("env_id", "visible", "obs_dim", "state_dim"),
    [(CARTPOLE, [0, 2], 2, 4), (ACROBOT, [0, 1, 2, 3], 4, 6)],
)
def test_observation_is_the_position_part_of_the_state(
    env_id: str, visible: list[int], obs_dim: int, state_dim: int
) -> None:
    env = gym.make(env_id)
    assert env.observation_space.shape == (obs_dim,) and env.observation_space.dtype == np.float32
    assert env.unwrapped.state_space.shape == (state_dim,)
    np.testing.assert_array_equal(env.observation_space.low, env.unwrapped.state_space.low[visible])
    np.testing.assert_array_equal(env.observation_space.high, env.unwrapped.state_space.high[visible])
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(60):
        assert obs.shape == (obs_dim,) and info["state"].shape == (state_dim,)
        np.testing.assert_array_equal(obs, info["state"][visible])
        obs, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            break


@pytest.mark.parametrize(("env_id", "full_id"), [(CARTPOLE, "CartPole-v1"), (ACROBOT, "Acrobot-v1")])
def test_dynamics_and_seeding_are_gymnasiums(env_id: str, full_id: str) -> None:
    masked, full = gym.make(env_id), gym.make(full_id)
    _, info = masked.reset(seed=5)
    full_obs, _ = full.reset(seed=5)
    np.testing.assert_array_equal(info["state"], full_obs)
    for t in range(40):
        _, reward, terminated, _, info = masked.step(t % 2)
        full_obs, full_reward, full_terminated, _, _ = full.step(t % 2)
        np.testing.assert_array_equal(info["state"], full_obs)
        assert (reward, terminated) == (full_reward, full_terminated)
        if terminated:
            break


def test_cartpole_succeeds_only_by_surviving_the_horizon() -> None:
    env = gym.make(CARTPOLE)
    assert env.unwrapped.max_steps == 500
    expert = make_expert(CARTPOLE)
    env_priv = PrivilegedObservation(gym.make(CARTPOLE))
    obs, info = env_priv.reset(seed=0)
    assert info["success"] is False
    for t in range(1, 501):
        action, _ = expert.predict(obs, deterministic=True)
        obs, _, terminated, truncated, info = env_priv.step(action)
        assert not terminated
        assert truncated == (t == 500) and info["success"] == (t == 500)

    # Pushing right all the time topples the pole after a few steps: terminated, never a success ...
    env = gym.make(CARTPOLE)
    env.reset(seed=0)
    terminated, n_steps = False, 0
    while not terminated:
        _, _, terminated, truncated, info = env.step(1)
        n_steps += 1
        assert info["success"] is False and not truncated
    assert 5 < n_steps < 30
    # ... but surviving a shorter horizon than that counts.
    env = gym.make(CARTPOLE, max_steps=5)
    env.reset(seed=0)
    for t in range(1, 6):
        _, _, terminated, truncated, info = env.step(1)
        assert not terminated and truncated == info["success"] == (t == 5)


def test_acrobot_success_is_termination() -> None:
    env = gym.make(ACROBOT)
    assert env.unwrapped.max_steps == 500
    demonstrator = make_demonstrator(ACROBOT, rng=0)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        assert info["success"] is False
        memory = demonstrator.initial_memory()
        terminated = truncated = False
        while not (terminated or truncated):
            action, memory = demonstrator.act(obs, memory)
            obs, reward, terminated, truncated, info = env.step(action)
            assert info["success"] == terminated
            assert reward == (0.0 if terminated else -1.0)
        assert terminated  # the demonstrator swings up well within 500 steps
    # Hanging still never reaches the goal: truncated at the horizon, not a success.
    env = gym.make(ACROBOT, max_steps=20)
    env.reset(seed=0)
    for t in range(1, 21):
        _, _, terminated, truncated, info = env.step(1)
        assert not terminated and info["success"] is False and truncated == (t == 20)


def test_numpy2_shim_lets_acrobot_step_without_touching_global_numpy() -> None:
    numpy2 = not hasattr(np, "float_")
    gymnasium0 = int(gym.__version__.split(".")[0]) < 1
    assert ACROBOT_NUMPY_SHIM_APPLIED == (numpy2 and gymnasium0)
    if ACROBOT_NUMPY_SHIM_APPLIED:
        assert gym_acrobot.np is not np and gym_acrobot.np.float_ is np.float64
        assert gym_acrobot.np.zeros is np.zeros  # everything else is numpy itself
    assert hasattr(np, "float_") != numpy2  # the global module is left as it was
    # rk4 is where gymnasium 0.29 used np.float_; both the masked env and gymnasium's own env step.
    for env in (MaskedAcrobotEnv(), gym.make("Acrobot-v1")):
        env.reset(seed=0)
        for _ in range(3):
            env.step(2)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "500"])
def test_bad_max_steps_names_the_argument(bad: object) -> None:
    for cls in (MaskedCartPoleEnv, MaskedAcrobotEnv):
        with pytest.raises(ValueError, match="max_steps must be a positive integer"):
            cls(max_steps=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("env_cls", [MaskedCartPoleEnv, MaskedAcrobotEnv])
def test_render_is_headless_and_survives_pickling(env_cls: type) -> None:
    import pickle

    env = env_cls(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.std() > 0
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(clone.render(), frame)
    env.close()


@pytest.mark.parametrize(("env_id", "threshold"), [(CARTPOLE, 475.0), (ACROBOT, -85.0)])
def test_expert_meets_its_return_threshold(env_id: str, threshold: float) -> None:
    result = evaluate_success(make_expert(env_id), env_id, n_episodes=20, seed=0)
    assert result.mean_return >= threshold, str(result)


@pytest.mark.parametrize(("env_id", "margin"), [(CARTPOLE, 200.0), (ACROBOT, 200.0)])
def test_demonstrator_beats_random_on_the_masked_observation(env_id: str, margin: float) -> None:
    demonstrator = evaluate_success(make_demonstrator(env_id, rng=0), env_id, n_episodes=20, seed=0)
    random = evaluate_success("random", env_id, n_episodes=20, seed=0)
    assert demonstrator.mean_return >= random.mean_return + margin, (str(demonstrator), str(random))


def test_demonstrator_is_reproducible_under_its_seed() -> None:
    first = evaluate_success(make_demonstrator(CARTPOLE, rng=3), CARTPOLE, n_episodes=3, seed=0)
    second = evaluate_success(make_demonstrator(CARTPOLE, rng=3), CARTPOLE, n_episodes=3, seed=0)
    np.testing.assert_array_equal(first.returns, second.returns)


@pytest.mark.parametrize("env_id", [CARTPOLE, ACROBOT])
def test_missing_or_corrupt_weights_name_the_retrain_command(env_id: str, tmp_path) -> None:
    assert default_weights_path(env_id).is_file()
    with pytest.raises(ExpertWeightsError, match="make experts"):
        make_expert(env_id, weights_path=tmp_path / "missing.zip")
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"not a zip file")
    with pytest.raises(ExpertWeightsError, match="make experts"):
        make_expert(env_id, weights_path=corrupt)


def test_folded_normalization_gives_the_raw_observation_the_normalized_outputs() -> None:
    """The expert trainer's VecNormalize fold: same logits and values on raw states as before on normalised ones."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from ttt_envs.experts.train_ppo import POLICY_KWARGS, fold_observation_normalization

    venv = VecNormalize(make_vec_env("Acrobot-v1", n_envs=2, seed=0, vec_env_cls=DummyVecEnv))
    model = PPO("MlpPolicy", venv, policy_kwargs=POLICY_KWARGS, n_steps=8, batch_size=16, seed=0, device="cpu")
    rng = np.random.default_rng(0)
    venv.obs_rms.mean = rng.normal(size=6)
    venv.obs_rms.var = rng.uniform(0.5, 9.0, size=6)
    raw = (venv.obs_rms.mean + rng.normal(size=(32, 6)) * 2.0).astype(np.float32)
    normalized = torch.as_tensor(venv.normalize_obs(raw), dtype=torch.float32)
    assert normalized.abs().max() < venv.clip_obs  # where the clip is inactive the fold is exact
    with torch.no_grad():
        logits_before = model.policy.get_distribution(normalized).distribution.logits
        values_before = model.policy.predict_values(normalized)
        fold_observation_normalization(model, venv)
        logits_after = model.policy.get_distribution(torch.as_tensor(raw)).distribution.logits
        values_after = model.policy.predict_values(torch.as_tensor(raw))
    torch.testing.assert_close(logits_after, logits_before, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(values_after, values_before, rtol=1e-5, atol=1e-5)
