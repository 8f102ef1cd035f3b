"""Goal spaces of the OGBench environments: the part of the state that the success test looks at.

OGBench agents condition on full goal *observations*, but success is decided on a few coordinates: the agent's
x-y position in the mazes (within 1.0 for the point mass, 0.5 for ant and humanoid), the cube positions in the cube
tasks (every cube within 4 cm of its target, 0.4 in the observation's scaled units). Data selection (relevance by
distance in goal space) and the :class:`~ttt_gym.wrappers.GoalObservation` wrapper both use this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GoalIndex", "GoalSpace", "goal_space_for"]

_CUBE_COUNTS = {"single": 1, "double": 2, "triple": 3, "quadruple": 4, "octuple": 8}
# Cube observation layout (ogbench.manipspace.envs.cube_env.CubeEnv.compute_observation): 19 proprioceptive
# entries, then per cube 9 entries whose first 3 are its position, centred and scaled by 10.
_CUBE_PROPRIO_DIM = 19
_CUBE_BLOCK_DIM = 9
_CUBE_SUCCESS_TOLERANCE = 0.04 * 10.0  # 4 cm in the observation's scaled units
_MAZE_TOLERANCES = {"pointmaze": 1.0, "antmaze": 0.5, "humanoidmaze": 0.5}


@dataclass(frozen=True)
class GoalSpace:
    """Where the goal coordinates sit in an observation, and when two of them count as the same goal.

    Attributes:
        indices: Observation entries that form the goal coordinates (e.g. ``(0, 1)`` for a maze's x-y).
        group_size: Size of one object's coordinates (2 for a maze position, 3 per cube).
        tolerance: Success radius per object, in observation units: success when every group of
            ``group_size`` coordinates is within ``tolerance`` (Euclidean) of its goal.
    """

    indices: tuple[int, ...]
    group_size: int
    tolerance: float

    def __post_init__(self) -> None:
        if not self.indices or len(self.indices) % self.group_size:
            raise ValueError(f"GoalSpace: {len(self.indices)} indices do not split into groups of {self.group_size}")

    @classmethod
    def full(cls, obs_dim: int, tolerance: float) -> GoalSpace:
        """The whole observation as one group: success within ``tolerance`` in Euclidean distance (for data whose
        goal coordinates are not known)."""
        return cls(indices=tuple(range(obs_dim)), group_size=obs_dim, tolerance=float(tolerance))

    @property
    def dim(self) -> int:
        """Number of goal coordinates."""
        return len(self.indices)

    def coordinates(self, observations: np.ndarray) -> np.ndarray:
        """Goal coordinates of one observation ``(obs_dim,)`` or a batch ``(..., obs_dim)``."""
        return np.asarray(observations)[..., list(self.indices)]

    def squared_distances(self, achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        """The success test's distance, squared: per group of ``group_size`` coordinates, the largest over groups
        (``(..., dim)`` goal coordinates broadcast against each other; float32 inputs stay float32)."""
        achieved, desired = np.asarray(achieved), np.asarray(desired)
        dtype = np.result_type(achieved, desired, np.float32)  # ints and bools as floats; float32 stays float32
        diff = achieved.astype(dtype, copy=False) - desired.astype(dtype, copy=False)
        if self.group_size == self.dim:
            return np.einsum("...j,...j->...", diff, diff)
        grouped = diff.reshape(*diff.shape[:-1], self.dim // self.group_size, self.group_size)
        return np.einsum("...gj,...gj->...g", grouped, grouped).max(axis=-1)

    def is_within(self, achieved: np.ndarray, desired: np.ndarray, radius: float, *, inclusive: bool) -> np.ndarray:
        """Whether goal coordinates ``achieved`` lie within ``radius`` of ``desired`` (``<=`` when ``inclusive``)."""
        d2 = self.squared_distances(achieved, desired)
        r2 = np.asarray(radius, dtype=d2.dtype) ** 2
        return d2 <= r2 if inclusive else d2 < r2

    def is_success(self, achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        """Whether goal coordinates ``achieved`` match ``desired`` (both ``(..., dim)``): every group within
        ``tolerance``. The one success test: GoalObservation's reward, the selection's returns and the test-time
        rewards all use it."""
        return self.is_within(achieved, desired, self.tolerance, inclusive=True)

    def index(self, coordinates: np.ndarray) -> GoalIndex:
        """A radius index over rows of goal coordinates ``(N, dim)`` with this space's distance."""
        return GoalIndex(self, coordinates)


class GoalIndex:
    """Rows of goal coordinates sorted by their first coordinate, for radius queries with a goal space's distance.

    A query takes the window ``|x_0 - p_0| <= r`` by binary search and computes exact distances inside it only.
    """

    def __init__(self, goal_space: GoalSpace, coordinates: np.ndarray) -> None:
        coordinates = np.asarray(coordinates, dtype=np.float32)
        if coordinates.ndim != 2 or coordinates.shape[1] != goal_space.dim:
            raise ValueError(f"GoalIndex: coordinates of shape {coordinates.shape}, expected (N, {goal_space.dim})")
        self.goal_space = goal_space
        self.order = np.argsort(coordinates[:, 0], kind="stable")
        self.sorted_coordinates = np.ascontiguousarray(coordinates[self.order])
        self.first = np.ascontiguousarray(self.sorted_coordinates[:, 0])

    def within(self, point: np.ndarray, radius: float, *, inclusive: bool) -> np.ndarray:
        """Sorted row indices whose distance to ``point`` is ``< radius`` (``<=`` when ``inclusive``)."""
        point = np.asarray(point, dtype=np.float32)
        lo = int(np.searchsorted(self.first, point[0] - radius, side="left"))
        hi = int(np.searchsorted(self.first, point[0] + radius, side="right"))
        if hi <= lo:
            return np.zeros(0, dtype=np.int64)
        mask = self.goal_space.is_within(self.sorted_coordinates[lo:hi], point, radius, inclusive=inclusive)
        return np.sort(self.order[lo:hi][mask])


def goal_space_for(name_or_env: str | Any) -> GoalSpace | None:
    """Goal space of an OGBench environment or dataset, or None when it is not known.

    Args:
        name_or_env: An OGBench env id (``"pointmaze-medium-v0"``), dataset name
            (``"cube-single-play-v0"``), or an env (anything with ``.spec.id`` or an OGBench ``.unwrapped``).

    Returns:
        The :class:`GoalSpace`, or None for environments whose success test is not a distance in a few
        coordinates (scene, puzzle, antsoccer, pixel observations): use full observations there.
    """
    if isinstance(name_or_env, str):
        return _goal_space_from_name(name_or_env)
    spec = getattr(name_or_env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        found = _goal_space_from_name(spec.id)
        if found is not None:
            return found
    unwrapped = getattr(name_or_env, "unwrapped", name_or_env)
    if hasattr(unwrapped, "maze_map") and hasattr(unwrapped, "_goal_tol") and not hasattr(unwrapped, "get_ball_xy"):
        return GoalSpace(indices=(0, 1), group_size=2, tolerance=float(unwrapped._goal_tol))
    if type(unwrapped).__name__ == "CubeEnv" and hasattr(unwrapped, "_num_cubes"):
        return _cube_goal_space(int(unwrapped._num_cubes))
    return None


def _cube_goal_space(num_cubes: int) -> GoalSpace:
    indices = tuple(_CUBE_PROPRIO_DIM + _CUBE_BLOCK_DIM * i + k for i in range(num_cubes) for k in range(3))
    return GoalSpace(indices=indices, group_size=3, tolerance=_CUBE_SUCCESS_TOLERANCE)


def _goal_space_from_name(name: str) -> GoalSpace | None:
    if name.startswith("visual-"):
        return None  # pixel observations: no coordinates to pick
    family = name.split("-", 1)[0]
    if family in _MAZE_TOLERANCES:
        return GoalSpace(indices=(0, 1), group_size=2, tolerance=_MAZE_TOLERANCES[family])
    match = re.match(r"cube-(single|double|triple|quadruple|octuple)-", name)
    if match:
        return _cube_goal_space(_CUBE_COUNTS[match.group(1)])
    return None
