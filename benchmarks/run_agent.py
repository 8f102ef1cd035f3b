"""Train one offline goal-conditioned agent from a committed config, evaluate it, write one JSON result.

One run is one cell of the table in ``docs/BENCHMARKS.md`` ("Offline agents") for one seed::

    .venv/bin/python -m benchmarks.run_agent --config benchmarks/configs/gciql-pointmaze-medium-navigate.json --seed 0

The agent gets OGBench's per-environment hyperparameters (``ogbench_hyperparameters``), overridden by the config's
``agent_overrides`` (the reduced CPU budget: network widths, batch size), is trained for the config's ``train_steps``
with ``torch.set_num_threads(config["torch_threads"])``, saved to ``runs/agents/{name}-s{seed}.pt``, and evaluated with
OGBench's task protocol (:func:`ttt_gym.goal_evaluation.evaluate_goal_policy`, tasks 1-5, deterministic actions,
episodes reset with ``seed + i``). The result goes to ``benchmarks/results/{name}-s{seed}.json`` unless ``--output``.

``--train-steps`` and ``--episodes-per-task`` override the config for a smoke test; such a result is marked
``"smoke": true`` and ``benchmarks.summarize`` ignores it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, output_path, read_config, run_record, seed_runs, write_json_atomic
from ttt_gym.agents import AGENTS

REQUIRED_KEYS = ("name", "agent", "env_name", "train_steps", "agent_overrides", "eval", "torch_threads")


def load_config(path: Path) -> dict[str, Any]:
    """Read and check a benchmark config (see ``benchmarks/configs/*.json``)."""
    config = read_config(path, REQUIRED_KEYS, "a benchmark config")
    if config["agent"] not in AGENTS:
        raise ValueError(f"{path}: agent must be one of {tuple(AGENTS)}, got {config['agent']!r}.")
    if path.stem != config["name"]:
        raise ValueError(f"{path}: the file name must be the config's name ({config['name']!r}.json).")
    return config


def run(
    config: dict[str, Any], seed: int, *, smoke: bool, agent_dir: Path, argv: list[str] | None = None
) -> dict[str, Any]:
    """Train, save and evaluate one agent; return the result record."""
    import torch

    torch.set_num_threads(int(config["torch_threads"]))
    from stable_baselines3.common.logger import configure

    from ttt_gym.agents import ogbench_hyperparameters
    from ttt_gym.data import GoalDataset
    from ttt_gym.goal_evaluation import evaluate_goal_policy, make_goal_env

    name, env_name = config["name"], config["env_name"]
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()

    tic = time.perf_counter()
    dataset = GoalDataset.from_name(env_name)
    env = make_goal_env(env_name)
    load_seconds = time.perf_counter() - tic

    hyperparameters = {**ogbench_hyperparameters(config["agent"], env_name), **config["agent_overrides"], "seed": seed}
    agent = AGENTS[config["agent"]](env, dataset, **hyperparameters)
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
        **run_record(
            started, module="benchmarks.run_agent", argv=argv, start=load_start, after_training=load_after_training
        ),
    }


def bench_runs(config_path: Path, seeds: list[int], output_dir: Path | None) -> list[Any]:
    """``ttt-gym bench``: one run per seed (``main(["--config", PATH, "--seed", S])``); a config in a folder of
    ``benchmarks/configs/`` (``flop_matched/``) has its results in the same folder of ``benchmarks/results/``."""
    config = load_config(config_path)
    results = REPO_ROOT / "benchmarks" / "results"
    folder = config_path.resolve().parent.name
    default = results if folder == "configs" else results / folder
    if output_dir is None and default != results:
        output_dir = default  # the runner's own default is benchmarks/results/: say --output
    return seed_runs("benchmarks.run_agent", config_path, config, seeds, results, output_dir)


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
    default = REPO_ROOT / "benchmarks" / "results" / f"{config['name']}-s{args.seed}.json"
    output = output_path(
        parser, args.output, default, smoke_flags="--train-steps / --episodes-per-task" if smoke else None
    )
    args.agent_dir.mkdir(parents=True, exist_ok=True)

    record = run(config, args.seed, smoke=smoke, agent_dir=args.agent_dir.resolve(), argv=argv)
    write_json_atomic(output, record)
    print(f"wrote {output}", flush=True)


if __name__ == "__main__":
    main()
