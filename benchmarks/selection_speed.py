"""Time GC-TTT's data selection over a pointmaze-sized dataset: ``python -m benchmarks.selection_speed --help``.

Queries follow an episode (10 goals, each with states 100 steps apart along a walk of the data) and every selector
kind is timed: the first selection of a goal, the later ones, and the process CPU time. Figures and commands in
``docs/TTT.md`` ("Selectors"). :func:`synthetic_maze_dataset` is also the data of ``benchmarks.gc_ttt_step``.

The committed benchmark (issue 11: at most 20 ms per selection with a 512^3 critic over 1M transitions, whatever
the caller's thread setting, on an idle and on a busy machine)::

    .venv/bin/python -m benchmarks.selection_speed --config benchmarks/configs/selection_speed.json

For every selector kind, every ``global_threads`` (what the caller sets with ``torch.set_num_threads`` before
selecting; the selector keeps its own ``torch_threads=1`` for the critic calls) and every load (``idle``, or
``busy``: inside :func:`benchmarks._common.busy_neighbour`, another process using one core), the same queries run on
a fresh selector, so no critic value is cached from an earlier cell. Writes ``benchmarks/results/selection_speed.json``
(``--output``) after every cell and prints a markdown table. The other options override the config (a smoke run:
give ``--output``). Without ``--config``, the tool times a single setting (1 thread, idle, untrained 256x256 GCIQL
critic, the options' defaults), prints one line per kind and writes a result only if ``--output`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from benchmarks._common import REPO_ROOT, busy_neighbour, output_path, read_config, run_record, write_json_atomic
from ttt_gym.agents import GCIQL, GCIVL
from ttt_gym.data import GoalDataset, GoalSpace
from ttt_gym.ttt.selection import SELECTOR_KINDS, make_selector

DEFAULT_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "selection_speed.json"
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "selection_speed.json"
REQUIRED_KEYS = ("name", "dataset", "critic", "kinds", "queries", "global_threads", "loads")
CRITICS: dict[str, type[GCIQL] | type[GCIVL]] = {"gciql": GCIQL, "gcivl": GCIVL}
LOADS = ("idle", "busy")
CRITIC_FREE_KINDS = ("relevant-only", "critic-free", "random")
STATES_PER_GOAL = 10
"""Queries per goal: the first selection of a goal builds its caches, the later ones reuse them."""
SPACING_STEPS = 100
"""Dataset steps between a goal's consecutive query states (as with the wrapper's ``every=100``)."""

# A run without --config: the settings this tool had before it had a config.
WITHOUT_CONFIG: dict[str, Any] = {
    "name": "selection_speed",
    "dataset": {"path": None, "transitions": 1_000_000},
    "critic": {"agent": "gciql", "hidden_dims": [256, 256]},
    "kinds": ["relevant-only", "critic-free", "gc-ttt"],
    "selector_kwargs": {},
    "queries": 200,
    "global_threads": [1],
    "loads": ["idle"],
}


def synthetic_maze_dataset(
    n_transitions: int = 1_000_000, episode_length: int = 1001, extent: float = 21.0, seed: int = 0
) -> GoalDataset:
    """Noisy random walks with pointmaze-medium-navigate's size: 2-d positions in ``[-1, extent]^2``, steps <= 0.2.

    Directions change slowly (a smoothed random heading), so trajectories cover the square like the maze data.
    """
    rng = np.random.default_rng(seed)
    n_rows = n_transitions + n_transitions // (episode_length - 1) + 1
    heading = np.cumsum(rng.normal(0.0, 0.3, n_rows))
    actions = np.stack([np.cos(heading), np.sin(heading)], axis=1) + rng.normal(0.0, 0.5, (n_rows, 2))
    actions = np.clip(actions, -1.0, 1.0).astype(np.float32)
    positions = np.empty((n_rows, 2), dtype=np.float64)
    span = extent + 1.0
    for start in range(0, n_rows, episode_length):
        stop = min(start + episode_length, n_rows)
        steps = 0.2 * actions[start:stop].astype(np.float64)
        shifted = rng.uniform(0.0, span, 2) + np.cumsum(steps, axis=0) - steps[0]
        # Reflect at the walls of the square (the stored actions ignore the reflection: timing data only).
        positions[start:stop] = span - np.abs(np.mod(shifted, 2 * span) - span) - 1.0
    terminals = np.zeros(n_rows, dtype=bool)
    terminals[episode_length - 1 :: episode_length] = True
    terminals[-1] = True
    return GoalDataset.from_arrays(
        positions.astype(np.float32),
        actions,
        terminals,
        goal_space=GoalSpace(indices=(0, 1), group_size=2, tolerance=1.0),
        source="<synthetic maze>",
    )


def load_config(path: Path) -> dict[str, Any]:
    """Read and check the selection-speed config (see ``benchmarks/configs/selection_speed.json``)."""
    config = read_config(path, REQUIRED_KEYS, "the selection-speed config")
    unknown = [kind for kind in config["kinds"] if kind not in SELECTOR_KINDS]
    if unknown:
        raise ValueError(f"{path}: unknown selector kind(s) {unknown}; choose from {list(SELECTOR_KINDS)}.")
    if config["critic"].get("agent") not in CRITICS:
        raise ValueError(f"{path}: critic agent must be one of {list(CRITICS)}, got {config['critic'].get('agent')!r}.")
    bad_loads = [load for load in config["loads"] if load not in LOADS]
    if bad_loads:
        raise ValueError(f"{path}: unknown load(s) {bad_loads}; choose from {list(LOADS)}.")
    if not config["global_threads"] or min(int(n) for n in config["global_threads"]) < 1:
        raise ValueError(f"{path}: global_threads must list thread counts >= 1, got {config['global_threads']}.")
    return config


def episode_queries(dataset: GoalDataset, n_queries: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_queries`` (state, goal) pairs: goals in turn, each with ``STATES_PER_GOAL`` states ``SPACING_STEPS`` apart
    along a walk of the data, starting at a random row; the goal is a random dataset state."""
    rng = np.random.default_rng(seed)
    walk = STATES_PER_GOAL * SPACING_STEPS
    episode_starts = rng.integers(0, len(dataset) - walk, size=max(1, -(-n_queries // STATES_PER_GOAL)))
    queries = []
    for start in episode_starts:
        goal = dataset.observations[rng.integers(len(dataset))]
        queries += [(dataset.observations[start + SPACING_STEPS * k], goal) for k in range(STATES_PER_GOAL)]
    return queries[:n_queries]


def _percentile(values: list[float], q: float) -> float | None:
    return None if not values else round(float(np.percentile(values, q)), 3)


def time_cell(
    kind: str, dataset: GoalDataset, critic: Any, queries: list[tuple[np.ndarray, np.ndarray]], **selector_kwargs: Any
) -> dict[str, Any]:
    """The queries on a fresh selector of ``kind``: wall and process CPU milliseconds per selection, set sizes."""
    load_start = os.getloadavg()
    tic = time.perf_counter()
    selector = make_selector(kind, dataset, None if kind in CRITIC_FREE_KINDS else critic, **selector_kwargs)
    build_seconds = time.perf_counter() - tic
    first_ms: list[float] = []
    later_ms: list[float] = []
    cpu_ms: list[float] = []  # process CPU time: steadier than wall time when other processes share the cores
    relevant, selected = [], []
    cpu_start = time.process_time()
    for k, (state, goal) in enumerate(queries):
        cpu_tic = time.process_time()
        selector.select(state, goal)
        cpu_ms.append(1e3 * (time.process_time() - cpu_tic))
        (first_ms if k % STATES_PER_GOAL == 0 else later_ms).append(selector.stats.last_ms)
        relevant.append(selector.stats.last_relevant)
        selected.append(selector.stats.last_selected)
    return {
        "selector_torch_threads": getattr(selector, "torch_threads", None),
        "build_seconds": round(build_seconds, 3),
        "queries": len(queries),
        "first_ms_median": _percentile(first_ms, 50),
        "first_ms_p90": _percentile(first_ms, 90),
        "later_ms_median": _percentile(later_ms, 50),
        "later_ms_p90": _percentile(later_ms, 90),
        "cpu_ms_median": _percentile(cpu_ms, 50),
        "cpu_seconds": round(time.process_time() - cpu_start, 3),
        "relevant_mean": round(float(np.mean(relevant)), 1),
        "selected_mean": round(float(np.mean(selected)), 1),
        "critic_states_per_selection": round(selector.stats.critic_states / len(queries), 1),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "first_ms": [round(x, 3) for x in first_ms],
        "later_ms": [round(x, 3) for x in later_ms],
        "cpu_ms": [round(x, 3) for x in cpu_ms],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def cell_line(cell: dict[str, Any]) -> str:
    """One cell as a line of text (the tool's output before it had a table)."""

    def ms(value: float | None) -> str:
        return "     -" if value is None else f"{value:6.2f}"

    return (
        f"{cell['kind']:15s} build {cell['build_seconds']:5.2f} s | first selection of a goal: median "
        f"{ms(cell['first_ms_median'])} ms | later: median {ms(cell['later_ms_median'])} ms, p90 "
        f"{ms(cell['later_ms_p90'])} ms | CPU median {ms(cell['cpu_ms_median'])} ms | mean relevant "
        f"{cell['relevant_mean']:.0f}, selected {cell['selected_mean']:.0f}, critic states "
        f"{cell['critic_states_per_selection']:.0f} per selection | {cell['global_threads']} thread(s), {cell['load']}"
    )


def markdown_table(cells: list[dict[str, Any]]) -> str:
    """One row per cell: wall milliseconds of the first and later selections of a goal, CPU time, set sizes, load."""
    header = (
        "| selector | global threads | load | first selection of a goal: median (ms) | first: p90 (ms) "
        "| later: median (ms) | later: p90 (ms) | CPU median (ms) | CPU s | relevant | selected "
        "| critic states per selection | load avg (start, end) |"
    )
    lines = [header, "|---|---:|---|" + "---:|" * 9 + "---|"]
    for cell in cells:
        lines.append(
            f"| {cell['kind']} | {cell['global_threads']} | {cell['load']} | {_ms(cell['first_ms_median'])} "
            f"| {_ms(cell['first_ms_p90'])} | {_ms(cell['later_ms_median'])} | {_ms(cell['later_ms_p90'])} "
            f"| {_ms(cell['cpu_ms_median'])} | {cell['cpu_seconds']:.2f} | {cell['relevant_mean']:,.0f} "
            f"| {cell['selected_mean']:,.0f} | {cell['critic_states_per_selection']:,.0f} "
            f"| {cell['load_average_start'][0]:.2f}, {cell['load_average_end'][0]:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.selection_speed",
        description="Time one data selection over a pointmaze-sized dataset. The defaults below are those of a run "
        "without --config; with one, each option given overrides the config (a smoke run: give --output).",
    )
    parser.add_argument("--config", type=Path, default=None, help=f"e.g. {DEFAULT_CONFIG.relative_to(REPO_ROOT)}")
    parser.add_argument(
        "--output", type=Path, default=None, help=f"default with --config: {DEFAULT_OUTPUT.relative_to(REPO_ROOT)}"
    )
    parser.add_argument("--dataset", default=None, help="an OGBench .npz file (default: synthetic, 1M transitions)")
    parser.add_argument("--transitions", type=int, default=None, help="synthetic transitions (default 1M)")
    parser.add_argument("--queries", type=int, default=None, help="selections per cell (default 200)")
    parser.add_argument("--hidden-dims", type=int, nargs="*", default=None, help="critic widths (default 256 256)")
    parser.add_argument(
        "--critic", choices=tuple(CRITICS), default=None, help="whose (untrained) value network scores (default gciql)"
    )
    parser.add_argument(
        "--max-relevant", type=int, default=None, help="GoalRelatedSelector's max_relevant (default: the selector's)"
    )
    parser.add_argument("--threads", type=int, default=None, help="the caller's torch threads (default 1)")
    parser.add_argument("--loads", nargs="+", choices=LOADS, default=None, help="idle and/or busy (default idle)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")

    config = load_config(args.config) if args.config is not None else WITHOUT_CONFIG
    options = ("dataset", "transitions", "queries", "hidden_dims", "critic", "max_relevant", "threads", "loads")
    overrides = {name: getattr(args, name) for name in options if getattr(args, name) is not None}
    dataset_path = overrides.get("dataset", config["dataset"].get("path"))
    transitions = int(overrides.get("transitions", config["dataset"].get("transitions", 1_000_000)))
    critic_name = overrides.get("critic", config["critic"]["agent"])
    hidden_dims = [int(width) for width in overrides.get("hidden_dims", config["critic"]["hidden_dims"])]
    selector_kwargs = dict(config.get("selector_kwargs", {}))
    if "max_relevant" in overrides:
        selector_kwargs["max_relevant"] = overrides["max_relevant"]
    n_queries = int(overrides.get("queries", config["queries"]))
    global_threads = [int(n) for n in ([overrides["threads"]] if "threads" in overrides else config["global_threads"])]
    loads = list(overrides.get("loads", config["loads"]))
    output = None
    if args.config is not None or args.output is not None:
        smoke_flags = " ".join(f"--{name.replace('_', '-')}" for name in overrides) or None
        output = output_path(parser, args.output, DEFAULT_OUTPUT, smoke_flags=smoke_flags if args.config else None)
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()

    tic = time.perf_counter()
    dataset = GoalDataset.load(dataset_path) if dataset_path else synthetic_maze_dataset(transitions)
    dataset_seconds = time.perf_counter() - tic
    print(f"{dataset!r} ready in {dataset_seconds:.1f} s")
    obs_space = spaces.Box(-np.inf, np.inf, (dataset.observation_dim,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    critic_agent = CRITICS[critic_name]((obs_space, action_space), hidden_dims=tuple(hidden_dims), device="cpu")
    critic_agent.value(dataset.observations[:1024], dataset.observations[:1024])  # warm torch up outside the cells
    queries = episode_queries(dataset, n_queries)
    print(
        f"critic: untrained {critic_name} value network {hidden_dims}, selector kwargs: {selector_kwargs or 'defaults'}"
    )

    cells: list[dict[str, Any]] = []

    def save(*, complete: bool) -> dict[str, Any]:
        """Everything measured so far, written to ``output`` if there is one (after every cell)."""
        record: dict[str, Any] = {
            "name": config["name"],
            "config": config,
            "overrides": overrides,
            "smoke": args.config is None or bool(overrides),
            "complete": complete,
            "dataset": {"repr": repr(dataset), "rows": len(dataset), "seconds": round(dataset_seconds, 2)},
            "cells": cells,
            "table_markdown": markdown_table(cells),
            **run_record(started, module="benchmarks.selection_speed", argv=argv, start=load_start),
        }
        record["machine"]["torch_threads"] = global_threads  # the process's count varies by cell
        if output is not None:
            write_json_atomic(output, record)
        return record

    threads_before = torch.get_num_threads()
    try:
        for n_threads in global_threads:
            torch.set_num_threads(n_threads)
            for kind in config["kinds"]:
                for load in loads:  # idle and busy side by side: other jobs' load drifts less between them
                    with busy_neighbour() if load == "busy" else contextlib.nullcontext():
                        timing = time_cell(kind, dataset, critic_agent.value, queries, **selector_kwargs)
                    cells.append({"kind": kind, "global_threads": n_threads, "load": load, **timing})
                    save(complete=False)
                    print(cell_line(cells[-1]), flush=True)
    finally:
        torch.set_num_threads(threads_before)

    record = save(complete=True)
    if output is not None:
        print(record["table_markdown"])
        print(f"wrote {output}")
    return record


if __name__ == "__main__":
    main()
