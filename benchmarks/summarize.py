"""Turn ``benchmarks/results/*.json`` into the "Offline agents" section of ``docs/BENCHMARKS.md``, and
``benchmarks/results/ttt/*.json`` into the GC-TTT ablation, K-sweep and Table 1 (over seeds) sections.

    .venv/bin/python -m benchmarks.summarize            # rewrite the sections in docs/BENCHMARKS.md
    .venv/bin/python -m benchmarks.summarize --print    # print them instead

Only the sections under ``SECTION_HEADING``, ``ABLATION_HEADING``, ``K_SWEEP_HEADING`` and ``TABLE1_HEADING`` are
replaced (each up to the next ``## `` heading); the rest of the file is kept. The GC-TTT sections are written only
once at least one of their results exists (appended at the end of the file the first time). Smoke runs
(``"smoke": true``) are ignored, and so are stale results (their config differs from the committed one but for its
notes). Cells without results are shown as pending (or "not run"), never filled in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import textwrap
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
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
TTT_CONFIG_DIR = CONFIG_DIR / "ttt"
TTT_RESULT_DIR = RESULT_DIR / "ttt"
STARTS_ONLY_RESULT_DIR = RESULT_DIR / "ttt_starts_only"
"""GC-TTT results from before commit 1e4fd7c, when the wrapper fine-tuned on the start states of the selected
sub-trajectories only (``subtrajectory_steps=1`` today); kept for the comparison section, out of the other tables."""
H50_RESULT_DIR = RESULT_DIR / "ttt_h50"
"""GC-TTT results with sub-trajectories but the old ``horizon_steps=50`` (critic-based selectors only)."""
NOCUT_RESULT_DIR = RESULT_DIR / "ttt_h200_nocut"
"""GC-TTT results with sub-trajectories, ``horizon_steps=200`` and no best-checkpoint cut (critic-based selectors)."""
FINE_TUNE_DATA_HEADING = "## GC-TTT: what to fine-tune on (start states or whole sub-trajectories)"
ABLATION_HEADING = "## GC-TTT: data-selection ablation on pointmaze-medium-navigate (paper's Figure 2, left)"
K_SWEEP_HEADING = "## GC-TTT: TTT frequency K on pointmaze-medium-navigate (paper's Figure 2, middle)"
K_SWEEP_BASE = "gcbc-gc-ttt-gcivl-pointmaze-medium-navigate"
"""The K sweep is this config with other ``ttt.every``; it is also the "both" bar of the ablation."""
ABLATION_ROWS = (
    ("random", "gcbc-ablation-random-pointmaze-medium-navigate"),
    ("relevant only", "gcbc-ablation-relevant-only-pointmaze-medium-navigate"),
    ("optimal only (GCIVL critic)", "gcbc-ablation-optimal-only-gcivl-pointmaze-medium-navigate"),
    ("both: GC-TTT (GCIVL critic)", K_SWEEP_BASE),
)
TABLE1_HEADING = "## GC-TTT: Table 1 rows over seeds (pointmaze-medium)"
TABLE1_DATASETS = ("navigate", "stitch")
"""Columns of the Table 1 section; the config of a row and dataset is ``{row.config}-pointmaze-medium-{dataset}``."""
SEEDED_RESET_SINCE_UTC = dt.datetime(2026, 11, 22, 1, 30, tzinfo=dt.timezone.utc)
"""GC-TTT runs started from this time on reset OGBench with ``ttt_gym.goal_evaluation.seeded_reset`` (commit
ac7ac15); earlier runs drew the start and goal noise from the unseeded global ``np.random``."""


@dataclass(frozen=True)
class Table1Row:
    """One row of the GC-TTT paper's Table 1 as measured here."""

    label: str
    config: str
    """Config name without ``-pointmaze-medium-{dataset}``."""
    with_ttt: bool
    """False: the row is the agent without TTT, read from the ``success_without_ttt`` of the ``config`` runs."""
    anchor: str = "-"
    """Published success, navigate / stitch (copied, not measured)."""


