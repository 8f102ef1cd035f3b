"""Tiny actors and spaces shared by the policy tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

from ttt_gym.policies import ACTORS, SequenceActor

OBSERVATION_SPACE = spaces.Box(-2.0, 2.0, (3,), dtype=np.float32)
ACTION_SPACES = {
    "discrete": spaces.Discrete(4),
    "box": spaces.Box(-1.0, 1.0, (2,), dtype=np.float32),
}

# name -> (actor key, config); small enough that a test runs in well under a second
TINY: dict[str, tuple[str, dict[str, Any]]] = {
    "mlp": ("mlp", {"hidden_dims": (16,)}),
    "gru": ("gru", {"embed_dim": 16, "hidden_dim": 16}),
    "transformer": ("transformer", {"embed_dim": 16, "num_layers": 1, "num_heads": 2}),
    "transformer_ctx3": ("transformer", {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "context": 3}),
    "ttt_linear": ("ttt_linear", {"embed_dim": 16, "num_layers": 2, "num_heads": 2, "mini_batch_size": 4}),
    "ttt_e2e": ("ttt_e2e", {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "chunk_size": 4, "context": None}),
    "ttt_e2e_ctx1": ("ttt_e2e", {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "chunk_size": 4, "context": 1}),
    # a sliding window longer than a chunk: attention reaches across chunk boundaries (TTT-E2E's own layout)
    "ttt_e2e_ctx6": ("ttt_e2e", {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "chunk_size": 4, "context": 6}),
}
MEMORY_ACTORS = [name for name in TINY if name != "mlp"]


def make_tiny(name: str, action: str = "discrete", **overrides: Any) -> SequenceActor:
    key, config = TINY[name]
    return ACTORS[key](OBSERVATION_SPACE, ACTION_SPACES[action], **{**config, **overrides})


def random_trajectories(
    actor: SequenceActor, batch: int, length: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Observations ``[B, T, 3]`` and actions valid for the actor's action space."""
    g = torch.Generator().manual_seed(seed)
    observations = torch.randn(batch, length, 3, generator=g, dtype=dtype)
    if actor.discrete:
        actions = torch.randint(0, actor.action_dim, (batch, length), generator=g)
    else:
        actions = torch.rand(batch, length, actor.action_dim, generator=g, dtype=dtype) * 2 - 1
    return observations, actions


@pytest.fixture(params=sorted(TINY))
def actor_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=sorted(ACTION_SPACES))
def action_kind(request: pytest.FixtureRequest) -> str:
    return request.param


def step_params(
    actor: SequenceActor, observations: torch.Tensor, actions: torch.Tensor, starts: torch.Tensor
) -> torch.Tensor:
    """Logits / means of the step form run over ``[B, T]`` trajectories, recording ``actions`` as executed."""
    state = actor.initial_state(observations.shape[0])
    params = []
    with torch.no_grad():
        for t in range(observations.shape[1]):
            distribution, state = actor.forward_step(observations[:, t], state, starts[:, t])
            state = actor.record_actions(state, actions[:, t])
            params.append(distribution.logits if actor.discrete else distribution.mean)
    return torch.stack(params, 1)
