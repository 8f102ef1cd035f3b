"""Gymnasium wrappers of ttt_gym."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ttt_envs.wrappers import PrivilegedObservation
from ttt_gym.data.goal_space import GoalSpace, goal_space_for

__all__ = ["GoalObservation", "PrivilegedObservation"]


class GoalObservation(gym.Wrapper):
    """OGBench goal-conditioned env -> ``Dict(observation, achieved_goal, desired_goal)`` (SB3 / HER convention).

    ## Description

    OGBench envs return a plain state and put the goal *observation* in ``info["goal"]`` at reset. This wrapper
    exposes the goal in the observation so that SB3's ``MultiInputPolicy`` (and ``HerReplayBuffer``, through
    :meth:`compute_reward`) can use the env directly. Pick an evaluation task with
    ``env.reset(options=dict(task_id=k))`` (k = 1..5), as in OGBench's protocol.

    ## Observation

    * ``observation``: the env's state, unchanged.
    * ``achieved_goal`` / ``desired_goal``: by default the *goal coordinates* of the current state and of the goal
      observation: the part of the state the success test uses (x-y in the mazes, the cube positions in cube,
      see :func:`~ttt_gym.data.goal_space_for`). With ``full_goal=True`` they are the full current
      observation and the full goal observation instead, what OGBench's agents (and ours) condition on.
      Envs without a known goal space (scene, puzzle) always use full observations.

    The full goal observation is always available as ``info["goal"]`` (at reset and after every step) and as
    :attr:`goal_observation`.

    ## Reward

    Unchanged. :meth:`compute_reward` recomputes the env's goal reward (1.0 on success, else 0.0) from goal
    coordinates for relabelled goals; for cube it compares the goal observation's cube positions, which OGBench
    records after letting the cubes settle, so it can differ from ``info["success"]`` within millimetres.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        full_goal: bool = False,
        goal_space: GoalSpace | None = None,
    ) -> None:
        """Wrap ``env``.

        Args:
            env: An OGBench goal-conditioned env in task mode (``gymnasium.make("pointmaze-medium-v0")``).
            full_goal: Use full observations as achieved / desired goals instead of goal coordinates.
            goal_space: Override the goal coordinates looked up from the env.
        """
        super().__init__(env)
        base = env.observation_space
        if not isinstance(base, spaces.Box) or len(base.shape) != 1:
            raise TypeError(
                f"GoalObservation needs a flat Box observation space (state-based OGBench env), got {base}; "
                "pixel ('visual-') envs are not supported"
            )
        self.goal_space: GoalSpace | None = goal_space if goal_space is not None else goal_space_for(env)
        """Goal coordinates of this env (None: unknown, full observations are used)."""
        self.full_goal = full_goal or self.goal_space is None
        self._goal_indices: Sequence[int] | None = None if self.full_goal else list(self.goal_space.indices)  # type: ignore[union-attr]
        if self._goal_indices is None:
            goal_box = base
        else:
            goal_box = spaces.Box(
                low=base.low[self._goal_indices],
                high=base.high[self._goal_indices],
                dtype=base.dtype.type,  # type: ignore[union-attr,arg-type]
            )
        self.observation_space = spaces.Dict({"observation": base, "achieved_goal": goal_box, "desired_goal": goal_box})
        self._goal: np.ndarray | None = None
        self._dtype = base.dtype

    @property
    def goal_observation(self) -> np.ndarray:
        """The full goal observation of the current episode."""
        if self._goal is None:
            raise RuntimeError("GoalObservation: call reset() before reading the goal")
        return self._goal

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        if "goal" not in info:
            raise KeyError(
                "GoalObservation: the env's reset info has no 'goal'. It needs an OGBench goal-conditioned env in "
                "task mode (not a '-singletask' id, not mode='data_collection')."
            )
        self._goal = np.array(info["goal"], dtype=self._dtype)
        self._goal.setflags(write=False)
        return self._observation(obs), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["goal"] = self.goal_observation
        return self._observation(obs), reward, terminated, truncated, info

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """The env's goal reward (1.0 on success, else 0.0) for goals of shape ``(goal_dim,)`` or ``(B, goal_dim)``.

        Args:
            achieved_goal: ``achieved_goal`` entries of observations.
            desired_goal: ``desired_goal`` entries, same shape.
            info: Unused (HER passes the step infos).
        """
        if self.goal_space is None:
            raise NotImplementedError(
                "GoalObservation.compute_reward: this env has no known goal space, so success cannot be recomputed "
                "from goals; pass goal_space=GoalSpace(...)"
            )
        achieved, desired = np.asarray(achieved_goal), np.asarray(desired_goal)
        if self.full_goal:
            achieved, desired = self.goal_space.coordinates(achieved), self.goal_space.coordinates(desired)
        return self.goal_space.is_success(achieved, desired).astype(np.float32)

    def _observation(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        goal = self.goal_observation
        if self._goal_indices is None:
            return {"observation": obs, "achieved_goal": obs.copy(), "desired_goal": goal.copy()}
        return {
            "observation": obs,
            "achieved_goal": obs[self._goal_indices],
            "desired_goal": goal[self._goal_indices],
        }
