"""The cost of GC-TTT per 1000-step episode: seconds, control frequency, and the share of the machine's matmul rate.

One result for issue 4 (the paper needed about 85 s per episode on a GPU; our goal is at most 10 s on 2 CPU cores at
batch 256)::

    .venv/bin/python -m benchmarks.ttt_cost --config benchmarks/configs/ttt_cost.json

For every thread count, method and batch size of the config, the script wraps the method's agent in
:class:`ttt_gym.TestTimeTraining` (K = ``every``, N = ``steps``) and runs ``repeats`` episodes of one OGBench
task with :func:`ttt_gym.goal_evaluation.evaluate_goal_policy`. Each repeat uses a fresh wrapper and selector, so no
critic values are cached from an earlier repeat. The env is built with ``terminate_at_goal=False``, so every episode
runs its full 1000 steps whatever the agent does, and every cell times the same number of steps. Per episode it
records:

* the wall-clock seconds of the whole episode (policy and env) and the control frequency ``steps / seconds``;
* the wrapper's selection and fine-tuning seconds (``TTTStats``);
* the rest of ``predict``: acting every step, restoring weights, bookkeeping. The env's share is reported apart;
* the process CPU seconds, a steadier measure than wall time when other processes share the cores;
* the FLOPs of the fine-tuning and of the selection's critic calls, per unit. They are counted once per cell with
  ``torch.utils.flop_counter.FlopCounterMode`` (matmul FLOPs: forward, backward and critic passes), outside the
  timed episodes. The achieved rate is divided by the rate of a 1024x512 @ 512x512 float32 matmul, timed just before
  the cell at the same thread count (:func:`benchmarks.agent_speed.matmul_gflops`).

The agents are GCBC and GCIVL with the config's widths, trained on 1 thread for ``pretrain.steps`` steps (the same
agents in every run). Cost does not depend on training quality, but an untrained actor stands still, and the
per-goal critic cache would then answer most selections. The fastest repeat of each cell is reported, with every
repeat kept in the JSON, because other processes may share the cores: the load averages at the start and end of
each cell are recorded. Writes ``benchmarks/results/ttt_cost.json`` (``--output``) after every cell and prints a
markdown table; ``--threads``, ``--methods``, ``--batch-sizes`` and ``--repeats`` run a part of the grid, and
``--append`` adds that part's cells to the existing result (each run's command and load are kept under ``runs``).

The machine's load is a dimension of the grid too (``loads`` in the config, ``["idle"]`` if absent; ``--loads idle
busy``). ``idle``: the benchmark starts nothing beside the cell (other processes may still run: see the load
averages). ``busy``: the cell runs inside :func:`benchmarks._common.busy_neighbour`, another process using one core,
as when two benchmark jobs share this 2-core machine. Each cell records its ``load``; a cell's idle and busy runs
follow each other, so that other jobs' load drifts little between them. Both cases, as issue 11 asks::

    .venv/bin/python -m benchmarks.ttt_cost --config benchmarks/configs/ttt_cost.json --loads idle busy
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    REPO_ROOT,
    busy_neighbour,
    command_line,
    git_commit,
    machine_info,
    read_config,
    write_json_atomic,
)

DEFAULT_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "ttt_cost.json"
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "ttt_cost.json"
REQUIRED_KEYS = ("name", "env_name", "hidden_dims", "pretrain", "ttt", "batch_sizes", "threads", "methods", "episode")
AGENTS = ("gcbc", "gcivl")
LOADS = ("idle", "busy")


def load_config(path: Path) -> dict[str, Any]:
    """Read and check the cost config (see ``benchmarks/configs/ttt_cost.json``)."""
    config = read_config(path, REQUIRED_KEYS, "the cost config")
    bad_loads = [load for load in config.get("loads", ["idle"]) if load not in LOADS]
    if bad_loads:
        raise ValueError(f"{path}: unknown load(s) {bad_loads}; loads lists {' and/or '.join(LOADS)}.")
    for method in config["methods"]:
        if method.get("agent") not in AGENTS:
            raise ValueError(f"{path}: method {method.get('name')!r}: agent must be one of {AGENTS}.")
        if method.get("selector") not in (None, "critic-free", "gc-ttt"):
            raise ValueError(f"{path}: method {method['name']!r}: selector must be null, 'critic-free' or 'gc-ttt'.")
        if method.get("selector") == "gc-ttt" and method.get("critic") not in ("own", *AGENTS):
            raise ValueError(f"{path}: method {method['name']!r}: 'gc-ttt' needs critic 'own' or 'gcivl'.")
        if method.get("critic") == "own" and method["agent"] == "gcbc":
            raise ValueError(f"{path}: method {method['name']!r}: GCBC has no critic; use critic 'gcivl'.")
    return config


# --------------------------------------------------------------------------------------------------------------------
# Agents and wrappers


def pretrain_agents(config: dict[str, Any], dataset: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """GCBC and GCIVL with the config's widths, trained for ``pretrain.steps`` steps; also the seconds it took."""
    from gymnasium import spaces

    from ttt_gym.agents import AGENTS as AGENT_CLASSES

    obs_space = spaces.Box(-np.inf, np.inf, (dataset.observation_dim,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    settings = config["pretrain"]
    agents, seconds = {}, {}
    needed = {method["agent"] for method in config["methods"]} | {
        method["critic"] for method in config["methods"] if method.get("critic") in AGENTS
    }
    for name in AGENTS:
        if name not in needed:
            continue
        tic = time.perf_counter()
        agent = AGENT_CLASSES[name](
            (obs_space, action_space),
            dataset,
            hidden_dims=tuple(config["hidden_dims"]),
            batch_size=int(settings["batch_size"]),
            seed=int(settings["seed"]),
            device="cpu",
        )
        agents[name] = agent.learn(int(settings["steps"]), progress_bar=False, log_interval=0)
        seconds[name] = round(time.perf_counter() - tic, 2)
    return agents, seconds


def wrapper_factory(
    method: dict[str, Any],
    config: dict[str, Any],
    agents: dict[str, Any],
    dataset: Any,
    batch_size: int,
    threads: int | None = None,
) -> Callable[[], Any]:
    """A function building a fresh wrapper (and selector) for ``method``, or the bare agent for ``selector: null``.

    ``threads``: the torch threads of the selection and fine-tuning (the wrapper's and selector's ``torch_threads``),
    so that a cell's thread count applies to all of its work; None keeps their default (one).
    """
    from ttt_gym.ttt.selection import make_selector
    from ttt_gym.ttt.wrapper import TestTimeTraining

    agent = agents[method["agent"]]
    kind = method.get("selector")
    if kind is None:
        return lambda: agent
    critic_name = method.get("critic")
    critic = None
    if critic_name == "own":
        critic = agent.value
    elif critic_name is not None:
        critic = agents[critic_name].value
    selector_kwargs = dict(method.get("selector_kwargs", {}))
    ttt_kwargs = {key: value for key, value in config["ttt"].items() if key != "note"}

    def build() -> Any:
        threading = {} if threads is None else {"torch_threads": threads}
        selector = make_selector(kind, dataset, critic, **{**threading, **selector_kwargs})
        return TestTimeTraining(agent, dataset, selector=selector, batch_size=batch_size, **{**threading, **ttt_kwargs})

    return build


def count_flops(build: Callable[[], Any], observation: dict[str, np.ndarray], dataset: Any) -> dict[str, float]:
    """Matmul FLOPs of one adaptation's fine-tuning, of one critic evaluation in selection, and of one action."""
    from torch.utils.flop_counter import FlopCounterMode

    from ttt_gym.ttt.selection import make_selector

    ttt = build()
    flops: dict[str, float] = {"finetune_per_adaptation": 0.0, "selection_per_critic_state": 0.0}
    with FlopCounterMode(display=False) as counter:
        ttt.selector.select(observation["observation"][0], observation["desired_goal"][0])
    if ttt.selector.stats.critic_states:
        flops["selection_per_critic_state"] = counter.get_total_flops() / ttt.selector.stats.critic_states
    # Fine-tuning does not depend on which data was selected: count it with a selection that is never empty.
    ttt.selector = make_selector("relevant-only", dataset, epsilon=float("inf"))
    with FlopCounterMode(display=False) as counter:
        ttt.predict(observation, episode_start=np.array([True]), deterministic=True)
    adapt_and_act = counter.get_total_flops()
    if ttt.stats.adaptations != 1:
        raise RuntimeError(f"FLOP count: expected one adaptation, got {ttt.stats}")
    with FlopCounterMode(display=False) as counter:
        ttt.predict(observation, deterministic=True)
    flops["act_per_step"] = counter.get_total_flops()
    flops["finetune_per_adaptation"] = adapt_and_act - flops["act_per_step"]
    return flops


def first_observation(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The batched first observation of the timed episodes (task and seed of the config)."""
    from ttt_gym.goal_evaluation import make_goal_env
    from ttt_gym.wrappers import GoalObservation

    episode = config["episode"]
    env = GoalObservation(make_goal_env(config["env_name"], **episode.get("env_kwargs", {})), full_goal=True)
    obs, _ = env.reset(seed=int(episode["seed"]), options=dict(task_id=int(episode["task"])))
    env.close()
    return {key: np.asarray(value, np.float32)[None] for key, value in obs.items()}


# --------------------------------------------------------------------------------------------------------------------
# Timing


def time_episode(model: Any, config: dict[str, Any]) -> dict[str, Any]:
    """One episode of the config's task; seconds in total and per part, counters of the wrapper."""
    from ttt_gym.goal_evaluation import evaluate_goal_policy

    episode = config["episode"]
    cpu_start = time.process_time()
    result = evaluate_goal_policy(
        model,
        config["env_name"],
        tasks=(int(episode["task"]),),
        episodes_per_task=1,
        seed=int(episode["seed"]),
        max_episode_steps=episode.get("max_episode_steps"),
        env_kwargs=episode.get("env_kwargs"),
    )
    cpu_seconds = time.process_time() - cpu_start
    steps = int(result.lengths.sum())
    total = steps / result.steps_per_second
    policy = result.policy_ms_per_step * steps / 1e3
    record: dict[str, Any] = {
        "steps": steps,
        "success": bool(result.successes.all()),
        "seconds": total,
        "cpu_seconds": cpu_seconds,
        "hz": result.steps_per_second,
        "policy_seconds": policy,
        "env_seconds": total - policy,
        "selection_seconds": 0.0,
        "finetune_seconds": 0.0,
        "acting_seconds": policy,
        "adaptations": 0,
        "too_little_data": 0,
        "adaptation_errors": 0,
        "critic_states": 0,
    }
    stats = getattr(model, "stats", None)
    if stats is not None:  # a TestTimeTraining wrapper
        record.update(
            selection_seconds=stats.selection_seconds,
            finetune_seconds=stats.training_seconds,
            acting_seconds=policy - stats.selection_seconds - stats.training_seconds,
            adaptations=stats.adaptations,
            too_little_data=stats.too_little_data,
            adaptation_errors=stats.adaptation_errors,
            critic_states=model.selector.stats.critic_states,
        )
        model.close()
    return record


def add_flop_rates(record: dict[str, Any], flops: dict[str, float], matmul_gflops: float) -> None:
    """FLOPs of the episode's fine-tuning and selection, the rates achieved, and their share of the matmul rate."""
    finetune = record["adaptations"] * flops["finetune_per_adaptation"]
    selection = record["critic_states"] * flops["selection_per_critic_state"]
    record["finetune_gflop"] = finetune / 1e9
    record["selection_gflop"] = selection / 1e9
    record["finetune_gflops"] = finetune / 1e9 / record["finetune_seconds"] if record["finetune_seconds"] else None
    adapting_seconds = record["finetune_seconds"] + record["selection_seconds"]
    record["adaptation_gflops"] = (finetune + selection) / 1e9 / adapting_seconds if adapting_seconds else None
    for key in ("finetune", "adaptation"):
        rate = record[f"{key}_gflops"]
        record[f"{key}_matmul_fraction"] = None if rate is None else rate / matmul_gflops


def run_cell(build: Callable[[], Any], flops: dict[str, float], config: dict[str, Any], repeats: int) -> dict[str, Any]:
    """``repeats`` timed episodes, each on a fresh wrapper; the fastest and all of them."""
    from benchmarks.agent_speed import matmul_gflops

    load_start = os.getloadavg()
    peak = matmul_gflops()
    episodes = []
    for _ in range(repeats):
        model = build()  # outside the timed episode: copies the policy, sorts the dataset for the selector
        record = time_episode(model, config)
        add_flop_rates(record, flops, peak)
        episodes.append(record)
    fastest = min(episodes, key=lambda record: record["seconds"])
    return {
        "matmul_gflops": peak,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "fastest": fastest,
        "episodes": episodes,
    }


# --------------------------------------------------------------------------------------------------------------------
# Report


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_table(cells: list[dict[str, Any]]) -> str:
    """One row per cell: the fastest repeat's seconds per part, rates and the load average.

    Cells measured before the load was recorded ran with no neighbour started: they read ``idle``.
    """
    header = (
        "| method | batch | threads | load | s / episode (fastest; all) | Hz | selection s | fine-tuning s "
        "| acting + other s | env s | CPU s | adaptations | ms per adaptation: selection + fine-tuning "
        "| fine-tuning GFLOP/s | % of matmul rate | load avg (start, end) |"
    )
    lines = [header, "|" + "---|" * 4 + "---:|" * 11 + "---|"]
    for cell in cells:
        best = cell["fastest"]
        all_seconds = ", ".join(f"{record['seconds']:.1f}" for record in cell["episodes"])
        attempts = max(best["adaptations"] + best["too_little_data"] + best["adaptation_errors"], 1)
        per_adaptation = (
            f"{1e3 * best['selection_seconds'] / attempts:,.0f} + {1e3 * best['finetune_seconds'] / attempts:,.0f}"
            if best["adaptations"]
            else "-"
        )
        fraction = best["finetune_matmul_fraction"]
        share = "-" if fraction is None else f"{100 * fraction:.0f}% of {cell['matmul_gflops']:.0f}"
        adaptations = str(best["adaptations"])
        if best["too_little_data"]:
            adaptations += f" (+{best['too_little_data']} empty)"
        lines.append(
            f"| {cell['label']} | {cell['batch_size'] or '-'} | {cell['threads']} | {cell.get('load', 'idle')} "
            f"| {best['seconds']:.1f} ({all_seconds}) | {best['hz']:.1f} | {best['selection_seconds']:.2f} "
            f"| {best['finetune_seconds']:.2f} | {best['acting_seconds']:.2f} | {best['env_seconds']:.2f} "
            f"| {best['cpu_seconds']:.1f} | {adaptations} | {per_adaptation} | {_fmt(best['finetune_gflops'], 1)} "
            f"| {share} | {cell['load_average_start'][0]:.2f}, {cell['load_average_end'][0]:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--threads", type=int, nargs="+", help="override the config's thread counts")
    parser.add_argument("--methods", nargs="+", help="run only these methods (by name)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="override the config's batch sizes")
    parser.add_argument("--repeats", type=int, help="override the config's repeats per cell")
    parser.add_argument(
        "--loads",
        nargs="+",
        choices=LOADS,
        help="override the config's loads (idle: nothing else started; busy: beside a process using one core)",
    )
    parser.add_argument(
        "--append", action="store_true", help="keep the cells already in --output and add this run's (one table)"
    )
    args = parser.parse_args(argv)

    import torch

    from ttt_gym.data import GoalDataset

    config = load_config(args.config)
    overrides = {
        key: value
        for key, value in (
            ("threads", args.threads),
            ("methods", args.methods),
            ("batch_sizes", args.batch_sizes),
            ("repeats", args.repeats),
            ("loads", args.loads),
        )
        if value is not None
    }
    threads = overrides.get("threads", config["threads"])
    repeats = int(overrides.get("repeats", config["episode"]["repeats"]))
    loads = list(overrides.get("loads", config.get("loads", ["idle"])))
    methods = [m for m in config["methods"] if "methods" not in overrides or m["name"] in overrides["methods"]]
    if not methods:
        raise ValueError(f"No method named {args.methods}; the config has {[m['name'] for m in config['methods']]}.")
    earlier_cells: list[dict[str, Any]] = []
    earlier_runs: list[dict[str, Any]] = []
    if args.append and args.output.is_file():
        earlier = json.loads(args.output.read_text())
        earlier_cells, earlier_runs = earlier["cells"], earlier["runs"]
    run_record: dict[str, Any] = {
        "command": command_line("benchmarks.ttt_cost", argv),
        "overrides": overrides,
        "git_commit": git_commit(),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_average_start": list(os.getloadavg()),
    }

    # One thread for training, whatever is timed: the same agents in every run.
    torch.set_num_threads(1)
    dataset = GoalDataset.from_name(config["env_name"], config.get("dataset_dir"))
    agents, pretrain_seconds = pretrain_agents(config, dataset)
    run_record["agents_trained_seconds"] = pretrain_seconds
    print(f"{dataset!r}; agents trained for {config['pretrain']['steps']} steps in {pretrain_seconds} s", flush=True)
    observation = first_observation(config)

    cells: list[dict[str, Any]] = []

    def save(*, complete: bool) -> dict[str, Any]:
        """Write everything measured so far (after every cell, so that an interrupted run keeps its cells)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        run_record["finished" if complete else "last_saved"] = now
        run_record["load_average_end"] = list(os.getloadavg())
        all_cells = earlier_cells + cells
        record = {
            "name": config["name"],
            "config": config,
            "machine": {**machine_info(), "torch_threads": sorted({cell["threads"] for cell in all_cells})},
            "agents": {
                "trained_steps": int(config["pretrain"]["steps"]),
                "note": "trained briefly, on 1 thread: cost does not depend on training quality (see the config)",
            },
            "runs": [*earlier_runs, {**run_record, "complete": complete}],
            "cells": all_cells,
            "table_markdown": markdown_table(all_cells),
        }
        write_json_atomic(args.output, record)
        return record

    for n_threads in threads:
        torch.set_num_threads(int(n_threads))
        for method in methods:
            batch_sizes = method.get("batch_sizes", config["batch_sizes"])
            if "batch_sizes" in overrides:
                batch_sizes = [b for b in batch_sizes if b in overrides["batch_sizes"]]
            for batch_size in [None] if method.get("selector") is None else batch_sizes:
                build = wrapper_factory(method, config, agents, dataset, int(batch_size or 1), int(n_threads))
                flops = {"finetune_per_adaptation": 0.0, "selection_per_critic_state": 0.0, "act_per_step": 0.0}
                if method.get("selector") is not None:
                    flops = count_flops(build, observation, dataset)  # also warms the code paths up
                for load in loads:
                    with busy_neighbour() if load == "busy" else contextlib.nullcontext():
                        timing = run_cell(build, flops, config, repeats)
                    cell = {
                        "method": method["name"],
                        "label": method.get("label", method["name"]),
                        "batch_size": batch_size,
                        "threads": int(n_threads),
                        "load": load,
                        "flops": flops,
                        **timing,
                    }
                    cells.append(cell)
                    save(complete=False)
                    print(markdown_table([cell]).splitlines()[-1], flush=True)

    record = save(complete=True)
    print(record["table_markdown"])
    print(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    main()
