"""The acting-mode diagnostic: both modes evaluated on run_memory's test episodes, skip-if-present, a missing actor."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest
import torch

import ttt_gym  # noqa: F401  (registers the envs)
from benchmarks import acting_modes
from ttt_gym.evaluation import evaluate_success
from ttt_gym.policies import load_actor, make_actor


@pytest.fixture(autouse=True)
def single_thread() -> None:
    torch.set_num_threads(1)


def test_both_modes_on_the_test_episodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = gym.make("ttt_gym/MysteryPath-v0")
    actor = make_actor("mlp", env.observation_space, env.action_space, seed=3)
    actor.validated_deterministic = False
    monkeypatch.setattr(acting_modes, "ACTOR_DIR", tmp_path / "actors")
    (tmp_path / "actors").mkdir()
    actor.save(tmp_path / "actors" / "mystery-path-mlp-s1.pt")
    out = tmp_path / "out"
    argv = ["--configs", "mystery-path", "--policies", "mlp", "--seeds", "1", "--output-dir", str(out)]
    acting_modes.main(argv)
    record = json.loads((out / "mystery-path-mlp-s1.json").read_text())
    assert record["validated_deterministic"] is False
    # the mode on run_memory's test seeds (10_000 + 1000 * seed), as evaluate_success gives it directly
    expected = evaluate_success(
        load_actor(tmp_path / "actors" / "mystery-path-mlp-s1.pt"),
        "ttt_gym/MysteryPath-v0",
        200,
        seed=11_000,
        deterministic=True,
        n_envs=50,
    )
    assert record["mode"]["success"] == expected.success_rate
    assert 0.0 <= record["samples"]["success"] <= 1.0
    # a present result is skipped, not recomputed
    (out / "mystery-path-mlp-s1.json").write_text(json.dumps({"kept": True}))
    acting_modes.main(argv)
    assert json.loads((out / "mystery-path-mlp-s1.json").read_text()) == {"kept": True}


def test_a_missing_actor_names_the_command_that_trains_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acting_modes, "ACTOR_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"benchmarks\.run_memory --config"):
        acting_modes.main(
            ["--configs", "coin-search", "--policies", "gru", "--seeds", "0", "--output-dir", str(tmp_path)]
        )
