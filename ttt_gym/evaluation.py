"""Evaluation of policies on the memory envs: success rate, return and episode length over seeded episodes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from ttt_envs.wrappers import PrivilegedObservation
from ttt_gym.privileged import EnvSource, make_env


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
    env_id: EnvSource,
    n_episodes: int = 100,
    *,
    seed: int = 0,
    privileged: bool | None = None,
    deterministic: bool | None = None,
    env_kwargs: dict[str, Any] | None = None,
    n_envs: int = 1,
) -> EvaluationResult:
    """Run ``n_episodes`` seeded episodes (seeds ``seed, seed+1, ...``) and record success, return and length.

    Success is ``info["success"]`` at the last step of the episode. Recurrent policies work: ``state`` is
    threaded through ``predict`` and ``episode_start`` is true on each episode's first step.

    Args:
        policy: anything with SB3's ``predict``, or ``"random"`` for a seeded uniform policy.
        env_id: a registered id, e.g. ``"ttt_gym/MysteryPath-v0"``, or an env factory.
        n_episodes: number of episodes.
        seed: seed of the first episode.
        privileged: wrap the env in :class:`PrivilegedObservation`. By default, true exactly when the
            policy's ``observation_space`` is that dict (the experts).
        deterministic: passed to ``predict``. None: the policy's ``validated_deterministic`` (how validation found a
            trained sequence actor acts best, mode or samples) when it has one, else True (the mode).
        env_kwargs: keyword arguments for ``gym.make`` (or the factory).
        n_envs: episodes run in lockstep, one batched ``predict`` per step for all of them (each env index keeps
            its own memory in ``state``). The episodes and their seeds are the same as with ``n_envs=1``, and so are
            the outcomes for a deterministic policy (a sampling policy or a demonstrator shares one generator
            across the rows, so its draws differ). The batching makes a sequence actor's evaluation many times
            faster. ``"random"`` and policies that cannot take a batch need ``n_envs=1``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be at least 1, got {n_episodes}.")
    if n_envs < 1:
        raise ValueError(f"n_envs must be at least 1, got {n_envs}.")
    if deterministic is None:
        validated = getattr(policy, "validated_deterministic", None)
        deterministic = True if validated is None else bool(validated)
    if n_envs > 1:
        if isinstance(policy, str):
            raise ValueError('The "random" policy is evaluated one episode at a time: pass n_envs=1.')
        return _evaluate_batched(policy, env_id, n_episodes, seed, privileged, deterministic, env_kwargs, n_envs)
    env = make_env(env_id, env_kwargs)
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


def _stack(observations: list[Any]) -> Any:
    """One batch from per-env observations (arrays, or dicts of arrays such as the privileged view)."""
    if isinstance(observations[0], dict):
        return {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
    return np.stack(observations)


def _evaluate_batched(
    policy: SupportsPredict,
    env_id: EnvSource,
    n_episodes: int,
    seed: int,
    privileged: bool | None,
    deterministic: bool,
    env_kwargs: dict[str, Any] | None,
    n_envs: int,
) -> EvaluationResult:
    """:func:`evaluate_success` with ``n_envs`` episodes in lockstep (episode ``i`` still resets with ``seed + i``).

    Plain ``gym.make`` envs, not a gymnasium VecEnv: a VecEnv autoresets, and its reset/autoreset rules changed
    between gymnasium 0.29 and 1.x; here an env that finished simply stops being stepped, and its (stale) row of
    the batch is ignored until the whole batch is done.
    """
    if privileged is None:
        space = getattr(policy, "observation_space", None)
        privileged = isinstance(space, gym.spaces.Dict) and set(space.spaces) == {"obs", "state"}
    envs = []
    for _ in range(min(n_envs, n_episodes)):
        env = make_env(env_id, env_kwargs)
        envs.append(PrivilegedObservation(env) if privileged else env)
    successes = np.zeros(n_episodes, dtype=bool)
    returns = np.zeros(n_episodes, dtype=np.float64)
    lengths = np.zeros(n_episodes, dtype=np.int64)
    start = time.perf_counter()
    for first in range(0, n_episodes, len(envs)):
        batch = range(first, min(first + len(envs), n_episodes))
        observations, active = [], np.ones(len(batch), dtype=bool)
        for env, episode in zip(envs, batch, strict=False):  # the last batch may be smaller
            obs, info = env.reset(seed=seed + episode)
            observations.append(obs)
            successes[episode] = bool(info.get("success", False))
        state, episode_start = None, np.ones(len(batch), dtype=bool)
        while active.any():
            actions, state = policy.predict(
                _stack(observations), state=state, episode_start=episode_start, deterministic=deterministic
            )
            episode_start = np.zeros(len(batch), dtype=bool)
            for row in np.flatnonzero(active):
                episode = batch[row]
                obs, reward, terminated, truncated, info = envs[row].step(actions[row])
                observations[row] = obs
                returns[episode] += float(reward)
                lengths[episode] += 1
                successes[episode] = bool(info.get("success", False))
                active[row] = not (terminated or truncated)
    for env in envs:
        env.close()
    elapsed = time.perf_counter() - start
    return EvaluationResult(
        successes=successes,
        returns=returns,
        lengths=lengths,
        steps_per_second=int(lengths.sum()) / max(elapsed, 1e-9),
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
