"""Fixtures of the agent tests: a tiny straight-line navigation dataset with pointmaze's dimensions."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from ttt_gym.data import GoalDataset

OBS_DIM = ACTION_DIM = 2  # pointmaze's sizes, so tiny agents also run in the real env
TINY = {"hidden_dims": (32, 32), "batch_size": 64}


def make_line_dataset(n_trajectories: int = 40, length: int = 30, seed: int = 0) -> GoalDataset:
    """Trajectories that move in a straight line: the action is the unit direction towards every later state."""
    rng = np.random.default_rng(seed)
    observations, actions, terminals = [], [], []
    for _ in range(n_trajectories):
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        start = rng.uniform(-1, 1, size=2)
        steps = np.arange(length)[:, None]
        observations.append(start + 0.05 * steps * direction)
        actions.append(np.repeat(direction[None], length, axis=0))
        done = np.zeros(length)
        done[-1] = 1
        terminals.append(done)
    return GoalDataset.from_arrays(
        np.concatenate(observations).astype(np.float32),
        np.concatenate(actions).astype(np.float32),
        np.concatenate(terminals),
    )


@pytest.fixture(scope="session")
def line_dataset() -> GoalDataset:
    return make_line_dataset()


@pytest.fixture(scope="session")
def goal_spaces() -> tuple[spaces.Box, spaces.Box]:
    return (
        spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float64),
        spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32),
    )
