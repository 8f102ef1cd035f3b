"""Success of GC-TTT against the TTT frequency K (the GC-TTT paper's Figure 2, middle) from the K-sweep results.

    .venv/bin/python -m benchmarks.plot_k_sweep            # -> docs/images/gc_ttt_success_vs_k.png

The sweep is every config in ``benchmarks/configs/ttt/`` that differs from
``gcbc-gc-ttt-gcivl-pointmaze-medium-navigate`` (K = 100) only in ``ttt.every`` (:func:`summarize.k_sweep_configs`);
its results are
``benchmarks/results/ttt/{name}-s{seed}.json`` for every seed found (smoke and stale runs left out, as in
``benchmarks.summarize``). Left panel: success with TTT against K, the mean over seeds with min-max bars and each
seed as a dot, and the agent without TTT (the mean over all runs' baselines, min-max band) as a horizontal line.
Right panel: the cost, TTT seconds per 1000 env steps. Missing (K, seed) results are listed and the rest is plotted.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.summarize import (
    EXPECTED_SEEDS,
    K_SWEEP_BASE,
    REPO_ROOT,
    TTT_RESULT_DIR,
    k_sweep_configs,
    load_ttt_results,
)

DEFAULT_OUTPUT = REPO_ROOT / "docs" / "images" / "gc_ttt_success_vs_k.png"


def collect(result_dir: Path, base: str, seeds: tuple[int, ...]) -> tuple[dict[int, list[dict[str, Any]]], list[str]]:
    """Results per K (sorted by seed) and a line per missing (K, seed)."""
    sweep = k_sweep_configs(base)
    results = {k: load_ttt_results(config, result_dir) for k, config in sweep.items()}
    missing = []
    for k, records in results.items():
        absent = [s for s in seeds if s not in {r["seed"] for r in records}]
        if absent:
            missing.append(
                f"K={k}: no result for seed(s) {', '.join(map(str, absent))} "
                f"({result_dir}/{sweep[k]['name']}-s{{seed}}.json)"
            )
    return results, missing


def plot(results: dict[int, list[dict[str, Any]]], output: Path, *, base: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = {k: records for k, records in results.items() if records}
    fig, (ax, ax_cost) = plt.subplots(1, 2, figsize=(10.5, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    ks = np.array(sorted(found))
    baselines = [
        r["success_without_ttt"] for rs in found.values() for r in rs if r.get("success_without_ttt") is not None
    ]
    if baselines:
        mean = float(np.mean(baselines))
        ax.axhline(mean, color="0.3", ls="--", lw=1.2, label=f"no TTT ({len(baselines)} runs' baselines): {mean:.2f}")
        ax.axhspan(min(baselines), max(baselines), color="0.85", zorder=0)
    if len(ks):
        success = [np.array([r["success"] for r in found[k]]) for k in ks]
        means = np.array([s.mean() for s in success])
        errors = np.array([means - [s.min() for s in success], [s.max() for s in success] - means])
        ax.errorbar(ks, means, yerr=errors, fmt="o-", color="C0", capsize=4, lw=1.6, label="GC-TTT: mean, min-max")
        for k, s in zip(ks, success, strict=True):
            ax.scatter(np.full(len(s), k), s, s=14, color="C0", alpha=0.45, zorder=3)
            ax.annotate(f"n={len(s)}", (k, s.max()), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7)
        cost = [np.array([r["ttt"]["seconds_per_1000_steps"] for r in found[k]]) for k in ks]
        ax_cost.errorbar(
            ks,
            [c.mean() for c in cost],
            yerr=[[c.mean() - c.min() for c in cost], [c.max() - c.mean() for c in cost]],
            fmt="s-",
            color="C1",
            capsize=4,
        )
    all_ks = sorted(results)
    for axis in (ax, ax_cost):
        axis.set_xscale("log")
        axis.set_xlim(all_ks[0] / 1.4, all_ks[-1] * 1.4)
        axis.set_xticks(sorted(results))
        axis.set_xticklabels([str(k) for k in sorted(results)])
        axis.minorticks_off()
        axis.set_xlabel("K: env steps between adaptations (log scale)")
        axis.grid(alpha=0.3)
    ax.set_ylim(-0.03, 1.03)
    episodes = sorted({r["ttt"]["episodes"] for rs in found.values() for r in rs})
    ax.set_ylabel(f"success rate ({'/'.join(map(str, episodes))} episodes per run)")
    ax.legend(fontsize=8, loc="center left")
    ax.set_title(f"{base} with ttt.every = K\n(GC-BC, GCIVL critic, N=100, batch 256, lr 3e-4)", fontsize=9)
    ax_cost.set_ylabel("TTT seconds per 1000 env steps")
    ax_cost.set_title("cost (1 torch thread, shared 2-core CPU)", fontsize=9)
    ax_cost.set_ylim(bottom=0)
    seeds = ", ".join(f"K={k}: {len(results[k])}" for k in all_ks)
    fig.text(0.01, 0.01, f"seeds per K: {seeds}", fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", type=Path, default=TTT_RESULT_DIR, help="where the result JSONs are")
    parser.add_argument("--base", default=K_SWEEP_BASE, help="the sweep's K=100 config name")
    parser.add_argument("--seeds", type=int, nargs="*", default=list(EXPECTED_SEEDS), help="seeds expected per K")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    results, missing = collect(args.results_dir, args.base, tuple(args.seeds))
    for k, records in results.items():
        if records:
            per_seed = ", ".join(
                f"s{r['seed']}: {r['success']:.2f} (no TTT {r['success_without_ttt']})" for r in records
            )
            print(f"K={k}: {per_seed}")
    if missing:
        print("missing results (plotted without them):\n  " + "\n  ".join(missing))
    if not any(results.values()):
        raise SystemExit(
            f"No K-sweep results in {args.results_dir}: run `python -m benchmarks.run_ttt` first (docs/BENCHMARKS.md)."
        )
    plot(results, args.output, base=args.base)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
