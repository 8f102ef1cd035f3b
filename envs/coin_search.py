"""Coin Search: collect coins that are shown for one step only, by remembering where they are and dead-reckoning."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ttt_envs import rendering
from ttt_envs._base import MemoryEnv, PixelView

Cell = tuple[int, int]

#: Action index -> (row delta, column delta). Row 0 is the top of the arena.
MOVES: tuple[Cell, ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
ACTION_NAMES: tuple[str, ...] = ("up", "right", "down", "left")

#: Index of the visibility flag in the observation.
VISIBLE_INDEX = 4

#: Number of past agent cells drawn as a faint trail in the privileged view.
TRAIL_LENGTH = 24


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def manhattan(a: Cell, b: Cell) -> int:
    """Number of moves between two cells of the arena (there are no obstacles)."""
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


class CoinSearchPixels(PixelView):
    """The agent view of Coin Search (the blog's Figure 4): the arena, and the agent and coin on visible steps only.

    Drawn from the observation vector ``[agent_row, agent_col, coin_row, coin_col, visible]`` alone: on a 32 x 32
    image (:class:`~ttt_envs.rendering.GridPixels`: 2-pixel cells for the default 12 x 12 arena, a 4-pixel margin) the
    arena is grey; on the steps the vector shows the positions, the agent's cell has its red channel lit and the
    coin's its green channel; on every other step the image is the bare arena, the same whatever the hidden positions.
    """

    def __init__(self, grid_size: int) -> None:
        self.grid = rendering.GridPixels(grid_size)
        self.observation_space = rendering.image_space(self.grid.image_side, self.grid.image_side)

    def render(self, observation: np.ndarray) -> np.ndarray:
        canvas = self.grid.blank()
        if observation[VISIBLE_INDEX] > 0.5:
            self.grid.light_cell(canvas, (round(observation[2]), round(observation[3])), rendering.GREEN_CHANNEL)
            self.grid.light_cell(canvas, (round(observation[0]), round(observation[1])), rendering.RED_CHANNEL)
        return canvas

    def decode(self, image: np.ndarray) -> np.ndarray:
        agent = self.grid.lit_cells(image, rendering.RED_CHANNEL)
        coin = self.grid.lit_cells(image, rendering.GREEN_CHANNEL)
        if not agent and not coin:
            return np.zeros(5, dtype=np.float32)  # a masked step: nothing shown
        if len(agent) != 1 or len(coin) != 1:
            raise ValueError(
                f"CoinSearchPixels.decode: expected one agent cell and one coin cell (or neither), found {len(agent)} "
                f"and {len(coin)}; pass an observation of a Coin Search env made with obs_type='pixels'."
            )
        return np.array([*agent[0], *coin[0], 1.0], dtype=np.float32)


class CoinSearchEnv(MemoryEnv):
    """Collect coins one after another in an arena where the agent and the coin are seen for one step only.

    ## Description

    After Memory Gym's *Endless Searing Spotlights* with spotlight damage and visual occlusion turned off.
    The agent walks in an empty ``grid_size`` x ``grid_size`` arena. One coin is active at a time; when
    the agent steps onto it, the coin is collected and a new one appears at a cell ``spawn_distance``
    moves away (drawn uniformly among the arena cells whose Manhattan distance to the agent lies in
    ``[spawn_distance[0], spawn_distance[1]]``, default 8 to 12, mean about 10). The positions of the agent and
    of the active coin are in the observation on a single step: at reset and right after each collection.
    On every other step they are masked, so the agent must remember the last coin it saw and dead-reckon
    its own position from its actions (moves into a wall leave it in place).

    ## Observation

    ``Box(5,)`` float32: ``[agent_row, agent_col, coin_row, coin_col, visible]``. Coordinates are raw
    cell indices in ``[0, grid_size - 1]`` (row 0 is the top). ``visible`` is 1.0 on the reset observation
    and on the observation right after a collection (it then shows the new coin), and 0.0 otherwise; when
    it is 0.0 the four coordinates are masked to 0.0.

    With ``obs_type="pixels"``: ``Box(0, 255, (32, 32, 3))`` uint8, channels last (SB3's ``is_image_space``
    accepts it), the image of that same vector drawn by :class:`CoinSearchPixels`: the agent (red) and the coin
    (green) on visible steps, the bare arena on masked ones. Arenas wider than 30 cells get 1-pixel cells and a larger
    image.

    ## Action

    ``Discrete(4)``: 0 = up (row - 1), 1 = right (col + 1), 2 = down (row + 1), 3 = left (col - 1). There
    is no no-op. A move into the arena border leaves the agent where it is.

    ## Reward

    1.0 on each step that collects a coin, 0.0 otherwise.

    ## Termination

    Terminates on the step that collects the ``coins_to_win``-th coin (default 12). Truncates after
    ``max_steps`` steps (default 180).

    ## Success

    ``info["success"]`` is true once ``coins_to_win`` coins have been collected, i.e. exactly on the
    terminating step. With the defaults a shortest-path walker needs at most 12 x 12 = 144 of the 180 steps.

    ## Privileged state

    ``Box(6,)`` float32: ``[agent_row, agent_col, coin_row, coin_col, coins_collected, steps_elapsed]``,
    never masked.

    Args:
        grid_size: side of the square arena in cells, at least 4.
        spawn_distance: inclusive ``(min, max)`` number of moves between the agent and a newly spawned coin;
            ``1 <= min <= max``, and ``min`` at most ``2 * (grid_size // 2)`` so that every cell has a cell
            that far away inside the arena.
        coins_to_win: coins to collect for success (and termination); a warning is logged when
            ``coins_to_win * min`` does not fit in ``max_steps`` (no episode could succeed).
        render_mode: ``"rgb_array"`` or None.
        max_steps: episode length limit (default :attr:`default_max_steps`).
        obs_type: ``"state"`` (the vector) or ``"pixels"`` (its image), see Observation.
    """

    default_max_steps: ClassVar[int] = 180
    default_coins_to_win: ClassVar[int] = 12
    obs_types: ClassVar[tuple[str, ...]] = ("state", "pixels")

    def __init__(
        self,
        grid_size: int = 12,
        spawn_distance: tuple[int, int] = (8, 12),
        coins_to_win: int | None = None,
        render_mode: str | None = None,
        max_steps: int | None = None,
        obs_type: str = "state",
    ) -> None:
        super().__init__(render_mode=render_mode, max_steps=max_steps, obs_type=obs_type)
        coins_to_win = self.default_coins_to_win if coins_to_win is None else coins_to_win
        self.grid_size, self.spawn_distance, self.coins_to_win = self._validate(grid_size, spawn_distance, coins_to_win)
        high = float(self.grid_size - 1)
        vector_space = spaces.Box(
            low=np.zeros(5, dtype=np.float32),
            high=np.array([high, high, high, high, 1.0], dtype=np.float32),
            dtype=np.float32,
        )
        self._set_observation_spaces(vector_space, CoinSearchPixels(self.grid_size))
        self.action_space = spaces.Discrete(len(MOVES))
        self.state_space = spaces.Box(
            low=np.zeros(6, dtype=np.float32),
            high=np.array([high, high, high, high, self.coins_to_win, self.max_steps], dtype=np.float32),
            dtype=np.float32,
        )
        rows, cols = np.divmod(np.arange(self.grid_size**2), self.grid_size)
        self._cell_rows, self._cell_cols = rows, cols
        self.agent: Cell = (0, 0)
        self.coin: Cell = (0, 0)
        self.coins_collected = 0
        self.visible = False
        self.trail: deque[Cell] = deque(maxlen=TRAIL_LENGTH)

    def _validate(self, grid_size: Any, spawn_distance: Any, coins_to_win: Any) -> tuple[int, tuple[int, int], int]:
        if not _is_int(grid_size) or grid_size < 4:
            raise ValueError(
                f"CoinSearchEnv: grid_size must be an integer >= 4 (cells per side), got {grid_size!r}. "
                "Use e.g. grid_size=12 (the default)."
            )
        grid_size = int(grid_size)
        reach = 2 * (grid_size // 2)  # the farthest cell from the arena's centre is this many moves away
        try:
            low, high = spawn_distance
        except (TypeError, ValueError):
            low, high = None, None
        if not (_is_int(low) and _is_int(high) and 1 <= low <= high and low <= reach):
            raise ValueError(
                f"CoinSearchEnv: spawn_distance must be a pair of integers (min, max) with 1 <= min <= max and "
                f"min <= {reach} (for grid_size={grid_size}, so that a coin can spawn from every cell), got "
                f"{spawn_distance!r}. Use e.g. spawn_distance=(8, 12) (the default)."
            )
        if not _is_int(coins_to_win) or coins_to_win < 1:
            raise ValueError(
                f"CoinSearchEnv: coins_to_win must be a positive integer, got {coins_to_win!r}. "
                f"Use e.g. coins_to_win={self.default_coins_to_win} (the default)."
            )
        if int(coins_to_win) * int(low) > self.max_steps:
            # Only a warning: short episodes (e.g. max_steps=3 in smoke tests) are legitimate, just never successful.
            gym.logger.warn(
                f"CoinSearchEnv: coins_to_win={coins_to_win} coins at least {low} moves apart cannot be collected "
                f"in max_steps={self.max_steps} steps, so no episode can succeed. Lower coins_to_win or "
                "spawn_distance, or raise max_steps."
            )
        return grid_size, (int(low), int(high)), int(coins_to_win)

    # -- episode --------------------------------------------------------------------------------------
    def _spawn_coin(self) -> Cell:
        distances = np.abs(self._cell_rows - self.agent[0]) + np.abs(self._cell_cols - self.agent[1])
        low, high = self.spawn_distance
        candidates = np.flatnonzero((distances >= low) & (distances <= high))
        index = int(candidates[self.np_random.integers(len(candidates))])
        return int(self._cell_rows[index]), int(self._cell_cols[index])

    def _reset(self, options: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, Any]]:
        row, col = (int(x) for x in self.np_random.integers(0, self.grid_size, size=2))
        self.agent = (row, col)
        self.coin = self._spawn_coin()
        self.coins_collected = 0
        self.visible = True
        self.trail = deque([self.agent], maxlen=TRAIL_LENGTH)
        return self._observation(), {"coins_collected": 0}

    def _step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        d_row, d_col = MOVES[action]
        last = self.grid_size - 1
        self.agent = (min(max(self.agent[0] + d_row, 0), last), min(max(self.agent[1] + d_col, 0), last))
        self.trail.append(self.agent)
        collected = self.agent == self.coin
        self.visible = collected
        terminated = False
        if collected:
            self.coins_collected += 1
            self.coin = self._spawn_coin()
            if self.coins_collected >= self.coins_to_win:
                self._success = True
                terminated = True
        return self._observation(), float(collected), terminated, False, {"coins_collected": self.coins_collected}

    def _observation(self) -> np.ndarray:
        if not self.visible:
            return np.zeros(5, dtype=np.float32)
        return np.array([*self.agent, *self.coin, 1.0], dtype=np.float32)

    def _privileged_state(self) -> np.ndarray:
        return np.array([*self.agent, *self.coin, self.coins_collected, self._elapsed_steps], dtype=np.float32)

    # -- rendering ------------------------------------------------------------------------------------
    def _render_frame(self) -> np.ndarray:
        cell_px = max(256 // self.grid_size, 8)
        arena_px = cell_px * self.grid_size
        bar_px = max(cell_px, 16)  # top bar: visibility lamp and one dot per coin to collect
        canvas = rendering.blank(bar_px + arena_px, arena_px, rendering.DARK)
        gap = max(cell_px // 16, 1)
        floor = (46, 46, 58)
        for row in range(self.grid_size):
            for col in range(self.grid_size):
                top, left = bar_px + row * cell_px + gap, col * cell_px + gap
                rendering.fill_rect(canvas, top, left, cell_px - 2 * gap, cell_px - 2 * gap, floor)
        trail = list(self.trail)
        for age, (row, col) in enumerate(reversed(trail[:-1])):
            shade = int(110 - 60 * age / TRAIL_LENGTH)
            top, left = bar_px + row * cell_px + 3 * gap, col * cell_px + 3 * gap
            color = (shade // 2, shade // 2, shade)
            rendering.fill_rect(canvas, top, left, cell_px - 6 * gap, cell_px - 6 * gap, color)

        def centre(cell: Cell) -> tuple[float, float]:
            return bar_px + (cell[0] + 0.5) * cell_px - 0.5, (cell[1] + 0.5) * cell_px - 0.5

        rendering.fill_disc(canvas, *centre(self.coin), cell_px * 0.3, rendering.YELLOW)
        rendering.fill_disc(canvas, *centre(self.agent), cell_px * 0.35, rendering.BLUE)
        # The square lamp is green on the steps whose observation shows the positions, grey while they are masked.
        lamp = rendering.GREEN if self.visible else rendering.GREY
        rendering.fill_rect(canvas, bar_px * 0.2, bar_px * 0.2, bar_px * 0.6, bar_px * 0.6, lamp)
        dot_space = (arena_px - bar_px) / max(self.coins_to_win, 1)
        for k in range(self.coins_to_win):
            color = rendering.YELLOW if k < self.coins_collected else rendering.GREY
            radius = min(bar_px * 0.25, dot_space * 0.35)
            rendering.fill_disc(canvas, bar_px / 2 - 0.5, bar_px + (k + 0.5) * dot_space, radius, color)
        return canvas


__all__ = ["ACTION_NAMES", "MOVES", "VISIBLE_INDEX", "CoinSearchEnv", "CoinSearchPixels", "manhattan"]
