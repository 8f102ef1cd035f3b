"""Sequence behaviour cloning: whole episodes (or windows with burn-in) of ``imitation`` data, padded and masked.

``imitation``'s BC flattens trajectories into independent transitions, which leaves a sequence actor nothing to
remember. Here every batch row is an episode (or a window of one) and the loss is the actor's own
``SequenceActor.loss``: mean NLL over the scored steps with the executed actions as previous-action inputs. Training
runs a fixed number of Adam steps on a cosine schedule, scores checkpoints on validation episodes and returns the best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from imitation.data.types import Trajectory
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import get_device
from tqdm.auto import tqdm

from ttt_gym.policies import SequenceActor, resolve_actor
from ttt_gym.privileged import EnvSource, make_env
from ttt_gym.trainers.data import (
    TRAINING_SEEDS_START,
    VALIDATION_SEEDS_START,
    SegmentSampler,
    collate_segments,
    trajectories_to_segments,
)

__all__ = [
    "ActorSpec",
    "BestCheckpoint",
    "build_actor",
    "fit_sequence_bc",
    "make_scheduler",
    "null_logger",
    "sequence_bc_loss",
    "train_bc",
]

DEFAULT_BC_BATCHES = 4_000
"""Adam steps of :func:`train_bc` by default: with 20,000 demonstrator episodes, the memory-env table's recipe
(``benchmarks/configs/memory/``; docs/BENCHMARKS.md)."""

ActorSpec = str | type[SequenceActor] | SequenceActor
"""What the trainers accept as the policy: a :data:`~ttt_gym.policies.ACTORS` key, an actor class, or an actor
(trained further in place)."""


def null_logger() -> Logger:
    """An SB3 logger that writes nothing (the default when no logger is given)."""
    return Logger(folder=None, output_formats=[])


def build_actor(
    actor: ActorSpec,
    env_id: EnvSource,
    *,
    seed: int = 0,
    actor_kwargs: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    **env_kwargs: Any,
) -> SequenceActor:
    """An actor for ``env_id``'s spaces: built from a name or a class (config seed = ``seed`` unless given), or
    returned as is when it is already an actor.

    Unless ``actor_kwargs`` set it, an actor that is not ``memoryless`` takes the env's recommended
    ``observation_delta`` (the table recipe's: 3 on Mystery Path, 20 on Confounded Controls, 0 elsewhere).
    ``device`` (``"cpu"``, ``"cuda"``, SB3's ``"auto"``) moves the actor there; None leaves a given actor where it
    is and builds a new one on the CPU.
    """
    if device is not None:
        return build_actor(actor, env_id, seed=seed, actor_kwargs=actor_kwargs, **env_kwargs).to(get_device(device))
    if isinstance(actor, SequenceActor):
        if actor_kwargs:
            raise ValueError("actor_kwargs configure a new actor; an existing actor was given.")
        return actor
    preset: dict[str, Any] = {}
    if isinstance(actor, str):
        actor_cls, preset = resolve_actor(actor)
    elif isinstance(actor, type) and issubclass(actor, SequenceActor):
        actor_cls = actor
    else:
        raise TypeError(f"Expected an actor name, a SequenceActor class or a SequenceActor, got {actor!r}.")
    env = make_env(env_id, env_kwargs)
    config = {"seed": seed, **preset, **(actor_kwargs or {})}
    if "observation_delta" not in config and not actor_cls.config_class.from_kwargs(**config).memoryless:
        config["observation_delta"] = recommended_observation_delta(env)
    built = actor_cls(env.observation_space, env.action_space, **config)
    env.close()
    return built


def recommended_observation_delta(env: Any) -> float:
    """The env's ``recommended_observation_delta`` (the suite's memory envs declare one), else 0."""
    return float(getattr(env.unwrapped, "recommended_observation_delta", 0.0))


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


LR_SCHEDULES = ("cosine", "constant")


def check_lr_schedule(schedule: str) -> None:
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}.")


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_batches: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """``"cosine"``: from the optimizer's lr down to a tenth of it over ``total_batches`` (then flat); or constant."""
    check_lr_schedule(schedule)
    total = max(int(total_batches), 1)

    def factor(step: int) -> float:
        if schedule == "constant":
            return 1.0
        progress = min(step / total, 1.0)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit_sequence_bc(
    actor: SequenceActor,
    sampler: SegmentSampler,
    *,
    n_batches: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    max_grad_norm: float | None = 1.0,
    logger: Logger | None = None,
    log_prefix: str = "bc",
    step_offset: int = 0,
    log_interval: int = 100,
    progress_bar: bool = False,
) -> int:
    """``n_batches`` Adam steps on batches from ``sampler``; returns ``n_batches``.

    Records the means of the loss and of the actor's loss info under ``{log_prefix}/`` every ``log_interval`` batches
    and after the last one, and dumps the logger at each interval but the last (step = batches run so far plus
    ``step_offset``): the caller dumps the last records together with its own (validation, DAgger round).
    """
    if n_batches < 0:
        raise ValueError(f"n_batches must be >= 0, got {n_batches}.")
    logger = logger or null_logger()
    sums: dict[str, float] = {}
    since_log = 0
    actor.train()
    with tqdm(total=n_batches, desc=log_prefix, disable=not progress_bar, leave=False) as bar:
        for done in range(1, n_batches + 1):
            batch = sampler.sample(actor.device)
            loss, info = actor.loss(
                batch.observations,
                batch.labels,
                mask=batch.mask,
                previous_actions=batch.previous_actions,
                loss_mask=batch.loss_mask,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(actor.parameters(), max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for key, value in {"loss": float(loss.detach()), **info}.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            since_log += 1
            bar.update(1)
            if done % log_interval == 0 or done == n_batches:
                for key, value in sums.items():
                    logger.record(f"{log_prefix}/{key}", value / since_log)
                logger.record(f"{log_prefix}/lr", optimizer.param_groups[0]["lr"])
                if done < n_batches:
                    logger.dump(step_offset + done)
                bar.set_postfix(loss=f"{sums['loss'] / since_log:.3f}", refresh=False)
                sums, since_log = {}, 0
    actor.eval()
    return n_batches


class BestCheckpoint:
    """Keeps the actor's weights that scored best on validation episodes, and puts them back at the end.

    Validation episodes reset with seeds ``VALIDATION_SEEDS_START + 1_000 * seed + i``: never a training seed, and
    never a test seed of the benchmarks. Each checkpoint is scored acting both ways, by the mode and by seeded
    samples: an imitation of a stochastic demonstrator can do better either way (measured on Mystery Path: 53 % by
    the mode against 78 % sampled for one seed, 95 % against 84.5 % for another). The score is the success rate,
    ties broken by the mean return; the better way is kept with the weights, as the actor's
    ``validated_deterministic``, which ``evaluate_success`` follows. ``n_episodes=0`` turns validation off: the final
    weights are kept.

    A checkpoint that ties the best score replaces it. Once every validation episode succeeds, validation can no
    longer tell checkpoints apart, and the later one has trained longer, on the annealed learning rate. Keeping the
    first instead kept Coin Search's seed-0 transformer at its 500-step weights (50 of 50 validation episodes from
    the first check on), which solved 196 of 200 test episodes; its 4,000-step weights, kept now, solve all 200.
    """

    ACTION_MODES = (True, False)
    """``deterministic`` values each checkpoint is scored with: the mode, then seeded samples."""

    def __init__(
        self,
        actor: SequenceActor,
        env_id: EnvSource,
        *,
        n_episodes: int,
        seed: int,
        env_kwargs: dict[str, Any] | None = None,
        logger: Logger | None = None,
    ) -> None:
        if not 0 <= n_episodes <= 1_000:
            raise ValueError(f"validation_episodes must be in [0, 1000], got {n_episodes}.")
        if not 0 <= seed < (TRAINING_SEEDS_START - VALIDATION_SEEDS_START) // 1_000:
            raise ValueError(
                f"seed must be in [0, {(TRAINING_SEEDS_START - VALIDATION_SEEDS_START) // 1_000}) so that the "
                f"validation episodes' seeds stay apart from the training episodes', got {seed}."
            )
        self.actor, self.env_id, self.n_episodes = actor, env_id, n_episodes
        self.seed = VALIDATION_SEEDS_START + 1_000 * seed
        # All validation episodes in lockstep: one batched predict per step.
        self.n_envs, self.env_kwargs = max(1, n_episodes), env_kwargs
        self.logger = logger or null_logger()
        self.best: tuple[float, float] | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_step = -1
        self.best_deterministic: bool | None = None
        self.history: list[tuple[int, bool, float, float]] = []
        """``(step, deterministic, success, mean return)`` of every scoring."""

    def __call__(self, step: int) -> None:
        if self.n_episodes == 0:
            return
        from ttt_gym.evaluation import evaluate_success

        scores = {}
        for deterministic in self.ACTION_MODES:
            result = evaluate_success(
                self.actor,
                self.env_id,
                self.n_episodes,
                seed=self.seed,
                deterministic=deterministic,
                env_kwargs=self.env_kwargs,
                n_envs=self.n_envs,
            )
            scores[deterministic] = (result.success_rate, result.mean_return)
            self.history.append((step, deterministic, *scores[deterministic]))
            way = "mode" if deterministic else "sampled"
            self.logger.record(f"validation/success_{way}", scores[deterministic][0])
        deterministic = max(scores, key=lambda mode: scores[mode])
        score = scores[deterministic]
        self.logger.record("validation/success", score[0])
        self.logger.record("validation/return", score[1])
        if self.best is None or score >= self.best:  # ties go to the later checkpoint (see the class docstring)
            self.best, self.best_step, self.best_deterministic = score, step, deterministic
            self.best_state = {k: v.detach().clone() for k, v in self.actor.state_dict().items()}
        self.logger.record("validation/best_success", self.best[0])

    def restore(self) -> None:
        """Load the best weights and how they act best (no-op when validation is off)."""
        if self.best_state is not None:
            self.actor.load_state_dict(self.best_state)
            self.actor.validated_deterministic = self.best_deterministic
        self.actor.reset_sampling()  # acts as the saved actor will once loaded, not after the validation's draws
        self.actor.eval()


def train_bc(
    env_id: EnvSource,
    actor_cls_or_name: ActorSpec,
    demonstrations: Sequence[Trajectory],
    *,
    n_batches: int | None = DEFAULT_BC_BATCHES,
    n_epochs: int | None = None,
    batch_size: int = 32,
    window: int | None = None,
    burn_in: int = 0,
    lr: float = 1e-3,
    lr_schedule: str = "cosine",
    max_grad_norm: float | None = 1.0,
    seed: int = 0,
    validation_episodes: int = 50,
    validate_every: int = 500,
    actor_kwargs: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    device: str | torch.device | None = "auto",
    progress_bar: bool = True,
    logger: Logger | None = None,
) -> SequenceActor:
    """Behaviour cloning of a sequence actor on whole episodes or windows with burn-in, padded and masked.

    Example:
        >>> demos = collect_demonstrations("ttt_gym/MaskedCartPole-v1", min_episodes=10)
        >>> actor = train_bc("ttt_gym/MaskedCartPole-v1", "gru", demos)
        >>> action, state = actor.predict(obs, state=None, episode_start=np.ones(1, bool), deterministic=True)

    Args:
        env_id: the env the actor is for (its spaces build the actor; validation episodes run on it).
        actor_cls_or_name: an actor name (``"gru"``, ``"ttt-linear"``, ``"transformer-ctx1"``; ``-`` and ``_`` alike),
            an actor class, or an existing actor to train further.
        demonstrations: ``imitation`` trajectories whose ``obs`` are the partial observations and ``acts`` the
            labels; the executed actions are read from ``infos[t]["executed_action"]`` when present (DAgger data),
            else the labels are taken as executed (demonstrations).
        n_batches: Adam steps (as ``imitation``'s ``BC.train``); set it to None to give ``n_epochs`` instead.
        n_epochs: passes over the data (only with ``n_batches=None``).
        batch_size: episodes (or windows) per Adam step.
        window: None trains on whole episodes; W trains on runs of W scored steps (see
            :class:`~ttt_gym.trainers.data.SegmentSampler`), for long episodes.
        burn_in: steps before each window that rebuild the memory without being scored.
        lr: Adam learning rate (the peak of the schedule).
        lr_schedule: ``"cosine"`` (down to lr / 10 at the end) or ``"constant"``.
        max_grad_norm: gradient-norm clip (None: no clipping).
        seed: seeds the actor's initialisation and sampling (``actor_kwargs["seed"]`` wins), the batches and the
            validation episodes; torch's global generator is not touched.
        validation_episodes: episodes on which the checkpoints are scored every ``validate_every`` batches and at
            the end; the best one is returned (0: the final weights).
        validate_every: batches between validations (all validation episodes run in lockstep).
        actor_kwargs: the actor's config fields (``embed_dim``, ``hidden_dim``, ...).
        env_kwargs: keyword arguments for ``gym.make``.
        device: where the actor trains and acts, a given actor included: ``"auto"`` (CUDA when available, as in SB3
            and ``imitation``), ``"cpu"``, ``"cuda"``... On an H200 these Adam steps ran 4-42x faster than on 2 CPU
            cores (docs/BENCHMARKS.md, "On a GPU"). None leaves a given actor where it is (a new one: the CPU).
        progress_bar: tqdm bar over batches.
        logger: an SB3 logger (``stable_baselines3.common.logger.configure(folder, ["stdout", "csv"])``); records
            ``bc/loss``, ``bc/nll``, ``bc/accuracy``, ``bc/lr`` and ``validation/*``. None writes nothing.

    Returns:
        The trained actor (the validation-selected weights), in eval mode.
    """
    if (n_batches is None) == (n_epochs is None):
        raise ValueError("Give exactly one of n_batches and n_epochs (set n_batches=None to train by epochs).")
    if n_batches is not None and n_batches < 0:
        raise ValueError(f"n_batches must be >= 0, got {n_batches}.")
    if n_epochs is not None and n_epochs <= 0:
        raise ValueError(f"n_epochs must be positive, got {n_epochs}.")
    if validate_every < 1:
        raise ValueError(f"validate_every must be >= 1, got {validate_every}.")
    actor = build_actor(
        actor_cls_or_name, env_id, seed=seed, actor_kwargs=actor_kwargs, device=device, **(env_kwargs or {})
    )
    rng = np.random.default_rng(seed)
    sampler = SegmentSampler(
        trajectories_to_segments(demonstrations), batch_size=batch_size, rng=rng, window=window, burn_in=burn_in
    )
    if n_batches is None:
        assert n_epochs is not None
        n_batches = max(1, math.ceil(n_epochs * sampler.n_steps / max(sampler.steps_per_batch, 1.0)))
    optimizer = torch.optim.Adam(actor.parameters(), lr=lr)
    scheduler = make_scheduler(optimizer, lr_schedule, n_batches)
    logger = logger or null_logger()
    best = BestCheckpoint(
        actor, env_id, n_episodes=validation_episodes, seed=seed, env_kwargs=env_kwargs, logger=logger
    )
    done = 0
    while done < n_batches:
        chunk = min(validate_every, n_batches - done)
        done += fit_sequence_bc(
            actor,
            sampler,
            n_batches=chunk,
            optimizer=optimizer,
            scheduler=scheduler,
            max_grad_norm=max_grad_norm,
            logger=logger,
            step_offset=done,
            progress_bar=progress_bar,
        )
        best(done)
        logger.dump(done)
    best.restore()
    return actor
