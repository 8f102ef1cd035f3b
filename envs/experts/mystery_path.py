"""Mystery Path: a privileged path follower and a human-like explorer that remembers its falls."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ttt_envs.experts.base import Demonstrator, ScriptedExpert, build_demonstrator
from ttt_envs.mystery_path import MOVES, Cell
from ttt_envs.wrappers import PrivilegedObservation


def _cell(values: np.ndarray) -> Cell:
    return round(float(values[0])), round(float(values[1]))


def _manhattan(a: Cell, b: Cell) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def _step_towards(cell: Cell, target: Cell) -> int:
    """The move that most reduces the larger coordinate gap (used only when no route is known)."""
    d_row, d_col = target[0] - cell[0], target[1] - cell[1]
    if abs(d_row) >= abs(d_col):
        return 2 if d_row > 0 else 0
    return 1 if d_col > 0 else 3


def routes_from(source: Cell, walkable: set[Cell]) -> dict[Cell, tuple[int, int]]:
    """Breadth-first search from ``source`` through ``walkable`` cells (4-connected).

    Returns:
        For every reachable walkable cell other than ``source``: (number of moves, first action) of a
        shortest route to it.
    """
    routes: dict[Cell, tuple[int, int]] = {}
    queue: deque[Cell] = deque()
    for action, (d_row, d_col) in enumerate(MOVES):
        nxt = (source[0] + d_row, source[1] + d_col)
        if nxt in walkable and nxt not in routes:
            routes[nxt] = (1, action)
            queue.append(nxt)
    while queue:
        cell = queue.popleft()
        distance, first_action = routes[cell]
        for d_row, d_col in MOVES:
            nxt = (cell[0] + d_row, cell[1] + d_col)
            if nxt in walkable and nxt not in routes and nxt != source:
                routes[nxt] = (distance + 1, first_action)
                queue.append(nxt)
    return routes


class MysteryPathExpert(ScriptedExpert):
    """Follows the hidden path: breadth-first search over path cells from the agent to the goal.

    Reads only the privileged state ``[agent, goal, start, path mask]``; the grid size is recovered from
    the state's length, so the expert works for any ``grid_size``.
    """

    def act(self, state: np.ndarray, obs: np.ndarray) -> int:
        grid_size = round(float(np.sqrt(state.shape[0] - 6)))
        agent, goal = _cell(state[0:2]), _cell(state[2:4])
        mask = state[6:].reshape(grid_size, grid_size) > 0.5
        path_cells = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
        route = routes_from(agent, path_cells).get(goal)
        # Off the path or already at the goal (neither happens in a live episode): head for the goal.
        return _step_towards(agent, goal) if route is None else route[1]


@dataclass
class ExplorerMemory:
    """What the demonstrator remembers within one episode."""

    #: Cells it has stood on without falling: all lie on the path.
    safe_cells: set[Cell] = field(default_factory=set)
    #: (cell, action) pairs that made it fall off.
    bad_moves: set[tuple[Cell, int]] = field(default_factory=set)
    #: Where it stood at the last step and the move executed there: a fall on the next observation is blamed on them.
    last_cell: Cell | None = None
    last_action: int | None = None


class MysteryPathDemonstrator(Demonstrator):
    """Explores like a careful person: remember falls, walk back along known ground, try goal-ward moves first.

    It sees only ``[agent, goal, fell_off]``. After a fall it notes the (cell, move) that failed; it walks
    from the start back over cells it has safely visited to the nearest one that still has an untried
    move to new ground, and there tries the untried move that gets closest to the goal. Like a person it
    sometimes forgets a fall it just had (``forget_prob``) and so may repeat it, and sometimes tries an
    unfamiliar move on a whim instead of the most goal-ward one (``whim_prob``). Long, winding paths can
    use up the time limit.

    Args:
        observation_space: the env's observation space (its upper bound gives the grid size).
        action_space: ``Discrete(4)``.
        rng: generator or seed for the lapses and tie-breaking.
        forget_prob: chance of not remembering a fall.
        whim_prob: chance of picking a random untried move rather than the most goal-ward one.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        rng: np.random.Generator | int | None = None,
        forget_prob: float = 0.3,
        whim_prob: float = 0.3,
    ) -> None:
        super().__init__(observation_space, action_space, rng=rng)
        assert isinstance(observation_space, spaces.Box)
        self.grid_size = round(float(observation_space.high[0])) + 1
        self.forget_prob = forget_prob
        self.whim_prob = whim_prob

    def initial_memory(self) -> ExplorerMemory:
        return ExplorerMemory()

    def _untried_moves(self, cell: Cell, memory: ExplorerMemory) -> list[int]:
        moves = []
        for action, (d_row, d_col) in enumerate(MOVES):
            nxt = (cell[0] + d_row, cell[1] + d_col)
            on_grid = 0 <= nxt[0] < self.grid_size and 0 <= nxt[1] < self.grid_size
            if on_grid and nxt not in memory.safe_cells and (cell, action) not in memory.bad_moves:
                moves.append(action)
        return moves

    def _choose_new_move(self, cell: Cell, goal: Cell, moves: list[int]) -> int:
        if len(moves) > 1 and self.rng.random() < self.whim_prob:
            return int(self.rng.choice(moves))
        distances = [_manhattan((cell[0] + MOVES[a][0], cell[1] + MOVES[a][1]), goal) for a in moves]
        best = [a for a, d in zip(moves, distances, strict=True) if d == min(distances)]
        return int(self.rng.choice(best))

    def act(self, obs: np.ndarray, memory: ExplorerMemory) -> tuple[int, ExplorerMemory]:
        cell, goal, fell_off = _cell(obs[0:2]), _cell(obs[2:4]), bool(obs[4] > 0.5)
        if fell_off and memory.last_cell is not None and memory.last_action is not None:
            if self.rng.random() >= self.forget_prob:
                memory.bad_moves.add((memory.last_cell, memory.last_action))
        memory.safe_cells.add(cell)

        action = self._decide(cell, goal, memory)
        memory.last_cell = cell
        return action, self.record_action(memory, action)

    def record_action(self, memory: ExplorerMemory, action: int) -> ExplorerMemory:
        """Blame a fall on the next observation on the executed move from ``last_cell``, not on the proposal."""
        memory.last_action = action
        return memory

    def _decide(self, cell: Cell, goal: Cell, memory: ExplorerMemory) -> int:
        moves = self._untried_moves(cell, memory)
        if moves:
            return self._choose_new_move(cell, goal, moves)
        # Nothing new here: walk over known ground to the nearest cell that still has something to try.
        routes = routes_from(cell, memory.safe_cells)
        frontier = [(route, target) for target, route in routes.items() if self._untried_moves(target, memory)]
        if frontier:
            (_, first_action), _ = min(frontier, key=lambda item: (item[0][0], _manhattan(item[1], goal)))
            return first_action
        # Unreachable on a one-cell-wide path (the farthest safe cell always has its next path cell untried);
        # if it ever happens, start afresh rather than freeze.
        memory.bad_moves.clear()
        return int(self.rng.integers(0, len(MOVES)))


