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
from ttt_gym.privileged import EnvSource, check_privileged_env, env_label, make_env

__all__ = [
    "TRAINING_SEEDS_START",
    "VALIDATION_SEEDS_START",
    "SegmentSampler",
    "SequenceBatch",
    "SequenceSegment",
    "collate_segments",
    "collect_demonstrations",
    "collect_rollouts",
    "executed_actions",
    "trajectories_to_segments",
]


TRAINING_SEEDS_START = 2_000_000
"""Training episodes (demonstrations, DAgger rounds) reset with seeds drawn from ``[2_000_000, 2**31 - 1)``."""
VALIDATION_SEEDS_START = 1_000_000
"""Validation episodes (checkpoint selection) use seeds from ``1_000_000 + 1_000 * seed``: disjoint from training
seeds and from the test seeds of the benchmarks (below ``1_000_000``)."""


class _Predictor(Protocol):
    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[Any, Any]: ...


def collect_rollouts(
    env_id: EnvSource,
    expert: _Predictor,
    learner: Any = None,
    *,
    beta: float = 1.0,
    min_episodes: int = 1,
    min_timesteps: int = 0,
    seed: int = 0,
    deterministic_learner: bool = False,
    env_kwargs: dict[str, Any] | None = None,
    n_envs: int = 16,
    progress_bar: bool = False,
) -> list[TrajectoryWithRew]:
    """Run whole episodes until both minimums are met; label every step with the expert's action.

    At each step the learner (a sequence actor, its memory threaded through ``predict``) proposes an action from
    the partial observation and the expert one from ``Dict(obs, state)``; with probability ``beta`` (one coin per
    step, as in ``imitation``'s DAgger) the expert's action is executed, else the learner's. The learner's memory
    is then told which action was executed (``record_actions``), so its previous-action input matches the env.

    Args:
        env_id: a registered id or an env factory; the env meets :class:`~ttt_gym.privileged.PrivilegedEnv` (the
            privileged state in ``info["state"]``), as the memory suite's envs do.
        expert: an SB3 policy acting on the ``PrivilegedObservation`` dict (``ttt_gym.experts.make_expert``), or a
            demonstrator acting on the partial observation with its own recurrent ``state``
            (``ttt_gym.experts.make_demonstrator``): its memory is told the executed action
            (``record_actions``), so it labels the states the learner visits as it would from there.
        learner: a :class:`~ttt_gym.policies.SequenceActor`; None only with ``beta=1`` (pure demonstrations).
        beta: probability of executing the expert's action at each step.
        min_episodes: collect at least this many episodes...
        min_timesteps: ...and at least this many steps (episodes are never cut).
        seed: seeds the episode seeds and the mixture coin.
        deterministic_learner: learner's mode instead of a sample (the sample is seeded by the actor's config).
        env_kwargs: keyword arguments for ``gym.make``.
        n_envs: episodes run in lockstep, with one batched ``predict`` per step for the learner and one for the
            expert (many times faster for a sequence actor). Whole batches run until the minimums are met, so up to
            ``n_envs - 1`` extra episodes may come back. ``n_envs=1`` is one episode at a time.
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
    if n_envs < 1:
        raise ValueError(f"n_envs must be at least 1, got {n_envs}.")
    if not _is_privileged(expert) and beta < 1.0 and not hasattr(expert, "record_actions"):
        raise ValueError(
            f"{type(expert).__name__} acts on the partial observation with its own memory and has no "
            "record_actions(state, actions) to learn which action was executed, so it can record demonstrations "
            "(beta=1) but cannot label a DAgger mixture. Use the privileged expert (ttt_gym.experts.make_expert) or "
            "a demonstrator from ttt_gym.experts.make_demonstrator."
        )
    rng = np.random.default_rng(seed)
    envs = [PrivilegedObservation(make_env(env_id, env_kwargs)) for _ in range(n_envs)]
    trajectories: list[TrajectoryWithRew] = []
    total_steps = 0
    bar = tqdm(total=min_timesteps or None, desc=f"rollouts beta={beta:.2f}", disable=not progress_bar, leave=False)
    while len(trajectories) < min_episodes or total_steps < min_timesteps:
        episodes = _run_episodes(
            envs, expert, learner, beta=beta, rng=rng, deterministic_learner=deterministic_learner, bar=bar
        )
        trajectories.extend(episodes)
        total_steps += sum(len(episode.acts) for episode in episodes)
    bar.close()
    for env in envs:
        env.close()
    return trajectories


def _run_episodes(
    envs: list[PrivilegedObservation],
    expert: _Predictor,
    learner: Any,
    *,
    beta: float,
    rng: np.random.Generator,
    deterministic_learner: bool,
    bar: Any,
) -> list[TrajectoryWithRew]:
    """One episode per env, in lockstep; a finished env stops being stepped and its batch row is ignored."""
    n = len(envs)
    current = [env.reset(seed=int(rng.integers(TRAINING_SEEDS_START, 2**31 - 1)))[0] for env in envs]
    observations: list[list[np.ndarray]] = [[obs["obs"]] for obs in current]
    labels: list[list[np.ndarray]] = [[] for _ in envs]
    rewards: list[list[float]] = [[] for _ in envs]
    infos: list[list[dict[str, Any]]] = [[] for _ in envs]
    terminal = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    state, expert_state, episode_start = None, None, np.ones(n, dtype=bool)
    privileged = _is_privileged(expert)
    while active.any():
        batch = {key: np.stack([obs[key] for obs in current]) for key in current[0]}
        if privileged:
            expert_actions, _ = expert.predict(batch, deterministic=True)
        else:  # a demonstrator: the partial observation, its own memory
            expert_actions, expert_state = expert.predict(
                batch["obs"], state=expert_state, episode_start=episode_start, deterministic=True
            )
        rows = np.flatnonzero(active)
        use_expert = np.ones(n, dtype=bool)
        use_expert[rows] = rng.random(rows.size) < beta
        if learner is not None:
            learner_actions, state = learner.predict(
                batch["obs"], state=state, episode_start=episode_start, deterministic=deterministic_learner
            )
            executed = np.where(
                use_expert.reshape(-1, *([1] * (np.ndim(expert_actions) - 1))), expert_actions, learner_actions
            )
            state = learner.record_actions(state, executed)
            if not privileged:  # the demonstrator's memory follows what was executed, not what it proposed
                expert_state = expert.record_actions(expert_state, executed)  # type: ignore[attr-defined]
        else:
            executed = expert_actions
        episode_start = np.zeros(n, dtype=bool)
        for row in rows:
            obs, reward, terminated, truncated, info = envs[row].step(executed[row])
            current[row] = obs
            observations[row].append(obs["obs"])
            labels[row].append(np.asarray(expert_actions[row]))
            rewards[row].append(float(reward))
            infos[row].append(
                {
                    "executed_action": np.asarray(executed[row]),
                    "expert_executed": bool(use_expert[row]) or learner is None,
                    "success": bool(info.get("success", False)),
                }
            )
            terminal[row] = terminated
            active[row] = not (terminated or truncated)
        bar.update(rows.size)
    return [
        TrajectoryWithRew(
            obs=np.asarray(observations[row]),
            acts=np.asarray(labels[row]),
            infos=np.asarray(infos[row], dtype=object),
            terminal=bool(terminal[row]),
            rews=np.asarray(rewards[row], dtype=np.float32),
        )
        for row in range(n)
    ]


def _is_privileged(expert: Any) -> bool:
    """Whether ``expert`` reads the ``PrivilegedObservation`` dict (else: the partial observation, with memory)."""
    space = getattr(expert, "observation_space", None)
    return space is None or (isinstance(space, gym.spaces.Dict) and set(space.spaces) == {"obs", "state"})


def default_expert(env_id: EnvSource) -> Any:
    """The suite's privileged expert of ``env_id`` (``ttt_gym.experts.make_expert``).

    Raises:
        ValueError: ``env_id`` is not a memory-suite env (a user's own id or factory): the message says to pass
            ``expert=``.
    """
    from ttt_envs.experts import make_expert

    if isinstance(env_id, str):
        try:
            return make_expert(env_id)
        except ValueError:  # not a suite id: the user's own env, whose expert only the user has
            pass
    raise ValueError(
        f"No privileged expert is known for {env_label(env_id)}: pass expert=, an SB3-style policy whose predict "
        "acts on PrivilegedObservation(env)'s Dict(obs=..., state=...) (or a demonstrator with record_actions)"
    )


def collect_demonstrations(
    env_id: EnvSource,
    expert: _Predictor | None = None,
    *,
    min_episodes: int = 10,
    min_timesteps: int = 0,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    n_envs: int = 16,
    progress_bar: bool = False,
) -> list[TrajectoryWithRew]:
    """Expert demonstrations on the partial observation: :func:`collect_rollouts` with ``beta=1``.

    ``expert`` defaults to the privileged ``ttt_gym.experts.make_expert(env_id)``; a human-like demonstrator
    (``ttt_gym.experts.make_demonstrator(env_id, rng=seed)``, which sees only the partial observation and keeps its
    own memory) records the demonstrations the blog trains on. ``n_envs`` runs that many episodes in lockstep.
    """
    check_privileged_env(env_id, env_kwargs)
    expert = default_expert(env_id) if expert is None else expert
    return collect_rollouts(
        env_id,
        expert,
        None,
        beta=1.0,
        min_episodes=min_episodes,
        min_timesteps=min_timesteps,
        seed=seed,
        env_kwargs=env_kwargs,
        n_envs=n_envs,
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
    """Segments padded to ``[B, T_max]``; ``mask`` is False on padding (which follows the valid steps).

    ``loss_mask`` marks the steps whose loss counts: ``mask`` without a window's burn-in steps.
    """

    observations: torch.Tensor
    labels: torch.Tensor
    previous_actions: torch.Tensor
    mask: torch.Tensor
    loss_mask: torch.Tensor

    @property
    def n_steps(self) -> int:
        """Steps whose loss counts."""
        return int(self.loss_mask.sum())


def collate_segments(
    segments: Sequence[SequenceSegment], device: str | torch.device = "cpu", loss_starts: Sequence[int] | None = None
) -> SequenceBatch:
    """Pad segments to the longest one. Padded labels and previous actions repeat a valid action of the segment.

    ``loss_starts[i]`` burn-in steps open segment ``i``: valid for the actor's memory, left out of the loss.
    """
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
    loss_mask = mask.copy()
    if loss_starts is not None:
        for row, begin in enumerate(loss_starts):
            loss_mask[row, :begin] = False
    observations = np.stack([pad(np.asarray(s.observations, dtype=np.float32)) for s in segments])
    labels = np.stack([pad(np.asarray(s.labels)) for s in segments])
    previous = np.stack([pad(np.asarray(s.previous_actions)) for s in segments])
    return SequenceBatch(
        observations=torch.as_tensor(observations, device=device),
        labels=torch.as_tensor(labels, device=device),
        previous_actions=torch.as_tensor(previous, device=device),
        mask=torch.as_tensor(mask, device=device),
        loss_mask=torch.as_tensor(loss_mask, device=device),
    )


class SegmentSampler:
    """Training batches drawn from episodes: whole episodes, or fixed-length windows with a burn-in.

    ``window=None``: each batch holds ``batch_size`` whole episodes, drawn without replacement until every episode
    has been used once (an epoch), then reshuffled. ``window=W``: each row is a run of at most ``W`` scored steps,
    preceded by up to ``burn_in`` steps that rebuild the memory but are not scored (the actor starts the row with
    fresh memory, as at an episode start). Window starts are uniform over ``[1 - W, T - 1]`` clipped to the episode,
    and episodes are drawn in proportion to ``T + W - 1``, so every step of the data is scored equally often.

    Episodes can be added as they arrive (:meth:`extend`), as DAgger does after each round.
    """

    def __init__(
        self,
        segments: Sequence[SequenceSegment],
        *,
        batch_size: int,
        rng: np.random.Generator,
        window: int | None = None,
        burn_in: int = 0,
    ) -> None:
        self.check_batching(batch_size, window, burn_in)
        self.batch_size, self.window, self.burn_in, self.rng = batch_size, window, burn_in, rng
        self.segments: list[SequenceSegment] = []
        self._order: list[int] = []
        self.extend(segments)

    @staticmethod
    def check_batching(batch_size: int, window: int | None, burn_in: int) -> None:
        """Raise the error a sampler with these settings would raise (for trainers that check before any work)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if window is not None and window < 1:
            raise ValueError(f"window must be a positive number of steps or None (whole episodes), got {window}.")
        if burn_in < 0:
            raise ValueError(f"burn_in must be >= 0, got {burn_in}.")
        if window is None and burn_in > 0:
            raise ValueError("burn_in needs a window: whole episodes (window=None) start at the episode start.")

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def n_steps(self) -> int:
        """Labelled steps held."""
        return int(sum(len(segment) for segment in self.segments))

    @property
    def steps_per_batch(self) -> float:
        """Expected scored steps in one batch."""
        if not self.segments:
            return 0.0
        if self.window is None:  # a batch holds at most every episode once
            return min(self.batch_size, len(self.segments)) * self.n_steps / len(self.segments)
        # Each step is scored by W of an episode's T + W - 1 starts: a row scores W * sum(T) / sum(T + W - 1).
        lengths = np.array([len(segment) for segment in self.segments], dtype=float)
        return self.batch_size * self.window * float(lengths.sum() / (lengths + self.window - 1).sum())

    def extend(self, segments: Sequence[SequenceSegment]) -> None:
        self.segments.extend(segment for segment in segments if len(segment) > 0)

    def sample(self, device: str | torch.device = "cpu") -> SequenceBatch:
        if not self.segments:
            raise ValueError("No training data: every trajectory was empty.")
        if self.window is None:
            rows: list[int] = []
            while len(rows) < min(self.batch_size, len(self.segments)):
                if not self._order:  # a new epoch; episodes already in this batch wait for the next one
                    order = self.rng.permutation(len(self.segments))
                    self._order = list(rows) + [int(i) for i in order if i not in rows]  # pop() takes from the end
                rows.append(self._order.pop())
            return collate_segments([self.segments[i] for i in rows], device)
        lengths = np.array([len(segment) for segment in self.segments])
        weights = (lengths + self.window - 1).astype(float)
        picks = self.rng.choice(len(self.segments), size=self.batch_size, p=weights / weights.sum())
        windows, loss_starts = [], []
        for i in picks:
            segment, length = self.segments[i], int(lengths[i])
            start = int(self.rng.integers(1 - self.window, length))
            begin, end = max(start, 0), min(start + self.window, length)
            first = max(begin - self.burn_in, 0)
            windows.append(
                SequenceSegment(
                    segment.observations[first:end], segment.labels[first:end], segment.previous_actions[first:end]
                )
            )
            loss_starts.append(begin - first)
        return collate_segments(windows, device, loss_starts)
