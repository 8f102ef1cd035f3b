"""``ttt-gym bench``: every (config, seed) run of the benchmarks as a Ray task, locally or on a cluster.

A benchmark run is one call of a runner's ``main(argv)`` (``benchmarks.run_agent``, ``run_ttt``, ``run_memory``,
``run_improve``: the same command a person would type), described by a :class:`BenchRun`. The runner module says
which runs a config makes with a function ``bench_runs(config_path, seeds, output_dir) -> list[BenchRun]``; this
module only schedules them:

* every run is a Ray task reserving the CPUs its config's ``torch_threads`` asks for (one by default);
* a run whose result exists and records the same config is skipped, so the same command resumes a table;
* each run writes its result atomically (the runners do) and its output to its own log file;
* a failed run is reported with its log and does not stop the others;
* one progress bar over the runs, and a summary table at the end.

Which runner a config belongs to: its ``"runner"`` key (a module path), else where it lies in the repository
(``benchmarks/configs/ttt/`` -> ``benchmarks.run_ttt``, ``memory*/`` -> ``benchmarks.run_memory``, ``improve/`` ->
``benchmarks.run_improve``, an agent config in ``benchmarks/configs/`` or ``flop_matched/`` ->
``benchmarks.run_agent``).

Sweeps (:func:`sweep`) go through Ray Tune: a grid over dotted config keys (``ttt.every=25,50``), one trial per variant
and seed. Each variant is written as a config of its own next to the results, so every trial is an ordinary run and
writes the same result record.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import itertools
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttt_gym.parallel import init_ray, map_tasks

#: Config keys that are prose for readers (a changed note does not make a result stale).
PROSE_KEYS = frozenset({"description", "budget"})

#: Directory of a config (under ``benchmarks/configs``) -> the runner module that runs it.
RUNNER_BY_DIR = {
    "ttt": "benchmarks.run_ttt",
    "memory": "benchmarks.run_memory",
    "memory_probes": "benchmarks.run_memory",
    "improve": "benchmarks.run_improve",
    "flop_matched": "benchmarks.run_agent",
}


@dataclass(frozen=True)
class BenchRun:
    """One benchmark run: ``python -m MODULE ARGV`` writes ``output``.

    Attributes:
        label: how the run is named in the progress bar and the summary.
        seed: the run's seed.
        module: the runner module, whose ``main(argv)`` does the run.
        argv: its command-line arguments, relative to ``root``.
        output: the result JSON the run writes (absolute).
        config: what the result's ``"config"`` must equal (:data:`PROSE_KEYS` aside) for an existing result to count
            as this run done.
        root: the directory the run works in, on ``sys.path`` (where the runner's package lies).
        cpus: CPUs the run reserves (its torch threads).
        stage: runs of a later stage start once every run of the earlier ones has finished (GC-TTT runs, stage 1,
            load the agents that agent runs, stage 0, train).
    """

    label: str
    seed: int
    module: str
    argv: tuple[str, ...]
    output: Path
    config: dict[str, Any]
    root: Path
    cpus: float = 1.0
    stage: int = 0

    @property
    def log(self) -> Path:
        """Where the run's output goes: ``runs/bench_logs/...`` for a result in the committed
        ``benchmarks/results/`` (logs are not committed), else beside the result; ``NAME.log`` either way."""
        results = self.root / "benchmarks" / "results"
        if self.output.is_relative_to(results):
            return self.root / "runs" / "bench_logs" / self.output.relative_to(results).with_suffix(".log")
        return self.output.with_suffix(".log")

    def done(self) -> bool:
        """The result exists, is a full run (not a smoke test) and records this run's config."""
        try:
            record = json.loads(self.output.read_text())
        except (OSError, ValueError):
            return False
        recorded = record.get("config")
        return (
            isinstance(recorded, dict) and _substance(recorded) == _substance(self.config) and not record.get("smoke")
        )

    @property
    def command(self) -> str:
        """The shell command that does this run alone."""
        import shlex

        return shlex.join(["python", "-m", self.module, *self.argv])


def _substance(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in PROSE_KEYS}


@dataclass
class RunOutcome:
    """What became of one :class:`BenchRun`: ``"done"``, ``"skipped"`` (existing result) or ``"failed"``."""

    run: BenchRun
    status: str
    seconds: float = 0.0
    error: str = ""
    record: dict[str, Any] = field(default_factory=dict)


def runner_module(config_path: Path, config: dict[str, Any]) -> str:
    """The runner of a config: its ``"runner"`` key, else the one for the directory it lies in."""
    if "runner" in config:
        return str(config["runner"])
    module = RUNNER_BY_DIR.get(config_path.parent.name)
    if module is None and config_path.parent.name == "configs" and "agent" in config:
        module = "benchmarks.run_agent"
    if module is None:
        raise ValueError(
            f"{config_path}: no runner for this config. Put it under benchmarks/configs/ (agents), configs/ttt/, "
            'configs/memory/ or configs/improve/, or give it a "runner" key naming a module with main(argv) '
            'and bench_runs(config_path, seeds, output_dir), e.g. "benchmarks.run_ttt".'
        )
    return module


def _import_runner(module: str, root: Path | None = None) -> Any:
    root = Path.cwd() if root is None else root
    if str(root) not in sys.path:  # console scripts and Ray workers do not put the working directory on the path
        sys.path.insert(0, str(root))
    try:
        runner = importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"Cannot import the runner {module!r} ({error}). ttt-gym bench runs the repository's benchmarks: run it "
            "from the repository root, where benchmarks/ is."
        ) from error
    if not hasattr(runner, "bench_runs") or not hasattr(runner, "main"):
        raise TypeError(f"The runner {module!r} needs main(argv) and bench_runs(config_path, seeds, output_dir).")
    return runner


