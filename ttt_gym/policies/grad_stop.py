"""Gradient stopping of the TTT actors at inference: :func:`with_grad_stop` copies an actor with another setting.

A TTT actor (:class:`~ttt_gym.policies.TTTLinearActor`, :class:`~ttt_gym.policies.TTTE2EActor`) can skip an inner
update whose gradient norm is small (``grad_stop_threshold`` / ``grad_stop_rule`` of its config). The sweep that
measures what a setting saves and costs is repository tooling: ``python -m benchmarks.grad_stop`` (see
``docs/BENCHMARKS.md``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

from ttt_gym.policies.base import SequenceActor

GRAD_STOP_RULES = ("absolute", "relative")
"""The rules :func:`ttt_gym.policies.base.should_skip_update` knows."""

_ActorT = TypeVar("_ActorT", bound=SequenceActor)


def check_grad_stop_actor(actor: Any) -> SequenceActor:
    """Return ``actor`` if its config has the gradient-stopping fields, else raise a ValueError saying what to pass."""
    fields = {f.name for f in dataclasses.fields(actor.config)} if hasattr(actor, "config") else set()
    if not isinstance(actor, SequenceActor) or not {"grad_stop_threshold", "grad_stop_rule"} <= fields:
        raise ValueError(
            f"Gradient stopping needs a TTT actor (TTTLinearActor or TTTE2EActor), got {type(actor).__name__}. "
            "Pass an actor trained with --policy ttt-linear or --policy ttt-e2e."
        )
    return actor


def check_setting(threshold: float, rule: str) -> None:
    """Raise a ValueError naming the fix for a rule other than absolute / relative or a negative (or NaN) threshold."""
    if rule not in GRAD_STOP_RULES:
        raise ValueError(f"Unknown gradient-stopping rule {rule!r}; use one of {', '.join(GRAD_STOP_RULES)}.")
    if math.isnan(threshold) or threshold < 0:
        raise ValueError(
            f"Gradient-stopping thresholds must be >= 0 (0 = never skip, the baseline), got {threshold}; "
            "pass non-negative thresholds."
        )


def with_grad_stop(actor: _ActorT, threshold: float, rule: str) -> _ActorT:
    """A copy of a TTT actor with another gradient-stopping setting and the same weights; ``actor`` is untouched.

    The config is frozen, so the copy is rebuilt from ``dataclasses.replace(actor.config, ...)`` and given a copy of
    the weights (same device and dtype). Gradient stopping acts only on the inner loop, so the copy computes the same
    function as the original wherever no update is skipped.
    """
    check_grad_stop_actor(actor)
    check_setting(threshold, rule)
    setting: dict[str, Any] = {"grad_stop_threshold": float(threshold), "grad_stop_rule": rule}
    config = dataclasses.replace(actor.config, **setting)
    copy = type(actor)(actor.observation_space, actor.action_space, **dataclasses.asdict(config))
    copy = copy.to(device=actor.device, dtype=actor.dtype)  # before loading, so float64 weights keep their precision
    copy.load_state_dict(actor.state_dict())
    return copy


_MOVED = {
    "BASELINE_RULE",
    "GradStopResult",
    "check_env",
    "evaluate_grad_stop",
    "machine_info",
    "main",
    "measure_flops_per_update",
    "sweep_grad_stop",
    "sweep_settings",
    "to_markdown",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        raise ImportError(
            f"ttt_gym.policies.grad_stop.{name} moved out of the library to the repository's benchmarks package: "
            f"use benchmarks.grad_stop.{name} from a checkout (the sweep runs as `python -m benchmarks.grad_stop`)."
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GRAD_STOP_RULES", "check_grad_stop_actor", "check_setting", "with_grad_stop"]

if __name__ == "__main__":
    raise SystemExit(
        "The gradient-stopping sweep moved: run `python -m benchmarks.grad_stop` from a repository checkout."
    )
