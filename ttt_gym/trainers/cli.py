"""``ttt-gym train-memory``: train a sequence actor on a memory env by BC or DAgger, save it and evaluate it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

__all__ = ["add_train_commands"]


def add_train_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``train-memory`` to an argparse subparsers object; the parser sets ``func`` (returns the exit code).

    Args:
        subparsers: The object returned by ``parser.add_subparsers()``.

    Returns:
        The ``train-memory`` parser.
    """
    from ttt_envs import ENV_IDS, PIXEL_ENV_IDS
    from ttt_gym.policies import actor_names

    parser = subparsers.add_parser(
        "train-memory",
        help="train a sequence actor on a memory env (BC or DAgger from a privileged expert or a demonstrator)",
        description="Train a sequence actor by BC or DAgger (privileged expert or demonstrator), save it, evaluate it.",
    )
    parser.add_argument("env_id", choices=ENV_IDS + PIXEL_ENV_IDS)
    parser.add_argument(
        "--policy",
        type=lambda name: name.strip().lower().replace("_", "-"),
        choices=actor_names(),
        help="actor name (ttt-linear and ttt_linear alike)",
        default="gru",
    )
    parser.add_argument("--trainer", choices=("bc", "dagger"), default="dagger")
    parser.add_argument(
        "--timesteps",
        type=int,
        default=10_000,
        help="env steps: DAgger rollout steps (after BC on --demo-episodes), or BC demonstration steps",
    )
    parser.add_argument("--demo-episodes", type=int, default=32, help="labeller episodes for DAgger's first BC round")
    parser.add_argument(
        "--labeller",
        choices=("expert", "demonstrator"),
        default="expert",
        help="who demonstrates and labels: the privileged expert or the human-like demonstrator",
    )
    parser.add_argument("--batches", type=int, default=None, help="BC Adam steps (default: the trainer's recipe)")
    parser.add_argument(
        "--gradient-steps-per-step", type=float, default=None, help="DAgger: Adam steps per env step collected"
    )
    parser.add_argument(
        "--window", type=int, default=None, help="train on windows of this many steps (0: whole episodes)"
    )
    parser.add_argument("--burn-in", type=int, default=None, help="with --window: steps that only build memory")
    parser.add_argument(
        "--validation-episodes", type=int, default=50, help="episodes that pick the best checkpoint (0: the last)"
    )
    parser.add_argument("--max-episode-steps", type=int, default=None, help="override the env's time limit")
    parser.add_argument(
        "--n-envs", type=int, default=16, help="episodes run in lockstep (batched predict) in rollouts and evaluation"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    parser.add_argument("--output", default=None, help="actor file (default runs/train/ENV-POLICY-TRAINER-sSEED.pt)")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--log-dir", default=None, help="write SB3 logs (csv) there")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(func=_cmd_train_memory)
    return parser


def _cmd_train_memory(args: argparse.Namespace) -> int:
    from stable_baselines3.common.logger import configure

    from ttt_envs.experts import make_demonstrator, make_expert
    from ttt_gym.evaluation import evaluate_success
    from ttt_gym.trainers.bc import train_bc
    from ttt_gym.trainers.dagger import train_dagger
    from ttt_gym.trainers.data import collect_demonstrations

    if args.burn_in is not None and args.window is None:
        raise SystemExit("--burn-in needs --window (burn-in steps come before each window).")
    labeller = make_demonstrator(args.env_id, rng=args.seed) if args.labeller == "demonstrator" else None
    env_kwargs = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
    logger = configure(args.log_dir, ["csv"]) if args.log_dir else None
    common: dict[str, Any] = {
        "validation_episodes": args.validation_episodes,
        "seed": args.seed,
        "env_kwargs": env_kwargs,
        "device": args.device,
        "progress_bar": not args.no_progress,
        "logger": logger,
    }
    if args.window is not None:  # else each trainer's default (DAgger: windows of 64, BC: whole episodes)
        common["window"] = args.window or None
        if args.burn_in is not None:
            common["burn_in"] = args.burn_in
        elif args.window == 0 or args.trainer == "bc":
            common["burn_in"] = 0
    output = Path(
        args.output or f"runs/train/{args.env_id.split('/')[-1]}-{args.policy}-{args.trainer}-s{args.seed}.pt"
    )
    start = time.perf_counter()
    if args.trainer == "bc":
        demos = collect_demonstrations(
            args.env_id,
            labeller or make_expert(args.env_id),
            min_episodes=1,
            min_timesteps=args.timesteps,
            seed=args.seed,
            env_kwargs=env_kwargs,
            n_envs=args.n_envs,
        )
        if args.batches is not None:
            common["n_batches"] = args.batches
        actor = train_bc(args.env_id, args.policy, demos, **common)
    else:
        if args.batches is not None:
            common["bc_batches"] = args.batches
        if args.gradient_steps_per_step is not None:
            common["gradient_steps_per_step"] = args.gradient_steps_per_step
        actor = train_dagger(
            args.env_id,
            args.policy,
            args.timesteps,
            labeller,
            n_demo_episodes=args.demo_episodes,
            n_envs=args.n_envs,
            **common,
        )
    train_seconds = time.perf_counter() - start
    actor.save(output)
    print(f"trained {args.policy} by {args.trainer} in {train_seconds:.1f} s; saved to {output}")
    if args.eval_episodes > 0:
        # Training episodes draw their env seeds from a seeded generator; evaluation uses its own fixed range.
        result = evaluate_success(
            actor,
            args.env_id,
            args.eval_episodes,
            seed=10_000 + args.seed,
            env_kwargs=env_kwargs,
            n_envs=args.n_envs,
        )
        print(f"{args.env_id} {args.policy} ({args.trainer}): {result}")
    return 0