def plan(config_paths: Sequence[str | Path], seeds: Sequence[int], output_dir: Path | None = None) -> list[BenchRun]:
    """Every run that the configs make for the seeds, seed-major (seed 0 of every config first), so that partial
    results already fill a table.

    Args:
        config_paths: config JSON files.
        seeds: the seeds.
        output_dir: where the results go (default: each runner's own results folder).
    """
    if not seeds:
        raise ValueError("Give at least one seed, e.g. --seeds 0 1 2.")
    per_config: list[list[BenchRun]] = []
    for path in map(Path, config_paths):
        if not path.is_file():
            raise FileNotFoundError(f"No config at {path}.")
        config = json.loads(path.read_text())
        runner = _import_runner(runner_module(path, config))
        per_config.append(list(runner.bench_runs(path, list(seeds), output_dir)))
    runs = [run for seed in seeds for runs in per_config for run in runs if run.seed == seed]
    outputs = [run.output for run in runs]
    duplicates = sorted({str(p) for p in outputs if outputs.count(p) > 1})
    if duplicates:
        raise ValueError(f"Two runs would write the same result: {duplicates}.")
    return runs


@contextlib.contextmanager
def _redirected(log: Path) -> Iterator[None]:
    """This process's stdout and stderr (file descriptors too, for tqdm and C code) go to ``log`` in the block."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "w") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def execute(run: BenchRun) -> RunOutcome:
    """Do one run in this process (a Ray worker, or the caller for a serial run), in ``run.root`` (the caller's
    working directory is restored); a crashed run (an exception, or a runner's ``SystemExit``) is returned as
    ``"failed"``, never raised. Ctrl-C still stops it."""
    tic = time.perf_counter()
    cwd = os.getcwd()
    try:
        os.chdir(run.root)
        with _redirected(run.log):
            _import_runner(run.module, run.root).main(list(run.argv))
        record = json.loads(run.output.read_text())
        return RunOutcome(run, "done", time.perf_counter() - tic, record=record)
    except (Exception, SystemExit) as error:  # a crashed run is reported, the others go on
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        with contextlib.suppress(OSError), open(run.log, "a") as out:
            out.write(traceback.format_exc())
        return RunOutcome(run, "failed", time.perf_counter() - tic, error=detail)
    finally:
        os.chdir(cwd)


def bench(
    runs: Sequence[BenchRun],
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    force: bool = False,
    progress_bar: bool = True,
) -> list[RunOutcome]:
    """Run ``runs`` as Ray tasks (local Ray on this machine's cores, or the cluster at ``address`` / ``RAY_ADDRESS``).

    Args:
        runs: from :func:`plan`.
        address: as :func:`ttt_gym.parallel.init_ray`.
        max_concurrent: at most this many runs at once (default: as many as the CPUs allow).
        force: run even where a matching result exists.
        progress_bar: one tqdm bar over the runs.

    Returns:
        One outcome per run, in the order of ``runs``.
    """
    from tqdm.auto import tqdm

    outcomes: list[RunOutcome | None] = [None] * len(runs)
    todo = []
    for index, run in enumerate(runs):
        if not force and run.done():
            outcomes[index] = RunOutcome(run, "skipped", record=json.loads(run.output.read_text()))
        else:
            todo.append(index)
    with tqdm(total=len(runs), initial=len(runs) - len(todo), disable=not progress_bar, desc="bench") as bar:
        groups: dict[tuple[int, float], list[int]] = {}
        for index in todo:
            groups.setdefault((runs[index].stage, runs[index].cpus), []).append(index)
        for (_, cpus), indices in sorted(groups.items()):
            tasks = [(runs[i],) for i in indices]
            for position, outcome in map_tasks(
                execute,
                tasks,
                address=address,
                num_cpus=cpus,
                torch_threads=None,  # each runner sets the threads its config asks for
                max_concurrent=max_concurrent,
                feature="ttt-gym bench",
            ):
                outcomes[indices[position]] = outcome
                bar.update(1)
                if outcome.status == "failed":
                    bar.write(f"FAILED {outcome.run.label}: {outcome.error} (log: {outcome.run.log})")
    return [outcome for outcome in outcomes if outcome is not None]


def summary_rows(outcomes: Sequence[RunOutcome]) -> list[tuple[str, str, str, str, str]]:
    """(run, status, minutes, success, result or log) for each outcome: what the summary table shows."""
    rows = []
    for outcome in outcomes:
        success = outcome.record.get("success")
        rows.append(
            (
                outcome.run.label,
                outcome.status,
                f"{outcome.seconds / 60:.1f}" if outcome.status != "skipped" else "",
                f"{success:.3f}" if isinstance(success, (int, float)) else "",
                str(outcome.run.log if outcome.status == "failed" else outcome.run.output),
            )
        )
    return rows


def print_summary(outcomes: Sequence[RunOutcome]) -> None:
    """A rich table of the outcomes, then one line: how many were done, skipped and failed."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ttt-gym bench")
    for column in ("run", "status", "minutes", "success", "result / log"):
        table.add_column(column)
    for row in summary_rows(outcomes):
        table.add_row(*row, style="red" if row[1] == "failed" else None)
    console = Console()
    console.print(table)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("done", "skipped", "failed")}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))


