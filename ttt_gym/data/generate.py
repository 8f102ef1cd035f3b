"""Offline goal-conditioned datasets generated locally, following OGBench's own collection protocol.

OGBench (Park et al., 2024) collects its datasets with scripted or learned data collectors
(``data_gen_scripts/generate_locomaze.py`` and ``generate_manipspace.py`` in its repository). The ones that need
no learned policy are reproduced here:

* **pointmaze** (medium, large, giant, teleport): the point mass follows the BFS oracle subgoal of the maze
  (``env.unwrapped.get_oracle_subgoal``) as a unit vector plus N(0, 0.5) noise, actions clipped to [-1, 1].
  *navigate*: start anywhere, goal at a random junction/dead-end cell, a new goal each time one is reached.
  *stitch*: short episodes towards a cell exactly 4 cells away, staying there once reached.
* **manipspace** (cube, scene, puzzle): OGBench's scripted oracles from ``ogbench.manipspace.oracles``
  (plan oracles with temporally smoothed noise 0.1 for *play*; Markov oracles with per-episode Gaussian noise and
  random actions for *noisy*), a new target each time the oracle finishes one.

Unlike OGBench's scripts, generation is seeded: episode ``k`` depends only on ``(seed, k)`` (its own
``SeedSequence``), so a dataset is identical whatever the number of worker processes. Episodes
``0 .. n-1`` form the training file, the next ``max(1, n // 10)`` the validation file, both in OGBench's npz
format in OGBench's data directory, where ``ogbench.make_env_and_datasets(name)`` finds them without a download.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ttt_gym.data.collectors import Collector, make_collector
from ttt_gym.data.specs import (
    DATASET_SPECS,
    DEFAULT_DATASET_DIR,
    DatasetSpec,
    UnsupportedDatasetError,
    dataset_paths,
    dataset_spec,
)

# The specs (ttt_gym.data.specs) are importable from here too.
__all__ = [
    "DATASET_SPECS",
    "DEFAULT_DATASET_DIR",
    "DatasetSpec",
    "UnsupportedDatasetError",
    "dataset_paths",
    "dataset_spec",
    "generate_dataset",
]

_STEPS_PER_CHUNK = 10_000  # work unit sent to a worker: enough to amortise IPC, small enough for a live progress bar


def generate_dataset(
    name: str,
    *,
    num_episodes: int | None = None,
    seed: int = 0,
    path: str | os.PathLike[str] | None = None,
    progress_bar: bool = True,
    episode_steps: int | None = None,
    num_workers: int | None = None,
) -> Path:
    """Generate an OGBench dataset and its validation split locally.

    Args:
        name: OGBench dataset name, one of :data:`DATASET_SPECS` (e.g. ``"pointmaze-medium-navigate-v0"``).
        num_episodes: Training episodes; OGBench's count when None. The validation file gets
            ``max(1, num_episodes // 10)`` more.
        seed: Master seed; episode ``k`` is seeded from ``(seed, k)`` alone.
        path: Output directory or training file (see :func:`dataset_paths`); OGBench's ``~/.ogbench/data`` when
            None, where ``ogbench.make_env_and_datasets(name)`` then loads it offline.
        progress_bar: Show a tqdm bar over episodes.
        episode_steps: Transitions per episode; OGBench's when None (short episodes make tiny test datasets).
        num_workers: Worker processes; all CPU cores when None, 1 runs in this process. The data does not
            depend on it. Workers are forked on Linux; elsewhere they are spawned, so scripts that call this
            need the usual ``if __name__ == "__main__":`` guard there.

    Returns:
        Path of the training file (the validation file is next to it, ending in ``-val.npz``).

    Raises:
        UnsupportedDatasetError: ``name`` is unknown or needs a learned expert (antmaze, humanoidmaze, ...).
    """
    spec = dataset_spec(name)
    n_train = spec.num_episodes if num_episodes is None else int(num_episodes)
    steps = spec.episode_steps if episode_steps is None else int(episode_steps)
    if n_train < 1 or steps < 2:
        raise ValueError(f"generate_dataset: need num_episodes >= 1 and episode_steps >= 2, got {n_train}, {steps}")
    if seed < 0:
        raise ValueError(f"generate_dataset: seed must be a non-negative integer, got {seed}")
    n_total = n_train + max(1, n_train // 10)
    train_path, val_path = dataset_paths(name, path)

    workers = max(1, min(num_workers if num_workers is not None else (os.cpu_count() or 1), n_total))
    chunk = max(1, min(_STEPS_PER_CHUNK // steps, -(-n_total // workers)))
    tasks = [(seed, start, min(start + chunk, n_total)) for start in range(0, n_total, chunk)]

    from tqdm.auto import tqdm

    parts: list[dict[str, np.ndarray]] = []
    with tqdm(total=n_total, desc=name, unit="episode", disable=not progress_bar) as bar:
        if workers == 1:
            collector = make_collector(spec, steps)
            for task in tasks:
                parts.append(collector.collect(*task))
                bar.update(task[2] - task[1])
        else:
            with ProcessPoolExecutor(
                workers, mp_context=_process_context(), initializer=_init_worker, initargs=(spec, steps)
            ) as pool:
                for task, part in zip(tasks, pool.map(_collect_in_worker, tasks), strict=True):
                    parts.append(part)
                    bar.update(task[2] - task[1])

    arrays = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    split = n_train * steps
    _save_npz(train_path, {key: value[:split] for key, value in arrays.items()})
    _save_npz(val_path, {key: value[split:] for key, value in arrays.items()})
    return train_path


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write atomically, so that an interrupted run never leaves a file ogbench would take as complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------------
# Worker processes.


def _process_context() -> multiprocessing.context.BaseContext:
    """Fork where it is safe (Linux): workers start in milliseconds and need no ``__main__`` guard in scripts.

    Workers only run MuJoCo and numpy, never torch, so forking a parent that has imported torch is harmless.
    """
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


_WORKER_COLLECTOR: Collector | None = None


def _init_worker(spec: DatasetSpec, episode_steps: int) -> None:
    global _WORKER_COLLECTOR
    _WORKER_COLLECTOR = make_collector(spec, episode_steps)


def _collect_in_worker(task: tuple[int, int, int]) -> dict[str, np.ndarray]:
    assert _WORKER_COLLECTOR is not None, "worker used before _init_worker"
    return _WORKER_COLLECTOR.collect(*task)
