"""Sequence actors for memory tasks: MLP, GRU, transformer (KV cache), TTT-Linear and TTT-E2E (TTT-Policy).

All share :class:`SequenceActor`'s interface: SB3 recurrent ``predict`` for env loops, ``forward_sequence`` /
``log_prob`` / ``loss`` for training on whole trajectories, ``save`` / ``load``. See ``docs/POLICIES.md``.
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces

from ttt_gym.policies.base import ActorConfig, SequenceActor, SequenceOutput, State, load_actor
from ttt_gym.policies.grad_stop import with_grad_stop
from ttt_gym.policies.gru import GRUActor, GRUActorConfig
from ttt_gym.policies.mlp import MLPActor, MLPActorConfig
from ttt_gym.policies.transformer import TransformerActor, TransformerActorConfig
from ttt_gym.policies.ttt_e2e import TTTE2EActor, TTTE2EActorConfig
from ttt_gym.policies.ttt_linear import TTTLinearActor, TTTLinearActorConfig

ACTORS: dict[str, type[SequenceActor]] = {
    "mlp": MLPActor,
    "gru": GRUActor,
    "transformer": TransformerActor,
    "ttt_linear": TTTLinearActor,
    "ttt_e2e": TTTE2EActor,
}
"""Short names of the actors, for configs and the command line (``-`` and ``_`` are interchangeable)."""

ACTOR_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "transformer_ctx1": ("transformer", {"context": 1}),
}
"""Named variants: preset name -> (:data:`ACTORS` key, config overrides). The blog's ctx=1 baseline is one."""


def actor_names() -> list[str]:
    """Every name :func:`resolve_actor` accepts, in the spelling the command line shows (``ttt-linear``)."""
    return [name.replace("_", "-") for name in (*ACTORS, *ACTOR_PRESETS)]


def resolve_actor(name: str) -> tuple[type[SequenceActor], dict[str, Any]]:
    """An actor name (``"ttt-linear"``, ``"ttt_linear"``, ``"transformer-ctx1"``...) -> (class, config overrides)."""
    key = name.strip().lower().replace("-", "_")
    if key in ACTORS:
        return ACTORS[key], {}
    if key in ACTOR_PRESETS:
        base, overrides = ACTOR_PRESETS[key]
        return ACTORS[base], dict(overrides)
    raise ValueError(f"Unknown actor {name!r}; choose one of {actor_names()} or pass an actor class.")


def make_actor(name: str, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> SequenceActor:
    """Build an actor by name (see :func:`resolve_actor`); ``config`` overrides the preset's fields."""
    actor_cls, preset = resolve_actor(name)
    return actor_cls(observation_space, action_space, **{**preset, **config})


__all__ = [
    "ACTORS",
    "ACTOR_PRESETS",
    "ActorConfig",
    "GRUActor",
    "GRUActorConfig",
    "MLPActor",
    "MLPActorConfig",
    "SequenceActor",
    "SequenceOutput",
    "State",
    "TTTE2EActor",
    "TTTE2EActorConfig",
    "TTTLinearActor",
    "TTTLinearActorConfig",
    "TransformerActor",
    "TransformerActorConfig",
    "actor_names",
    "load_actor",
    "make_actor",
    "resolve_actor",
    "with_grad_stop",
]
