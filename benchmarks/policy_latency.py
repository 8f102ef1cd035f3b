"""Inference and training cost of the actors against episode length: ``python -m benchmarks.policy_latency``.

**Inference.** One env, ``predict(deterministic=True)`` from numpy to numpy. The cost at length T is measured on the
window of the 16 steps ending at T (a whole TTT-E2E chunk, so its once-per-chunk update is amortised as it is in an
episode). Each actor first runs one episode up to the longest length; when it reaches step T - 16 its state is copied
(a snapshot), the window is run from copies of it once under torch's ``FlopCounterMode`` (matmul FLOPs, exact and
independent of the load) and once under the profiler with ``profile_memory`` (see :func:`peak_allocated_bytes`), and
the episode goes on from the uncopied state. Then come ``repeats`` timing rounds; a round runs every (length, actor)
window once, each from a fresh copy of its snapshot, so that all lengths of a round see about the same load from
other processes (a run of several minutes on a shared machine would otherwise mix load changes into the trend with
T). The fastest round counts. Every step of a window computes exactly what the episode computes at those steps, and a
repeat costs 16 steps instead of a whole episode. The state is built by stepping, never by a sequence-form "prefill":
the actors have no way to turn a sequence into a step state.

**Memory.** The state's bytes at T (the KV cache, fast weights or hidden state), the parameters' bytes, and the
peak extra bytes of a step from the profiler. torch has no memory statistics on the CPU; the profiler's allocation
events are exact for tensors but do not see the Python interpreter or the allocator's slack.

**Training.** One outer behaviour-cloning update: ``zero_grad``, ``actor.loss`` on a batch of random sequences (one
episode per row, Discrete actions), ``backward``, an Adam step, with the batch holding ``train_tokens`` steps in all
(``batch = train_tokens // T_train`` rows), so that only the length changes between columns. A first update per
(length, actor), untimed, counts FLOPs and the peak extra bytes (activations, the autograd graph, gradients); then
``train_repeats`` timing rounds over every (length, actor), the fastest counting. Adam's moment buffers are allocated
beforehand (a zero-gradient step), so they belong to the parameters' memory, not to the update's.

Writes a JSON file (``--output``: rows, crossovers, machine, load average, command) and a log-log plot (``--plot``,
needs matplotlib), and prints the tables as Markdown.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import functools
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from benchmarks._common import command_line, write_json_atomic
from benchmarks._common import machine_info as _machine_info
from ttt_gym.policies import ACTORS, SequenceActor, State

WINDOW = 16
"""Steps per measured window (the blog's M = 16: one TTT-E2E chunk, one TTT-Linear mini-batch)."""
OBSERVATION_SPACE = spaces.Box(-1.0, 1.0, (5,), dtype=np.float32)  # MysteryPath-sized
ACTION_SPACE = spaces.Discrete(4)
LABELS = {
    "transformer": "full attention (KV cache)",
    "ttt_linear": "TTT-Linear",
    "ttt_e2e": "TTT-E2E",
    "gru": "GRU",
}
CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    # for the tests: every actor as small as it goes
    "tiny": {
        "transformer": {"embed_dim": 16, "num_layers": 1, "num_heads": 2},
        "ttt_linear": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "mini_batch_size": 16},
        "ttt_e2e": {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "chunk_size": 16},
        "gru": {"embed_dim": 16, "hidden_dim": 16},
    },
    # the defaults of the actors (embed_dim 64, 2 layers, 2 heads, chunk / mini-batch 16)
    "small": {"transformer": {}, "ttt_linear": {}, "ttt_e2e": {}, "gru": {}},
    # the blog's Mystery Path configuration: D=512, L=4, H=2, M=16
    "blog": {
        "transformer": {"embed_dim": 512, "num_layers": 4, "num_heads": 2},
        "ttt_linear": {"embed_dim": 512, "num_layers": 4, "num_heads": 2, "mini_batch_size": 16},
        "ttt_e2e": {"embed_dim": 512, "num_layers": 4, "num_heads": 2, "chunk_size": 16},
        "gru": {"embed_dim": 512, "hidden_dim": 512, "num_layers": 4},
    },
}

ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
"""Environment variables that change the timings; the JSON records them."""

