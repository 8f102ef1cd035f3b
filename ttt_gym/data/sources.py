"""Users' own data into :class:`~ttt_gym.data.GoalDataset`, and out to Minari.

Three ways in, each a thin classmethod on :class:`~ttt_gym.data.GoalDataset`:

* an SB3 ``DictReplayBuffer`` or ``HerReplayBuffer`` filled on a goal-dict env
  (:class:`~ttt_gym.wrappers.GoalObservation`): :func:`dataset_from_replay_buffer`;
* imitation ``Trajectory`` / ``TrajectoryWithRew`` lists: :func:`dataset_from_trajectories`;
* a local Minari dataset: :func:`dataset_from_minari`, and :func:`dataset_to_minari` to write one.

All of them reduce to episodes of states ``(L + 1, obs_dim)`` and actions ``(L, action_dim)``, which
:func:`_dataset_from_episodes` lays out in OGBench's format for :meth:`GoalDataset.from_arrays`. A goal-dict observation
(``observation``, ``achieved_goal``, ``desired_goal``) contributes its ``observation`` entry, the state: GoalDataset
relabels goals from states, so the recorded desired goals and rewards are not kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from gymnasium import spaces

from ttt_gym.data.dataset import DatasetFormatError, GoalDataset
from ttt_gym.data.goal_space import GoalSpace, goal_space_for

if TYPE_CHECKING:
    import gymnasium as gym
    from gymnasium.envs.registration import EnvSpec
    from imitation.data.types import Trajectory
    from minari import MinariDataset
    from stable_baselines3.common.buffers import DictReplayBuffer

__all__ = [
    "dataset_from_minari",
    "dataset_from_replay_buffer",
    "dataset_from_trajectories",
    "dataset_to_minari",
]

_STATE_KEY, _ACHIEVED_KEY, _DESIRED_KEY = "observation", "achieved_goal", "desired_goal"
_MINARI_GOAL_SPACE_KEY = "ttt_gym_goal_space"
"""Metadata entry of a Minari dataset written by :func:`dataset_to_minari` that carries the goal space."""
_MINARI_DATA_FORMAT = "arrow"  # pyarrow comes with minari[arrow]; minari's default, hdf5, needs h5py


# -- SB3 replay buffers -----------------------------------------------------------------------------------------------


def dataset_from_replay_buffer(buffer: DictReplayBuffer, *, goal_space: GoalSpace | None = None) -> GoalDataset:
    """Every transition stored in an SB3 ``DictReplayBuffer`` or ``HerReplayBuffer`` of goal-dict observations.

    The buffer is read per env (``n_envs`` columns), oldest row first (from ``pos`` once the buffer is ``full``).
    A trajectory ends where ``dones`` is set, where a ``HerReplayBuffer``'s ``ep_start`` changes, and where the
    next row does not start from this row's next state (``learn()`` called again resets the env without a done),
    so every trajectory is contiguous: ``next_observations[t] == observations[t + 1]`` inside it. The episode under
    way and the tail of an episode whose start was overwritten are kept as shorter trajectories, since their
    transitions are real (HER does not sample them). Trajectories come env by env, each env's oldest first.

    Args:
        buffer: ``model.replay_buffer`` of an off-policy model trained with ``"MultiInputPolicy"`` on an env with
            ``observation`` and ``desired_goal`` entries (e.g. :class:`~ttt_gym.wrappers.GoalObservation`).
        goal_space: Goal coordinates of the states; None when unknown (full observations). When the buffer has
            ``achieved_goal`` of the goal space's size, it must equal the goal coordinates of ``observation``.

    Raises:
        TypeError: not a dict replay buffer (a flat ``ReplayBuffer``, a rollout buffer, or the model itself).
        DatasetFormatError: no goal-dict keys, an empty buffer, or a goal space that does not match ``achieved_goal``.
    """
    from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
    from stable_baselines3.her.her_replay_buffer import HerReplayBuffer

    name = type(buffer).__name__
    if not isinstance(buffer, DictReplayBuffer):
        if isinstance(buffer, ReplayBuffer):
            raise TypeError(
                "GoalDataset.from_replay_buffer: a flat ReplayBuffer holds one vector per observation, which may be a "
                "goal dict flattened into it (FlattenObservation, 'MlpPolicy' on a goal env); GoalDataset cannot tell "
                "the state from the goal there, so it does not guess. Train on the goal dict instead: wrap the env in "
                "ttt_gym.wrappers.GoalObservation and use 'MultiInputPolicy' (SB3 then fills a DictReplayBuffer, or a "
                "HerReplayBuffer with replay_buffer_class=HerReplayBuffer). If the observations are plain states, "
                "pass their episodes to GoalDataset.from_trajectories or GoalDataset.from_arrays."
            )
        hint = " (the model itself? pass `model.replay_buffer`)" if hasattr(buffer, "replay_buffer") else ""
        raise TypeError(
            f"GoalDataset.from_replay_buffer: expected an SB3 DictReplayBuffer or HerReplayBuffer, the replay buffer "
            f"of an off-policy model (SAC, TD3, DDPG, DQN), got {name}{hint}"
        )
    source = f"<{name}>"
    _states_of(buffer.observations, None, source)  # the goal-dict keys, before any work
    rows = buffer.buffer_size if buffer.full else buffer.pos
    if rows == 0:
        raise DatasetFormatError(
            f"{source}: the buffer is empty (pos 0, not full); fill it first, e.g. with model.learn(total_timesteps) "
            "or buffer.add(...)"
        )
    order = (np.arange(rows) + buffer.pos) % rows if buffer.full else np.arange(rows)
    her_episode_starts = buffer.ep_start if isinstance(buffer, HerReplayBuffer) else None

    episodes = []
    for env in range(buffer.n_envs):
        where = f"{source} env {env}"
        states = _states_of({key: value[order, env] for key, value in buffer.observations.items()}, goal_space, where)
        next_states = _states_of(
            {key: value[order, env] for key, value in buffer.next_observations.items()}, goal_space, where
        )
        actions = buffer.actions[order, env]
        ends = buffer.dones[order, env].astype(bool)
        ends[:-1] |= np.any(next_states[:-1] != states[1:], axis=tuple(range(1, states.ndim)))
        if her_episode_starts is not None:
            starts = her_episode_starts[order, env]
            ends[:-1] |= starts[1:] != starts[:-1]
        ends[-1] = True  # the newest row ends its trajectory, finished or not
        stops = np.flatnonzero(ends) + 1
        for start, stop in zip(np.concatenate([[0], stops[:-1]]), stops, strict=True):
            episodes.append((np.concatenate([states[start:stop], next_states[stop - 1 : stop]]), actions[start:stop]))
    return _dataset_from_episodes(episodes, goal_space=goal_space, source=source)


# -- imitation trajectories --------------------------------------------------------------------------------------------


def dataset_from_trajectories(
    trajectories: Iterable[Trajectory], *, goal_space: GoalSpace | None = None
) -> GoalDataset:
    """imitation ``Trajectory`` / ``TrajectoryWithRew`` objects, one GoalDataset trajectory each, in order.

    Args:
        trajectories: e.g. from ``imitation.data.rollout.generate_trajectories``; ``obs`` has ``len(acts) + 1``
            rows, an array of states or a ``DictObs`` goal dict (its ``observation`` entry is the state). Rewards,
            infos and the ``terminal`` flag are not kept.
        goal_space: Goal coordinates of the states; None when unknown (full observations).

    Raises:
        TypeError: an item is not a ``Trajectory`` (e.g. flat ``Transitions``, which lost the episode boundaries).
        DatasetFormatError: no trajectories, goal dicts without their keys, or trajectories of different shapes.
    """
    from imitation.data.types import DictObs, Trajectory

    source = "<trajectories>"
    episodes = []
    for index, trajectory in enumerate(trajectories):
        if not isinstance(trajectory, Trajectory):
            raise TypeError(
                f"GoalDataset.from_trajectories: item {index} is a {type(trajectory).__name__}, not an imitation "
                "Trajectory. Pass the list that rollout.generate_trajectories returns, or build each one with "
                "imitation.data.types.Trajectory(obs=..., acts=..., infos=None, terminal=True) (obs has one row more "
                "than acts); flat Transitions have lost the episode boundaries"
            )
        observations = trajectory.obs.unwrap() if isinstance(trajectory.obs, DictObs) else trajectory.obs
        states = _states_of(observations, goal_space, f"{source} item {index}")
        episodes.append((states, trajectory.acts))
    return _dataset_from_episodes(episodes, goal_space=goal_space, source=source)


# -- Minari -----------------------------------------------------------------------------------------------------------


def dataset_from_minari(dataset_id: str, *, goal_space: GoalSpace | Literal["auto"] | None = "auto") -> GoalDataset:
    """A local Minari dataset, one GoalDataset trajectory per episode; nothing is downloaded.

    Args:
        dataset_id: A dataset in Minari's local directory (``~/.minari/datasets`` or ``MINARI_DATASETS_PATH``).
            Observations are states (a ``Box``) or goal dicts with ``observation`` and ``desired_goal``.
        goal_space: Goal coordinates; ``"auto"`` reads the one :func:`dataset_to_minari` stored in the dataset's
            metadata, else looks the recorded env id up in :func:`~ttt_gym.data.goal_space_for`, else None.

    Raises:
        ImportError: minari is not installed.
        FileNotFoundError: no local dataset with that id.
        DatasetFormatError: goal dicts without their keys, or episodes of different shapes.
    """
    minari = _import_minari()
    try:
        dataset = minari.load_dataset(dataset_id)  # download=False: local only
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"minari dataset {dataset_id!r} is not in the local Minari directory {_minari_root()} (ttt_gym never "
            "downloads). Write one with GoalDataset.to_minari(id), download it yourself (`minari download ID`), or "
            "point MINARI_DATASETS_PATH at the directory that holds it"
        ) from err
    if goal_space == "auto":
        goal_space = _stored_goal_space(dataset)
    source = f"minari:{dataset_id}"
    episodes = [
        (_states_of(episode.observations, goal_space, f"{source} episode {episode.id}"), episode.actions)
        for episode in dataset.iterate_episodes()
    ]
    return _dataset_from_episodes(episodes, goal_space=goal_space, source=source)


def dataset_to_minari(
    dataset: GoalDataset,
    dataset_id: str,
    *,
    env: str | gym.Env | EnvSpec | None = None,
    overwrite: bool = False,
    **metadata: Any,
) -> MinariDataset:
    """Write ``dataset`` as a local Minari dataset, one episode per trajectory.

    Each episode holds the trajectory's states (its final state included) and actions, as unbounded float32 ``Box``
    spaces. GoalDataset keeps no rewards or terminations (goals are relabelled), so rewards are 0 and each episode
    ends with a truncation. The goal space goes into the metadata, where :func:`dataset_from_minari` reads it back;
    ``extras`` (``qpos``, ...) are not written.

    Args:
        dataset: The dataset to write.
        dataset_id: Minari id, ``[namespace/]name-vN``.
        env: The env (or its id or spec) whose observations are the states, recorded so that minari's
            ``recover_environment`` works: pass the id (``"pointmaze-medium-v0"``) rather than a
            ``GoalObservation``-wrapped env, which gymnasium cannot recreate from its spec.
        overwrite: Replace a local dataset with the same id.
        **metadata: Passed to ``minari.create_dataset_from_buffers`` (``author``, ``code_permalink``,
            ``algorithm_name``, ``eval_env``, ``description``, ...).

    Returns:
        The new ``minari.MinariDataset``.

    Raises:
        ImportError: minari is not installed.
        FileExistsError: a local dataset with that id exists and ``overwrite`` is False.
    """
    minari = _import_minari()
    from minari.data_collector import EpisodeBuffer
    from minari.storage import get_dataset_path

    path = get_dataset_path(dataset_id)
    if path.exists():
        if not overwrite:
            raise FileExistsError(
                f"minari dataset {dataset_id!r} already exists at {path}: pass overwrite=True to replace it, or pick "
                "another id (e.g. the next -vN version)"
            )
        minari.delete_dataset(dataset_id)
    stops = np.flatnonzero(dataset.steps_to_end == 0) + 1
    buffers = []
    for episode, (start, stop) in enumerate(zip(np.concatenate([[0], stops[:-1]]), stops, strict=True)):
        steps = int(stop - start)
        buffers.append(
            EpisodeBuffer(
                id=episode,
                observations=np.concatenate(
                    [dataset.observations[start:stop], dataset.next_observations[stop - 1 : stop]]
                ),
                actions=dataset.actions[start:stop],
                rewards=np.zeros(steps),
                terminations=np.zeros(steps, dtype=bool),
                truncations=np.arange(steps) == steps - 1,
            )
        )
    metadata.setdefault(
        "description",
        f"ttt_gym GoalDataset from {dataset.source}: states and actions only; rewards are 0 and every episode ends "
        "with a truncation (goals are relabelled from states)",
    )
    try:
        written = minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            env=env,
            observation_space=_unbounded_box(dataset.observation_dim),
            action_space=_unbounded_box(dataset.action_dim),
            data_format=_MINARI_DATA_FORMAT,
            **metadata,
        )
        space = dataset.goal_space
        stored = (
            None
            if space is None
            else dict(indices=space.indices, group_size=space.group_size, tolerance=space.tolerance)
        )
        written.storage.update_metadata({_MINARI_GOAL_SPACE_KEY: stored})
    except BaseException:
        if path.exists():  # a half-written dataset would block the id
            minari.delete_dataset(dataset_id)
        raise
    return written


def _import_minari() -> Any:
    try:
        import minari
    except ImportError as err:
        raise ImportError('Minari datasets need the minari package: pip install "ttt-gym[minari]"') from err
    return minari


def _minari_root() -> str:
    return os.environ.get("MINARI_DATASETS_PATH", os.path.join("~", ".minari", "datasets"))


def _stored_goal_space(dataset: MinariDataset) -> GoalSpace | None:
    """The goal space :func:`dataset_to_minari` stored, else the recorded env id's, else None."""
    metadata = dataset.storage.metadata
    if _MINARI_GOAL_SPACE_KEY in metadata:
        stored = metadata[_MINARI_GOAL_SPACE_KEY]
        if stored is None:
            return None
        return GoalSpace(
            indices=tuple(int(i) for i in stored["indices"]),
            group_size=int(stored["group_size"]),
            tolerance=float(stored["tolerance"]),
        )
    spec = dataset.env_spec
    return goal_space_for(spec.id) if spec is not None else None


