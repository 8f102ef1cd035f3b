"""Test-wide settings: single-threaded torch so the suite behaves the same on 2 cores and in CI."""

from __future__ import annotations

import pytest
import torch

import ttt_gym  # noqa: F401  (registers the ttt_gym/ ids)

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray for the whole session (2 CPUs, as on CI); its start-up counts in the suite's time."""
    from ttt_gym.parallel import init_ray

    ray = init_ray(num_cpus=2)
    yield ray
    ray.shutdown()
