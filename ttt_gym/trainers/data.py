"""Expert-labelled rollouts of sequence actors, stored as ``imitation`` trajectories, and their padded batches.

``imitation``'s DAgger collector calls ``predict`` without ``state`` (every sequence actor would act memoryless) and
asserts array observations (it cannot take the :class:`~ttt_gym.wrappers.PrivilegedObservation` dict the experts
read). :func:`collect_rollouts` is the replacement: the learner acts on the partial observation with its memory
threaded through ``predict``, the expert labels every visited step from the privileged dict, and a beta-mixture of
the two actions is executed. The result is a list of :class:`imitation.data.types.TrajectoryWithRew` whose ``obs``
are the partial observations and ``acts`` the expert labels; the executed actions (what the actors' previous-action
input must see) are kept in ``infos[t]["executed_action"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from imitation.data.types import Trajectory, TrajectoryWithRew
from tqdm.auto import tqdm

from ttt_envs.wrappers import PrivilegedObservation

__all__ = [
    "SequenceBatch",
    "SequenceSegment",
    "collate_segments",
    "collect_demonstrations",
    "collect_rollouts",
    "executed_actions",
    "trajectories_to_segments",
]


class _Predictor(Protocol):
    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[Any, Any]: ...


def collect_rollouts(
    env_id: str,
    expert: _Predictor,
    learner: Any = None,
    *,
    beta: float = 1.0,
    min_episodes: int = 1,
    min_timesteps: int = 0,
    seed: int = 0,
    deterministic_learner: bool = False,
    env_kwargs: dict[str, Any] | None = None,
    progress_bar: bool = False,
) -> list[TrajectoryWithRew]:
    """Run whole episodes until both minimums are met; label every step with the expert's action.

    At each step the learner (a sequence actor, its memory threaded through ``predict``) proposes an action from
    the partial observation and the expert one from ``Dict(obs, state)``; with probability ``beta`` (one coin per
    step, as in ``imitation``'s DAgger) the expert's action is executed, else the learner's. The learner's memory
    is then told which action was executed (``record_actions``), so its previous-action input matches the env.

    Args:
        env_id: a registered id of the memory suite (its envs put the privileged state in ``info["state"]``).
        expert: an SB3 policy acting on the ``PrivilegedObservation`` dict (``ttt_gym.experts.make_expert``).
        learner: a :class:`~ttt_gym.policies.SequenceActor`; None only with ``beta=1`` (pure demonstrations).
        beta: probability of executing the expert's action at each step.
        min_episodes: collect at least this many episodes...
        min_timesteps: ...and at least this many steps (episodes are never cut).
        seed: seeds the episode seeds and the mixture coin.
        deterministic_learner: learner's mode instead of a sample (the sample is seeded by the actor's config).
        env_kwargs: keyword arguments for ``gym.make``.
        progress_bar: show a tqdm bar over steps.

    Returns:
        One ``TrajectoryWithRew`` per episode: ``obs`` partial observations (``T + 1``), ``acts`` expert labels,
        ``rews``, ``terminal`` (terminated, not truncated), and per-step ``infos`` with ``executed_action``,
        ``expert_executed`` and ``success``.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta is a probability, got {beta}.")
    if learner is None and beta < 1.0:
        raise ValueError("collect_rollouts needs a learner when beta < 1 (it executes the learner's actions).")
    if min_episodes < 1 and min_timesteps < 1:
        raise ValueError("Ask for at least one episode or one timestep.")
    rng = np.random.default_rng(seed)
    env = PrivilegedObservation(gym.make(env_id, **(env_kwargs or {})))
    trajectories: list[TrajectoryWithRew] = []
    total_steps = 0
    bar = tqdm(total=min_timesteps or None, desc=f"rollouts beta={beta:.2f}", disable=not progress_bar, leave=False)
    while len(trajectories) < min_episodes or total_steps < min_timesteps:
        episode = _run_episode(
            env, expert, learner, beta=beta, rng=rng, deterministic_learner=deterministic_learner, bar=bar
        )
        trajectories.append(episode)
        total_steps += len(episode.acts)
    bar.close()
    env.close()
    return trajectories


def _run_episode(
    env: PrivilegedObservation,
    expert: _Predictor,
    learner: Any,
    *,
    beta: float,
    rng: np.random.Generator,
    deterministic_learner: bool,
    bar: Any,
) -> TrajectoryWithRew:
    obs, info = env.reset(seed=int(rng.integers(2**31 - 1)))
    observations, labels, rewards, infos = [obs["obs"]], [], [], []
    state, episode_start = None, np.ones((1,), dtype=bool)
    done = terminated = False
    while not done:
        expert_action, _ = expert.predict(obs, deterministic=True)
        use_expert = bool(rng.random() < beta)
        if learner is not None:
            learner_action, state = learner.predict(
                obs["obs"], state=state, episode_start=episode_start, deterministic=deterministic_learner
            )
            executed = expert_action if use_expert else learner_action
            state = learner.record_actions(state, np.asarray(executed))
        else:
            executed = expert_action
        obs, reward, terminated, truncated, info = env.step(executed)
        episode_start = np.zeros((1,), dtype=bool)
        observations.append(obs["obs"])
        labels.append(np.asarray(expert_action))
        rewards.append(float(reward))
        infos.append(
            {
                "executed_action": np.asarray(executed),
                "expert_executed": use_expert or learner is None,
                "success": bool(info.get("success", False)),
            }
        )
        done = terminated or truncated
        bar.update(1)
    return TrajectoryWithRew(
        obs=np.asarray(observations),
        acts=np.asarray(labels),
        infos=np.asarray(infos, dtype=object),
        terminal=bool(terminated),
        rews=np.asarray(rewards, dtype=np.float32),
    )


