"""DAgger for sequence actors with a privileged expert, on ``imitation``'s data types and beta schedules.

Round 0 is sequence BC on expert demonstrations. Each later round ``r`` runs episodes that execute the expert's
action with probability ``beta_schedule(r)`` and the learner's otherwise (the learner acting with its memory on the
partial observation), labels every visited step with the expert's action, adds the episodes to the dataset and
trains the learner further on all of it (warm start, as ``imitation``'s DAgger does).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from imitation.algorithms.dagger import ExponentialBetaSchedule
from imitation.data.rollout import rollout_stats
from imitation.data.types import TrajectoryWithRew
from stable_baselines3.common.logger import Logger
from tqdm.auto import tqdm

from ttt_gym.policies import SequenceActor
from ttt_gym.trainers.bc import ActorSpec, build_actor, fit_sequence_bc, null_logger
from ttt_gym.trainers.data import collect_demonstrations, collect_rollouts, trajectories_to_segments

__all__ = ["train_dagger"]


def _succeeded(trajectory: TrajectoryWithRew) -> bool:
    """``info["success"]`` at the last step (False when the trajectory has no infos)."""
    return trajectory.infos is not None and len(trajectory.infos) > 0 and bool(trajectory.infos[-1]["success"])


def train_dagger(
    env_id: str,
    actor_cls_or_name: ActorSpec,
    total_timesteps: int,
    expert: Any = None,
    seed: int = 0,
    *,
    beta_schedule: Callable[[int], float] | None = None,
    round_min_episodes: int = 3,
    round_min_timesteps: int = 500,
    n_demo_episodes: int = 10,
    n_epochs: int = 50,
    n_epochs_per_round: int = 10,
    chunk_len: int | None = None,
    batch_size: int = 16,
    lr: float = 1e-3,
    max_grad_norm: float | None = 1.0,
    deterministic_rollouts: bool = False,
    n_envs: int = 1,
    actor_kwargs: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    checkpoint_dir: str | Path | None = None,
    progress_bar: bool = True,
    logger: Logger | None = None,
) -> SequenceActor:
    """Train a sequence actor by DAgger from the privileged expert of ``env_id``.

    Example:
        >>> actor = train_dagger("ttt_gym/MaskedCartPole-v1", "gru", total_timesteps=5_000, seed=0)
        >>> evaluate_success(actor, "ttt_gym/MaskedCartPole-v1", 20)

    Args:
        env_id: a memory-suite id (the env fills ``info["state"]`` for the expert).
        actor_cls_or_name: a :data:`~ttt_gym.policies.ACTORS` key, an actor class, or an actor to train further.
        total_timesteps: env steps of mixture rollouts over all DAgger rounds (demonstrations not counted); rounds
            run until this many steps are collected, so 0 gives plain BC.
        expert: an SB3 policy on the ``PrivilegedObservation`` dict; default ``make_expert(env_id)``.
        seed: seeds the actor, the episodes, the mixture coins and the shuffling.
        beta_schedule: round number (1, 2, ...) -> probability of executing the expert's action, e.g.
            ``imitation.algorithms.dagger.LinearBetaSchedule(5)``; default ``ExponentialBetaSchedule(0.5)``.
        round_min_episodes: episodes per round at least...
        round_min_timesteps: ...and steps per round at least (whole episodes).
        n_demo_episodes: expert episodes for round 0's BC.
        n_epochs: BC epochs of round 0.
        n_epochs_per_round: epochs over the aggregated data after each round.
        chunk_len, batch_size, lr, max_grad_norm: as in :func:`~ttt_gym.trainers.train_bc`.
        deterministic_rollouts: the learner acts by its mode in the rollouts (default: seeded samples).
        n_envs: episodes run in lockstep in the demonstrations and in every round (batched ``predict``; much faster
            for sequence actors). A round then collects whole batches, so it may exceed its minimums.
        actor_kwargs: the actor's config fields.
        env_kwargs: keyword arguments for ``gym.make`` (e.g. ``max_episode_steps``).
        checkpoint_dir: when set, ``round_{r:03d}.pt`` is written there after every round (``load_actor`` reads it).
        progress_bar: tqdm bars over rounds and batches.
        logger: SB3 logger; records ``bc/*`` per epoch and ``dagger/*`` per round (beta, steps, rollout return and
            success, ``imitation``'s ``rollout_stats``). None writes nothing.

    Returns:
        The trained actor, in eval mode.
    """
    if total_timesteps < 0:
        raise ValueError(f"total_timesteps must be >= 0, got {total_timesteps}.")
    if round_min_episodes < 1 and round_min_timesteps < 1:
        raise ValueError("Each round needs round_min_episodes >= 1 or round_min_timesteps >= 1.")
    if expert is None:
        from ttt_envs.experts import make_expert

        expert = make_expert(env_id)
    schedule = beta_schedule or ExponentialBetaSchedule(0.5)
    logger = logger or null_logger()
    env_kwargs = env_kwargs or {}
    seeds = np.random.SeedSequence(seed)
    demo_seed, rollout_seed, shuffle_seed = (int(s.generate_state(1)[0]) for s in seeds.spawn(3))
    rng = np.random.default_rng(shuffle_seed)
    torch.manual_seed(seed)
    actor = build_actor(actor_cls_or_name, env_id, seed=seed, actor_kwargs=actor_kwargs, **env_kwargs)
    optimizer = torch.optim.Adam(actor.parameters(), lr=lr)
    checkpoints = None if checkpoint_dir is None else Path(checkpoint_dir)

    def fit(data: list[TrajectoryWithRew], epochs: int, step_offset: int) -> int:
        return fit_sequence_bc(
            actor,
            trajectories_to_segments(data, chunk_len),
            n_epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            rng=rng,
            max_grad_norm=max_grad_norm,
            logger=logger,
            step_offset=step_offset,
            progress_bar=progress_bar,
        )

    def finish_round(round_num: int, beta: float, new: list[TrajectoryWithRew], collected: int) -> None:
        stats = rollout_stats(new)
        logger.record("dagger/round", round_num)
        logger.record("dagger/beta", beta)
        logger.record("dagger/round_timesteps", sum(len(t.acts) for t in new))
        logger.record("dagger/total_timesteps", collected)
        logger.record("dagger/dataset_episodes", len(dataset))
        logger.record("dagger/rollout_success", float(np.mean([_succeeded(t) for t in new])))
        for key in ("return_mean", "len_mean"):
            logger.record(f"dagger/rollout_{key}", stats[key])
        logger.dump(batches)
        if checkpoints is not None:
            actor.save(checkpoints / f"round_{round_num:03d}.pt")

    dataset = collect_demonstrations(
        env_id, expert, min_episodes=n_demo_episodes, seed=demo_seed, env_kwargs=env_kwargs, n_envs=n_envs
    )
    batches = fit(dataset, n_epochs, 0)
    finish_round(0, 1.0, dataset, 0)

    collected, round_num = 0, 0
    with tqdm(total=total_timesteps, desc="dagger", disable=not progress_bar) as bar:
        while collected < total_timesteps:
            round_num += 1
            beta = float(schedule(round_num))
            new = collect_rollouts(
                env_id,
                expert,
                actor,
                beta=beta,
                min_episodes=round_min_episodes,
                min_timesteps=min(round_min_timesteps, total_timesteps - collected),
                seed=rollout_seed + round_num,
                deterministic_learner=deterministic_rollouts,
                env_kwargs=env_kwargs,
                n_envs=n_envs,
            )
            steps = sum(len(t.acts) for t in new)
            collected += steps
            dataset.extend(new)
            batches += fit(dataset, n_epochs_per_round, batches)
            finish_round(round_num, beta, new, collected)
            bar.update(min(steps, bar.total - bar.n))
            bar.set_postfix(round=round_num, beta=f"{beta:.2f}", refresh=False)
    actor.eval()
    return actor
