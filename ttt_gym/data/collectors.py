"""Collection of OGBench-format episodes (runs in :func:`ttt_gym.data.generate_dataset`'s worker processes).

A collector fills preallocated OGBench-layout arrays for a contiguous range of episodes; episode ``k`` draws only from
streams seeded by ``(seed, k)``. See :mod:`ttt_gym.data.generate` for the protocols reproduced.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ttt_gym.data.specs import DatasetSpec

__all__ = ["Collector", "make_collector"]


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


class Collector:
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


class MazeCollector(Collector):
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


class ManipCollector(Collector):
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


def make_collector(spec: DatasetSpec, episode_steps: int) -> Collector:
    if spec.family == "locomaze":
        return MazeCollector(spec, episode_steps)
    return ManipCollector(spec, episode_steps)
