"""Per-step cost of GC-TTT on a pointmaze-sized dataset: ``python -m benchmarks.gc_ttt_step --help``.

No env: the states walk along the data, so the figure is selection + fine-tuning + acting, nothing else. Figures and
commands in ``docs/TTT.md`` ("Cost").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from gymnasium import spaces

from benchmarks.selection_speed import synthetic_maze_dataset
from ttt_gym import TestTimeTraining
from ttt_gym.agents import GCBC, GCIQL, GCIVL, GoalConditionedAgent
from ttt_gym.data import GoalDataset
from ttt_gym.ttt.selection import make_selector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gc_ttt_step",
        description="Per-step cost of GC-TTT on a pointmaze-sized dataset (no env: states walk along the data).",
    )
    parser.add_argument("--dataset", default=None, help="an OGBench .npz file (default: synthetic, 1M transitions)")
    parser.add_argument("--agent", choices=("gcbc", "gcivl", "gciql"), default="gciql")
    parser.add_argument("--hidden-dims", type=int, nargs="*", default=[512, 512, 512])
    parser.add_argument(
        "--selector",
        choices=("auto", "gc-ttt", "critic-free"),
        default="auto",
        help="auto: the agent's critic if it has one; gc-ttt: H-step returns with the agent's critic, or an "
        "(untrained) GCIQL value network of the same size for GCBC",
    )
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--env-steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the process (acting)")
    parser.add_argument(
        "--ttt-threads",
        type=lambda v: None if v == "none" else int(v),
        default=1,
        help="TestTimeTraining(torch_threads=...) during adaptations; 'none': the process's --threads",
    )
    parser.add_argument("--device", default="cpu", help="where the agent and its adapted copies live (cpu, cuda)")
    parser.add_argument("--fused-adam", action="store_true", help="optimizer_kwargs={'fused': True}")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    dataset = GoalDataset.load(args.dataset) if args.dataset else synthetic_maze_dataset()
    box = spaces.Box(-np.inf, np.inf, (dataset.observation_dim,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    spaces_pair, hidden_dims = (box, action_space), tuple(args.hidden_dims)
    agent: GoalConditionedAgent
    if args.agent == "gcbc":
        agent = GCBC(spaces_pair, hidden_dims=hidden_dims, device=args.device)
    elif args.agent == "gcivl":
        agent = GCIVL(spaces_pair, hidden_dims=hidden_dims, device=args.device)
    else:
        agent = GCIQL(spaces_pair, hidden_dims=hidden_dims, device=args.device)
    selector = None
    if args.selector == "critic-free":
        selector = make_selector("critic-free", dataset)
    elif args.selector == "gc-ttt":
        critic = agent if hasattr(agent, "value") else GCIQL(spaces_pair, hidden_dims=hidden_dims, device=args.device)
        selector = make_selector("gc-ttt", dataset, critic.value)  # type: ignore[attr-defined]
    ttt = TestTimeTraining(
        agent,
        dataset,
        selector=selector,
        every=args.every,
        steps=args.steps,
        batch_size=args.batch_size,
        optimizer_kwargs={"fused": True} if args.fused_adam else None,
        torch_threads=args.ttt_threads,
    )
    rng = np.random.default_rng(0)
    start = int(rng.integers(len(dataset) - args.env_steps))
    goal = dataset.observations[int(rng.integers(len(dataset)))]
    observations = [
        {"observation": dataset.observations[start + t], "desired_goal": goal} for t in range(args.env_steps)
    ]
    plain_tic = time.perf_counter()
    for obs in observations:
        agent.predict(obs)
    plain_ms = 1e3 * (time.perf_counter() - plain_tic) / len(observations)
    tic = time.perf_counter()
    for t, obs in enumerate(observations):
        ttt.predict(obs, episode_start=np.array([t == 0]), deterministic=True)
    per_step_ms = 1e3 * (time.perf_counter() - tic) / len(observations)
    stats, selection = ttt.stats, ttt.selector.stats
    per_adaptation = 1e3 / max(stats.adaptations, 1)
    print(
        f"{args.agent} {'x'.join(map(str, args.hidden_dims))}, K={args.every}, N={args.steps}, batch "
        f"{args.batch_size}, {args.threads} thread(s), device {ttt.device}, {dataset!r}\n"
        f"  per step: {per_step_ms:.2f} ms with TTT ({1e3 / per_step_ms:.1f} Hz), {plain_ms:.2f} ms without\n"
        f"  per adaptation: {stats.adaptation_ms:.0f} ms = selection {per_adaptation * stats.selection_seconds:.1f} ms"
        f" + fine-tuning {per_adaptation * stats.training_seconds:.0f} ms "
        f"({stats.adaptations} adaptations, {stats.last_selected} selected of {selection.last_relevant} relevant)"
    )


if __name__ == "__main__":
    main()
