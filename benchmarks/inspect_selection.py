"""What a GC-TTT selection holds at one state and goal: does the critic's H-step cut keep data that reaches g*?

The critic-free test is exact on the offline data: a sub-trajectory reaches g* if a later state of its trajectory
is at g*. This script compares it with the H-step cut of a trained critic, and prints the critic's values along a
straight line to the goal (a critic that ignores the maze's walls rises smoothly along it)::

    .venv/bin/python -m benchmarks.inspect_selection --critic gcivl --seed 0 --state 16 20 --goal -0.47 20.07
    .venv/bin/python -m benchmarks.inspect_selection --critic gcivl125k --seed 0 --state 16 20 --goal -0.47 20.07 \
        --path 16 20  20 20  20 16  20 12  16 12  12 12  12 16  8 16  8 20  4 20  0 20   # the maze's way round

``--critic`` names a trained run ``runs/agents/{critic}-{dataset}-s{seed}.pt`` of ``benchmarks.run_agent`` (a GCIVL
or GCIQL agent: the class is read from the name's prefix).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks._common import REPO_ROOT
from benchmarks.run_ttt import agent_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="pointmaze-medium-navigate-v0")
    parser.add_argument("--critic", default="gcivl", help="trained run name prefix: gcivl, gciql, gcivl125k, ...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state", type=float, nargs=2, required=True, help="x y of the agent")
    parser.add_argument("--goal", type=float, nargs=2, required=True, help="x y of the goal")
    parser.add_argument(
        "--path",
        type=float,
        nargs="+",
        help="x y pairs of waypoints (e.g. the maze's true path to the goal): prints V(waypoint, g*) and the steps "
        "to g* it implies, log(1 + (1 - gamma) V) / log(gamma)",
    )
    parser.add_argument("--agent-dir", type=Path, default=REPO_ROOT / "runs" / "agents")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from ttt_gym.agents import GCIQL, GCIVL
    from ttt_gym.data import GoalDataset
    from ttt_gym.ttt.selection import make_selector

    if args.critic.startswith("gcivl"):
        agent_class: type[GCIVL] | type[GCIQL] = GCIVL
    elif args.critic.startswith("gciql"):
        agent_class = GCIQL
    else:
        parser.error(f"--critic must name a GCIVL or GCIQL run (gcivl..., gciql...), got {args.critic!r}")
    dataset = GoalDataset.from_name(args.env)
    critic = agent_class.load(agent_path(args.agent_dir, args.critic, args.env, args.seed), dataset)
    if dataset.observation_dim != 2:
        parser.error("this script places the agent by x-y only: use a pointmaze dataset")
    state = np.array(args.state, dtype=np.float32)
    goal = np.array(args.goal, dtype=np.float32)

    h_step = make_selector("gc-ttt", dataset, critic.value, max_relevant=None)
    monte_carlo = make_selector("critic-free", dataset, max_relevant=None)
    relevant = h_step.relevant(state)
    # A Monte-Carlo return above the never-reaching one, -1 / (1 - gamma), means g* comes later in the trajectory.
    reaches = monte_carlo.returns(relevant, goal) > -1.0 / (1.0 - monte_carlo.discount)
    kept = h_step.select_starts(state, goal)
    kept_reach = np.isin(kept, relevant[reaches])
    print(f"{args.env}, state {state}, goal {goal}, critic {args.critic} seed {args.seed}")
    print(f"relevant sub-trajectories (distance < {h_step.epsilon}): {len(relevant)}")
    print(f"  reach g* later in their trajectory: {reaches.mean():.3f}")
    print(
        f"H-step cut (H = {h_step.horizon_steps}, best {h_step.optimal_fraction:.0%}): {len(kept)} kept, "
        f"{kept_reach.mean():.3f} of them reach g*"
    )
    print(f"  mean action of the kept starts: {dataset.actions[kept].mean(axis=0).round(3)}")
    line = np.linspace(0.0, 1.0, 11)[:, None] * (goal - state) + state
    values = critic.value(line.astype(np.float32), np.repeat(goal[None], len(line), axis=0))
    print("V(s, g*) on the straight line from the state to the goal:")
    for point, value in zip(line, values, strict=True):
        print(f"  ({point[0]:6.2f}, {point[1]:6.2f}): {value:7.1f}")
    if args.path:
        if len(args.path) % 2:
            parser.error("--path takes x y pairs")
        waypoints = np.array(args.path, dtype=np.float32).reshape(-1, 2)
        values = critic.value(waypoints, np.repeat(goal[None], len(waypoints), axis=0))
        gamma = h_step.discount
        steps = np.log(np.clip(1.0 + (1.0 - gamma) * values, 1e-12, None)) / np.log(gamma)
        print("V(s, g*) and the implied steps to g* along --path:")
        for point, value, step in zip(waypoints, values, steps, strict=True):
            print(f"  ({point[0]:6.2f}, {point[1]:6.2f}): {value:7.1f}  ~{step:5.0f} steps")


if __name__ == "__main__":
    main()
