"""DAgger for sequence actors, labelled by a privileged expert or a human-like demonstrator, at a cost linear in steps.

Round 0 is sequence BC on demonstrations. Each later round ``r`` runs ``n_envs`` episodes in lockstep that execute
the labeller's action with probability ``beta_schedule(r)`` and the learner's otherwise (the learner acting with its
memory on the partial observation), labels every visited step, adds the episodes to the aggregate and then takes
``gradient_steps_per_step`` x (new steps) Adam steps on batches drawn from the whole aggregate (warm start, as
``imitation``'s DAgger does). Training cost is thus proportional to the steps collected, not to the aggregate's size
times the number of rounds (which full epochs over the aggregate after every round would cost). Checkpoints are
scored on validation episodes after round 0, every ``validate_every`` collected steps and at the end; the best is
returned.
"""

from __future__ import annotations

import math
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
from ttt_gym.privileged import EnvSource, check_privileged_env
from ttt_gym.trainers.bc import (
    ActorSpec,
    BestCheckpoint,
    build_actor,
    check_lr_schedule,
    fit_sequence_bc,
    make_scheduler,
    null_logger,
)
from ttt_gym.trainers.data import (
    SegmentSampler,
    _is_privileged,
    collect_demonstrations,
    collect_rollouts,
    default_expert,
    trajectories_to_segments,
)

__all__ = ["train_dagger"]


def _succeeded(trajectory: TrajectoryWithRew) -> bool:
    """``info["success"]`` at the last step (False when the trajectory has no infos)."""
    return trajectory.infos is not None and len(trajectory.infos) > 0 and bool(trajectory.infos[-1]["success"])


