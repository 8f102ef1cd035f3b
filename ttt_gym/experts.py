"""Privileged experts (DAgger labels, demonstrations) and human-like demonstrators for the memory envs."""

from __future__ import annotations

from ttt_envs.experts import Demonstrator, ScriptedExpert, StatePolicyExpert, make_demonstrator, make_expert

__all__ = ["Demonstrator", "ScriptedExpert", "StatePolicyExpert", "make_demonstrator", "make_expert"]
