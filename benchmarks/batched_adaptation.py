"""Cost of adapting many env indices at once: ``python -m benchmarks.batched_adaptation --config NAME``.

One ``TestTimeTraining.predict`` over a batch of E observations, all at an episode start, so every index selects and
fine-tunes once: with ``batched_adaptation=True`` (one vmapped loop for all, :mod:`ttt_gym.ttt.batched`) and with
``False`` (one index after another). The states and goals are dataset states (a synthetic 1M-transition maze unless
the config names a dataset file), so every selection is non-empty. Each (E, mode) is timed ``repeats`` times,
interleaved; the median goes to ``benchmarks/results/batched_adaptation/NAME.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from benchmarks._common import output_path, read_config, run_record, write_json_atomic
from benchmarks.selection_speed import synthetic_maze_dataset
from ttt_gym import TestTimeTraining
from ttt_gym.agents import AGENTS
from ttt_gym.data import GoalDataset
from ttt_gym.ttt.selection import make_selector

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "benchmarks" / "configs" / "batched_adaptation"
RESULT_DIR = REPO_ROOT / "benchmarks" / "results" / "batched_adaptation"
REQUIRED = ("name", "agent", "hidden_dims", "selector", "steps", "batch_size", "n_envs", "repeats", "torch_threads")


def matmul_gflops(size: int, repeats: int = 20, device: str | torch.device = "cpu") -> float:
    """The float32 matmul rate at ``size``^3 on ``device`` (CPU: the current torch threads), median of ``repeats``."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    synchronize = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        synchronize()
        tic = time.perf_counter()
        a @ b
        synchronize()
        times.append(time.perf_counter() - tic)
    return 2 * size**3 / float(np.median(times)) / 1e9


def adaptation_gflop(config: dict[str, Any], obs_dim: int, goal_dim: int, action_dim: int) -> float:
    """Matmul GFLOP of one adaptation: steps x batch x (forward + 2 backward) x 2 x the MLP's weights."""
    dims = [obs_dim + goal_dim, *config["hidden_dims"], action_dim]
    weights = sum(a * b for a, b in itertools.pairwise(dims))
    return float(config["steps"]) * float(config["batch_size"]) * 3 * 2 * weights / 1e9


def measure(config: dict[str, Any], device: str = "cpu") -> dict[str, Any]:
    """Median milliseconds of one all-adapting ``predict`` per (E, mode), and the adaptations counted."""
    torch.set_num_threads(int(config["torch_threads"]))
    dataset = GoalDataset.load(config["dataset"]) if config.get("dataset") else synthetic_maze_dataset()
    box = spaces.Box(-np.inf, np.inf, (dataset.observation_dim,), np.float32)
    actions = spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    agent = AGENTS[config["agent"]]((box, actions), hidden_dims=tuple(config["hidden_dims"]), device=device, seed=0)
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for n_envs in config["n_envs"]:
        picks = rng.integers(len(dataset), size=(2, n_envs))
        observation = {
            "observation": dataset.observations[picks[0]],
            "desired_goal": dataset.observations[picks[1]],
        }
        times: dict[bool, list[float]] = {True: [], False: []}
        counted: dict[bool, int] = {}
        for _ in range(int(config["repeats"])):
            for together in (True, False):
                ttt = TestTimeTraining(
                    agent,
                    dataset,
                    selector=make_selector(config["selector"], dataset),
                    steps=int(config["steps"]),
                    batch_size=int(config["batch_size"]),
                    batched_adaptation=together,
                    torch_threads=int(config["torch_threads"]),
                )
                tic = time.perf_counter()
                ttt.predict(observation, episode_start=np.ones(n_envs, dtype=bool), deterministic=True)
                times[together].append(1e3 * (time.perf_counter() - tic))
                counted[together] = ttt.stats.adaptations
                if together and n_envs > 1 and not ttt.batched_adaptation:
                    raise RuntimeError(f"{config['agent']}: the batched path fell back to one at a time")
        row = {
            "n_envs": n_envs,
            "together_ms": float(np.median(times[True])),
            "one_at_a_time_ms": float(np.median(times[False])),
            "together_ms_all": [round(t, 1) for t in times[True]],
            "one_at_a_time_ms_all": [round(t, 1) for t in times[False]],
            "adaptations": counted[True],
        }
        rows.append(row)
        print(
            f"E={n_envs:>3}: together {row['together_ms']:8.0f} ms, one at a time {row['one_at_a_time_ms']:8.0f} ms "
            f"({row['adaptations']} adaptations)",
            flush=True,
        )
    base = rows[0]["together_ms"] if rows and rows[0]["n_envs"] == 1 else None
    flop = adaptation_gflop(config, dataset.observation_dim, dataset.observation_dim, dataset.action_dim)
    for row in rows:
        row["together_vs_one_env"] = None if base is None else row["together_ms"] / base
        row["gflops_together"] = row["n_envs"] * flop / (row["together_ms"] / 1e3)
    sizes = (256, 1024, 8192) if agent.device.type == "cuda" else (256, 1024)
    rates = {str(size): round(matmul_gflops(size, device=agent.device), 1) for size in sizes}
    print(f"one adaptation {flop:.2f} GFLOP; matmul rate {rates} GFLOP/s", flush=True)
    return {
        "rows": rows,
        "dataset": repr(dataset),
        "adaptation_gflop": flop,
        "matmul_gflops": rates,
        "device": str(agent.device),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batched_adaptation", description=__doc__)
    parser.add_argument("--config", required=True, help="a name in benchmarks/configs/batched_adaptation/ or a path")
    parser.add_argument("--output", type=Path, help="result JSON (default results/batched_adaptation/NAME.json)")
    parser.add_argument("--device", default="cpu", help="where the agent and the adapted copies live (cpu, cuda)")
    args = parser.parse_args(argv)
    path = Path(args.config) if args.config.endswith(".json") else CONFIG_DIR / f"{args.config}.json"
    config = read_config(path, REQUIRED, "a batched-adaptation config")
    started, start_load = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    result = {"name": config["name"], "config": config, **measure(config, args.device)}
    result.update(run_record(started, module="benchmarks.batched_adaptation", argv=argv, start=start_load))
    out = output_path(parser, args.output, RESULT_DIR / f"{config['name']}.json")
    write_json_atomic(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
