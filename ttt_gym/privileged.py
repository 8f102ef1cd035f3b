"""The contract of an env with a privileged state, which BC / DAgger from a privileged expert need, and env sources.

The memory suite meets it; so can a user's own partially observable env. Trainers and evaluation take an env as a
registered id or as a factory (``lambda: MyEnv()``, like SB3's ``make_vec_env``), never as an instance: they run
several copies in lockstep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Union, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["EnvSource", "PrivilegedEnv", "check_privileged_env", "env_label", "make_env"]

EnvSource = Union[str, Callable[..., gym.Env]]  # noqa: UP007  (a runtime alias)
"""A registered gymnasium id, or a factory that returns a fresh env (keyword arguments are passed to it)."""


@runtime_checkable
class PrivilegedEnv(Protocol):
    """A partially observable env that also reports its full (privileged) state, for a privileged expert.

    * ``state_space``: a ``Box``, on the unwrapped env, holding the privileged state.
    * ``reset(...)`` and every ``step(...)`` put that state in ``info["state"]`` (an array in ``state_space``).
    * every ``step(...)`` puts a bool ``info["success"]`` (the success rate of evaluation and checkpoint selection).
    * the observation (``observation_space``) is what the learner sees; the expert sees
      ``PrivilegedObservation(env)``'s ``Dict(obs=..., state=...)``.
    """

    state_space: spaces.Box
    observation_space: spaces.Space
    action_space: spaces.Space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode; ``info["state"]`` holds the privileged state."""
        ...

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """One step; ``info`` holds ``state`` and ``success``."""
        ...


def make_env(env: EnvSource, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """A fresh env from an id (``gym.make``) or a factory.

    Raises:
        TypeError: ``env`` is an env instance (or anything else): the message says to pass an id or a factory.
    """
    kwargs = env_kwargs or {}
    if isinstance(env, str):
        return gym.make(env, **kwargs)
    if isinstance(env, gym.Env):
        raise TypeError(
            f"Got an env instance ({type(env.unwrapped).__name__}); episodes run in several copies at once, so pass "
            f"its registered id (gymnasium.register(id=..., entry_point=...)) or a factory, e.g. "
            f"lambda: {type(env.unwrapped).__name__}()"
        )
    if callable(env):
        made = env(**kwargs)
        if not isinstance(made, gym.Env):
            raise TypeError(f"The env factory returned {type(made).__name__}, not a gymnasium.Env")
        return made
    raise TypeError(f"env must be a registered id or a factory () -> gymnasium.Env, got {type(env).__name__}")


def env_label(env: EnvSource) -> str:
    """A short name for logs: the id, or the factory's name."""
    return env if isinstance(env, str) else getattr(env, "__name__", type(env).__name__)


def check_privileged_env(env: EnvSource, env_kwargs: dict[str, Any] | None = None) -> None:
    """Check that ``env`` meets :class:`PrivilegedEnv` with one reset and one step; raise naming what is missing.

    Raises:
        TypeError: no ``state_space`` Box on the unwrapped env.
        KeyError: ``info["state"]`` missing at reset or step, or ``info["success"]`` missing at step.
        ValueError: the state does not fit ``state_space``.
    """
    instance = make_env(env, env_kwargs)
    name = env_label(env)
    fix = "see ttt_gym.privileged.PrivilegedEnv for the contract"
    try:
        state_space = getattr(instance.unwrapped, "state_space", None)
        if not isinstance(state_space, spaces.Box):
            raise TypeError(f"{name}: the unwrapped env has no `state_space` Box for the privileged state; {fix}")
        _, info = instance.reset(seed=0)
        _check_state(name, info, state_space, "reset", fix)
        _, _, _, _, info = instance.step(instance.action_space.sample())
        _check_state(name, info, state_space, "step", fix)
        if "success" not in info:
            raise KeyError(f"{name}: step() infos lack 'success' (a bool); {fix}")
    finally:
        instance.close()


def _check_state(name: str, info: dict[str, Any], space: spaces.Box, where: str, fix: str) -> None:
    if "state" not in info:
        raise KeyError(f"{name}: {where}() infos lack 'state' (the privileged state); {fix}")
    shape = np.shape(info["state"])
    if shape != space.shape:
        raise ValueError(f"{name}: info['state'] at {where}() has shape {shape}, state_space {space.shape}; {fix}")
