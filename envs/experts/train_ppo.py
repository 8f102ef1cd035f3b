"""Train the privileged PPO experts of masked CartPole / Acrobot on the full state, evaluate them and save them.

The experts see what the masked envs hide: gymnasium's own ``CartPole-v1`` / ``Acrobot-v1`` observation is
exactly the masked env's ``info["state"]``, with the same dynamics and the same 500-step horizon, so the
policies are trained there with SB3 PPO (rl-zoo hyperparameters, 64x64 MLP) and evaluated on the masked env
through :class:`~ttt_envs.experts.base.StatePolicyExpert` on the privileged dict (its own few-line evaluation
loop: the env suite never imports ``ttt_gym``).

Usage (``make experts`` runs the first line; about 6 minutes on 2 CPU cores, most of it Acrobot's 1M steps)::

    python -m ttt_envs.experts.train_ppo --env all
    python -m ttt_envs.experts.train_ppo --env acrobot --timesteps 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import ttt_envs.masked  # noqa: F401  (applies the numpy-2 shim that gymnasium 0.29's Acrobot-v1 needs)
from ttt_envs import NAMESPACE, register_envs
from ttt_envs.experts.masked import WEIGHTS_DIR, expert_from_state_policy
from ttt_envs.wrappers import PrivilegedObservation


def linear_schedule(initial_value: float) -> Callable[[float], float]:
    """rl-zoo's ``lin_<value>``: decays linearly from ``initial_value`` to 0 over training."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * initial_value

    return schedule


