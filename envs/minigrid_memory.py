"""MiniGrid's Memory tasks (the real ``minigrid`` package) under the suite's privileged-state contract.

Importing this module imports ``minigrid`` (about 0.3 s); ``ttt_envs`` itself never does, gymnasium loads this
module only when one of the ``ttt_gym/MiniGridMemory*`` ids is made.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import FlattenObservation
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
from minigrid.wrappers import ImgObsWrapper, OneHotPartialObsWrapper

from ttt_envs import MINIGRID_MEMORY
from ttt_envs._base import MemoryEnv

#: MiniGrid's registered Memory ids that this module wraps (as ``ttt_gym/MiniGridMemory<suffix>-v0``).
MINIGRID_MEMORY_IDS: tuple[str, ...] = tuple(MINIGRID_MEMORY.values())

#: Side of MiniGrid's egocentric view (its default ``agent_view_size``); the agent sits at view cell (3, 6).
VIEW_SIZE = 7
#: The three MiniGrid actions the task needs; they keep MiniGrid's indices, so no action mapping is involved.
LEFT, RIGHT, FORWARD = 0, 1, 2
ACTION_NAMES: tuple[str, ...] = ("left", "right", "forward")
#: MiniGrid's object codes (channel 0 of the view) of the two object types the task uses.
KEY, BALL = OBJECT_TO_IDX["key"], OBJECT_TO_IDX["ball"]
#: The observation layouts: ``"one-hot"`` (the default, MiniGrid's ``OneHotPartialObsWrapper``) or ``"symbolic"``.
VIEWS: tuple[str, ...] = ("one-hot", "symbolic")
#: Sizes of the three one-hot groups of a view cell, in ``OneHotPartialObsWrapper``'s order: object, colour, state.
ONE_HOT_GROUPS: tuple[int, ...] = (len(OBJECT_TO_IDX), len(COLOR_TO_IDX), len(STATE_TO_IDX))
#: Entries of a flattened view: 7 x 7 cells of 3 codes (symbolic) or of 11 + 6 + 3 = 20 bits (one-hot).
SYMBOLIC_SIZE = VIEW_SIZE * VIEW_SIZE * 3
ONE_HOT_SIZE = VIEW_SIZE * VIEW_SIZE * sum(ONE_HOT_GROUPS)

#: Layout of the privileged state vector (index -> meaning), documented in the class docstring.
STATE_FIELDS: tuple[str, ...] = (
    "agent_x",
    "agent_y",
    "agent_dir",
    "start_object_x",
    "start_object_y",
    "start_object_type",
    "matching_object_x",
    "matching_object_y",
    "other_object_x",
    "other_object_y",
)


def symbolic_view(obs: np.ndarray) -> np.ndarray:
    """MiniGrid's 7 x 7 x 3 symbolic view (object, colour, state code per cell) from a flat view of either layout.

    The layout is told by the size: 147 entries are the symbolic view itself, 980 the one-hot view, whose cells
    hold ``OneHotPartialObsWrapper``'s 20 bits (bit ``object``, bit ``11 + colour``, bit ``17 + state``); the codes
    are the positions of the set bit in each group.

    Raises:
        ValueError: for an observation of another size.
    """
    flat = np.asarray(obs).reshape(-1)
    if flat.size == SYMBOLIC_SIZE:
        return flat.reshape(VIEW_SIZE, VIEW_SIZE, 3)
    if flat.size == ONE_HOT_SIZE:
        bits = flat.reshape(VIEW_SIZE, VIEW_SIZE, sum(ONE_HOT_GROUPS))
        groups = np.split(bits, np.cumsum(ONE_HOT_GROUPS)[:-1], axis=-1)
        return np.stack([group.argmax(axis=-1) for group in groups], axis=-1).astype(np.uint8)
    raise ValueError(
        f"symbolic_view takes one flat MiniGrid Memory observation, {ONE_HOT_SIZE} entries (view='one-hot') or "
        f"{SYMBOLIC_SIZE} (view='symbolic'); got {flat.size} entries."
    )


class MiniGridMemoryEnv(MemoryEnv):
    """MiniGrid's Memory task (``minigrid.envs.MemoryEnv``, made from its registered id) with a privileged state.

    ## Description

    The agent starts in a small room on the west side, in the corridor row, facing east. A green key or ball
    lies in the room's north-west corner. A corridor leads east to a north-south hallway with a key at its
    north end and a ball at its south end, or the other way round. Stepping next to the object that matches
    the one in the start room succeeds; stepping next to the other one fails. Both end the episode. The start
    object is behind the agent unless it starts in the room's west column, so it has to look back (and
    remember what it saw) before walking down the corridor, out of sight of the start room.

    Everything about the dynamics, layout, reward and horizon is MiniGrid's own: this class builds
    ``FlattenObservation(ImgObsWrapper(OneHotPartialObsWrapper(gym.make(minigrid_id))))`` (without
    ``OneHotPartialObsWrapper`` for ``view="symbolic"``) and adds the privileged state and ``info["success"]``.

    ## Observation

    ``Box(0, 1, (980,))`` uint8 (``view="one-hot"``, the default): MiniGrid's 7 x 7 egocentric view (the agent sits
    at view cell ``(3, 6)`` looking towards row 0; walls hide what is behind them) one-hot encoded by MiniGrid's
    ``OneHotPartialObsWrapper``: 20 bits per cell, 11 for the object type, 6 for the colour, 3 for the state
    (entry ``(i * 7 + j) * 20 + b`` is bit ``b`` of view column ``i``, row ``j``, flattened in C order by
    gymnasium's ``FlattenObservation`` after MiniGrid's ``ImgObsWrapper``). The codes are categories, not
    quantities, which is why the default is one-hot: no learner we tried got past chance on the codes.
    The box declares the true bounds 0 and 1 (the wrapper's says 255), so that actors that normalise inputs by the
    box bounds map the bits to -1 and 1 (a GRU learned far faster from the raw bits, ``normalize_observations=False``:
    see docs/envs/minigrid_memory.md).

    ``Box(0, 10, (147,))`` uint8 (``view="symbolic"``): the same view as MiniGrid's 3 codes per cell (object,
    colour, state; entry ``(i * 7 + j) * 3 + c``), bounded by MiniGrid's largest code. :func:`symbolic_view`
    turns either layout back into the 7 x 7 x 3 codes.

    ``ImgObsWrapper`` drops the mission string, which is the same in every Memory episode. The compass direction
    is dropped too, as in the usual MiniGrid memory benchmarks.

    ## Action

    ``Discrete(3)``: 0 = turn left, 1 = turn right, 2 = forward, MiniGrid's first three actions with their
    own indices. MiniGrid's other four (pickup, which Memory turns into toggle, drop, toggle, done) change
    nothing in this task, so the restriction needs no action wrapper: the env passes the action through.

    ## Reward

    MiniGrid's: ``1 - 0.9 * step_count / max_steps`` on success, 0 otherwise.

    ## Termination

    Terminates when the agent steps next to either end object. Truncates after ``max_steps`` steps
    (MiniGrid's default ``5 * size**2``: 245 for S7, 405 for S9, 605 for S11, 845 for S13, 1445 for S17).

    ## Success

    ``info["success"]`` is true once the agent has stepped next to the matching object (MiniGrid's reward is
    positive exactly then).

    ## Privileged state

    ``Box(10,)`` float32, in MiniGrid's grid coordinates (x east, y south; the corridor row is ``y = size // 2``):
    ``[agent_x, agent_y, agent_dir, start_object_x, start_object_y, start_object_type, matching_object_x,
    matching_object_y, other_object_x, other_object_y]``. ``agent_dir`` is MiniGrid's (0 east, 1 south,
    2 west, 3 north), ``start_object_type`` MiniGrid's object code (5 key, 6 ball). The matching object is
    the end object of the start object's type, the other one the wrong pick; the success cell is the one
    between the matching object and the corridor row.

    Args:
        minigrid_id: a MiniGrid Memory id, one of :data:`MINIGRID_MEMORY_IDS`.
        render_mode: ``"rgb_array"`` (MiniGrid's full-grid render, the agent's view highlighted) or None.
        max_steps: episode length limit (default: MiniGrid's, ``5 * size**2``).
        view: ``"one-hot"`` (980 bits) or ``"symbolic"`` (147 codes), see Observation.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        minigrid_id: str = "MiniGrid-MemoryS7-v0",
        render_mode: str | None = None,
        max_steps: int | None = None,
        view: str = "one-hot",
    ) -> None:
        if view not in VIEWS:
            raise ValueError(f"{type(self).__name__}: view must be one of {', '.join(VIEWS)}; got {view!r}.")
        if minigrid_id not in MINIGRID_MEMORY_IDS:
            raise ValueError(
                f"{type(self).__name__}: minigrid_id must be one of MiniGrid's Memory ids "
                f"{', '.join(MINIGRID_MEMORY_IDS)}; got {minigrid_id!r}."
            )
        # Validates max_steps and render_mode; the default horizon is replaced by MiniGrid's below.
        super().__init__(render_mode=render_mode, max_steps=max_steps)
        horizon: dict[str, Any] = {} if max_steps is None else {"max_steps": int(max_steps)}
        inner = gym.make(minigrid_id, render_mode=render_mode, disable_env_checker=True, **horizon)
        self.minigrid_id = minigrid_id
        self.view = view
        if view == "one-hot":
            inner = OneHotPartialObsWrapper(inner)
        self._minigrid = FlattenObservation(ImgObsWrapper(inner))
        grid_env = self.minigrid_env
        self.max_steps = int(grid_env.max_steps)
        self.size = int(grid_env.width)

        if view == "one-hot":
            self.observation_space = spaces.Box(low=0, high=1, shape=(ONE_HOT_SIZE,), dtype=np.uint8)
        else:
            high = max(*OBJECT_TO_IDX.values(), *COLOR_TO_IDX.values(), *STATE_TO_IDX.values())
            self.observation_space = spaces.Box(low=0, high=high, shape=(SYMBOLIC_SIZE,), dtype=np.uint8)
        if self.observation_space.shape != self._minigrid.observation_space.shape:
            raise RuntimeError(
                f"{type(self).__name__}: MiniGrid's {view} view has shape {self._minigrid.observation_space.shape}, "
                f"not {self.observation_space.shape} (a minigrid version with other codes?)."
            )
        self.action_space = spaces.Discrete(len(ACTION_NAMES))
        last = self.size - 1
        low_types, high_types = min(KEY, BALL), max(KEY, BALL)
        self.state_space = spaces.Box(
            low=np.array([0, 0, 0, 0, 0, low_types, 0, 0, 0, 0], dtype=np.float32),
            high=np.array([last, last, 3, last, last, high_types, last, last, last, last], dtype=np.float32),
            dtype=np.float32,
        )
        self._objects = np.zeros(len(STATE_FIELDS) - 3, dtype=np.float32)

    @property
    def minigrid_env(self) -> Any:
        """The ``minigrid.envs.MemoryEnv`` under MiniGrid's wrappers (its grid, agent pose and horizon)."""
        return self._minigrid.unwrapped

    def _reset(self, options: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, Any]]:
        if options:
            raise ValueError(
                f"{type(self).__name__}.reset takes no options (MiniGrid draws the layout); got {sorted(options)}."
            )
        # One seed per episode drawn from self.np_random, so that all randomness flows from the env's seed.
        obs, _ = self._minigrid.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._objects = self._read_objects()
        return obs, {}

    def _step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, _ = self._minigrid.step(action)
        if float(reward) > 0:
            self._success = True
        return obs, float(reward), bool(terminated), bool(truncated), {}

    def _read_objects(self) -> np.ndarray:
        """Start object (position, type), matching and other end object (positions), read off MiniGrid's grid."""
        grid = self.minigrid_env.grid
        found = [
            (x, y, OBJECT_TO_IDX[cell.type])
            for x in range(grid.width)
            for y in range(grid.height)
            if (cell := grid.get(x, y)) is not None and cell.type in ("key", "ball")
        ]
        if len(found) != 3:
            raise RuntimeError(f"{type(self).__name__}: expected 3 objects in MiniGrid's Memory grid, found {found}.")
        start, *ends = sorted(found)  # the start room is the west end of the grid
        matching, other = sorted(ends, key=lambda obj: obj[2] != start[2])
        return np.array([*start, *matching[:2], *other[:2]], dtype=np.float32)

    def _privileged_state(self) -> np.ndarray:
        grid_env = self.minigrid_env
        x, y = grid_env.agent_pos
        return np.concatenate([np.array([x, y, grid_env.agent_dir], dtype=np.float32), self._objects])

    def _render_frame(self) -> np.ndarray:
        frame: Any = self._minigrid.render()
        assert isinstance(frame, np.ndarray)
        return frame

    def close(self) -> None:
        self._minigrid.close()
        super().close()


__all__ = [
    "ACTION_NAMES",
    "BALL",
    "FORWARD",
    "KEY",
    "LEFT",
    "MINIGRID_MEMORY_IDS",
    "ONE_HOT_GROUPS",
    "ONE_HOT_SIZE",
    "RIGHT",
    "STATE_FIELDS",
    "SYMBOLIC_SIZE",
    "VIEWS",
    "VIEW_SIZE",
    "MiniGridMemoryEnv",
    "symbolic_view",
]
