"""The busy-machine neighbour (benchmarks._common.busy_neighbour) and the selection benchmark
(benchmarks.selection_speed) end to end on a tiny config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import selection_speed
from benchmarks._common import busy_neighbour


def test_busy_neighbour_runs_only_inside_its_block() -> None:
    # One start (about 2 s: the neighbour imports torch), left through an exception: it must be killed all the same.
    with pytest.raises(KeyError), busy_neighbour() as neighbours:
        assert len(neighbours) == 1 and neighbours[0].poll() is None
        raise KeyError("an error in the timed code")
    assert neighbours[0].poll() is not None


def test_the_committed_config_times_a_512_cubed_critic_idle_and_busy() -> None:
    config = selection_speed.load_config(selection_speed.DEFAULT_CONFIG)
    assert config["critic"] == {**config["critic"], "agent": "gcivl", "hidden_dims": [512, 512, 512]}
    assert config["dataset"]["transitions"] == 1_000_000 and config["dataset"]["path"] is None
    assert {"gc-ttt", "critic-free"} <= set(config["kinds"])
    assert config["global_threads"] == [1, 2] and config["loads"] == ["idle", "busy"]


def test_selection_speed_writes_every_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads(selection_speed.DEFAULT_CONFIG.read_text())
    config.update(queries=3, global_threads=[1], loads=["idle"])
    config["dataset"]["transitions"] = 20_000
    config["critic"]["hidden_dims"] = [64, 64]
    config_path, output = tmp_path / "selection_speed.json", tmp_path / "result.json"
    config_path.write_text(json.dumps(config))

    record = selection_speed.main(["--config", str(config_path), "--output", str(output)])

    assert json.loads(output.read_text()) == json.loads(json.dumps(record))
    assert record["complete"] and not record["smoke"] and record["machine"]["torch_threads"] == [1]
    assert [(cell["kind"], cell["global_threads"], cell["load"]) for cell in record["cells"]] == [
        (kind, 1, "idle") for kind in config["kinds"]
    ]
    for cell in record["cells"]:
        assert cell["queries"] == 3 and len(cell["first_ms"]) == 1 and len(cell["later_ms"]) == 2
        assert cell["later_ms_median"] is not None and cell["cpu_seconds"] >= 0
        assert cell["selector_torch_threads"] == 1
        assert (cell["critic_states_per_selection"] > 0) == cell["kind"].startswith("gc-ttt")
    assert record["table_markdown"].count("\n") == 1 + len(record["cells"])
    assert capsys.readouterr().out.rstrip().endswith(f"wrote {output}")

    # Overriding the config makes a smoke run, which must name its output.
    with pytest.raises(SystemExit):
        selection_speed.main(["--config", str(config_path), "--queries", "2"])