# -- sweeps (Ray Tune) -------------------------------------------------------------------------------------------------


def parse_grid(assignments: Sequence[str]) -> dict[str, list[Any]]:
    """``["ttt.every=25,50", "ttt.lr=1e-4,3e-4"]`` -> ``{"ttt.every": [25, 50], "ttt.lr": [0.0001, 0.0003]}``.

    Values are read as JSON where they parse (numbers, true / false, null, quoted strings), else kept as strings.
    """
    grid: dict[str, list[Any]] = {}
    for assignment in assignments:
        key, sep, values = assignment.partition("=")
        if not sep or not key or not values:
            raise ValueError(
                f"A sweep is KEY=V1,V2,... over dotted config keys, e.g. ttt.every=25,50; got {assignment!r}."
            )
        grid[key] = [_parse_value(v) for v in values.split(",")]
    return grid


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def with_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with each dotted key set (``"trainer_kwargs.lr"``); every key but the last must exist."""
    variant = copy.deepcopy(config)
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        node = variant
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise KeyError(f"The config has no section {part!r} on the way to {dotted!r}.")
            node = node[part]
        node[last] = value
    return variant


def variant_name(name: str, overrides: dict[str, Any]) -> str:
    """``NAME-k25-lr0.0003``: the base name with the last part of each key and its value."""
    parts = [f"{key.rsplit('.', 1)[-1]}{value}" for key, value in overrides.items()]
    return "-".join([name, *parts]).replace("/", "_").replace(" ", "")


def write_variants(config_path: Path, grid: dict[str, list[Any]], directory: Path) -> list[Path]:
    """One config file per point of ``grid``, in ``directory``, named by :func:`variant_name`; each keeps the
    base's runner (so it runs as the base would) and records the sweep it came from."""
    base = json.loads(config_path.read_text())
    runner = runner_module(config_path, base)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for values in itertools.product(*grid.values()):
        overrides = dict(zip(grid, values, strict=True))
        variant = with_overrides(base, overrides)
        variant["name"] = variant_name(base["name"], overrides)
        variant["runner"] = runner
        variant["sweep"] = {"base": base["name"], "overrides": overrides}
        path = directory / f"{variant['name']}.json"
        path.write_text(json.dumps(variant, indent=2) + "\n")
        paths.append(path)
    return paths


