"""Tiny generated datasets shared by the data tests (3 short episodes: generated in well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttt_gym.data import generate_dataset

TINY_EPISODES = 3
TINY_STEPS = 40


@pytest.fixture(scope="session")
def tiny_navigate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training file of a 3-episode, 40-step pointmaze-medium-navigate dataset (validation file next to it)."""
    return generate_dataset(
        "pointmaze-medium-navigate-v0",
        num_episodes=TINY_EPISODES,
        episode_steps=TINY_STEPS,
        seed=0,
        path=tmp_path_factory.mktemp("navigate"),
        progress_bar=False,
        num_workers=1,
    )
