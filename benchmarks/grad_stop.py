"""Gradient-stopping sweep for the TTT actors: ``python -m benchmarks.grad_stop``.

A TTT actor (:class:`~ttt_gym.policies.TTTLinearActor`, :class:`~ttt_gym.policies.TTTE2EActor`) can skip an inner
update whose gradient norm is small (``grad_stop_threshold`` / ``grad_stop_rule`` of its config). This tool applies a
grid of (rule, threshold) settings to one trained actor at inference only (copies with the same weights, see
:func:`ttt_gym.policies.grad_stop.with_grad_stop`) and reports, per setting, over the same seeded episodes:

* mean return +- std and success rate (:func:`ttt_gym.evaluation.evaluate_success`, deterministic actions);
* the inner updates done and skipped, summed over the episodes from the ``inner_updates`` / ``skipped_updates``
  counters of the actor's state, and the mean inner-gradient norm of all the setting's decisions (the baseline's is
  the scale an ``absolute`` threshold is measured against; skipping changes the fast weights and so later norms);
* inner-update FLOPs per step: the FLOPs one update costs that a skipped one does not (measured once per actor with
  ``FlopCounterMode``: the same observations fed to a never-skipping and an always-skipping copy, see
  :func:`measure_flops_per_update`) times the updates actually done, divided by the steps of all episodes. A skipped
  update still pays for its stopping decision (the gradient with respect to the inner model's output), so this is
  what skipping saves, not all the inner loop costs;
* total FLOPs per step of ``predict``, counted by ``FlopCounterMode`` over the first ``flop_episodes`` episodes
  (matmuls only, as everywhere in the project: layer norms and other element-wise work are not counted). Counting
  makes ``predict`` some 20-30 times slower, hence one episode by default;
* per-step latency of ``predict`` (numpy in, numpy out, one env): the median and 90th percentile over every step of
  the evaluation episodes, with the machine's load average recorded next to it.

Threshold 0 is the no-stopping baseline (rule ``"none"`` in the rows); it is always evaluated, once, first. Every
setting sees the same episode seeds, so differences in return are paired, not independent, samples.

Example::

    python -m benchmarks.grad_stop --actor runs/train/cartpole.pt --env ttt_gym/MaskedCartPole-v1 \\
        --thresholds 1 2 4 --relative-thresholds 0.3 0.5 0.8 --episodes 200 \\
        --output runs/gradstop/cartpole.json --markdown runs/gradstop/cartpole.md
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks._common import command_line, write_json_atomic
from benchmarks._common import machine_info as _machine_info
from ttt_gym.evaluation import evaluate_success
from ttt_gym.policies.base import SequenceActor, State, load_actor
from ttt_gym.policies.grad_stop import GRAD_STOP_RULES, check_grad_stop_actor, check_setting, with_grad_stop

BASELINE_RULE = "none"
"""Rule name of the threshold-0 row (no update is ever skipped)."""


# ----------------------------------------------------------------------------------------------------------------
# Settings


def sweep_settings(
    thresholds: Iterable[float],
    rules: Sequence[str] = GRAD_STOP_RULES,
    relative_thresholds: Iterable[float] | None = None,
) -> list[tuple[str, float]]:
    """The (rule, threshold) grid: the baseline ``("none", 0.0)`` first, then each rule over its non-zero thresholds.

    Args:
        thresholds: thresholds of every rule (0 may be included; it is the baseline and is run once).
        rules: a subset of :data:`GRAD_STOP_RULES`.
        relative_thresholds: thresholds of the ``relative`` rule when they should differ from ``thresholds``
            (a relative threshold is a multiple of the running mean norm, an absolute one a norm).
    """
    thresholds = [float(t) for t in thresholds]
    relative = thresholds if relative_thresholds is None else [float(t) for t in relative_thresholds]
    if not rules:
        raise ValueError(f"No gradient-stopping rule given; pass some of {', '.join(GRAD_STOP_RULES)}.")
    for rule in rules:
        check_setting(0.0, rule)
    settings = [(BASELINE_RULE, 0.0)]
    for rule in dict.fromkeys(rules):
        for threshold in sorted(set(relative if rule == "relative" else thresholds)):
            check_setting(threshold, rule)
            if threshold > 0:
                settings.append((rule, threshold))
    return settings


# ----------------------------------------------------------------------------------------------------------------
# Measurements


class _InstrumentedActor:
    """Wraps an actor's ``predict`` for :func:`evaluate_success`: times or FLOP-counts each call, sums the counters.

    The counters live in the state, which ``predict`` resets in place at an episode start: an episode's counts are
    read when the next one starts (``state is None`` or ``episode_start``) and by :meth:`finish`.
    """

    def __init__(self, actor: SequenceActor, count_flops: bool = False) -> None:
        self.actor = actor
        self.observation_space = actor.observation_space  # evaluate_success reads it
        self.count_flops = count_flops
        self.step_ms: list[float] = []
        self.step_flops: list[int] = []
        self.inner_updates = 0.0
        self.skipped_updates = 0.0
        self.grad_norm_sum = 0.0
        self._state: State | None = None

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[np.ndarray, State]:
        if state is None or (episode_start is not None and bool(np.any(episode_start))):
            self.finish()
        if self.count_flops:
            with FlopCounterMode(display=False) as counter:
                action, state = self.actor.predict(observation, state, episode_start, deterministic)
            self.step_flops.append(counter.get_total_flops())
        else:
            start = time.perf_counter()
            action, state = self.actor.predict(observation, state, episode_start, deterministic)
            self.step_ms.append((time.perf_counter() - start) * 1e3)
        self._state = state
        return action, state

    def finish(self) -> None:
        """Add the counters of the episode in progress (call once after the last episode)."""
        if self._state is not None:
            self.inner_updates += float(self._state["inner_updates"].sum())
            self.skipped_updates += float(self._state["skipped_updates"].sum())
            self.grad_norm_sum += float(self._state["grad_norm_sum"].sum())
        self._state = None


def measure_flops_per_update(actor: SequenceActor, seed: int = 0) -> float:
    """FLOPs of one inner update that a skipped update does not spend (matmuls, ``FlopCounterMode``).

    Feeds the same random observations to a copy that never skips and to one that always skips, counts the FLOPs of
    the step after a whole mini-batch / chunk (for TTT-E2E the step that makes the chunk's update), and divides the
    difference by the updates the first copy made in that step. The cost of an update does not depend on the
    values, so any observations do.
    """
    config = check_grad_stop_actor(actor).config
    period = int(getattr(config, "chunk_size", 0) or getattr(config, "mini_batch_size", 1))
    shape = tuple(actor.observation_space.shape or ())
    observations = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(period + 1, *shape)).astype(np.float32)
    flops, updates = {}, {}
    for threshold in (0.0, math.inf):
        copy = with_grad_stop(actor, threshold, "absolute")
        state: State | None = None
        for observation in observations[:-1]:
            _, state = copy.predict(observation, state, deterministic=True)
        assert state is not None
        before = float(state["inner_updates"].sum())
        with FlopCounterMode(display=False) as counter:
            _, state = copy.predict(observations[-1], state, deterministic=True)
        flops[threshold], updates[threshold] = counter.get_total_flops(), float(state["inner_updates"].sum()) - before
    assert updates[math.inf] == 0 and updates[0.0] > 0, "the counted step should make an update when nothing skips"
    return (flops[0.0] - flops[math.inf]) / updates[0.0]


@dataclasses.dataclass(frozen=True)
class GradStopResult:
    """One row of the sweep: a (rule, threshold) setting and what it did over the evaluation episodes.

    Attributes:
        rule: ``"absolute"``, ``"relative"``, or ``"none"`` for the threshold-0 baseline.
        threshold: the gradient-stopping threshold (a norm for absolute, a multiple of the running mean for relative).
        episodes: evaluation episodes (seeds ``seed .. seed + episodes - 1``).
        mean_return: mean episode return.
        std_return: standard deviation of the episode returns.
        success_rate: fraction of episodes with ``info["success"]`` at the end.
        mean_length: mean episode length in steps.
        steps: env steps over all episodes.
        inner_updates: inner updates made, summed over the episodes (TTT-Linear: per token and layer; TTT-E2E: per
            chunk).
        skipped_updates: inner updates skipped, summed over the episodes.
        skipped_fraction: ``skipped_updates / (inner_updates + skipped_updates)``.
        mean_grad_norm: mean inner-gradient norm over all stopping decisions (done and skipped).
        flops_per_update: FLOPs one update costs that a skipped one does not (:func:`measure_flops_per_update`).
        inner_flops_per_step: ``flops_per_update * inner_updates / steps``: update FLOPs actually spent per step.
        flops_per_step: all FLOPs of ``predict`` per step, counted over the first ``flop_episodes`` episodes.
        flop_episodes: episodes ``flops_per_step`` was counted on.
        latency_ms: median wall-clock milliseconds of one ``predict`` call over every evaluation step.
        latency_ms_p90: 90th percentile of the same.
        load_average: the machine's 1-minute load average when the row finished.
    """

    rule: str
    threshold: float
    episodes: int
    mean_return: float
    std_return: float
    success_rate: float
    mean_length: float
    steps: int
    inner_updates: int
    skipped_updates: int
    skipped_fraction: float
    mean_grad_norm: float
    flops_per_update: float
    inner_flops_per_step: float
    flops_per_step: float
    flop_episodes: int
    latency_ms: float
    latency_ms_p90: float
    load_average: float


def evaluate_grad_stop(
    actor: SequenceActor,
    env_id: str,
    rule: str,
    threshold: float,
    *,
    n_episodes: int = 200,
    seed: int = 0,
    flop_episodes: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    flops_per_update: float | None = None,
) -> GradStopResult:
    """Evaluate one gradient-stopping setting of ``actor`` (see the module docstring for what is measured).

    Args:
        actor: a TTT actor; it is not modified (a copy with the setting is evaluated).
        env_id: a registered env id whose observations the actor takes.
        rule: ``"absolute"``, ``"relative"``, or ``"none"`` (threshold must then be 0).
        threshold: the threshold; 0 never skips.
        n_episodes: evaluation episodes, seeds ``seed, seed + 1, ...``.
        seed: seed of the first episode.
        flop_episodes: how many of those episodes are replayed under ``FlopCounterMode`` for ``flops_per_step``.
        env_kwargs: keyword arguments of ``gym.make`` (e.g. ``max_steps``).
        flops_per_update: :func:`measure_flops_per_update` of the actor, if already known (it is the same for every
            setting).
    """
    check_grad_stop_actor(actor)
    if rule == BASELINE_RULE:
        if threshold != 0:
            raise ValueError(f"The {BASELINE_RULE!r} rule is the threshold-0 baseline; got threshold {threshold}.")
        copy = with_grad_stop(actor, 0.0, actor.config.grad_stop_rule)  # type: ignore[attr-defined]
    else:
        copy = with_grad_stop(actor, threshold, rule)
    if n_episodes < 1 or not 1 <= flop_episodes <= n_episodes:
        raise ValueError(
            f"Need n_episodes >= 1 and 1 <= flop_episodes <= n_episodes, got {n_episodes} and {flop_episodes}."
        )
    if flops_per_update is None:
        flops_per_update = measure_flops_per_update(actor)

    timed = _InstrumentedActor(copy)
    result = evaluate_success(timed, env_id, n_episodes, seed=seed, env_kwargs=env_kwargs)
    timed.finish()
    counted = _InstrumentedActor(copy, count_flops=True)
    evaluate_success(counted, env_id, flop_episodes, seed=seed, env_kwargs=env_kwargs)  # the same first episodes

    steps = int(result.lengths.sum())
    decisions = timed.inner_updates + timed.skipped_updates
    return GradStopResult(
        rule=rule,
        threshold=float(threshold),
        episodes=n_episodes,
        mean_return=result.mean_return,
        std_return=result.std_return,
        success_rate=result.success_rate,
        mean_length=float(result.lengths.mean()),
        steps=steps,
        inner_updates=round(timed.inner_updates),
        skipped_updates=round(timed.skipped_updates),
        skipped_fraction=timed.skipped_updates / decisions if decisions else 0.0,
        mean_grad_norm=timed.grad_norm_sum / decisions if decisions else 0.0,
        flops_per_update=float(flops_per_update),
        inner_flops_per_step=flops_per_update * timed.inner_updates / steps,
        flops_per_step=float(np.mean(counted.step_flops)),
        flop_episodes=flop_episodes,
        latency_ms=float(np.median(timed.step_ms)),
        latency_ms_p90=float(np.percentile(timed.step_ms, 90)),
        load_average=os.getloadavg()[0],
    )


def sweep_grad_stop(
    actor: SequenceActor,
    env_id: str,
    *,
    thresholds: Iterable[float],
    rules: Sequence[str] = GRAD_STOP_RULES,
    relative_thresholds: Iterable[float] | None = None,
    n_episodes: int = 200,
    seed: int = 0,
    flop_episodes: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    on_result: Callable[[GradStopResult], None] | None = None,
) -> list[GradStopResult]:
    """:func:`evaluate_grad_stop` over :func:`sweep_settings` (the baseline first); ``on_result`` sees each row."""
    check_grad_stop_actor(actor)
    settings = sweep_settings(thresholds, rules, relative_thresholds)
    check_env(actor, env_id, env_kwargs)
    per_update = measure_flops_per_update(actor)
    results = []
    for rule, threshold in settings:
        row = evaluate_grad_stop(
            actor,
            env_id,
            rule,
            threshold,
            n_episodes=n_episodes,
            seed=seed,
            flop_episodes=flop_episodes,
            env_kwargs=env_kwargs,
            flops_per_update=per_update,
        )
        if on_result is not None:
            on_result(row)
        results.append(row)
    return results


def check_env(actor: SequenceActor, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
    """Raise a ValueError when the env's observations are not the ones the actor was built for."""
    env = gym.make(env_id, **(env_kwargs or {}))
    observation_space = env.observation_space
    env.close()
    if observation_space.shape != actor.observation_space.shape:
        raise ValueError(
            f"{env_id} has observations of shape {observation_space.shape} but the actor takes "
            f"{actor.observation_space.shape}; pass the env the actor was trained on."
        )


# ----------------------------------------------------------------------------------------------------------------
# Reports


def machine_info() -> dict[str, Any]:
    """:func:`benchmarks._common.machine_info` plus the current load averages (1, 5, 15 minutes)."""
    return {**_machine_info(), "load_average": list(os.getloadavg())}


def to_markdown(results: Sequence[GradStopResult], header: str) -> str:
    """A markdown table of the rows under a one-line ``header``."""
    lines = [
        header,
        "",
        "| rule | threshold | return (mean ± std) | success | skipped | mean grad norm | update kFLOP/step "
        "| total kFLOP/step | ms/step (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        lines.append(
            f"| {row.rule} | {row.threshold:g} | {row.mean_return:.2f} ± {row.std_return:.2f} | "
            f"{row.success_rate:.3f} | {100 * row.skipped_fraction:.1f}% | {row.mean_grad_norm:.4g} | "
            f"{row.inner_flops_per_step / 1e3:.2f} | {row.flops_per_step / 1e3:.2f} | {row.latency_ms:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--actor", required=True, help="a TTT-Linear or TTT-E2E actor file written by actor.save()")
    parser.add_argument("--env", required=True, help="env id, e.g. ttt_gym/MaskedCartPole-v1")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.01, 0.03, 0.1, 0.3])
    parser.add_argument("--rules", nargs="+", default=list(GRAD_STOP_RULES), help="absolute and/or relative")
    parser.add_argument(
        "--relative-thresholds", type=float, nargs="+", default=None, help="thresholds of the relative rule"
    )
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--flop-episodes", type=int, default=1, help="episodes replayed to count FLOPs per step")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--max-steps", type=int, default=None, help="override the env's episode length")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--output", default="runs/gradstop/results.json")
    parser.add_argument("--markdown", default=None, help="also write the table there")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    actor = load_actor(args.actor)
    env_kwargs = {} if args.max_steps is None else {"max_steps": args.max_steps}
    command = command_line("benchmarks.grad_stop", argv)
    machine = machine_info()
    print(f"{command}\n{type(actor).__name__} on {args.env}, {args.episodes} episodes; machine {machine}", flush=True)

    def show(row: GradStopResult) -> None:
        print(
            f"{row.rule:8s} {row.threshold:<8g} return {row.mean_return:8.2f} +- {row.std_return:7.2f}  "
            f"success {row.success_rate:.3f}  skipped {100 * row.skipped_fraction:5.1f}%  "
            f"grad norm {row.mean_grad_norm:.3g}  "
            f"update kFLOP/step {row.inner_flops_per_step / 1e3:8.2f}  total {row.flops_per_step / 1e3:9.2f}  "
            f"{row.latency_ms:.3f} ms/step",
            flush=True,
        )

    results = sweep_grad_stop(
        actor,
        args.env,
        thresholds=args.thresholds,
        rules=args.rules,
        relative_thresholds=args.relative_thresholds,
        n_episodes=args.episodes,
        seed=args.seed,
        flop_episodes=args.flop_episodes,
        env_kwargs=env_kwargs,
        on_result=show,
    )
    machine["load_average_end"] = list(os.getloadavg())
    report = {
        "command": command,
        "actor": str(args.actor),
        "actor_class": type(actor).__name__,
        "actor_config": dataclasses.asdict(actor.config),
        "env_id": args.env,
        "env_kwargs": env_kwargs,
        "episodes": args.episodes,
        "seed": args.seed,
        "machine": machine,
        "rows": [dataclasses.asdict(row) for row in results],
    }
    output = Path(args.output)
    write_json_atomic(output, report)
    print(f"wrote {output}")
    if args.markdown:
        header = (
            f"Gradient stopping, {type(actor).__name__} ({args.actor}) on {args.env}: {args.episodes} episodes "
            f"(seeds {args.seed}..{args.seed + args.episodes - 1}), torch {machine['torch']}, "
            f"{machine['torch_threads']} thread(s) on {machine['cpu_count']} CPUs, load average "
            f"{machine['load_average'][0]:.2f} -> {machine['load_average_end'][0]:.2f}."
        )
        markdown = Path(args.markdown)
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(to_markdown(results, header))
        print(f"wrote {markdown}")


if __name__ == "__main__":
    main()
