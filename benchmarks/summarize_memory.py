"""Write the memory-policy tables of ``docs/BENCHMARKS.md`` from ``benchmarks/results/memory/*.json``.

    .venv/bin/python -m benchmarks.summarize_memory

Only the section under ``HEADING`` is replaced (``summarize.write_section``); the rest of the file is kept. Each cell
is the mean over the seeds found (with the per-seed values), so a partly finished queue already fills the table and
says how many seeds each cell has.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import current_command
from benchmarks.summarize import DOC, REPO_ROOT, write_section

CONFIG_DIR = REPO_ROOT / "benchmarks" / "configs" / "memory"
RESULT_DIR = REPO_ROOT / "benchmarks" / "results" / "memory"
GRAD_STOP_DIR = REPO_ROOT / "benchmarks" / "results" / "grad_stop"
HEADING = "## Memory policies: BC / DAgger on the memory envs"
POLICY_LABELS = {
    "transformer": "full attention (transformer, KV cache)",
    "ttt-e2e": "TTT-E2E (TTT-Policy)",
    "transformer-ctx1": "transformer, ctx=1",
    "ttt-linear": "TTT-Linear",
    "gru": "GRU",
    "mlp": "MLP (memoryless)",
}
#: The blog's Table 1 (success %, best checkpoint): Mystery Path / Coin Search / Confounded Controls.
BLOG = {
    "transformer": (95.0, 99.5, 78.5),
    "ttt-e2e": (80.0, 89.0, 38.0),
    "transformer-ctx1": (5.0, 16.0, 0.5),
}
#: The issue's anchors for position-only CartPole / Acrobot (return): MLP / transformer / TTT-Linear.
MASKED_ANCHORS = {
    "masked-cartpole": {"mlp": 45.08, "transformer": 434.9, "ttt-linear": 266.64},
    "masked-acrobot": {"mlp": -496.42, "transformer": -64.48, "ttt-linear": -65.93},
}
SUCCESS_TABLE = ("mystery-path", "coin-search", "confounded-controls")
RETURN_TABLE = ("masked-cartpole", "masked-acrobot")


def load(result_dir: Path = RESULT_DIR) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(config name, policy) -> the result records of every seed, smoke runs left out."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted(result_dir.glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("smoke"):
            continue
        cells.setdefault((record["name"], record["policy"]), []).append(record)
    for records in cells.values():
        records.sort(key=lambda r: r["seed"])
    return cells


def _cell(records: list[dict[str, Any]] | None, key: str, scale: float, digits: int) -> str:
    if not records:
        return "not run"
    values = np.array([r[key] for r in records], dtype=float) * scale
    # "s": the run acted by seeded samples, as its validation preferred (a run without the field acted by the mode).
    per_seed = " / ".join(
        f"{v:.{digits}f}" + ("s" if r.get("deterministic") is False else "")
        for v, r in zip(values, records, strict=True)
    )
    spread = f" +- {values.std():.{digits}f}" if len(values) > 1 else ""
    return f"**{values.mean():.{digits}f}**{spread} ({per_seed}; {len(values)} seed{'s' if len(values) > 1 else ''})"


def _config(name: str) -> dict[str, Any] | None:
    path = CONFIG_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _budget_lines(names: tuple[str, ...], cells: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    lines = []
    for name in names:
        config = _config(name)
        if config is None:
            continue
        seconds = [r["train_seconds"] for (n, _), records in cells.items() if n == name for r in records]
        timing = f"; training took {min(seconds):.0f}-{max(seconds):.0f} s per run" if seconds else ""
        lines.append(
            f"- `{name}`: {config['env_id']}, trainer `{config['trainer']}`"
            + (f" on `{config.get('demonstrations', 'expert')}` episodes" if config["trainer"] == "bc" else "")
            + f", `{json.dumps(config['trainer_kwargs'])}`; evaluation {config['eval']['episodes']} episodes"
            + f"{timing}. {config.get('budget', {}).get('note', '')}".rstrip()
        )
    return lines


def _grad_stop_lines(grad_stop_dir: Path = GRAD_STOP_DIR) -> list[str]:
    """The gradient-stopping sweeps (``python -m benchmarks.grad_stop``), one table per trained actor."""
    tables = sorted(grad_stop_dir.glob("*.md"))
    if not tables:
        return []
    out = [
        "",
        "### Gradient stopping",
        "",
        "`python -m benchmarks.grad_stop` on the seed-0 actors above (the threshold applies at inference only; "
        "the trained weights are unchanged). *skipped*: fraction of inner updates skipped; *update kFLOP/step*: the "
        "FLOPs the inner updates cost per step (per-update cost measured with `FlopCounterMode` times the updates "
        "actually made); *total kFLOP/step*: all of `predict`, counted on the first episode. Commands:",
        "",
        "```",
    ]
    for table in tables:
        record = json.loads(table.with_suffix(".json").read_text()) if table.with_suffix(".json").exists() else {}
        if "command" in record:
            out.append(current_command(str(record["command"])))
    out += ["```", ""]
    for table in tables:
        out += [table.read_text().strip(), ""]
    return out[:-1]


def render(result_dir: Path = RESULT_DIR) -> str:
    """The whole section as markdown."""
    cells = load(result_dir)
    out = [
        HEADING,
        "",
        "Sequence actors trained by `python -m benchmarks.run_memory` from the committed configs in "
        "`benchmarks/configs/memory/` (one torch thread per run, default actor sizes: embed 64, 2 layers), then "
        "evaluated on 200 fresh seeded episodes (`evaluate_success`, seeds `10000 + 1000 * seed + i`, never used in "
        "training or validation). The evaluated actor is the checkpoint that scored best on 50 validation episodes "
        "(seeds `1000000 + 1000 * seed + i`) during training, acting as validation preferred: by the mode or by "
        "seeded samples (cells marked *s* act sampled; runs before the trainers compared both acted by the mode); "
        "a checkpoint that ties the best validation score replaces it (session 9; the cells this changed were "
        "re-run, their first-wins versions kept in `benchmarks/results/memory_firsttie/`); "
        "the blog reports the best checkpoint on its test episodes, which we never select on. Each cell: mean +- std "
        "over seeds (per-seed values; number of seeds). Earlier generations of this table are kept in "
        "`benchmarks/results/memory_v1/` (another recipe) and `benchmarks/results/memory_v2/` (the same recipe, "
        "the mode only).",
        "",
        "```",
        "for c in mystery-path coin-search confounded-controls masked-cartpole masked-acrobot; do",
        "  .venv/bin/python -m benchmarks.run_memory --config benchmarks/configs/memory/$c.json --seeds 0 1 2",
        "done",
        ".venv/bin/python -m benchmarks.summarize_memory",
        "```",
        "",
        "### Success (%) on the memory envs",
        "",
        "| actor | Mystery Path | Coin Search | Confounded Controls | blog (MP / CS / CC) |",
        "|---|---|---|---|---|",
    ]
    for policy, label in POLICY_LABELS.items():
        row = [_cell(cells.get((name, policy)), "success", 100.0, 1) for name in SUCCESS_TABLE]
        blog = " / ".join(f"{v:g}" for v in BLOG[policy]) if policy in BLOG else "-"
        out.append(f"| {label} | " + " | ".join(row) + f" | {blog} |")
    out += ["", "### Return on position-only CartPole and Acrobot", ""]
    out += ["| actor | Masked CartPole | Masked Acrobot | anchors (CartPole / Acrobot) |", "|---|---|---|---|"]
    for policy in ("mlp", "gru", "transformer", "ttt-linear", "ttt-e2e"):
        if not any((name, policy) in cells for name in RETURN_TABLE) and policy not in MASKED_ANCHORS[RETURN_TABLE[0]]:
            continue
        row = [_cell(cells.get((name, policy)), "return_mean", 1.0, 1) for name in RETURN_TABLE]
        anchors = " / ".join(
            f"{MASKED_ANCHORS[name][policy]:g}" if policy in MASKED_ANCHORS[name] else "-" for name in RETURN_TABLE
        )
        out.append(f"| {POLICY_LABELS[policy]} | " + " | ".join(row) + f" | {anchors} |")
    extra = sorted({name for name, _ in cells} - set(SUCCESS_TABLE) - set(RETURN_TABLE))
    if extra:
        out += ["", "### Other configs", "", "| config | actor | success (%) | return |", "|---|---|---|---|"]
        for name in extra:
            for (n, policy), records in sorted(cells.items()):
                if n == name:
                    out.append(
                        f"| `{name}` | {POLICY_LABELS.get(policy, policy)} | {_cell(records, 'success', 100.0, 1)} "
                        f"| {_cell(records, 'return_mean', 1.0, 2)} |"
                    )
    out += _grad_stop_lines()
    out += ["", "### Budget", "", *_budget_lines(SUCCESS_TABLE + RETURN_TABLE + tuple(extra), cells)]
    records = [r for rs in cells.values() for r in rs]
    if records:
        machine = records[0]["machine"]
        loads = [
            x for r in records for x in (r["machine"]["load_average_start"][0], r["machine"]["load_average_end"][0])
        ]
        out += [
            "",
            "### Machine",
            "",
            f"{machine['cpu_model'] or 'x86_64'}, {machine['cpu_count']} cores, torch {machine['torch']}, one torch "
            f"thread per run; 1-minute load average {min(loads):.1f}-{max(loads):.1f} during the runs (other "
            f"benchmarks shared the two cores, so training seconds are upper bounds). Runs from "
            f"{min(r['started_utc'] for r in records)} to {max(r['finished_utc'] for r in records)}.",
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--result-dir", type=Path, default=RESULT_DIR)
    args = parser.parse_args(argv)
    write_section(render(args.result_dir), args.doc, HEADING)
    print(f"wrote the section {HEADING!r} of {args.doc}")


if __name__ == "__main__":
    main()
