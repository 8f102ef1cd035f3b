"""Memoryless MLP actor: the floor every memory actor must beat."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from gymnasium import spaces
from torch import nn

from ttt_gym.policies.base import ActorConfig, SequenceActor, State, register_actor


@dataclasses.dataclass(frozen=True)
class MLPActorConfig(ActorConfig):
    """Config of :class:`MLPActor`.

    Attributes:
        hidden_dims: widths of the hidden layers (``embed_dim`` is unused).
        previous_action: off by default: the MLP is the memoryless baseline.
    """

    hidden_dims: tuple[int, ...] = (64, 64)
    previous_action: bool = False

    @property
    def memoryless(self) -> bool:
        return True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            raise ValueError(f"hidden_dims must be a non-empty sequence of positive widths, got {self.hidden_dims}.")


@register_actor
class MLPActor(SequenceActor):
    """Each step's action from that step's input alone (Tanh MLP). State: only ``previous_action``."""

    config_class = MLPActorConfig
    config: MLPActorConfig

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> None:
        super().__init__(observation_space, action_space, **config)
        with self.seeded_init():
            layers: list[nn.Module] = []
            width = self.input_dim
            for hidden in self.config.hidden_dims:
                layers += [nn.Linear(width, hidden), nn.Tanh()]
                width = hidden
            self.body = nn.Sequential(*layers)
            self.head = self.make_head(width)

    def _forward_features(
        self, inputs: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        return self.body(inputs), self._zero(), {}

    def _memory_state(self, n_envs: int) -> State:
        return {}

    def _reset_memory(self, state: State, reset: torch.Tensor) -> State:
        return state

    def _step_features(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.body(inputs), state
