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

from ttt_gym.evaluation import SupportsPredict, check_workers, episode_chunks, reseed_policy
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
    workers: int = 1,
    address: str | None = None,
    torch_threads: int | None = None,
) -> GoalEvaluationResult:
    """Evaluate ``model`` with OGBench's task protocol, on an OGBench env or any goal env.

    Policies with a ``reseed(seed)`` method are told each episode's seed (its reset seed) before the episode, so an
    episode's randomness is a function of its seed: that is what makes ``workers=N`` equal ``workers=1``, episode by
    episode, at the same torch thread count. Our agents and ``TestTimeTraining`` (its fine-tuning minibatches and
    its acting copies' noise) have the method; a model without it that samples (an SB3 model with
    ``deterministic=False``, drawing from torch's global generator) draws on from where the episodes before left off,
    so its episodes depend on how they are split over workers.

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
        workers: 1 runs the episodes in this process; N > 1 splits the (task, episode) order into N contiguous
            chunks, each run as a Ray task (:func:`ttt_gym.parallel.map_tasks`) with its own copy of the model (sent
            once) and its own env built from ``env_name`` (a factory must be picklable). Needs Ray
            (``pip install 'ttt-gym[ray]'``). The model passed in is not stepped, so a ``TestTimeTraining``
            wrapper's ``stats`` stay as they were.
        address: the Ray cluster of ``workers > 1``; None: ``RAY_ADDRESS``, else a local Ray started on demand.
        torch_threads: torch's intra-op threads while the episodes run: each Ray task's (None: 1), and this
            process's with ``workers=1`` (None: left as they are).

    Returns:
        The outcomes in (task, episode) order. ``steps_per_second`` is the env steps over the wall-clock time of the
        episodes (with ``workers > 1``, of the whole call: Ray start-up and copies included);
        ``policy_ms_per_step`` the mean ``predict`` time over all episodes, wherever they ran.

    Raises:
        ValueError: no episodes, ``workers`` or ``torch_threads`` below 1, a task the env does not have, or a goal
            layout the model does not take.
        ImportError: ``workers > 1`` without Ray.
    """
    call_start = time.perf_counter()
    feature = f"evaluate_goal_policy(workers={workers})"
    if episodes_per_task < 1:
        raise ValueError(f"episodes_per_task must be at least 1, got {episodes_per_task}.")
    check_workers(workers, torch_threads, feature)
    if isinstance(env_name, gym.Env):
        raise TypeError(
            f"Got an env instance ({type(env_name.unwrapped).__name__}); every episode resets it with its own seed, "
            "so pass its id or a factory, e.g. lambda: MyGoalEnv()"
        )
    if callable(env_name) and env_kwargs:
        raise ValueError("env_kwargs apply to env ids; bind them in the factory instead")
    env, label = _evaluation_env(model, env_name, env_kwargs, full_goal)
    n_tasks = getattr(env.unwrapped, "num_tasks", None)
    if tasks is None:
        tasks = (1, 2, 3, 4, 5) if n_tasks is not None else (0,)
    for task in tasks:
        if n_tasks is not None and not 1 <= task <= n_tasks:
            raise ValueError(f"{label} has tasks 1..{n_tasks}, got task {task}.")
        if n_tasks is None and task != 0:
            raise ValueError(f"{label} has no tasks (no num_tasks): leave tasks unset (one plain task 0).")
    episodes = [
        (int(task), seed + row * episodes_per_task + i)
        for row, task in enumerate(tasks)
        for i in range(episodes_per_task)
    ]
    settings = (n_tasks is not None, deterministic, max_episode_steps)

    from tqdm.auto import tqdm

    with tqdm(total=len(episodes), disable=not progress_bar, desc=label) as bar:
        if workers == 1:
            from ttt_gym.ttt.copies import torch_threads as threads_set_to

            with threads_set_to(torch_threads):
                successes, lengths, policy_seconds, seconds = play_goal_episodes(
                    model, env, label, episodes, *settings, on_episode=lambda: bar.update(1)
                )
            env.close()
        else:
            env.close()
            from ttt_gym.parallel import map_tasks

            successes = np.zeros(len(episodes), dtype=bool)
            lengths = np.zeros(len(episodes), dtype=np.int64)
            chunks = episode_chunks(len(episodes), workers)
            done = map_tasks(
                _goal_episodes_task,
                [(env_name, env_kwargs, full_goal, episodes[chunk.start : chunk.stop], *settings) for chunk in chunks],
                address=address,
                torch_threads=1 if torch_threads is None else torch_threads,
                max_concurrent=workers,
                shared=(model,),
                feature=feature,
            )
            policy_seconds = 0.0
            for index, (chunk_successes, chunk_lengths, chunk_policy_seconds, _) in done:
                rows = slice(chunks[index].start, chunks[index].stop)
                successes[rows], lengths[rows] = chunk_successes, chunk_lengths
                policy_seconds += chunk_policy_seconds
                bar.update(len(chunks[index]))
            seconds = time.perf_counter() - call_start
    total_steps = int(lengths.sum())
    return GoalEvaluationResult(
        env_name=label,
        task_ids=tuple(int(t) for t in tasks),
        successes=successes.reshape(len(tasks), episodes_per_task),
        lengths=lengths.reshape(len(tasks), episodes_per_task),
        steps_per_second=total_steps / max(seconds, 1e-9),
        policy_ms_per_step=1e3 * policy_seconds / max(total_steps, 1),
    )


