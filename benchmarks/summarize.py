"""Turn ``benchmarks/results/*.json`` into the "Offline agents" section of ``docs/BENCHMARKS.md``.

    .venv/bin/python benchmarks/summarize.py            # rewrite the section in docs/BENCHMARKS.md
    .venv/bin/python benchmarks/summarize.py --print    # print it instead

Only the section under ``SECTION_HEADING`` is replaced (up to the next ``## `` heading); the rest of the file is kept.
Smoke runs (``"smoke": true``) are ignored. Cells without results are shown as pending, never filled in.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_DIR = REPO_ROOT / "benchmarks" / "results"
CONFIG_DIR = REPO_ROOT / "benchmarks" / "configs"
DOC = REPO_ROOT / "docs" / "BENCHMARKS.md"
SECTION_HEADING = "## Offline agents: success on pointmaze-medium"
AGENTS = ("gcbc", "gcivl", "gciql")
DATASETS = ("pointmaze-medium-navigate-v0", "pointmaze-medium-stitch-v0")
EXPECTED_SEEDS = (0, 1, 2)

# OGBench paper (Park et al., 2024), success in % (mean ± std over 8 seeds), 1M steps, 512x512x512, batch 1024.
OGBENCH_PAPER = {
    ("pointmaze-medium-navigate-v0", "gcbc"): "9 ± 6",
    ("pointmaze-medium-navigate-v0", "gcivl"): "63 ± 6",
    ("pointmaze-medium-navigate-v0", "gciql"): "53 ± 8",
    ("pointmaze-medium-stitch-v0", "gcbc"): "23 ± 18",
    ("pointmaze-medium-stitch-v0", "gcivl"): "70 ± 14",
    ("pointmaze-medium-stitch-v0", "gciql"): "21 ± 9",
}


def load_results(configs: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Result records grouped by (dataset, agent), sorted by seed.

    Smoke runs are left out, and so are stale results: runs whose config (but for its budget note) differs from
    the committed one.
    """
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(RESULT_DIR.glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("smoke"):
            continue
        key = (record["config"]["env_name"], record["config"]["agent"])
        if without_notes(record["config"]) != without_notes(configs.get(key, {})):
            print(f"skipping {path.name}: its config differs from benchmarks/configs/{record['name']}.json (stale)")
            continue
        cells[(record["config"]["env_name"], record["config"]["agent"])].append(record)
    for records in cells.values():
        records.sort(key=lambda r: r["seed"])
    return cells


def without_notes(config: dict[str, Any]) -> dict[str, Any]:
    """The fields of a config that change a run's result (the budget note is free text)."""
    return {key: value for key, value in config.items() if key != "budget"}


def load_configs() -> dict[tuple[str, str], dict[str, Any]]:
    configs = {}
    for path in sorted(CONFIG_DIR.glob("*.json")):
        config = json.loads(path.read_text())
        configs[(config["env_name"], config["agent"])] = config
    return configs


def value_range(values: list[float], spec: str) -> str:
    """``min-max`` of a measured quantity over seeds, or the single value."""
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low}-{high}"


def percent(values: list[float]) -> str:
    """Mean ± std over seeds (ddof=0) in %, rounded like the paper; a single seed gets no ± std."""
    array = 100 * np.asarray(values)
    return f"{array.mean():.0f} ± {array.std():.0f}" if len(array) > 1 else f"{array.mean():.0f}"


