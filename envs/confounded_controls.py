"""Confounded Controls: reach a goal on a plane whose controls are secretly rotated, maybe mirrored, and curl."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from ttt_envs import rendering
from ttt_envs._base import MemoryEnv, PixelView

#: Command names in action order; command ``k`` nominally points at ``k * 45`` degrees (counter-clockwise from east).
COMMAND_NAMES: tuple[str, ...] = ("E", "NE", "N", "NW", "W", "SW", "S", "SE")
N_COMMANDS = len(COMMAND_NAMES)

#: Half-width of the square plane: positions live in ``[-PLANE_HALF_WIDTH, PLANE_HALF_WIDTH]^2``.
PLANE_HALF_WIDTH = 1.0
#: Start and goal are drawn from this inner square so that both sit a little away from the walls.
SPAWN_HALF_WIDTH = 0.9
#: Largest allowed ``min_goal_distance``: even from the centre of the plane, 0.7% of the spawn square is that far.
MAX_MIN_GOAL_DISTANCE = 1.2
#: Rejection sampling of the goal; with at least 0.7% acceptance, running out of tries has probability < 1e-29.
MAX_SPAWN_TRIES = 10_000

#: Layout of the privileged state vector (index -> meaning), documented in the class docstring.
STATE_FIELDS: tuple[str, ...] = (
    "x",
    "y",
    "goal_x",
    "goal_y",
    "cos_rotation",
    "sin_rotation",
    "flip",
    "curl_sign",
    "curl_per_repeat",
    "last_curl",
    "previous_action",
    "repeat_count",
)


def nominal_angle(action: int) -> float:
    """Direction, in radians counter-clockwise from east, that command ``action`` names (E = 0, N = pi / 2)."""
    return action * (2.0 * math.pi / N_COMMANDS)


def command_angle(action: int, rotation: float, flip: bool, curl: float) -> float:
    """Direction, in radians, in which command ``action`` actually moves the agent.

    The nominal direction is mirrored left-right if ``flip`` (east <-> west, north stays north), then turned
    counter-clockwise by ``rotation + curl``.

    Args:
        action: command index in ``[0, 8)``.
        rotation: the episode's hidden rotation of the action frame, radians.
        flip: whether the episode mirrors the commands left-right before rotating.
        curl: extra rotation of this press, radians (``curl_sign * curl_per_repeat * repeat_count``).
    """
    base = nominal_angle(action)
    if flip:
        base = math.pi - base
    return base + rotation + curl


def wrap_angle(angle: float) -> float:
    """``angle`` wrapped to ``[-pi, pi)``."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class ConfoundedControlsPixels(PixelView):
    """The agent view of Confounded Controls: the agent and the goal on the plane, nothing about the controls.

    Drawn from the observation vector ``[x, y, goal_x, goal_y]`` alone (rotation, flip and curl are not in it): on a
    32 x 32 image the plane ``[-1, 1]^2`` spans the pixel positions ``4 .. 27`` (y up), framed in blue; the agent is a
    Gaussian blob (standard deviation 1 pixel) in the red channel and the goal one in the green channel. A blob's
    intensity-weighted centre gives its position to within about ``1e-3`` of the plane (a move is 0.05, 0.6 pixel):
    the sub-pixel position is in the image, as it would be in an anti-aliased camera picture.
    """

    #: Pixels between the image border and the plane's edge: room for the blobs' tails (4 standard deviations).
    margin: ClassVar[float] = 4.0
    blob_sigma: ClassVar[float] = 1.0
    #: Decoded coordinates this close to a wall are put on the wall (decoding errs by at most 1e-3, measured over 5,000
    #: random points): a demonstrator must know when a wall clamped a move.
    wall_snap: ClassVar[float] = 0.003

    def __init__(self, side: int = rendering.PIXEL_SIDE) -> None:
        self.side = side
        self.scale = (side - 1 - 2 * self.margin) / (2 * PLANE_HALF_WIDTH)
        self.observation_space = rendering.image_space(side, side)

    def _to_pixel(self, x: float, y: float) -> tuple[float, float]:
        return self.margin + (PLANE_HALF_WIDTH - y) * self.scale, self.margin + (x + PLANE_HALF_WIDTH) * self.scale

    def _to_plane(self, row: float, col: float) -> tuple[float, float]:
        point = np.array(
            [(col - self.margin) / self.scale - PLANE_HALF_WIDTH, PLANE_HALF_WIDTH - (row - self.margin) / self.scale]
        )
        point = np.clip(point, -PLANE_HALF_WIDTH, PLANE_HALF_WIDTH)
        at_wall = np.abs(point) >= PLANE_HALF_WIDTH - self.wall_snap
        point[at_wall] = np.sign(point[at_wall]) * PLANE_HALF_WIDTH
        return float(point[0]), float(point[1])

    def render(self, observation: np.ndarray) -> np.ndarray:
        canvas = rendering.blank(self.side, self.side, rendering.BLACK)
        canvas[[1, self.side - 2], 1 : self.side - 1, rendering.BLUE_CHANNEL] = 255
        canvas[1 : self.side - 1, [1, self.side - 2], rendering.BLUE_CHANNEL] = 255
        goal = self._to_pixel(float(observation[2]), float(observation[3]))
        agent = self._to_pixel(float(observation[0]), float(observation[1]))
        rendering.add_blob(canvas, *goal, self.blob_sigma, rendering.GREEN_CHANNEL)
        rendering.add_blob(canvas, *agent, self.blob_sigma, rendering.RED_CHANNEL)
        return canvas

    def decode(self, image: np.ndarray) -> np.ndarray:
        agent = self._to_plane(*rendering.blob_centre(image, rendering.RED_CHANNEL))
        goal = self._to_plane(*rendering.blob_centre(image, rendering.GREEN_CHANNEL))
        return np.array([*agent, *goal], dtype=np.float32)


