"""Sequence actors for memory tasks: MLP, GRU, transformer (KV cache), TTT-Linear and TTT-E2E (TTT-Policy).

All share :class:`SequenceActor`'s interface: SB3 recurrent ``predict`` for env loops, ``forward_sequence`` /
``log_prob`` / ``loss`` for training on whole trajectories, ``save`` / ``load``. See ``docs/POLICIES.md``.
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces

from ttt_gym.policies.base import ActorConfig, SequenceActor, SequenceOutput, State, load_actor
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
"""Short names of the actors, for configs and the command line."""


def make_actor(name: str, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> SequenceActor:
    """Build an actor by short name (a key of :data:`ACTORS`)."""
    if name not in ACTORS:
        raise ValueError(f"Unknown actor {name!r}; choose one of {sorted(ACTORS)}.")
    return ACTORS[name](observation_space, action_space, **config)


__all__ = [
    "ACTORS",
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
    "load_actor",
    "make_actor",
]
