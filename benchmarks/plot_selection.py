"""The GC-TTT paper's Figure 4 on pointmaze-medium: the data GC-TTT selects at each adaptation of one episode.

    .venv/bin/python -m benchmarks.plot_selection                 # task 1 -> docs/images/gc_ttt_selection.png
    .venv/bin/python -m benchmarks.plot_selection --task 3 --output /tmp/selection-task3.png

It builds the agent, critic, selector and wrapper exactly as ``benchmarks.run_ttt`` does for ``--config`` (default:
GC-BC with the GCIVL critic, ``gcbc-gc-ttt-gcivl-pointmaze-medium-navigate``; agents
``runs/agents/{agent}-{dataset}-s{seed}.pt``), runs one evaluation episode of ``--task`` with OGBench's protocol
(deterministic actions, reset seed as in the benchmark: ``seed + row * episodes_per_task + episode``) and draws the
maze walls, a faint random subset of the dataset's positions, the agent's trajectory, its start and goal, and for
each adaptation the selected dataset states (coloured by adaptation) with the first ``--horizon`` steps of a few of
their sub-trajectories, i.e. where the selected data leads. The wrapper does not expose the selected indices, so the
selector is wrapped here in a :class:`RecordingSelector` that keeps them.

OGBench (1.2.2) draws the start and goal noise from the global ``np.random`` and the settling actions of ``reset``
from the env's action space, neither of which ``reset(seed=...)`` seeds; this script seeds both with the reset seed,
as the benchmark's evaluation does (``ttt_gym.goal_evaluation.seeded_reset``). The episode still differs from the
benchmark's episode of the same reset seed: there the wrapper and the selector's subsampling generator have already
served the earlier episodes.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.run_ttt import REPO_ROOT, load_agent_and_critic, load_config
from ttt_gym.ttt.selection import GoalRelatedSelector, Selector

DEFAULT_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "ttt" / "gcbc-gc-ttt-gcivl-pointmaze-medium-navigate.json"
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "images" / "gc_ttt_selection.png"


@dataclass(frozen=True)
class Selection:
    """One call of the selector: when, from where, and what it returned."""

    step: int
    """Env steps taken in the episode before this adaptation."""
    state: np.ndarray
    """The agent's observation the selection was made for."""
    indices: np.ndarray
    """Selected dataset transition indices: the states fine-tuned on."""
    starts: np.ndarray
    """Start indices of the selected sub-trajectories (the selected indices themselves for other selectors)."""
    stops: np.ndarray
    """Their exclusive stops (``GoalRelatedSelector.subtrajectory_bounds``: cut at g* and at the best checkpoint)."""
    relevant: int
    """Size of the relevant set (``selector.stats.last_relevant``)."""


