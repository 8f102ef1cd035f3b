"""What every benchmark runner shares: config reading, the run record, atomic result writes and ``--output`` checks.

A result JSON ends with :func:`run_record`: the machine it ran on (:func:`machine_info`, with the load averages read
during the run), the commit, the times and the command that reproduces it (:func:`command_line`). Results are
written with :func:`write_json_atomic`, so an interrupted run never leaves a file that a summary would count.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import select
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def machine_info() -> dict[str, Any]:
    """Platform, CPU model and count, Python, torch version and threads, and whether CUDA is available."""
    import torch

    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }


def git_commit() -> str | None:
    """The commit of the working tree (with ``+dirty`` if it has local changes), or None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """``python -m MODULE ARGS``, the command that reproduces a run from the repository root.

    Args:
        module: the runner's module, e.g. ``"benchmarks.run_memory"``.
        argv: the arguments given to the runner's ``main``; None for this process's own (``sys.argv[1:]``).
    """
    return shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])


_MOVED_MODULES = {
    "ttt_gym.policies.latency": "benchmarks.policy_latency",
    "ttt_gym.policies.grad_stop": "benchmarks.grad_stop",
    "ttt_gym.agents.speed": "benchmarks.agent_speed",
    "ttt_gym.selection": "benchmarks.selection_speed",
    "ttt_gym.wrapper": "benchmarks.gc_ttt_step",
}


def current_command(recorded: str) -> str:
    """A command recorded in a committed result, spelled as it runs today.

    Results keep the command they were made with; the measurement tools have since moved into this package, so
    ``python benchmarks/NAME.py`` and ``python -m ttt_gym.policies.grad_stop`` (and the other moved modules) read
    ``python -m benchmarks.NAME``. The arguments are left as they are.
    """
    command = re.sub(r"\bpython benchmarks/(\w+)\.py\b", r"python -m benchmarks.\1", recorded)
    for old, new in _MOVED_MODULES.items():
        command = re.sub(rf"(-m ){re.escape(old)}(?![\w.])", rf"\g<1>{new}", command)
    return command


def read_config(path: Path, required: tuple[str, ...], kind: str) -> dict[str, Any]:
    """The JSON config at ``path``; a ValueError naming the missing keys unless it has all of ``required``."""
    with open(path) as f:
        config = json.load(f)
    missing = [key for key in required if key not in config]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; {kind} needs {list(required)}.")
    return config


