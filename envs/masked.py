"""Position-only CartPole and Acrobot: gymnasium's classic-control tasks with the velocities masked out.

One generic class, :class:`MaskedClassicControl`, does the work; each env is gymnasium's own env with that class
mixed in and its differences written as data (which entries are visible, when an episode is a success, the drawing
size), so dynamics, seeding and rendering are exactly gymnasium's.
"""

from __future__ import annotations

import types
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control import acrobot as _acrobot_module
from gymnasium.envs.classic_control.acrobot import AcrobotEnv
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from ttt_envs._base import EpisodeGuard, EpisodeOrderError, validate_discrete_action

DEFAULT_MAX_STEPS = 500


# -- numpy 2.x compatibility of gymnasium 0.29's Acrobot -------------------------------------------------------------
class _NumpyWithFloatAlias(types.ModuleType):
    """Stands in for ``numpy`` inside gymnasium's ``acrobot`` module: numpy plus the old ``float_`` alias."""

    float_ = np.float64

    def __init__(self) -> None:
        super().__init__("numpy", "numpy, plus the `float_` alias that numpy 2.0 removed")

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        setattr(self, name, value)  # cache: later look-ups of `np.zeros` etc. skip __getattr__
        return value


def _gymnasium_major_version() -> int:
    return int(gym.__version__.split(".")[0])


def _patch_acrobot_for_numpy2() -> bool:
    """Let gymnasium < 1.0's Acrobot run on numpy >= 2.0; return whether the shim is (now) in place.

    gymnasium 0.29's ``acrobot.rk4`` allocates with ``np.float_``, which numpy 2.0 removed, so every
    ``step()`` raises ``AttributeError``. gymnasium 1.x uses ``np.float64`` and numpy 1.x still has the
    alias, so nothing is done there. Instead of adding ``float_`` back to the global numpy module (which
    would hide the same bug in the user's own code), only the ``np`` name inside gymnasium's acrobot
    module is pointed at a proxy that resolves ``float_`` to ``float64`` and everything else to numpy.
    This also repairs gymnasium's own ``Acrobot-v1`` (used to train the expert on the full state).
    """
    if hasattr(np, "float_") or _gymnasium_major_version() >= 1:
        return False
    if not isinstance(_acrobot_module.np, _NumpyWithFloatAlias):
        _acrobot_module.np = _NumpyWithFloatAlias()  # type: ignore[assignment]
    return True


ACROBOT_NUMPY_SHIM_APPLIED: bool = _patch_acrobot_for_numpy2()


# -- the generic env --------------------------------------------------------------------------------------------------
SuccessRule = Literal["horizon", "termination"]


