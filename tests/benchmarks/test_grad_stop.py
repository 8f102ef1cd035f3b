"""The gradient-stopping sweep: counters, FLOPs, the grid, the report files and bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import ttt_gym  # noqa: F401  (registers the envs)
from benchmarks.grad_stop import GradStopResult, evaluate_grad_stop, main, sweep_grad_stop, sweep_settings
from ttt_gym.policies import SequenceActor, TTTE2EActor, TTTLinearActor

ENV_ID = "ttt_gym/MysteryPath-v0"
ENV_KWARGS = {"max_steps": 9}  # two TTT-E2E chunk updates per episode at chunk_size 4 (steps 4 and 8)
HUGE = 1e12


from tests.policies.test_grad_stop import make_actor, single_thread  # noqa: E402, F401  (the same tiny actors)


@pytest.fixture(params=["ttt_linear", "ttt_e2e"])
def actor(request: pytest.FixtureRequest) -> TTTLinearActor | TTTE2EActor:
    return make_actor(request.param)


def evaluate(actor: SequenceActor, rule: str, threshold: float) -> GradStopResult:
    return evaluate_grad_stop(actor, ENV_ID, rule, threshold, n_episodes=2, flop_episodes=1, env_kwargs=ENV_KWARGS)


def test_baseline_skips_nothing_and_a_huge_threshold_skips_everything(actor: SequenceActor) -> None:
    baseline = evaluate(actor, "none", 0.0)
    assert baseline.skipped_updates == 0 and baseline.inner_updates > 0 and baseline.skipped_fraction == 0.0
    assert baseline.flops_per_update > 0 and baseline.mean_grad_norm > 0
    skip_all = evaluate(actor, "absolute", HUGE)
    assert skip_all.inner_updates == 0 and skip_all.skipped_fraction == 1.0
    assert skip_all.skipped_updates > 0
    assert skip_all.inner_flops_per_step == 0.0 < baseline.inner_flops_per_step
    assert skip_all.flops_per_step < baseline.flops_per_step  # measured, not derived
    assert skip_all.latency_ms > 0


def test_sweep_leaves_the_actor_unchanged_and_covers_the_grid(actor: TTTLinearActor | TTTE2EActor) -> None:
    weights = {name: value.clone() for name, value in actor.state_dict().items()}
    config = actor.config
    rows = sweep_grad_stop(
        actor,
        ENV_ID,
        thresholds=[HUGE, 0.0],
        relative_thresholds=[0.5],
        n_episodes=2,
        flop_episodes=1,
        env_kwargs=ENV_KWARGS,
    )
    assert [(row.rule, row.threshold) for row in rows] == [("none", 0.0), ("absolute", HUGE), ("relative", 0.5)]
    assert actor.config is config and actor.config.grad_stop_threshold == 0.0
    for name, value in actor.state_dict().items():
        assert torch.equal(value, weights[name])


def test_command_line_writes_json_and_markdown(tmp_path: Path) -> None:
    actor_path = tmp_path / "actor.pt"
    make_actor("ttt_e2e").save(actor_path)
    output, markdown = tmp_path / "sweep.json", tmp_path / "sweep.md"
    main(
        ["--actor", str(actor_path), "--env", ENV_ID, "--thresholds", "0", "0.01", "--rules", "absolute",
         "--relative-thresholds", "0.5", "--episodes", "2", "--flop-episodes", "1", "--max-steps", "9",
         "--output", str(output), "--markdown", str(markdown)]
    )  # fmt: skip
    report = json.loads(output.read_text())
    assert {"command", "machine", "rows", "actor_config", "env_id"} <= set(report)
    assert {"cpu_count", "torch", "torch_threads", "load_average", "load_average_end"} <= set(report["machine"])
    assert "--thresholds 0 0.01" in report["command"]
    assert len(report["rows"]) == 2  # the baseline and absolute 0.01; no relative rule was asked for
    assert all(set(row) == {f.name for f in dataclasses.fields(GradStopResult)} for row in report["rows"])
    table = markdown.read_text().splitlines()
    assert table[0].startswith("Gradient stopping, TTTE2EActor") and len(table) == 4 + 2


def test_bad_input_raises_with_the_fix() -> None:
    actor = make_actor("ttt_linear")
    with pytest.raises(ValueError, match="use one of absolute, relative"):
        sweep_settings([0.1], rules=["absolute", "sometimes"])
    with pytest.raises(ValueError, match="pass non-negative thresholds"):
        sweep_settings([0.0, -0.1])
    with pytest.raises(ValueError, match="pass the env the actor was trained on"):
        sweep_grad_stop(actor, "ttt_gym/MaskedCartPole-v1", thresholds=[0.1], n_episodes=1, flop_episodes=1)