# Anchors: the GC-TTT paper's Table 1 and, for the rows without TTT, OGBENCH_PAPER as rates.
TABLE1_ROWS = (
    Table1Row("GC-BC", "gcbc-gc-ttt-gcivl", with_ttt=False, anchor="OGBench paper: 0.09 / 0.23"),
    Table1Row(
        "GC-BC + TTT (GCIVL critic)",
        "gcbc-gc-ttt-gcivl",
        with_ttt=True,
        anchor="0.86 / 0.79; authors' code 0.81 / 0.96",
    ),
    Table1Row("GC-BC + TTT (GCIVL critic, 125k steps)", "gcbc-gc-ttt-gcivl125k", with_ttt=True),
    Table1Row("GC-BC + TTT (critic-free)", "gcbc-critic-free", with_ttt=True, anchor="0.70 / -"),
    Table1Row("GC-IQL (DDPG+BC)", "gciql-gc-ttt", with_ttt=False, anchor="OGBench paper: 0.53 / 0.21"),
    Table1Row("GC-IQL (DDPG+BC) + TTT (own critic)", "gciql-gc-ttt", with_ttt=True),
    Table1Row("GC-IQL (DDPG+BC) + TTT (critic-free)", "gciql-critic-free", with_ttt=True),
    Table1Row("GC-IQL (AWR)", "gciqlawr-gc-ttt", with_ttt=False, anchor="GC-TTT paper: 0.16 / 0.31"),
    Table1Row("GC-IQL (AWR) + TTT (own critic)", "gciqlawr-gc-ttt", with_ttt=True, anchor="0.84 / 0.84"),
    Table1Row("GC-IQL (AWR) + TTT (critic-free)", "gciqlawr-critic-free", with_ttt=True, anchor="0.73 / -"),
)
TABLE1_OTHER_BASELINE = {
    "GC-BC": "gcbc-critic-free",
    "GC-IQL (DDPG+BC)": "gciql-critic-free",
    "GC-IQL (AWR)": "gciqlawr-critic-free",
}
"""The other TTT config of each agent, which measured the same agent without TTT a second time."""

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
        config = record.get("config") if isinstance(record, dict) else None
        if record.get("smoke") or not isinstance(config, dict) or "agent" not in config:
            continue  # smoke runs, and other benchmarks' results (ttt_cost.json, policy_cost.json)
        key = (record["config"]["env_name"], record["config"]["agent"])
        if record["config"].get("name") != configs.get(key, {}).get("name"):
            continue  # another run of the agent (e.g. gcivl125k-*, a GC-TTT critic), not a cell of this table
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
    """The offline-agent configs ``benchmarks/configs/{agent}-{dataset}.json`` by (dataset, agent); other configs
    (other benchmarks, other runs of an agent such as ``gcivl125k-*``) are skipped."""
    configs = {}
    for path in sorted(CONFIG_DIR.glob("*.json")):
        config = json.loads(path.read_text())
        if "agent" not in config or "env_name" not in config:
            continue  # e.g. ttt_cost.json, a config of another benchmark
        if config["name"] != f"{config['agent']}-{config['env_name'].removesuffix('-v0')}":
            continue  # another run of the same agent, e.g. gcivl125k-*: a critic for GC-TTT, not a table cell
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
        ".venv/bin/python -m benchmarks.run_agent --seed 0 \\",
        "    --config benchmarks/configs/gciql-pointmaze-medium-navigate.json",
        "# all 18 runs (6 configs x seeds 0, 1, 2) as Ray tasks on this machine's cores, seed-major; skips runs whose",
        '# result exists and records the same config (needs the [ray] extra; see "Running everything" below)',
        ".venv/bin/ttt-gym bench benchmarks/configs/gc{bc,ivl,iql}-pointmaze-medium-{navigate,stitch}.json \\",
        "    --seeds 0 1 2",
        ".venv/bin/python -m benchmarks.summarize   # rewrites this section from benchmarks/results/*.json",
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
            f"{_machines(all_records)}, no GPU, {machine['platform']},",
            f"Python {machine['python']}, torch {machine['torch']}; 1 torch thread per run, 2 runs at a time, and",
            "other jobs shared the two cores: the 1-minute load average read at the start, after training and at the",
            f"end of the runs ranged from {min(loads):.1f} to {max(loads):.1f}. Runs from {min(dates)} to",
            f"{max(dates)} (UTC), code at {', '.join(commits)}.",
        ]
    else:
        lines.append("No results yet.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------------
# GC-TTT ablation and K sweep (benchmarks/run_ttt.py results)


def _ttt_run_fields(config: dict[str, Any]) -> dict[str, Any]:
    """The fields of a GC-TTT config that change a run's result (the description and budget are free text)."""
    return {key: value for key, value in config.items() if key not in ("budget", "description")}


def load_ttt_config(name: str, config_dir: Path = TTT_CONFIG_DIR) -> dict[str, Any] | None:
    """The committed GC-TTT config ``name``, or None if there is none."""
    path = config_dir / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def load_ttt_results(config: dict[str, Any], result_dir: Path = TTT_RESULT_DIR) -> list[dict[str, Any]]:
    """The results ``{name}-s{seed}.json`` of a GC-TTT config, sorted by seed; smoke and stale runs left out."""
    records = []
    for path in sorted(result_dir.glob(f"{config['name']}-s*.json")):
        if not path.stem.removeprefix(f"{config['name']}-s").isdigit():
            continue  # e.g. NAME-s0-smoke.json
        record = json.loads(path.read_text())
        if record.get("smoke"):
            continue
        if _ttt_run_fields(record["config"]) != _ttt_run_fields(config):
            print(f"skipping {path.name}: its config differs from benchmarks/configs/ttt/{config['name']}.json (stale)")
            continue
        records.append(record)
    return sorted(records, key=lambda r: r["seed"])


def k_sweep_configs(base_name: str = K_SWEEP_BASE, config_dir: Path = TTT_CONFIG_DIR) -> dict[int, dict[str, Any]]:
    """The configs that differ from ``base_name`` only in ``ttt.every`` (and name and notes), by K; base included."""
    base = load_ttt_config(base_name, config_dir)
    if base is None:
        raise FileNotFoundError(f"No config {config_dir / base_name}.json: the K sweep is built around it.")

    def sweep_fields(config: dict[str, Any]) -> dict[str, Any]:
        fields = {key: value for key, value in _ttt_run_fields(config).items() if key != "name"}
        return {**fields, "ttt": {key: value for key, value in config["ttt"].items() if key != "every"}}

    sweep = {}
    for path in sorted(config_dir.glob("*.json")):
        config = json.loads(path.read_text())
        if sweep_fields(config) == sweep_fields(base):
            sweep[int(config["ttt"]["every"])] = config
    return dict(sorted(sweep.items()))


def _paired_counts(records: list[dict[str, Any]]) -> str:
    """Episodes (summed over seeds) that succeeded only with TTT / only without, with the same task and reset seed."""
    gained = lost = 0
    for record in records:
        if record.get("no_ttt") is None:
            return "-"
        with_ttt, without = np.asarray(record["ttt"]["successes"]), np.asarray(record["no_ttt"]["successes"])
        gained += int(np.sum((with_ttt == 1) & (without == 0)))
        lost += int(np.sum((with_ttt == 0) & (without == 1)))
    return f"{gained} / {lost}"


def _ttt_cells(records: list[dict[str, Any]]) -> list[str]:
    """Success with and without TTT, per seed, episodes, paired counts, adaptations, cost: one table row's cells."""
    if not records:
        return ["pending", "", "pending", "0", "", "", "", ""]
    baseline = [r["success_without_ttt"] for r in records if r.get("success_without_ttt") is not None]
    per_seed = ", ".join(f"s{r['seed']}: {r['success']:.2f}" for r in records)
    seeds = str(len(records))
    missing = [s for s in EXPECTED_SEEDS if s not in {r["seed"] for r in records}]
    if missing:
        seeds += f" (pending: {', '.join(map(str, missing))})"
    episodes = value_range([r["ttt"]["episodes"] for r in records], "d")
    wrapper = [r["wrapper_stats"] for r in records]
    adaptations = (
        f"{sum(w['adaptations'] for w in wrapper)} / {sum(w['too_little_data'] for w in wrapper)} / "
        f"{sum(w['adaptation_errors'] for w in wrapper)}"
    )
    cost = value_range([r["ttt"]["seconds_per_1000_steps"] for r in records], ".1f")
    return [
        _mean_std([r["success"] for r in records]),
        per_seed,
        _mean_std(baseline) if baseline else "-",
        seeds,
        episodes,
        _paired_counts(records),
        adaptations,
        cost,
    ]


def _mean_std(values: list[float]) -> str:
    """Mean ± std over seeds (ddof=0) as a rate; a single seed gets no ± std."""
    array = np.asarray(values, dtype=float)
    return f"{array.mean():.2f} ± {array.std():.2f}" if len(array) > 1 else f"{array.mean():.2f}"


_TTT_COLUMNS = (
    "success with TTT (mean ± std over seeds) | per seed | without TTT (same tasks and reset seeds) | seeds | "
    "episodes per run | paired: TTT-only / no-TTT-only successes | adaptations / too little data / errors | "
    "s per 1000 steps (TTT) |"
)
_TTT_ALIGN = "---:|---|---:|---:|---:|---|---|---:|"


def _paragraph(text: str) -> list[str]:
    """Prose wrapped like the rest of docs/BENCHMARKS.md (code spans and names never broken)."""
    return textwrap.wrap(text, width=115, break_long_words=False, break_on_hyphens=False)


def _machines(records: list[dict[str, Any]]) -> str:
    """``2 CPU cores (MODEL)``, naming every CPU model the records ran on (the VMs of a session can differ)."""
    cores = " or ".join(dict.fromkeys(str(r["machine"]["cpu_count"]) for r in records))
    models = " or ".join(dict.fromkeys(str(r["machine"]["cpu_model"]) for r in records))
    return f"{cores} CPU cores ({models})"


def _ttt_machine_lines(records: list[dict[str, Any]]) -> list[str]:
    machine = records[0]["machine"]
    loads = [r["machine"][key][0] for r in records for key in ("load_average_start", "load_average_end")]
    dates = sorted(r["started_utc"] for r in records) + sorted(r["finished_utc"] for r in records)
    commits = sorted({str(r.get("git_commit")) for r in records})
    return _paragraph(
        f"Machine: {_machines(records)}, {machine['platform']}, torch "
        f"{machine['torch']}, 1 torch thread per run; the 1-minute load average read at the start and end of the "
        f"runs ranged from {min(loads):.1f} to {max(loads):.1f}. Runs from {min(dates)} to {max(dates)} (UTC), code "
        f"at {', '.join(commits)}."
    )


def render_ablation(result_dir: Path = TTT_RESULT_DIR) -> str | None:
    """The ablation section, or None while none of its results exists (the "both" row's GC-TTT results aside)."""
    rows, all_records = [], []
    for label, name in ABLATION_ROWS:
        config = load_ttt_config(name)
        records = [] if config is None else load_ttt_results(config, result_dir)
        all_records += records
        rows.append(f"| {label} | `{name}` | " + " | ".join(_ttt_cells(records)) + " |")
    if not any(r["name"] != K_SWEEP_BASE for r in all_records):
        return None
    lines = [
        ABLATION_HEADING,
        "",
        *_paragraph(
            "Which data GC-TTT fine-tunes on (Insight 3 of the GC-TTT paper): uniformly random transitions "
            '(`make_selector("random")`, 4096 per adaptation), the sub-trajectories (200 steps) that start within '
            'epsilon = 1.0 of the agent (`"relevant-only"`), the best 20% by H-step return towards the goal over the '
            'whole dataset with the GCIVL critic (`"optimal-only"`, a random 4096 of the 1M transitions scored per '
            "adaptation, cut at their best checkpoints), and both "
            f'(`"gc-ttt"`, the `{K_SWEEP_BASE}` row of the GC-TTT Table 1 section). GC-BC agent '
            "(`runs/agents/gcbc-pointmaze-medium-navigate-s{seed}.pt`), GCIVL critic of the same seed, K = 100, "
            "N = 100, batch 256, lr 3e-4, 10 episodes per task, today's selection defaults (the states of the "
            "selected sub-trajectories, H = 200, best-checkpoint cut; the random row does not select sub-trajectories "
            "and is unchanged since commit 1e4fd7c). Each run also evaluates the agent without TTT on identical "
            "episodes (`ttt_gym.goal_evaluation.seeded_reset`). The start-state generation of this ablation is in "
            'the section "what to fine-tune on". The paper\'s ablation uses GC-IQL on the play datasets.'
        ),
        "",
        "```bash",
        "for seed in 0 1 2; do",
        "  for row in ablation-random ablation-relevant-only ablation-optimal-only-gcivl gc-ttt-gcivl; do",
        "    n=gcbc-$row-pointmaze-medium-navigate; [ -f benchmarks/results/ttt/$n-s$seed.json ] && continue",
        "    .venv/bin/python -m benchmarks.run_ttt --seed $seed --config benchmarks/configs/ttt/$n.json",
        "  done",
        "done",
        ".venv/bin/python -m benchmarks.summarize   # rewrites this section",
        "```",
        "",
        "| selection | config | " + _TTT_COLUMNS,
        "|---|---|" + _TTT_ALIGN,
        *rows,
        "",
        *_ttt_machine_lines(all_records),
    ]
    return "\n".join(lines) + "\n"


def render_k_sweep(result_dir: Path = TTT_RESULT_DIR) -> str | None:
    """The K-sweep section, or None while none of its results but the base config's exists."""
    sweep = k_sweep_configs()
    results = {k: load_ttt_results(config, result_dir) for k, config in sweep.items()}
    if not any(records for k, records in results.items() if sweep[k]["name"] != K_SWEEP_BASE):
        return None
    all_records = [r for records in results.values() for r in records]
    lines = [
        K_SWEEP_HEADING,
        "",
        *_paragraph(
            "GC-TTT (GC-BC agent, GCIVL critic, N = 100, batch 256, lr 3e-4, 10 episodes per task) adapting every K "
            f"steps: the config `{K_SWEEP_BASE}` (K = 100) and its copies "
            "`gcbc-gc-ttt-gcivl-k{K}-pointmaze-medium-navigate`, which differ only in `ttt.every`. Every K uses the "
            "same tasks and reset seeds, and the no-TTT column is the same agent evaluated again in each run on "
            "identical episodes (`seeded_reset`). Today's selection defaults (sub-trajectories, H = 200, "
            'best-checkpoint cut); the start-state generation is in the section "what to fine-tune on". The '
            "paper's Figure 2 (middle) uses GC-IQL on the play datasets. "
            "`benchmarks/plot_k_sweep.py` draws docs/images/gc_ttt_success_vs_k.png from these results."
        ),
        "",
        "```bash",
        "for seed in 0 1 2; do for k in 1000 500 200 100 50 25; do",
        "  n=gcbc-gc-ttt-gcivl-k$k-pointmaze-medium-navigate",
        "  [ $k = 100 ] && n=gcbc-gc-ttt-gcivl-pointmaze-medium-navigate",
        "  [ -f benchmarks/results/ttt/$n-s$seed.json ] && continue",
        "  .venv/bin/python -m benchmarks.run_ttt --seed $seed --config benchmarks/configs/ttt/$n.json",
        "done; done",
        ".venv/bin/python -m benchmarks.plot_k_sweep && .venv/bin/python -m benchmarks.summarize",
        "```",
        "",
        "| K | config | " + _TTT_COLUMNS,
        "|---:|---|" + _TTT_ALIGN,
    ]
    for k, config in sweep.items():
        lines.append(f"| {k} | `{config['name']}` | " + " | ".join(_ttt_cells(results[k])) + " |")
    lines += ["", *_ttt_machine_lines(all_records)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------------
# GC-TTT Table 1 rows over seeds


def _count(number: int, noun: str) -> str:
    """``1 seed``, ``2 seeds``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _seed_cell(records: list[dict[str, Any]], field: str) -> str:
    """``mean ± std (s0 x, s1 y; n seeds)`` of a result field, or "not run" when no record has it."""
    values = [(r["seed"], r[field]) for r in records if r.get(field) is not None]
    if not values:
        return "not run"
    per_seed = ", ".join(f"s{seed} {value:.2f}" for seed, value in values)
    return f"{_mean_std([value for _, value in values])} ({per_seed}; {_count(len(values), 'seed')})"


def _table1_cost_cells(row: Table1Row, records: list[dict[str, Any]]) -> list[str]:
    """Paired counts and adaptations (summed over seeds), s per 1000 steps and control Hz (mean over seeds)."""
    evaluation = "ttt" if row.with_ttt else "no_ttt"
    runs = [r[evaluation] for r in records if r.get(evaluation) is not None]
    if not runs:
        return ["0", "not run", "", "", ""]
    if row.with_ttt:
        wrapper = [r["wrapper_stats"] for r in records]
        paired = _paired_counts(records)
        adaptations = (
            f"{sum(w['adaptations'] for w in wrapper)} / {sum(w['too_little_data'] for w in wrapper)} / "
            f"{sum(w['adaptation_errors'] for w in wrapper)}"
        )
    else:
        paired = adaptations = "-"
    cost = np.mean([run["seconds_per_1000_steps"] for run in runs])
    hz = np.mean([run["control_hz"] for run in runs])
    return [str(len(runs)), paired, adaptations, f"{cost:.2f}", f"{hz:.0f}"]


def _reset_lines(records: list[dict[str, Any]]) -> list[str]:
    """How many runs drew OGBench's start/goal noise unseeded (before the seeded-reset fix) and how many did not."""

    def describe(kind: list[dict[str, Any]]) -> str:
        if not kind:
            return "0 runs"
        seeds = sorted({r["seed"] for r in kind})
        commits = ", ".join(sorted({str(r.get("git_commit")) for r in kind}))
        seed_list = f"{'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))}"
        return f"{_count(len(kind), 'run')} ({seed_list}; commits {commits})"

    seeded = [r for r in records if dt.datetime.fromisoformat(r["started_utc"]) >= SEEDED_RESET_SINCE_UTC]
    unseeded = [r for r in records if r not in seeded]
    cutoff = SEEDED_RESET_SINCE_UTC.strftime("%Y-%m-%dT%H:%M")
    return _paragraph(
        f"Resets: {describe(unseeded)} started before {cutoff} UTC, when OGBench drew the start and goal noise from "
        "the unseeded global `np.random` (the with- and without-TTT evaluations of a run saw the same tasks and reset "
        f"seeds, but not the same starts and goals); {describe(seeded)} started later and reset with "
        "`ttt_gym.goal_evaluation.seeded_reset` (commit ac7ac15), so both evaluations ran identical episodes. A result "
        "records the commit checked out when the run finished, which can be one made while it ran."
    )


def render_table1(result_dir: Path = TTT_RESULT_DIR, config_dir: Path = TTT_CONFIG_DIR) -> str | None:
    """The Table 1 section (success over seeds per row and dataset, then cost), or None while no result exists."""
    results: dict[str, list[dict[str, Any]]] = {}
    for config_prefix in {row.config for row in TABLE1_ROWS} | set(TABLE1_OTHER_BASELINE.values()):
        for dataset in TABLE1_DATASETS:
            name = f"{config_prefix}-pointmaze-medium-{dataset}"
            config = load_ttt_config(name, config_dir)
            results[name] = [] if config is None else load_ttt_results(config, result_dir)
    all_records = [r for records in results.values() for r in records]
    if not all_records:
        return None

    def records_of(config_prefix: str, dataset: str) -> list[dict[str, Any]]:
        return results[f"{config_prefix}-pointmaze-medium-{dataset}"]

    def field(row: Table1Row) -> str:
        return "success" if row.with_ttt else "success_without_ttt"

    names = sorted(results)
    present = ", ".join(
        f"{sum(any(r['seed'] == seed for r in results[n]) for n in names)} of {len(names)} configs for seed {seed}"
        for seed in EXPECTED_SEEDS
    )
    episodes = value_range([r["ttt"]["episodes"] for r in all_records], "d")
    lines = [
        TABLE1_HEADING,
        "",
        *_paragraph(
            "The GC-TTT paper's Table 1 rows (Bagatella et al.) on pointmaze-medium, over the seeds run so far: "
            "the agents of the offline-agents section "
            "(`runs/agents/{agent}-pointmaze-medium-{dataset}-s{seed}.pt`) wrapped in "
            "`ttt_gym.ttt.wrapper.TestTimeTraining` with the configs "
            "`benchmarks/configs/ttt/{row}-pointmaze-medium-{dataset}.json` (K = 100, N = 100, batch 256, lr "
            f"3e-4; {episodes} episodes per run, 10 per task), evaluated with OGBench's protocol. Each cell is "
            "the success rate, mean ± std over seeds (ddof = 0), with the per-seed values and the number of seeds. "
            "The rows without TTT are the `success_without_ttt` of the TTT runs, which evaluate the agent "
            "without TTT on the same tasks and reset seeds: GC-BC from the `gcbc-gc-ttt-gcivl` runs, GC-IQL from the "
            "`gciql-gc-ttt` / `gciqlawr-gc-ttt` runs. GC-IQL (DDPG+BC) is OGBench's pointmaze GCIQL (alpha 0.003); "
            "the GC-TTT paper evaluates GC-IQL with its AWR actor (`benchmarks/configs/gciqlawr-*.json`, same "
            "alpha as the AWR temperature), whose test-time loss is weighted behaviour cloning of the selected data "
            "rather than mostly the frozen critic's Q. Paper anchors (navigate / stitch, the paper's expert / play "
            "columns) are copied, not measured, and come from 1M-step 512x512x512 agents. The rows without TTT show "
            "OGBench's or the GC-TTT paper's published success. Since commit 1e4fd7c the wrapper fine-tunes on the "
            'states of the selected sub-trajectories (section "what to fine-tune on" below). Results present: '
            f"{present}."
        ),
        "",
        "```bash",
        "for seed in 0 1 2; do for ds in navigate stitch; do",
        "  # the GC-IQL (AWR) agents first: python -m benchmarks.run_agent --seed $seed \\",
        "  #     --config benchmarks/configs/gciqlawr-pointmaze-medium-$ds.json",
        "  for row in gcbc-critic-free gcbc-gc-ttt-gcivl gciql-gc-ttt gciql-critic-free gciqlawr-gc-ttt \\",
        "      gciqlawr-critic-free; do",
        "    n=$row-pointmaze-medium-$ds; [ -f benchmarks/results/ttt/$n-s$seed.json ] && continue",
        "    .venv/bin/python -m benchmarks.run_ttt --seed $seed --config benchmarks/configs/ttt/$n.json",
        "  done",
        "done; done",
        ".venv/bin/python -m benchmarks.summarize   # rewrites this section",
        "```",
        "",
        "| row | " + " | ".join(TABLE1_DATASETS) + " | paper, navigate / stitch |",
        "|---|" + "---:|" * len(TABLE1_DATASETS) + "---|",
    ]
    for row in TABLE1_ROWS:
        cells = [_seed_cell(records_of(row.config, dataset), field(row)) for dataset in TABLE1_DATASETS]
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {row.anchor} |")
    lines.append("")
    for label, other in TABLE1_OTHER_BASELINE.items():
        cells = [
            f"{dataset} {_seed_cell(records_of(other, dataset), 'success_without_ttt')}" for dataset in TABLE1_DATASETS
        ]
        lines += _paragraph(
            f"{label} without TTT as measured again by the `{other}` runs (not used above; with unseeded resets the "
            f"start and goal noise differed between the two): {', '.join(cells)}."
        )
        lines.append("")
    lines += [
        "Cost and paired counts (TTT rows: the TTT evaluation; rows without TTT: the no-TTT evaluation of the same "
        "runs):",
        "",
        "| row | dataset | seeds | paired: TTT-only / no-TTT-only successes (sum over seeds) "
        "| adaptations / too little data / errors (sum over seeds) | s per 1000 steps (mean over seeds) "
        "| control Hz (mean over seeds) |",
        "|---|---|---:|---|---|---:|---:|",
    ]
    for row in TABLE1_ROWS:
        for dataset in TABLE1_DATASETS:
            cells = _table1_cost_cells(row, records_of(row.config, dataset))
            lines.append(f"| {row.label} | {dataset} | " + " | ".join(cells) + " |")
    lines += ["", *_reset_lines(all_records), "", *_ttt_machine_lines(all_records)]
    return "\n".join(lines) + "\n"


def render_fine_tune_data(
    result_dir: Path = TTT_RESULT_DIR,
    archive_dir: Path = STARTS_ONLY_RESULT_DIR,
    config_dir: Path = TTT_CONFIG_DIR,
    h50_dir: Path = H50_RESULT_DIR,
    nocut_dir: Path = NOCUT_RESULT_DIR,
) -> str | None:
    """Success of each selection generation (archived results) against the current one, per config with archived
    results; None while no config has a current result."""
    rows, all_records, any_current = [], [], False
    for path in sorted(config_dir.glob("*.json")):
        config = json.loads(path.read_text())
        before, after = load_ttt_results(config, archive_dir), load_ttt_results(config, result_dir)
        any_current = any_current or bool(after)
        h50 = load_ttt_results(config, h50_dir) if h50_dir.is_dir() else []
        nocut = load_ttt_results(config, nocut_dir) if nocut_dir.is_dir() else []
        if not before and not h50 and not nocut:
            continue
        all_records += before + after + h50 + nocut
        critic = config["selector"].get("critic") is not None
        h50_cell = _seed_cell(h50, "success") if critic else "(no H)"
        nocut_cell = _seed_cell(nocut, "success") if critic else "(no cut)"
        rows.append(
            f"| `{config['name']}` | {_seed_cell(after or before, 'success_without_ttt')} | "
            f"{_seed_cell(before, 'success')} | {h50_cell} | {nocut_cell} | {_seed_cell(after, 'success')} |"
        )
    if not rows or not any_current:
        return None
    lines = [
        FINE_TUNE_DATA_HEADING,
        "",
        *_paragraph(
            "Until commit 1e4fd7c the wrapper fine-tuned on the *start states* of the selected sub-trajectories: "
            "transitions within epsilon = 1.0 of the agent. With K = 100 the agent leaves that ball long before the "
            "next adaptation, and on the way it meets states the policy was not adapted to. Since then it fine-tunes "
            "on the states of the selected sub-trajectories (eq. 1 averages over D(s, g*), a set of "
            "sub-trajectories): their first H steps with a critic, the whole way to g* for the critic-free "
            "selector, stopping before g* (`GoalRelatedSelector(subtrajectory_steps=None)`; `1` restores the old "
            "behaviour). The H-step horizon was 50 at first and is 200 since commit e1ac182. Since the next change, "
            "a selected sub-trajectory that does not reach g* also ends at its best checkpoint (every 25 steps) by "
            "the k-step return with the critic (`best_cut_every=25`): past that point the data stops heading for g*, "
            'e.g. a stitch trajectory hovering at its own goal. Probes behind these choices: docs/TTT.md, "What to '
            'fine-tune on". Same configs, agents, tasks and reset seeds; the earlier results are in '
            "`benchmarks/results/ttt_starts_only/`, `ttt_h50/` and `ttt_h200_nocut/`, the current ones are the "
            "tables of this file. No TTT: the agent without TTT in the same runs (identical episodes from commit "
            "ac7ac15 on), from the current runs where there are some."
        ),
        "",
        "| config | no TTT | TTT, start states (H = 50) | TTT, sub-trajectories, H = 50 "
        "| TTT, sub-trajectories, H = 200, no cut | TTT, sub-trajectories, H = 200, best cut (current) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *_ttt_machine_lines([r for r in all_records if r]),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------------
# docs/BENCHMARKS.md


def write_section(section: str, doc: Path = DOC, heading: str = SECTION_HEADING) -> None:
    """Replace (or append) the section under ``heading`` in ``doc``, keeping every other section."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\nMeasured tables, each with its config and command.\n"
    start = text.find(heading)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end != -1 else "")
    doc.write_text(text)


FLOP_MATCHED_HEADING = (
    "## GC-TTT against FLOP-matched wider policies (pointmaze-medium-navigate, paper's Figure 2, right)"
)
FLOP_MATCHED_DIR = RESULT_DIR / "flop_matched"
FLOP_MATCHED_CONFIG_DIR = CONFIG_DIR / "flop_matched"
#: width of the wider GC-BC -> the K whose GC-TTT inference FLOPs it matches (see the configs' budget notes)
FLOP_MATCHED_K = {324: 1000, 380: 500, 512: 200}


def render_flop_matched(result_dir: Path = FLOP_MATCHED_DIR, ttt_result_dir: Path = TTT_RESULT_DIR) -> str | None:
    """Wider GC-BC agents without TTT next to GC-TTT on the 256x256 agent at the K whose FLOPs they match."""
    rows = []
    base = RESULT_DIR / "gcbc-pointmaze-medium-navigate-s0.json"
    for width, k in FLOP_MATCHED_K.items():
        name = f"gcbc-w{width}-pointmaze-medium-navigate"
        path = result_dir / f"{name}-s0.json"
        wide = json.loads(path.read_text()) if path.exists() else None
        wide = None if wide is not None and wide.get("smoke") else wide
        ttt_name = K_SWEEP_BASE if k == 100 else f"gcbc-gc-ttt-gcivl-k{k}-pointmaze-medium-navigate"
        ttt_path = ttt_result_dir / f"{ttt_name}-s0.json"
        ttt = json.loads(ttt_path.read_text()) if ttt_path.exists() else None
        ttt = None if ttt is not None and ttt.get("smoke") else ttt
        wide_text = "pending"
        if wide:
            episodes = int(np.size(wide["successes"]))
            wide_text = f"{wide['success']:.2f} ({episodes} episodes; trained in {wide['train_seconds'] / 60:.0f} min)"
        ttt_text = f"{ttt['success']:.2f} ({ttt['ttt']['episodes']} episodes)" if ttt else "pending"
        rows.append(f"| {k} | {1 + 600 / k:.1f} | {width}x{width} | {wide_text} | {ttt_text} |")
    if not any(path.exists() for path in result_dir.glob("*-s0.json")):
        return None
    base_record = json.loads(base.read_text()) if base.exists() else None
    base_text = "not run"
    if base_record:
        base_text = f"{base_record['success']:.2f} over {int(np.size(base_record['successes']))} episodes"
    out = [
        FLOP_MATCHED_HEADING,
        "",
        *_paragraph(
            "Insight 5 of the GC-TTT paper: spending the extra test-time compute on a wider policy instead of on "
            "test-time training. FLOPs follow the paper's appendix H.1 (forward pass 4w^2, backward twice the "
            "forward, batch size ignored, selection one forward): GC-TTT with N = 100 every K steps costs "
            "1 + 600 / K times the plain policy, so the FLOP-matched width is 256 * sqrt(1 + 600 / K). The wider "
            "GC-BC agents are trained exactly like the 256x256 one (125k steps, batch 256, 1 thread, seed 0, "
            "configs in `benchmarks/configs/flop_matched/`) and evaluated without TTT with `run_agent.py` (50 "
            "episodes per task); the GC-TTT column is the seed-0 K-sweep result on the 256x256 agent (GCIVL "
            "critic, 10 episodes per task, today's selection defaults). The 256x256 GC-BC without TTT: "
            f"{base_text}. Seed 0 only. The FLOP-matched width for K = 100 would be 677 (not trained)."
        ),
        "",
        "```bash",
        "for w in 324 380 512; do n=gcbc-w$w-pointmaze-medium-navigate",
        "  .venv/bin/python -m benchmarks.run_agent --seed 0 --config benchmarks/configs/flop_matched/$n.json \\",
        "      --output benchmarks/results/flop_matched/$n-s0.json",
        "done",
        "```",
        "",
        "| K matched | FLOPs vs plain 256x256 | wider GC-BC (no TTT) | its success | GC-TTT on 256x256 at that K |",
        "|---:|---:|---|---|---|",
        *rows,
    ]
    return "\n".join(out) + "\n"


IMPROVE_HEADING = "## Test-time policy improvement (Park et al.) beside GC-TTT (pointmaze-medium)"
IMPROVE_RESULT_DIR = RESULT_DIR / "improve"
IMPROVE_AGENTS = (("gciql", "GC-IQL (DDPG+BC)"), ("gciqlawr", "GC-IQL (AWR)"))
"""Result-name prefixes of ``benchmarks/run_improve.py`` (``{prefix}-improve-pointmaze-medium-{dataset}``)."""
IMPROVE_METHODS = (
    ("none", "no test-time method"),
    ("opex", "+ OPEX (beta chosen on validation)"),
    ("sfbc", "+ SfBC (32 samples)"),
    ("otf", "+ on-the-fly training"),
    ("gc-ttt", "+ GC-TTT (own critic)"),
    ("gc-ttt+opex", "+ GC-TTT + OPEX"),
)


def load_improve_results(result_dir: Path = IMPROVE_RESULT_DIR) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(agent prefix, dataset) -> the run_improve records of every seed, smoke runs left out, by seed."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for prefix, _ in IMPROVE_AGENTS:
        for dataset in TABLE1_DATASETS:
            records = []
            for path in sorted(result_dir.glob(f"{prefix}-improve-pointmaze-medium-{dataset}-s*.json")):
                record = json.loads(path.read_text())
                if not record.get("smoke"):
                    records.append(record)
            out[(prefix, dataset)] = sorted(records, key=lambda r: int(r["seed"]))
    return out


def _improve_cell(records: list[dict[str, Any]], method: str, field: str = "success") -> str:
    values = [r["methods"][method][field] for r in records if method in r["methods"]]
    if not values:
        return "not run"
    seeds = " / ".join(f"{v:.2f}" for v in values)
    return f"{_mean_std(values)} ({seeds}; {len(values)} seed{'s' if len(values) > 1 else ''})"


def render_improve(result_dir: Path = IMPROVE_RESULT_DIR) -> str | None:
    """Park et al.'s test-time methods and GC-TTT on GC-IQL's two extractions, navigate and stitch, over seeds."""
    results = load_improve_results(result_dir)
    records = [r for rs in results.values() for r in rs]
    if not records:
        return None
    columns = [(prefix, label, dataset) for prefix, label in IMPROVE_AGENTS for dataset in TABLE1_DATASETS]
    header = "| method | " + " | ".join(f"{label}, {dataset}" for _, label, dataset in columns) + " |"

    def table_rows(field: str) -> list[str]:
        return [
            f"| {name} | " + " | ".join(_improve_cell(results[(p, d)], method, field) for p, _, d in columns) + " |"
            for method, name in IMPROVE_METHODS
        ]

    success_rows, error_rows = table_rows("success"), table_rows("evaluation_mse")
    data_errors = []
    for prefix, label, dataset in columns:
        rs = [r for r in results[(prefix, dataset)] if r.get("accuracy")]
        if rs:
            train = np.mean([r["accuracy"]["training_mse"] for r in rs])
            val = np.mean([r["accuracy"]["validation_mse"] for r in rs])
            data_errors.append(f"{label} {dataset} {train:.2f} / {val:.2f}")
    cost_rows = []
    for method, name in IMPROVE_METHODS:
        ms = [r["methods"][method]["policy_ms_per_step"] for r in records if method in r["methods"]]
        if ms:
            cost_rows.append(f"| {name} | {np.mean(ms):.2f} | {1000.0 / np.mean(ms):.0f} | {len(ms)} |")
    betas = sorted({str(r["methods"]["opex"]["beta"]) for r in records if "opex" in r["methods"]})
    out = [
        IMPROVE_HEADING,
        "",
        *_paragraph(
            "Park et al.'s test-time policy improvement (`ttt_gym.OPEX`, `ttt_gym.SfBC`, `ttt_gym.OnTheFlyTraining`) "
            "and GC-TTT on GC-IQL agents with both policy extractions: DDPG+BC (alpha 0.003) and AWR (temperature "
            "0.003), 256x256, 25k steps, one agent per seed (`benchmarks/configs/gciql-*.json`, "
            "`gciqlawr-*.json`). Each run evaluates every method on the same 50 test episodes (OGBench's 5 tasks x 10, "
            "reset seeds seed + i, deterministic actions), so the rows of a column are paired. OPEX's step beta is "
            "chosen per run on 10 validation episodes (reset seeds 100000+) from 0.03 / 0.3 / 3 (chosen: "
            f"{', '.join(betas) or 'none yet'}); GC-TTT + OPEX reuses it. On-the-fly training: beta 1, 20 Adam steps "
            "every 100 steps on the states visited so far, lr 3e-4. GC-TTT: the agent's own critic, K = 100, N = 100, "
            "batch 256. Each cell: mean ± std over seeds (per-seed values; seeds). Configs in "
            "`benchmarks/configs/improve/`; results in `benchmarks/results/improve/`."
        ),
        "",
        "```bash",
        "for ds in navigate stitch; do for agent in gciql gciqlawr; do for seed in 0 1 2; do",
        "  .venv/bin/python -m benchmarks.run_agent --config benchmarks/configs/$agent-pointmaze-medium-$ds.json "
        "--seed $seed \\",
        "      --output benchmarks/results/repro/$agent-pointmaze-medium-$ds-s$seed.json",
        "  .venv/bin/python -m benchmarks.run_improve --seed $seed \\",
        "      --config benchmarks/configs/improve/$agent-pointmaze-medium-$ds.json",
        "done; done; done",
        ".venv/bin/python -m benchmarks.summarize   # rewrites this section",
        "```",
        "",
        "**Success**",
        "",
        header,
        "|---|" + "---|" * len(columns),
        *success_rows,
        "",
        *_paragraph(
            "**Policy accuracy** (the paper's diagnostic, `ttt_gym.improve.MazeOracle`): mean ||a - pi*(s, g)||^2 "
            "against the point-mass oracle (the unit vector towards the BFS subgoal), on the states each method "
            "visits in its test episodes (actions as taken, clipped to [-1, 1]; at most 5.8, a corner of the action "
            "box opposite the oracle). On 5,000 training / 5,000 validation (state, goal) pairs of the agent's own "
            f"goal sampling the error is {'; '.join(data_errors) or 'not measured'} (mean over seeds)."
        ),
        "",
        header,
        "|---|" + "---|" * len(columns),
        *error_rows,
        "",
        *_paragraph(
            "**Cost per step** (the policy's time inside the test episodes, mean over every run above; Hz: steps per "
            "second of the policy alone):"
        ),
        "",
        "| method | ms / step | Hz | runs |",
        "|---|---:|---:|---:|",
        *cost_rows,
        "",
        *_ttt_machine_lines(records),
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print the sections instead of writing them")
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to rewrite (default: %(default)s)")
    parser.add_argument("--ttt-results-dir", type=Path, default=TTT_RESULT_DIR, help="benchmarks/run_ttt.py results")
    args = parser.parse_args(argv)
    renderers: list[tuple[str, Callable[[], str | None]]] = [
        (SECTION_HEADING, render),
        (ABLATION_HEADING, lambda: render_ablation(args.ttt_results_dir)),
        (K_SWEEP_HEADING, lambda: render_k_sweep(args.ttt_results_dir)),
        (TABLE1_HEADING, lambda: render_table1(args.ttt_results_dir)),
        (FLOP_MATCHED_HEADING, lambda: render_flop_matched(ttt_result_dir=args.ttt_results_dir)),
        (FINE_TUNE_DATA_HEADING, lambda: render_fine_tune_data(args.ttt_results_dir)),
        (IMPROVE_HEADING, render_improve),
    ]
    for heading, renderer in renderers:
        section = renderer()
        if section is None:
            print(f"no results yet for {heading!r}: section left out")
        elif args.print:
            print(section)
        else:
            write_section(section, args.doc, heading)
            print(f"wrote the section {heading!r} of {args.doc}")


if __name__ == "__main__":
    main()
