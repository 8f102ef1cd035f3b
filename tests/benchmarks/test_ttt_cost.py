"""The cost benchmark (benchmarks.ttt_cost) end to end on a tiny generated dataset and tiny networks."""

from __future__ import annotations

import json

import pytest

from benchmarks import ttt_cost

NAME = "pointmaze-medium-navigate-v0"


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    from ttt_gym.data import generate_dataset

    path = tmp_path_factory.mktemp("data")
    generate_dataset(NAME, num_episodes=2, path=path, progress_bar=False, episode_steps=100, num_workers=1)
    return path


def test_the_committed_config_is_the_papers_setting():
    config = ttt_cost.load_config(ttt_cost.DEFAULT_CONFIG)
    assert config["hidden_dims"] == [512, 512, 512]
    assert config["ttt"]["every"] == 100 and config["ttt"]["steps"] == 100
    assert config["batch_sizes"] == [256, 1024] and config["threads"] == [1, 2]
    assert {m["name"] for m in config["methods"]} >= {"pretrained", "critic-free", "gc-ttt"}


def test_cost_table_on_tiny_networks(tmp_path, dataset_dir):
    config = json.loads(ttt_cost.DEFAULT_CONFIG.read_text())
    config.update(dataset_dir=str(dataset_dir), hidden_dims=[8], batch_sizes=[4], threads=[1])
    config["pretrain"].update(steps=2, batch_size=8)
    config["ttt"].update(every=5, steps=2)
    config["episode"].update(repeats=2, max_episode_steps=11)
    for method in config["methods"]:
        method.pop("batch_sizes", None)
        method["selector_kwargs"] = {"epsilon": 100.0} if method["selector"] else {}  # tiny data: all relevant
    config_path, output = tmp_path / "ttt_cost.json", tmp_path / "result.json"
    config_path.write_text(json.dumps(config))

    record = ttt_cost.main(["--config", str(config_path), "--output", str(output)])

    assert json.loads(output.read_text())["name"] == "ttt_cost"
    assert [cell["method"] for cell in record["cells"]] == ["pretrained", "critic-free", "gc-ttt", "gc-ttt-gcivl-awr"]
    for cell in record["cells"]:
        assert len(cell["episodes"]) == 2
        best = cell["fastest"]
        assert best["steps"] == 11 and best["seconds"] == min(e["seconds"] for e in cell["episodes"])
        if cell["method"] == "pretrained":
            assert best["adaptations"] == 0 and best["finetune_gflop"] == 0
        else:
            assert best["adaptations"] + best["too_little_data"] == 3  # steps 0, 5 and 10
            assert cell["flops"]["finetune_per_adaptation"] > 0
        if cell["method"].startswith("gc-ttt"):
            assert cell["flops"]["selection_per_critic_state"] > 0 and best["critic_states"] > 0
    assert record["table_markdown"].count("\n") == 1 + len(record["cells"])
    assert record["machine"]["cpu_count"] and len(record["runs"][0]["load_average_start"]) == 3
    assert record["runs"][0]["complete"]

    # --append adds a run's cells to the same table.
    appended = ttt_cost.main(
        [
            *("--config", str(config_path), "--output", str(output), "--append", "--methods", "pretrained"),
            *("--repeats", "1", "--loads", "idle", "busy"),
        ]
    )
    assert len(appended["cells"]) == 6 and len(appended["runs"]) == 2
    assert [cell["load"] for cell in appended["cells"][4:]] == ["idle", "busy"]  # the busy one beside a neighbour
    assert appended["cells"][:4] == json.loads(json.dumps(record["cells"]))
