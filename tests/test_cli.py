"""The ``ttt-gym`` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttt_gym.cli import main


def test_envs_lists_every_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for name in ("MysteryPath-v0", "CoinSearch-v0", "ConfoundedControls-v0", "MaskedCartPole-v1", "MaskedAcrobot-v1"):
        assert f"ttt_gym/{name}" in out


def test_evaluate_prints_the_expert_success(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "ttt_gym/MysteryPath-v0", "--policy", "expert", "--episodes", "5"]) == 0
    assert "success 1.000" in capsys.readouterr().out


def test_unknown_env_id_is_rejected_by_the_parser() -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "ttt_gym/Nope-v0"])


def test_dataset_list_names_the_supported_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "list"]) == 0
    assert "pointmaze-medium-navigate-v0" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_runs_end_to_end_on_a_tiny_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ttt_gym.demo import DemoConfig, run_demo

    config = DemoConfig(
        output=tmp_path, memory_episodes=2, dataset_episodes=4, train_steps=20, episodes_per_task=1, ttt_steps=2
    )
    run_demo(config)
    out = capsys.readouterr().out
    assert "GC-BC + TTT" in out and "success" in out
    assert len(list((tmp_path / "frames").glob("*.png"))) == 5
