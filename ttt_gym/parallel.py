"""Ray, when it is installed: a local Ray started on demand, or the cluster at ``address`` / ``RAY_ADDRESS``.

Ray is an optional extra (``pip install 'ttt-gym[ray]'``: Ray core and Tune, never RLlib, whose gymnasium pins
conflict with ours). Everything else in ``ttt_gym`` works without it; a call that needs it raises an ImportError
that names the extra.

:func:`map_tasks` is the one way the project fans work out to Ray: each item becomes a task that reserves its CPUs
and runs with its own torch intra-op thread count (one by default, so that tasks on one machine do not
oversubscribe its cores), and the results come back as they finish.

Several processes on one machine: Ray starts one worker process per task slot (``num_cpus`` of the local Ray, the
machine's cores by default); a task that reserves one CPU and runs one torch thread leaves the other cores to the
other tasks. Left at torch's default (one thread per core in every process), ``n`` processes would run ``n`` times
as many threads as cores, which made small-batch fine-tuning 30x slower on a 2-core machine (docs/TTT.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: What to install for the parallel features.
RAY_EXTRA = "pip install 'ttt-gym[ray]'"


def require_ray(feature: str = "This") -> ModuleType:
    """The ``ray`` module, or an ImportError that names the extra to install.

    Args:
        feature: what needs Ray, for the message (e.g. ``"evaluate_success(workers=2)"``).
    """
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            f"{feature} needs Ray, which is not installed: {RAY_EXTRA} (Ray core and Tune only). Everything else in "
            "ttt_gym works without it; workers=1 runs in this process."
        ) from error
    return ray


def init_ray(address: str | None = None, *, num_cpus: int | None = None, feature: str = "This") -> ModuleType:
    """Connect to Ray and return the module: the running Ray if this process already started or joined one, else
    the cluster at ``address`` (or ``RAY_ADDRESS``), else a local Ray on this machine's cores.

    Args:
        address: a cluster address (``"ray://head:10001"``, ``"auto"``...); None: ``RAY_ADDRESS``, else local.
        num_cpus: CPUs of a local Ray (default: every core); ignored when joining a cluster.
        feature: what needs Ray, for the message if it is missing.
    """
    ray = require_ray(feature)
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    settings: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
    if address is None:
        ray.init(num_cpus=num_cpus, **settings)
    else:
        ray.init(address=address, **settings)
    return ray


def _call_with_threads(function: Callable[..., R], torch_threads: int | None, *args: Any) -> R:
    """``function(*args)`` in a Ray worker, with torch's intra-op threads set first (None: left as they are)."""
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    return function(*args)


def map_tasks(
    function: Callable[..., R],
    items: Sequence[tuple[Any, ...]],
    *,
    address: str | None = None,
    num_cpus: float = 1,
    torch_threads: int | None = 1,
    max_concurrent: int | None = None,
    shared: Sequence[Any] = (),
    feature: str = "This",
) -> Iterator[tuple[int, R]]:
    """Run ``function(*shared, *item)`` for every item as a Ray task; yield ``(index, result)`` as each finishes.

    Args:
        function: a module-level function (Ray pickles it by reference).
        items: the per-task arguments.
        address: as :func:`init_ray`.
        num_cpus: CPUs each task reserves; Ray runs as many at once as the CPUs allow.
        torch_threads: torch intra-op threads inside each task (default one; None: torch's default).
        max_concurrent: at most this many tasks in flight at once (None: as many as the CPUs allow).
        shared: arguments every task takes first; each is put in Ray's object store once (a model, a dataset)
            rather than once per task.
        feature: what needs Ray, for the message if it is missing.

    An exception in a task is raised here, from the task's own traceback, when its result comes in.
    """
    ray = init_ray(address, feature=feature)
    if max_concurrent is not None and max_concurrent < 1:
        raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}.")
    remote = ray.remote(_call_with_threads).options(num_cpus=num_cpus)
    shared_refs = [ray.put(value) for value in shared]
    limit = len(items) if max_concurrent is None else max_concurrent
    pending: dict[Any, int] = {}
    next_item = 0
    while next_item < len(items) or pending:
        while next_item < len(items) and len(pending) < limit:
            ref = remote.remote(function, torch_threads, *shared_refs, *items[next_item])
            pending[ref] = next_item
            next_item += 1
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            index = pending.pop(ref)
            yield index, ray.get(ref)


__all__ = ["RAY_EXTRA", "init_ray", "map_tasks", "require_ray"]
