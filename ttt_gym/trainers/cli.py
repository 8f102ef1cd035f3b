"""``ttt-gym train-memory``: train a sequence actor on a memory env by BC or DAgger, save it and evaluate it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

__all__ = ["POLICY_CHOICES", "add_train_commands"]

POLICY_CHOICES: dict[str, tuple[str, dict[str, Any]]] = {
    "mlp": ("mlp", {}),
    "gru": ("gru", {}),
    "transformer": ("transformer", {}),
    "transformer-ctx1": ("transformer", {"context": 1}),
    "ttt-linear": ("ttt_linear", {}),
    "ttt-e2e": ("ttt_e2e", {}),
}
"""Command-line policy name -> (``ttt_gym.policies.ACTORS`` key, config overrides)."""


def add_train_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``train-memory`` to an argparse subparsers object; the parser sets ``func`` (returns the exit code).

    Args:
        subparsers: The object returned by ``parser.add_subparsers()``.

    Returns:
        The ``train-memory`` parser.
    """
    from ttt_envs import ENV_IDS

    parser = subparsers.add_parser(
        "train-memory",
        help="train a sequence actor on a memory env (BC or DAgger from the privileged expert)",
        description="Train a sequence actor by BC or DAgger from the privileged expert, save it, evaluate it.",
    )
    parser.add_argument("env_id", choices=ENV_IDS)
    parser.add_argument("--policy", choices=tuple(POLICY_CHOICES), default="gru")
    parser.add_argument("--trainer", choices=("bc", "dagger"), default="dagger")
    parser.add_argument(
        "--timesteps",
        type=int,
        default=10_000,
        help="env steps: DAgger rollout steps (after BC on --demo-episodes), or BC demonstration steps",
    )
    parser.add_argument("--demo-episodes", type=int, default=10, help="expert episodes for DAgger's first BC round")
    parser.add_argument("--epochs", type=int, default=50, help="BC epochs (DAgger: of the first round)")
    parser.add_argument("--chunk-len", type=int, default=None, help="train on chunks of this many steps")
    parser.add_argument("--max-episode-steps", type=int, default=None, help="override the env's time limit")
    parser.add_argument(
        "--n-envs", type=int, default=8, help="episodes run in lockstep (batched predict) in rollouts and evaluation"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="actor file (default runs/train/ENV-POLICY-TRAINER-sSEED.pt)")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--log-dir", default=None, help="write SB3 logs (csv) there")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(func=_cmd_train_memory)
    return parser


def _cmd_train_memory(args: argparse.Namespace) -> int:
    from stable_baselines3.common.logger import configure

    from ttt_gym.evaluation import evaluate_success
    from ttt_gym.trainers.bc import train_bc
    from ttt_gym.trainers.dagger import train_dagger
    from ttt_gym.trainers.data import collect_demonstrations

    actor_name, actor_kwargs = POLICY_CHOICES[args.policy]
    env_kwargs = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
    logger = configure(args.log_dir, ["csv"]) if args.log_dir else None
    output = Path(
        args.output or f"runs/train/{args.env_id.split('/')[-1]}-{args.policy}-{args.trainer}-s{args.seed}.pt"
    )
    start = time.perf_counter()
    if args.trainer == "bc":
        demos = collect_demonstrations(
            args.env_id,
            min_episodes=1,
            min_timesteps=args.timesteps,
            seed=args.seed,
            env_kwargs=env_kwargs,
            n_envs=args.n_envs,
        )
        actor = train_bc(
            args.env_id,
            actor_name,
            demos,
            n_epochs=args.epochs,
            chunk_len=args.chunk_len,
            seed=args.seed,
            actor_kwargs=actor_kwargs,
            env_kwargs=env_kwargs,
            progress_bar=not args.no_progress,
            logger=logger,
        )
    else:
        actor = train_dagger(
            args.env_id,
            actor_name,
            args.timesteps,
            seed=args.seed,
            n_demo_episodes=args.demo_episodes,
            n_envs=args.n_envs,
            n_epochs=args.epochs,
            chunk_len=args.chunk_len,
            actor_kwargs=actor_kwargs,
            env_kwargs=env_kwargs,
            progress_bar=not args.no_progress,
            logger=logger,
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
