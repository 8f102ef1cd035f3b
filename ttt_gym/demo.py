"""The end-to-end demo behind ``make demo`` / ``ttt-gym demo``, on embedded defaults (no download, no server).

1. Memory envs: the privileged expert, the human-like demonstrator and a random policy on each of the suite's own five
   envs (:data:`DEMO_ENV_IDS`), and a rendered privileged view of each.
2. GC-TTT: generate a pointmaze dataset locally with OGBench's protocol, pre-train GC-BC on it, and evaluate it on
   OGBench's five tasks with and without :class:`~ttt_gym.ttt.wrapper.TestTimeTraining`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import ttt_gym
from ttt_gym.evaluation import evaluate_success, reference_policies

#: The memory envs the demo runs: the suite's own five. MiniGrid's Memory ids (also in ``ttt_gym.ENV_IDS``) are left
#: out to keep the demo short; ``ttt-gym evaluate`` runs them.
DEMO_ENV_IDS: tuple[str, ...] = (
    "ttt_gym/MysteryPath-v0",
    "ttt_gym/CoinSearch-v0",
    "ttt_gym/ConfoundedControls-v0",
    "ttt_gym/MaskedCartPole-v1",
    "ttt_gym/MaskedAcrobot-v1",
)


@dataclass(frozen=True)
class DemoConfig:
    """Embedded defaults of the demo; a few minutes on 2 CPU cores."""

    output: Path = Path("runs/demo")
    """Folder for the rendered frames, the generated dataset and the trained agent."""
    seed: int = 0
    """Seed of the dataset, the training and the evaluation episodes."""
    memory_episodes: int = 20
    """Seeded episodes per policy and memory env."""
    dataset: str = "pointmaze-medium-navigate-v0"
    """OGBench dataset generated locally (1000 episodes x 1001 steps, as OGBench's)."""
    dataset_episodes: int = 1000
    """Episodes of the generated dataset."""
    train_steps: int = 20_000
    """GC-BC gradient steps (OGBench trains 1M at 512^3 / batch 1024; this is the CPU budget)."""
    hidden_dims: tuple[int, ...] = (256, 256)
    """GC-BC network widths."""
    episodes_per_task: int = 2
    """Evaluation episodes for each of OGBench's 5 tasks, with and without TTT."""
    ttt_every: int = 100
    """K: steps between adaptations."""
    ttt_steps: int = 100
    """N: fine-tuning steps per adaptation."""


def _save_png(frame: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)


def render_snapshot(env_id: str, path: Path, seed: int = 0, n_steps: int = 12) -> Path:
    """Run the privileged expert for ``n_steps`` and save the privileged view as a PNG."""
    from ttt_envs.experts import make_expert
    from ttt_gym.wrappers import PrivilegedObservation

    env = PrivilegedObservation(gym.make(env_id, render_mode="rgb_array"))
    expert = make_expert(env_id)
    obs, _ = env.reset(seed=seed)
    for _ in range(n_steps):
        action, _ = expert.predict(obs, deterministic=True)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    frame = env.render()
    env.close()
    assert frame is not None
    _save_png(frame, path)
    return path


def memory_env_table(config: DemoConfig) -> None:
    """Print expert / demonstrator / random on each of :data:`DEMO_ENV_IDS` and save a privileged view of each."""
    print(f"== Memory environments: {config.memory_episodes} seeded episodes per policy\n")
    header = f"{'env':<32}{'expert':>10}{'demonstrator':>14}{'random':>10}   metric"
    print(header)
    print("-" * len(header))
    for env_id in DEMO_ENV_IDS:
        metric = "return" if "Masked" in env_id else "success"
        cells = []
        for policy in reference_policies(env_id, seed=config.seed).values():
            r = evaluate_success(policy, env_id, config.memory_episodes, seed=config.seed)
            cells.append(f"{r.mean_return:.1f}" if metric == "return" else f"{r.success_rate:.2f}")
        print(f"{env_id:<32}{cells[0]:>10}{cells[1]:>14}{cells[2]:>10}   {metric}")
        render_snapshot(env_id, config.output / "frames" / f"{env_id.split('/')[1]}.png", seed=config.seed, n_steps=8)
    print(f"\nPrivileged views written to {config.output / 'frames'}/\n")


def gcttt_comparison(config: DemoConfig) -> dict[str, float]:
    """Generate data, pre-train GC-BC, evaluate with and without GC-TTT; returns the two success rates."""
    from ttt_gym import GCBC, GoalDataset, TestTimeTraining, evaluate_goal_policy, generate_dataset
    from ttt_gym.data import dataset_paths
    from ttt_gym.goal_evaluation import make_goal_env

    print(f"== GC-TTT on {config.dataset}")
    data_dir = config.output / "data"
    train_path, _ = dataset_paths(config.dataset, data_dir)
    start = time.perf_counter()
    if not Path(train_path).exists():
        print(f"generating {config.dataset_episodes} episodes with OGBench's protocol (seeded)...")
        generate_dataset(config.dataset, num_episodes=config.dataset_episodes, seed=config.seed, path=data_dir)
    dataset = GoalDataset.load(train_path)
    print(f"dataset: {len(dataset):,} transitions ({time.perf_counter() - start:.0f} s)")

    start = time.perf_counter()
    agent = GCBC(
        make_goal_env(config.dataset), dataset, hidden_dims=config.hidden_dims, batch_size=256, seed=config.seed
    )
    agent.learn(config.train_steps, progress_bar=True, log_interval=config.train_steps)
    print(f"GC-BC pre-trained for {config.train_steps:,} steps ({time.perf_counter() - start:.0f} s)")

    results = {}
    for label, model in (
        ("GC-BC", agent),
        ("GC-BC + TTT", TestTimeTraining(agent, dataset, every=config.ttt_every, steps=config.ttt_steps)),
    ):
        start = time.perf_counter()
        result = evaluate_goal_policy(model, config.dataset, episodes_per_task=config.episodes_per_task, seed=0)
        per_task = " ".join(f"{v:.2f}" for v in result.task_success.values())
        print(
            f"{label:<12} success {result.success_rate:.2f}  (tasks 1-5: {per_task}; "
            f"{result.steps_per_second:,.0f} steps/s; {time.perf_counter() - start:.0f} s)"
        )
        results[label] = result.success_rate
    n = 5 * config.episodes_per_task
    print(f"\n{n} episodes each: a smoke-sized comparison. The measured tables are in docs/BENCHMARKS.md.")
    return results


def run_demo(config: DemoConfig, parts: tuple[str, ...] = ("memory", "gcttt")) -> None:
    # The demo's nets are small (256x256, batch 256): one thread is as fast as two on 2 cores and far faster when
    # anything else runs beside it (measured: 205 vs 13 GC-BC steps/s with the machine shared).
    torch.set_num_threads(1)
    print(f"ttt_gym {ttt_gym.__version__}\n")
    start = time.perf_counter()
    if "memory" in parts:
        memory_env_table(config)
    if "gcttt" in parts:
        gcttt_comparison(config)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s")
