"""The test-time improvement section of ``benchmarks.summarize``, on made-up result files."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import summarize


def _write(result_dir: Path, prefix: str, dataset: str, seed: int, success: dict[str, float]) -> None:
    methods = {
        method: {"success": value, "evaluation_mse": 4.0 - value, "policy_ms_per_step": 1.0 + i, "beta": 0.3}
        for i, (method, value) in enumerate(success.items())
    }
    record = {
        "name": f"{prefix}-improve-pointmaze-medium-{dataset}",
        "seed": seed,
        "smoke": False,
        "accuracy": {"training_mse": 0.9, "validation_mse": 0.8},
        "methods": methods,
        "machine": {
            "cpu_count": 2,
            "cpu_model": "test",
            "platform": "test",
            "torch": "test",
            "load_average_start": [1.0, 1.0, 1.0],
            "load_average_end": [2.0, 2.0, 2.0],
        },
        "git_commit": "abc1234",
        "started_utc": "2026-12-03T00:00:00+00:00",
        "finished_utc": "2026-12-03T00:10:00+00:00",
    }
    (result_dir / f"{record['name']}-s{seed}.json").write_text(json.dumps(record))


def test_no_results_gives_no_section(tmp_path: Path) -> None:
    assert summarize.render_improve(tmp_path) is None


def test_cells_aggregate_seeds_per_extraction_and_dataset_and_missing_ones_say_not_run(tmp_path: Path) -> None:
    _write(tmp_path, "gciql", "navigate", 0, {"none": 0.2, "opex": 0.3})
    _write(tmp_path, "gciql", "navigate", 1, {"none": 0.4, "opex": 0.5})
    _write(tmp_path, "gciqlawr", "stitch", 0, {"none": 0.1})
    smoke = tmp_path / "gciqlawr-improve-pointmaze-medium-stitch-s1.json"
    _write(tmp_path, "gciqlawr", "stitch", 1, {"none": 1.0})
    smoke.write_text(json.dumps({**json.loads(smoke.read_text()), "smoke": True}))  # ignored
    section = summarize.render_improve(tmp_path)
    assert section is not None and section.startswith(summarize.IMPROVE_HEADING)
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():  # the first table (success) comes first; later tables repeat the row names
        if line.startswith("| "):
            rows.setdefault(line.split(" | ")[0], line.split(" | ")[1:])
    # columns: DDPG+BC navigate, DDPG+BC stitch, AWR navigate, AWR stitch
    none = rows["| no test-time method"]
    assert none[0] == "0.30 ± 0.10 (0.20 / 0.40; 2 seeds)"
    assert none[1] == "not run" and none[2] == "not run"
    assert none[3].startswith("0.10 (0.10; 1 seed)")
    assert rows["| + OPEX (beta chosen on validation)"][0] == "0.40 ± 0.10 (0.30 / 0.50; 2 seeds)"
    assert rows["| + SfBC (32 samples)"][0] == "not run"
    assert "chosen: 0.3" in " ".join(section.split())
    assert "| + OPEX (beta chosen on validation) | 2.00 | 500 | 2 |" in section  # cost over the runs with OPEX
