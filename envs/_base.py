"""Shared pieces of the memory environments: the step/reset template, action validation and episode guards.

Every env in the suite subclasses :class:`MemoryEnv` (one level under ``gymnasium.Env``) and writes only
``_reset`` / ``_step`` / ``_render_frame``; the template handles the checks that every env must make
the same way: bad actions, stepping before ``reset`` or after the episode ended, and render modes. It also turns the
observation vector into the agent's image when an env offers one and is made with ``obs_type="pixels"``
(:class:`PixelView`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: The observation types an env can be made with: ``"state"`` (the observation vector each env documents) and
#: ``"pixels"`` (a small image of that same vector, where the env has a :class:`PixelView`).
OBS_TYPES: tuple[str, ...] = ("state", "pixels")


class PixelView(ABC):
    """The agent's view as an image: drawn from the observation *vector* alone, so it can show nothing the vector
    does not (never the privileged state), and readable back into that vector.

    Attributes:
        observation_space: the image space, ``Box(0, 255, (H, W, 3), uint8)`` (channels last).
    """

    observation_space: spaces.Box

    @abstractmethod
    def render(self, observation: np.ndarray) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 image of one observation vector."""

    @abstractmethod
    def decode(self, image: np.ndarray) -> np.ndarray:
        """The observation vector an image shows (exact for grid envs; to sub-pixel precision for positions on a
        plane). What a demonstrator that acts on vectors reads from pixels."""


class EpisodeOrderError(RuntimeError):
    """Raised when ``step`` is called before ``reset`` or after the episode has ended."""


def validate_discrete_action(action: Any, space: spaces.Discrete, env_name: str) -> int:
    """Return ``action`` as a Python int, or raise a ``ValueError`` / ``TypeError`` that names the fix.

    Accepts Python ints, NumPy integer scalars and 0-d / shape-(1,) integer arrays (what SB3 and
    ``env.action_space.sample()`` produce). Floats, booleans, other shapes and out-of-range values are
    rejected rather than silently rounded or clipped.
    """
    arr = np.asarray(action)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{env_name}: actions must be integers in [0, {space.n}), got {action!r} of dtype {arr.dtype}. "
            "Pass an int (e.g. `int(action)` or `env.action_space.sample()`); discrete actions are never rounded."
        )
    if arr.shape not in ((), (1,)):
        raise ValueError(
            f"{env_name}: expected a single action (a scalar), got an array of shape {arr.shape}. "
            "For several envs at once use a vectorised env (gymnasium.vector or SB3's make_vec_env)."
        )
    value = int(arr.reshape(()))
    if not space.contains(np.int64(value)):
        raise ValueError(
            f"{env_name}: action {value} is outside the action space {space} (valid: {space.start}.."
            f"{space.start + space.n - 1}). Discrete actions are never clipped; check the policy's output layer."
        )
    return value


class EpisodeGuard:
    """Tracks whether ``step`` is allowed: after ``reset`` and until the episode terminates or truncates."""

    def __init__(self, env_name: str) -> None:
        self.env_name = env_name
        self.has_reset = False
        self.episode_over = False

    def on_reset(self) -> None:
        self.has_reset = True
        self.episode_over = False

    def before_step(self) -> None:
        if not self.has_reset:
            raise EpisodeOrderError(f"{self.env_name}: step() was called before reset(). Call env.reset() first.")
        if self.episode_over:
            raise EpisodeOrderError(
                f"{self.env_name}: step() was called after the episode ended (terminated or truncated). "
                "Call env.reset() to start a new episode; vectorised envs do this automatically."
            )

    def after_step(self, terminated: bool, truncated: bool) -> None:
        self.episode_over = bool(terminated or truncated)