@dataclass(frozen=True)
class ExpertConfig:
    """How one expert is trained and what it must reach."""

    name: str
    """Short name, used for the CLI choice and the file ``weights/<name>_ppo.zip``."""
    full_state_env_id: str
    """gymnasium env whose observation is the masked env's privileged state."""
    masked_env_id: str
    """The suite's masked env, where the expert is evaluated."""
    timesteps: int
    """Default number of training env steps."""
    expected_return: float
    """Mean deterministic return the shipped expert must reach over 100 seeded episodes."""
    ppo_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``PPO`` (rl-zoo hyperparameters)."""
    n_envs: int = 8
    normalize: bool = False
    """Train under SB3's ``VecNormalize`` (rl-zoo's ``normalize: true``), then fold its statistics into the policy's
    first layers (:func:`fold_observation_normalization`), so that the saved policy still reads raw states."""


POLICY_KWARGS: dict[str, Any] = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}}

CONFIGS: dict[str, ExpertConfig] = {
    "cartpole": ExpertConfig(
        name="cartpole",
        full_state_env_id="CartPole-v1",
        masked_env_id=f"{NAMESPACE}/MaskedCartPole-v1",
        timesteps=100_000,
        expected_return=475.0,
        # rl-zoo ppo.yml, CartPole-v1.
        ppo_kwargs={
            "n_steps": 32,
            "batch_size": 256,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "n_epochs": 20,
            "ent_coef": 0.0,
            "learning_rate": linear_schedule(0.001),
            "clip_range": linear_schedule(0.2),
        },
    ),
    "acrobot": ExpertConfig(
        name="acrobot",
        full_state_env_id="Acrobot-v1",
        masked_env_id=f"{NAMESPACE}/MaskedAcrobot-v1",
        timesteps=1_000_000,
        expected_return=-80.0,
        # rl-zoo ppo.yml, Acrobot-v1: 16 envs, 1e6 steps, observations normalised (folded into the saved policy).
        ppo_kwargs={"n_steps": 256, "gae_lambda": 0.94, "gamma": 0.99, "n_epochs": 4, "ent_coef": 0.0},
        n_envs=16,
        normalize=True,
    ),
}


def fold_observation_normalization(model: PPO, venv: VecNormalize) -> None:
    """Make ``model``'s policy read raw observations by folding ``venv``'s observation statistics into it.

    ``VecNormalize`` feeds the policy ``clip((obs - mean) / sqrt(var + eps), -clip_obs, clip_obs)``. Every first
    linear layer on the (flat) features, ``W x' + b``, becomes ``(W / s) x + (b - W mean / s)``: the same function of
    the raw observation wherever the clip is inactive (:func:`train_expert` prints how often it was active in the
    last rollout). SB3 has no public way to drop a ``VecNormalize``; this keeps the shipped zip a plain PPO that
    needs no statistics file.
    """
    policy = model.policy
    if not isinstance(policy.features_extractor, FlattenExtractor) or not policy.share_features_extractor:
        raise TypeError("Folding the normalisation needs the MlpPolicy's shared FlattenExtractor.")
    obs_rms = venv.obs_rms
    if not isinstance(obs_rms, RunningMeanStd):
        raise TypeError("Folding the normalisation needs a Box observation space (one RunningMeanStd, not a dict).")
    mean = torch.as_tensor(obs_rms.mean, dtype=torch.float32)
    scale = torch.sqrt(torch.as_tensor(obs_rms.var, dtype=torch.float32) + venv.epsilon)
    first_layers = [
        policy.mlp_extractor.policy_net[0],
        policy.mlp_extractor.value_net[0],
    ]
    with torch.no_grad():
        for layer in first_layers:
            assert isinstance(layer, torch.nn.Linear)
            layer.weight.div_(scale)
            layer.bias.sub_(layer.weight @ mean)


def train_expert(config: ExpertConfig, timesteps: int | None = None, seed: int = 0, verbose: int = 0) -> PPO:
    """Train PPO on the full-state gymnasium env of ``config`` and return the model (reading raw states)."""
    venv = make_vec_env(config.full_state_env_id, n_envs=config.n_envs, seed=seed, vec_env_cls=DummyVecEnv)
    if config.normalize:
        venv = VecNormalize(venv, gamma=config.ppo_kwargs.get("gamma", 0.99))  # rl-zoo: observations and rewards
    model = PPO(
        "MlpPolicy",
        venv,
        policy_kwargs=POLICY_KWARGS,
        seed=seed,
        device="cpu",
        verbose=verbose,
        **config.ppo_kwargs,
    )
    model.learn(total_timesteps=timesteps or config.timesteps)
    if isinstance(venv, VecNormalize):
        clipped = np.mean(np.abs(model.rollout_buffer.observations) >= venv.clip_obs)
        print(
            f"{config.name}: VecNormalize clipped {clipped:.1e} of the last rollout's observation entries", flush=True
        )
        fold_observation_normalization(model, venv)
    venv.close()
    return model


@dataclass(frozen=True)
class ExpertEvaluation:
    """Per-episode returns and successes of :func:`evaluate_expert`."""

    returns: np.ndarray
    successes: np.ndarray

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    def __str__(self) -> str:
        return (
            f"success {np.mean(self.successes):.3f}  return {self.mean_return:.2f} +- {np.std(self.returns):.2f}  "
            f"({len(self.returns)} episodes)"
        )


def evaluate_expert(config: ExpertConfig, model: PPO, n_episodes: int = 100, seed: int = 0) -> ExpertEvaluation:
    """Deterministic return of ``model`` on the masked env (acting on the privileged state) over seeded episodes.

    Episode ``i`` is reset with ``seed + i``; success is ``info["success"]`` at its last step.
    """
    register_envs()
    expert = expert_from_state_policy(config.masked_env_id, model.policy)
    env = PrivilegedObservation(gym.make(config.masked_env_id))
    returns, successes = [], []
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed + episode)
        episode_return, done = 0.0, False
        while not done:
            action, _ = expert.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            episode_return += float(reward)
            done = terminated or truncated
        returns.append(episode_return)
        successes.append(bool(info.get("success", False)))
    env.close()
    return ExpertEvaluation(np.array(returns), np.array(successes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", choices=[*CONFIGS, "all"], default="all", help="which expert to train")
    parser.add_argument("--timesteps", type=int, default=None, help="training env steps (default: per env)")
    parser.add_argument("--seed", type=int, default=0, help="seed of PPO and the training envs")
    parser.add_argument("--eval-episodes", type=int, default=100, help="seeded evaluation episodes (seeds 0..N-1)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (more only slow down 64x64 nets)")
    parser.add_argument("--output-dir", type=Path, default=WEIGHTS_DIR, help="where <name>_ppo.zip is written")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    names = list(CONFIGS) if args.env == "all" else [args.env]
    for name in names:
        config = CONFIGS[name]
        start = time.perf_counter()
        model = train_expert(config, args.timesteps, args.seed, args.verbose)
        train_s = time.perf_counter() - start
        result = evaluate_expert(config, model, args.eval_episodes)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        path = args.output_dir / f"{name}_ppo.zip"
        model.save(path)
        print(
            f"{name}: trained {args.timesteps or config.timesteps} steps (seed {args.seed}) in {train_s:.0f} s; "
            f"on {config.masked_env_id}: {result}; saved {path} ({path.stat().st_size / 1024:.0f} KiB)",
            flush=True,
        )
        if result.mean_return < config.expected_return:
            print(
                f"WARNING: {name} expert's mean return {result.mean_return:.1f} is below the expected "
                f"{config.expected_return}; try another --seed or more --timesteps.",
                flush=True,
            )


if __name__ == "__main__":
    main()
