"""Time GC-TTT's data selection over a pointmaze-sized dataset: ``python -m benchmarks.selection_speed --help``.

Queries follow an episode (10 goals, each with states 100 steps apart along a walk of the data) and every selector
kind is timed: the first selection of a goal, the later ones, and the process CPU time. Figures and commands in
``docs/TTT.md`` ("Selectors"). :func:`synthetic_maze_dataset` is also the data of ``benchmarks.gc_ttt_step``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from gymnasium import spaces

from ttt_gym.agents import GCIQL, GCIVL
from ttt_gym.data import GoalDataset, GoalSpace
from ttt_gym.ttt.selection import make_selector


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.selection_speed",
        description="Time one data selection over a pointmaze-sized dataset.",
    )
    parser.add_argument("--dataset", default=None, help="an OGBench .npz file (default: synthetic, 1M transitions)")
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="selections per measurement")
    parser.add_argument("--hidden-dims", type=int, nargs="*", default=[256, 256], help="critic widths")
    parser.add_argument(
        "--critic", choices=("gciql", "gcivl"), default="gciql", help="whose (untrained) value network scores"
    )
    parser.add_argument("--max-relevant", type=int, default=4096, help="GoalRelatedSelector's max_relevant")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    tic = time.perf_counter()
    dataset = GoalDataset.load(args.dataset) if args.dataset else synthetic_maze_dataset(args.transitions)
    print(f"{dataset!r} ready in {time.perf_counter() - tic:.1f} s")
    rng = np.random.default_rng(0)
    box = dataset.observation_dim
    obs_space = spaces.Box(-np.inf, np.inf, (box,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    critic_class = GCIVL if args.critic == "gcivl" else GCIQL
    critic_agent = critic_class((obs_space, action_space), hidden_dims=tuple(args.hidden_dims), device="cpu")

    # Queries follow an episode: 10 goals, each with states along a walk of the data (consecutive selections
    # 100 steps apart, as with every=100).
    episode_starts = rng.integers(0, len(dataset) - 1000, size=max(1, args.queries // 10))
    queries = []
    for start in episode_starts:
        goal = dataset.observations[rng.integers(len(dataset))]
        queries += [(dataset.observations[start + 100 * k], goal) for k in range(10)]

    print(f"critic: untrained {args.critic} value network {args.hidden_dims}, max_relevant={args.max_relevant}")
    for kind in ("relevant-only", "critic-free", "gc-ttt"):
        tic = time.perf_counter()
        critic = critic_agent.value if kind == "gc-ttt" else None
        selector = make_selector(kind, dataset, critic, max_relevant=args.max_relevant)
        build_s = time.perf_counter() - tic
        first_ms: list[float] = []
        later_ms: list[float] = []
        cpu_ms: list[float] = []  # process CPU time: steadier than wall time when other processes share the cores
        relevant, selected = [], []
        for k, (state, goal) in enumerate(queries):
            cpu_tic = time.process_time()
            selector.select(state, goal)
            cpu_ms.append(1e3 * (time.process_time() - cpu_tic))
            (first_ms if k % 10 == 0 else later_ms).append(selector.stats.last_ms)
            relevant.append(selector.stats.last_relevant)
            selected.append(selector.stats.last_selected)
        print(
            f"{kind:14s} build {build_s:5.2f} s | first selection of a goal: median {np.median(first_ms):6.2f} ms "
            f"| later: median {np.median(later_ms):6.2f} ms, p90 {np.percentile(later_ms, 90):6.2f} ms | "
            f"CPU median {np.median(cpu_ms):6.2f} ms | mean relevant {np.mean(relevant):.0f}, selected "
            f"{np.mean(selected):.0f}, critic states {selector.stats.critic_states / len(queries):.0f} per selection"
        )


if __name__ == "__main__":
    main()
