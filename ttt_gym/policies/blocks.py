"""Building blocks shared by the sequence actors: the sequence form's output, action heads, memory resets.

The actors (``gru.py``, ``transformer.py``, ``ttt_linear.py``, ``ttt_e2e.py``...) build their layers from these; the
base class :class:`ttt_gym.policies.SequenceActor` puts an :class:`ActionHead` on every actor's features.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first, preprocess_obs
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

__all__ = [
    "LOG_STD_MAX",
    "LOG_STD_MIN",
    "ActionHead",
    "FeedForward",
    "ImageEncoder",
    "SequenceOutput",
    "action_dim",
    "check_actor_spaces",
    "distribution_params",
    "reset_where",
    "should_skip_update",
]

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


@dataclasses.dataclass(frozen=True)
class SequenceOutput:
    """What the sequence form returns.

    Attributes:
        distribution: the action distribution of every step, batch shape ``[B, T]`` (Categorical for Discrete,
            a diagonal Normal for Box).
        aux_loss: scalar auxiliary loss the actor wants added to its imitation loss (TTT-E2E's next-embedding MSE,
            already in the units of the outer objective before ``aux_loss_weight``); zero for the others.
        stats: scalar diagnostics (inner-update counts, gradient norms) for logging.
    """

    distribution: Distribution
    aux_loss: torch.Tensor
    stats: dict[str, float]

    @property
    def params(self) -> torch.Tensor:
        """Logits (normalised log-probabilities) for Discrete actions, the Gaussian mean for Box actions."""
        return distribution_params(self.distribution)


def distribution_params(distribution: Distribution) -> torch.Tensor:
    """Log-probabilities of a Categorical, the mean of a Normal: what the consistency tests compare."""
    if isinstance(distribution, Categorical):
        return distribution.logits
    return distribution.mean


def action_dim(space: spaces.Space) -> int:
    """Categories of a Discrete space, length of a flat Box."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    return int(np.prod(space.shape or ()))


def check_actor_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Raise a ``TypeError`` that says what fits unless the actors can take these spaces."""
    if isinstance(observation_space, spaces.Dict):
        raise TypeError(
            "The sequence actors take Box observations, got a Dict space. For a PrivilegedObservation env, "
            "give the actor the partial 'obs' space (the expert is the one that reads 'state')."
        )
    if not isinstance(observation_space, spaces.Box):
        raise TypeError(f"The sequence actors take Box observations, got {observation_space}.")
    if not isinstance(action_space, spaces.Discrete | spaces.Box):
        raise TypeError(f"The sequence actors support Discrete and Box action spaces, got {action_space}.")
    if isinstance(action_space, spaces.Box) and len(action_space.shape) != 1:
        raise TypeError(f"Box actions must be a flat vector, got shape {action_space.shape}.")


def reset_where(tensor: torch.Tensor, reset: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """Rows of ``fresh`` where ``reset`` (``[B]`` bool) is set, rows of ``tensor`` elsewhere."""
    shape = (-1,) + (1,) * (tensor.dim() - 1)
    return torch.where(reset.view(shape), fresh.to(tensor.dtype).expand_as(tensor), tensor)


def should_skip_update(
    grad_norm: torch.Tensor, running_mean: torch.Tensor, threshold: float, rule: str
) -> torch.Tensor:
    """Gradient stopping: True where an inner update is skipped.

    ``absolute`` skips when the norm is below ``threshold``; ``relative`` when it is below ``threshold`` times the
    running mean of the norms seen so far in the episode (current one included, so the first update of an episode is
    skipped only for thresholds above 1). ``threshold == 0`` never skips.
    """
    if threshold <= 0:
        return torch.zeros_like(grad_norm, dtype=torch.bool)
    reference = running_mean if rule == "relative" else torch.ones_like(grad_norm)
    return grad_norm < threshold * reference


class ActionHead(nn.Module):
    """Features -> action distribution: categorical logits, or a Gaussian with a state-independent log std."""

    def __init__(self, feature_dim: int, action_space: spaces.Space, log_std_init: float) -> None:
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        out_dim = action_dim(action_space)
        self.linear = nn.Linear(feature_dim, out_dim)
        nn.init.orthogonal_(self.linear.weight, gain=0.01)
        nn.init.zeros_(self.linear.bias)
        self.log_std = None if self.discrete else nn.Parameter(torch.full((out_dim,), float(log_std_init)))

    def forward(self, features: torch.Tensor) -> Distribution:
        out = self.linear(features)
        if self.discrete:
            return Categorical(logits=out)
        assert self.log_std is not None
        std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp().expand_as(out)
        return Independent(Normal(out, std), 1)


class FeedForward(nn.Module):
    """Pre-norm residual MLP block of the transformer-style actors: ``x + W2 gelu(W1 LN(x))``."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, hidden_dim)
        self.down = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(F.gelu(self.up(self.norm(x))))


class ImageEncoder(nn.Module):
    """A small CNN for image observations: ``[N, *image_shape]`` -> ``[N, features_dim]`` features.

    Three 3 x 3 convolutions of stride 2 (16, 32 and 32 channels, ReLU), then a linear layer to ``features_dim``
    (ReLU): SB3's ``NatureCNN`` shape, shrunk for the suite's 32 x 32 agent views (``NatureCNN``'s 8 x 8 stride-4 first
    layer needs images of at least 36 x 36 pixels). Images go through SB3's ``preprocess_obs`` (uint8 -> [0, 1]);
    channels-last images (gymnasium's layout, and the suite's) are transposed here, channels-first ones used as they
    are (SB3's ``is_image_space_channels_first`` tells which).

    Args:
        observation_space: an image space as SB3's ``is_image_space`` accepts it: ``Box(0, 255, (H, W, C))`` or
            ``(C, H, W)``, uint8.
        features_dim: width of the output.

    Raises:
        ValueError: for any other observation space.
    """

    def __init__(self, observation_space: spaces.Space, features_dim: int) -> None:
        super().__init__()
        if not is_image_space(observation_space, check_channels=False):
            raise ValueError(
                f"encoder='cnn' reads image observations, Box(0, 255, (H, W, C) or (C, H, W), uint8); got "
                f"{observation_space}. Use encoder='flat' for vector observations, or a pixel env such as "
                "ttt_gym/MysteryPathPixels-v0 (gym.make(..., obs_type='pixels'))."
            )
        assert isinstance(observation_space, spaces.Box)
        self.observation_space = observation_space
        self.channels_first = is_image_space_channels_first(observation_space)
        shape = observation_space.shape
        channels_first_shape = shape if self.channels_first else (shape[2], shape[0], shape[1])
        self.convolutions = nn.Sequential(
            nn.Conv2d(channels_first_shape[0], 16, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = int(self.convolutions(torch.zeros(1, *channels_first_shape)).shape[1])
        self.linear = nn.Sequential(nn.Linear(n_flat, features_dim), nn.ReLU())
        self.features_dim = int(features_dim)

    @property
    def first_layer_dtype(self) -> torch.dtype:
        """The weights' dtype (float64 after ``actor.double()``): what the scaled images are cast to."""
        return next(self.convolutions.parameters()).dtype

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        scaled = preprocess_obs(images, self.observation_space)
        assert isinstance(scaled, torch.Tensor)  # a Box space gives a tensor (a Dict space would give a dict)
        scaled = scaled.to(self.first_layer_dtype)
        if not self.channels_first:
            scaled = scaled.permute(0, 3, 1, 2)
        return self.linear(self.convolutions(scaled))