def _unbounded_box(dim: int) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, (dim,), np.float32)


# -- shared -----------------------------------------------------------------------------------------------------------


def _states_of(observations: Any, goal_space: GoalSpace | None, where: str) -> np.ndarray:
    """States of a batch of observations: the array itself, or a goal dict's ``observation`` entry."""
    if not isinstance(observations, Mapping):
        return np.asarray(observations)
    missing = [key for key in (_STATE_KEY, _DESIRED_KEY) if key not in observations]
    if missing:
        raise DatasetFormatError(
            f"{where}: dict observations with keys {sorted(observations)} lack {missing}. GoalDataset reads SB3's goal "
            f"dict ({_STATE_KEY!r}, {_ACHIEVED_KEY!r}, {_DESIRED_KEY!r}) and keeps its {_STATE_KEY!r} entry, the "
            "state: record the data on an env wrapped in ttt_gym.wrappers.GoalObservation"
        )
    states = np.asarray(observations[_STATE_KEY])
    achieved = observations.get(_ACHIEVED_KEY)
    if (
        goal_space is not None
        and achieved is not None
        and states.ndim == 2
        and max(goal_space.indices) < states.shape[1]
    ):
        achieved = np.asarray(achieved)
        if achieved.shape == (len(states), goal_space.dim) and not np.allclose(
            goal_space.coordinates(states), achieved, rtol=1e-5, atol=1e-6
        ):
            raise DatasetFormatError(
                f"{where}: achieved_goal is not the goal space's coordinates {goal_space.indices} of the observation, "
                "so goal_space does not describe this data: pass the env's (GoalObservation(env).goal_space) or None"
            )
    return states


