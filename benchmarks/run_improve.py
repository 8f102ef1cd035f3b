"""Test-time policy improvement (OPEX, SfBC, on-the-fly training) beside GC-TTT on one trained agent, one seed.

    python -m benchmarks.run_improve --config benchmarks/configs/improve/gciql-pointmaze-medium-navigate.json --seed 0

It loads the agent that ``benchmarks.run_agent`` trained (``runs/agents/{agent_run}-{dataset}-s{seed}.pt``, the
dataset name without ``-v0``) and
evaluates it with each method of the config's ``methods`` on OGBench's task protocol
(:func:`ttt_gym.goal_evaluation.evaluate_goal_policy`, deterministic actions), every method on the same test
episodes (reset seeds ``seed + i``, paired). A method parameter given as a list (OPEX's ``beta``) is chosen on
validation episodes first: reset seeds from ``validation.seed``, never a test seed; ``"gc-ttt+opex"`` takes OPEX's
chosen ``beta``. The result, with per-episode successes and per-step cost, goes to
``benchmarks/results/improve/{name}-s{seed}.json`` unless ``--output``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO_ROOT, output_path, read_config, run_record, seed_runs, write_json_atomic
from benchmarks.run_ttt import agent_path
from ttt_gym.agents import AGENTS

REQUIRED_KEYS = ("name", "agent", "env_name", "methods", "eval", "validation", "torch_threads")
METHODS = ("none", "opex", "sfbc", "otf", "gc-ttt", "gc-ttt+opex")


def build(method: str, settings: dict[str, Any], agent: Any, dataset: Any, beta: float | None) -> Any:
    """The policy to evaluate for ``method`` (``beta``: OPEX's step, chosen or given)."""
    from ttt_gym import OPEX, OnTheFlyTraining, SfBC, TestTimeTraining

    if method == "none":
        return agent
    if method == "opex":
        return OPEX(agent, beta=float(beta if beta is not None else settings["beta"]))
    if method == "sfbc":
        return SfBC(agent, n_samples=int(settings.get("n_samples", 32)))
    if method == "otf":
        return OnTheFlyTraining(agent, **settings)
    ttt = TestTimeTraining(agent, dataset, **settings.get("ttt", {}))
    if method == "gc-ttt":
        return ttt
    return OPEX(ttt, beta=float(beta if beta is not None else settings["beta"]))


def evaluate(
    policy: Any, env_name: str, tasks: list[int], episodes_per_task: int, seed: int, oracle: Any = None
) -> dict[str, Any]:
    """Success on the task protocol; with ``oracle``, also the error of the actions taken on the visited states."""
    from ttt_gym.goal_evaluation import evaluate_goal_policy
    from ttt_gym.improve import RecordingPolicy, action_mse

    tic = time.perf_counter()
    recorder = RecordingPolicy(policy) if oracle is not None else None
    result = evaluate_goal_policy(
        recorder or policy, env_name, tasks=tasks, episodes_per_task=episodes_per_task, seed=seed
    )
    accuracy = {}
    if recorder is not None:
        states, goals, actions = recorder.visited()
        accuracy = {"evaluation_mse": action_mse(np.clip(actions, -1, 1), oracle(states, goals))}
    return {
        **accuracy,
        "success": result.success_rate,
        "task_success": {str(task): rate for task, rate in result.task_success.items()},
        "successes": result.successes.astype(int).tolist(),
        "episode_lengths": result.lengths.tolist(),
        "policy_ms_per_step": round(result.policy_ms_per_step, 3),
        "seconds": round(time.perf_counter() - tic, 1),
    }


def bench_runs(config_path: Path, seeds: list[int], output_dir: Path | None) -> list[Any]:
    """``ttt-gym bench``: one run per seed (``main(["--config", PATH, "--seed", S])``)."""
    config = read_config(config_path, REQUIRED_KEYS, "a test-time improvement config")
    return seed_runs(
        "benchmarks.run_improve",
        config_path,
        config,
        seeds,
        REPO_ROOT / "benchmarks" / "results" / "improve",
        output_dir,
        stage=1,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_improve", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--seed", type=int, required=True, help="agent seed; test episodes use seed + i")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--agent-dir", type=Path, default=REPO_ROOT / "runs" / "agents")
    parser.add_argument("--episodes-per-task", type=int, help="smoke test only: fewer test episodes")
    args = parser.parse_args(argv)
    config = read_config(args.config, REQUIRED_KEYS, "a test-time improvement config")
    unknown = sorted(set(config["methods"]) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {METHODS}")
    smoke = "--episodes-per-task" if args.episodes_per_task else None
    out = output_path(
        parser,
        args.output,
        REPO_ROOT / "benchmarks/results/improve" / f"{config['name']}-s{args.seed}.json",
        smoke_flags=smoke,
    )

    import torch

    from ttt_gym.data import GoalDataset

    torch.set_num_threads(int(config["torch_threads"]))
    started, start_load = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    env_name = config["env_name"]
    run = config.get("agent_run", config["agent"])
    agent = AGENTS[config["agent"]].load(agent_path(args.agent_dir, run, env_name, args.seed))
    dataset = GoalDataset.from_name(env_name)
    tasks = list(config["eval"]["tasks"])
    test_episodes = int(args.episodes_per_task or config["eval"]["episodes_per_task"])
    validation = config["validation"]

    oracle = None
    accuracy: dict[str, float] = {}
    if config.get("accuracy"):
        from ttt_gym.goal_evaluation import make_goal_env
        from ttt_gym.improve import MazeOracle, action_mse

        oracle = MazeOracle(make_goal_env(env_name))
        rng = np.random.default_rng(args.seed)
        for split, data in (("training", dataset), ("validation", GoalDataset.from_name(env_name, split="val"))):
            batch = data.sample(5000, rng, agent.config.goal_sampling())
            actions, _ = agent.predict(batch.observations, goal=batch.actor_goals, deterministic=True)
            accuracy[f"{split}_mse"] = action_mse(actions, oracle(batch.observations, batch.actor_goals))
        print(f"policy error against the oracle: {accuracy}", flush=True)

    results: dict[str, Any] = {}
    chosen_beta: float | None = None
    for method, settings in config["methods"].items():
        beta = None
        grid = settings.get("beta") if method in ("opex", "gc-ttt+opex") else None
        if isinstance(grid, list):
            scores = {}
            for candidate in grid:
                policy = build(method, settings, agent, dataset, float(candidate))
                scores[candidate] = evaluate(
                    policy, env_name, tasks, int(validation["episodes_per_task"]), int(validation["seed"])
                )["success"]  # no oracle here: validation only chooses beta
                print(f"{method} beta={candidate}: validation success {scores[candidate]:.2f}", flush=True)
            beta = float(max(grid, key=lambda b: scores[b]))
            chosen_beta = beta if method == "opex" else chosen_beta
            settings = {**settings, "validation_success": scores}
        elif method == "gc-ttt+opex" and chosen_beta is not None and "beta" not in settings:
            beta = chosen_beta
        policy = build(method, {k: v for k, v in settings.items() if k != "validation_success"}, agent, dataset, beta)
        results[method] = {**evaluate(policy, env_name, tasks, test_episodes, args.seed, oracle), "beta": beta}
        print(f"{method}: test success {results[method]['success']:.3f} ({results[method]['seconds']} s)", flush=True)
        if "validation_success" in settings:
            results[method]["validation_success"] = {str(k): v for k, v in settings["validation_success"].items()}

    record = {
        "accuracy": accuracy,
        "name": config["name"],
        "seed": args.seed,
        "smoke": smoke is not None,
        "config": config,
        "methods": results,
    }
    record.update(run_record(started, module="benchmarks.run_improve", argv=argv, start=start_load))
    write_json_atomic(out, record)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