def collect_demonstrations(
    env_id: str,
    expert: _Predictor | None = None,
    *,
    min_episodes: int = 10,
    min_timesteps: int = 0,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    progress_bar: bool = False,
) -> list[TrajectoryWithRew]:
    """Expert demonstrations on the partial observation: :func:`collect_rollouts` with ``beta=1``.

    ``expert`` defaults to ``ttt_gym.experts.make_expert(env_id)``.
    """
    if expert is None:
        from ttt_envs.experts import make_expert

        expert = make_expert(env_id)
    return collect_rollouts(
        env_id,
        expert,
        None,
        beta=1.0,
        min_episodes=min_episodes,
        min_timesteps=min_timesteps,
        seed=seed,
        env_kwargs=env_kwargs,
        progress_bar=progress_bar,
    )


def executed_actions(trajectory: Trajectory) -> np.ndarray:
    """The actions the env received: ``infos[t]["executed_action"]`` where recorded, else the labels ``acts``."""
    infos = trajectory.infos
    if infos is None or len(infos) == 0 or not all("executed_action" in info for info in infos):
        return np.asarray(trajectory.acts)
    return np.asarray([info["executed_action"] for info in infos]).reshape(np.shape(trajectory.acts))


@dataclass(frozen=True)
class SequenceSegment:
    """A run of consecutive steps of one episode, ready for sequence BC (the memory starts fresh at step 0).

    Attributes:
        observations: ``[T, *obs_shape]`` partial observations (the final observation is dropped).
        labels: ``[T, ...]`` expert actions, the BC targets.
        previous_actions: ``[T, ...]`` executed action of the step before (row 0 is ignored: an episode start).
    """

    observations: np.ndarray
    labels: np.ndarray
    previous_actions: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def trajectories_to_segments(trajectories: Sequence[Trajectory], chunk_len: int | None = None) -> list[SequenceSegment]:
    """Cut trajectories into segments: whole episodes (``chunk_len=None``) or chunks of at most ``chunk_len`` steps.

    Each chunk starts with fresh memory and no previous action (truncated context): shorter chunks train faster but
    cannot teach dependencies longer than ``chunk_len``.
    """
    if chunk_len is not None and chunk_len < 1:
        raise ValueError(f"chunk_len must be a positive number of steps or None (whole episodes), got {chunk_len}.")
    segments = []
    for trajectory in trajectories:
        length = len(trajectory.acts)
        if length == 0:
            continue
        observations = np.asarray(trajectory.obs)[:length]
        labels = np.asarray(trajectory.acts)
        executed = executed_actions(trajectory)
        previous = np.concatenate([executed[:1], executed[:-1]], axis=0)  # row 0 is a start: its value is unused
        step = length if chunk_len is None else chunk_len
        for begin in range(0, length, step):
            end = min(begin + step, length)
            segments.append(SequenceSegment(observations[begin:end], labels[begin:end], previous[begin:end]))
    return segments


@dataclass(frozen=True)
class SequenceBatch:
    """Segments padded to ``[B, T_max]``; ``mask`` is False on padding (which follows the valid steps)."""

    observations: torch.Tensor
    labels: torch.Tensor
    previous_actions: torch.Tensor
    mask: torch.Tensor

    @property
    def n_steps(self) -> int:
        return int(self.mask.sum())


def collate_segments(segments: Sequence[SequenceSegment], device: str | torch.device = "cpu") -> SequenceBatch:
    """Pad segments to the longest one. Padded labels and previous actions repeat a valid action of the segment."""
    if not segments:
        raise ValueError("collate_segments got no segments.")
    longest = max(len(segment) for segment in segments)

    def pad(array: np.ndarray) -> np.ndarray:
        extra = longest - len(array)
        if extra == 0:
            return array
        return np.concatenate([array, np.repeat(array[:1], extra, axis=0)], axis=0)

    mask = np.zeros((len(segments), longest), dtype=bool)
    for row, segment in enumerate(segments):
        mask[row, : len(segment)] = True
    observations = np.stack([pad(np.asarray(s.observations, dtype=np.float32)) for s in segments])
    labels = np.stack([pad(np.asarray(s.labels)) for s in segments])
    previous = np.stack([pad(np.asarray(s.previous_actions)) for s in segments])
    return SequenceBatch(
        observations=torch.as_tensor(observations, device=device),
        labels=torch.as_tensor(labels, device=device),
        previous_actions=torch.as_tensor(previous, device=device),
        mask=torch.as_tensor(mask, device=device),
    )
