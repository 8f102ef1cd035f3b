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


def test_train_then_evaluate_goal_with_and_without_ttt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's main job from the shell: train a GC agent on local data, evaluate it, then with GC-TTT."""
    import json

    from ttt_gym.data import generate_dataset

    name = "pointmaze-medium-navigate-v0"
    generate_dataset(name, num_episodes=2, path=tmp_path, progress_bar=False, episode_steps=200, num_workers=1)
    agent_path = tmp_path / "gcivl.pt"
    common = ["--data-dir", str(tmp_path)]
    assert main(["train", "gcivl", name, "--timesteps", "3", "--hidden-dims", "16", "--batch-size", "8",
                 "--output", str(agent_path), *common]) == 0  # fmt: skip
    assert agent_path.is_file() and "evaluate-goal" in capsys.readouterr().out

    quick = ["--tasks", "1", "--episodes-per-task", "1", "--max-episode-steps", "5"]
    assert main(["evaluate-goal", str(agent_path), name, *quick, "--output", str(tmp_path / "plain.json")]) == 0
    assert "GCIVL on" in capsys.readouterr().out
    ttt_args = ["--ttt", "--steps", "2", "--every", "2", "--batch-size", "8", "--selector", "critic-free"]
    assert main(["evaluate-goal", str(agent_path), name, *quick, *ttt_args, *common,
                 "--output", str(tmp_path / "ttt.json")]) == 0  # fmt: skip
    assert "GCIVL + TTT" in capsys.readouterr().out
    for file, ttt in (("plain.json", False), ("ttt.json", True)):
        record = json.loads((tmp_path / file).read_text())
        assert record["ttt"] is ttt and 0.0 <= record["success"] <= 1.0 and set(record["task_success"]) == {"1"}


def test_evaluate_goal_explains_an_sb3_file_without_algo(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--algo"):
        main(["evaluate-goal", str(tmp_path / "sac.zip"), "pointmaze-medium-navigate-v0"])
