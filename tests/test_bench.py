"""``ttt-gym bench``: planning runs from configs, skipping finished ones, and running them on a real local Ray."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ttt_gym.bench import BenchRun, bench, execute, parse_grid, plan, runner_module, sweep, with_overrides
from ttt_gym.cli import main

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "benchmarks" / "configs"

#: A memory run of seconds: BC of an MLP on 4 expert episodes of masked CartPole, 4 test episodes. The MLP has no
#: memory, so its returns differ from run to run: equal returns mean equal runs.
TINY = {
    "name": "tiny",
    "runner": "benchmarks.run_memory",
    "env_id": "ttt_gym/MaskedCartPole-v1",
    "env_kwargs": {},
    "trainer": "bc",
    "demonstrations": "expert",
    "trainer_kwargs": {
        "demo_episodes": 4,
        "n_batches": 6,
        "batch_size": 2,
        "lr": 0.001,
        "validate_every": 3,
        "validation_episodes": 2,
    },
    "policies": {"mlp": {}},
    "torch_threads": 1,
    "eval": {"episodes": 4, "n_envs": 2},
}
#: What must be equal between two runs of the same config and seed (the rest is timing and provenance).
OUTCOME_KEYS = ("success", "return_mean", "return_std", "length_mean", "episodes", "parameters", "deterministic")


def _write(path: Path, config: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def test_each_committed_config_kind_plans_the_runner_command_people_type() -> None:
    agent = CONFIGS / "gcbc-pointmaze-medium-navigate.json"
    ttt = CONFIGS / "ttt" / "gcbc-gc-ttt-gcivl-pointmaze-medium-navigate.json"
    memory = CONFIGS / "memory" / "masked-cartpole.json"
    runs = plan([agent, ttt, memory], [0, 1])
    assert [run.command for run in runs[:2]] == [
        "python -m benchmarks.run_agent --config benchmarks/configs/gcbc-pointmaze-medium-navigate.json --seed 0",
        "python -m benchmarks.run_ttt --config benchmarks/configs/ttt/gcbc-gc-ttt-gcivl-pointmaze-medium-navigate.json"
        " --seed 0",
    ]
    policies = list(json.loads(memory.read_text())["policies"])
    assert len(runs) == 2 * (2 + len(policies))
    assert [run.seed for run in runs] == [0] * (2 + len(policies)) + [1] * (2 + len(policies))  # seed-major
    assert runs[0].output == REPO / "benchmarks" / "results" / "gcbc-pointmaze-medium-navigate-s0.json"
    assert runs[2].output == REPO / "benchmarks" / "results" / "memory" / f"masked-cartpole-{policies[0]}-s0.json"
    assert (runs[0].stage, runs[1].stage) == (0, 1)  # GC-TTT loads the agent that the agent run trains


def test_an_existing_result_counts_as_done_only_with_the_same_config(tmp_path: Path) -> None:
    config_path = _write(tmp_path / "tiny.json", TINY)
    (run,) = plan([config_path], [0], tmp_path / "out")
    assert not run.done()
    record = {"config": {**TINY, "description": "a note", "budget": {"note": "prose"}}, "smoke": False}
    _write(run.output, record)
    assert run.done()  # prose keys aside, the same config
    _write(run.output, {**record, "config": with_overrides(TINY, {"trainer_kwargs.lr": 0.01})})
    assert not run.done()
    _write(run.output, {**record, "smoke": True})
    assert not run.done()  # a smoke test never stands for a full run


def test_bad_configs_and_grids_are_refused_with_the_fix(tmp_path: Path) -> None:
    loose = _write(tmp_path / "loose.json", {"name": "loose"})
    with pytest.raises(ValueError, match='"runner" key'):
        runner_module(loose, json.loads(loose.read_text()))
    with pytest.raises(ValueError, match="at least one seed"):
        plan([loose], [])
    with pytest.raises(FileNotFoundError, match="No config"):
        plan([tmp_path / "missing.json"], [0])
    assert parse_grid(["trainer_kwargs.lr=1e-3,0.003", "eval.n_envs=2"]) == {
        "trainer_kwargs.lr": [0.001, 0.003],
        "eval.n_envs": [2],
    }
    with pytest.raises(ValueError, match="KEY=V1,V2"):
        parse_grid(["lr"])
    with pytest.raises(KeyError, match="no section 'trainer'"):
        with_overrides(TINY, {"trainer.lr.x": 1})


def test_dry_run_lists_runs_and_their_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = _write(tmp_path / "tiny.json", TINY)
    assert main(["bench", str(config_path), "--seeds", "3", "--output-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "pending tiny mlp seed 3" in out and "--seeds 3" in out


def test_without_ray_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    (run,) = plan([_write(tmp_path / "tiny.json", TINY)], [0], tmp_path / "out")
    with pytest.raises(ImportError, match=r"ttt-gym\[ray\]"):
        bench([run], progress_bar=False)


def test_a_sweep_on_ray_tune_equals_the_serial_runs_and_bench_resumes(ray_local, tmp_path: Path) -> None:
    """4 runs (2 learning rates x 2 seeds) through Ray Tune on a real local Ray equal the same runs done one after
    another in this process; `bench` then skips all four and reports a broken run with its log, not stopping."""
    base = _write(tmp_path / "tiny.json", TINY)
    grid = parse_grid(["trainer_kwargs.lr=0.001,0.003"])
    outcomes = sweep(base, grid, [0, 1], output_dir=tmp_path / "ray")
    assert [o.status for o in outcomes] == ["done"] * 4
    assert len({o.record["return_mean"] for o in outcomes}) > 1  # the runs differ, so equality below means something

    variants = sorted((tmp_path / "ray" / "configs").glob("*.json"))
    assert [p.stem for p in variants] == ["tiny-lr0.001", "tiny-lr0.003"]
    serial = [execute(run) for run in plan(variants, [0, 1], tmp_path / "serial")]
    for parallel, alone in zip(outcomes, serial, strict=True):
        assert alone.status == "done", alone.error
        assert parallel.run.label == alone.run.label
        assert {k: parallel.record[k] for k in OUTCOME_KEYS} == {k: alone.record[k] for k in OUTCOME_KEYS}
        assert parallel.record["config"]["trainer_kwargs"]["lr"] == alone.record["config"]["trainer_kwargs"]["lr"]

    broken = _write(tmp_path / "broken" / "broken.json", {**TINY, "name": "broken", "env_id": "ttt_gym/Nope-v0"})
    runs = plan([*variants, broken], [0, 1], tmp_path / "ray")
    again = bench(runs, progress_bar=False)
    assert [o.status for o in again if o.run.config["name"] != "broken"] == ["skipped"] * 4
    failed = [o for o in again if o.run.config["name"] == "broken"]
    assert [o.status for o in failed] == ["failed", "failed"]
    assert "Nope" in failed[0].error and "Traceback" in failed[0].run.log.read_text()
    assert not failed[0].run.output.exists()


def test_bench_run_records_the_command_that_reproduces_it(tmp_path: Path) -> None:
    config_path = _write(tmp_path / "tiny.json", TINY)
    (run,) = plan([config_path], [2], tmp_path / "out")
    assert isinstance(run, BenchRun)
    before = Path.cwd()
    outcome = execute(run)
    assert Path.cwd() == before  # the run worked in the repository root, the caller's directory is back
    assert outcome.status == "done", outcome.error
    assert outcome.record["command"] == run.command
    assert run.log.exists() and run.output.exists()
