"""OGBench's evaluation protocol for goal-conditioned policies: five fixed tasks, deterministic actions, success.

For each task ``k`` the env is reset with ``options=dict(task_id=k)`` (OGBench perturbs the start and goal slightly;
:func:`seeded_reset` makes that noise a function of the episode seed),
the policy acts until the episode ends (1000 steps in pointmaze / antmaze, or earlier on success), and the episode
counts as a success when ``info["success"]`` holds at its last step. The policy sees
``GoalObservation(env, full_goal=True)`` dicts, the observation and the full goal observation (``info["goal"]``),
through SB3's ``predict(observation, state, episode_start, deterministic)``.

Any other goal env works the same way: one whose observation is already a goal dict (``observation``,
``desired_goal``), or any env ``GoalObservation`` can wrap; without tasks its episodes are plain seeded resets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

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


def _is_goal_dict(space: Any) -> bool:
    return isinstance(space, spaces.Dict) and {"observation", "desired_goal"} <= set(space.spaces)


def _goal_observation(env: gym.Env, model: Any, full_goal: bool | None) -> gym.Env:
    """``GoalObservation(env)`` with the goal layout the model takes (see :func:`evaluate_goal_policy`)."""
    space: Any = getattr(model, "observation_space", None)
    model_goal_shape = space["desired_goal"].shape if _is_goal_dict(space) else None
    if full_goal is None:
        full_goal = model_goal_shape is None or model_goal_shape == space["observation"].shape
    wrapped = GoalObservation(env, full_goal=full_goal)
    env_goal_shape = wrapped.observation_space["desired_goal"].shape  # type: ignore[index]
    if model_goal_shape is not None and model_goal_shape != env_goal_shape:
        raise ValueError(
            f"The model takes goals of shape {model_goal_shape} but GoalObservation(full_goal={full_goal}) gives "
            f"{env_goal_shape}: pass full_goal= to match how the model was trained"
        )
    return wrapped


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
    env_name: str | Callable[[], gym.Env],
    tasks: Sequence[int] | None = None,
    episodes_per_task: int = 10,
    seed: int = 0,
    *,
    deterministic: bool = True,
    full_goal: bool | None = None,
    max_episode_steps: int | None = None,
    progress_bar: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> GoalEvaluationResult:
    """Evaluate ``model`` with OGBench's task protocol, on an OGBench env or any goal env.

    Args:
        model: anything with SB3's ``predict`` acting on ``{"observation", "achieved_goal", "desired_goal"}`` dicts
            (an agent, an SB3 model trained on :class:`~ttt_gym.wrappers.GoalObservation`, a ``TestTimeTraining``
            wrapper). ``state`` is threaded through and ``episode_start`` is true on each episode's first step.
        env_name: an OGBench dataset / env name (``"pointmaze-medium-navigate-v0"``), any registered gymnasium id,
            or a factory ``() -> env``. An env whose observation is already a goal dict (``observation``,
            ``desired_goal``) is used as it is; any other is wrapped in ``GoalObservation``. The env must put a
            bool ``info["success"]`` in its step infos.
        tasks: task ids passed as ``reset(options=dict(task_id=k))``; default: OGBench's five (1..5) on an env that
            has tasks (``num_tasks``), else one plain "task" 0 whose episodes are reset without options.
        episodes_per_task: episodes per task (OGBench reports 50).
        seed: the ``i``-th episode overall is reset with ``seed + i``.
        deterministic: passed to ``predict`` (OGBench evaluates the mean action).
        full_goal: the ``GoalObservation`` goals are full goal observations (what our agents take) or goal
            coordinates (``GoalObservation``'s default, what SB3 + HER models usually take). Default: what
            ``model.observation_space`` says, else full goal observations.
        max_episode_steps: cut episodes shorter than the env's own limit (for quick checks).
        progress_bar: show a tqdm bar over episodes.
        env_kwargs: keyword arguments for the env constructor (ids only).

    Raises:
        ValueError: no episodes, a task the env does not have, or a goal layout the model does not take.
    """
    if episodes_per_task < 1:
        raise ValueError(f"episodes_per_task must be at least 1, got {episodes_per_task}.")
    if isinstance(env_name, gym.Env):
        raise TypeError(
            f"Got an env instance ({type(env_name.unwrapped).__name__}); every episode resets it with its own seed, "
            "so pass its id or a factory, e.g. lambda: MyGoalEnv()"
        )
    if callable(env_name):
        if env_kwargs:
            raise ValueError("env_kwargs apply to env ids; bind them in the factory instead")
        base, label = env_name(), getattr(env_name, "__name__", "env")
    else:
        base, label = make_goal_env(env_name, **(env_kwargs or {})), env_name
    env = base if _is_goal_dict(base.observation_space) else _goal_observation(base, model, full_goal)
    n_tasks = getattr(env.unwrapped, "num_tasks", None)
    if tasks is None:
        tasks = (1, 2, 3, 4, 5) if n_tasks is not None else (0,)
    for task in tasks:
        if n_tasks is not None and not 1 <= task <= n_tasks:
            raise ValueError(f"{label} has tasks 1..{n_tasks}, got task {task}.")
        if n_tasks is None and task != 0:
            raise ValueError(f"{label} has no tasks (no num_tasks): leave tasks unset (one plain task 0).")
    reset_options = (lambda task: dict(task_id=task)) if n_tasks is not None else (lambda task: None)

    from tqdm.auto import tqdm

    successes = np.zeros((len(tasks), episodes_per_task), dtype=bool)
    lengths = np.zeros((len(tasks), episodes_per_task), dtype=np.int64)
    total_steps, policy_seconds, start = 0, 0.0, time.perf_counter()
    with tqdm(total=len(tasks) * episodes_per_task, disable=not progress_bar, desc=label) as bar:
        for row, task in enumerate(tasks):
            for episode in range(episodes_per_task):
                obs, info = seeded_reset(env, seed + row * episodes_per_task + episode, options=reset_options(task))
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
                    if "success" not in info:
                        raise KeyError(
                            f"{label}: step() infos lack 'success' (a bool), which decides each episode; "
                            "gymnasium-robotics envs call it 'is_success': wrap the env to copy it"
                        )
                    success = bool(info["success"])
                    done = terminated or truncated or (max_episode_steps is not None and steps >= max_episode_steps)
                successes[row, episode] = success
                lengths[row, episode] = steps
                total_steps += steps
                bar.update(1)
    env.close()
    elapsed = time.perf_counter() - start
    return GoalEvaluationResult(
        env_name=label,
        task_ids=tuple(int(t) for t in tasks),
        successes=successes,
        lengths=lengths,
        steps_per_second=total_steps / max(elapsed, 1e-9),
        policy_ms_per_step=1e3 * policy_seconds / max(total_steps, 1),
    )
