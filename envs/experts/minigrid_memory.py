"""Expert and demonstrator of MiniGrid's Memory tasks (``ttt_gym/MiniGridMemory*``).

* Expert: reads the matching object off the privileged state, walks down the corridor and steps next to it.
* Demonstrator: sees only the egocentric view. It keeps track of where it is relative to its start by counting
  its own turns and moves (dead reckoning), turns round to look at the object in the start room if it is not
  in view, remembers its type, walks down the corridor and steps next to the end object of that type.

Both navigate with :func:`corridor_action`, in MiniGrid's grid frame (expert) or in the frame of the agent's
start (demonstrator): the reachable cells are the start room, the corridor row and the junction at its end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from gymnasium import spaces

from ttt_envs.experts.base import Demonstrator, ScriptedExpert, privileged_spaces
from ttt_envs.minigrid_memory import (
    BALL,
    FORWARD,
    KEY,
    LEFT,
    ONE_HOT_SIZE,
    RIGHT,
    SYMBOLIC_SIZE,
    VIEW_SIZE,
    symbolic_view,
)

#: MiniGrid's headings: index -> (dx, dy) of one forward move (x east, y south).
EAST, SOUTH, WEST, NORTH = 0, 1, 2, 3
HEADING_VECTORS: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (-1, 0), (0, -1))
#: MiniGrid's code of an empty cell (channel 0 of the view); the only kind the agent can step onto here.
EMPTY = 1
#: View cell of the agent and of the cell in front of it ((column, row) of the 7 x 7 view).
AGENT_VIEW_CELL = (VIEW_SIZE // 2, VIEW_SIZE - 1)


def turn_towards(heading: int, desired: int) -> int:
    """The action that brings ``heading`` to ``desired``: forward if already there, else the shorter turn."""
    if heading == desired:
        return FORWARD
    return LEFT if (desired - heading) % 4 == 3 else RIGHT


def corridor_action(position: tuple[int, int], heading: int, corridor_y: int, target: tuple[int, int]) -> int:
    """The action that walks from the start room or the corridor to ``target``, a cell next to the junction.

    The reachable cells of MiniGrid's Memory layout are the start room (three rows around the corridor row), the
    corridor row and the junction at its east end; ``target`` is the cell north or south of the junction.
    Off the corridor row the agent first returns to it, then walks east to the junction and turns to ``target``.

    Args:
        position: the agent's cell ``(x, y)`` (x east, y south).
        heading: MiniGrid's direction (0 east, 1 south, 2 west, 3 north).
        corridor_y: the row of the corridor.
        target: the cell to step onto.
    """
    x, y = position
    target_x, target_y = target
    if y != corridor_y:
        desired = SOUTH if corridor_y > y else NORTH
    elif x < target_x:
        desired = EAST
    elif x > target_x:
        desired = WEST
    else:
        desired = SOUTH if target_y > y else NORTH
    return turn_towards(heading, desired)


def cell_next_to(obj: tuple[int, int], corridor_y: int) -> tuple[int, int]:
    """The cell between an end object and the corridor row: stepping onto it picks the object."""
    x, y = obj
    return x, y + (1 if y < corridor_y else -1)


class MiniGridMemoryExpert(ScriptedExpert):
    """Privileged expert: goes to the cell next to the matching object (index 6-7 of the state) by the corridor."""

    def act(self, state: np.ndarray, obs: np.ndarray) -> int:
        agent_x, agent_y, heading = (int(v) for v in state[:3])
        matching = (int(state[6]), int(state[7]))
        corridor_y = (int(state[7]) + int(state[9])) // 2  # the end objects sit two cells either side of it
        return corridor_action((agent_x, agent_y), heading, corridor_y, cell_next_to(matching, corridor_y))


@dataclass(frozen=True)
class CorridorMemory:
    """What the demonstrator remembers, in the frame of its start (x along the corridor, y to its right).

    ``position`` and ``heading`` are those of the last observation; ``front_free`` says whether the cell in
    front was free then, and ``last_action`` is the action executed after it (-1 before the first), so that the
    next observation's pose follows from the executed action, whichever it was.
    """

    position: tuple[int, int] = (0, 0)
    """Cell relative to the start cell; the corridor row is ``y = 0``, the start room lies at ``x <= 0``."""
    heading: int = EAST
    """MiniGrid's heading, counted from the start heading (the agent always starts facing the corridor)."""
    front_free: bool = False
    last_action: int = -1
    cue: int | None = None
    """MiniGrid's code of the object seen in the start room (5 key, 6 ball), once seen."""
    end_objects: tuple[tuple[int, int, int], ...] = ()
    """``(x, y, code)`` of the objects seen beyond the start (x >= 1), sorted."""

    def moved(self) -> CorridorMemory:
        """The pose after ``last_action`` (a forward move into a blocked cell stays put)."""
        if self.last_action == LEFT:
            return replace(self, heading=(self.heading - 1) % 4)
        if self.last_action == RIGHT:
            return replace(self, heading=(self.heading + 1) % 4)
        if self.last_action == FORWARD and self.front_free:
            dx, dy = HEADING_VECTORS[self.heading]
            return replace(self, position=(self.position[0] + dx, self.position[1] + dy))
        return self

    def target(self) -> tuple[int, int] | None:
        """Where the matching end object is, once the cue and at least one end object have been seen."""
        if self.cue is None or not self.end_objects:
            return None
        for x, y, code in self.end_objects:
            if code == self.cue:
                return x, y
        x, y, _ = self.end_objects[0]
        return x, -y  # the other end object is the mirror image across the corridor row


