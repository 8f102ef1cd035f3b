"""Evaluation of policies on the memory envs: success rate, return and episode length over seeded episodes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from ttt_envs.wrappers import PrivilegedObservation


class SupportsPredict(Protocol):
    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]: ...


class RandomPolicy:
    """Uniformly random actions from the env's action space, seeded; the floor every table compares to."""

    def __init__(self, action_space: gym.Space, seed: int = 0) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        return self.action_space.sample(), state


@dataclass(frozen=True)
class EvaluationResult:
    """Per-episode outcomes of :func:`evaluate_success` and their summaries."""

    successes: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    steps_per_second: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.successes))

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))

    def __str__(self) -> str:
        return (
            f"success {self.success_rate:.3f}  return {self.mean_return:.2f} +- {self.std_return:.2f}  "
            f"length {np.mean(self.lengths):.1f}  ({len(self.successes)} episodes)"
        )


def evaluate_success(
    policy: SupportsPredict | str,
    env_id: str,
    n_episodes: int = 100,
    *,
    seed: int = 0,
    privileged: bool | None = None,
    deterministic: bool = True,
    env_kwargs: dict[str, Any] | None = None,
) -> EvaluationResult:
    """Run ``n_episodes`` seeded episodes (seeds ``seed, seed+1, ...``) and record success, return and length.

    Success is ``info["success"]`` at the last step of the episode. Recurrent policies work: ``state`` is
    threaded through ``predict`` and ``episode_start`` is true on each episode's first step.

    Args:
        policy: anything with SB3's ``predict``, or ``"random"`` for a seeded uniform policy.
        env_id: a registered id, e.g. ``"ttt_gym/MysteryPath-v0"``.
        n_episodes: number of episodes.
        seed: seed of the first episode.
        privileged: wrap the env in :class:`PrivilegedObservation`. By default, true exactly when the
            policy's ``observation_space`` is that dict (the experts).
        deterministic: passed to ``predict``.
        env_kwargs: keyword arguments for ``gym.make``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be at least 1, got {n_episodes}.")
    env = gym.make(env_id, **(env_kwargs or {}))
    if privileged is None:
        space = getattr(policy, "observation_space", None)
        privileged = isinstance(space, gym.spaces.Dict) and set(space.spaces) == {"obs", "state"}
    if privileged:
        env = PrivilegedObservation(env)
    actor: SupportsPredict = RandomPolicy(env.action_space, seed) if policy == "random" else policy  # type: ignore[assignment]

    successes, returns, lengths = [], [], []
    total_steps, start = 0, time.perf_counter()
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed + episode)
        state, episode_start = None, np.ones((1,), dtype=bool)
        done, ep_return, ep_len, success = False, 0.0, 0, bool(info.get("success", False))
        while not done:
            action, state = actor.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
            obs, reward, terminated, truncated, info = env.step(action)
            episode_start = np.zeros((1,), dtype=bool)
            ep_return += float(reward)
            ep_len += 1
            success = bool(info.get("success", False))
            done = terminated or truncated
        successes.append(success)
        returns.append(ep_return)
        lengths.append(ep_len)
        total_steps += ep_len
    env.close()
    elapsed = time.perf_counter() - start
    return EvaluationResult(
        successes=np.asarray(successes, dtype=bool),
        returns=np.asarray(returns, dtype=np.float64),
        lengths=np.asarray(lengths, dtype=np.int64),
        steps_per_second=total_steps / max(elapsed, 1e-9),
    )


def reference_policies(env_id: str, seed: int = 0) -> dict[str, Any]:
    """The three policies every memory-env table compares: privileged expert, demonstrator and random.

    Pass the values to :func:`evaluate_success`; ``"random"`` is resolved there with the episode seed.
    """
    from ttt_envs.experts import make_demonstrator, make_expert

    return {
        "expert": make_expert(env_id),
        "demonstrator": make_demonstrator(env_id, rng=seed),
        "random": "random",
    }
