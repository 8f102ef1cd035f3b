"""Is a trained goal-conditioned critic good enough to select data with? Its values against the maze's true distances.

GC-TTT's selection trusts the critic to tell which states are closer to the goal. On a point-mass maze the truth is
known: the BFS distance between cells. This script scores a trained critic (``V(s, g)`` of a GCIVL or GCIQL run of
``benchmarks.run_agent``) on every pair of open cells (cell centres as state and goal):

* **next-cell accuracy**: from each cell, the open neighbour the critic values most is one step closer to the goal
  by BFS (a critic that follows the maze's walls gets this right; one that rises along the straight line leads into
  dead ends). Reported over all pairs and by BFS distance;
* **rank correlation** (Spearman) between ``V`` and minus the BFS distance over all pairs;
* the **steps to the goal** that ``V`` implies, ``log(1 + (1 - gamma) V) / log(gamma)``, against BFS cells;
* per **evaluation task**: whether moving cell by cell to the neighbour the critic values most leads from the task's
  start cell to its goal cell (within three times the BFS distance).

    .venv/bin/python -m benchmarks.critic_quality --critic gcivl --env pointmaze-medium-stitch-v0 --seeds 0 1 2

Each (critic, env, seed) writes ``benchmarks/results/critic_quality/{critic}-{dataset}-s{seed}.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO_ROOT, run_record, write_json_atomic
from benchmarks.run_ttt import agent_path

RESULT_DIR = REPO_ROOT / "benchmarks" / "results" / "critic_quality"
DISTANCE_BUCKETS = ((1, 3), (4, 7), (8, 1000))
"""BFS distances (cells) over which next-cell accuracy is also reported."""


def open_cells(maze_map: np.ndarray) -> list[tuple[int, int]]:
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(np.asarray(maze_map) == 0), strict=True)]


def bfs_distances(maze_map: np.ndarray, cells: list[tuple[int, int]]) -> np.ndarray:
    """``D[a, b]``: 4-neighbour BFS steps from ``cells[a]`` to ``cells[b]`` (-1 where unreachable)."""
    index = {cell: k for k, cell in enumerate(cells)}
    distances = np.full((len(cells), len(cells)), -1, dtype=int)
    for source, cell in enumerate(cells):
        distances[source, source] = 0
        queue = deque([cell])
        while queue:
            i, j = queue.popleft()
            for neighbour in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                k = index.get(neighbour)
                if k is not None and distances[source, k] < 0:
                    distances[source, k] = distances[source, index[(i, j)]] + 1
                    queue.append(neighbour)
    return distances


def neighbours(cells: list[tuple[int, int]]) -> list[list[int]]:
    index = {cell: k for k, cell in enumerate(cells)}
    return [[index[n] for n in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if n in index] for i, j in cells]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def score_critic(
    values: np.ndarray, distances: np.ndarray, adjacent: list[list[int]], discount: float
) -> dict[str, Any]:
    """Metrics of ``values[a, b] = V(cell a, goal cell b)`` against BFS ``distances``."""
    n = len(distances)
    correct: list[bool] = []
    by_bucket: dict[tuple[int, int], list[bool]] = {bucket: [] for bucket in DISTANCE_BUCKETS}
    for a in range(n):
        for b in range(n):
            d = distances[a, b]
            if d <= 0:
                continue
            best = max(adjacent[a], key=lambda k: values[k, b])
            ok = distances[best, b] == d - 1
            correct.append(ok)
            for low, high in DISTANCE_BUCKETS:
                if low <= d <= high:
                    by_bucket[(low, high)].append(ok)
    reachable = distances > 0
    steps = np.log(np.clip(1.0 + (1.0 - discount) * values, 1e-12, None)) / np.log(discount)
    return {
        "next_cell_accuracy": float(np.mean(correct)),
        "next_cell_accuracy_by_distance": {
            f"{low}-{high if high < 1000 else 'max'}": float(np.mean(v)) if v else None
            for (low, high), v in by_bucket.items()
        },
        "spearman_value_vs_minus_distance": spearman(values[reachable], -distances[reachable]),
        "implied_steps_per_cell": float(np.median(steps[reachable] / distances[reachable])),
        "pairs": int(reachable.sum()),
        "cells": n,
    }


def greedy_walk(values: np.ndarray, adjacent: list[list[int]], start: int, goal: int, max_steps: int) -> list[int]:
    """The cells visited moving, from ``start``, to the open neighbour the critic values most for ``goal``, until the
    goal cell or ``max_steps`` moves (a critic with a wrong local maximum walks back and forth)."""
    walk = [start]
    while walk[-1] != goal and len(walk) <= max_steps:
        walk.append(max(adjacent[walk[-1]], key=lambda k: values[k, goal]))
    return walk


def evaluate(critic_run: str, env_name: str, seed: int, agent_dir: Path) -> dict[str, Any]:
    import torch

    from ttt_gym.agents import GCIQL, GCIVL
    from ttt_gym.data import GoalDataset
    from ttt_gym.goal_evaluation import make_goal_env

    torch.set_num_threads(1)
    agent_class: type[GCIVL] | type[GCIQL] = GCIVL if critic_run.startswith("gcivl") else GCIQL
    dataset = GoalDataset.from_name(env_name)
    critic = agent_class.load(agent_path(agent_dir, critic_run, env_name, seed), dataset)
    maze: Any = make_goal_env(env_name).unwrapped
    cells = open_cells(maze.maze_map)
    centres = np.array([maze.ij_to_xy(cell) for cell in cells], dtype=np.float32)
    distances = bfs_distances(maze.maze_map, cells)
    states = np.repeat(centres, len(cells), axis=0)
    goals = np.tile(centres, (len(cells), 1))
    values = np.asarray(critic.value(states, goals), dtype=np.float64).reshape(len(cells), len(cells))
    adjacent = neighbours(cells)
    scores = score_critic(values, distances, adjacent, float(critic.config.discount))
    tasks = []  # the evaluation tasks: does following the critic cell by cell lead from the start to the goal?
    for number, task in enumerate(maze.task_infos, start=1):
        start, goal = cells.index(tuple(task["init_ij"])), cells.index(tuple(task["goal_ij"]))
        walk = greedy_walk(values, adjacent, start, goal, max_steps=3 * int(distances[start, goal]))
        tasks.append(
            {
                "task": number,
                "bfs_cells": int(distances[start, goal]),
                "reached": walk[-1] == goal,
                "moves": len(walk) - 1,
            }
        )
    return {**scores, "tasks": tasks}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.critic_quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--critic", required=True, help="trained run prefix: gcivl, gciql, gciqlawr, gcivl125k, ...")
    parser.add_argument("--env", default="pointmaze-medium-navigate-v0")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--agent-dir", type=Path, default=REPO_ROOT / "runs" / "agents")
    parser.add_argument("--output-dir", type=Path, default=RESULT_DIR)
    args = parser.parse_args(argv)
    if not args.critic.startswith(("gcivl", "gciql")):
        parser.error(f"--critic must name a GCIVL or GCIQL run (gcivl..., gciql...), got {args.critic!r}")
    for seed in args.seeds:
        started, start_load = dt.datetime.now(dt.timezone.utc), os.getloadavg()
        scores = evaluate(args.critic, args.env, seed, args.agent_dir)
        print(
            f"{args.critic} {args.env} seed {seed}: next-cell accuracy {scores['next_cell_accuracy']:.3f} "
            f"{scores['next_cell_accuracy_by_distance']}, Spearman {scores['spearman_value_vs_minus_distance']:.3f}, "
            f"{scores['implied_steps_per_cell']:.1f} implied steps per cell; following it from each task's start "
            f"reaches the goal: {[t['reached'] for t in scores['tasks']]}"
        )
        record = {"critic": args.critic, "env_name": args.env, "seed": seed, **scores}
        record.update(run_record(started, module="benchmarks.critic_quality", argv=argv, start=start_load))
        out = args.output_dir / f"{args.critic}-{args.env.removesuffix('-v0')}-s{seed}.json"
        write_json_atomic(out, record)


if __name__ == "__main__":
    main()
