"""The throughput benchmark (benchmarks.throughput) in its quick mode, for one actor (mlp)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from benchmarks import throughput

QUICK = ["--quick", "--actors", "mlp"]


@pytest.fixture(scope="module")
def imitation_results(tmp_path_factory):
    """A quick run of DAgger and BC on the mlp actor (no sb3-contrib needed): the results file and main's answer."""
    output = tmp_path_factory.mktemp("throughput") / "throughput.json"
    record = throughput.main([*QUICK, "--trainers", "dagger", "bc", "--output", str(output)])
    return output, record


def test_the_committed_config_is_rl_zoos_cartpolenovel_setting():
    config = throughput.load_config(throughput.DEFAULT_CONFIG)
    assert config["env_id"] == "ttt_gym/MaskedCartPole-v1" and config["torch_threads"] == 1
    ppo = config["recurrent_ppo"]
    assert ppo["n_envs"] == 8
    assert ppo["hyperparameters"] | {"policy_kwargs": None} == {
        "policy": "MlpLstmPolicy",
        "n_steps": 32,
        "batch_size": 256,
        "n_epochs": 20,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
        "policy_kwargs": None,
        "device": "cpu",
    }
    assert ppo["hyperparameters"]["policy_kwargs"]["enable_critic_lstm"]
    assert throughput.config_hash(config) == throughput.config_hash({**config, "note": "prose does not count"})
    assert throughput.config_hash(config) != throughput.config_hash({**config, "total_timesteps": 1})


def test_quick_run_measures_dagger_and_bc(imitation_results):
    output, record = imitation_results
    config = throughput.load_config(throughput.DEFAULT_CONFIG)
    assert not output.with_suffix(".json.partial").exists()
    assert json.loads(output.read_text())["entries"] == record["entries"]
    dagger, bc = record["entries"]
    assert (dagger["trainer"], dagger["actor"], bc["trainer"], bc["actor"]) == ("dagger", "mlp", "bc", "mlp")
    for entry in (dagger, bc):
        assert entry["smoke"] and entry["torch_threads"] == config["torch_threads"]
        assert entry["config_hash"] == throughput.config_hash(config)
        assert entry["trainer_defaults"] == throughput.trainer_defaults(entry["trainer"])
        assert entry["seconds"] > 0 and entry["rate"] > 0 and entry["gradient_steps"] > 0
        assert entry["machine"]["cpu_count"] and len(entry["machine"]["load_average_start"]) == 3
    assert dagger["total_timesteps"] == config["quick"]["total_timesteps"] and dagger["rate_basis"] == "env_steps"
    assert dagger["rollout_steps"] >= dagger["total_timesteps"] and dagger["demonstration_steps"] > 0
    assert dagger["env_steps"] == dagger["rollout_steps"] + dagger["demonstration_steps"]
    # seconds are stored rounded to the millisecond: allow for that on a sub-second smoke run
    assert dagger["rate"] == pytest.approx(dagger["env_steps"] / dagger["seconds"], rel=0.02)
    assert bc["rate_unit"] == "gradient steps/s" and bc["demonstration_episodes"] >= config["quick"]["demo_episodes"]
    assert bc["rate"] == pytest.approx(bc["gradient_steps"] / bc["seconds"], rel=0.02)
    assert record["machine"]["cpu_count"] and record["configs"][bc["config_hash"]] == config


def test_a_measured_entry_is_skipped(imitation_results, tmp_path):
    output, record = imitation_results
    copy = tmp_path / "throughput.json"
    shutil.copy(output, copy)
    again = throughput.main([*QUICK, "--trainers", "bc", "dagger", "--output", str(copy)])
    assert again["run_entries"] == [record["entries"][1], record["entries"][0]]
    assert json.loads(copy.read_text())["entries"] == record["entries"]


def test_recurrent_ppo_joins_the_table(imitation_results, tmp_path, capsys):
    pytest.importorskip("sb3_contrib")
    output, _ = imitation_results
    copy = tmp_path / "throughput.json"
    shutil.copy(output, copy)
    record = throughput.main([*QUICK, "--trainers", "recurrent_ppo", "--output", str(copy)])
    (ppo,) = record["run_entries"]
    assert ppo["actor"] == "MlpLstmPolicy" and ppo["env_steps"] % (8 * 32) == 0
    assert ppo["env_steps"] >= ppo["total_timesteps"] and ppo["gradient_steps"] > 0 and ppo["rate"] > 0
    capsys.readouterr()
    throughput.main([*QUICK, "--markdown", "--output", str(copy)])
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "| actor | trainer | steps/s | x RecurrentPPO |"
    assert len(rows) == 2 + 4 and all(row.split("|")[-2].strip() not in ("", "-") for row in rows[2:])


def test_missing_sb3_contrib_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sb3_contrib", None)  # what `import sb3_contrib` sees when it is not installed
    output = tmp_path / "throughput.json"
    with pytest.raises(ImportError, match=r"pip install sb3-contrib==2\.2\.1"):
        throughput.main([*QUICK, "--output", str(output)])
    assert not output.exists()  # failed before measuring anything


def test_quick_needs_an_output():
    with pytest.raises(SystemExit):
        throughput.main(["--quick"])


def test_the_device_is_part_of_an_entrys_key_and_old_entries_are_cpu_ones(imitation_results):
    output, _ = imitation_results
    entries = json.loads(output.read_text())["entries"]
    assert entries and all(entry["device"] == "cpu" for entry in entries)
    entry = entries[0]
    legacy = {key: value for key, value in entry.items() if key != "device"}  # written before --device existed
    assert throughput.entry_key(legacy) == throughput.entry_key(entry)
    assert throughput.entry_key({**entry, "device": "cuda"}) != throughput.entry_key(entry)
    assert "device" not in throughput.trainer_defaults("dagger")  # passed by the benchmark, not a default it records
