"""Goal-conditioned offline datasets in OGBench's format, with OGBench's goal relabelling.

A file holds trajectories back to back (OGBench's layout)::

    observations  s0 s1 s2 s3 | s0 s1 s2 ...      (the last state of a trajectory has no transition)
    actions       a0 a1 a2 a3 | a0 a1 a2 ...
    terminals      0  0  0  1 |  0  0  0 ...      (1 marks the last state of each trajectory)

:class:`GoalDataset` turns it into transitions ``(s_t, a_t, s_{t+1})``, one per non-terminal row, as
``ogbench.load_dataset`` does, and indexes everything (observations, trajectory ids, steps to the trajectory's end,
goal coordinates) by transition. Goals are observations of transitions, so the final state of a trajectory is never a
goal, as in OGBench's ``GCDataset``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ttt_gym.data.goal_space import GoalSpace, goal_space_for
from ttt_gym.data.ogbench_format import DatasetFormatError, check_layout, read_npz
from ttt_gym.data.sampling import GoalBatch, GoalKind, GoalSamplingConfig, relabel_goals, uniform_indices

if TYPE_CHECKING:
    import gymnasium as gym
    from gymnasium.envs.registration import EnvSpec
    from imitation.data.types import Trajectory
    from minari import MinariDataset
    from stable_baselines3.common.buffers import DictReplayBuffer

# GoalBatch, GoalKind, GoalSamplingConfig (ttt_gym.data.sampling) and DatasetFormatError (ttt_gym.data.ogbench_format)
# are importable from here too.
__all__ = ["DatasetFormatError", "GoalBatch", "GoalDataset", "GoalKind", "GoalSamplingConfig"]


class GoalDataset:
    """Transitions of an OGBench-format dataset, with trajectory structure and goal relabelling.

    Build one with :meth:`load` (an OGBench ``.npz`` file, ours or OGBench's) or :meth:`from_arrays`, or from your own
    data with :meth:`from_replay_buffer` (SB3), :meth:`from_trajectories` (imitation) or :meth:`from_minari`.
    Every array property is indexed by transition (``0 .. len(ds) - 1``) and read-only.
    """

    def __init__(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        next_observations: np.ndarray,
        trajectory_ids: np.ndarray,
        steps_to_end: np.ndarray,
        *,
        goal_space: GoalSpace | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
        source: str = "<arrays>",
    ) -> None:
        """Wrap transition arrays that are already consistent; use :meth:`from_arrays` or :meth:`load` instead."""
        self._observations = _frozen(observations)
        self._actions = _frozen(actions)
        self._next_observations = _frozen(next_observations)
        self._trajectory_ids = _frozen(trajectory_ids)
        self._steps_to_end = _frozen(steps_to_end)
        self._last_index = _frozen(np.arange(len(steps_to_end), dtype=np.int64) + steps_to_end)
        self._goal_space = goal_space
        self._extras = {key: _frozen(value) for key, value in (extras or {}).items()}
        self._goal_coordinates: np.ndarray | None = None
        self.source = source
        """Where the data came from (a file path, or ``"<arrays>"``)."""

    # -- construction ------------------------------------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        observations: np.ndarray,
        actions: np.ndarray,
        terminals: np.ndarray,
        *,
        goal_space: GoalSpace | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
        source: str = "<arrays>",
    ) -> GoalDataset:
        """Build a dataset from arrays in OGBench's file layout (see the module docstring).

        Args:
            observations: ``(N, obs_dim)`` states, trajectories back to back, each ending with its final state.
            actions: ``(N, action_dim)``; the action stored on a terminal row is unused.
            terminals: ``(N,)``, nonzero on the last row of each trajectory (so the last row must be nonzero).
            goal_space: Goal coordinates (see :func:`~ttt_gym.data.goal_space_for`); None means the full
                observation is the goal space.
            extras: Other per-row arrays to keep (e.g. ``qpos``, ``qvel``), length N.
            source: Name used in error messages and ``repr``.

        Raises:
            DatasetFormatError: shapes, lengths or trajectory boundaries are inconsistent.
        """
        observations = np.asarray(observations)
        actions = np.asarray(actions)
        terminals = np.asarray(terminals)
        extras = {key: np.asarray(value) for key, value in (extras or {}).items()}
        check_layout(source, observations, actions, terminals, extras)

        is_terminal = terminals.astype(bool)
        rows = np.flatnonzero(~is_terminal)
        if len(rows) == 0:
            raise DatasetFormatError(f"{source}: no transitions (every row is a terminal)")
        trajectory_of_row = np.concatenate([[0], np.cumsum(is_terminal)[:-1]]).astype(np.int64)
        terminal_rows = np.flatnonzero(is_terminal)
        # Row r of trajectory k has terminal row e_k; its transition is the (e_k - 1 - r)-th before the last one.
        steps_to_end = terminal_rows[trajectory_of_row[rows]] - 1 - rows
        trajectory_ids = trajectory_of_row[rows]
        # Renumber so that ids are 0..T-1 even when a trajectory has no transition (a lone terminal row).
        _, trajectory_ids = np.unique(trajectory_ids, return_inverse=True)

        if goal_space is not None and max(goal_space.indices) >= observations.shape[1]:
            raise DatasetFormatError(
                f"{source}: goal space indices {goal_space.indices} do not fit {observations.shape[1]}-d observations"
            )
        return cls(
            observations=np.ascontiguousarray(observations[rows], dtype=np.float32),
            actions=np.ascontiguousarray(actions[rows], dtype=np.float32),
            next_observations=np.ascontiguousarray(observations[rows + 1], dtype=np.float32),
            trajectory_ids=trajectory_ids.astype(np.int64),
            steps_to_end=steps_to_end.astype(np.int64),
            goal_space=goal_space,
            extras={key: value[rows] for key, value in extras.items()},
            source=source,
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        goal_space: GoalSpace | Literal["auto"] | None = "auto",
    ) -> GoalDataset:
        """Load an OGBench ``.npz`` dataset file (generated here or downloaded from OGBench).

        Args:
            path: The file, e.g. ``~/.ogbench/data/pointmaze-medium-navigate-v0.npz``.
            goal_space: Goal coordinates; ``"auto"`` looks the dataset name (the file name) up in
                :func:`~ttt_gym.data.goal_space_for` and falls back to full observations.

        Raises:
            FileNotFoundError: no such file.
            DatasetFormatError: not an npz archive, truncated or corrupt, missing keys, inconsistent lengths,
                non-finite values, or a last trajectory without its terminal.
        """
        path = Path(os.path.expanduser(path))
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no such dataset file. Generate it with `ttt-gym dataset generate NAME` or "
                "ttt_gym.data.generate_dataset(NAME)."
            )
        arrays = read_npz(path)
        if goal_space == "auto":
            goal_space = goal_space_for(path.name.removesuffix(".npz").removesuffix("-val"))
        return cls.from_arrays(
            arrays.pop("observations"),
            arrays.pop("actions"),
            arrays.pop("terminals"),
            goal_space=goal_space,
            extras=arrays,
            source=str(path),
        )

    @classmethod
    def from_name(
        cls,
        name: str,
        dataset_dir: str | os.PathLike[str] | None = None,
        *,
        split: Literal["train", "val"] = "train",
    ) -> GoalDataset:
        """Load dataset ``name`` from OGBench's data directory (``~/.ogbench/data`` unless ``dataset_dir``)."""
        from ttt_gym.data.specs import dataset_paths

        train, val = dataset_paths(name, dataset_dir)
        return cls.load(train if split == "train" else val)

    def with_goal_space(self, goal_space: GoalSpace | None) -> GoalDataset:
        """The same transitions (arrays shared, not copied) with another goal space."""
        if goal_space is not None and max(goal_space.indices) >= self.observation_dim:
            raise DatasetFormatError(
                f"{self.source}: goal space indices {goal_space.indices} do not fit {self.observation_dim}-d "
                "observations"
            )
        return GoalDataset(
            self._observations,
            self._actions,
            self._next_observations,
            self._trajectory_ids,
            self._steps_to_end,
            goal_space=goal_space,
            extras=self._extras,
            source=self.source,
        )

    @classmethod
    def from_replay_buffer(cls, buffer: DictReplayBuffer, *, goal_space: GoalSpace | None = None) -> GoalDataset:
        """Every transition of an SB3 ``DictReplayBuffer`` / ``HerReplayBuffer`` of goal dicts, per env and episode.

        See :func:`ttt_gym.data.sources.dataset_from_replay_buffer` (arguments, episode boundaries, errors).
        """
        from ttt_gym.data import sources

        return sources.dataset_from_replay_buffer(buffer, goal_space=goal_space)

    @classmethod
    def from_trajectories(
        cls, trajectories: Iterable[Trajectory], *, goal_space: GoalSpace | None = None
    ) -> GoalDataset:
        """imitation ``Trajectory`` objects (``obs`` an array of states or a goal ``DictObs``), one trajectory each.

        See :func:`ttt_gym.data.sources.dataset_from_trajectories`.
        """
        from ttt_gym.data import sources

        return sources.dataset_from_trajectories(trajectories, goal_space=goal_space)

    @classmethod
    def from_minari(cls, dataset_id: str, *, goal_space: GoalSpace | Literal["auto"] | None = "auto") -> GoalDataset:
        """A local Minari dataset (never downloaded), one trajectory per episode; needs ``ttt-gym[minari]``.

        See :func:`ttt_gym.data.sources.dataset_from_minari` (how ``"auto"`` finds the goal space).
        """
        from ttt_gym.data import sources

        return sources.dataset_from_minari(dataset_id, goal_space=goal_space)

    def to_minari(
        self, dataset_id: str, *, env: str | gym.Env | EnvSpec | None = None, overwrite: bool = False, **metadata: Any
    ) -> MinariDataset:
        """Write this dataset as a local Minari dataset that :meth:`from_minari` reads back; needs ``ttt-gym[minari]``.

        See :func:`ttt_gym.data.sources.dataset_to_minari` (what is written, ``env``, ``metadata``).
        """
        from ttt_gym.data import sources

        return sources.dataset_to_minari(self, dataset_id, env=env, overwrite=overwrite, **metadata)

    # -- arrays -------------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._observations)

    def __repr__(self) -> str:
        return (
            f"GoalDataset({self.source}: {len(self)} transitions, {self.num_trajectories} trajectories, "
            f"obs {self.observation_dim}, actions {self.action_dim}, goal dim {self.goal_coordinates.shape[1]})"
        )

    @property
    def observations(self) -> np.ndarray:
        """``(N, obs_dim)`` float32 states ``s_t``."""
        return self._observations

    @property
    def actions(self) -> np.ndarray:
        """``(N, action_dim)`` float32 actions ``a_t``."""
        return self._actions

    @property
    def next_observations(self) -> np.ndarray:
        """``(N, obs_dim)`` float32 states ``s_{t+1}``."""
        return self._next_observations

    @property
    def trajectory_ids(self) -> np.ndarray:
        """``(N,)`` int64 trajectory of each transition, 0-based, in file order."""
        return self._trajectory_ids

    @property
    def steps_to_end(self) -> np.ndarray:
        """``(N,)`` int64 transitions left after this one in its trajectory (0 on the last one)."""
        return self._steps_to_end

    @property
    def terminals(self) -> np.ndarray:
        """``(N,)`` float32, 1 on the last transition of each trajectory (``ogbench.load_dataset``'s ``terminals``)."""
        return (self._steps_to_end == 0).astype(np.float32)

    @property
    def goal_space(self) -> GoalSpace | None:
        """The goal coordinates in use, or None for full observations."""
        return self._goal_space

    @property
    def goal_coordinates(self) -> np.ndarray:
        """``(N, goal_dim)`` float32 goal-space coordinates of ``observations`` (x-y in mazes, cube positions)."""
        if self._goal_coordinates is None:
            coords = (
                self._observations if self._goal_space is None else self._goal_space.coordinates(self._observations)
            )
            self._goal_coordinates = _frozen(np.ascontiguousarray(coords))
        return self._goal_coordinates

    @property
    def extras(self) -> Mapping[str, np.ndarray]:
        """Other per-transition arrays from the file (``qpos``, ``qvel``, ``button_states`` when present)."""
        return self._extras

    @property
    def observation_dim(self) -> int:
        """Size of one observation."""
        return int(self._observations.shape[1])

    @property
    def action_dim(self) -> int:
        """Size of one action."""
        return int(self._actions.shape[1])

    @property
    def num_trajectories(self) -> int:
        """Number of trajectories with at least one transition."""
        return int(self._trajectory_ids[-1]) + 1

    # -- sampling -----------------------------------------------------------------------------------------------------

    def sample_goals(
        self,
        indices: np.ndarray,
        rng: np.random.Generator,
        *,
        p_curgoal: float,
        p_trajgoal: float,
        p_randomgoal: float,
        geom_sample: bool,
        discount: float = 0.99,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Relabel transitions ``indices`` with goals, OGBench-style.

        Each goal is the current state with probability ``p_curgoal``, a later state of the same trajectory
        with ``p_trajgoal`` (offset ``Geometric(1 - discount)`` clipped to the trajectory's last transition when
        ``geom_sample``, else uniform over the later transitions; the last transition's own state when there is
        none later), or a uniformly random transition's state with ``p_randomgoal``.

        Returns:
            ``(goal_indices, kinds)``: int64 transition indices of the goals and their :class:`GoalKind` (int8).
        """
        return relabel_goals(
            np.asarray(indices, dtype=np.int64),
            self._last_index,
            rng,
            p_curgoal=p_curgoal,
            p_trajgoal=p_trajgoal,
            p_randomgoal=p_randomgoal,
            geom_sample=geom_sample,
            discount=discount,
        )

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        config: GoalSamplingConfig | None = None,
        *,
        indices: np.ndarray | None = None,
    ) -> GoalBatch:
        """Sample a batch of transitions with relabelled value and actor goals.

        Args:
            batch_size: Number of transitions B.
            rng: Source of randomness.
            config: Relabelling probabilities; :class:`GoalSamplingConfig` defaults when None.
            indices: Draw the transitions uniformly from these indices instead of the whole dataset (e.g. a
                selected subset for test-time training). Goals still come from the whole dataset.

        Returns:
            A :class:`GoalBatch`.
        """
        config = config or GoalSamplingConfig()
        if indices is None:
            idx = uniform_indices(rng, len(self), batch_size)
        else:
            pool = np.asarray(indices, dtype=np.int64)
            if pool.size == 0:
                raise ValueError("GoalDataset.sample: `indices` is empty; select at least one transition")
            idx = pool.take(uniform_indices(rng, len(pool), batch_size))
        value_goals, _ = self.sample_goals(
            idx,
            rng,
            p_curgoal=config.value_p_curgoal,
            p_trajgoal=config.value_p_trajgoal,
            p_randomgoal=config.value_p_randomgoal,
            geom_sample=config.value_geom_sample,
            discount=config.discount,
        )
        actor_goals, _ = self.sample_goals(
            idx,
            rng,
            p_curgoal=config.actor_p_curgoal,
            p_trajgoal=config.actor_p_trajgoal,
            p_randomgoal=config.actor_p_randomgoal,
            geom_sample=config.actor_geom_sample,
            discount=config.discount,
        )
        success = (value_goals == idx).astype(np.float32)
        # ndarray.take is several times faster than fancy indexing for row gathers.
        return GoalBatch(
            observations=self._observations.take(idx, axis=0),
            actions=self._actions.take(idx, axis=0),
            next_observations=self._next_observations.take(idx, axis=0),
            rewards=success - 1.0,
            masks=1.0 - success,
            value_goals=self._observations.take(value_goals, axis=0),
            actor_goals=self._observations.take(actor_goals, axis=0),
        )


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    array.setflags(write=False)
    return array
