"""Offline goal-conditioned datasets generated locally, following OGBench's own collection protocol.

OGBench (Park et al., 2024) collects its datasets with scripted or learned data collectors
(``data_gen_scripts/generate_locomaze.py`` and ``generate_manipspace.py`` in its repository). The ones that need
no learned policy are reproduced here:

* **pointmaze** (medium, large, giant, teleport): the point mass follows the BFS oracle subgoal of the maze
  (``env.unwrapped.get_oracle_subgoal``) as a unit vector plus N(0, 0.5) noise, actions clipped to [-1, 1].
  *navigate*: start anywhere, goal at a random junction/dead-end cell, a new goal each time one is reached.
  *stitch*: short episodes towards a cell exactly 4 cells away, staying there once reached.
* **manipspace** (cube, scene, puzzle): OGBench's scripted oracles from ``ogbench.manipspace.oracles``
  (plan oracles with temporally smoothed noise 0.1 for *play*; Markov oracles with per-episode Gaussian noise and
  random actions for *noisy*), a new target each time the oracle finishes one.

Unlike OGBench's scripts, generation is seeded: episode ``k`` depends only on ``(seed, k)`` (its own
``SeedSequence``), so a dataset is identical whatever the number of worker processes. Episodes
``0 .. n-1`` form the training file, the next ``max(1, n // 10)`` the validation file, both in OGBench's npz
format in OGBench's data directory, where ``ogbench.make_env_and_datasets(name)`` finds them without a download.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "DATASET_SPECS",
    "DEFAULT_DATASET_DIR",
    "DatasetSpec",
    "UnsupportedDatasetError",
    "dataset_paths",
    "dataset_spec",
    "generate_dataset",
]

DEFAULT_DATASET_DIR = Path("~/.ogbench/data")
"""OGBench's default dataset directory (``ogbench.utils.DEFAULT_DATASET_DIR``)."""

_STEPS_PER_CHUNK = 10_000  # work unit sent to a worker: enough to amortise IPC, small enough for a live progress bar


class UnsupportedDatasetError(ValueError):
    """The dataset cannot be generated locally (unknown name, or OGBench made it with a learned expert)."""


@dataclass(frozen=True)
class DatasetSpec:
    """How OGBench collected one dataset (``data_gen_scripts/commands.sh``).

    Attributes:
        name: Dataset name, e.g. ``"pointmaze-medium-navigate-v0"``.
        env_id: The environment it is collected in, e.g. ``"pointmaze-medium-v0"``.
        family: ``"locomaze"`` (maze navigation) or ``"manipspace"`` (manipulation).
        dataset_type: ``"navigate"`` / ``"stitch"`` for mazes, ``"play"`` / ``"noisy"`` for manipulation.
        num_episodes: Training episodes (the validation file adds a tenth of that).
        episode_steps: Transitions per episode (OGBench's ``max_episode_steps``).
        noise: Action noise: Gaussian std for mazes; plan noise (play) or the maximum per-episode
            noise level (noisy) for manipulation.
        p_random_action: Probability of a uniformly random action at each step (manipulation, noisy).
    """

    name: str
    env_id: str
    family: Literal["locomaze", "manipspace"]
    dataset_type: str
    num_episodes: int
    episode_steps: int
    noise: float
    p_random_action: float = 0.0


