"""Measure expert / demonstrator / random on every memory env and write the Markdown table in docs/EXPERTS.md.

Usage: python scripts/expert_table.py --episodes 100 --output docs/EXPERTS.md   (or `make bench`)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import torch

import ttt_gym
from ttt_gym.evaluation import evaluate_success, reference_policies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="docs/EXPERTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)

    rows = []
    for env_id in ttt_gym.ENV_IDS:
        for name, policy in reference_policies(env_id, seed=args.seed).items():
            start = time.perf_counter()
            r = evaluate_success(policy, env_id, args.episodes, seed=args.seed)
            seconds = time.perf_counter() - start
            rows.append(
                f"| `{env_id}` | {name} | {r.success_rate:.3f} | {r.mean_return:.2f} ± {r.std_return:.2f} | "
                f"{r.lengths.mean():.1f} | {r.steps_per_second:,.0f} | {seconds:.1f} |"
            )
            print(rows[-1], flush=True)

    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()},"
        f" torch {torch.__version__}"
    )
    text = (
        f"""# Experts, demonstrators and random policies on the memory environments

Success rate (`info["success"]` at the end of the episode), return and episode length over {args.episodes} seeded
episodes (seeds {args.seed}..{args.seed + args.episodes - 1}) per policy. The expert acts on the privileged state
(`PrivilegedObservation`), the demonstrator and the random policy on the partial observation only.
Success for masked CartPole means surviving 500 steps, for masked Acrobot reaching the goal height.

- Command: `python scripts/expert_table.py --episodes {args.episodes} --seed {args.seed}` (or `make bench`)
- Machine: {machine}; measured {datetime.date.today().isoformat()}.
- Env steps/s include the policy's `predict` (single env, no vectorisation);
  other jobs may share the cores, so read them as lower bounds.

| env | policy | success | return (mean ± std) | length | env steps/s | wall s |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
"""
        + "\n".join(rows)
        + "\n"
    )
    Path(args.output).write_text(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
