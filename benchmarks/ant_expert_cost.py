"""How long OGBench's low-level ant expert would take to train on this machine with SB3's SAC (issue: antmaze data).

OGBench's antmaze datasets are collected by a SAC ant expert trained on a directional locomotion task
(``online-ant-xy-v0``: OGBench's ant, rewarded for moving along a direction resampled every 100 steps) for 400,000
steps. Its weights cannot be downloaded here, so generating antmaze locally needs that expert trained first. This
script times SB3's SAC on the same task for a few thousand steps and extrapolates:

    .venv/bin/python -m benchmarks.ant_expert_cost            # writes benchmarks/results/ant_expert_cost.json

The estimate is a measurement of the update rate, not of how many steps reach a good expert: OGBench's own count
(400,000) is taken as given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, output_path, read_config, run_record, write_json_atomic

DEFAULT_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "ant_expert_cost.json"
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "ant_expert_cost.json"
REQUIRED_KEYS = ("name", "env_id", "target_steps", "measure_steps", "learning_starts", "torch_threads", "sac")


def make_ant_xy_env() -> Any:
    """OGBench's directional ant task, as its ``main_sac.py`` builds ``online-ant-xy-v0``."""
    import gymnasium as gym
    import ogbench.online_locomotion  # noqa: F401  (registers online-ant-v0)
    from ogbench.online_locomotion.wrappers import GymXYWrapper

    return GymXYWrapper(gym.make("online-ant-v0"), resample_interval=100)


def measure(config: dict[str, Any], measure_steps: int) -> dict[str, Any]:
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(int(config["torch_threads"]))
    learning_starts = int(config["learning_starts"])
    marks: dict[str, float] = {}

    class Clock(BaseCallback):
        """Times the first env step and the first step with gradient updates."""

        def _on_step(self) -> bool:
            if self.num_timesteps == 1:
                marks["start"] = time.perf_counter()
            if self.num_timesteps == learning_starts + 1:
                marks["updates"] = time.perf_counter()
            return True

    sac = dict(config["sac"])
    model = SAC("MlpPolicy", make_ant_xy_env(), learning_starts=learning_starts, seed=0, device="cpu", **sac)
    model.learn(total_timesteps=learning_starts + measure_steps, callback=Clock())
    end = time.perf_counter()
    random_rate = learning_starts / (marks["updates"] - marks["start"])
    update_rate = measure_steps / (end - marks["updates"])
    target = int(config["target_steps"])
    hours = (learning_starts / random_rate + (target - learning_starts) / update_rate) / 3600
    return {
        "random_steps_per_second": round(random_rate, 1),
        "sac_steps_per_second": round(update_rate, 1),
        "measured_sac_steps": measure_steps,
        "target_steps": target,
        "estimated_hours_one_process": round(hours, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ant_expert_cost", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--measure-steps", type=int, help="smoke run: fewer timed SAC steps (needs --output)")
    args = parser.parse_args(argv)
    config = read_config(args.config, REQUIRED_KEYS, "an ant expert cost config")
    out = output_path(
        parser, args.output, DEFAULT_OUTPUT, smoke_flags="--measure-steps" if args.measure_steps else None
    )
    started, start_load = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    result = measure(config, int(args.measure_steps or config["measure_steps"]))
    print(
        f"SAC on the directional ant: {result['sac_steps_per_second']} steps/s with updates "
        f"({result['random_steps_per_second']} random); {result['target_steps']:,} steps would take "
        f"{result['estimated_hours_one_process']} h in one process"
    )
    record = {"name": config["name"], "config": config, "smoke": args.measure_steps is not None, **result}
    record.update(run_record(started, module="benchmarks.ant_expert_cost", argv=argv, start=start_load))
    write_json_atomic(out, record)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
