"""Test-wide settings: single-threaded torch so the suite behaves the same on 2 cores and in CI."""

from __future__ import annotations

import torch

import ttt_gym  # noqa: F401  (registers the ttt_gym/ ids)

torch.set_num_threads(1)