def _dataset_from_episodes(
    episodes: Sequence[tuple[np.ndarray, np.ndarray]], *, goal_space: GoalSpace | None, source: str
) -> GoalDataset:
    """Episodes of ``(states (L + 1, ...), actions (L, ...))`` in OGBench's layout, through ``from_arrays``."""
    if not episodes:
        raise DatasetFormatError(f"{source}: no episodes to build a dataset from")
    observations, actions, terminals = [], [], []
    first_shapes = None
    for index, (episode_states, episode_actions) in enumerate(episodes):
        states, acts = np.asarray(episode_states), np.asarray(episode_actions)
        if acts.ndim == 0 or states.ndim == 0:
            raise DatasetFormatError(
                f"{source}: episode {index} has observations or actions that are not arrays (tuple or dict spaces "
                "other than the goal dict are not supported)"
            )
        if acts.ndim == 1:
            acts = acts[:, None]  # discrete or scalar actions: one column
        if len(states) != len(acts) + 1:
            raise DatasetFormatError(
                f"{source}: episode {index} has {len(states)} observations for {len(acts)} actions; an episode holds "
                "one observation more than actions (its final state)"
            )
        shapes = (states.shape[1:], acts.shape[1:])
        if first_shapes is None:
            first_shapes = shapes
        elif shapes != first_shapes:
            raise DatasetFormatError(
                f"{source}: episode {index} has observation shape {shapes[0]} and action shape {shapes[1]}, but "
                f"episode 0 has {first_shapes[0]} and {first_shapes[1]}: every episode must come from the same spaces"
            )
        observations.append(states)
        actions.append(np.concatenate([acts, np.zeros((1, *acts.shape[1:]), dtype=acts.dtype)]))  # none on the end
        terminals.append(np.arange(len(states)) == len(states) - 1)
    return GoalDataset.from_arrays(
        np.concatenate(observations),
        np.concatenate(actions),
        np.concatenate(terminals),
        goal_space=goal_space,
        source=source,
    )
