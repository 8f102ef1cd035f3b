"""Offline goal-conditioned data: OGBench-format generation, loading and goal relabelling.

* :func:`generate_dataset` makes OGBench's pointmaze and manipulation datasets locally (seeded, multi-process)
  into ``~/.ogbench/data``, where ``ogbench.make_env_and_datasets`` loads them without a download.
* :class:`GoalDataset` loads any OGBench-format file and samples :class:`GoalBatch` es with OGBench's goal
  relabelling (:class:`GoalSamplingConfig`); it exposes the per-transition arrays data selection needs.
* Your own data comes in through ``GoalDataset.from_replay_buffer`` (SB3), ``from_trajectories`` (imitation) and
  ``from_minari``, and goes out with ``to_minari`` (:mod:`ttt_gym.data.sources`).
* :func:`goal_space_for` says which observation entries the success test looks at.
"""

from __future__ import annotations

from ttt_gym.data.dataset import DatasetFormatError, GoalBatch, GoalDataset, GoalKind, GoalSamplingConfig
from ttt_gym.data.generate import (
    DATASET_SPECS,
    DEFAULT_DATASET_DIR,
    DatasetSpec,
    UnsupportedDatasetError,
    dataset_paths,
    dataset_spec,
    generate_dataset,
)
from ttt_gym.data.goal_space import GoalSpace, goal_space_for

__all__ = [
    "DATASET_SPECS",
    "DEFAULT_DATASET_DIR",
    "DatasetFormatError",
    "DatasetSpec",
    "GoalBatch",
    "GoalDataset",
    "GoalKind",
    "GoalSamplingConfig",
    "GoalSpace",
    "UnsupportedDatasetError",
    "dataset_paths",
    "dataset_spec",
    "generate_dataset",
    "goal_space_for",
]