def render() -> str:
    configs = load_configs()
    cells = load_results(configs)
    all_records = [r for records in cells.values() for r in records]
    lines = [
        SECTION_HEADING,
        "",
        "OGBench's GCBC, GCIVL and GCIQL (`ttt_gym.agents`) trained on the locally generated full datasets",
        "(`ttt-gym dataset generate NAME`, 1M transitions each, docs/DATA.md) with a reduced CPU budget, then",
        "evaluated with OGBench's protocol (`ttt_gym.goal_evaluation.evaluate_goal_policy`: tasks 1-5, deterministic",
        "actions, success at the episode's end, 1000-step episodes). Every other hyperparameter is OGBench's for the",
        "dataset (`ogbench_hyperparameters`: GCIVL `alpha` 10, GCIQL DDPG+BC `alpha` 0.003, stitch actor goals half",
        "trajectory / half random for the critic agents).",
        "",
        "### Commands",
        "",
        "```bash",
        "# one run (one cell, one seed): trains, saves runs/agents/NAME-sS.pt, writes benchmarks/results/NAME-sS.json",
        ".venv/bin/python benchmarks/run_agent.py --seed 0 \\",
        "    --config benchmarks/configs/gciql-pointmaze-medium-navigate.json",
        "# all 18 runs (6 configs x seeds 0, 1, 2), 2 at a time, seed-major; skips runs whose result exists",
        "mkdir -p runs/bench_logs",
        "nohup .venv/bin/python benchmarks/run_all.py --jobs 2 --seeds 0 1 2 > runs/bench_logs/queue.out 2>&1 &",
        "tail runs/bench_logs/queue.log        # progress; runs/bench_logs/NAME-sS.log per run",
        ".venv/bin/python benchmarks/summarize.py   # rewrites this section from benchmarks/results/*.json",
        "```",
        "",
        "### Budget (one config per cell, `benchmarks/configs/`)",
        "",
        "| config | train steps | networks | batch | torch threads | eval episodes | training (min) | steps/s "
        "| evaluation (min) |",
        "|---|---:|---|---:|---:|---:|---|---|---|",
    ]
    for dataset in DATASETS:
        for agent in AGENTS:
            config = configs.get((dataset, agent))
            if config is None:
                continue
            records = cells.get((dataset, agent), [])
            overrides = config["agent_overrides"]
            dims = "x".join(str(d) for d in overrides.get("hidden_dims", [512, 512, 512]))
            episodes = len(config["eval"].get("tasks", [1, 2, 3, 4, 5])) * config["eval"]["episodes_per_task"]
            if records:
                timing = value_range([r["train_seconds"] / 60 for r in records], ".1f")
                rate = value_range([r["steps_per_second"] for r in records], ".0f")
                evaluation = value_range([r["eval_seconds"] / 60 for r in records], ".1f")
            else:
                timing, rate, evaluation = "pending", "pending", "pending"
            lines.append(
                f"| `{config['name']}` | {config['train_steps']:,} | {dims} | {overrides.get('batch_size', 1024)} | "
                f"{config['torch_threads']} | {episodes} | {timing} | {rate} | {evaluation} |"
            )
    lines += [
        "",
        "The step counts were chosen for about 15 minutes of training per run on one core of this shared 2-core",
        "machine, at the rates measured under load in docs/AGENTS.md; the measured columns (min-max over seeds) show",
        "what the runs took, which depends on how many other jobs shared the cores. GCBC's step is about 5x cheaper",
        "than a critic agent's, so GCBC gets 125k steps (the GC-BC budget of the GC-TTT authors'",
        "run on this machine, DESIGN.md) and GCIVL / GCIQL get 25k. This is 12.5% and 2.5% of OGBench's 1M steps, with",
        "networks a quarter of the size and batches a quarter as large, so differences from the paper's numbers are",
        "expected from the budget alone; this table does not test the agents at OGBench's budget.",
        "",
        "### Success (%)",
        "",
        "Ours: mean ± std over seeds (ddof=0), 250 evaluation episodes per run (50 per task, reset seeds",
        "`seed + i`). OGBench: the numbers published in the OGBench paper (Park et al., 2024, results table; 1M steps,",
        "512x512x512 networks, batch 1024, 8 seeds), copied, not measured here.",
        "",
        "| dataset | agent | ours (this budget) | seeds | per seed | OGBench paper (1M steps) |",
        "|---|---|---:|---:|---|---:|",
    ]
    for dataset in DATASETS:
        for agent in AGENTS:
            records = cells.get((dataset, agent), [])
            paper = OGBENCH_PAPER[(dataset, agent)]
            if records:
                ours = percent([r["success"] for r in records])
                per_seed = ", ".join(f"s{r['seed']}: {100 * r['success']:.1f}" for r in records)
                seeds = f"{len(records)}"
            else:
                ours, per_seed, seeds = "pending", "", "0"
            missing = [s for s in EXPECTED_SEEDS if s not in {r["seed"] for r in records}]
            if records and missing:
                seeds += f" (pending: {', '.join(map(str, missing))})"
            row = [dataset.removesuffix("-v0"), agent.upper(), ours, seeds, per_seed, paper]
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Per task (mean over seeds, %):", ""]
    lines.append("| dataset | agent | task 1 | task 2 | task 3 | task 4 | task 5 |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for dataset in DATASETS:
        for agent in AGENTS:
            records = cells.get((dataset, agent), [])
            if not records:
                continue
            tasks = sorted(records[0]["task_success"], key=int)
            means = [100 * np.mean([r["task_success"][t] for r in records]) for t in tasks]
            lines.append(
                f"| {dataset.removesuffix('-v0')} | {agent.upper()} | " + " | ".join(f"{m:.0f}" for m in means) + " |"
            )
    lines += ["", "### Machine", ""]
    if all_records:
        machine = all_records[0]["machine"]
        loads = [
            r["machine"][key][0]
            for r in all_records
            for key in ("load_average_start", "load_average_after_training", "load_average_end")
        ]
        dates = sorted(r["started_utc"] for r in all_records) + sorted(r["finished_utc"] for r in all_records)
        commits = sorted({str(r.get("git_commit")) for r in all_records})
        lines += [
            f"{machine['cpu_count']} CPU cores ({machine['cpu_model']}), no GPU, {machine['platform']},",
            f"Python {machine['python']}, torch {machine['torch']}; 1 torch thread per run, 2 runs at a time, and",
            "other jobs shared the two cores: the 1-minute load average read at the start, after training and at the",
            f"end of the runs ranged from {min(loads):.1f} to {max(loads):.1f}. Runs from {min(dates)} to",
            f"{max(dates)} (UTC), code at {', '.join(commits)}.",
        ]
    else:
        lines.append("No results yet.")
    return "\n".join(lines) + "\n"


def write_section(section: str, doc: Path = DOC) -> None:
    """Replace (or append) the section in ``doc``, keeping every other section."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\nMeasured tables, each with its config and command.\n"
    start = text.find(SECTION_HEADING)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION_HEADING))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end != -1 else "")
    doc.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args(argv)
    section = render()
    if args.print:
        print(section)
    else:
        write_section(section)
        print(f"wrote the section {SECTION_HEADING!r} of {DOC}")


if __name__ == "__main__":
    main()
