"""Wrappers shared by the suite; re-exported as ``ttt_gym.wrappers``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class PrivilegedObservation(gym.ObservationWrapper):
    """Expose the privileged full state next to the observation: ``Dict(obs=..., state=...)``.

    The state comes from ``info["state"]``, which every env of the suite fills at reset and at every step;
    its space is the unwrapped env's ``state_space``. This is what the experts act on and what DAgger
    uses to label the states a learner visits.

    Example:
        >>> env = PrivilegedObservation(gym.make("ttt_gym/MysteryPath-v0"))
        >>> obs, info = env.reset(seed=0)
        >>> sorted(obs)
        ['obs', 'state']
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        state_space = getattr(env.unwrapped, "state_space", None)
        if not isinstance(state_space, spaces.Box):
            raise TypeError(
                f"PrivilegedObservation needs an env with a `state_space` Box and info['state'] "
                f"(the ttt_gym suite: ttt_gym/MysteryPath-v0, ...); {env.unwrapped!r} has none."
            )
        self.observation_space = spaces.Dict({"obs": env.observation_space, "state": state_space})
        self._state: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        obs, info = self.env.reset(seed=seed, options=options)
        self._state = self._read_state(info)
        return self.observation(obs), info

    def step(self, action: Any):  # type: ignore[override]
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._state = self._read_state(info)
        return self.observation(obs), reward, terminated, truncated, info

    def observation(self, observation: Any) -> dict[str, Any]:
        return {"obs": observation, "state": self._state}

    @staticmethod
    def _read_state(info: dict[str, Any]) -> np.ndarray:
        if "state" not in info:
            raise KeyError(
                "PrivilegedObservation: the env's info has no 'state' entry. Wrap the ttt_gym env itself, "
                "not a wrapper that drops info."
            )
        return np.asarray(info["state"], dtype=np.float32)
