"""OGBench's evaluation protocol for goal-conditioned policies: five fixed tasks, deterministic actions, success.

For each task ``k`` the env is reset with ``options=dict(task_id=k)`` (OGBench perturbs the start and goal slightly;
:func:`seeded_reset` makes that noise a function of the episode seed),
the policy acts until the episode ends (1000 steps in pointmaze / antmaze, or earlier on success), and the episode
counts as a success when ``info["success"]`` holds at its last step. The policy sees
``GoalObservation(env, full_goal=True)`` dicts, the observation and the full goal observation (``info["goal"]``),
through SB3's ``predict(observation, state, episode_start, deterministic)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ttt_gym.evaluation import SupportsPredict
from ttt_gym.wrappers import GoalObservation


@dataclass(frozen=True)
class GoalEvaluationResult:
    """Outcomes of :func:`evaluate_goal_policy`.

    Attributes:
        env_name: the evaluated env.
        task_ids: the task ids, in the row order of the arrays.
        successes: ``(n_tasks, episodes_per_task)`` bool, ``info["success"]`` at each episode's end.
        lengths: ``(n_tasks, episodes_per_task)`` steps per episode.
        steps_per_second: control frequency, env steps per wall-clock second (policy and env together).
        policy_ms_per_step: mean wall-clock milliseconds of one ``predict`` call.
    """

    env_name: str
    task_ids: tuple[int, ...]
    successes: np.ndarray
    lengths: np.ndarray
    steps_per_second: float
    policy_ms_per_step: float

    @property
    def task_success(self) -> dict[int, float]:
        """Success rate per task id."""
        return {task: float(np.mean(row)) for task, row in zip(self.task_ids, self.successes, strict=True)}

    @property
    def success_rate(self) -> float:
        """Overall success rate: the mean over tasks of the per-task rates (OGBench's ``overall_success``)."""
        return float(np.mean(self.successes))

    def __str__(self) -> str:
        per_task = "  ".join(f"task{task} {rate:.2f}" for task, rate in self.task_success.items())
        return (
            f"{self.env_name}: success {self.success_rate:.3f} ({per_task})  "
            f"{self.steps_per_second:.1f} steps/s, policy {self.policy_ms_per_step:.2f} ms/step"
        )


def make_goal_env(env_name: str, **env_kwargs: Any) -> gym.Env:
    """An OGBench env in evaluation (task) mode from a dataset or env name, or any registered gymnasium id."""
    import ogbench  # registers OGBench's env ids with gymnasium

    if env_name in gym.registry:
        return gym.make(env_name, **env_kwargs)
    return ogbench.make_env_and_datasets(env_name, env_only=True, **env_kwargs)


def seeded_reset(env: gym.Env, seed: int, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """``env.reset(seed=seed, **kwargs)`` that gives the same episode for the same seed, even on OGBench mazes.

    OGBench's maze envs (ogbench 1.2) draw the start and goal noise from numpy's global generator and their settling
    steps from an unseeded ``action_space.sample()``, so ``reset(seed=...)`` alone does not fix the episode. Here both
    are seeded from ``seed`` for the reset only: the global numpy state is restored afterwards, so callers that use
    ``np.random`` are not affected.
    """
    # The legacy global generator is what OGBench reads, so it is the one to seed here.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(int(seed) % 2**32)  # noqa: NPY002
        env.unwrapped.action_space.seed(int(seed) % 2**32)
        return env.reset(seed=int(seed), **kwargs)
    finally:
        np.random.set_state(saved)  # noqa: NPY002


def evaluate_goal_policy(
    model: SupportsPredict,
    env_name: str,
    tasks: Sequence[int] = (1, 2, 3, 4, 5),
    episodes_per_task: int = 10,
    seed: int = 0,
    *,
    deterministic: bool = True,
    max_episode_steps: int | None = None,
    progress_bar: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> GoalEvaluationResult:
    """Evaluate ``model`` with OGBench's task protocol.

    Args:
        model: anything with SB3's ``predict`` acting on ``{"observation", "achieved_goal", "desired_goal"}`` dicts
            (an agent, its ``.policy``, a ``TestTimeTraining`` wrapper). ``state`` is threaded through and
            ``episode_start`` is true on each episode's first step.
        env_name: an OGBench dataset / env name (``"pointmaze-medium-navigate-v0"``) or a registered id.
        tasks: task ids passed as ``reset(options=dict(task_id=k))``.
        episodes_per_task: episodes per task (OGBench reports 50).
        seed: the ``i``-th episode overall is reset with ``seed + i``.
        deterministic: passed to ``predict`` (OGBench evaluates the mean action).
        max_episode_steps: cut episodes shorter than the env's own limit (for quick checks).
        progress_bar: show a tqdm bar over episodes.
        env_kwargs: keyword arguments for the env constructor.
    """
    if episodes_per_task < 1:
        raise ValueError(f"episodes_per_task must be at least 1, got {episodes_per_task}.")
    env = GoalObservation(make_goal_env(env_name, **(env_kwargs or {})), full_goal=True)
    n_tasks = getattr(env.unwrapped, "num_tasks", None)
    for task in tasks:
        if n_tasks is not None and not 1 <= task <= n_tasks:
            raise ValueError(f"{env_name} has tasks 1..{n_tasks}, got task {task}.")

    from tqdm.auto import tqdm

    successes = np.zeros((len(tasks), episodes_per_task), dtype=bool)
    lengths = np.zeros((len(tasks), episodes_per_task), dtype=np.int64)
    total_steps, policy_seconds, start = 0, 0.0, time.perf_counter()
    with tqdm(total=len(tasks) * episodes_per_task, disable=not progress_bar, desc=env_name) as bar:
        for row, task in enumerate(tasks):
            for episode in range(episodes_per_task):
                obs, info = seeded_reset(env, seed + row * episodes_per_task + episode, options=dict(task_id=task))
                state, episode_start = None, np.ones((1,), dtype=bool)
                done, steps, success = False, 0, False
                while not done:
                    tic = time.perf_counter()
                    action, state = model.predict(
                        obs, state=state, episode_start=episode_start, deterministic=deterministic
                    )
                    policy_seconds += time.perf_counter() - tic
                    obs, _, terminated, truncated, info = env.step(action)
                    episode_start = np.zeros((1,), dtype=bool)
                    steps += 1
                    success = bool(info.get("success", False))
                    done = terminated or truncated or (max_episode_steps is not None and steps >= max_episode_steps)
                successes[row, episode] = success
                lengths[row, episode] = steps
                total_steps += steps
                bar.update(1)
    env.close()
    elapsed = time.perf_counter() - start
    return GoalEvaluationResult(
        env_name=env_name,
        task_ids=tuple(int(t) for t in tasks),
        successes=successes,
        lengths=lengths,
        steps_per_second=total_steps / max(elapsed, 1e-9),
        policy_ms_per_step=1e3 * policy_seconds / max(total_steps, 1),
    )
