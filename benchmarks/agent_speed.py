"""Gradient steps per second of the agents, and the fraction of the machine's matmul throughput they reach.

Run ``python -m benchmarks.agent_speed --threads 2`` (see ``--help``). The data are synthetic pointmaze-sized
trajectories (2-d observations and actions); the timed loop is :meth:`GoalConditionedAgent.learn`, batch sampling
included. FLOPs per step are counted by ``torch.utils.flop_counter`` (matmuls of the forward and backward passes).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch.utils.flop_counter import FlopCounterMode

from ttt_gym.agents import AGENTS, TensorBatch
from ttt_gym.data import GoalDataset


@dataclass(frozen=True)
class SpeedResult:
    """One measurement of :func:`measure_update_speed`."""

    agent: str
    hidden_dims: tuple[int, ...]
    batch_size: int
    steps_per_second: float
    gflop_per_step: float
    matmul_gflops: float
    """Throughput of a 1024x512 @ 512x512 float32 matmul measured just before, same thread count."""

    @property
    def achieved_gflops(self) -> float:
        return self.steps_per_second * self.gflop_per_step

    def __str__(self) -> str:
        dims = "x".join(map(str, self.hidden_dims))
        return (
            f"{self.agent:6s} {dims:>11s} batch {self.batch_size:5d}: {self.steps_per_second:7.1f} steps/s, "
            f"{self.gflop_per_step:6.3f} GFLOP/step, {self.achieved_gflops:6.1f} GFLOP/s = "
            f"{100 * self.achieved_gflops / self.matmul_gflops:4.0f}% of the matmul rate "
            f"({self.matmul_gflops:.0f} GFLOP/s)"
        )


def synthetic_dataset(n_transitions: int = 100_000, episode_length: int = 1000, seed: int = 0) -> GoalDataset:
    """Random-walk trajectories with pointmaze's dimensions."""
    rng = np.random.default_rng(seed)
    actions = np.clip(rng.normal(size=(n_transitions, 2)), -1, 1).astype(np.float32)
    observations = np.cumsum(0.1 * actions, axis=0).astype(np.float32)
    terminals = np.zeros(n_transitions)
    terminals[episode_length - 1 :: episode_length] = 1
    terminals[-1] = 1
    return GoalDataset.from_arrays(observations, actions, terminals)


def matmul_gflops(seconds: float = 1.0, device: str | torch.device = "cpu") -> float:
    """Float32 throughput of a matmul on ``device`` (the CPU: at the thread count set; 1024x512 @ 512x512, a 512^3
    agent's layer. CUDA: 8192^3, the size that reaches the card's float32 rate, with torch's default precision)."""
    device = torch.device(device)
    n, k, m = (8192, 8192, 8192) if device.type == "cuda" else (1024, 512, 512)
    x, w = torch.randn(n, k, device=device), torch.randn(k, m, device=device)
    for _ in range(3):
        x @ w
    if device.type == "cuda":
        torch.cuda.synchronize()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        x @ w
        count += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    return 2 * n * k * m * count / (time.perf_counter() - start) / 1e9


def measure_update_speed(
    agent: str,
    hidden_dims: tuple[int, ...],
    batch_size: int,
    dataset: GoalDataset,
    *,
    seconds: float = 10.0,
    device: str = "cpu",
) -> SpeedResult:
    """Time :meth:`learn` for about ``seconds`` after a warm-up and count the FLOPs of one step."""
    model = AGENTS[agent]((spaces.Box(-np.inf, np.inf, (2,)), spaces.Box(-1, 1, (2,))), dataset,
                          hidden_dims=hidden_dims, batch_size=batch_size, device=device)  # fmt: skip
    batch = TensorBatch.from_batch(dataset.sample(batch_size, model.rng, model.config.goal_sampling()), model.device)
    with FlopCounterMode(display=False) as counter:
        model._train_step(batch)
    gflop = counter.get_total_flops() / 1e9
    peak = matmul_gflops(device=model.device)
    model.learn(3, progress_bar=False, log_interval=0)
    start = time.perf_counter()
    model.learn(1, progress_bar=False, log_interval=0)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    per_step = time.perf_counter() - start
    steps = max(3, int(seconds / max(per_step, 1e-6)))
    start = time.perf_counter()
    model.learn(steps, progress_bar=False, log_interval=0)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    rate = steps / (time.perf_counter() - start)
    return SpeedResult(agent, tuple(hidden_dims), batch_size, rate, gflop, peak)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--agents", nargs="+", default=["gcbc", "gciql"], choices=sorted(AGENTS))
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per configuration")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dataset = synthetic_dataset()
    print(f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}")
    for name in args.agents:
        for dims, batch_size in (((512, 512, 512), 1024), ((256, 256), 256)):
            print(measure_update_speed(name, dims, batch_size, dataset, seconds=args.seconds, device=args.device),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