class MemoryEnv(gym.Env):
    """Template for the suite's envs: discrete actions, privileged ``info["state"]``, ``info["success"]``.

    Subclasses set ``observation_space``, ``action_space`` (``Discrete``) and ``state_space`` (a ``Box``
    holding the privileged full state), and implement:

    * ``_reset(options) -> (obs, info)``: draw a new episode from ``self.np_random``;
    * ``_step(action: int) -> (obs, reward, terminated, truncated, info)``;
    * ``_privileged_state() -> np.ndarray`` (a point of ``state_space``);
    * ``_render_frame() -> np.ndarray`` (H, W, 3) uint8 privileged view.

    ``info["state"]`` and ``info["success"]`` are filled in by the template, so subclasses only need to
    track ``self._success``. The env owns its horizon: ``_step`` never truncates, the template truncates
    after ``max_steps`` steps (``gym.make(env_id, max_steps=...)`` changes it), so that stepping after
    the time limit is caught like stepping after termination.

    Envs that list ``"pixels"`` in ``obs_types`` take ``obs_type="pixels"`` and call :meth:`_set_observation_spaces`
    with their vector space and their :class:`PixelView`; the template then returns the view's image of every
    observation vector that ``_reset`` / ``_step`` produce (``info`` and the privileged state are unchanged).
    """

    default_max_steps: ClassVar[int] = 100
    obs_types: ClassVar[tuple[str, ...]] = ("state",)

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 8}
    state_space: spaces.Box

    def __init__(self, render_mode: str | None = None, max_steps: int | None = None, obs_type: str = "state") -> None:
        if obs_type not in self.obs_types:
            offered = " or ".join(repr(t) for t in self.obs_types)
            raise ValueError(
                f"{type(self).__name__}: obs_type={obs_type!r} is not offered; use {offered}"
                + (
                    " (pixel views exist for Mystery Path, Coin Search and Confounded Controls)."
                    if obs_type in OBS_TYPES
                    else "."
                )
            )
        self.obs_type = obs_type
        self.pixel_view: PixelView | None = None
        max_steps = self.default_max_steps if max_steps is None else max_steps
        if int(max_steps) != max_steps or max_steps < 1:
            raise ValueError(f"{type(self).__name__}: max_steps must be a positive integer, got {max_steps!r}.")
        self.max_steps = int(max_steps)
        self._elapsed_steps = 0
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{type(self).__name__}: render_mode={render_mode!r} is not supported; "
                f"use one of {self.metadata['render_modes']} or None."
            )
        self.render_mode = render_mode
        self._guard = EpisodeGuard(type(self).__name__)
        self._success = False

    @property
    def recommended_observation_delta(self) -> float:
        """The ``observation_delta`` that ttt_gym's trainers give this env's memory actors unless told otherwise.

        0 (none) here. Envs whose hidden variable shows in how the observation changes after an action override it,
        so that one move is a change of about 1 in an actor's bound-normalised input (ttt_gym's docs/POLICIES.md,
        "Observation changes"). Pixel views recommend none: there the change would be taken on CNN features, which no
        recipe has measured.
        """
        return 0.0

    def _set_observation_spaces(self, vector_space: spaces.Box, pixel_view: PixelView | None = None) -> None:
        """Set ``observation_space``: ``vector_space`` for ``obs_type="state"``, the view's image space for pixels.

        ``vector_observation_space`` keeps the vector space either way (the space of what the image shows; the human-
        like demonstrators are built on it and decode the images, see ``ttt_envs.experts``).
        """
        self.vector_observation_space = vector_space
        if self.obs_type == "pixels":
            if pixel_view is None:
                raise TypeError(f"{type(self).__name__} lists 'pixels' in obs_types but passed no PixelView.")
            self.pixel_view = pixel_view
            self.observation_space = pixel_view.observation_space
        else:
            self.observation_space = vector_space

    def _agent_observation(self, observation: Any) -> Any:
        return observation if self.pixel_view is None else self.pixel_view.render(observation)

    # -- template -----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._success = False
        self._elapsed_steps = 0
        obs, info = self._reset(options)
        self._guard.on_reset()
        info["state"] = self._privileged_state()
        info["success"] = bool(self._success)
        return self._agent_observation(obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self._guard.before_step()
        assert isinstance(self.action_space, spaces.Discrete)
        act = validate_discrete_action(action, self.action_space, type(self).__name__)
        obs, reward, terminated, truncated, info = self._step(act)
        self._elapsed_steps += 1
        truncated = bool(truncated or (not terminated and self._elapsed_steps >= self.max_steps))
        self._guard.after_step(terminated, truncated)
        info["state"] = self._privileged_state()
        info["success"] = bool(self._success)
        return self._agent_observation(obs), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        if self.render_mode is None:
            gym.logger.warn(
                f"{type(self).__name__}.render() called without a render_mode; "
                'create the env with gym.make(..., render_mode="rgb_array").'
            )
            return None
        if not self._guard.has_reset:
            raise EpisodeOrderError(f"{type(self).__name__}: render() was called before reset(). Call env.reset().")
        return self._render_frame()

    # -- to implement -------------------------------------------------------------------------------
    @abstractmethod
    def _reset(self, options: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]: ...

    @abstractmethod
    def _step(self, action: int) -> tuple[Any, float, bool, bool, dict[str, Any]]: ...

    @abstractmethod
    def _privileged_state(self) -> np.ndarray: ...

    @abstractmethod
    def _render_frame(self) -> np.ndarray: ...
