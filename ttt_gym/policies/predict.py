"""The numpy side of the actors' SB3-recurrent ``predict``: observations in, actions out.

:meth:`ttt_gym.policies.SequenceActor.predict` reads like sb3-contrib's ``RecurrentPPO.predict``: it batches the
observation (:func:`batch_observations`), runs one step of the memory, and picks actions (:func:`choose_actions`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch.distributions import Categorical, Distribution

__all__ = ["batch_observations", "choose_actions"]


def batch_observations(observation: Any, observation_space: spaces.Space) -> tuple[np.ndarray, bool]:
    """``observation`` as a float32 ``[n_envs, *obs_shape]`` batch, and whether it was a single observation.

    Raises:
        TypeError: an ``(observation, info)`` tuple or a dict observation was passed.
        ValueError: the shape is neither the space's nor a batch of it.
    """
    if isinstance(observation, tuple):
        raise TypeError(
            "predict got a tuple: pass the observation, not the (observation, info) pair that env.reset() returns."
        )
    if isinstance(observation, dict):
        raise TypeError("predict got a dict observation: the sequence actors take the partial Box observation.")
    obs = np.asarray(observation, dtype=np.float32)
    shape = tuple(observation_space.shape or ())
    single = obs.shape == shape
    if single:
        obs = obs[None]
    elif obs.shape[1:] != shape:
        raise ValueError(
            f"Observation shape {obs.shape} matches neither the observation space {shape} nor a batch of it."
        )
    return obs, single


def choose_actions(
    distribution: Distribution, action_space: spaces.Space, generator: torch.Generator, deterministic: bool
) -> torch.Tensor:
    """The mode (``deterministic``) or a sample drawn with ``generator``; Box actions are clipped to the space."""
    if isinstance(action_space, spaces.Discrete):
        assert isinstance(distribution, Categorical)
        if deterministic:
            index = distribution.probs.argmax(-1)
        else:
            index = torch.multinomial(distribution.probs, 1, generator=generator).squeeze(-1)
        return index + int(action_space.start)
    assert isinstance(action_space, spaces.Box)
    mean = distribution.mean
    if deterministic:
        actions = mean
    else:
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        actions = mean + noise * distribution.stddev
    low = torch.as_tensor(action_space.low, device=mean.device, dtype=mean.dtype)
    high = torch.as_tensor(action_space.high, device=mean.device, dtype=mean.dtype)
    return torch.maximum(torch.minimum(actions, high), low)