class RecordingSelector:
    """Passes ``select`` through to ``selector`` and records each call (the wrapper only keeps counters).

    Args:
        selector: A :class:`ttt_gym.ttt.selection.Selector`; its ``stats`` object is shared, not copied.
    """

    def __init__(self, selector: Selector) -> None:
        self.selector = selector
        self.stats = selector.stats
        self.step = 0
        """Set by the episode loop before each ``predict``: the step a selection happens at."""
        self.records: list[Selection] = []

    def select(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        if isinstance(self.selector, GoalRelatedSelector):
            # select() in parts, to keep the sub-trajectories' bounds as well as the states fine-tuned on.
            tic = time.perf_counter()
            starts, stops = self.selector.subtrajectory_bounds(self.selector.select_starts(state, goal), goal)
            indices = self.selector.subtrajectories(starts, goal)
            elapsed_ms = 1e3 * (time.perf_counter() - tic)
            self.stats.last_selected = len(indices)
            self.stats.last_ms = elapsed_ms
            self.stats.total_ms += elapsed_ms
        else:
            indices = self.selector.select(state, goal).indices
            starts, stops = indices, indices + 1
        relevant = int(self.stats.last_relevant)
        self.records.append(
            Selection(self.step, np.array(state, copy=True), indices.copy(), starts.copy(), stops.copy(), relevant)
        )
        return indices


@dataclass(frozen=True)
class Episode:
    """What one evaluation episode produced."""

    positions: np.ndarray
    """``(steps + 1, 2)`` x-y of the agent, the start included."""
    goal: np.ndarray
    """Goal x-y."""
    success: bool
    reset_seed: int
    selections: list[Selection]
    min_selected: int
    """Selections smaller than this were not fine-tuned on (the wrapper acted with the pretrained weights)."""
    horizon_steps: int
    """The selector's H (50 when it has none): how much of each selected sub-trajectory to draw."""
    seconds: float


def run_episode(
    config: dict[str, Any], seed: int, task: int, episode: int, agent_dir: Path
) -> tuple[Episode, Any, Any]:
    """One episode of the config's agent with GC-TTT, its selections recorded; also returns the dataset and env."""
    import torch

    torch.set_num_threads(int(config["torch_threads"]))
    from ttt_gym.data import GoalDataset
    from ttt_gym.goal_evaluation import make_goal_env
    from ttt_gym.ttt.selection import make_selector
    from ttt_gym.ttt.wrapper import TestTimeTraining
    from ttt_gym.wrappers import GoalObservation

    env_name = config["env_name"]
    dataset = GoalDataset.from_name(env_name)
    agent, _, critic, _ = load_agent_and_critic(config, seed, agent_dir, dataset)  # as run_ttt.py does
    selector = make_selector(config["selector"]["kind"], dataset, critic, **config["selector"].get("kwargs", {}))
    recorder = RecordingSelector(selector)
    ttt = TestTimeTraining(agent, dataset, selector=recorder, seed=seed, **config["ttt"])

    evaluation = config["eval"]
    tasks = list(evaluation.get("tasks", (1, 2, 3, 4, 5)))
    if task not in tasks:
        raise ValueError(f"--task {task} is not one of the config's tasks {tasks}.")
    episodes_per_task = int(evaluation["episodes_per_task"])
    reset_seed = seed + tasks.index(task) * episodes_per_task + episode  # as in evaluate_goal_policy
    env = GoalObservation(make_goal_env(env_name), full_goal=True)
    coordinates = dataset.goal_space.coordinates if dataset.goal_space is not None else (lambda x: x[..., :2])

    tic = time.perf_counter()
    np.random.seed(reset_seed)  # noqa: NPY002  OGBench's start / goal noise reads the legacy global RNG
    env.unwrapped.action_space.seed(reset_seed)
    obs, info = env.reset(seed=reset_seed, options=dict(task_id=task))
    positions = [coordinates(obs["observation"])]
    done, steps, success = False, 0, False
    while not done:
        recorder.step = steps
        action, _ = ttt.predict(obs, episode_start=np.array([steps == 0]), deterministic=True)
        obs, _, terminated, truncated, info = env.step(action)
        positions.append(coordinates(obs["observation"]))
        steps += 1
        success = bool(info.get("success", False))
        done = terminated or truncated
    seconds = time.perf_counter() - tic
    ttt.close()
    result = Episode(
        positions=np.asarray(positions, dtype=np.float64),
        goal=np.asarray(coordinates(obs["desired_goal"]), dtype=np.float64),
        success=success,
        reset_seed=reset_seed,
        selections=recorder.records,
        min_selected=ttt.min_selected,
        horizon_steps=int(getattr(selector, "horizon_steps", 50)),
        seconds=seconds,
    )
    return result, dataset, env


def draw_walls(ax: Any, maze: Any) -> None:
    """OGBench maze blocks: cell (i, j) of ``maze_map`` is a square of side ``_maze_unit`` centred at
    ``(j * unit - offset_x, i * unit - offset_y)`` (``ogbench.locomaze.maze``)."""
    from matplotlib.patches import Rectangle

    unit, off_x, off_y = maze._maze_unit, maze._offset_x, maze._offset_y
    for i, j in zip(*np.nonzero(np.asarray(maze.maze_map) == 1), strict=True):
        x, y = j * unit - off_x - unit / 2, i * unit - off_y - unit / 2
        ax.add_patch(Rectangle((x, y), unit, unit, facecolor="0.55", edgecolor="none", zorder=0))


def plot(
    result: Episode,
    dataset: Any,
    maze: Any,
    output: Path,
    *,
    title: str,
    paths_per_adaptation: int,
    seed: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    rng = np.random.default_rng(seed)
    xy = dataset.goal_coordinates
    fig, ax = plt.subplots(figsize=(8.4, 7.2))
    if maze is not None and hasattr(maze, "maze_map"):
        draw_walls(ax, maze)
    background = rng.choice(len(xy), size=min(60_000, len(xy)), replace=False)
    ax.scatter(xy[background, 0], xy[background, 1], s=0.3, c="0.8", linewidths=0, zorder=1, rasterized=True)

    n = max(len(result.selections), 1)
    if n > 10:
        cmap: Any = plt.get_cmap("viridis")
        norm: Any = colors.Normalize(vmin=-0.5, vmax=n - 0.5)
    else:  # tab10 with its grey (the background's colour) swapped for navy
        palette = [colors.to_rgb(f"C{i}") for i in range(10)]
        palette[7] = colors.to_rgb("navy")
        cmap, norm = colors.ListedColormap(palette[:n]), colors.BoundaryNorm(np.arange(n + 1) - 0.5, n)
    last_row = np.arange(len(dataset)) + dataset.steps_to_end
    for k, selection in enumerate(result.selections):
        color = cmap(norm(k))
        used = len(selection.indices) >= result.min_selected
        if len(selection.indices):
            # Where the selected data leads: a few selected sub-trajectories, drawn up to their stop (the next
            # horizon_steps for other selectors).
            shown = rng.choice(
                len(selection.starts), size=min(paths_per_adaptation, len(selection.starts)), replace=False
            )
            for row in shown:
                start = selection.starts[row]
                stop = selection.stops[row] if selection.stops[row] > start + 1 else start + result.horizon_steps
                stop = min(stop, last_row[start] + 1)
                ax.plot(xy[start:stop, 0], xy[start:stop, 1], color=color, lw=0.6, alpha=0.45, zorder=2)
            ax.scatter(
                xy[selection.indices, 0],
                xy[selection.indices, 1],
                s=5 if used else 12,
                color=color,
                marker="o" if used else "x",
                linewidths=0 if used else 0.8,
                alpha=0.9,
                zorder=3,
            )
        state_xy = result.positions[selection.step]
        ax.scatter(state_xy[0], state_xy[1], s=40, color=color, edgecolors="black", linewidths=0.8, zorder=5)

    ax.plot(result.positions[:, 0], result.positions[:, 1], color="black", lw=1.4, zorder=4, label="agent trajectory")
    ax.scatter(
        result.positions[0, 0],
        result.positions[0, 1],
        s=140,
        marker="o",
        color="white",
        edgecolors="black",
        lw=2,
        zorder=6,
        label="start",
    )
    ax.scatter(
        result.goal[0], result.goal[1], s=260, marker="*", color="red", edgecolors="black", lw=1, zorder=6, label="goal"
    )
    tolerance = dataset.goal_space.tolerance if dataset.goal_space is not None else None
    if tolerance:
        ax.add_patch(plt.Circle(tuple(result.goal), tolerance, fill=False, color="red", lw=1, ls="--", zorder=6))

    if result.selections:
        mappable = cm.ScalarMappable(norm=norm, cmap=cmap)
        ticks = list(range(0, n, -(-n // 12)))  # at most 12 labels (K=25 adapts up to 40 times)
        bar = fig.colorbar(mappable, ax=ax, fraction=0.04, pad=0.02, ticks=ticks)
        bar.ax.set_yticklabels([f"{k}: step {result.selections[k].step}" for k in ticks], fontsize=7)
        bar.ax.set_ylim(-0.5, n - 0.5)
        bar.set_label("adaptation (env step): selected dataset states")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=8, frameon=False)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    lo, hi = xy.min(axis=0) - 1.0, xy.max(axis=0) + 1.0
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="a benchmarks/configs/ttt/*.json")
    parser.add_argument("--seed", type=int, default=0, help="agent seed (and the benchmark's reset seed base)")
    parser.add_argument("--task", type=int, default=1, help="OGBench task id")
    parser.add_argument("--episode", type=int, default=0, help="which episode of the task, as in the benchmark")
    parser.add_argument("--agent-dir", type=Path, default=REPO_ROOT / "runs" / "agents", help="saved agents")
    parser.add_argument("--paths-per-adaptation", type=int, default=25, help="selected sub-trajectories drawn")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    config = load_config(args.config)
    result, dataset, env = run_episode(config, args.seed, args.task, args.episode, args.agent_dir.resolve())
    steps = len(result.positions) - 1
    print(
        f"{config['name']} seed {args.seed}, task {args.task}, reset seed {result.reset_seed}: "
        f"{'success' if result.success else 'failure'} after {steps} steps ({result.seconds:.1f} s)"
    )
    for k, selection in enumerate(result.selections):
        x, y = result.positions[selection.step]
        note = "" if len(selection.indices) >= result.min_selected else " (too few: acted pretrained)"
        print(
            f"  adaptation {k} at step {selection.step:4d}, agent at ({x:5.1f}, {y:5.1f}): "
            f"{len(selection.starts)} sub-trajectories of {selection.relevant} relevant, {len(selection.indices)} "
            f"states{note}"
        )
    kind = config["selector"]["kind"] + (
        f" + {config['selector']['critic']} critic" if config["selector"]["critic"] else ""
    )
    title = (
        f"{config['name']} (seed {args.seed})\n"
        f"task {args.task}, reset seed {result.reset_seed}: {'success' if result.success else 'failure'} after "
        f"{steps} steps; selector {kind}, K={config['ttt']['every']}, N={config['ttt']['steps']}\n"
        f"dots: selected states; lines: {args.paths_per_adaptation} of the selected sub-trajectories per adaptation; "
        "x: too few selected, not fine-tuned"
    )
    plot(
        result,
        dataset,
        env.unwrapped,
        args.output,
        title=title,
        paths_per_adaptation=args.paths_per_adaptation,
        seed=args.seed,
    )
    env.close()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
