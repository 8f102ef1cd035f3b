"""Run every offline-agent benchmark cell for several seeds, a few at a time, each run in its own process.

    nohup .venv/bin/python -m benchmarks.run_all --jobs 2 --seeds 0 1 2 > runs/bench_logs/queue.out 2>&1 &

Runs are ordered seed-major (seed 0 of every config, then seed 1, ...) so that partial results already fill the
table. A run whose result JSON exists is skipped, so the same command resumes an interrupted queue. A run that
crashes is logged (exit code in ``runs/bench_logs/queue.log``, its output in ``runs/bench_logs/NAME-sSEED.log``)
and the queue goes on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "benchmarks" / "configs"
RESULT_DIR = REPO_ROOT / "benchmarks" / "results"
LOG_DIR = REPO_ROOT / "runs" / "bench_logs"
AGENT_ORDER = {"gcbc": 0, "gcivl": 1, "gciql": 2}


def log(message: str) -> None:
    line = f"{dt.datetime.now().isoformat(timespec='seconds')} {message}"
    print(line, flush=True)
    with open(LOG_DIR / "queue.log", "a") as f:
        f.write(line + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time (one torch thread each)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="*", help="config names (default: every benchmarks/configs/*.json)")
    parser.add_argument("--dry-run", action="store_true", help="print the queue and exit")
    args = parser.parse_args(argv)

    names = args.configs or sorted(
        (p.stem for p in CONFIG_DIR.glob("*.json")), key=lambda n: (AGENT_ORDER.get(n.split("-")[0], 9), n)
    )
    queue = [(name, seed) for seed in args.seeds for name in names]
    pending = [(n, s) for n, s in queue if not (RESULT_DIR / f"{n}-s{s}.json").exists()]
    if args.dry_run:
        for name, seed in queue:
            print(f"{'pending' if (name, seed) in pending else 'done   '} {name} seed {seed}")
        return

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log(f"queue: {len(pending)} of {len(queue)} runs pending, {args.jobs} at a time")
    running: dict[tuple[str, int], tuple[subprocess.Popen[bytes], float]] = {}
    failed: list[tuple[str, int]] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            name, seed = pending.pop(0)
            command = [
                sys.executable,
                "-m",
                "benchmarks.run_agent",
                "--config",
                str(CONFIG_DIR / f"{name}.json"),
                "--seed",
                str(seed),
            ]
            with open(LOG_DIR / f"{name}-s{seed}.log", "w") as out:
                process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
            running[(name, seed)] = (process, time.time())
            log(f"start {name} seed {seed} (pid {process.pid})")
        time.sleep(5)
        for key, (process, started) in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            del running[key]
            minutes = (time.time() - started) / 60
            if code == 0:
                log(f"done  {key[0]} seed {key[1]} in {minutes:.1f} min")
            else:
                failed.append(key)
                log(f"FAIL  {key[0]} seed {key[1]} exit {code} after {minutes:.1f} min, see {key[0]}-s{key[1]}.log")
    log(f"queue finished; {len(failed)} failed: {failed}")


if __name__ == "__main__":
    main()
