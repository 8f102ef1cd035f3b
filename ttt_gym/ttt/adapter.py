"""The policy's observation <-> ``(state, goal)``, and where the goal space comes from.

:class:`GoalObservationAdapter` builds what the wrapped policy consumes from a state and a goal (a goal ``Dict`` or a
flat ``Box``) and reads them back from an observation. :func:`env_goal_space` finds the goal space an env knows,
for datasets that do not know theirs; :func:`check_env` compares an env's spaces with the policy's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv

from ttt_gym.data import GoalDataset
from ttt_gym.data.goal_space import GoalSpace, goal_space_for

__all__ = ["GoalObservationAdapter", "check_env", "env_goal_space", "model_env"]

Array = TypeVar("Array", np.ndarray, torch.Tensor)

OBSERVATION_KEY, ACHIEVED_KEY, DESIRED_KEY = "observation", "achieved_goal", "desired_goal"
_GOAL_KEYS = (OBSERVATION_KEY, ACHIEVED_KEY, DESIRED_KEY)


# --------------------------------------------------------------------------------------------------------------------
# Observations: (state, goal) <-> what the policy consumes


class GoalObservationAdapter:
    """Builds the policy's observation from ``(state, goal)`` and reads ``(state, goal)`` back from it.

    Two layouts:

    * **dict** (``MultiInputPolicy``, our agents): the policy's ``Dict`` space holds ``observation``, ``desired_goal``
      and optionally ``achieved_goal``, as :class:`~ttt_gym.wrappers.GoalObservation` produces them.
    * **flat** (a ``Box`` policy): the parts concatenated in ``flat_keys`` order, by default
      ``("observation", "desired_goal")``. ``gymnasium.wrappers.FlattenObservation`` around ``GoalObservation``
      gives ``("achieved_goal", "desired_goal", "observation")`` (sorted keys): pass that.

    Goals are either full goal observations (``GoalObservation(env, full_goal=True)``, what OGBench's agents and the
    critics take) or goal coordinates (``full_goal=False``); the part sizes tell which.

    Args:
        observation_space: The policy's observation space.
        dataset: The offline data (its observation size and goal space).
        flat_keys: Order of the parts of a flat observation.

    Raises:
        ValueError: The policy's observation does not fit the dataset; the message says what to change.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        dataset: GoalDataset,
        flat_keys: Sequence[str] = (OBSERVATION_KEY, DESIRED_KEY),
    ) -> None:
        self.observation_dim = dataset.observation_dim
        self.goal_space = dataset.goal_space
        self.goal_coordinate_dim = int(dataset.goal_coordinates.shape[1])
        obs_dim = self.observation_dim
        if isinstance(observation_space, spaces.Dict):
            self.flat = False
            unknown = sorted(set(observation_space.spaces) - set(_GOAL_KEYS))
            if (
                unknown
                or OBSERVATION_KEY not in observation_space.spaces
                or DESIRED_KEY not in observation_space.spaces
            ):
                raise ValueError(
                    f"The policy's Dict observation has keys {sorted(observation_space.spaces)}; test-time training "
                    f"needs {OBSERVATION_KEY!r} and {DESIRED_KEY!r} (and optionally {ACHIEVED_KEY!r}), nothing else. "
                    "Wrap the env in ttt_gym.wrappers.GoalObservation(env) and train the policy on it"
                )
            self.keys = tuple(key for key in _GOAL_KEYS if key in observation_space.spaces)
            self.sizes = tuple(int(np.prod(observation_space[key].shape)) for key in self.keys)  # type: ignore[arg-type]
            self.shapes = {key: tuple(observation_space[key].shape) for key in self.keys}  # type: ignore[arg-type]
            if self.sizes[0] != obs_dim:
                raise ValueError(
                    f"The policy's 'observation' has {self.sizes[0]} entries but the dataset's observations have "
                    f"{obs_dim}: load the dataset collected in this env (or train the policy on it)"
                )
        elif isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1:
            self.flat = True
            self.keys = tuple(flat_keys)
            if OBSERVATION_KEY not in self.keys or DESIRED_KEY not in self.keys or set(self.keys) - set(_GOAL_KEYS):
                raise ValueError(
                    f"flat_keys={self.keys} must name {OBSERVATION_KEY!r} and {DESIRED_KEY!r} (and optionally "
                    f"{ACHIEVED_KEY!r}) in the order the flat observation concatenates them"
                )
            total = int(observation_space.shape[0])
            n_goal_parts = len(self.keys) - 1
            goal_size, remainder = divmod(total - obs_dim, n_goal_parts)
            if remainder or goal_size not in (obs_dim, self.goal_coordinate_dim):
                raise ValueError(
                    f"The policy's flat observation has {total} entries, which is not {obs_dim} (the dataset's "
                    f"observation) plus {n_goal_parts} goal part(s) of {obs_dim} (full goal observations) or "
                    f"{self.goal_coordinate_dim} (goal coordinates) each, as flat_keys={self.keys} says. Build the "
                    "env observation as concatenate([observation, desired_goal]), or pass flat_keys= in the order "
                    "your env uses (FlattenObservation(GoalObservation(env)) sorts them: achieved, desired, "
                    "observation), and use the dataset of this env"
                )
            self.sizes = tuple(obs_dim if key == OBSERVATION_KEY else goal_size for key in self.keys)
            self.shapes = {key: (size,) for key, size in zip(self.keys, self.sizes, strict=True)}
        else:
            raise ValueError(
                f"Test-time training needs a flat Box or a goal Dict observation space, got {observation_space}: "
                "wrap the env in ttt_gym.wrappers.GoalObservation(env)"
            )
        for key, size in zip(self.keys, self.sizes, strict=True):
            if key != OBSERVATION_KEY and size not in (obs_dim, self.goal_coordinate_dim) and self.goal_space is None:
                raise ValueError(
                    f"The policy's {key!r} has {size} entries (goal coordinates?) but {dataset.source} has no known "
                    f"goal space to take them from its {obs_dim}-d observations: pass env= (an env wrapped in "
                    "ttt_gym.wrappers.GoalObservation knows it), or give the dataset one with "
                    "dataset.with_goal_space(ttt_gym.data.GoalSpace(...))"
                )
            if key != OBSERVATION_KEY and size not in (obs_dim, self.goal_coordinate_dim):
                raise ValueError(
                    f"The policy's {key!r} has {size} entries; with this dataset it must be a full goal observation "
                    f"({obs_dim}, GoalObservation(env, full_goal=True)) or goal coordinates "
                    f"({self.goal_coordinate_dim}, GoalObservation(env))"
                )
        self.goal_dim = self.sizes[self.keys.index(DESIRED_KEY)]
        offsets = np.cumsum((0, *self.sizes))
        self.slices = {key: slice(int(offsets[i]), int(offsets[i + 1])) for i, key in enumerate(self.keys)}

    @property
    def full_goal(self) -> bool:
        """Whether the policy's goal is a full goal observation (else goal coordinates)."""
        return self.goal_dim == self.observation_dim

    def __repr__(self) -> str:
        layout = "flat" if self.flat else "dict"
        parts = ", ".join(f"{key}[{size}]" for key, size in zip(self.keys, self.sizes, strict=True))
        return f"GoalObservationAdapter({layout}: {parts})"

    def coordinates(self, states: Array) -> Array:
        """Goal coordinates of states ``(..., obs_dim)`` (numpy or torch)."""
        if self.goal_space is None:
            return states
        if isinstance(states, torch.Tensor):
            return states[..., list(self.goal_space.indices)]
        return self.goal_space.coordinates(states)

    def goal_coordinates(self, goals: np.ndarray) -> np.ndarray:
        """Goal coordinates of goals in the policy's representation ``(..., goal_dim)``."""
        return self.coordinates(goals) if self.full_goal else goals

    def to_policy(self, states: Array, goals: Array) -> Array | dict[str, Array]:
        """The policy's observations for ``states (B, obs_dim)`` with goals ``(B, goal_dim)``.

        numpy arrays (cast to float32) or torch tensors alike; in the dict layout the parts are the given arrays
        themselves (reshaped), not copies, so a batch of tensors is not held twice.
        """
        parts = {}
        for key, size in zip(self.keys, self.sizes, strict=True):
            if key == OBSERVATION_KEY:
                part = states
            elif key == DESIRED_KEY:
                part = goals
            else:  # achieved_goal: the state itself, in the goal's representation
                part = states if size == self.observation_dim else self.coordinates(states)
            parts[key] = part if isinstance(part, torch.Tensor) else np.asarray(part, dtype=np.float32)
        if self.flat:
            ordered = [parts[key] for key in self.keys]
            if isinstance(ordered[0], torch.Tensor):
                return torch.cat(ordered, dim=1)  # type: ignore[arg-type]
            return np.concatenate(ordered, axis=1)
        return {key: value.reshape(len(value), *self.shapes[key]) for key, value in parts.items()}

    def split(self, observation: Any) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(states (n, obs_dim), goals (n, goal_dim), batched)`` from one or a batch of policy observations."""
        if isinstance(observation, tuple) and len(observation) == 2 and isinstance(observation[1], dict):
            raise ValueError("predict() got an (obs, info) tuple: pass obs alone, e.g. `obs, info = env.reset()`")
        if self.flat:
            if isinstance(observation, Mapping):
                raise ValueError(
                    "The policy takes a flat observation but predict() got a dict: flatten it the way the policy "
                    f"was trained ({self.keys})"
                )
            flat = np.asarray(observation, dtype=np.float32)
            batched = flat.ndim == 2
            flat = flat.reshape(-1, sum(self.sizes))
            return flat[:, self.slices[OBSERVATION_KEY]], flat[:, self.slices[DESIRED_KEY]], batched
        if not isinstance(observation, Mapping):
            raise ValueError(
                f"The policy takes a goal dict {self.keys} but predict() got {type(observation).__name__}: wrap the "
                "env in ttt_gym.wrappers.GoalObservation"
            )
        missing = [key for key in self.keys if key not in observation]
        if missing:
            raise KeyError(f"The observation dict lacks {missing}; the policy takes {list(self.keys)}")
        state = np.asarray(observation[OBSERVATION_KEY], dtype=np.float32)
        batched = state.ndim == 1 + len(self.shapes[OBSERVATION_KEY])
        states = state.reshape(-1, self.observation_dim)
        goals = np.asarray(observation[DESIRED_KEY], dtype=np.float32).reshape(-1, self.goal_dim)
        return states, goals, batched

    def policy_input(self, observation: Any, index: int) -> np.ndarray | dict[str, np.ndarray]:
        """Environment ``index``'s observation, with a batch dimension of 1 and only the keys the policy takes."""
        if self.flat:
            return np.asarray(observation).reshape(-1, sum(self.sizes))[index : index + 1]
        return {
            key: np.asarray(observation[key]).reshape(-1, *self.shapes[key])[index : index + 1] for key in self.keys
        }


