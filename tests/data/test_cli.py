"""The ``dataset`` command group that ``ttt-gym`` mounts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ttt_gym.data import GoalDataset
from ttt_gym.data.cli import add_dataset_commands


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ttt-gym")
    add_dataset_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_generate_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dataset", "generate", "pointmaze-medium-stitch-v0", "--episodes", "2", "--episode-steps", "30"]
    assert _run([*argv, "--seed", "3", "--dir", str(tmp_path), "--workers", "1", "--no-progress"]) == 0
    train = tmp_path / "pointmaze-medium-stitch-v0.npz"
    assert str(train) in capsys.readouterr().out
    assert len(GoalDataset.load(train)) == 2 * 29
    assert _run(["dataset", "info", str(train)]) == 0
    out = capsys.readouterr().out
    assert "58 transitions, 2 trajectories" in out and "terminals" in out and "bool" in out


def test_list_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["dataset", "list"]) == 0
    assert "pointmaze-medium-navigate-v0" in capsys.readouterr().out
    assert _run(["dataset", "generate", "antmaze-medium-navigate-v0"]) == 2
    assert "pretrained" in capsys.readouterr().err
    (tmp_path / "broken.npz").write_text("x")
    assert _run(["dataset", "info", str(tmp_path / "broken.npz")]) == 1
    assert "broken.npz" in capsys.readouterr().err