def make_expert(env_id: str, env_kwargs: dict[str, Any] | None = None) -> MysteryPathExpert:
    """The privileged path follower for ``env_id`` (acts on the ``PrivilegedObservation`` dict).

    Args:
        env_id: a Mystery Path id, e.g. ``"ttt_gym/MysteryPath-v0"``.
        env_kwargs: the ``gym.make`` arguments of the env it will act in (e.g. ``{"grid_size": 9}``);
            they fix the size of its observation space.
    """
    env = PrivilegedObservation(gym.make(env_id, **(env_kwargs or {})))
    observation_space, action_space = env.observation_space, env.action_space
    env.close()
    assert isinstance(observation_space, spaces.Dict)
    return MysteryPathExpert(observation_space, action_space)


def make_demonstrator(
    env_id: str,
    rng: np.random.Generator | int | None = None,
    *,
    forget_prob: float = 0.3,
    whim_prob: float = 0.3,
    env_kwargs: dict[str, Any] | None = None,
) -> Demonstrator:
    """The human-like explorer for ``env_id``; acts on the partial observation only (on a pixel env, on the vector
    it decodes from each image: ``PixelDecodingDemonstrator``).

    Args:
        env_id: a Mystery Path id, e.g. ``"ttt_gym/MysteryPath-v0"``.
        rng: generator or seed for its lapses and tie-breaking.
        forget_prob: chance of not remembering a fall (see :class:`MysteryPathDemonstrator`).
        whim_prob: chance of trying a random untried move instead of the most goal-ward one.
        env_kwargs: the ``gym.make`` arguments of the env it will act in (e.g. ``{"grid_size": 9}``).
    """
    return build_demonstrator(
        env_id,
        lambda observation_space, action_space: MysteryPathDemonstrator(
            observation_space, action_space, rng=rng, forget_prob=forget_prob, whim_prob=whim_prob
        ),
        **(env_kwargs or {}),
    )


__all__ = [
    "ExplorerMemory",
    "MysteryPathDemonstrator",
    "MysteryPathExpert",
    "make_demonstrator",
    "make_expert",
    "routes_from",
]
