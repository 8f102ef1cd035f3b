"""Sequence behaviour cloning: whole trajectories (or chunks) of ``imitation`` data, padded and masked.

``imitation``'s BC flattens trajectories into independent transitions, which leaves a sequence actor nothing to
remember. Here every batch row is an episode (or a chunk of one) and the loss is the actor's own
``SequenceActor.loss``: mean NLL over the valid steps with the executed actions as previous-action inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from imitation.data.types import Trajectory
from stable_baselines3.common.logger import Logger
from tqdm.auto import tqdm

from ttt_gym.policies import ACTORS, SequenceActor
from ttt_gym.trainers.data import SequenceSegment, collate_segments, trajectories_to_segments

__all__ = ["ActorSpec", "build_actor", "fit_sequence_bc", "null_logger", "sequence_bc_loss", "train_bc"]

ActorSpec = str | type[SequenceActor] | SequenceActor
"""What the trainers accept as the policy: a :data:`~ttt_gym.policies.ACTORS` key, an actor class, or an actor
(trained further in place)."""


def null_logger() -> Logger:
    """An SB3 logger that writes nothing (the default when no logger is given)."""
    return Logger(folder=None, output_formats=[])


def build_actor(
    actor: ActorSpec, env_id: str, *, seed: int = 0, actor_kwargs: dict[str, Any] | None = None, **env_kwargs: Any
) -> SequenceActor:
    """An actor for ``env_id``'s spaces: built from a name or a class (config seed = ``seed`` unless given), or
    returned as is when it is already an actor."""
    if isinstance(actor, SequenceActor):
        if actor_kwargs:
            raise ValueError("actor_kwargs configure a new actor; an existing actor was given.")
        return actor
    if isinstance(actor, str):
        if actor not in ACTORS:
            raise ValueError(f"Unknown actor {actor!r}; choose one of {sorted(ACTORS)} or pass an actor class.")
        actor_cls = ACTORS[actor]
    elif isinstance(actor, type) and issubclass(actor, SequenceActor):
        actor_cls = actor
    else:
        raise TypeError(f"Expected an actor name, a SequenceActor class or a SequenceActor, got {actor!r}.")
    env = gym.make(env_id, **env_kwargs)
    config = {"seed": seed, **(actor_kwargs or {})}
    built = actor_cls(env.observation_space, env.action_space, **config)
    env.close()
    return built


def sequence_bc_loss(
    actor: SequenceActor, trajectories: Sequence[Trajectory], *, chunk_len: int | None = None, batch_size: int = 64
) -> float:
    """Mean BC loss (NLL + auxiliary) over every valid step of ``trajectories``, without gradients."""
    segments = trajectories_to_segments(trajectories, chunk_len)
    total, steps = 0.0, 0
    with torch.no_grad():
        for begin in range(0, len(segments), batch_size):
            batch = collate_segments(segments[begin : begin + batch_size], actor.device)
            loss, _ = actor.loss(
                batch.observations, batch.labels, mask=batch.mask, previous_actions=batch.previous_actions
            )
            total += float(loss) * batch.n_steps
            steps += batch.n_steps
    return total / max(steps, 1)


def fit_sequence_bc(
    actor: SequenceActor,
    segments: Sequence[SequenceSegment],
    *,
    n_epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    max_grad_norm: float | None = 1.0,
    logger: Logger | None = None,
    log_prefix: str = "bc",
    step_offset: int = 0,
    progress_bar: bool = False,
) -> int:
    """``n_epochs`` passes over shuffled segments, one Adam step per batch; returns the number of batches run.

    Logs the epoch means of the loss and of the actor's loss info under ``{log_prefix}/`` and dumps the logger
    once per epoch (step = batches run so far, plus ``step_offset``).
    """
    if not segments:
        raise ValueError("No training data: every trajectory was empty.")
    if batch_size < 1 or n_epochs < 0:
        raise ValueError(f"batch_size must be >= 1 and n_epochs >= 0, got {batch_size} and {n_epochs}.")
    logger = logger or null_logger()
    n_batches_per_epoch = (len(segments) + batch_size - 1) // batch_size
    batches = 0
    actor.train()
    with tqdm(total=n_epochs * n_batches_per_epoch, desc=log_prefix, disable=not progress_bar, leave=False) as bar:
        for epoch in range(n_epochs):
            order = rng.permutation(len(segments))
            sums: dict[str, float] = {}
            for begin in range(0, len(order), batch_size):
                batch = collate_segments([segments[i] for i in order[begin : begin + batch_size]], actor.device)
                loss, info = actor.loss(
                    batch.observations, batch.labels, mask=batch.mask, previous_actions=batch.previous_actions
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(actor.parameters(), max_grad_norm)
                optimizer.step()
                batches += 1
                for key, value in {"loss": float(loss.detach()), **info}.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.3f}", refresh=False)
            for key, value in sums.items():
                logger.record(f"{log_prefix}/{key}", value / n_batches_per_epoch)
            logger.record(f"{log_prefix}/epoch", epoch)
            logger.dump(step_offset + batches)
    actor.eval()
    return batches


def train_bc(
    env_id: str,
    actor_cls_or_name: ActorSpec,
    demonstrations: Sequence[Trajectory],
    *,
    n_epochs: int = 50,
    chunk_len: int | None = None,
    batch_size: int = 16,
    lr: float = 1e-3,
    max_grad_norm: float | None = 1.0,
    seed: int = 0,
    actor_kwargs: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    progress_bar: bool = True,
    logger: Logger | None = None,
) -> SequenceActor:
    """Behaviour cloning of a sequence actor on whole trajectories (or chunks), padded and masked.

    Example:
        >>> demos = collect_demonstrations("ttt_gym/MaskedCartPole-v1", min_episodes=10)
        >>> actor = train_bc("ttt_gym/MaskedCartPole-v1", "gru", demos, n_epochs=20)
        >>> action, state = actor.predict(obs, state=None, episode_start=np.ones(1, bool), deterministic=True)

    Args:
        env_id: the env the actor is for (its spaces build the actor).
        actor_cls_or_name: a :data:`~ttt_gym.policies.ACTORS` key (``"gru"``), an actor class, or an existing actor
            to train further.
        demonstrations: ``imitation`` trajectories whose ``obs`` are the partial observations and ``acts`` the
            labels; the executed actions are read from ``infos[t]["executed_action"]`` when present (DAgger data),
            else the labels are taken as executed (demonstrations).
        n_epochs: passes over the data.
        chunk_len: None trains on whole episodes; an int cuts them into chunks of that many steps, each starting
            with fresh memory.
        batch_size: episodes (or chunks) per Adam step.
        lr: Adam learning rate.
        max_grad_norm: gradient-norm clip (None: no clipping).
        seed: seeds the actor's initialisation and sampling (``actor_kwargs["seed"]`` wins) and the shuffling.
        actor_kwargs: the actor's config fields (``embed_dim``, ``hidden_dim``, ...).
        env_kwargs: keyword arguments for ``gym.make`` (only the spaces are read).
        progress_bar: tqdm bar over batches.
        logger: an SB3 logger (``stable_baselines3.common.logger.configure(folder, ["stdout", "csv"])``); records
            ``bc/loss``, ``bc/nll``, ``bc/accuracy`` per epoch. None writes nothing.

    Returns:
        The trained actor, in eval mode.
    """
    torch.manual_seed(seed)
    actor = build_actor(actor_cls_or_name, env_id, seed=seed, actor_kwargs=actor_kwargs, **(env_kwargs or {}))
    segments = trajectories_to_segments(demonstrations, chunk_len)
    optimizer = torch.optim.Adam(actor.parameters(), lr=lr)
    fit_sequence_bc(
        actor,
        segments,
        n_epochs=n_epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        rng=np.random.default_rng(seed),
        max_grad_norm=max_grad_norm,
        logger=logger,
        progress_bar=progress_bar,
    )
    return actor