class ConfoundedControlsEnv(MemoryEnv):
    """Reach a goal on a 2-D plane with eight commands whose meaning is hidden and drifts when repeated.

    ## Description

    The agent and a goal sit on the square plane ``[-1, 1]^2``. Each step the agent presses one of eight
    directional commands and moves ``step_length`` in the direction that command *actually* means this
    episode. At reset three hidden quantities are drawn:

    * a **rotation** of the action frame, uniform in ``[0, 360)`` degrees;
    * a left-right **flip** (mirror east <-> west before rotating), with probability ``flip_prob``;
    * a **curl sign**, +1 (counter-clockwise) or -1 (clockwise) with equal probability.

    Pressing the same command again adds ``curl_deg`` degrees of extra rotation (times the curl sign) per
    consecutive repeat: the first press of a command is not curled, the second consecutive press is turned
    by ``curl_deg``, the third by ``2 * curl_deg``, and so on without bound. Pressing any other command
    resets the count. The direction of command ``k`` on a press that repeats the previous command ``r``
    times is

        angle = (180 - 45 k if flip else 45 k) + rotation + curl_sign * curl_deg * r   (degrees)

    and the agent moves ``step_length * (cos(angle), sin(angle))``, then is clamped to the plane. A policy
    that keeps pressing one command therefore walks in circles instead of towards the goal.

    Positions are fully observed, yet the task is not Markov in them: which command moves the agent where
    can only be inferred from earlier commands and the displacements they produced.

    The start and the goal are drawn uniformly from ``[-0.9, 0.9]^2``, at least ``min_goal_distance``
    apart.

    ## Observation

    ``Box(4,)`` float32 in ``[-1, 1]``: ``[x, y, goal_x, goal_y]``; ``y`` points up (north).

    With ``obs_type="pixels"``: ``Box(0, 255, (32, 32, 3))`` uint8, channels last (SB3's ``is_image_space``
    accepts it), the image of that same vector drawn by :class:`ConfoundedControlsPixels`: the agent (red blob) and
    the goal (green blob) on the framed plane; never the rotation, flip or curl.

    ## Action

    ``Discrete(8)``: 0 = E, 1 = NE, 2 = N, 3 = NW, 4 = W, 5 = SW, 6 = S, 7 = SE, i.e. command ``k`` names
    the direction ``45 k`` degrees counter-clockwise from east. What it does is confounded as above.

    ## Reward

    1.0 on the step that ends within ``goal_radius`` of the goal, 0.0 otherwise (sparse).

    ## Termination

    Terminates when the distance to the goal is at most ``goal_radius`` after a move. Truncates after
    ``max_steps`` steps (default 300).

    ## Success

    ``info["success"]`` is true once the goal has been reached.

    ## Privileged state

    ``Box(12,)`` float32: ``[x, y, goal_x, goal_y, cos(rotation), sin(rotation), flip, curl_sign,
    curl_per_repeat, last_curl, previous_action, repeat_count]`` where ``flip`` is 0.0 or 1.0,
    ``curl_sign`` is -1.0 or +1.0, ``curl_per_repeat`` is ``curl_deg`` in radians, ``last_curl`` is the
    signed curl (radians, wrapped to ``[-pi, pi)``) of the last move, ``previous_action`` is the last
    command (-1.0 before the first step) and ``repeat_count`` is ``r`` of the last move (0 after a
    change of command). Pressing ``previous_action`` again would be curled by
    ``curl_sign * curl_per_repeat * (repeat_count + 1)``; any other command by nothing.

    ## Reset options

    ``options`` may fix any of ``rotation_deg`` (float), ``flip`` (bool), ``curl_sign`` (+1 / -1),
    ``start`` and ``goal`` (pairs in ``[-1, 1]``, at least ``goal_radius`` apart); the rest is drawn.

    Args:
        step_length: distance of one move, in ``(0, 0.25]``.
        goal_radius: success radius, in ``[step_length, 0.5]`` (at least one step, so that the goal can
            always be hit).
        curl_deg: extra rotation per consecutive repeat of a command, degrees in ``[0, 180]``; 0 turns curl off.
        flip_prob: probability of the left-right flip, in ``[0, 1]``.
        min_goal_distance: smallest start-goal distance, in ``(goal_radius, 1.2]`` (1.2 still leaves room for a goal
            from a start in the middle of the plane).
        render_mode: ``"rgb_array"`` or None.
        max_steps: episode length limit (default :attr:`default_max_steps`).
        obs_type: ``"state"`` (the vector) or ``"pixels"`` (its image), see Observation.
    """

    default_max_steps: ClassVar[int] = 300
    obs_types: ClassVar[tuple[str, ...]] = ("state", "pixels")
    render_size: ClassVar[int] = 256
    trail_render_limit: ClassVar[int] = 1000

    def __init__(
        self,
        step_length: float = 0.05,
        goal_radius: float = 0.1,
        curl_deg: float = 20.0,
        flip_prob: float = 0.5,
        min_goal_distance: float = 0.8,
        render_mode: str | None = None,
        max_steps: int | None = None,
        obs_type: str = "state",
    ) -> None:
        super().__init__(render_mode=render_mode, max_steps=max_steps, obs_type=obs_type)
        name = type(self).__name__
        if not 0.0 < step_length <= 0.25:
            raise ValueError(
                f"{name}: step_length must be in (0, 0.25] (the plane is [-1, 1]^2), got {step_length!r}. "
                "Use e.g. step_length=0.05 (the default)."
            )
        if not step_length <= goal_radius <= 0.5:
            raise ValueError(
                f"{name}: goal_radius must be in [step_length, 0.5] = [{step_length}, 0.5] so that a move can always "
                f"land inside the goal, got {goal_radius!r}. Use e.g. goal_radius=0.1 (the default) or a shorter step."
            )
        if not 0.0 <= curl_deg <= 180.0:
            raise ValueError(f"{name}: curl_deg must be in [0, 180] degrees (0 disables curl), got {curl_deg!r}.")
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"{name}: flip_prob is a probability and must be in [0, 1], got {flip_prob!r}.")
        if not goal_radius < min_goal_distance <= MAX_MIN_GOAL_DISTANCE:
            raise ValueError(
                f"{name}: min_goal_distance must be in (goal_radius, {MAX_MIN_GOAL_DISTANCE}] = ({goal_radius}, "
                f"{MAX_MIN_GOAL_DISTANCE}] so that the episode "
                f"does not start at the goal and a goal can always be placed, got {min_goal_distance!r}."
            )
        self.step_length = float(step_length)
        self.goal_radius = float(goal_radius)
        self.curl_deg = float(curl_deg)
        self.flip_prob = float(flip_prob)
        self.min_goal_distance = float(min_goal_distance)

        vector_space = spaces.Box(low=-PLANE_HALF_WIDTH, high=PLANE_HALF_WIDTH, shape=(4,), dtype=np.float32)
        self._set_observation_spaces(vector_space, ConfoundedControlsPixels())
        self.action_space = spaces.Discrete(N_COMMANDS)
        w, pi = PLANE_HALF_WIDTH, math.pi
        self.state_space = spaces.Box(
            low=np.array([-w, -w, -w, -w, -1, -1, 0, -1, 0, -pi, -1, 0], dtype=np.float32),
            high=np.array([w, w, w, w, 1, 1, 1, 1, pi, pi, N_COMMANDS - 1, self.max_steps], dtype=np.float32),
            dtype=np.float32,
        )

        self._position = (0.0, 0.0)
        self._goal = (0.0, 0.0)
        self._rotation = 0.0
        self._flip = False
        self._curl_sign = 1
        self._previous_action = -1
        self._repeat_count = 0
        self._last_curl = 0.0
        self._trail: list[tuple[float, float]] = []

    @property
    def curl_per_repeat(self) -> float:
        """Extra rotation per consecutive repeat, radians (unsigned)."""
        return math.radians(self.curl_deg)

    # -- dynamics ------------------------------------------------------------------------------------
    def displacement(self, action: int, repeat_count: int) -> tuple[float, float]:
        """The move command ``action`` makes this episode when it repeats the previous command ``repeat_count`` times.

        Clamping at the walls is not applied here.
        """
        curl = self._curl_sign * self.curl_per_repeat * repeat_count
        angle = command_angle(action, self._rotation, self._flip, curl)
        return self.step_length * math.cos(angle), self.step_length * math.sin(angle)

    @property
    def recommended_observation_delta(self) -> float:
        # the plane is [-1, 1]^2, so a move of step_length is 1 in the input: the displacement a command produced
        return 0.0 if self.obs_type == "pixels" else 1.0 / self.step_length

    def _reset(self, options: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, Any]]:
        options = dict(options or {})
        unknown = set(options) - {"rotation_deg", "flip", "curl_sign", "start", "goal"}
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.reset: unknown options {sorted(unknown)}; "
                "valid keys are rotation_deg, flip, curl_sign, start, goal."
            )
        rng = self.np_random
        # Draw everything, then apply overrides, so that fixing one option leaves the other draws unchanged.
        rotation = float(rng.uniform(0.0, 2.0 * math.pi))
        flip = bool(rng.random() < self.flip_prob)
        curl_sign = 1 if rng.random() < 0.5 else -1
        if "rotation_deg" in options:
            rotation = math.radians(float(options["rotation_deg"]))
        if "flip" in options:
            flip = bool(options["flip"])
        if "curl_sign" in options:
            if options["curl_sign"] not in (1, -1):
                raise ValueError(
                    f"{type(self).__name__}.reset: curl_sign must be +1 or -1, got {options['curl_sign']!r}."
                )
            curl_sign = int(options["curl_sign"])
        start = self._draw_point()
        if "start" in options:
            start = self._point_option("start", options["start"])
        goal = self._point_option("goal", options["goal"]) if "goal" in options else self._draw_goal(start)
        if math.dist(start, goal) <= self.goal_radius:
            raise ValueError(
                f"{type(self).__name__}.reset: start {start} is already within goal_radius={self.goal_radius} of the "
                f"goal {goal}; place them further apart."
            )

        self._rotation = wrap_angle(rotation)
        self._flip = flip
        self._curl_sign = curl_sign
        self._position, self._goal = start, goal
        self._previous_action, self._repeat_count, self._last_curl = -1, 0, 0.0
        self._trail = [start]
        return self._observation(), {}

    def _step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._repeat_count = self._repeat_count + 1 if action == self._previous_action else 0
        self._previous_action = action
        self._last_curl = wrap_angle(self._curl_sign * self.curl_per_repeat * self._repeat_count)
        dx, dy = self.displacement(action, self._repeat_count)
        x = min(max(self._position[0] + dx, -PLANE_HALF_WIDTH), PLANE_HALF_WIDTH)
        y = min(max(self._position[1] + dy, -PLANE_HALF_WIDTH), PLANE_HALF_WIDTH)
        self._position = (x, y)
        self._trail.append(self._position)
        reached = math.dist(self._position, self._goal) <= self.goal_radius
        if reached:
            self._success = True
        return self._observation(), float(reached), reached, False, {}

    def _draw_point(self) -> tuple[float, float]:
        x, y = self.np_random.uniform(-SPAWN_HALF_WIDTH, SPAWN_HALF_WIDTH, size=2)
        return float(x), float(y)

    def _draw_goal(self, start: tuple[float, float]) -> tuple[float, float]:
        for _ in range(MAX_SPAWN_TRIES):
            goal = self._draw_point()
            if math.dist(start, goal) >= self.min_goal_distance:
                return goal
        raise RuntimeError(f"ConfoundedControlsEnv: could not place a goal {self.min_goal_distance} away from {start}.")

    def _point_option(self, key: str, value: Any) -> tuple[float, float]:
        point = np.asarray(value, dtype=np.float64)
        if point.shape != (2,) or not np.all(np.abs(point) <= PLANE_HALF_WIDTH):
            raise ValueError(
                f"{type(self).__name__}.reset: option {key!r} must be an (x, y) pair in [-1, 1], got {value!r}."
            )
        return float(point[0]), float(point[1])

    def _observation(self) -> np.ndarray:
        return np.array([*self._position, *self._goal], dtype=np.float32)

    def _privileged_state(self) -> np.ndarray:
        return np.array(
            [
                *self._position,
                *self._goal,
                math.cos(self._rotation),
                math.sin(self._rotation),
                float(self._flip),
                float(self._curl_sign),
                self.curl_per_repeat,
                self._last_curl,
                float(self._previous_action),
                float(min(self._repeat_count, self.max_steps)),
            ],
            dtype=np.float32,
        )

    # -- rendering -----------------------------------------------------------------------------------
    def _to_pixel(self, point: tuple[float, float]) -> tuple[float, float]:
        """(x, y) on the plane -> (row, col) on the canvas; y points up."""
        margin = 8.0
        scale = (self.render_size - 2 * margin) / (2 * PLANE_HALF_WIDTH)
        return margin + (PLANE_HALF_WIDTH - point[1]) * scale, margin + (point[0] + PLANE_HALF_WIDTH) * scale

    def _draw_arrow(self, canvas: np.ndarray, angle: float, length: float, color: rendering.Color) -> None:
        x, y = self._position
        tip = (x + length * math.cos(angle), y + length * math.sin(angle))
        rendering.draw_line(canvas, self._to_pixel(self._position), self._to_pixel(tip), color, width=3)
        for side in (-1, 1):
            barb_angle = angle + math.pi + side * math.radians(30)
            barb = (tip[0] + 0.35 * length * math.cos(barb_angle), tip[1] + 0.35 * length * math.sin(barb_angle))
            rendering.draw_line(canvas, self._to_pixel(tip), self._to_pixel(barb), color, width=3)

    def _draw_trail(self, canvas: np.ndarray, trail: list[tuple[float, float]]) -> None:
        """Polyline through ``trail``, 2 px wide; vectorised because it has up to ``max_steps`` segments."""
        if len(trail) < 2:
            return
        pixels = np.array([self._to_pixel(p) for p in trail])
        fractions = np.linspace(0.0, 1.0, 12)[None, :, None]
        samples = (pixels[:-1, None, :] + fractions * (pixels[1:, None, :] - pixels[:-1, None, :])).reshape(-1, 2)
        size = canvas.shape[0]
        for offset in ((0, 0), (0, 1), (1, 0), (1, 1)):
            rows = np.clip(np.round(samples[:, 0]).astype(int) + offset[0], 0, size - 1)
            cols = np.clip(np.round(samples[:, 1]).astype(int) + offset[1], 0, size - 1)
            canvas[rows, cols] = rendering.YELLOW

    def _render_frame(self) -> np.ndarray:
        size = self.render_size
        canvas = rendering.blank(size, size, rendering.DARK)
        top, left = self._to_pixel((-PLANE_HALF_WIDTH, PLANE_HALF_WIDTH))
        bottom, right = self._to_pixel((PLANE_HALF_WIDTH, -PLANE_HALF_WIDTH))
        rendering.fill_rect(canvas, top, left, bottom - top, right - left, (45, 45, 60))
        for tick in (-0.5, 0.0, 0.5):
            rendering.draw_line(canvas, self._to_pixel((tick, -1.0)), self._to_pixel((tick, 1.0)), (60, 60, 78))
            rendering.draw_line(canvas, self._to_pixel((-1.0, tick)), self._to_pixel((1.0, tick)), (60, 60, 78))
        scale = (bottom - top) / (2 * PLANE_HALF_WIDTH)
        goal_row, goal_col = self._to_pixel(self._goal)
        rendering.fill_disc(canvas, goal_row, goal_col, self.goal_radius * scale, rendering.GREEN)
        trail = self._trail[-self.trail_render_limit :]
        self._draw_trail(canvas, trail)
        if trail:
            rendering.fill_disc(canvas, *self._to_pixel(trail[0]), 4, rendering.GREY)
        # Where "E" (orange) and "N" (red) would push on the next press, curl included: N being 90 degrees
        # clockwise of E instead of counter-clockwise reveals the flip.
        arrow_length = max(0.22, 3 * self.step_length)
        for action, color in ((0, rendering.ORANGE), (2, rendering.RED)):
            repeats = self._repeat_count + 1 if action == self._previous_action else 0
            angle = command_angle(action, self._rotation, self._flip, self._curl_sign * self.curl_per_repeat * repeats)
            self._draw_arrow(canvas, angle, arrow_length, color)
        row, col = self._to_pixel(self._position)
        rendering.fill_disc(canvas, row, col, 6, rendering.BLUE)
        rendering.fill_disc(canvas, row, col, 2, rendering.WHITE)
        return canvas


__all__ = [
    "COMMAND_NAMES",
    "STATE_FIELDS",
    "ConfoundedControlsEnv",
    "ConfoundedControlsPixels",
    "command_angle",
    "nominal_angle",
]
