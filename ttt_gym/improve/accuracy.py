"""Policy accuracy against an optimal policy (Park et al., Section 4): where is offline RL bottlenecked?

The paper measures the mean squared error between the policy's action and an optimal one on three sets of states:
the training data, held-out validation data, and the states the agent itself visits at evaluation. Its claim is that
the evaluation error is the one that stays high, and that test-time methods should lower it.

For OGBench's point mass, ``pi*(s, g)`` is the unit vector towards the BFS oracle's next subgoal, the direction that
generated the datasets (without their noise).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MazeOracle", "RecordingPolicy", "action_mse"]


class MazeOracle:
    """``pi*(s, g)`` of an OGBench point-mass maze: the unit vector to the BFS oracle's next subgoal (memoised per
    cell pair, as the dataset generator does), or to the goal itself once in its cell.

    Args:
        env: The maze env (``make_goal_env("pointmaze-medium-navigate-v0")``); its ``unwrapped`` has
            ``get_oracle_subgoal`` and ``xy_to_ij``.

    Raises:
        TypeError: the env has no BFS oracle (not a point-mass maze).
    """

    def __init__(self, env: Any) -> None:
        self.maze = env.unwrapped
        if not callable(getattr(self.maze, "get_oracle_subgoal", None)):
            raise TypeError(
                f"{type(self.maze).__name__} has no get_oracle_subgoal: a point-mass OGBench maze is needed"
            )
        self._subgoals: dict[tuple[Any, Any], np.ndarray] = {}

    def __call__(self, states: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """Optimal actions ``(B, 2)`` for states and goals ``(B, >= 2)`` (their first two entries are x-y)."""
        states, goals = np.atleast_2d(states), np.atleast_2d(goals)
        actions = np.empty((len(states), 2))
        for row, (xy, goal_xy) in enumerate(zip(states[:, :2], goals[:, :2], strict=True)):
            key = (self.maze.xy_to_ij(xy), self.maze.xy_to_ij(goal_xy))
            if key not in self._subgoals:
                self._subgoals[key] = np.asarray(self.maze.get_oracle_subgoal(xy, goal_xy)[0], dtype=np.float64)
            # In the goal's own cell the oracle's subgoal is that cell's centre: head for the goal itself.
            direction = (goal_xy if key[0] == key[1] else self._subgoals[key]) - xy
            actions[row] = direction / (np.linalg.norm(direction) + 1e-6)
        return actions


def action_mse(actions: np.ndarray, optimal: np.ndarray) -> float:
    """Mean over states of ``||a - a*||^2``."""
    return float(np.mean(np.sum((np.asarray(actions) - np.asarray(optimal)) ** 2, axis=-1)))


class RecordingPolicy:
    """Wraps anything with SB3's ``predict`` and records the ``(state, goal, action)`` of every step it acts on, for
    the evaluation-state error."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.states: list[np.ndarray] = []
        self.goals: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    @property
    def observation_space(self) -> Any:
        return getattr(self.model, "observation_space", None)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False):
        actions, state = self.model.predict(observation, state, episode_start, deterministic)
        self.states.append(np.atleast_2d(np.asarray(observation["observation"], dtype=np.float64)))
        self.goals.append(np.atleast_2d(np.asarray(observation["desired_goal"], dtype=np.float64)))
        self.actions.append(np.atleast_2d(np.asarray(actions, dtype=np.float64)))
        return actions, state

    def visited(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(states, goals, actions)`` of every recorded step."""
        return np.concatenate(self.states), np.concatenate(self.goals), np.concatenate(self.actions)
