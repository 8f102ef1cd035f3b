"""The ant expert cost benchmark times SAC on OGBench's directional ant and extrapolates consistently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import ant_expert_cost


def test_directional_ant_rewards_motion_along_its_direction() -> None:
    env = ant_expert_cost.make_ant_xy_env()
    observation, _ = env.reset(seed=0)
    direction = observation[-2:]
    assert np.isclose(np.linalg.norm(direction), 1.0)  # the task's unit direction ends the observation
    before = env.unwrapped.data.qpos[:2].copy()
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert reward == pytest.approx(float((info["xy"] - before) @ direction))
    env.close()


def test_smoke_run_writes_rates_and_an_extrapolation_that_adds_up(tmp_path: Path) -> None:
    config = json.loads(ant_expert_cost.DEFAULT_CONFIG.read_text())
    config.update(learning_starts=20, target_steps=1000, sac={**config["sac"], "policy_kwargs": {"net_arch": [16]}})
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    out = tmp_path / "result.json"
    ant_expert_cost.main(["--config", str(config_path), "--measure-steps", "10", "--output", str(out)])
    result = json.loads(out.read_text())
    assert result["smoke"] and result["measured_sac_steps"] == 10
    assert result["sac_steps_per_second"] > 0 and result["random_steps_per_second"] > 0
    seconds = 20 / result["random_steps_per_second"] + 980 / result["sac_steps_per_second"]
    assert result["estimated_hours_one_process"] == pytest.approx(seconds / 3600, abs=0.01)


def test_smoke_run_needs_its_own_output() -> None:
    with pytest.raises(SystemExit):
        ant_expert_cost.main(["--measure-steps", "10"])
