"""GRU actor: the recurrent baseline (constant memory and per-step cost)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from gymnasium import spaces
from torch import nn

from ttt_gym.policies.base import ActorConfig, SequenceActor, State, register_actor, reset_where


@dataclasses.dataclass(frozen=True)
class GRUActorConfig(ActorConfig):
    """Config of :class:`GRUActor`.

    Attributes:
        hidden_dim: GRU hidden size.
        num_layers: stacked GRU layers.
    """

    hidden_dim: int = 64
    num_layers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise ValueError(f"hidden_dim and num_layers must be positive, got {self.hidden_dim}, {self.num_layers}.")


@register_actor
class GRUActor(SequenceActor):
    """Linear embedding -> GRU -> action head.

    State: ``hidden`` ``[n_envs, num_layers, hidden_dim]`` (zeros at an episode start) and ``previous_action``.
    """

    config_class = GRUActorConfig
    config: GRUActorConfig

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> None:
        super().__init__(observation_space, action_space, **config)
        cfg = self.config
        with self.seeded_init():
            self.embed = nn.Sequential(nn.Linear(self.input_dim, cfg.embed_dim), nn.Tanh())
            self.gru = nn.GRU(cfg.embed_dim, cfg.hidden_dim, num_layers=cfg.num_layers, batch_first=True)
            self.head = self.make_head(cfg.hidden_dim)

    def _forward_features(
        self, inputs: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        features, _ = self.gru(self.embed(inputs))
        return features, self._zero(), {}

    def _memory_state(self, n_envs: int) -> State:
        return {
            "hidden": torch.zeros(
                n_envs, self.config.num_layers, self.config.hidden_dim, device=self.device, dtype=self.dtype
            )
        }

    def _reset_memory(self, state: State, reset: torch.Tensor) -> State:
        state["hidden"] = reset_where(state["hidden"], reset, torch.zeros_like(state["hidden"]))
        return state

    def _step_features(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        hidden = state["hidden"].transpose(0, 1).contiguous()
        features, hidden = self.gru(self.embed(inputs).unsqueeze(1), hidden)
        state["hidden"] = hidden.transpose(0, 1)
        return features.squeeze(1), state
