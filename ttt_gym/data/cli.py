"""``ttt-gym dataset generate | info | list``: command-line access to :mod:`ttt_gym.data`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_dataset_commands"]


def add_dataset_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``dataset`` command (``generate``, ``info``, ``list``) to an argparse subparsers object.

    Each leaf parser sets ``func``: call ``args.func(args)``, which returns the exit code.

    Args:
        subparsers: The object returned by ``parser.add_subparsers()``.

    Returns:
        The ``dataset`` parser.
    """
    dataset = subparsers.add_parser("dataset", help="generate and inspect offline goal-conditioned datasets")
    commands = dataset.add_subparsers(dest="dataset_command", required=True)

    generate = commands.add_parser(
        "generate",
        help="generate an OGBench dataset locally (pointmaze, cube, scene, puzzle)",
        description="Generate an OGBench dataset and its -val split with OGBench's data collection protocol.",
    )
    generate.add_argument("name", help="dataset name, e.g. pointmaze-medium-navigate-v0 (see `ttt-gym dataset list`)")
    generate.add_argument("--episodes", type=int, default=None, help="training episodes (default: OGBench's)")
    generate.add_argument("--episode-steps", type=int, default=None, help="steps per episode (default: OGBench's)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--dir", default=None, help="output directory (default: ~/.ogbench/data)")
    generate.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    generate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    generate.set_defaults(func=_cmd_generate)

    info = commands.add_parser("info", help="summarise an OGBench-format .npz dataset file")
    info.add_argument("path", help="an .npz dataset file")
    info.set_defaults(func=_cmd_info)

    listing = commands.add_parser("list", help="list the datasets `generate` can make")
    listing.set_defaults(func=_cmd_list)
    return dataset


def _cmd_generate(args: argparse.Namespace) -> int:
    from ttt_gym.data.generate import UnsupportedDatasetError, dataset_paths, dataset_spec, generate_dataset

    try:
        spec = dataset_spec(args.name)
    except UnsupportedDatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    train = generate_dataset(
        args.name,
        num_episodes=args.episodes,
        seed=args.seed,
        path=args.dir,
        progress_bar=not args.no_progress,
        episode_steps=args.episode_steps,
        num_workers=args.workers,
    )
    seconds = time.perf_counter() - start
    episodes = spec.num_episodes if args.episodes is None else args.episodes
    steps = spec.episode_steps if args.episode_steps is None else args.episode_steps
    total = (episodes + max(1, episodes // 10)) * steps
    _, val = dataset_paths(args.name, args.dir)
    print(f"{train}\n{val}\n{total} steps in {seconds:.1f} s ({total / seconds:.0f} steps/s)")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from ttt_gym.data.dataset import DatasetFormatError, GoalDataset

    path = Path(args.path).expanduser()
    try:
        dataset = GoalDataset.load(path)
    except (FileNotFoundError, DatasetFormatError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    with np.load(path) as archive:
        for key in archive.files:
            array = archive[key]
            print(f"  {key:<14} {array.dtype!s:<8} {array.shape}")
    lengths = np.bincount(dataset.trajectory_ids)
    print(dataset)
    print(f"  trajectory length: min {lengths.min()}, mean {lengths.mean():.1f}, max {lengths.max()} transitions")
    print(f"  goal space: {dataset.goal_space or 'full observation'}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from ttt_gym.data.generate import DATASET_SPECS

    for spec in DATASET_SPECS.values():
        print(f"{spec.name:<32} {spec.num_episodes:>5} episodes x {spec.episode_steps:>4} steps")
    return 0
