"""Per-step inference cost of the actors against episode length: ``python -m ttt_gym.policies.latency``.

One env, ``predict(deterministic=True)`` from numpy to numpy, one long episode per actor and repeat. The cost at
length T is averaged over the 16 steps ending at T (a whole TTT-E2E chunk, so its once-per-chunk update is amortised
as it is in an episode). A first episode per actor counts FLOPs (torch's ``FlopCounterMode``: matmuls, exact and
independent of the machine's load); the timed episodes follow, interleaved across actors so that a burst of load from
other processes does not land on one actor only, and each window keeps its fastest repeat.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch.utils.flop_counter import FlopCounterMode

from ttt_gym.policies import ACTORS, SequenceActor

WINDOW = 16
CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    # the defaults of the actors (embed_dim 64, 2 layers, 2 heads, chunk / mini-batch 16)
    "small": {"transformer": {}, "ttt_linear": {}, "ttt_e2e": {}, "gru": {}},
    # the blog's Mystery Path configuration: D=512, L=4, H=2, M=16
    "blog": {
        "transformer": {"embed_dim": 512, "num_layers": 4, "num_heads": 2},
        "ttt_linear": {"embed_dim": 512, "num_layers": 4, "num_heads": 2, "mini_batch_size": 16},
        "ttt_e2e": {"embed_dim": 512, "num_layers": 4, "num_heads": 2, "chunk_size": 16},
        "gru": {"embed_dim": 512, "hidden_dim": 512, "num_layers": 4},
    },
}


def run_episode(
    actor: SequenceActor, observations: np.ndarray, lengths: list[int], count_flops: bool = False
) -> tuple[dict[int, float], int]:
    """Mean per-step milliseconds (or FLOPs) over the window ending at each length, and the final state bytes."""
    in_window = np.zeros(len(observations), dtype=bool)
    for length in lengths:
        in_window[length - WINDOW : length] = True
    costs = np.zeros(len(observations))
    state = None
    for t, observation in enumerate(observations):
        if count_flops and in_window[t]:
            with FlopCounterMode(display=False) as counter:
                _, state = actor.predict(observation, state, deterministic=True)
            costs[t] = counter.get_total_flops()
        elif count_flops:
            _, state = actor.predict(observation, state, deterministic=True)
        else:
            start = time.perf_counter()
            _, state = actor.predict(observation, state, deterministic=True)
            costs[t] = (time.perf_counter() - start) * 1e3
    assert state is not None
    state_bytes = sum(v.numel() * v.element_size() for v in state.values())
    return {length: float(costs[length - WINDOW : length].mean()) for length in lengths}, state_bytes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 256, 1024, 4096])
    parser.add_argument("--actors", nargs="+", default=None, help="subset of the actors (default: all four)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed episodes per actor; the fastest window counts")
    args = parser.parse_args(argv)
    if min(args.lengths) < WINDOW:
        parser.error(f"lengths must be >= {WINDOW}")
    torch.set_num_threads(args.threads)
    observation_space = spaces.Box(-1.0, 1.0, (5,), dtype=np.float32)  # MysteryPath-sized
    action_space = spaces.Discrete(4)
    observations = np.random.default_rng(0).uniform(-1, 1, size=(max(args.lengths), 5)).astype(np.float32)
    actors = {
        name: ACTORS[name](observation_space, action_space, **config)
        for name, config in CONFIGS[args.config].items()
        if not args.actors or name in args.actors
    }
    print(f"config={args.config} threads={args.threads} repeats={args.repeats}")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    flops, state_kib = {}, {}
    for name, actor in actors.items():
        flops[name], state_bytes = run_episode(actor, observations, args.lengths, count_flops=True)
        state_kib[name] = state_bytes / 1024
    best = {name: dict.fromkeys(args.lengths, float("inf")) for name in actors}
    for _ in range(args.repeats):
        for name, actor in actors.items():
            milliseconds, _ = run_episode(actor, observations, args.lengths)
            best[name] = {n: min(best[name][n], milliseconds[n]) for n in args.lengths}
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    columns = " | ".join(f"T={n}" for n in args.lengths)
    for title, table, fmt in (("ms per step", best, "{:.2f}"), ("MFLOP per step", flops, "{:.2f}")):
        print(f"\n{title}\n| actor | {columns} | state KiB at T={max(args.lengths)} |")
        print("|" + "---|" * (len(args.lengths) + 2))
        for name in actors:
            values = [table[name][n] / (1e6 if table is flops else 1.0) for n in args.lengths]
            print(f"| {name} | " + " | ".join(fmt.format(v) for v in values) + f" | {state_kib[name]:.0f} |")


if __name__ == "__main__":
    main()
