"""The pieces the agents' losses and updates are made of: tensor batches, expectile and AWR terms, target updates.

Each agent file (``gcbc.py``, ``gcivl.py``, ``gciql.py``) writes its losses with these, so that a term OGBench's agents
share reads the same in all three.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import nn

from ttt_gym.data import GoalBatch

__all__ = [
    "AWR_MAX_WEIGHT",
    "TensorBatch",
    "actor_diagnostics",
    "awr_weights",
    "expectile_loss",
    "frozen_parameters",
    "polyak_update",
]

AWR_MAX_WEIGHT = 100.0


@dataclasses.dataclass(frozen=True)
class TensorBatch:
    """A :class:`ttt_gym.data.GoalBatch` as float32 tensors on the agent's device (same field names)."""

    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    rewards: torch.Tensor
    masks: torch.Tensor
    value_goals: torch.Tensor
    actor_goals: torch.Tensor

    @classmethod
    def from_batch(cls, batch: GoalBatch | TensorBatch, device: torch.device) -> TensorBatch:
        """Convert a numpy batch (zero-copy on CPU when already float32); a TensorBatch is moved if needed."""
        values = {}
        for f in dataclasses.fields(cls):
            value = getattr(batch, f.name)
            if isinstance(value, torch.Tensor):
                values[f.name] = value.to(device=device, dtype=torch.float32)
            else:
                array = np.ascontiguousarray(value, dtype=np.float32)
                if not array.flags.writeable:  # e.g. a view of a dataset's read-only arrays: torch would warn
                    array = array.copy()
                values[f.name] = torch.from_numpy(array).to(device, non_blocking=True)
        return cls(**values)


def expectile_loss(advantages: torch.Tensor, differences: torch.Tensor, expectile: float) -> torch.Tensor:
    """Elementwise asymmetric square: ``w * diff**2`` with ``w = expectile`` where ``adv >= 0``, else ``1 - expectile``.

    IQL uses ``adv = diff = Q - V``; GCIVL takes the weight from the target network's advantage.
    """
    weight = torch.where(advantages >= 0, expectile, 1.0 - expectile)
    return weight * differences.square()


def awr_weights(advantages: torch.Tensor, alpha: float, max_weight: float = AWR_MAX_WEIGHT) -> torch.Tensor:
    """Advantage-weighted-regression weights ``min(exp(alpha * adv), max_weight)`` (OGBench caps them at 100)."""
    return torch.exp(advantages * alpha).clamp(max=max_weight)


def actor_diagnostics(
    loss: torch.Tensor,
    mean: torch.Tensor,
    log_std: torch.Tensor,
    log_prob: torch.Tensor,
    actions: torch.Tensor,
    extra: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """What every agent's actor loss reports, detached (OGBench's names).

    ``actor/actor_loss``, then the agent's own terms ``extra`` (e.g. ``actor/adv``), then ``actor/bc_log_prob``,
    ``actor/mse`` (of the Gaussian mean against the dataset actions) and ``actor/std``.
    """
    with torch.no_grad():
        return {
            "actor/actor_loss": loss.detach(),
            **(extra or {}),
            "actor/bc_log_prob": log_prob.mean(),
            "actor/mse": (mean - actions).square().mean(),
            "actor/std": log_std.exp().mean(),
        }


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * source``, parameter by parameter, in place."""
    with torch.no_grad():
        target_params: list[torch.Tensor] = list(target.parameters())
        source_params: list[torch.Tensor] = list(source.parameters())
        torch._foreach_lerp_(target_params, source_params, tau)


@contextlib.contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[None]:
    """Stop gradients into ``module``'s parameters (gradients still flow through it to its inputs)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