def _tune_trial(params: dict[str, Any], runs: Sequence[BenchRun]) -> None:
    """One Tune trial: one :class:`BenchRun`, skipped when its result exists; reports the result's ``success``."""
    from ray import tune

    run = runs[params["run"]]
    outcome = RunOutcome(run, "skipped", record=json.loads(run.output.read_text())) if run.done() else execute(run)
    if outcome.status == "failed":
        raise RuntimeError(f"{run.label} failed: {outcome.error} (log: {run.log})")
    success = outcome.record.get("success")
    tune.report(
        {
            "success": float(success) if isinstance(success, (int, float)) else float("nan"),
            "status": outcome.status,
            "seconds": outcome.seconds,
        }
    )


def sweep(
    config_path: str | Path,
    grid: dict[str, list[Any]],
    seeds: Sequence[int],
    *,
    output_dir: Path,
    address: str | None = None,
    max_concurrent: int | None = None,
    storage: Path | None = None,
) -> list[RunOutcome]:
    """A grid sweep of one config through Ray Tune: one trial per (variant, seed), each an ordinary run.

    Args:
        config_path: the base config.
        grid: dotted config key -> values (:func:`parse_grid`).
        seeds: seeds of every variant.
        output_dir: where the variant configs and their results go.
        address: as :func:`ttt_gym.parallel.init_ray`.
        max_concurrent: at most this many trials at once.
        storage: where Tune keeps its experiment state (default ``output_dir / "tune"``).

    Returns:
        One outcome per trial, in the order of :func:`plan` over the variants; a failed trial is reported, not raised.
    """
    init_ray(address, feature="ttt-gym bench --sweep")
    from ray import tune

    output_dir = Path(output_dir).resolve()
    variants = write_variants(Path(config_path), grid, output_dir / "configs")
    runs = plan(variants, seeds, output_dir)
    cpus = max(run.cpus for run in runs)
    # reuse_actors: a trial process imports torch once and takes the next trial (93 -> 11 s for the 4-run test sweep).
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_tune_trial, runs=runs), {"cpu": cpus}),
        param_space={"run": tune.grid_search(list(range(len(runs))))},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True),
        run_config=tune.RunConfig(
            name=Path(config_path).stem,
            storage_path=str((storage or output_dir / "tune").resolve()),
            verbose=0,
        ),
    )
    results = tuner.fit()
    by_output = {}
    for index in range(len(results)):
        result = results[index]
        run = runs[(result.config or {})["run"]]
        if result.error is not None:
            by_output[run.output] = RunOutcome(run, "failed", error=str(result.error).splitlines()[0])
        else:
            record = json.loads(run.output.read_text())
            metrics = result.metrics or {}
            status, seconds = str(metrics.get("status", "done")), float(metrics.get("seconds", 0.0))
            by_output[run.output] = RunOutcome(run, status, seconds, record=record)
    return [by_output[run.output] for run in runs]