def check_env(env: Any, policy: BasePolicy) -> None:
    """The env's spaces must be the policy's (shapes per key)."""

    def shapes(space: spaces.Space) -> Any:
        if isinstance(space, spaces.Dict):
            return {key: shapes(sub) for key, sub in space.spaces.items()}
        return (type(space).__name__, tuple(space.shape or ()))

    env_obs, env_act = getattr(env, "observation_space", None), getattr(env, "action_space", None)
    if env_obs is None or env_act is None:
        raise TypeError(f"env must be a gymnasium env or an SB3 VecEnv, got {type(env).__name__}")
    if shapes(env_obs) != shapes(policy.observation_space):
        raise ValueError(
            f"The env observes {env_obs} but the policy takes {policy.observation_space}: wrap the env the way the "
            "policy was trained (ttt_gym.wrappers.GoalObservation(env, full_goal=...), FlattenObservation...)"
        )
    if shapes(env_act) != shapes(policy.action_space):
        raise ValueError(f"The env acts in {env_act} but the policy in {policy.action_space}: use the policy's env")


def model_env(model: Any) -> Any:
    """The env an SB3 model was trained on (None for a loaded model without one, a policy or an agent)."""
    get_env = getattr(model, "get_env", None)
    return get_env() if callable(get_env) else None


def env_goal_space(env: Any) -> GoalSpace | None:
    """The goal space a (vector) env knows: its ``GoalObservation``'s, else the one of its OGBench env, else None."""
    if env is None:
        return None
    try:
        if isinstance(env, VecEnv):  # ask its first env
            return env.env_method("get_wrapper_attr", "goal_space", indices=[0])[0]  # type: ignore[no-any-return]
        return env.get_wrapper_attr("goal_space")  # type: ignore[no-any-return]
    except AttributeError:
        pass
    try:
        first = env.get_attr("unwrapped", indices=[0])[0] if isinstance(env, VecEnv) else env
    except (AttributeError, EOFError, OSError):  # e.g. a SubprocVecEnv that cannot send its env back
        return None
    return goal_space_for(first)
