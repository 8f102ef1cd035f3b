"""What the runners share (benchmarks._common), and the small timing tools that moved out of the library."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from benchmarks._common import command_line, current_command, output_path, run_record, write_json_atomic


def test_atomic_write_leaves_only_the_finished_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "result.json"
    write_json_atomic(path, {"a": [1, 2]})
    write_json_atomic(path, {"a": [3]})
    assert json.loads(path.read_text()) == {"a": [3]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_run_record_names_the_module_command_and_the_machine() -> None:
    started = dt.datetime.now(dt.timezone.utc)
    record = run_record(started, module="benchmarks.run_memory", argv=["--config", "a b.json"], start=(1.0, 2.0, 3.0))
    assert record["command"] == "python -m benchmarks.run_memory --config 'a b.json'"
    assert record["machine"]["load_average_start"] == [1.0, 2.0, 3.0] and len(record["machine"]["load_average_end"])
    assert {"cpu_count", "torch", "torch_threads"} <= set(record["machine"])
    assert command_line("benchmarks.ttt_cost", []) == "python -m benchmarks.ttt_cost"


def test_recorded_commands_read_as_they_run_today() -> None:
    assert current_command("python benchmarks/run_memory.py --seeds 0") == "python -m benchmarks.run_memory --seeds 0"
    assert current_command(".venv/bin/python benchmarks/ttt_cost.py") == ".venv/bin/python -m benchmarks.ttt_cost"
    old = "python -m ttt_gym.policies.grad_stop --actor runs/memory/x.pt"
    assert current_command(old) == "python -m benchmarks.grad_stop --actor runs/memory/x.pt"
    assert current_command("python -m benchmarks.grad_stop --x") == "python -m benchmarks.grad_stop --x"


def test_a_smoke_run_must_name_its_output(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    default = tmp_path / "committed.json"
    assert output_path(parser, None, default) == default
    assert output_path(parser, tmp_path / "x.json", default, smoke_flags="--quick") == tmp_path / "x.json"
    with pytest.raises(SystemExit):
        output_path(parser, None, default, smoke_flags="--quick")


def test_selection_timing_runs_on_a_small_synthetic_maze(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.selection_speed import main, synthetic_maze_dataset

    dataset = synthetic_maze_dataset(3000, episode_length=101)
    assert dataset.observation_dim == 2 and len(dataset) >= 3000
    main(["--transitions", "3000", "--queries", "10", "--hidden-dims", "8"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[-3:]] == ["relevant-only", "critic-free", "gc-ttt"]


def test_agent_update_speed_counts_flops_and_steps() -> None:
    from benchmarks.agent_speed import measure_update_speed, synthetic_dataset

    result = measure_update_speed("gcbc", (8,), 16, synthetic_dataset(2000, episode_length=100), seconds=0.05)
    assert result.steps_per_second > 0 and result.gflop_per_step > 0 and result.matmul_gflops > 0