class MaskedClassicControl(gym.Env):
    """A gymnasium classic-control env with part of its observation hidden; the concrete envs are data.

    Mixed in before the gymnasium parent (``class MaskedCartPoleEnv(MaskedClassicControl, CartPoleEnv)``), so
    dynamics, seeding and drawing stay exactly the parent's. Around the parent's ``reset`` / ``step`` it adds what
    every env of the suite has: a horizon the env owns (``max_steps``), the privileged full observation in
    ``info["state"]``, ``info["success"]``, and the suite's action / episode-order checks. A concrete env sets only
    the class attributes below (and ``metadata``).
    """

    #: Indices of the full observation that the agent sees.
    VISIBLE: ClassVar[tuple[int, ...]]
    #: When ``info["success"]`` is true: ``"horizon"``, on the step that reaches ``max_steps`` without terminating
    #: (survival tasks); ``"termination"``, on the terminating step (reaching a goal).
    SUCCESS: ClassVar[SuccessRule]
    #: The parent's drawing size in pixels (width, height), for the off-screen surface.
    SCREEN_SIZE: ClassVar[tuple[int, int]]

    def __init__(self, render_mode: str | None = None, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        name = type(self).__name__
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(
                f"{name}: max_steps must be a positive integer (the horizon, {DEFAULT_MAX_STEPS} by default), "
                f"got {max_steps!r}."
            )
        supported = self.metadata["render_modes"]
        if render_mode is not None and render_mode not in supported:
            raise ValueError(f"{name}: render_mode={render_mode!r} is not supported; use one of {supported} or None.")
        super().__init__(render_mode=render_mode)  # type: ignore[call-arg]  # the gymnasium parent takes it
        self.max_steps = int(max_steps)
        self._visible = np.asarray(self.VISIBLE, dtype=np.intp)
        self._elapsed_steps = 0
        self._guard = EpisodeGuard(name)
        self.state_space: spaces.Box = self.observation_space  # type: ignore[assignment]
        self.observation_space = spaces.Box(
            low=self.state_space.low[self._visible], high=self.state_space.high[self._visible], dtype=np.float32
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        full_obs, info = super().reset(seed=seed, options=options)
        self._elapsed_steps = 0
        self._guard.on_reset()
        return self._observe(full_obs, info, success=False)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._guard.before_step()
        act = validate_discrete_action(action, self.action_space, type(self).__name__)  # type: ignore[arg-type]
        full_obs, reward, terminated, _, info = super().step(act)
        self._elapsed_steps += 1
        truncated = not terminated and self._elapsed_steps >= self.max_steps
        self._guard.after_step(terminated, truncated)
        success = truncated if self.SUCCESS == "horizon" else terminated
        obs, info = self._observe(full_obs, info, success=success)
        return obs, float(reward), bool(terminated), truncated, info

    def _observe(self, full_obs: Any, info: dict[str, Any], *, success: bool) -> tuple[np.ndarray, dict[str, Any]]:
        """The masked observation; ``info`` gets the full observation as ``state`` and ``success``."""
        state = np.asarray(full_obs, dtype=np.float32)
        info["state"] = state
        info["success"] = bool(success)
        return state[self._visible], info

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """The parent's pygame drawing on an off-screen surface, without ``pygame.init()``.

        The parent calls ``pygame.init()`` when it has no screen yet, which probes the display and audio
        devices (and complains on headless machines). Drawing on a plain ``pygame.Surface`` needs neither.
        """
        name = type(self).__name__
        if self.render_mode is None:
            gym.logger.warn(
                f'{name}.render() called without a render_mode; create the env with render_mode="rgb_array".'
            )
            return None
        if not self._guard.has_reset:
            raise EpisodeOrderError(f"{name}: render() was called before reset(). Call env.reset().")
        if getattr(self, "screen", None) is None:
            import pygame

            # Through __dict__: the gymnasium parents declare these attributes as None.
            self.__dict__.update(screen=pygame.Surface(self.SCREEN_SIZE), clock=pygame.time.Clock())
        frame: Any = super().render()
        assert isinstance(frame, np.ndarray)
        return frame

    def close(self) -> None:
        # Never initialised pygame (see render), so only drop the surface; the parent's pygame.quit() would tear
        # pygame down for everything else in the process.
        self.__dict__.update(screen=None, clock=None)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state without the pygame surfaces (recreated at the next render)."""
        state = dict(self.__dict__)
        for key in ("screen", "clock", "surf"):
            if key in state:
                state[key] = None
        return state


# -- the envs ----------------------------------------------------------------------------------------------------------
class MaskedCartPoleEnv(MaskedClassicControl, CartPoleEnv):
    """CartPole-v1 with only the cart position and the pole angle observed.

    ## Description
    gymnasium's `CartPole-v1` (same dynamics, seeding and reward) with the cart velocity and the pole's
    angular velocity removed from the observation. A memoryless policy cannot tell which way the pole is
    moving; a policy with memory can estimate both velocities from consecutive observations.

    ## Observation
    `Box(2,)` float32: cart position `x` in [-4.8, 4.8] and pole angle `theta` (rad) in [-0.418, 0.418].

    ## Action
    `Discrete(2)`: 0 pushes the cart to the left, 1 to the right.

    ## Reward
    +1 for every step, including the one that terminates the episode.

    ## Termination
    Terminated when |theta| > 12 degrees or |x| > 2.4; truncated after `max_steps` steps (500 by default).
    The env owns its horizon: it is registered without a `TimeLimit` wrapper.

    ## Success
    `info["success"]` becomes true on the last step of an episode that survives all `max_steps` steps
    (truncated, not terminated); it is false before that.

    ## Privileged state
    `info["state"]` (space: `state_space`, `Box(4,)`): gymnasium's full observation
    `(x, x_dot, theta, theta_dot)`, at reset and at every step.

    Args:
        render_mode: `None` or `"rgb_array"` (gymnasium's 600x400 drawing of the cart and pole).
        max_steps: the horizon in steps; reaching it truncates the episode and counts as success.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    VISIBLE = (0, 2)  # x and theta
    SUCCESS = "horizon"
    SCREEN_SIZE = (600, 400)  # CartPoleEnv's screen_width, screen_height


class MaskedAcrobotEnv(MaskedClassicControl, AcrobotEnv):
    """Acrobot-v1 with only the two joint angles observed (as cos / sin).

    ## Description
    gymnasium's `Acrobot-v1` (same dynamics, seeding and reward) with the two angular velocities removed
    from the observation. Swinging up needs torque in phase with the motion, so the agent has to infer
    the velocities from how the angles change.

    ## Observation
    `Box(4,)` float32 in [-1, 1]: `(cos theta1, sin theta1, cos theta2, sin theta2)`.

    ## Action
    `Discrete(3)`: torque -1, 0 or +1 on the joint between the two links.

    ## Reward
    -1 for every step that does not reach the goal height, 0 on the step that does.

    ## Termination
    Terminated when the free end is above the goal line: `-cos(theta1) - cos(theta1 + theta2) > 1`;
    truncated after `max_steps` steps (500 by default). The env owns its horizon: it is registered
    without a `TimeLimit` wrapper.

    ## Success
    `info["success"]` is true exactly on the terminating step (the goal height was reached).

    ## Privileged state
    `info["state"]` (space: `state_space`, `Box(6,)`): gymnasium's full observation
    `(cos theta1, sin theta1, cos theta2, sin theta2, theta1_dot, theta2_dot)`, at reset and at every step.

    Args:
        render_mode: `None` or `"rgb_array"` (gymnasium's 500x500 drawing of the two links).
        max_steps: the horizon in steps.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}
    VISIBLE = (0, 1, 2, 3)  # the cos / sin of both angles
    SUCCESS = "termination"
    SCREEN_SIZE = (500, 500)  # AcrobotEnv.SCREEN_DIM squared


__all__ = [
    "ACROBOT_NUMPY_SHIM_APPLIED",
    "DEFAULT_MAX_STEPS",
    "MaskedAcrobotEnv",
    "MaskedCartPoleEnv",
    "MaskedClassicControl",
]
