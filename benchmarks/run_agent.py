"""Train one offline goal-conditioned agent from a committed config, evaluate it, write one JSON result.

One run is one cell of the table in ``docs/BENCHMARKS.md`` ("Offline agents") for one seed::

    .venv/bin/python benchmarks/run_agent.py --config benchmarks/configs/gciql-pointmaze-medium-navigate.json --seed 0

The agent gets OGBench's per-environment hyperparameters (``ogbench_hyperparameters``), overridden by the config's
``agent_overrides`` (the reduced CPU budget: network widths, batch size), is trained for the config's ``train_steps``
with ``torch.set_num_threads(config["torch_threads"])``, saved to ``runs/agents/{name}-s{seed}.pt``, and evaluated with
OGBench's task protocol (:func:`ttt_gym.goal_evaluation.evaluate_goal_policy`, tasks 1-5, deterministic actions,
episodes reset with ``seed + i``). The result goes to ``benchmarks/results/{name}-s{seed}.json`` unless ``--output``.

``--train-steps`` and ``--episodes-per-task`` override the config for a smoke test; such a result is marked
``"smoke": true`` and ``summarize.py`` ignores it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ttt_gym._machine import machine_info

REPO_ROOT = Path(__file__).resolve().parent.parent
AGENT_NAMES = ("gcbc", "gcivl", "gciql")
REQUIRED_KEYS = ("name", "agent", "env_name", "train_steps", "agent_overrides", "eval", "torch_threads")


def read_config(path: Path, required: tuple[str, ...], kind: str) -> dict[str, Any]:
    """The JSON config at ``path``; a ValueError naming the missing keys unless it has all of ``required``."""
    with open(path) as f:
        config = json.load(f)
    missing = [key for key in required if key not in config]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; {kind} needs {list(required)}.")
    return config


def load_config(path: Path) -> dict[str, Any]:
    """Read and check a benchmark config (see ``benchmarks/configs/*.json``)."""
    config = read_config(path, REQUIRED_KEYS, "a benchmark config")
    if config["agent"] not in AGENT_NAMES:
        raise ValueError(f"{path}: agent must be one of {AGENT_NAMES}, got {config['agent']!r}.")
    if path.stem != config["name"]:
        raise ValueError(f"{path}: the file name must be the config's name ({config['name']!r}.json).")
    return config


def git_commit() -> str | None:
    """The commit of the working tree (with ``+dirty`` if it has local changes), or None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def run_record(started: dt.datetime, **load_averages: tuple[float, ...]) -> dict[str, Any]:
    """The provenance fields every benchmark result ends with: the machine (with the load averages read during the
    run, e.g. ``load_average_start=os.getloadavg()``, and the one at the end), the commit, the times, the command."""
    loads = {f"load_average_{name}": [round(x, 2) for x in values] for name, values in load_averages.items()}
    return {
        "machine": {**machine_info(), **loads, "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "git_commit": git_commit(),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def run(config: dict[str, Any], seed: int, *, smoke: bool, agent_dir: Path) -> dict[str, Any]:
    """Train, save and evaluate one agent; return the result record."""
    import torch

    torch.set_num_threads(int(config["torch_threads"]))
    from stable_baselines3.common.logger import configure

    from ttt_gym.agents import GCBC, GCIQL, GCIVL, ogbench_hyperparameters
    from ttt_gym.data import GoalDataset
    from ttt_gym.goal_evaluation import evaluate_goal_policy, make_goal_env

    agent_classes = {"gcbc": GCBC, "gcivl": GCIVL, "gciql": GCIQL}
    name, env_name = config["name"], config["env_name"]
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()

    tic = time.perf_counter()
    dataset = GoalDataset.from_name(env_name)
    env = make_goal_env(env_name)
    load_seconds = time.perf_counter() - tic

    hyperparameters = {**ogbench_hyperparameters(config["agent"], env_name), **config["agent_overrides"], "seed": seed}
    agent = agent_classes[config["agent"]](env, dataset, **hyperparameters)
    env.close()

    run_name = f"{name}-s{seed}" + ("-smoke" if smoke else "")
    log_dir = agent_dir / run_name
    agent.set_logger(configure(str(log_dir), ["stdout", "csv"]))
    train_steps = int(config["train_steps"])
    print(f"[{run_name}] training {train_steps} steps; hyperparameters {hyperparameters}", flush=True)
    tic = time.perf_counter()
    agent.learn(train_steps, progress_bar=False, log_interval=int(config.get("log_interval", 1000)))
    train_seconds = time.perf_counter() - tic
    load_after_training = os.getloadavg()
    agent_path = agent_dir / f"{run_name}.pt"
    agent.save(agent_path)
    print(f"[{run_name}] trained in {train_seconds:.1f} s ({train_steps / train_seconds:.1f} steps/s)", flush=True)

    evaluation = config["eval"]
    tic = time.perf_counter()
    result = evaluate_goal_policy(
        agent,
        env_name,
        tasks=tuple(evaluation.get("tasks", (1, 2, 3, 4, 5))),
        episodes_per_task=int(evaluation["episodes_per_task"]),
        seed=seed,
    )
    eval_seconds = time.perf_counter() - tic
    print(f"[{run_name}] {result} (evaluation {eval_seconds:.1f} s)", flush=True)

    return {
        "name": name,
        "seed": seed,
        "smoke": smoke,
        "config": config,
        "hyperparameters": {key: list(v) if isinstance(v, tuple) else v for key, v in hyperparameters.items()},
        "agent_config": {key: list(v) if isinstance(v, tuple) else v for key, v in vars(agent.config).items()},
        "train_steps": train_steps,
        "train_seconds": round(train_seconds, 2),
        "steps_per_second": round(train_steps / train_seconds, 2),
        "load_seconds": round(load_seconds, 2),
        "eval_seconds": round(eval_seconds, 2),
        "success": result.success_rate,
        "task_success": {str(task): rate for task, rate in result.task_success.items()},
        "successes": result.successes.astype(int).tolist(),
        "episode_lengths": result.lengths.tolist(),
        "eval_steps_per_second": round(result.steps_per_second, 1),
        "policy_ms_per_step": round(result.policy_ms_per_step, 3),
        "agent_path": str(agent_path.relative_to(REPO_ROOT) if agent_path.is_relative_to(REPO_ROOT) else agent_path),
        **run_record(started, start=load_start, after_training=load_after_training),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="benchmarks/configs/NAME.json")
    parser.add_argument("--seed", type=int, required=True, help="agent seed; evaluation episodes use seed + i")
    parser.add_argument("--output", type=Path, help="result JSON (default benchmarks/results/NAME-sSEED.json)")
    parser.add_argument("--agent-dir", type=Path, default=REPO_ROOT / "runs" / "agents", help="saved agents, CSV logs")
    parser.add_argument("--train-steps", type=int, help="smoke test only: override the config's train_steps")
    parser.add_argument("--episodes-per-task", type=int, help="smoke test only: override the config's episodes")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    smoke = args.train_steps is not None or args.episodes_per_task is not None
    if args.train_steps is not None:
        config["train_steps"] = args.train_steps
    if args.episodes_per_task is not None:
        config["eval"] = {**config["eval"], "episodes_per_task": args.episodes_per_task}
    if smoke and args.output is None:
        parser.error("--train-steps / --episodes-per-task make a smoke run: give --output so no result is overwritten.")
    output = args.output or REPO_ROOT / "benchmarks" / "results" / f"{config['name']}-s{args.seed}.json"
    args.agent_dir.mkdir(parents=True, exist_ok=True)

    record = run(config, args.seed, smoke=smoke, agent_dir=args.agent_dir.resolve())
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.replace(output)  # atomic: a crashed run never leaves a result that summarize.py would count
    print(f"wrote {output}", flush=True)


if __name__ == "__main__":
    main()