def _build_specs() -> dict[str, DatasetSpec]:
    specs: list[DatasetSpec] = []
    for maze in ("medium", "large", "giant", "teleport"):
        giant = maze == "giant"
        specs.append(
            DatasetSpec(
                name=f"pointmaze-{maze}-navigate-v0",
                env_id=f"pointmaze-{maze}-v0",
                family="locomaze",
                dataset_type="navigate",
                num_episodes=500 if giant else 1000,
                episode_steps=2001 if giant else 1001,
                noise=0.5,
            )
        )
        specs.append(
            DatasetSpec(
                name=f"pointmaze-{maze}-stitch-v0",
                env_id=f"pointmaze-{maze}-v0",
                family="locomaze",
                dataset_type="stitch",
                num_episodes=5000,
                episode_steps=201,
                noise=0.5,
            )
        )
    manip = {
        "cube-single": (1000, 0.1),
        "cube-double": (1000, 0.1),
        "cube-triple": (3000, 0.1),
        "cube-quadruple": (5000, 0.1),
        "scene": (1000, 0.1),
        "puzzle-3x3": (1000, 0.2),
        "puzzle-4x4": (1000, 0.2),
        "puzzle-4x5": (3000, 0.2),
        "puzzle-4x6": (5000, 0.2),
    }
    for env, (episodes, p_random) in manip.items():
        for dataset_type in ("play", "noisy"):
            specs.append(
                DatasetSpec(
                    name=f"{env}-{dataset_type}-v0",
                    env_id=f"{env}-v0",
                    family="manipspace",
                    dataset_type=dataset_type,
                    num_episodes=episodes,
                    episode_steps=1001,
                    noise=0.1,
                    p_random_action=p_random if dataset_type == "noisy" else 0.0,
                )
            )
    return {spec.name: spec for spec in specs}


DATASET_SPECS: Mapping[str, DatasetSpec] = _build_specs()
"""Every dataset :func:`generate_dataset` can make, by name."""


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``, or an :class:`UnsupportedDatasetError` saying why not and what works."""
    if name in DATASET_SPECS:
        return DATASET_SPECS[name]
    supported = ", ".join(DATASET_SPECS)
    for marker in ("-singletask", "-oraclerep"):
        if marker in name:
            base = name.split(marker)[0] + "-v0"
            raise UnsupportedDatasetError(
                f"'{name}' is a view of the '{base}' dataset that ogbench.make_env_and_datasets derives on load: "
                f"generate '{base}' instead."
            )
    if name.startswith("visual-"):
        raise UnsupportedDatasetError(
            f"'{name}' has pixel observations, which need an offscreen OpenGL renderer for every step; generate the "
            f"state-based '{name.removeprefix('visual-')}' instead. Supported: {supported}."
        )
    if name.split("-", 1)[0] in ("antmaze", "humanoidmaze", "antsoccer"):
        raise UnsupportedDatasetError(
            f"'{name}': OGBench collects antmaze / humanoidmaze / antsoccer data with pretrained SAC locomotion "
            "experts (data_gen_scripts/main_sac.py checkpoints) that the ogbench package does not ship and that "
            "cannot be downloaded here, so this data cannot be reproduced locally. Datasets that need no learned "
            f"expert: {supported}."
        )
    raise UnsupportedDatasetError(f"Unknown dataset '{name}'. Supported: {supported}.")


def dataset_paths(name: str, path: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Training and validation file paths of dataset ``name``.

    Args:
        name: Dataset name.
        path: A directory (files ``{name}.npz`` and ``{name}-val.npz`` inside it), a training file path ending in
            ``.npz`` (validation file next to it, OGBench's ``-val.npz`` convention), or None for
            :data:`DEFAULT_DATASET_DIR`.
    """
    target = Path(os.path.expanduser(path if path is not None else DEFAULT_DATASET_DIR))
    train = target if target.suffix == ".npz" else target / f"{name}.npz"
    return train, train.with_name(train.name[: -len(".npz")] + "-val.npz")


