"""Gymnasium wrappers of ttt_gym."""

from __future__ import annotations

from ttt_envs.wrappers import PrivilegedObservation

__all__ = ["PrivilegedObservation"]
