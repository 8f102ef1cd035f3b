"""GC-BC + GC-TTT on an OGBench dataset generated on this machine (no download).

1. Generate ``pointmaze-medium-navigate-v0`` with OGBench's own protocol (noisy oracle subgoals).
2. Pre-train GC-BC on it.
3. Evaluate on OGBench's five tasks, then again with ``TestTimeTraining``: before acting, every K steps, it selects
   the data relevant to the current state and optimal for the goal, and fine-tunes a copy of the policy on it.

Run: python examples/gcbc_ttt_ogbench.py [--train-steps 20000] [--episodes-per-task 2]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from ttt_gym import GCBC, GoalDataset, TestTimeTraining, evaluate_goal_policy, generate_dataset
from ttt_gym.goal_evaluation import make_goal_env


@dataclass
class Args:
    dataset: str = "pointmaze-medium-navigate-v0"
    data_dir: str = "runs/examples/data"
    dataset_episodes: int = 1_000
    """Episodes of the generated dataset (OGBench's 1000 x 1001 steps)."""
    episode_steps: int | None = None
    """Steps per generated episode; None: OGBench's."""
    train_steps: int = 20_000
    """GC-BC gradient steps."""
    hidden_dims: tuple[int, ...] = (256, 256)
    ttt_every: int = 100
    ttt_steps: int = 100
    episodes_per_task: int = 2
    max_episode_steps: int | None = None
    seed: int = 0
    threads: int = 1


def main(args: Args) -> dict[str, float]:
    torch.set_num_threads(args.threads)
    path = generate_dataset(
        args.dataset,
        num_episodes=args.dataset_episodes,
        seed=args.seed,
        path=Path(args.data_dir),
        progress_bar=False,
        episode_steps=args.episode_steps,
    )
    dataset = GoalDataset.load(path)
    agent = GCBC(make_goal_env(args.dataset), dataset, hidden_dims=args.hidden_dims, batch_size=256, seed=args.seed)
    agent.learn(args.train_steps, progress_bar=False, log_interval=0)

    results = {}
    ttt = TestTimeTraining(agent, dataset, every=args.ttt_every, steps=args.ttt_steps)
    for label, policy in (("GC-BC", agent), ("GC-BC + TTT", ttt)):
        result = evaluate_goal_policy(
            policy,
            args.dataset,
            episodes_per_task=args.episodes_per_task,
            seed=10_000 + args.seed,
            max_episode_steps=args.max_episode_steps,
        )
        print(f"{label:<12} {result}")
        results[label] = result.success_rate
    return results


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=Args.dataset)
    parser.add_argument("--train-steps", type=int, default=Args.train_steps)
    parser.add_argument("--episodes-per-task", type=int, default=Args.episodes_per_task)
    parser.add_argument("--seed", type=int, default=Args.seed)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