def generate_dataset(
    name: str,
    num_episodes: int | None = None,
    seed: int = 0,
    path: str | os.PathLike[str] | None = None,
    progress_bar: bool = True,
    *,
    episode_steps: int | None = None,
    num_workers: int | None = None,
) -> Path:
    """Generate an OGBench dataset and its validation split locally.

    Args:
        name: OGBench dataset name, one of :data:`DATASET_SPECS` (e.g. ``"pointmaze-medium-navigate-v0"``).
        num_episodes: Training episodes; OGBench's count when None. The validation file gets
            ``max(1, num_episodes // 10)`` more.
        seed: Master seed; episode ``k`` is seeded from ``(seed, k)`` alone.
        path: Output directory or training file (see :func:`dataset_paths`); OGBench's ``~/.ogbench/data`` when
            None, where ``ogbench.make_env_and_datasets(name)`` then loads it offline.
        progress_bar: Show a tqdm bar over episodes.
        episode_steps: Transitions per episode; OGBench's when None (short episodes make tiny test datasets).
        num_workers: Worker processes; all CPU cores when None, 1 runs in this process. The data does not
            depend on it. Workers are forked on Linux; elsewhere they are spawned, so scripts that call this
            need the usual ``if __name__ == "__main__":`` guard there.

    Returns:
        Path of the training file (the validation file is next to it, ending in ``-val.npz``).

    Raises:
        UnsupportedDatasetError: ``name`` is unknown or needs a learned expert (antmaze, humanoidmaze, ...).
    """
    spec = dataset_spec(name)
    n_train = spec.num_episodes if num_episodes is None else int(num_episodes)
    steps = spec.episode_steps if episode_steps is None else int(episode_steps)
    if n_train < 1 or steps < 2:
        raise ValueError(f"generate_dataset: need num_episodes >= 1 and episode_steps >= 2, got {n_train}, {steps}")
    if seed < 0:
        raise ValueError(f"generate_dataset: seed must be a non-negative integer, got {seed}")
    n_total = n_train + max(1, n_train // 10)
    train_path, val_path = dataset_paths(name, path)

    workers = max(1, min(num_workers if num_workers is not None else (os.cpu_count() or 1), n_total))
    chunk = max(1, min(_STEPS_PER_CHUNK // steps, -(-n_total // workers)))
    tasks = [(seed, start, min(start + chunk, n_total)) for start in range(0, n_total, chunk)]

    from tqdm.auto import tqdm

    parts: list[dict[str, np.ndarray]] = []
    with tqdm(total=n_total, desc=name, unit="episode", disable=not progress_bar) as bar:
        if workers == 1:
            collector = _make_collector(spec, steps)
            for task in tasks:
                parts.append(collector.collect(*task))
                bar.update(task[2] - task[1])
        else:
            with ProcessPoolExecutor(
                workers, mp_context=_process_context(), initializer=_init_worker, initargs=(spec, steps)
            ) as pool:
                for task, part in zip(tasks, pool.map(_collect_in_worker, tasks), strict=True):
                    parts.append(part)
                    bar.update(task[2] - task[1])

    arrays = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    split = n_train * steps
    _save_npz(train_path, {key: value[:split] for key, value in arrays.items()})
    _save_npz(val_path, {key: value[split:] for key, value in arrays.items()})
    return train_path


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write atomically, so that an interrupted run never leaves a file ogbench would take as complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------------
# Collection (runs in the worker processes).


def _episode_streams(seed: int, episode: int) -> tuple[np.random.Generator, int, int]:
    """Independent randomness of one episode: our draws, the env's seed, the seed of numpy's global generator."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(episode, 0)))
    env_seed = int(np.random.SeedSequence(seed, spawn_key=(episode, 1)).generate_state(1)[0])
    global_seed = int(np.random.SeedSequence(seed, spawn_key=(episode, 2)).generate_state(1)[0])
    return rng, env_seed, global_seed


@contextmanager
def _seeded_global_numpy(global_seed: int) -> Iterator[None]:
    """Seed ``np.random`` (OGBench's envs and oracles draw from it) and restore the caller's state afterwards."""
    saved = np.random.get_state()  # noqa: NPY002  (OGBench's code uses the legacy global generator)
    np.random.seed(global_seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


class _Collector:
    """Collects a contiguous range of episodes into preallocated OGBench-layout arrays."""

    def __init__(self, spec: DatasetSpec, episode_steps: int) -> None:
        self.spec = spec
        self.steps = episode_steps
        self.env: Any = None

    def collect(self, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
        rows = (stop - start) * self.steps
        terminals = np.zeros(rows, dtype=bool)
        terminals[self.steps - 1 :: self.steps] = True  # fixed-length episodes: terminate_at_goal=False
        out: dict[str, np.ndarray] = {}
        for key, (shape, dtype) in self.layout().items():  # OGBench's key order: terminals after actions
            out[key] = np.empty((rows, *shape), dtype=dtype)
            if key == "actions":
                out["terminals"] = terminals
        for i, episode in enumerate(range(start, stop)):
            rng, env_seed, global_seed = _episode_streams(seed, episode)
            with _seeded_global_numpy(global_seed):
                self.run_episode(rng, env_seed, out, i * self.steps)
        return out

    def layout(self) -> dict[str, tuple[tuple[int, ...], type]]:
        raise NotImplementedError

    def run_episode(self, rng: np.random.Generator, env_seed: int, out: dict[str, np.ndarray], row: int) -> None:
        raise NotImplementedError


class _MazeCollector(_Collector):
    """Noisy BFS-oracle point mass (``generate_locomaze.py`` with the point-mass 'expert')."""

    def __init__(self, spec: DatasetSpec, episode_steps: int) -> None:
        super().__init__(spec, episode_steps)
        import gymnasium
        import ogbench.locomaze  # noqa: F401  (registers the maze ids)

        env = gymnasium.make(spec.env_id, terminate_at_goal=False, max_episode_steps=episode_steps)
        self.env = env.unwrapped  # step the raw env: we count steps ourselves, the wrappers only cost time
        maze = np.asarray(self.env.maze_map)
        self.all_cells = [(i, j) for i in range(maze.shape[0]) for j in range(maze.shape[1]) if maze[i, j] == 0]
        self.vertex_cells = [cell for cell in self.all_cells if not _is_corridor(maze, cell)]
        self.maze = maze
        self._subgoals: dict[tuple[tuple[int, int], tuple[int, int]], np.ndarray] = {}
        self._cells_at_4: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def layout(self) -> dict[str, tuple[tuple[int, ...], type]]:
        nq, nv = self.env.model.nq, self.env.model.nv
        ob_dim = int(np.prod(self.env.observation_space.shape))
        return {
            "observations": ((ob_dim,), np.float32),
            "actions": ((2,), np.float32),
            "qpos": ((nq,), np.float32),
            "qvel": ((nv,), np.float32),
        }

    def _subgoal(self, xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        # The oracle's answer depends only on the (current cell, goal cell) pair: its BFS is pure Python and
        # costs as much as the physics step, so it is memoised.
        key = (self.env.xy_to_ij(xy), self.env.xy_to_ij(goal_xy))
        subgoal = self._subgoals.get(key)
        if subgoal is None:
            subgoal = np.asarray(self.env.get_oracle_subgoal(xy, goal_xy)[0], dtype=np.float64)
            self._subgoals[key] = subgoal
        return subgoal

    def _stitch_goal(self, init: tuple[int, int], rng: np.random.Generator) -> tuple[int, int]:
        if init not in self._cells_at_4:
            self._cells_at_4[init] = _cells_at_distance(self.maze, init, 4)
        candidates = self._cells_at_4[init]
        return candidates[rng.integers(len(candidates))] if candidates else init

    def run_episode(self, rng: np.random.Generator, env_seed: int, out: dict[str, np.ndarray], row: int) -> None:
        env, navigate, noise = self.env, self.spec.dataset_type == "navigate", self.spec.noise
        init = self.all_cells[rng.integers(len(self.all_cells))]
        goal = self._stitch_goal(init, rng) if not navigate else self.vertex_cells[rng.integers(len(self.vertex_cells))]
        env.action_space.seed(env_seed)  # reset takes a few random actions from it
        ob, _ = env.reset(seed=env_seed, options=dict(task_info=dict(init_ij=init, goal_ij=goal)))
        observations, actions, qpos, qvel = out["observations"], out["actions"], out["qpos"], out["qvel"]
        noises = rng.normal(0.0, noise, size=(self.steps, 2))
        for t in range(self.steps):
            xy = env.get_xy()
            direction = self._subgoal(xy, env.cur_goal_xy) - xy
            direction /= np.linalg.norm(direction) + 1e-6
            action = np.clip(direction + noises[t], -1.0, 1.0)
            next_ob, _, _, _, info = env.step(action)
            if navigate and info["success"]:
                env.set_goal(self.vertex_cells[rng.integers(len(self.vertex_cells))])
            observations[row + t] = ob
            actions[row + t] = action
            qpos[row + t] = info["prev_qpos"]
            qvel[row + t] = info["prev_qvel"]
            ob = next_ob


def _is_corridor(maze: np.ndarray, cell: tuple[int, int]) -> bool:
    """A straight hallway cell (open on two opposite sides, walled on the other two): never a navigate goal."""
    i, j = cell
    vertical = maze[i - 1, j] == 0 and maze[i + 1, j] == 0 and maze[i, j - 1] == 1 and maze[i, j + 1] == 1
    horizontal = maze[i, j - 1] == 0 and maze[i, j + 1] == 0 and maze[i - 1, j] == 1 and maze[i + 1, j] == 1
    return bool(vertical or horizontal)


def _cells_at_distance(maze: np.ndarray, start: tuple[int, int], distance: int) -> list[tuple[int, int]]:
    """Open cells whose shortest-path distance from ``start`` is exactly ``distance``, in BFS discovery order."""
    depth = {start: 0}
    frontier = [start]
    found: list[tuple[int, int]] = []
    while frontier:
        nxt = []
        for i, j in frontier:
            for di, dj in ((-1, 0), (0, -1), (1, 0), (0, 1)):
                cell = (i + di, j + dj)
                inside = 0 <= cell[0] < maze.shape[0] and 0 <= cell[1] < maze.shape[1]
                if inside and maze[cell] == 0 and cell not in depth:
                    depth[cell] = depth[(i, j)] + 1
                    if depth[cell] == distance:
                        found.append(cell)
                    nxt.append(cell)
        frontier = nxt
    return found


class _ManipCollector(_Collector):
    """OGBench's scripted manipulation oracles (``generate_manipspace.py``)."""

    def __init__(self, spec: DatasetSpec, episode_steps: int) -> None:
        super().__init__(spec, episode_steps)
        import gymnasium

        with warnings.catch_warnings():
            # dm_control probes GLFW when the first manipulation env is built; without a display it warns,
            # although nothing here renders.
            warnings.filterwarnings("ignore", message=".*DISPLAY.*")
            import ogbench.manipspace  # noqa: F401  (registers the manipulation ids)

            env = gymnasium.make(
                spec.env_id, terminate_at_goal=False, mode="data_collection", max_episode_steps=episode_steps
            )
        self.env = env.unwrapped
        self.markov = spec.dataset_type == "noisy"
        self.oracles = _make_oracles(self.env, spec)
        self.has_button_states = hasattr(self.env, "_cur_button_states")
        self._layout: dict[str, tuple[tuple[int, ...], type]] | None = None

    def layout(self) -> dict[str, tuple[tuple[int, ...], type]]:
        if self._layout is None:
            ob, info = self.env.reset(seed=0)
            self._layout = {
                "observations": (ob.shape, np.float32),
                "actions": (self.env.action_space.shape, np.float32),
                "qpos": (info["qpos"].shape, np.float32),
                "qvel": (info["qvel"].shape, np.float32),
            }
            if self.has_button_states:
                self._layout["button_states"] = (info["button_states"].shape, np.int64)
        return self._layout

    def _p_stack(self, rng: np.random.Generator) -> float:
        env_id = self.spec.env_id
        ranges = {"double": (0.0, 0.25), "triple": (0.05, 0.35), "quadruple": (0.1, 0.5), "octuple": (0.0, 0.35)}
        if "single" in env_id:
            return 0.0
        for key, (low, high) in ranges.items():
            if key in env_id:
                return float(rng.uniform(low, high))
        return 0.5

    def run_episode(self, rng: np.random.Generator, env_seed: int, out: dict[str, np.ndarray], row: int) -> None:
        env, steps = self.env, self.steps
        env.action_space.seed(env_seed)
        reset_seed: int | None = env_seed
        while True:  # scene: redo the rare episodes where a cube leaves the camera's view (OGBench's health check)
            ob, info = env.reset(seed=reset_seed)
            reset_seed = None  # a retry continues the episode's random streams
            p_stack = self._p_stack(rng)
            xi = float(rng.uniform(0.0, self.spec.noise)) if self.markov else 0.0
            agent = self.oracles[info["privileged/target_task"]]
            agent.reset(ob, info)
            for t in range(steps):
                if rng.random() < self.spec.p_random_action:
                    action = env.action_space.sample()
                else:
                    action = np.array(agent.select_action(ob, info))
                    if self.markov:
                        action = action + rng.normal(0.0, [xi, xi, xi, xi * 3, xi * 10], action.shape)
                action = np.clip(action, -1.0, 1.0)
                next_ob, _, _, _, info = env.step(action)
                if agent.done:
                    agent_ob, agent_info = env.set_new_target(p_stack=p_stack)
                    agent = self.oracles[agent_info["privileged/target_task"]]
                    agent.reset(agent_ob, agent_info)
                out["observations"][row + t] = ob
                out["actions"][row + t] = action
                out["qpos"][row + t] = info["prev_qpos"]
                out["qvel"][row + t] = info["prev_qvel"]
                if self.has_button_states:
                    out["button_states"][row + t] = info["prev_button_states"]
                ob = next_ob
            if not self.spec.env_id.startswith("scene") or _scene_is_healthy(out["qpos"][row : row + steps]):
                return


def _scene_is_healthy(qpos: np.ndarray) -> bool:
    """OGBench's scene check: the cube never goes too far right, nor too far left unless it is in the drawer."""
    cube = qpos[:, 14:17]
    too_right = (cube[:, 1] >= 0.29).any()
    too_left = ((cube[:, 1] <= -0.3) & ((cube[:, 2] < 0.06) | (cube[:, 2] > 0.08))).any()
    return not (too_right or too_left)


def _make_oracles(env: Any, spec: DatasetSpec) -> dict[str, Any]:
    from ogbench.manipspace.oracles.markov.button_markov import ButtonMarkovOracle
    from ogbench.manipspace.oracles.markov.cube_markov import CubeMarkovOracle
    from ogbench.manipspace.oracles.markov.drawer_markov import DrawerMarkovOracle
    from ogbench.manipspace.oracles.markov.window_markov import WindowMarkovOracle
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    min_norm = 0.4  # OGBench's MarkovOracle default in generate_manipspace.py
    plan = dict(env=env, noise=spec.noise, noise_smoothing=0.5)
    family = spec.env_id.split("-", 1)[0]
    if spec.dataset_type == "noisy":
        if family == "cube":
            return {"cube": CubeMarkovOracle(env=env, min_norm=min_norm)}
        if family == "scene":
            return {
                "cube": CubeMarkovOracle(env=env, min_norm=min_norm, max_step=100),
                "button": ButtonMarkovOracle(env=env, min_norm=min_norm),
                "drawer": DrawerMarkovOracle(env=env, min_norm=min_norm),
                "window": WindowMarkovOracle(env=env, min_norm=min_norm),
            }
        return {"button": ButtonMarkovOracle(env=env, min_norm=min_norm, gripper_always_closed=True)}
    if family == "cube":
        return {"cube": CubePlanOracle(**plan)}
    if family == "scene":
        return {
            "cube": CubePlanOracle(**plan),
            "button": ButtonPlanOracle(**plan),
            "drawer": DrawerPlanOracle(**plan),
            "window": WindowPlanOracle(**plan),
        }
    return {"button": ButtonPlanOracle(**plan, gripper_always_closed=True)}


def _make_collector(spec: DatasetSpec, episode_steps: int) -> _Collector:
    if spec.family == "locomaze":
        return _MazeCollector(spec, episode_steps)
    return _ManipCollector(spec, episode_steps)


def _process_context() -> multiprocessing.context.BaseContext:
    """Fork where it is safe (Linux): workers start in milliseconds and need no ``__main__`` guard in scripts.

    Workers only run MuJoCo and numpy, never torch, so forking a parent that has imported torch is harmless.
    """
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


_WORKER_COLLECTOR: _Collector | None = None


def _init_worker(spec: DatasetSpec, episode_steps: int) -> None:
    global _WORKER_COLLECTOR
    _WORKER_COLLECTOR = _make_collector(spec, episode_steps)


def _collect_in_worker(task: tuple[int, int, int]) -> dict[str, np.ndarray]:
    assert _WORKER_COLLECTOR is not None, "worker used before _init_worker"
    return _WORKER_COLLECTOR.collect(*task)
