"""Evaluation of policies on the memory envs: success rate, return and episode length over seeded episodes.

Also the seeding protocol both evaluation functions (this one and :func:`ttt_gym.goal_evaluation.evaluate_goal_policy`)
share: a policy with a ``reseed(seed)`` method is told each episode's seed before the episode starts, and keys the
random streams it draws from by that seed (:func:`derived_seed`), so that an episode's randomness is a function of its
seed and not of the episodes before it. That is what lets ``workers=N`` (the episodes spread over Ray tasks) give the
same results as ``workers=1``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
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


def derived_seed(key: Sequence[int]) -> int:
    """One 32-bit seed from a tuple of non-negative integers (``np.random.SeedSequence``): how every random stream
    keyed by several numbers is seeded, e.g. ``(policy seed, episode seed)`` after ``reseed``."""
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1)[0])


def reseed_policy(policy: Any, seed: int) -> None:
    """``policy.reseed(seed)`` when the policy has that method (the seeding protocol of the module docstring)."""
    reseed = getattr(policy, "reseed", None)
    if callable(reseed):
        reseed(int(seed))


def check_workers(workers: int, torch_threads: int | None, feature: str) -> None:
    """The evaluation functions' ``workers`` / ``torch_threads`` checks, before any work: Ray is needed from 2 on.

    Raises:
        ValueError: ``workers < 1`` or ``torch_threads < 1``.
        ImportError: ``workers > 1`` without Ray installed (the message names the extra).
    """
    if workers < 1:
        raise ValueError(
            f"workers must be at least 1, got {workers}: 1 runs the episodes in this process, N > 1 in N Ray tasks."
        )
    if torch_threads is not None and torch_threads < 1:
        raise ValueError(f"torch_threads must be at least 1 or None, got {torch_threads}.")
    if workers > 1:
        from ttt_gym.parallel import require_ray

        require_ray(feature)


def episode_chunks(n_episodes: int, workers: int, batch: int = 1) -> list[range]:
    """Episodes ``0..n_episodes-1`` in at most ``workers`` contiguous chunks of near-equal size, each made of whole
    batches of ``batch`` episodes (lockstep batches stay together, so a chunk runs them exactly as one call would)."""
    n_batches = -(-n_episodes // batch)
    n_chunks = min(workers, n_batches)
    bounds = [n_batches * i // n_chunks for i in range(n_chunks + 1)]
    return [range(start * batch, min(stop * batch, n_episodes)) for start, stop in itertools.pairwise(bounds)]


class RandomPolicy:
    """Uniformly random actions from the env's action space, seeded; the floor every table compares to.

    ``reseed(s)`` restarts the draws from ``(seed, s)`` (the evaluation functions call it at every episode start).
    """

    def __init__(self, action_space: gym.Space, seed: int = 0) -> None:
        self.action_space = action_space
        self.seed = int(seed)
        self.action_space.seed(seed)

    def reseed(self, seed: int) -> None:
        """Draw the next actions from a stream keyed by ``(self.seed, seed)``."""
        self.action_space.seed(derived_seed((self.seed, seed)))

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
    workers: int = 1,
    address: str | None = None,
    torch_threads: int | None = None,
) -> EvaluationResult:
    """Run ``n_episodes`` seeded episodes (seeds ``seed, seed+1, ...``) and record success, return and length.

    Success is ``info["success"]`` at the last step of the episode. Recurrent policies work: ``state`` is
    threaded through ``predict`` and ``episode_start`` is true on each episode's first step.

    Policies with a ``reseed(seed)`` method are told each episode's seed (with ``n_envs > 1``, each lockstep batch's:
    the seed of its first episode), so an episode's randomness is a function of its seed: that is what makes
    ``workers=N`` equal ``workers=1``, episode by episode, at the same torch thread count. The sequence actors and
    ``"random"`` have the method; a sampling policy without it (the demonstrator, an SB3 model drawing from torch's
    global generator) draws on from where the episodes before left off, so its episodes depend on how they are split
    over workers.

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
        workers: 1 runs the episodes in this process; N > 1 splits them into N contiguous chunks of whole lockstep
            batches, each run as a Ray task (:func:`ttt_gym.parallel.map_tasks`) with its own copy of the policy
            (sent once) and its own env(s) built from ``env_id`` (a factory must be picklable). Needs Ray
            (``pip install 'ttt-gym[ray]'``); the policy object passed in is not stepped.
        address: the Ray cluster of ``workers > 1``; None: ``RAY_ADDRESS``, else a local Ray started on demand.
        torch_threads: torch's intra-op threads while the episodes run: each Ray task's (None: 1), and this
            process's with ``workers=1`` (None: left as they are).

    Returns:
        The per-episode arrays in episode order; ``steps_per_second`` is the env steps over the wall-clock time of
        the episodes (with ``workers > 1``, of the whole call: Ray start-up and copies included).

    Raises:
        ValueError: no episodes, ``n_envs``, ``workers`` or ``torch_threads`` below 1, or ``"random"`` with
            ``n_envs > 1``.
        ImportError: ``workers > 1`` without Ray.
    """
    feature = f"evaluate_success(workers={workers})"
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be at least 1, got {n_episodes}.")
    if n_envs < 1:
        raise ValueError(f"n_envs must be at least 1, got {n_envs}.")
    if n_envs > 1 and isinstance(policy, str):
        raise ValueError('The "random" policy is evaluated one episode at a time: pass n_envs=1.')
    check_workers(workers, torch_threads, feature)
    if deterministic is None:
        validated = getattr(policy, "validated_deterministic", None)
        deterministic = True if validated is None else bool(validated)
    if privileged is None:
        space = getattr(policy, "observation_space", None)
        privileged = isinstance(space, gym.spaces.Dict) and set(space.spaces) == {"obs", "state"}
    settings = (seed, privileged, deterministic, env_kwargs, n_envs)

    if workers == 1:
        from ttt_gym.ttt.copies import torch_threads as threads_set_to

        with threads_set_to(torch_threads):
            successes, returns, lengths, seconds = run_success_episodes(policy, env_id, range(n_episodes), *settings)
        return EvaluationResult(successes, returns, lengths, steps_per_second=int(lengths.sum()) / max(seconds, 1e-9))

    from ttt_gym.parallel import map_tasks

    start = time.perf_counter()
    successes = np.zeros(n_episodes, dtype=bool)
    returns = np.zeros(n_episodes, dtype=np.float64)
    lengths = np.zeros(n_episodes, dtype=np.int64)
    chunks = episode_chunks(n_episodes, workers, n_envs)
    done = map_tasks(
        run_success_episodes,
        [(env_id, chunk, *settings) for chunk in chunks],
        address=address,
        torch_threads=1 if torch_threads is None else torch_threads,
        max_concurrent=workers,
        shared=(policy,),
        feature=feature,
    )
    for index, (chunk_successes, chunk_returns, chunk_lengths, _) in done:
        rows = slice(chunks[index].start, chunks[index].stop)
        successes[rows], returns[rows], lengths[rows] = chunk_successes, chunk_returns, chunk_lengths
    elapsed = time.perf_counter() - start
    return EvaluationResult(successes, returns, lengths, steps_per_second=int(lengths.sum()) / max(elapsed, 1e-9))


def run_success_episodes(
    policy: SupportsPredict | str,
    env_id: EnvSource,
    episodes: range,
    seed: int,
    privileged: bool,
    deterministic: bool,
    env_kwargs: dict[str, Any] | None,
    n_envs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Episodes ``episodes`` of :func:`evaluate_success` (episode ``i`` resets with ``seed + i``), in this process.

    With ``n_envs > 1``, ``episodes`` must start at a multiple of ``n_envs`` so that its lockstep batches are the
    whole call's (:func:`episode_chunks` cuts them so). Also the Ray task of ``workers > 1``.

    Returns:
        ``(successes, returns, lengths, seconds)``: the arrays in the order of ``episodes``, and the wall-clock time
        of the episodes (the envs' construction left out).
    """
    if n_envs > 1:
        assert not isinstance(policy, str), 'evaluate_success runs "random" with n_envs=1 only'
        return _run_batched(policy, env_id, episodes, seed, privileged, deterministic, env_kwargs, n_envs)
    env = make_env(env_id, env_kwargs)
    if privileged:
        env = PrivilegedObservation(env)
    actor: SupportsPredict = RandomPolicy(env.action_space, seed) if policy == "random" else policy  # type: ignore[assignment]

    successes, returns, lengths = [], [], []
    start = time.perf_counter()
    for episode in episodes:
        reseed_policy(actor, seed + episode)
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
    elapsed = time.perf_counter() - start
    env.close()
    return (
        np.asarray(successes, dtype=bool),
        np.asarray(returns, dtype=np.float64),
        np.asarray(lengths, dtype=np.int64),
        elapsed,
    )


