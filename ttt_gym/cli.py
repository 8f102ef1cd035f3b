"""The ``ttt-gym`` command line: ``ttt-gym demo | envs | evaluate | dataset | train | evaluate-goal | train-memory |
bench``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym

import ttt_gym
from ttt_envs import PIXEL_ENV_IDS
from ttt_gym.agents.cli import add_agent_commands
from ttt_gym.bench import add_bench_command
from ttt_gym.data.cli import add_dataset_commands
from ttt_gym.evaluation import evaluate_success, reference_policies
from ttt_gym.trainers.cli import add_train_commands


def cmd_demo(args: argparse.Namespace) -> int:
    """Memory envs (expert / demonstrator / random), then GC-BC with and without GC-TTT on local pointmaze data."""
    from ttt_gym.demo import DemoConfig, run_demo

    config = DemoConfig(output=Path(args.output), seed=args.seed, memory_episodes=args.episodes)
    parts = ("memory", "gcttt") if args.part == "all" else (args.part,)
    run_demo(config, parts)
    return 0


def cmd_envs(args: argparse.Namespace) -> int:
    width = max(len(env_id) for env_id in ttt_gym.ENV_IDS + PIXEL_ENV_IDS) + 2
    for env_id in ttt_gym.ENV_IDS + PIXEL_ENV_IDS:
        env = gym.make(env_id)
        print(f"{env_id:<{width}} obs {env.observation_space}  actions {env.action_space}")
        env.close()
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    policy = reference_policies(args.env_id, seed=args.seed)[args.policy]
    result = evaluate_success(policy, args.env_id, args.episodes, seed=args.seed)
    print(f"{args.env_id} {args.policy}: {result}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ttt-gym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the end-to-end demo on embedded defaults")
    demo.add_argument("--episodes", type=int, default=20, help="episodes per policy on each memory env")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--output", default="runs/demo", help="folder for frames, the dataset and the agent")
    demo.add_argument("--part", choices=("all", "memory", "gcttt"), default="all")
    demo.set_defaults(func=cmd_demo)

    envs = sub.add_parser("envs", help="list the registered environments")
    envs.set_defaults(func=cmd_envs)

    evaluate = sub.add_parser("evaluate", help="success of a reference policy on a memory env")
    evaluate.add_argument("env_id", choices=ttt_gym.ENV_IDS + PIXEL_ENV_IDS)
    evaluate.add_argument("--policy", choices=("expert", "demonstrator", "random"), default="expert")
    evaluate.add_argument("--episodes", type=int, default=100)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.set_defaults(func=cmd_evaluate)

    add_dataset_commands(sub)
    add_agent_commands(sub)
    add_train_commands(sub)
    add_bench_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
