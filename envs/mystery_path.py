"""Mystery Path: find an invisible walkway across a grid, remembering which steps made you fall off."""

from __future__ import annotations

import heapq
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from ttt_envs import rendering
from ttt_envs._base import MemoryEnv, PixelView

Cell = tuple[int, int]

#: Action index -> (row delta, column delta). Row 0 is the top of the grid.
MOVES: tuple[Cell, ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
ACTION_NAMES: tuple[str, ...] = ("up", "right", "down", "left")

#: A* cell costs are drawn from [MIN_CELL_COST, MIN_CELL_COST + 1): a wide spread relative to the floor makes
#: the cheapest route wander instead of running straight across.
MIN_CELL_COST = 0.05

MIN_GRID_SIZE = 3


def noisy_astar(costs: np.ndarray, start: Cell, goal: Cell) -> list[Cell]:
    """Cheapest 4-connected route from ``start`` to ``goal`` where entering a cell costs ``costs[cell]``.

    The heuristic (Manhattan distance times the smallest cell cost) never overestimates, so the route is
    optimal for ``costs``. An optimal route with positive costs never touches itself: two of its cells
    that are not consecutive are never neighbours, otherwise skipping the cells between them would be
    cheaper. That keeps the path one cell wide.

    Args:
        costs: (n, n) array of positive cell costs.
        start: (row, col) of the first cell.
        goal: (row, col) of the last cell.

    Returns:
        The cells from ``start`` to ``goal``, both included.
    """
    n_rows, n_cols = costs.shape
    floor = float(costs.min())

    def heuristic(cell: Cell) -> float:
        return floor * (abs(cell[0] - goal[0]) + abs(cell[1] - goal[1]))

    best_cost: dict[Cell, float] = {start: 0.0}
    came_from: dict[Cell, Cell] = {}
    # The counter breaks ties in insertion order so that equal-cost routes are chosen deterministically.
    frontier: list[tuple[float, int, Cell]] = [(heuristic(start), 0, start)]
    pushed = 1
    while frontier:
        _, _, cell = heapq.heappop(frontier)
        if cell == goal:
            break
        for d_row, d_col in MOVES:
            nxt = (cell[0] + d_row, cell[1] + d_col)
            if not (0 <= nxt[0] < n_rows and 0 <= nxt[1] < n_cols):
                continue
            cost = best_cost[cell] + float(costs[nxt])
            if cost < best_cost.get(nxt, np.inf):
                best_cost[nxt] = cost
                came_from[nxt] = cell
                heapq.heappush(frontier, (cost + heuristic(nxt), pushed, nxt))
                pushed += 1
    route = [goal]
    while route[-1] != start:
        route.append(came_from[route[-1]])
    return route[::-1]


class MysteryPathPixels(PixelView):
    """The agent view of Mystery Path (the blog's Figure 2): the grid, the agent's cell, the goal and the fall flag.

    Drawn from the observation vector ``[agent_row, agent_col, goal_row, goal_col, fell_off]`` alone, so the path is
    never in it. On a 32 x 32 image (:class:`~ttt_envs.rendering.GridPixels`: 4-pixel cells for the default 7 x 7
    grid, a 2-pixel margin) the cells are grey, the agent's cell has its red channel lit, the goal's its green channel
    (yellow where the agent stands on the goal), and the margin is blue on the step right after a fall.
    """

    def __init__(self, grid_size: int) -> None:
        self.grid = rendering.GridPixels(grid_size)
        self.observation_space = rendering.image_space(self.grid.image_side, self.grid.image_side)

    def render(self, observation: np.ndarray) -> np.ndarray:
        canvas = self.grid.blank()
        self.grid.light_cell(canvas, (round(observation[2]), round(observation[3])), rendering.GREEN_CHANNEL)
        self.grid.light_cell(canvas, (round(observation[0]), round(observation[1])), rendering.RED_CHANNEL)
        if observation[4] > 0.5:
            self.grid.light_margin(canvas, rendering.BLUE_CHANNEL)
        return canvas

    def decode(self, image: np.ndarray) -> np.ndarray:
        agent = self.grid.lit_cells(image, rendering.RED_CHANNEL)
        goal = self.grid.lit_cells(image, rendering.GREEN_CHANNEL)
        if len(agent) != 1 or len(goal) != 1:
            raise ValueError(
                f"MysteryPathPixels.decode: expected one agent cell and one goal cell, found {len(agent)} and "
                f"{len(goal)}; pass an observation of a Mystery Path env made with obs_type='pixels'."
            )
        fell = self.grid.margin_lit(image, rendering.BLUE_CHANNEL)
        return np.array([*agent[0], *goal[0], float(fell)], dtype=np.float32)


class MysteryPathEnv(MemoryEnv):
    """Cross a grid on a path the agent cannot see; a wrong step sends it back to the start.

    ## Description

    After Memory Gym's *Mystery Path*. A start cell and a goal cell sit on opposite edges of a
    ``grid_size`` x ``grid_size`` grid (top/bottom or left/right, chosen at random each episode, at
    random places along those edges). A one-cell-wide path joins them; it is the cheapest route under
    random per-cell costs (a noisy A*), so it changes every episode and is always walkable. Stepping
    onto a cell that is not on the path, or off the grid, puts the agent back on the start cell; the
    episode goes on. To reach the goal within the time limit the agent must remember which moves made
    it fall off and which cells it has already walked safely.

    ## Observation

    ``Box(5,)`` float32: ``[agent_row, agent_col, goal_row, goal_col, fell_off]``. Coordinates are raw
    cell indices in ``[0, grid_size - 1]`` (row 0 is the top). ``fell_off`` is 1.0 on the observation
    right after a move that left the path (the agent then stands on the start cell), else 0.0. The path
    is never part of the observation.

    With ``obs_type="pixels"``: ``Box(0, 255, (32, 32, 3))`` uint8, channels last (SB3's ``is_image_space``
    accepts it), the image of that same vector drawn by :class:`MysteryPathPixels`: agent cell (red), goal (green),
    fall flag (blue margin); never the path. Grids wider than 30 cells get 1-pixel cells and a larger image.

    ## Action

    ``Discrete(4)``: 0 = up (row - 1), 1 = right (col + 1), 2 = down (row + 1), 3 = left (col - 1).

    ## Reward

    1.0 on the step that reaches the goal, 0.0 otherwise.

    ## Termination

    Terminates when the agent reaches the goal. Truncates after ``max_steps`` steps (default 128).

    ## Success

    ``info["success"]`` is true once the goal has been reached.

    ## Privileged state

    ``Box(6 + grid_size**2,)`` float32: ``[agent_row, agent_col, goal_row, goal_col, start_row, start_col]``
    followed by the row-major path mask (1.0 on path cells, start and goal included).

    Args:
        grid_size: side of the square grid, at least 3.
        render_mode: ``"rgb_array"`` or None.
        max_steps: episode length limit (default :attr:`default_max_steps`).
        obs_type: ``"state"`` (the vector) or ``"pixels"`` (its image), see Observation.
    """

    default_max_steps: ClassVar[int] = 128
    obs_types: ClassVar[tuple[str, ...]] = ("state", "pixels")

    def __init__(
        self, grid_size: int = 7, render_mode: str | None = None, max_steps: int | None = None, obs_type: str = "state"
    ) -> None:
        super().__init__(render_mode=render_mode, max_steps=max_steps, obs_type=obs_type)
        if isinstance(grid_size, bool) or int(grid_size) != grid_size or grid_size < MIN_GRID_SIZE:
            raise ValueError(
                f"MysteryPathEnv: grid_size must be an integer >= {MIN_GRID_SIZE} so that start and goal edges are "
                f"apart with room for a winding path, got {grid_size!r}. Use e.g. grid_size=7 (the default)."
            )
        self.grid_size = int(grid_size)
        high = float(self.grid_size - 1)
        vector_space = spaces.Box(
            low=np.zeros(5, dtype=np.float32),
            high=np.array([high, high, high, high, 1.0], dtype=np.float32),
            dtype=np.float32,
        )
        self._set_observation_spaces(vector_space, MysteryPathPixels(self.grid_size))
        self.action_space = spaces.Discrete(len(MOVES))
        n_cells = self.grid_size**2
        self.state_space = spaces.Box(
            low=np.zeros(6 + n_cells, dtype=np.float32),
            high=np.concatenate([np.full(6, high), np.ones(n_cells)]).astype(np.float32),
            dtype=np.float32,
        )
        self.path_mask = np.zeros((self.grid_size, self.grid_size), dtype=bool)
        self.path: list[Cell] = []
        self.start: Cell = (0, 0)
        self.goal: Cell = (0, 0)
        self.agent: Cell = (0, 0)
        self.fell_off = False

    # -- episode --------------------------------------------------------------------------------------
    def _sample_endpoints(self) -> tuple[Cell, Cell]:
        last = self.grid_size - 1
        start_along, goal_along = (int(x) for x in self.np_random.integers(0, self.grid_size, size=2))
        start_side = int(self.np_random.integers(0, 2)) * last
        goal_side = last - start_side
        if self.np_random.integers(0, 2) == 0:  # top and bottom edges
            return (start_side, start_along), (goal_side, goal_along)
        return (start_along, start_side), (goal_along, goal_side)  # left and right edges

    @property
    def recommended_observation_delta(self) -> float:
        # one cell is 2 / (grid_size - 1) in the bound-normalised input: a fall back to the start is a large jump
        return 0.0 if self.obs_type == "pixels" else (self.grid_size - 1) / 2

    def _reset(self, options: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, Any]]:
        self.start, self.goal = self._sample_endpoints()
        costs = MIN_CELL_COST + self.np_random.random((self.grid_size, self.grid_size))
        self.path = noisy_astar(costs, self.start, self.goal)
        self.path_mask = np.zeros((self.grid_size, self.grid_size), dtype=bool)
        for cell in self.path:
            self.path_mask[cell] = True
        self.agent = self.start
        self.fell_off = False
        return self._observation(), {}

    def _step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        d_row, d_col = MOVES[action]
        row, col = self.agent[0] + d_row, self.agent[1] + d_col
        on_grid = 0 <= row < self.grid_size and 0 <= col < self.grid_size
        if on_grid and self.path_mask[row, col]:
            self.agent, self.fell_off = (row, col), False
        else:
            self.agent, self.fell_off = self.start, True
        reached = self.agent == self.goal
        if reached:
            self._success = True
        return self._observation(), float(reached), reached, False, {}

    def _observation(self) -> np.ndarray:
        return np.array([*self.agent, *self.goal, float(self.fell_off)], dtype=np.float32)

    def _privileged_state(self) -> np.ndarray:
        head = np.array([*self.agent, *self.goal, *self.start], dtype=np.float32)
        return np.concatenate([head, self.path_mask.reshape(-1).astype(np.float32)])

    # -- rendering ------------------------------------------------------------------------------------
    def _render_frame(self) -> np.ndarray:
        cell_px = max(256 // self.grid_size, 8)
        size = cell_px * self.grid_size
        canvas = rendering.blank(size, size, rendering.DARK)
        gap = max(cell_px // 16, 1)
        for row in range(self.grid_size):
            for col in range(self.grid_size):
                color = rendering.WHITE if self.path_mask[row, col] else rendering.GREY
                if (row, col) == self.start:
                    color = rendering.BLUE
                elif (row, col) == self.goal:
                    color = rendering.GREEN
                rendering.fill_rect(
                    canvas, row * cell_px + gap, col * cell_px + gap, cell_px - 2 * gap, cell_px - 2 * gap, color
                )
        centre_row, centre_col = (self.agent[0] + 0.5) * cell_px, (self.agent[1] + 0.5) * cell_px
        # An orange agent marks the step right after a fall, when it has just been put back on the start.
        agent_color = rendering.ORANGE if self.fell_off else rendering.RED
        rendering.fill_disc(canvas, centre_row - 0.5, centre_col - 0.5, cell_px * 0.3, agent_color)
        return canvas


__all__ = ["ACTION_NAMES", "MOVES", "MysteryPathEnv", "MysteryPathPixels", "noisy_astar"]
