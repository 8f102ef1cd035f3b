"""The examples/ scripts run end to end on a tiny budget (each a smoke test that checks what it prints and returns)."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parents[1] / "examples"


def example(name: str) -> dict[str, Any]:
    """The example's globals, without running its ``__main__`` block."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def test_dagger_on_a_users_own_env_beats_guessing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the actor is saved under runs/examples/
    module = example("dagger_own_env")
    results = module["main"](module["Args"](total_timesteps=500, corridor=4, eval_episodes=40))
    assert results["ttt-linear"] >= 0.9 > results["random"]  # memory of the cue, not a guess
    assert (tmp_path / "runs/examples/cue-corridor-ttt-linear.pt").is_file()
    assert "ttt-linear   success" in capsys.readouterr().out


def test_gcbc_ttt_ogbench_runs(tmp_path, capsys):
    module = example("gcbc_ttt_ogbench")
    args = module["Args"](
        data_dir=str(tmp_path),
        dataset_episodes=2,
        episode_steps=100,
        train_steps=20,
        hidden_dims=(16,),
        ttt_every=5,
        ttt_steps=2,
        episodes_per_task=1,
        max_episode_steps=10,
    )
    results = module["main"](args)
    assert set(results) == {"GC-BC", "GC-BC + TTT"} and all(0.0 <= r <= 1.0 for r in results.values())
    assert "GC-BC + TTT" in capsys.readouterr().out


def test_sac_her_ttt_uses_its_own_buffer_and_critic(capsys):
    module = example("sac_her_ttt")
    args = module["Args"](
        total_timesteps=200, train_episode_steps=20, ttt_every=5, ttt_steps=2, episodes_per_task=1, max_episode_steps=10
    )
    results = module["main"](args)
    assert set(results) == {"SAC+HER", "SAC+HER + TTT"}
    out = capsys.readouterr().out
    assert "selection scored by ModelCritic(" in out and "dataset from the replay buffer" in out