# -- the command line -------------------------------------------------------------------------------------------------


def cmd_bench(args: Any) -> int:
    """``ttt-gym bench``: plan the runs, show or run them, print the summary; exit 1 when a run failed."""
    if args.sweep:
        if len(args.configs) != 1:
            raise SystemExit("--sweep varies one config: give exactly one CONFIG.")
        config_path = Path(args.configs[0])
        output_dir = args.output_dir or Path("benchmarks") / "results" / "sweeps" / config_path.stem
        grid = parse_grid(args.sweep)
        if args.dry_run:
            for values in itertools.product(*grid.values()):
                for seed in args.seeds:
                    print(f"{variant_name(config_path.stem, dict(zip(grid, values, strict=True)))} seed {seed}")
            return 0
        outcomes = sweep(
            config_path,
            grid,
            args.seeds,
            output_dir=output_dir,
            address=args.address,
            max_concurrent=args.max_concurrent,
            storage=Path("runs") / "tune",  # Tune's experiment state stays out of the committed results
        )
    else:
        runs = plan(args.configs, args.seeds, args.output_dir)
        if args.dry_run:
            for run in runs:
                print(f"{'done   ' if run.done() else 'pending'} {run.label}: {run.command}")
            return 0
        outcomes = bench(runs, address=args.address, max_concurrent=args.max_concurrent, force=args.force)
    print_summary(outcomes)
    return int(any(outcome.status == "failed" for outcome in outcomes))


def add_bench_command(sub: Any) -> None:
    """Register ``ttt-gym bench`` on the CLI's subparsers."""
    bench_parser = sub.add_parser(
        "bench",
        help="run benchmark configs x seeds as Ray tasks (local, or a cluster with --address)",
        description=(
            "Run every (config, seed) as a Ray task with its CPU reservation; results that exist and match their "
            "config are skipped, each result is written atomically, a failed run is reported with its log. Run it "
            "from the repository root. Needs the [ray] extra."
        ),
    )
    bench_parser.add_argument("configs", nargs="+", help="config JSON files, e.g. benchmarks/configs/ttt/*.json")
    bench_parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    bench_parser.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    bench_parser.add_argument("--max-concurrent", type=int, help="at most this many runs at once")
    bench_parser.add_argument("--output-dir", type=Path, help="results here instead of each runner's folder")
    bench_parser.add_argument("--force", action="store_true", help="run even where a matching result exists")
    bench_parser.add_argument("--dry-run", action="store_true", help="list the runs (done / pending) and exit")
    bench_parser.add_argument(
        "--sweep",
        action="append",
        metavar="KEY=V1,V2",
        help="a Ray Tune grid over a dotted config key (repeatable): --sweep ttt.every=25,50 --sweep ttt.lr=3e-4,1e-3",
    )
    bench_parser.set_defaults(func=cmd_bench)


__all__ = [
    "BenchRun",
    "RunOutcome",
    "add_bench_command",
    "bench",
    "execute",
    "parse_grid",
    "plan",
    "print_summary",
    "runner_module",
    "sweep",
    "with_overrides",
    "write_variants",
]
