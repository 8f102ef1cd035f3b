"""The cost benchmark (``benchmarks.policy_latency``) on the tiny config: rows, memory, training, plot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.policy_latency import (
    CONFIGS,
    clone_state,
    crossover_length,
    main,
    make_actor_for,
    peak_allocated_bytes,
    run_window,
)

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
ACTOR_NAMES = sorted(CONFIGS["tiny"])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("latency")
    argv = ["--config", "tiny", "--lengths", "16", "32", "--repeats", "2"]
    argv += ["--train-lengths", "16", "32", "--train-tokens", "32", "--output", str(folder / "cost.json")]
    if HAS_MATPLOTLIB:
        argv += ["--plot", str(folder / "cost.png")]
    main(argv)
    return json.loads((folder / "cost.json").read_text()), folder


def test_json_has_a_row_per_actor_and_length_and_the_machine(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    assert {"command", "machine", "load_average_start", "load_average_end", "inference", "training"} <= set(result)
    assert result["command"].startswith("python -m benchmarks.policy_latency --config tiny")
    assert result["machine"]["torch_threads"] == 1 and result["machine"]["cpu_count"] >= 1
    assert len(result["load_average_start"]) == len(result["load_average_end"]) == 3
    assert sorted(result["parameter_bytes"]) == ACTOR_NAMES
    rows = result["inference"]
    assert sorted((row["actor"], row["length"]) for row in rows) == [(a, t) for a in ACTOR_NAMES for t in (16, 32)]
    for row in rows:
        assert len(row["ms_per_step_repeats"]) == 2 and row["ms_per_step"] == min(row["ms_per_step_repeats"]) > 0
        assert row["mflop_per_step"] > 0 and row["state_bytes"] > 0 and row["step_peak_extra_bytes"] > 0


def test_training_rows_exist_for_every_actor(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    rows = {(row["actor"], row["train_length"]): row for row in result["training"]}
    assert sorted(rows) == [(a, t) for a in ACTOR_NAMES for t in (16, 32)]
    for (_, length), row in rows.items():
        assert row["batch"] == 32 // length and row["tokens"] == 32
        assert row["ms_per_update"] > 0 and row["mflop_per_update"] > 0 and row["update_peak_extra_bytes"] > 0
    # TTT-E2E's outer loss differentiates through its inner SGD steps: more FLOPs than full attention here
    assert rows["ttt_e2e", 32]["mflop_per_update"] > rows["transformer", 32]["mflop_per_update"]
    # same tokens per batch, so only attention (quadratic in the length, counted on the CPU too) grows
    assert rows["transformer", 32]["mflop_per_update"] > rows["transformer", 16]["mflop_per_update"]
    assert rows["gru", 32]["mflop_per_update"] == pytest.approx(rows["gru", 16]["mflop_per_update"], rel=0.01)


def test_only_the_kv_cache_grows_with_the_episode(run: tuple[dict[str, Any], Path]) -> None:
    result, _ = run
    cell = {(row["actor"], row["length"]): row for row in result["inference"]}
    for name in ("ttt_linear", "ttt_e2e", "gru"):
        assert cell[name, 16]["state_bytes"] == cell[name, 32]["state_bytes"]
    assert cell["transformer", 32]["state_bytes"] > cell["transformer", 16]["state_bytes"]
    assert cell["transformer", 32]["mflop_per_step"] > cell["transformer", 16]["mflop_per_step"]


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="the plot needs matplotlib (the test extra)")
def test_plot_is_written(run: tuple[dict[str, Any], Path]) -> None:
    _, folder = run
    assert (folder / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_window_on_a_copy_leaves_the_episode_alone() -> None:
    actor = make_actor_for("tiny", "ttt_e2e")
    observations = np.random.default_rng(0).uniform(-1, 1, size=(40, 5)).astype(np.float32)
    state, _ = run_window(actor, observations[:20], None)
    before = clone_state(state)
    copy_state, _ = run_window(actor, observations[20:], clone_state(state))
    assert all(torch.equal(before[k], state[k]) for k in state)
    state, _ = run_window(actor, observations[20:], state)
    assert all(torch.equal(copy_state[k], state[k]) for k in state)


def test_peak_allocated_bytes_sees_a_freed_temporary() -> None:
    def allocate() -> float:
        temporary = torch.ones(1024, 1024)  # 4 MiB, freed on return
        return float(temporary.sum())

    value, peak = peak_allocated_bytes(allocate)
    assert value == 1024 * 1024 and 4 * 2**20 <= peak < 5 * 2**20


def test_crossover_length_interpolates_where_the_growing_cost_stays_above() -> None:
    lengths = [16, 64, 256, 1024]
    assert crossover_length(lengths, [1, 2, 3, 5], [4, 4, 4, 4]) == pytest.approx(256 + 768 * 1 / 2)
    assert crossover_length(lengths, [5, 1, 5, 6], [4, 4, 4, 4]) == pytest.approx(64 + 192 * 3 / 4)
    assert crossover_length(lengths, [5, 5, 5, 5], [4, 4, 4, 4]) == 16
    assert crossover_length(lengths, [1, 1, 1, 1], [4, 4, 4, 4]) is None