_T = TypeVar("_T")


def _cpu_sdpa_flop(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return int(sdpa_flop_count(query, key, value))


def _cpu_sdpa_backward_flop(
    grad_out: Any, query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    return int(sdpa_backward_flop_count(grad_out, query, key, value))


def flop_counter() -> FlopCounterMode:
    """torch's ``FlopCounterMode`` (matmuls), taught the CPU kernel of ``scaled_dot_product_attention``.

    torch 2.13 counts SDPA's CUDA kernels only; on the CPU the sequence form's attention
    (``F.scaled_dot_product_attention`` with a boolean mask) would count as 0 FLOPs. It is counted dense, masked-out
    entries included, as the kernel computes them. The step forms attend with plain matmuls, counted anyway.
    """
    aten = torch.ops.aten
    return FlopCounterMode(
        display=False,
        custom_mapping={
            aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop,
            aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward_flop,
        },
    )


# ----------------------------------------------------------------------------------------------------------------
# Measuring one thing


def make_actor_for(config: str, name: str) -> SequenceActor:
    """Actor ``name`` of :data:`CONFIGS` ``[config]`` on the Mystery Path-sized spaces the benchmark uses."""
    return ACTORS[name](OBSERVATION_SPACE, ACTION_SPACE, **CONFIGS[config][name])


def clone_state(state: State) -> State:
    """An independent copy: ``predict`` updates states in place, so a window run on the copy leaves ``state`` as is."""
    return {name: tensor.clone() for name, tensor in state.items()}


def state_bytes(state: State) -> int:
    """Bytes of the memory an env carries from step to step."""
    return sum(tensor.numel() * tensor.element_size() for tensor in state.values())


def parameter_bytes(module: torch.nn.Module) -> int:
    """Bytes of the parameters and buffers (the weights a step reads)."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def peak_allocated_bytes(fn: Callable[[], _T]) -> tuple[_T, int]:
    """Run ``fn`` under the profiler; the peak of the CPU bytes torch allocated during ``fn`` and had not yet freed.

    The profiler records the allocations and frees of torch's CPU allocator (``profile_memory``); their running sum in
    time order is the live extra memory. It does not report frees of memory allocated before ``fn`` started (torch
    warns "Memory block of unknown size..."), so a state tensor replaced by a new one counts as extra: the figure is
    the memory a step needs on top of what it held when it started, not its net growth.
    """
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    assert prof.profiler is not None and prof.profiler.kineto_results is not None
    events = [event for event in prof.profiler.kineto_results.events() if event.name() == "[memory]"]
    events.sort(key=lambda event: event.start_ns())
    live = np.cumsum([event.nbytes() for event in events]) if events else np.zeros(1)
    return result, max(0, int(live.max()))


def _copy(state: State | None) -> State | None:
    return None if state is None else clone_state(state)


def bc_update(
    actor: SequenceActor, optimizer: torch.optim.Optimizer, observations: torch.Tensor, actions: torch.Tensor
) -> None:
    """One outer behaviour-cloning update: ``zero_grad``, ``actor.loss``, ``backward``, ``optimizer.step``."""
    optimizer.zero_grad(set_to_none=True)
    loss, _ = actor.loss(observations, actions)
    loss.backward()
    optimizer.step()


def run_window(
    actor: SequenceActor, observations: np.ndarray, state: State | None, timed: bool = False
) -> tuple[State, np.ndarray]:
    """``predict`` over ``observations`` from ``state`` (None: a fresh episode); the milliseconds of each step."""
    milliseconds = np.zeros(len(observations))
    for t, observation in enumerate(observations):
        start = time.perf_counter() if timed else 0.0
        _, state = actor.predict(observation, state, deterministic=True)
        if timed:
            milliseconds[t] = (time.perf_counter() - start) * 1e3
    assert state is not None
    return state, milliseconds


# ----------------------------------------------------------------------------------------------------------------
# Inference and training


def measure_inference(
    actors: dict[str, SequenceActor], lengths: list[int], repeats: int, seed: int = 0, progress: bool = False
) -> list[dict[str, Any]]:
    """Per-step cost of each actor at each length (see the module docstring): one row per (actor, length).

    Row keys: ``actor``, ``length``, ``ms_per_step`` (fastest repeat's mean over the window; None without repeats),
    ``ms_per_step_repeats``, ``mflop_per_step``, ``state_bytes`` (at T), ``step_peak_extra_bytes`` (the window's
    peak above the memory held at its start).
    """
    lengths = sorted(set(lengths))
    if not lengths or lengths[0] < WINDOW:
        raise ValueError(f"Episode lengths must be >= {WINDOW} (the measured window), got {lengths}.")
    rng = np.random.default_rng(seed)
    observations = rng.uniform(-1, 1, size=(lengths[-1], *OBSERVATION_SPACE.shape)).astype(np.float32)
    windows = {length: observations[length - WINDOW : length] for length in lengths}
    # 1. The episode, once per actor: at each window a snapshot of the state, the FLOPs and the peak memory.
    snapshots: dict[tuple[str, int], State | None] = {}
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for name, actor in actors.items():
        state: State | None = None
        done = 0
        for length in lengths:
            begin = length - WINDOW
            if begin > done:
                state, _ = run_window(actor, observations[done:begin], state)
            snapshots[name, length] = _copy(state)
            with flop_counter() as counter:
                run_window(actor, windows[length], _copy(state))
            window_run = functools.partial(run_window, actor, windows[length], _copy(state))
            _, peak = peak_allocated_bytes(window_run)
            state, _ = run_window(actor, windows[length], state)
            done = length
            rows[name, length] = {
                "actor": name,
                "length": length,
                "ms_per_step": None,
                "ms_per_step_repeats": [],
                "mflop_per_step": counter.get_total_flops() / WINDOW / 1e6,
                "state_bytes": state_bytes(state),
                "step_peak_extra_bytes": peak,
            }
        if progress:
            print(f"{name}: stepped to T={lengths[-1]} (load {os.getloadavg()[0]:.2f})", flush=True)
    # 2. Timing in rounds: each round runs every (length, actor) window once from its snapshot, so that all lengths
    # of a round see about the same load from other processes.
    for round_index in range(repeats):
        for length in lengths:
            for name, actor in actors.items():
                _, milliseconds = run_window(actor, windows[length], _copy(snapshots[name, length]), timed=True)
                rows[name, length]["ms_per_step_repeats"].append(float(milliseconds.mean()))
        if progress:
            print(f"timing round {round_index + 1}/{repeats} done (load {os.getloadavg()[0]:.2f})", flush=True)
    for row in rows.values():
        row["ms_per_step"] = min(row["ms_per_step_repeats"]) if repeats else None
    return [rows[name, length] for name in actors for length in lengths]


def measure_training(
    actors: dict[str, SequenceActor],
    train_lengths: list[int],
    train_tokens: int,
    repeats: int,
    seed: int = 0,
    lr: float = 3e-4,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Cost of one outer BC update of each actor (a copy: ``actors`` are not changed) at each sequence length.

    Row keys: ``actor``, ``train_length``, ``batch``, ``tokens``, ``ms_per_update`` (fastest repeat; None without
    repeats), ``ms_per_update_repeats``, ``mflop_per_update``, ``update_peak_extra_bytes``.
    """
    models = {name: copy.deepcopy(actor) for name, actor in actors.items()}
    optimizers = {name: torch.optim.Adam(model.parameters(), lr=lr) for name, model in models.items()}
    for model, optimizer in zip(models.values(), optimizers.values(), strict=True):
        # A zero-gradient Adam step allocates the moment buffers and leaves the weights as they are.
        for parameter in model.parameters():
            parameter.grad = torch.zeros_like(parameter)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    generator = torch.Generator().manual_seed(seed)
    batches = {}
    for length in sorted(set(train_lengths)):
        batch = max(1, train_tokens // length)
        observations = torch.rand(batch, length, *OBSERVATION_SPACE.shape, generator=generator) * 2 - 1
        actions = torch.randint(0, int(ACTION_SPACE.n), (batch, length), generator=generator)
        batches[length] = (observations, actions)
    # 1. One update per (length, actor) counts FLOPs and the peak memory (and warms the allocator up).
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for length, (observations, actions) in batches.items():
        for name, model in models.items():
            update = functools.partial(bc_update, model, optimizers[name], observations, actions)
            with flop_counter() as counter:
                _, peak = peak_allocated_bytes(update)
            rows[name, length] = {
                "actor": name,
                "train_length": length,
                "batch": len(observations),
                "tokens": observations.shape[0] * observations.shape[1],
                "ms_per_update": None,
                "ms_per_update_repeats": [],
                "mflop_per_update": counter.get_total_flops() / 1e6,
                "update_peak_extra_bytes": peak,
            }
    # 2. Timing in rounds over every (length, actor), as for inference.
    for round_index in range(repeats):
        for length, (observations, actions) in batches.items():
            for name, model in models.items():
                start = time.perf_counter()
                bc_update(model, optimizers[name], observations, actions)
                rows[name, length]["ms_per_update_repeats"].append((time.perf_counter() - start) * 1e3)
        if progress:
            print(f"training round {round_index + 1}/{repeats} done (load {os.getloadavg()[0]:.2f})", flush=True)
    for row in rows.values():
        row["ms_per_update"] = min(row["ms_per_update_repeats"]) if repeats else None
    return [rows[name, length] for name in models for length in batches]


def crossover_length(lengths: list[int], growing: list[float], constant: list[float]) -> float | None:
    """The episode length from which ``growing`` stays above ``constant`` (linear interpolation between the two
    measured lengths around it); ``lengths[0]`` if it is above everywhere, None if it does not end above.
    """
    above = [g > c for g, c in zip(growing, constant, strict=True)]
    if not above or not above[-1]:
        return None
    first = len(above) - 1
    while first > 0 and above[first - 1]:
        first -= 1
    if first == 0:
        return float(lengths[0])
    t0, t1 = lengths[first - 1], lengths[first]
    d0, d1 = growing[first - 1] - constant[first - 1], growing[first] - constant[first]
    return t0 + (t1 - t0) * (0.0 - d0) / (d1 - d0)


def crossovers(rows: list[dict[str, Any]], reference: str = "transformer") -> dict[str, dict[str, float | None]]:
    """Per cost (``ms_per_step``, ``mflop_per_step``) and other actor: the T where ``reference`` becomes costlier."""
    actors = list(dict.fromkeys(row["actor"] for row in rows))
    if reference not in actors:
        return {}
    result: dict[str, dict[str, float | None]] = {}
    for key in ("ms_per_step", "mflop_per_step"):
        table = {name: {row["length"]: row[key] for row in rows if row["actor"] == name} for name in actors}
        lengths = sorted(table[reference])
        if any(value is None for value in table[reference].values()):
            continue
        result[key] = {
            name: crossover_length(lengths, [table[reference][t] for t in lengths], [table[name][t] for t in lengths])
            for name in actors
            if name != reference
        }
    return result


# ----------------------------------------------------------------------------------------------------------------
# Reporting


def machine_info() -> dict[str, Any]:
    """:func:`benchmarks._common.machine_info` plus the allocator variables that change the timings."""
    return {**_machine_info(), "environment": {name: os.environ.get(name) for name in ENVIRONMENT}}


def _fmt(value: float | None) -> str:
    """About three significant digits, never in exponent form for the magnitudes in these tables."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 100 or value == 0:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _mib(n_bytes: float) -> str:
    return _fmt(n_bytes / 2**20)


def markdown_tables(result: dict[str, Any]) -> str:
    """The result's tables in Markdown: latency, FLOPs, memory per length; training per sequence length."""
    rows, actors = result["inference"], list(result["actor_configs"])
    lengths = sorted({row["length"] for row in rows})
    cell = {(row["actor"], row["length"]): row for row in rows}
    columns = " | ".join(f"T={t}" for t in lengths)
    rule = "|---" * (len(lengths) + 1) + "|"
    out = []
    for title, key, in_bytes in (
        ("ms per step", "ms_per_step", False),
        ("MFLOP per step", "mflop_per_step", False),
        ("state MiB at T", "state_bytes", True),
        ("peak extra MiB during a step", "step_peak_extra_bytes", True),
    ):
        out += [f"| {title} | {columns} |", rule]
        for name in actors:
            values = [cell[name, t][key] for t in lengths]
            text = [_mib(v) if in_bytes else _fmt(v) for v in values]
            out.append(f"| {LABELS.get(name, name)} | " + " | ".join(text) + " |")
        out.append("")
    params = result["parameter_bytes"]
    out += [
        "| parameters MiB | " + " | ".join(LABELS.get(n, n) for n in actors) + " |",
        "|---" * (len(actors) + 1) + "|",
        "| | " + " | ".join(_mib(params[n]) for n in actors) + " |",
        "",
    ]
    if result["training"]:
        train = {(row["actor"], row["train_length"]): row for row in result["training"]}
        train_lengths = sorted({row["train_length"] for row in result["training"]})
        header = " | ".join(f"T={t} (B={train[actors[0], t]['batch']})" for t in train_lengths)
        train_rule = "|---" * (len(train_lengths) + 1) + "|"
        for title, key in (
            ("s per update", "ms_per_update"),
            ("GFLOP per update", "mflop_per_update"),
            ("peak extra MiB of an update", "update_peak_extra_bytes"),
        ):
            out += [f"| {title} | {header} |", train_rule]
            for name in actors:
                values = [train[name, t][key] for t in train_lengths]
                if key == "update_peak_extra_bytes":
                    text = [_mib(v) for v in values]
                else:
                    text = [_fmt(None if v is None else v / 1e3) for v in values]
                out.append(f"| {LABELS.get(name, name)} | " + " | ".join(text) + " |")
            out.append("")
    return "\n".join(out)


def plot(result: dict[str, Any], path: str | Path) -> None:
    """Log-log plot of latency, FLOPs and memory per step against T, and of the training update against T_train."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter
    except ImportError as error:
        raise ImportError("--plot needs matplotlib: pip install -e '.[test]' (or leave out --plot).") from error
    actors = list(result["actor_configs"])
    panels: list[tuple[str, str, str, str, Callable[[dict[str, Any]], float | None]]] = [
        ("inference", "length", "per-step latency (ms)", "episode length T", lambda r: r["ms_per_step"]),
        ("inference", "length", "per-step MFLOP", "episode length T", lambda r: r["mflop_per_step"]),
        (
            "inference",
            "length",
            "memory of a step: state + peak extra (MiB)",
            "episode length T",
            lambda r: (r["state_bytes"] + r["step_peak_extra_bytes"]) / 2**20,
        ),
        ("training", "train_length", "one BC update (s)", "training sequence length", _seconds),
    ]
    fig, grid = plt.subplots(2, 2, figsize=(10, 7.5), constrained_layout=True)
    axes = list(grid.flat)
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for ax, (table, x_key, title, x_label, value) in zip(axes, panels, strict=True):
        for name in actors:
            points = [(row[x_key], value(row)) for row in result[table] if row["actor"] == name]
            points = [(x, y) for x, y in points if y is not None and y > 0]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=LABELS.get(name, name))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(sorted({row[x_key] for row in result[table]})))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
        low, high = ax.get_ylim()
        few_decades = math.log10(high / low) < 1.5
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if few_decades else (1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(x_label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    if result["training"]:
        tokens = result["training"][0]["tokens"]
        axes[-1].set_title(f"one BC update, {tokens} steps per batch (s)", fontsize=10)
    machine = result["machine"]
    mmap_threshold = machine.get("environment", {}).get("MALLOC_MMAP_THRESHOLD_")
    allocator = "" if mmap_threshold is None else f", MALLOC_MMAP_THRESHOLD_={mmap_threshold}"
    fig.suptitle(
        f"config {result['config']}: {machine['cpu_count']}-core {machine['machine']} CPU, torch {machine['torch']}, "
        f"{machine['torch_threads']} thread(s), load average {result['load_average_start'][0]:.1f}"
        f"-{result['load_average_end'][0]:.1f}{allocator}",
        fontsize=9,
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _seconds(row: dict[str, Any]) -> float | None:
    return None if row["ms_per_update"] is None else row["ms_per_update"] / 1e3


# ----------------------------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print the Markdown tables, write ``--output`` / ``--plot``; returns the result dict."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 256, 1024, 4096, 8192])
    parser.add_argument("--actors", nargs="+", default=None, help="subset of the actors (default: all four)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--repeats", type=int, default=5, help="timing rounds over every window (each from a snapshot); fastest counts"
    )
    parser.add_argument(
        "--train-lengths",
        type=int,
        nargs="*",
        default=[128, 512, 2048],
        help="sequence lengths of the training updates (none: skip training)",
    )
    parser.add_argument("--train-tokens", type=int, default=2048, help="steps per training batch (rows = this / T)")
    parser.add_argument("--train-repeats", type=int, default=1, help="timing rounds of updates; fastest counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="JSON file for the rows, machine and load")
    parser.add_argument("--plot", type=Path, default=None, help="PNG file for the log-log plot (needs matplotlib)")
    args = parser.parse_args(argv)
    if min(args.lengths) < WINDOW:
        parser.error(f"lengths must be >= {WINDOW} (the measured window)")
    unknown = sorted(set(args.actors or ()) - set(CONFIGS[args.config]))
    if unknown:
        parser.error(f"unknown actor(s) {unknown}; choose from {sorted(CONFIGS[args.config])}")
    torch.set_num_threads(args.threads)
    configs = {name: config for name, config in CONFIGS[args.config].items() if not args.actors or name in args.actors}
    actors = {name: make_actor_for(args.config, name) for name in configs}
    load_start = os.getloadavg()
    started = time.perf_counter()
    print(f"config={args.config} threads={args.threads} repeats={args.repeats} load average {load_start[0]:.2f}")
    inference = measure_inference(actors, args.lengths, args.repeats, seed=args.seed, progress=True)
    training = measure_training(
        actors, args.train_lengths, args.train_tokens, args.train_repeats, seed=args.seed, progress=True
    )
    load_end = os.getloadavg()
    result = {
        "command": command_line("benchmarks.policy_latency", argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "config": args.config,
        "actor_configs": configs,
        "settings": {
            "window_steps": WINDOW,
            "lengths": sorted(set(args.lengths)),
            "repeats": args.repeats,
            "train_lengths": sorted(set(args.train_lengths)),
            "train_tokens": args.train_tokens,
            "train_repeats": args.train_repeats,
            "seed": args.seed,
            "observation_space": str(OBSERVATION_SPACE),
            "action_space": str(ACTION_SPACE),
            "optimizer": "Adam(lr=3e-4)",
        },
        "machine": machine_info(),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "wall_s": round(time.perf_counter() - started, 1),
        "parameter_bytes": {name: parameter_bytes(actor) for name, actor in actors.items()},
        "inference": inference,
        "training": training,
        "crossovers": crossovers(inference),
    }
    print(f"load average after: {load_end[0]:.2f}; {result['wall_s']:.0f} s\n")
    print(markdown_tables(result))
    print("crossovers (T from which full attention costs more):", json.dumps(result["crossovers"]))
    if args.output is not None:
        write_json_atomic(args.output, result)
    if args.plot is not None:
        plot(result, args.plot)
    return result


if __name__ == "__main__":
    main()
