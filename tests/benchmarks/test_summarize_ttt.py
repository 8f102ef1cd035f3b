"""The GC-TTT Table 1 section of ``benchmarks.summarize``, on made-up result files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import summarize


def _evaluation(successes: list[list[int]], seconds_per_1000_steps: float, control_hz: float) -> dict[str, Any]:
    flat = [s for task in successes for s in task]
    return {
        "success": sum(flat) / len(flat),
        "successes": successes,
        "episodes": len(flat),
        "seconds_per_1000_steps": seconds_per_1000_steps,
        "control_hz": control_hz,
    }


def _write_result(result_dir: Path, name: str, seed: int, started_utc: str, with_ttt: list[list[int]]) -> None:
    """A result like benchmarks.run_ttt's, for the committed config ``name``; without TTT always fails."""
    config = summarize.load_ttt_config(name)
    assert config is not None, f"no committed config {name}"
    ttt = _evaluation(with_ttt, 3.0, 300.0)
    no_ttt = _evaluation([[0] * len(task) for task in with_ttt], 0.5, 2000.0)
    record = {
        "name": name,
        "seed": seed,
        "smoke": False,
        "config": config,
        "ttt": ttt,
        "no_ttt": no_ttt,
        "success": ttt["success"],
        "success_without_ttt": no_ttt["success"],
        "wrapper_stats": {"adaptations": 10, "too_little_data": 2, "adaptation_errors": 0},
        "machine": {
            "cpu_count": 2,
            "cpu_model": "test",
            "platform": "test",
            "torch": "test",
            "load_average_start": [1.0, 1.0, 1.0],
            "load_average_end": [2.0, 2.0, 2.0],
        },
        "git_commit": "abc1234",
        "started_utc": started_utc,
        "finished_utc": started_utc,
    }
    (result_dir / f"{name}-s{seed}.json").write_text(json.dumps(record))


def test_no_results_gives_no_section(tmp_path: Path) -> None:
    assert summarize.render_table1(tmp_path) is None


def test_missing_cells_say_not_run_and_present_ones_aggregate_seeds(tmp_path: Path) -> None:
    name = "gcbc-gc-ttt-gcivl-pointmaze-medium-navigate"
    _write_result(tmp_path, name, 0, "2026-11-22T00:00:00+00:00", [[1, 0], [0, 0]])
    _write_result(tmp_path, name, 1, "2026-11-22T02:00:00+00:00", [[1, 1], [1, 0]])

    section = summarize.render_table1(tmp_path)

    assert section is not None and section.startswith(summarize.TABLE1_HEADING + "\n")
    success_table = section.split("Cost and paired counts")[0]
    rows = {
        line.split(" | ")[0].removeprefix("| "): line for line in success_table.splitlines() if line.startswith("| GC")
    }
    assert "0.50 ± 0.25 (s0 0.25, s1 0.75; 2 seeds) | not run |" in rows["GC-BC + TTT (GCIVL critic)"]
    assert "| 0.00 ± 0.00 (s0 0.00, s1 0.00; 2 seeds) | not run |" in rows["GC-BC"]
    assert "| not run | not run |" in rows["GC-IQL (AWR) + TTT (own critic)"]
    assert "| GC-BC + TTT (GCIVL critic) | navigate | 2 | 4 / 0 | 20 / 4 / 0 | 3.00 | 300 |" in section
    assert "| GC-BC | navigate | 2 | - | - | 0.50 | 2000 |" in section
    assert "| GC-IQL (DDPG+BC) | stitch | 0 | not run |" in section
    assert "Resets: 1 run (seed 0; commits abc1234) started before" in section
    assert "1 run (seed 1; commits abc1234) started later" in section


@pytest.mark.parametrize("existing", [False, True])
def test_write_section_keeps_the_other_sections(tmp_path: Path, existing: bool) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    before = "# Benchmarks\n\n## A\n\ntext a\n\n"
    after = "## Z\n\ntext z\n"
    old = f"{summarize.TABLE1_HEADING}\n\nold\n\n" if existing else ""
    doc.write_text(before + old + after)

    summarize.write_section(f"{summarize.TABLE1_HEADING}\n\nnew\n", doc, summarize.TABLE1_HEADING)

    text = doc.read_text()
    assert text.startswith(before) and text.count(summarize.TABLE1_HEADING) == 1 and "old" not in text
    assert ("\n\nnew\n\n## Z\n\ntext z\n" in text) if existing else text.endswith("\n\nnew\n")


def test_fine_tune_data_section_compares_archived_start_state_runs_with_current_ones(tmp_path: Path) -> None:
    current, archive = tmp_path / "ttt", tmp_path / "starts"
    current.mkdir()
    archive.mkdir()
    name = "gcbc-critic-free-pointmaze-medium-navigate"
    h50 = tmp_path / "h50"
    assert summarize.render_fine_tune_data(current, archive, h50_dir=h50, nocut_dir=h50) is None  # nothing to compare
    _write_result(archive, name, 0, "2026-11-22T02:00:00+00:00", [[1, 0], [0, 0]])
    _write_result(archive, name, 1, "2026-11-22T02:00:00+00:00", [[0, 0], [0, 0]])
    # No current result yet:
    assert summarize.render_fine_tune_data(current, archive, h50_dir=h50, nocut_dir=h50) is None
    _write_result(current, name, 0, "2026-11-22T04:00:00+00:00", [[1, 1], [1, 0]])

    section = summarize.render_fine_tune_data(current, archive, h50_dir=h50, nocut_dir=h50)

    assert section is not None and section.startswith(summarize.FINE_TUNE_DATA_HEADING + "\n")
    assert (
        f"| `{name}` | 0.00 (s0 0.00; 1 seed) | 0.12 ± 0.12 (s0 0.25, s1 0.00; 2 seeds) "
        "| (no H) | (no cut) | 0.75 (s0 0.75; 1 seed) |" in section
    )
    # Configs without archived runs get no row.
    assert "gciql" not in section