def _evaluation_env(
    model: Any, env_name: str | Callable[[], gym.Env], env_kwargs: dict[str, Any] | None, full_goal: bool | None
) -> tuple[gym.Env, str]:
    """The env :func:`evaluate_goal_policy` steps (in the goal-dict layout the model takes) and its label."""
    if callable(env_name):
        base, label = env_name(), getattr(env_name, "__name__", "env")
    else:
        base, label = make_goal_env(env_name, **(env_kwargs or {})), env_name
    env = base if _is_goal_dict(base.observation_space) else _goal_observation(base, model, full_goal)
    return env, label


def play_goal_episodes(
    model: SupportsPredict,
    env: gym.Env,
    label: str,
    episodes: Sequence[tuple[int, int]],
    has_tasks: bool,
    deterministic: bool,
    max_episode_steps: int | None,
    on_episode: Callable[[], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Play ``episodes``, ``(task, reset seed)`` pairs, as :func:`evaluate_goal_policy` does, in this process.

    Returns:
        ``(successes, lengths, policy_seconds, seconds)``: per episode, in order; the time spent in ``predict``; the
        wall-clock time of the episodes.
    """
    successes = np.zeros(len(episodes), dtype=bool)
    lengths = np.zeros(len(episodes), dtype=np.int64)
    policy_seconds, start = 0.0, time.perf_counter()
    for row, (task, episode_seed) in enumerate(episodes):
        reseed_policy(model, episode_seed)
        obs, info = seeded_reset(env, episode_seed, options=dict(task_id=task) if has_tasks else None)
        state, episode_start = None, np.ones((1,), dtype=bool)
        done, steps, success = False, 0, False
        while not done:
            tic = time.perf_counter()
            action, state = model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
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
        successes[row], lengths[row] = success, steps
        if on_episode is not None:
            on_episode()
    return successes, lengths, policy_seconds, time.perf_counter() - start


def _goal_episodes_task(
    model: SupportsPredict,
    env_name: str | Callable[[], gym.Env],
    env_kwargs: dict[str, Any] | None,
    full_goal: bool | None,
    episodes: Sequence[tuple[int, int]],
    has_tasks: bool,
    deterministic: bool,
    max_episode_steps: int | None,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One Ray task of ``evaluate_goal_policy(workers > 1)``: its env, then :func:`play_goal_episodes`."""
    env, label = _evaluation_env(model, env_name, env_kwargs, full_goal)
    try:
        return play_goal_episodes(model, env, label, episodes, has_tasks, deterministic, max_episode_steps)
    finally:
        env.close()