class MiniGridMemoryDemonstrator(Demonstrator):
    """Looks back at the start-room object, remembers it, walks down the corridor and picks its twin.

    It sees only the flat egocentric view (either layout, read through
    :func:`~ttt_envs.minigrid_memory.symbolic_view`) and tracks its pose by dead reckoning: a turn changes the heading,
    a forward move changes the cell if the cell in front looked empty. Any key or ball it sees at or behind its
    start column is the cue; any beyond it is an end object. Until it knows the cue it returns to the corridor
    row and looks (then walks) west; once it knows the cue and where one end object is, it goes to the cell
    next to the matching one (the mirror image of the other one if only that one was seen), walking east
    along the corridor until the end objects come into view.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, rng=rng)
        if observation_space.shape not in ((ONE_HOT_SIZE,), (SYMBOLIC_SIZE,)):
            raise ValueError(
                f"{type(self).__name__} reads MiniGrid's flattened {VIEW_SIZE} x {VIEW_SIZE} view, one-hot "
                f"({ONE_HOT_SIZE} entries) or symbolic ({SYMBOLIC_SIZE}); got an observation space of shape "
                f"{observation_space.shape}. Make it for a ttt_gym/MiniGridMemory* id."
            )

    def initial_memory(self) -> CorridorMemory:
        return CorridorMemory()

    def act(self, obs: np.ndarray, memory: CorridorMemory) -> tuple[int, CorridorMemory]:
        memory = self._perceive(symbolic_view(obs), memory.moved())
        target = memory.target()
        if target is not None:
            action = corridor_action(memory.position, memory.heading, 0, cell_next_to(target, 0))
        elif memory.cue is not None:
            action = corridor_action(memory.position, memory.heading, 0, (memory.position[0] + 1, 0))
        elif memory.position[1] != 0:
            action = corridor_action(memory.position, memory.heading, 0, (memory.position[0], 0))
        elif memory.heading == WEST and not memory.front_free:
            action = RIGHT  # at the west wall without having seen it: look around
        else:
            action = turn_towards(memory.heading, WEST)
        return action, self.record_action(memory, action)

    def record_action(self, memory: CorridorMemory, action: int) -> CorridorMemory:
        """The next pose follows from ``action``: nothing else in the memory depends on the actions."""
        return replace(memory, last_action=action)

    @staticmethod
    def _perceive(view: np.ndarray, memory: CorridorMemory) -> CorridorMemory:
        """Note whether the cell ahead is free and remember the objects in view, in the start frame."""
        column, row = AGENT_VIEW_CELL
        front_free = bool(view[column, row - 1, 0] == EMPTY)
        forward = HEADING_VECTORS[memory.heading]
        right = (-forward[1], forward[0])
        cue, ends = memory.cue, set(memory.end_objects)
        for i, j in zip(*np.nonzero(np.isin(view[:, :, 0], (KEY, BALL))), strict=True):
            ahead, aside = row - int(j), int(i) - column
            x = memory.position[0] + ahead * forward[0] + aside * right[0]
            y = memory.position[1] + ahead * forward[1] + aside * right[1]
            code = int(view[i, j, 0])
            if x <= 0:
                cue = code
            else:
                ends.add((x, y, code))
        return replace(memory, front_free=front_free, cue=cue, end_objects=tuple(sorted(ends)))


def make_expert(env_id: str) -> ScriptedExpert:
    """The privileged expert for ``env_id`` (a MiniGrid Memory id), acting on the ``PrivilegedObservation`` dict."""
    privileged, _, action_space = privileged_spaces(env_id)
    return MiniGridMemoryExpert(privileged, action_space)


def make_demonstrator(env_id: str, rng: np.random.Generator | int | None = None) -> Demonstrator:
    """The view-only demonstrator for ``env_id``: looks back at the cue, remembers it, picks its twin."""
    _, obs_space, action_space = privileged_spaces(env_id)
    return MiniGridMemoryDemonstrator(obs_space, action_space, rng=rng)


__all__ = [
    "CorridorMemory",
    "MiniGridMemoryDemonstrator",
    "MiniGridMemoryExpert",
    "cell_next_to",
    "corridor_action",
    "make_demonstrator",
    "make_expert",
    "turn_towards",
]
