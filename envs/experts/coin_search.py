"""Coin Search: a privileged greedy walker and a dead-reckoning demonstrator that sometimes miscounts its steps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ttt_envs.coin_search import MOVES, VISIBLE_INDEX, Cell
from ttt_envs.experts.base import Demonstrator, ScriptedExpert, build_demonstrator
from ttt_envs.wrappers import PrivilegedObservation

#: Search rings around the remembered coin, in moves, before the demonstrator gives up and wanders.
SEARCH_RADIUS = 3


def greedy_move(position: Cell, target: Cell) -> int:
    """The move that shortens the longer of the row and column gaps to ``target`` (the row on a tie).

    Every such move shortens the Manhattan distance by one, so repeating it walks a shortest path.
    """
    d_row, d_col = target[0] - position[0], target[1] - position[1]
    if d_row == 0 and d_col == 0:
        return 0
    if abs(d_row) >= abs(d_col):
        return 2 if d_row > 0 else 0
    return 1 if d_col > 0 else 3


class CoinSearchExpert(ScriptedExpert):
    """Walks a shortest path to the active coin, read from the privileged state ``[agent, coin, ...]``."""

    def act(self, state: np.ndarray, obs: np.ndarray) -> int:
        agent = (round(float(state[0])), round(float(state[1])))
        coin = (round(float(state[2])), round(float(state[3])))
        return greedy_move(agent, coin)


@dataclass(frozen=True)
class DeadReckoningMemory:
    """What the demonstrator believes between glimpses.

    Attributes:
        position: estimated own cell, None before the first glimpse.
        coin: the last coin cell seen.
        search: cells still to visit around ``coin`` after arriving there without collecting it.
        searching: whether the search around ``coin`` has been planned (an empty ``search`` then means it
            was exhausted).
        position_before_move: the estimate before the last move; ``record_action`` dead-reckons the executed
            move from it. None before the first glimpse.
        move_counted: whether the last move is counted (False when the demonstrator lost count of it).
    """

    position: Cell | None = None
    coin: Cell | None = None
    search: tuple[Cell, ...] = ()
    searching: bool = False
    position_before_move: Cell | None = None
    move_counted: bool = True


def search_cells(centre: Cell, grid_size: int, radius: int = SEARCH_RADIUS) -> tuple[Cell, ...]:
    """Cells within ``radius`` moves of ``centre``, ring by ring, each ring walked around its perimeter."""
    cells: list[Cell] = []
    for r in range(1, radius + 1):
        # Corners of the diamond going clockwise from the top, and the cells between them.
        corners = [(-r, 0), (0, r), (r, 0), (0, -r)]
        for k in range(4):
            (r0, c0), (r1, c1) = corners[k], corners[(k + 1) % 4]
            step_r, step_c = np.sign(r1 - r0), np.sign(c1 - c0)
            for i in range(r):
                cell = (centre[0] + r0 + i * int(step_r), centre[1] + c0 + i * int(step_c))
                if 0 <= cell[0] < grid_size and 0 <= cell[1] < grid_size:
                    cells.append(cell)
    return tuple(cells)


class CoinSearchDemonstrator(Demonstrator):
    """Remembers the last coin it saw and dead-reckons its own cell from its moves, like a person would.

    On a glimpse (``visible`` = 1) it re-anchors its position and the coin exactly. In between, it walks a
    shortest path to the remembered coin and updates its estimate with each move, clamped at the border as
    the env does. With probability ``miscount_prob`` per step it loses count of a move (the estimate does
    not change), so the estimate drifts; when it believes it has arrived but no new glimpse came, it
    searches the cells around the remembered coin ring by ring, and wanders at random once that fails.

    Args:
        observation_space: the env's observation space (its high bound gives the arena size).
        action_space: the env's action space.
        miscount_prob: probability of losing count of a move at each step.
        rng: generator (or seed) for the miscounts and tie-breaking.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        miscount_prob: float = 0.05,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, rng=rng)
        if not isinstance(observation_space, spaces.Box) or observation_space.shape != (5,):
            raise TypeError(
                f"CoinSearchDemonstrator needs the CoinSearch Box(5,) observation, got {observation_space}. "
                "Pass the env's own observation space, not the PrivilegedObservation dict."
            )
        if not 0.0 <= miscount_prob <= 1.0:
            raise ValueError(f"miscount_prob must be a probability in [0, 1], got {miscount_prob!r}.")
        self.grid_size = int(observation_space.high[0]) + 1
        self.miscount_prob = float(miscount_prob)

    def initial_memory(self) -> DeadReckoningMemory:
        return DeadReckoningMemory()

    def act(self, obs: np.ndarray, memory: DeadReckoningMemory) -> tuple[int, DeadReckoningMemory]:
        if obs[VISIBLE_INDEX] > 0.5:
            position = (round(float(obs[0])), round(float(obs[1])))
            coin = (round(float(obs[2])), round(float(obs[3])))
            memory = DeadReckoningMemory(position=position, coin=coin)
        if memory.position is None or memory.coin is None:
            return int(self.rng.integers(len(MOVES))), memory  # no glimpse yet: the reset observation was skipped
        position = memory.position
        if position == memory.coin and not memory.searching:
            memory = replace(memory, search=search_cells(memory.coin, self.grid_size), searching=True)
        target: Cell | None = memory.coin
        if memory.searching:
            memory = replace(memory, search=tuple(cell for cell in memory.search if cell != position))
            target = memory.search[0] if memory.search else None
        if target is None:
            action = int(self.rng.integers(len(MOVES)))
        else:
            action = greedy_move(position, target)
        counted = self.rng.random() >= self.miscount_prob
        memory = replace(memory, position_before_move=position, move_counted=counted)
        return action, self.record_action(memory, action)

    def record_action(self, memory: DeadReckoningMemory, action: int) -> DeadReckoningMemory:
        """Dead-reckon the executed move from the position before it (unless that move was miscounted)."""
        if memory.position_before_move is None:
            return memory  # no glimpse yet: there is no position to move
        position = memory.position_before_move
        return replace(memory, position=self._clamped(position, action) if memory.move_counted else position)

    def _clamped(self, position: Cell, action: int) -> Cell:
        last = self.grid_size - 1
        d_row, d_col = MOVES[action]
        return min(max(position[0] + d_row, 0), last), min(max(position[1] + d_col, 0), last)


def make_expert(env_id: str) -> ScriptedExpert:
    """The privileged greedy expert for ``env_id``, on the ``PrivilegedObservation`` dict."""
    env = PrivilegedObservation(gym.make(env_id))
    try:
        return CoinSearchExpert(env.observation_space, env.action_space)
    finally:
        env.close()


def make_demonstrator(env_id: str, rng: Any = None) -> Demonstrator:
    """The dead-reckoning demonstrator for ``env_id``, on the partial observation (on a pixel env, on the vector it
    decodes from each image: ``PixelDecodingDemonstrator``)."""
    return build_demonstrator(
        env_id, lambda obs_space, act_space: CoinSearchDemonstrator(obs_space, act_space, rng=rng)
    )


__all__ = [
    "CoinSearchDemonstrator",
    "CoinSearchExpert",
    "DeadReckoningMemory",
    "greedy_move",
    "make_demonstrator",
    "make_expert",
    "search_cells",
]
