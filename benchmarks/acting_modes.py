"""Test success of trained memory actors acting both ways, by the mode and by seeded samples: a diagnostic.

The memory table reports each actor acting the way its validation episodes preferred (``deterministic`` in its
result). A memoryless actor (ctx=1, MLP) can only guess where memory is needed, and guessing by samples can succeed
by chance where the mode always makes the same choice, so the acting mode alone can move its floor. This script
evaluates the saved actors of the table (``runs/memory/{config}-{policy}-s{seed}.pt``, written by
``benchmarks.run_memory``) on the same test episodes, once per mode. It selects nothing: the table keeps the
validated mode, and these numbers are read beside it::

    .venv/bin/python -m benchmarks.acting_modes --configs mystery-path coin-search confounded-controls \\
        --policies transformer-ctx1 mlp --seeds 0 1 2

Results: one JSON per (config, policy, seed) in ``benchmarks/results/acting_modes/`` (a present file is skipped).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, read_config, run_record, write_json_atomic

CONFIG_DIR = REPO_ROOT / "benchmarks" / "configs" / "memory"
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "acting_modes"
ACTOR_DIR = REPO_ROOT / "runs" / "memory"


def evaluate_modes(actor_path: Path, config: dict[str, Any], seed: int) -> dict[str, Any]:
    """Success of the actor at ``actor_path`` on ``run_memory``'s test episodes of ``seed``, in each acting mode."""
    from ttt_gym.evaluation import evaluate_success
    from ttt_gym.policies import load_actor

    actor = load_actor(actor_path)
    record: dict[str, Any] = {"validated_deterministic": actor.validated_deterministic}
    for name, deterministic in (("mode", True), ("samples", False)):
        result = evaluate_success(
            actor,
            config["env_id"],
            int(config["eval"]["episodes"]),
            seed=10_000 + 1000 * seed,  # run_memory's test seeds
            deterministic=deterministic,
            env_kwargs=config.get("env_kwargs", {}),
            n_envs=int(config["eval"].get("n_envs", 1)),
        )
        record[name] = {"success": result.success_rate, "return_mean": result.mean_return}
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", required=True, help="memory config names (benchmarks/configs/memory)")
    parser.add_argument("--policies", nargs="+", required=True, help="policy names as in the configs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    import torch

    for name in args.configs:
        required = ("name", "env_id", "eval", "torch_threads")
        config = read_config(CONFIG_DIR / f"{name}.json", required, "a memory config")
        torch.set_num_threads(int(config["torch_threads"]))
        for policy in args.policies:
            for seed in args.seeds:
                out = args.output_dir / f"{name}-{policy}-s{seed}.json"
                actor_path = ACTOR_DIR / f"{name}-{policy}-s{seed}.pt"
                if out.exists():
                    continue
                if not actor_path.is_file():
                    raise FileNotFoundError(
                        f"{actor_path} is missing: train it first with `python -m benchmarks.run_memory --config "
                        f"benchmarks/configs/memory/{name}.json --policies {policy} --seeds {seed}`."
                    )
                started, load_start, tic = dt.datetime.now(dt.timezone.utc), os.getloadavg(), time.perf_counter()
                record = {
                    "name": name,
                    "policy": policy,
                    "seed": seed,
                    "actor_path": os.path.relpath(actor_path, REPO_ROOT),
                    **evaluate_modes(actor_path, config, seed),
                    "seconds": round(time.perf_counter() - tic, 1),
                    **run_record(started, module="benchmarks.acting_modes", argv=argv, start=load_start),
                }
                write_json_atomic(out, record)
                print(
                    f"[{name}-{policy}-s{seed}] mode {record['mode']['success']:.3f}  "
                    f"samples {record['samples']['success']:.3f}  (validated: "
                    f"{'mode' if record['validated_deterministic'] else 'samples'})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