def train_dagger(
    env_id: EnvSource,
    actor_cls_or_name: ActorSpec,
    total_timesteps: int,
    expert: Any = None,
    seed: int = 0,
    *,
    beta_schedule: Callable[[int], float] | None = None,
    round_timesteps: int = 2_000,
    n_demo_episodes: int = 32,
    bc_batches: int | None = None,
    gradient_steps_per_step: float = 0.05,
    batch_size: int = 16,
    window: int | None = 64,
    burn_in: int | None = None,
    lr: float = 1e-3,
    lr_schedule: str = "cosine",
    max_grad_norm: float | None = 1.0,
    deterministic_rollouts: bool = False,
    n_envs: int = 16,
    validation_episodes: int = 50,
    validate_every: int = 10_000,
    actor_kwargs: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    checkpoint_dir: str | Path | None = None,
    device: str | torch.device | None = "auto",
    progress_bar: bool = True,
    logger: Logger | None = None,
) -> SequenceActor:
    """Train a sequence actor by DAgger from the privileged expert (or a demonstrator) of ``env_id``.

    Example:
        >>> actor = train_dagger("ttt_gym/MaskedCartPole-v1", "gru", total_timesteps=20_000, seed=0)
        >>> evaluate_success(actor, "ttt_gym/MaskedCartPole-v1", 20)

    Args:
        env_id: a memory-suite id, or any registered id or env factory whose env meets
            :class:`~ttt_gym.privileged.PrivilegedEnv` (checked first: ``state_space``, ``info["state"]``,
            ``info["success"]``); the expert is then the user's own.
        actor_cls_or_name: an actor name (``"ttt-linear"`` or ``"ttt_linear"``...), an actor class, or an actor to
            train further.
        total_timesteps: env steps of mixture rollouts over all DAgger rounds (demonstrations not counted); rounds
            run until this many steps are collected, so 0 gives plain BC.
        expert: the labeller: an SB3 policy on the ``PrivilegedObservation`` dict (default ``make_expert(env_id)``),
            or a demonstrator (``make_demonstrator(env_id)``) that labels the learner's states from its own memory
            of what was executed.
        seed: seeds the actor, the episodes, the mixture coins, the batches and the validation episodes. torch's
            global generator is not touched.
        beta_schedule: round number (1, 2, ...) -> probability of executing the labeller's action, e.g.
            ``imitation.algorithms.dagger.LinearBetaSchedule(5)``; default ``ExponentialBetaSchedule(0.5)``.
        round_timesteps: steps collected per round at least (whole lockstep batches of ``n_envs`` episodes).
        n_demo_episodes: labeller episodes for round 0's BC.
        bc_batches: Adam steps of round 0; None: ``gradient_steps_per_step`` x the demonstration steps, so that the
            whole run costs in proportion to the steps collected.
        gradient_steps_per_step: Adam steps per collected step, on batches drawn from the whole aggregate.
        batch_size, window, burn_in, lr, max_grad_norm: as in :func:`~ttt_gym.trainers.train_bc`; by default
            windows of 64 scored steps after ``burn_in`` steps (None: 32 with a window, 0 for whole episodes).
        lr_schedule: ``"cosine"`` over the planned number of Adam steps, or ``"constant"``.
        deterministic_rollouts: the learner acts by its mode in the rollouts (default: seeded samples).
        n_envs: episodes run in lockstep in the demonstrations, the rounds and the validation (one batched
            ``predict`` per step).
        validation_episodes: episodes on which the actor is scored (see ``validate_every``); the best is returned
            (0: the last).
        validate_every: collected steps between validations (scored at the end of a round; round 0 and the last
            round are always scored), so that validation costs a bounded share of the run.
        actor_kwargs: the actor's config fields.
        env_kwargs: keyword arguments for ``gym.make`` (e.g. ``max_steps``).
        checkpoint_dir: when set, ``round_{r:03d}.pt`` is written there after every round (``load_actor`` reads it).
        device: as in :func:`~ttt_gym.trainers.train_bc`: ``"auto"`` trains on CUDA when available (on an H200 DAgger
            at these defaults ran 1.3-2.4x faster than on 2 CPU cores; docs/BENCHMARKS.md, "On a GPU").
        progress_bar: tqdm bars over steps and batches.
        logger: SB3 logger; records ``bc/*`` every 100 batches, ``dagger/*`` and ``validation/*`` per round (beta,
            steps, batches, rollout return and success, ``imitation``'s ``rollout_stats``). None writes nothing.

    Returns:
        The trained actor (the validation-selected round), in eval mode.
    """
    if total_timesteps < 0:
        raise ValueError(f"total_timesteps must be >= 0, got {total_timesteps}.")
    if validate_every < 1:
        raise ValueError(f"validate_every must be >= 1 collected steps, got {validate_every}.")
    if round_timesteps < 1:
        raise ValueError(f"round_timesteps must be >= 1, got {round_timesteps}.")
    if gradient_steps_per_step <= 0 or (bc_batches is not None and bc_batches < 0) or n_demo_episodes < 1:
        raise ValueError("gradient_steps_per_step must be positive, bc_batches None or >= 0, n_demo_episodes >= 1.")
    if burn_in is None:
        burn_in = 32 if window is not None else 0
    check_lr_schedule(lr_schedule)
    SegmentSampler.check_batching(batch_size, window, burn_in)
    check_privileged_env(env_id, env_kwargs)
    if expert is None:
        expert = default_expert(env_id)
    elif total_timesteps > 0 and not _is_privileged(expert) and not hasattr(expert, "record_actions"):
        raise ValueError(
            f"{type(expert).__name__} reads the partial observation but has no record_actions(state, actions), so it "
            "cannot label the learner's states; use ttt_gym.experts.make_expert or make_demonstrator."
        )
    schedule = beta_schedule or ExponentialBetaSchedule(0.5)
    logger = logger or null_logger()
    env_kwargs = env_kwargs or {}
    seeds = np.random.SeedSequence(seed)
    demo_seed, rollout_seed, sample_seed = (int(s.generate_state(1)[0]) for s in seeds.spawn(3))
    actor = build_actor(actor_cls_or_name, env_id, seed=seed, actor_kwargs=actor_kwargs, device=device, **env_kwargs)
    checkpoints = None if checkpoint_dir is None else Path(checkpoint_dir)
    best = BestCheckpoint(
        actor, env_id, n_episodes=validation_episodes, seed=seed, env_kwargs=env_kwargs, logger=logger
    )

    dataset = collect_demonstrations(
        env_id, expert, min_episodes=n_demo_episodes, seed=demo_seed, env_kwargs=env_kwargs, n_envs=n_envs
    )
    sampler = SegmentSampler(
        trajectories_to_segments(dataset),
        batch_size=batch_size,
        rng=np.random.default_rng(sample_seed),
        window=window,
        burn_in=burn_in,
    )
    if bc_batches is None:
        bc_batches = math.ceil(gradient_steps_per_step * sampler.n_steps)
    planned = bc_batches + math.ceil(gradient_steps_per_step * total_timesteps)
    optimizer = torch.optim.Adam(actor.parameters(), lr=lr)
    scheduler = make_scheduler(optimizer, lr_schedule, planned)

    def fit(n_batches: int) -> int:
        return fit_sequence_bc(
            actor,
            sampler,
            n_batches=n_batches,
            optimizer=optimizer,
            scheduler=scheduler,
            max_grad_norm=max_grad_norm,
            logger=logger,
            step_offset=batches,
            progress_bar=progress_bar,
        )

    validated_at = 0

    def finish_round(round_num: int, beta: float, new: list[TrajectoryWithRew], collected: int) -> None:
        nonlocal validated_at
        last = collected >= total_timesteps
        if round_num == 0 or collected - validated_at >= validate_every or last:
            best(batches)
            validated_at = collected
        stats = rollout_stats(new)
        logger.record("dagger/round", round_num)
        logger.record("dagger/beta", beta)
        logger.record("dagger/round_timesteps", sum(len(t.acts) for t in new))
        logger.record("dagger/total_timesteps", collected)
        logger.record("dagger/batches", batches)
        logger.record("dagger/dataset_episodes", len(sampler))
        logger.record("dagger/rollout_success", float(np.mean([_succeeded(t) for t in new])))
        for key in ("return_mean", "len_mean"):
            logger.record(f"dagger/rollout_{key}", stats[key])
        logger.dump(batches)
        if checkpoints is not None:
            actor.save(checkpoints / f"round_{round_num:03d}.pt")

    batches = 0
    batches += fit(bc_batches)
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
                min_episodes=1,
                min_timesteps=min(round_timesteps, total_timesteps - collected),
                seed=rollout_seed + round_num,
                deterministic_learner=deterministic_rollouts,
                env_kwargs=env_kwargs,
                n_envs=n_envs,
            )
            steps = sum(len(t.acts) for t in new)
            collected += steps
            sampler.extend(trajectories_to_segments(new))
            batches += fit(math.ceil(gradient_steps_per_step * steps))
            finish_round(round_num, beta, new, collected)
            bar.update(min(steps, bar.total - bar.n))
            bar.set_postfix(round=round_num, beta=f"{beta:.2f}", refresh=False)
    best.restore()
    return actor
