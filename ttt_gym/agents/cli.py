"""``ttt-gym train`` and ``ttt-gym evaluate-goal``: the offline goal-conditioned job from the shell.

``train`` fits GCBC / GCIVL / GCIQL on an OGBench-format dataset (OGBench's per-env hyperparameters unless
overridden) and saves the agent; ``evaluate-goal`` runs OGBench's task protocol on a saved agent or SB3 model,
with or without test-time training (``--ttt``), and prints the per-task success as a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["add_agent_commands", "load_goal_model"]

SB3_ALGORITHMS = ("sac", "td3", "ddpg", "ppo", "a2c", "tqc")


def add_agent_commands(subparsers: Any) -> None:
    """Add ``train`` and ``evaluate-goal`` to an argparse subparsers object; each parser sets ``func``."""
    from ttt_gym.agents import AGENTS
    from ttt_gym.ttt.selection import SELECTOR_KINDS

    train = subparsers.add_parser(
        "train",
        help="train an offline goal-conditioned agent (GCBC, GCIVL, GCIQL) on a dataset and save it",
        description="Train GCBC / GCIVL / GCIQL on an OGBench-format dataset with OGBench's per-env hyperparameters.",
    )
    train.add_argument("agent", choices=sorted(AGENTS))
    train.add_argument("dataset", help="dataset name in --data-dir (`ttt-gym dataset generate NAME`) or a .npz path")
    train.add_argument("--timesteps", type=int, default=100_000, help="gradient steps (OGBench trains 1M)")
    train.add_argument("--env", help="env whose spaces the agent takes (default: the dataset's name)")
    train.add_argument("--data-dir", help="where named datasets live (default ~/.ogbench/data)")
    train.add_argument("--output", help="agent file (default runs/agents/{agent}-{dataset}-s{seed}.pt)")
    train.add_argument("--hidden-dims", type=int, nargs="+", help="network widths (default OGBench's 512 512 512)")
    train.add_argument("--batch-size", type=int, help="default OGBench's 1024")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these sizes on a CPU)")
    train.add_argument("--log-dir", help="SB3 logger folder: stdout, CSV, TensorBoard")
    train.set_defaults(func=cmd_train)

    evaluate = subparsers.add_parser(
        "evaluate-goal",
        help="OGBench's task protocol on a saved agent or SB3 model, with or without test-time training",
        description="Success per task of a saved agent (.pt) or SB3 model (.zip, with --algo), optionally with GC-TTT.",
    )
    evaluate.add_argument("model", help="an agent file from `ttt-gym train` / agent.save(), or an SB3 .zip")
    evaluate.add_argument("env", help="OGBench env or dataset name, or a registered gymnasium id")
    evaluate.add_argument("--algo", choices=SB3_ALGORITHMS, help="the SB3 class of a .zip model")
    evaluate.add_argument("--ttt", action="store_true", help="wrap the model in TestTimeTraining")
    evaluate.add_argument("--dataset", help="with --ttt: dataset name in --data-dir or a .npz path (default: env)")
    evaluate.add_argument("--data-dir", help="where named datasets live (default ~/.ogbench/data)")
    evaluate.add_argument("--selector", choices=SELECTOR_KINDS, help="with --ttt (default: the wrapper's)")
    evaluate.add_argument("--every", type=int, default=100, help="with --ttt: K, steps between adaptations")
    evaluate.add_argument("--steps", type=int, default=100, help="with --ttt: N, Adam steps per adaptation")
    evaluate.add_argument("--lr", type=float, default=3e-4, help="with --ttt: fine-tuning learning rate")
    evaluate.add_argument("--batch-size", type=int, default=256, help="with --ttt: fine-tuning minibatch")
    evaluate.add_argument("--tasks", type=int, nargs="+", help="task ids (default OGBench's 1..5)")
    evaluate.add_argument("--episodes-per-task", type=int, default=10)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--max-episode-steps", type=int, help="cut episodes (quick checks)")
    evaluate.add_argument("--threads", type=int, default=1, help="torch threads")
    evaluate.add_argument("--output", help="also write the result as JSON here")
    evaluate.set_defaults(func=cmd_evaluate_goal)


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from ttt_gym.agents import AGENTS, ogbench_hyperparameters
    from ttt_gym.goal_evaluation import make_goal_env

    torch.set_num_threads(args.threads)
    dataset, name = _dataset(args.dataset, args.data_dir)
    env_name = args.env or name
    config: dict[str, Any] = {**ogbench_hyperparameters(args.agent, env_name), "seed": args.seed}
    if args.hidden_dims:
        config["hidden_dims"] = tuple(args.hidden_dims)
    if args.batch_size:
        config["batch_size"] = args.batch_size
    agent = AGENTS[args.agent](make_goal_env(env_name), dataset, **config)
    start = time.perf_counter()
    agent.learn(args.timesteps, progress_bar=True, log_dir=args.log_dir)
    output = Path(args.output or f"runs/agents/{args.agent}-{name}-s{args.seed}.pt")
    agent.save(output)
    print(
        f"{type(agent).__name__} trained {args.timesteps:,} steps on {dataset!r} in {time.perf_counter() - start:.0f} s"
    )
    print(f"saved to {output}; evaluate it with `ttt-gym evaluate-goal {output} {env_name}`")
    return 0


def cmd_evaluate_goal(args: argparse.Namespace) -> int:
    import torch

    from ttt_gym.goal_evaluation import evaluate_goal_policy
    from ttt_gym.ttt.wrapper import TestTimeTraining

    torch.set_num_threads(args.threads)
    model: Any = load_goal_model(args.model, args.algo)
    label = type(model).__name__
    if args.ttt:
        dataset, _ = _dataset(args.dataset or args.env, args.data_dir)
        model = TestTimeTraining(
            model,
            dataset,
            selector=args.selector,
            every=args.every,
            steps=args.steps,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        label += " + TTT"
    result = evaluate_goal_policy(
        model,
        args.env,
        tasks=args.tasks,
        episodes_per_task=args.episodes_per_task,
        seed=args.seed,
        max_episode_steps=args.max_episode_steps,
        progress_bar=True,
    )
    _print_result(label, result)
    if args.output:
        record = {
            "model": str(args.model),
            "env": args.env,
            "ttt": bool(args.ttt),
            "success": result.success_rate,
            "task_success": {str(task): rate for task, rate in result.task_success.items()},
            "episodes_per_task": args.episodes_per_task,
            "seed": args.seed,
        }
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(record, indent=2) + "\n")
    return 0


def load_goal_model(path: str | Path, algo: str | None = None) -> Any:
    """A saved agent (its class read from the file) or, with ``algo``, an SB3 model (``SAC.load`` etc.).

    Raises:
        ValueError: an SB3 ``.zip`` without ``algo``, or a file that is neither.
    """
    path = Path(path)
    if algo is not None:
        return _sb3_class(algo).load(path, device="auto")
    if path.suffix == ".zip":
        raise ValueError(f"{path} looks like an SB3 model: pass --algo ({', '.join(SB3_ALGORITHMS)})")
    from ttt_gym._checkpoint import read_checkpoint
    from ttt_gym.agents import AGENTS

    name = read_checkpoint(path, kind="agent", entry="agent")["agent"]
    by_class = {cls.__name__: cls for cls in AGENTS.values()}
    if name not in by_class:
        raise ValueError(f"{path} holds a {name}, not one of the agents {sorted(by_class)}")
    return by_class[name].load(path)


def _sb3_class(algo: str) -> Any:
    if algo == "tqc":
        from sb3_contrib import TQC

        return TQC
    import stable_baselines3

    return getattr(stable_baselines3, algo.upper())


def _dataset(name_or_path: str, data_dir: str | None) -> tuple[Any, str]:
    """The dataset and its name, from a ``.npz`` path or a name in ``data_dir``."""
    from ttt_gym.data import GoalDataset

    if name_or_path.endswith(".npz"):
        path = Path(name_or_path)
        return GoalDataset.load(path), path.name.removesuffix(".npz")
    return GoalDataset.from_name(name_or_path, data_dir), name_or_path


def _print_result(label: str, result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{label} on {result.env_name}")
    table.add_column("task", justify="right")
    table.add_column("success", justify="right")
    table.add_column("mean length", justify="right")
    for row, (task, rate) in enumerate(result.task_success.items()):
        table.add_row(str(task), f"{rate:.2f}", f"{result.lengths[row].mean():.0f}")
    table.add_row("all", f"{result.success_rate:.3f}", f"{result.lengths.mean():.0f}", style="bold")
    console = Console()
    console.print(table)
    console.print(f"{result.steps_per_second:,.0f} env steps/s, policy {result.policy_ms_per_step:.2f} ms/step")