def run_record(
    started: dt.datetime, *, module: str, argv: Sequence[str] | None = None, **load_averages: tuple[float, ...]
) -> dict[str, Any]:
    """The provenance fields every benchmark result ends with.

    The machine (with the load averages read during the run, e.g. ``load_average_start=os.getloadavg()`` passed as
    ``start=...``, and the one at the end), the commit, the start and finish times, and
    :func:`command_line` ``(module, argv)``.
    """
    loads = {f"load_average_{name}": [round(x, 2) for x in values] for name, values in load_averages.items()}
    return {
        "machine": {**machine_info(), **loads, "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "git_commit": git_commit(),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(module, argv),
    }


def write_json_atomic(path: Path, record: Any) -> None:
    """Write ``record`` as indented JSON to ``path`` through a ``.partial`` file and a rename.

    A crashed or interrupted run never leaves a half-written result, nor one that looks finished.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(partial, path)


def output_path(
    parser: argparse.ArgumentParser,
    output: Path | None,
    default: Path,
    *,
    smoke_flags: str | None = None,
    option: str = "--output",
) -> Path:
    """Where a result goes: ``output`` if given, else ``default``.

    A smoke run (``smoke_flags`` names the options that made it one, None for a full run) must name its own output,
    so that no committed result is overwritten by a smaller run; otherwise the parser exits with that message.
    """
    if smoke_flags is not None and output is None:
        parser.error(f"{smoke_flags} makes a smoke run: give {option} so no result is overwritten.")
    return default if output is None else output


def config_argument(path: Path) -> str:
    """``path`` as a runner argument: relative to the repository root when it lies inside (as results record it)."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        return str(resolved)


def seed_runs(
    module: str,
    config_path: Path,
    config: dict[str, Any],
    seeds: Sequence[int],
    default_dir: Path,
    output_dir: Path | None,
    *,
    stage: int = 0,
) -> list[Any]:
    """The ``ttt-gym bench`` runs of a runner that takes ``--config PATH --seed S [--output FILE]``: one per seed.

    The result goes to ``default_dir`` (the runner's own default, so no ``--output``) or ``output_dir``. ``stage``
    1 for runs that load what stage-0 runs train (see :class:`ttt_gym.bench.BenchRun`).
    """
    from ttt_gym.bench import BenchRun

    runs = []
    for seed in seeds:
        argv = ["--config", config_argument(config_path), "--seed", str(seed)]
        output = (output_dir or default_dir).resolve() / f"{config['name']}-s{seed}.json"
        if output_dir is not None:
            argv += ["--output", config_argument(output)]
        runs.append(
            BenchRun(
                label=f"{config['name']} seed {seed}",
                seed=seed,
                module=module,
                argv=tuple(argv),
                output=output,
                config=config,
                root=REPO_ROOT,
                cpus=float(config.get("torch_threads", 1)),
                stage=stage,
            )
        )
    return runs


# A neighbour's work: one-thread float32 matmuls, the kind of load another benchmark job puts on a core.
_BURN_ONE_CORE = """
import torch

torch.set_num_threads(1)
a, b = torch.randn(256, 256), torch.randn(256, 256)
out = torch.empty(256, 256)
print("ready", flush=True)
while True:
    torch.mm(a, b, out=out)
"""
_NEIGHBOUR_START_TIMEOUT_S = 120.0


@contextlib.contextmanager
def busy_neighbour(cores: int = 1) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The busy-machine case: another process using one core, as when two benchmark jobs share this 2-core machine.

    Starts ``cores`` processes, each running one-thread torch matmuls in a loop (one core each), and yields them once
    every one has imported torch and started its loop; they are killed, and waited for, when the block ends, also on
    an exception. The timed code then shares the machine as it does when another job runs beside it: on 2 cores,
    torch's default of 2 intra-op threads made small-batch work 30x slower then (``docs/BENCHMARKS.md``).

    Raises:
        RuntimeError: a neighbour exited, or did not start its loop within 120 s (its stderr is quoted).
    """
    if cores < 1:
        raise ValueError(f"busy_neighbour needs cores >= 1, got {cores}")
    # One thread in every library torch may use, so that each neighbour loads exactly one core.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    neighbours: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as files:
        try:
            stderrs = []
            for _ in range(cores):
                stderrs.append(files.enter_context(tempfile.TemporaryFile()))  # a full pipe would block the child
                neighbours.append(
                    subprocess.Popen(
                        [sys.executable, "-c", _BURN_ONE_CORE],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=stderrs[-1],
                        env=env,
                    )
                )
            for neighbour, stderr in zip(neighbours, stderrs, strict=True):
                _wait_until_ready(neighbour, stderr)
            yield neighbours
        finally:
            for neighbour in neighbours:
                neighbour.kill()
            for neighbour in neighbours:
                neighbour.wait()
                if neighbour.stdout is not None:
                    neighbour.stdout.close()


def _wait_until_ready(neighbour: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    """Block until ``neighbour`` prints its ``ready`` line; a RuntimeError quoting its ``stderr`` if it exits first
    or takes too long."""
    assert neighbour.stdout is not None
    readable, _, _ = select.select([neighbour.stdout], [], [], _NEIGHBOUR_START_TIMEOUT_S)
    if readable and neighbour.stdout.readline().strip() == b"ready":
        return
    neighbour.kill()
    neighbour.wait()
    stderr.seek(0)
    message = stderr.read().decode(errors="replace")[-2000:]
    what = "exited" if readable else f"did not start within {_NEIGHBOUR_START_TIMEOUT_S:.0f} s"
    raise RuntimeError(
        f"busy_neighbour: the neighbour process (pid {neighbour.pid}) {what} before its matmul loop; it needs torch "
        f"in {sys.executable}. Its stderr: {message or '(empty)'}"
    )