def _stack(observations: list[Any]) -> Any:
    """One batch from per-env observations (arrays, or dicts of arrays such as the privileged view)."""
    if isinstance(observations[0], dict):
        return {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
    return np.stack(observations)


def _run_batched(
    policy: SupportsPredict,
    env_id: EnvSource,
    episodes: range,
    seed: int,
    privileged: bool,
    deterministic: bool,
    env_kwargs: dict[str, Any] | None,
    n_envs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`run_success_episodes` with ``n_envs`` episodes in lockstep (episode ``i`` still resets with
    ``seed + i``); the policy is reseeded with each batch's first episode seed.

    Plain ``gym.make`` envs, not a gymnasium VecEnv: a VecEnv autoresets, and its reset/autoreset rules changed
    between gymnasium 0.29 and 1.x; here an env that finished simply stops being stepped, and its (stale) row of
    the batch is ignored until the whole batch is done.
    """
    envs = []
    for _ in range(min(n_envs, len(episodes))):
        env = make_env(env_id, env_kwargs)
        envs.append(PrivilegedObservation(env) if privileged else env)
    successes = np.zeros(len(episodes), dtype=bool)
    returns = np.zeros(len(episodes), dtype=np.float64)
    lengths = np.zeros(len(episodes), dtype=np.int64)
    start = time.perf_counter()
    for first in range(0, len(episodes), n_envs):
        batch = range(first, min(first + n_envs, len(episodes)))  # rows of the arrays; the last may be smaller
        reseed_policy(policy, seed + episodes[first])
        observations, active = [], np.ones(len(batch), dtype=bool)
        for env, row in zip(envs, batch, strict=False):
            obs, info = env.reset(seed=seed + episodes[row])
            observations.append(obs)
            successes[row] = bool(info.get("success", False))
        state, episode_start = None, np.ones(len(batch), dtype=bool)
        while active.any():
            actions, state = policy.predict(
                _stack(observations), state=state, episode_start=episode_start, deterministic=deterministic
            )
            episode_start = np.zeros(len(batch), dtype=bool)
            for index in np.flatnonzero(active):
                row = batch[index]
                obs, reward, terminated, truncated, info = envs[index].step(actions[index])
                observations[index] = obs
                returns[row] += float(reward)
                lengths[row] += 1
                successes[row] = bool(info.get("success", False))
                active[index] = not (terminated or truncated)
    elapsed = time.perf_counter() - start
    for env in envs:
        env.close()
    return successes, returns, lengths, elapsed


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
