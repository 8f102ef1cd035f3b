"""Every memory actor learns to recall the first observation's sign after five blank steps; the MLP cannot."""

from __future__ import annotations

import pytest
import torch
from gymnasium import spaces

from ttt_gym.policies import ACTORS

OBSERVATIONS = spaces.Box(-1.0, 1.0, (1,))
ACTIONS = spaces.Discrete(2)
LENGTH = 6

# Memory must cross steps through the mechanism under test: TTT-E2E sees one step (context=1) and updates its suffix
# every 2 steps, so the sign only survives in its fast weights; TTT-Linear has no attention at all.
CONFIGS = {
    "mlp": {"hidden_dims": (16, 16)},
    "gru": {"embed_dim": 16, "hidden_dim": 16},
    "transformer": {"embed_dim": 16, "num_layers": 1},
    "ttt_linear": {"embed_dim": 16, "num_layers": 1, "mini_batch_size": 2},
    "ttt_e2e": {"embed_dim": 16, "num_layers": 1, "chunk_size": 2, "context": 1},
}


def recall_batch(generator: torch.Generator, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """First observation +-1 then zeros; the label at every step is the first observation's sign."""
    sign = torch.randint(0, 2, (size,), generator=generator)
    observations = torch.zeros(size, LENGTH, 1)
    observations[:, 0, 0] = sign * 2.0 - 1.0
    return observations, sign.unsqueeze(1).expand(size, LENGTH)


def final_step_accuracy(name: str, steps: int = 150) -> float:
    actor = ACTORS[name](OBSERVATIONS, ACTIONS, previous_action=False, seed=0, **CONFIGS[name])
    optimizer = torch.optim.Adam(actor.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        observations, actions = recall_batch(generator)
        loss, _ = actor.loss(observations, actions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    observations, actions = recall_batch(torch.Generator().manual_seed(123), size=256)
    with torch.no_grad():
        predicted = actor.forward_sequence(observations).params.argmax(-1)
    return float((predicted[:, -1] == actions[:, -1]).float().mean())


@pytest.mark.parametrize("name", ["gru", "transformer", "ttt_linear", "ttt_e2e"])
def test_memory_actor_recalls_the_first_observation(name: str) -> None:
    assert final_step_accuracy(name) >= 0.95


def test_mlp_cannot_recall() -> None:
    assert final_step_accuracy("mlp") <= 0.7
