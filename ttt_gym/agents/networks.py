"""Networks of the goal-conditioned agents: MLPs, a Q/V ensemble and the Gaussian actor (OGBench's shapes).

OGBench's choices, reproduced here: GELU (exact rather than flax's tanh approximation, see ``_gelu``),
Glorot-uniform kernels with zero biases, layer norm after each hidden activation of the critics (epsilon 1e-6), a mean
head initialised at 1e-2 scale, and a Gaussian actor whose log standard deviation is state-independent (zero and
constant by default), without tanh.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0
_LAYER_NORM_EPS = 1e-6


def _glorot_uniform_(weight: torch.Tensor, fan_in: int, fan_out: int, scale: float = 1.0) -> None:
    """Variance scaling, fan_avg, uniform (flax's default Dense initialiser is ``scale=1``)."""
    limit = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2.0))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def _linear(in_dim: int, out_dim: int, scale: float = 1.0) -> nn.Linear:
    layer = nn.Linear(in_dim, out_dim)
    _glorot_uniform_(layer.weight, in_dim, out_dim, scale)
    nn.init.zeros_(layer.bias)
    return layer


def _gelu(x: torch.Tensor) -> torch.Tensor:
    # The exact (erf) GELU: flax defaults to the tanh approximation, which differs by < 1e-3 but runs about 5x slower
    # on the CPU kernels of torch measured here.
    return F.gelu(x)


class MLP(nn.Module):
    """Dense -> GELU [-> LayerNorm] blocks; the last layer is linear unless ``activate_final``.

    Args:
        input_dim: size of the input features.
        dims: output sizes of the layers, the last one included.
        layer_norm: layer norm after each activation (OGBench's critics).
        activate_final: apply the activation (and layer norm) after the last layer too.
    """

    def __init__(
        self, input_dim: int, dims: Sequence[int], *, layer_norm: bool = False, activate_final: bool = False
    ) -> None:
        super().__init__()
        sizes = [input_dim, *dims]
        self.layers = nn.ModuleList(_linear(a, b) for a, b in itertools.pairwise(sizes))
        n_activated = len(dims) if activate_final else len(dims) - 1
        self.norms = nn.ModuleList(
            nn.LayerNorm(dims[i], eps=_LAYER_NORM_EPS) if layer_norm else nn.Identity() for i in range(n_activated)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_activated = len(self.norms)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < n_activated:
                x = self.norms[i](_gelu(x))
        return x


class GoalValue(nn.Module):
    """Goal-conditioned value ``V(s, g)`` or critic ``Q(s, g, a)`` (when ``action_dim > 0``), optionally an ensemble.

    Returns shape ``(batch,)`` when ``ensemble_size == 1`` and ``(ensemble_size, batch)`` otherwise.
    """

    def __init__(
        self,
        observation_dim: int,
        goal_dim: int,
        hidden_dims: Sequence[int],
        *,
        action_dim: int = 0,
        ensemble_size: int = 1,
        layer_norm: bool = True,
    ) -> None:
        super().__init__()
        self.ensemble_size = ensemble_size
        input_dim = observation_dim + goal_dim + action_dim
        # Separate MLPs rather than batched matmuls over stacked weights: MKL's addmm beat bmm by about 25% here.
        self.members = nn.ModuleList(
            MLP(input_dim, (*hidden_dims, 1), layer_norm=layer_norm) for _ in range(ensemble_size)
        )

    def forward(
        self, observations: torch.Tensor, goals: torch.Tensor, actions: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [observations, goals] if actions is None else [observations, goals, actions]
        inputs = torch.cat(parts, dim=-1)
        if self.ensemble_size == 1:
            return self.members[0](inputs).squeeze(-1)
        return torch.stack([member(inputs).squeeze(-1) for member in self.members])


class GaussianActor(nn.Module):
    """Goal-conditioned Gaussian policy ``N(mu(s, g), diag(exp(log_std))^2)`` without tanh (OGBench's ``GCActor``).

    Args:
        observation_dim: size of the observation.
        goal_dim: size of the goal (a full observation in OGBench).
        action_dim: size of the action.
        hidden_dims: trunk widths; every layer is activated.
        const_std: keep ``log_std = 0`` (OGBench's default); otherwise learn a state-independent ``log_std``.
    """

    def __init__(
        self,
        observation_dim: int,
        goal_dim: int,
        action_dim: int,
        hidden_dims: Sequence[int],
        *,
        const_std: bool = True,
    ) -> None:
        super().__init__()
        self.trunk = MLP(observation_dim + goal_dim, hidden_dims, activate_final=True)
        self.mean_head = _linear(hidden_dims[-1], action_dim, scale=1e-2)
        self.log_std: nn.Parameter | None = None if const_std else nn.Parameter(torch.zeros(action_dim))
        self._zero_log_std: torch.Tensor
        self.register_buffer("_zero_log_std", torch.zeros(action_dim), persistent=False)

    def forward(self, observations: torch.Tensor, goals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mean action ``(batch, action_dim)`` and the clipped log standard deviation ``(action_dim,)``.

        Both come out of ``forward`` so that ``torch.func.functional_call`` with substituted parameters covers the
        whole distribution.
        """
        mean = self.mean_head(self.trunk(torch.cat([observations, goals], dim=-1)))
        log_std: torch.Tensor = self._zero_log_std if self.log_std is None else self.log_std
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the action dimensions."""
    z = (actions - mean) * torch.exp(-log_std)
    return -0.5 * z.square().sum(-1) - log_std.sum(-1) - 0.5 * mean.shape[-1] * math.log(2.0 * math.pi)
