"""Evaluate one pretrained agent with GC-TTT from a committed config, with its no-TTT baseline, write one JSON result.

One run is one row of the GC-TTT table in ``docs/BENCHMARKS.md`` ("GC-TTT: Table 1 rows on pointmaze-medium") for one
seed::

    .venv/bin/python -m benchmarks.run_ttt --seed 0 \\
        --config benchmarks/configs/ttt/gcbc-critic-free-pointmaze-medium-navigate.json

It loads the agent that ``benchmarks.run_agent`` trained (``runs/agents/{agent}-{dataset}-s{seed}.pt``), wraps it
in :class:`ttt_gym.ttt.wrapper.TestTimeTraining` with the config's ``ttt`` block (K = ``every``, N = ``steps``, ``lr``,
``batch_size``) and selector (``selector.kind``: any kind of :func:`ttt_gym.ttt.selection.make_selector`, see
``CRITIC_USE``; ``selector.critic``: ``null``, ``"own"`` for the agent's own ``value``, or an agent name such as
``"gcivl"`` for that agent's ``value``, trained on the same dataset and seed; ``selector.critic_run``: optional,
which trained run of that agent, e.g. ``"gcivl125k"`` for ``runs/agents/gcivl125k-{dataset}-s{seed}.pt``; ``agent_run``
likewise for the wrapped agent (e.g. ``"gciqlawr"``);
``selector.kwargs``: optional keyword arguments of the selector), and evaluates it with OGBench's task protocol
(:func:`ttt_gym.goal_evaluation.evaluate_goal_policy`, deterministic actions, episodes reset with ``seed + i``). The
agent without TTT is evaluated on the same episodes for a paired comparison: OGBench (1.2.2) draws the start and goal
noise from the global ``np.random``, which ``reset(seed=...)`` alone does not fix, so the evaluation resets through
:func:`ttt_gym.goal_evaluation.seeded_reset` (from commit ac7ac15 on; earlier results saw the same tasks and reset
seeds but not the same noise). The result goes to ``benchmarks/results/ttt/{name}-s{seed}.json`` unless
``--output``.

``--episodes-per-task`` overrides the config for a smoke test or a cost probe; such a result is marked
``"smoke": true`` and needs ``--output``. ``--no-baseline`` skips the no-TTT evaluation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, output_path, read_config, run_record, seed_runs, write_json_atomic
from ttt_gym.agents import AGENTS

REQUIRED_KEYS = ("name", "agent", "env_name", "selector", "ttt", "eval", "torch_threads")
CRITIC_USE = {
    "gc-ttt": "required",  # H-step returns (eq. 3) with the critic
    "value-relevance": "required",  # V(s, s_i) > C relevance (eq. 13) and H-step returns
    "optimal-only": "optional",  # the optimality cut over the whole dataset: H-step with a critic, else Monte-Carlo
    "critic-free": "unused",  # Monte-Carlo returns
    "relevant-only": "unused",  # distance relevance alone
    "random": "unused",  # uniform random transitions (Figure 2 left of the paper)
    "gc-ttt-episodes": "required",  # the authors' episode-level rule: the critic alone ranks trajectories
}
"""Whether each selector kind of :func:`ttt_gym.ttt.selection.make_selector` needs ``selector.critic``."""
SELECTOR_KINDS = tuple(CRITIC_USE)


def load_config(path: Path) -> dict[str, Any]:
    """Read and check a GC-TTT benchmark config (see ``benchmarks/configs/ttt/*.json``)."""
    config = read_config(path, REQUIRED_KEYS, "a GC-TTT config")
    if config["agent"] not in AGENTS:
        raise ValueError(f"{path}: agent must be one of {tuple(AGENTS)}, got {config['agent']!r}.")
    kind, critic = config["selector"].get("kind"), config["selector"].get("critic")
    if kind not in SELECTOR_KINDS:
        raise ValueError(f"{path}: selector.kind must be one of {SELECTOR_KINDS}, got {kind!r}.")
    if CRITIC_USE[kind] == "required" and critic is None:
        raise ValueError(f"{path}: selector {kind!r} needs selector.critic ('own' or an agent name such as 'gcivl').")
    if CRITIC_USE[kind] == "unused" and critic is not None:
        raise ValueError(
            f"{path}: selector {kind!r} does not use a critic, but selector.critic is {critic!r}: set it to null "
            "(a critic in the config would suggest it shaped the selection)."
        )
    _check_selector_kwargs(path, kind, config["selector"].get("kwargs", {}))
    if critic not in (None, "own", "gcivl", "gciql"):
        raise ValueError(f"{path}: selector.critic must be null, 'own', 'gcivl' or 'gciql', got {critic!r}.")
    agent_run = config.get("agent_run")
    if agent_run is not None and not str(agent_run).startswith(config["agent"]):
        raise ValueError(
            f"{path}: agent_run {agent_run!r} names a trained run of the agent {config['agent']!r} (a config name "
            "prefix such as 'gciqlawr' for runs/agents/gciqlawr-{dataset}-s{seed}.pt) and must start with its name."
        )
    critic_run = config["selector"].get("critic_run")
    if critic_run is not None and (critic in (None, "own") or not str(critic_run).startswith(critic)):
        raise ValueError(
            f"{path}: selector.critic_run {critic_run!r} names a trained run of the critic agent: it needs "
            f"selector.critic set to that agent ('gcivl' / 'gciql') and must start with its name."
        )
    if critic == "own" and config["agent"] == "gcbc":
        raise ValueError(f"{path}: GCBC has no critic; name another agent's critic ('gcivl').")
    if path.stem != config["name"]:
        raise ValueError(f"{path}: the file name must be the config's name ({config['name']!r}.json).")
    return config


def _check_selector_kwargs(path: Path, kind: str, kwargs: Any) -> None:
    """``selector.kwargs`` must be keyword arguments the selector of ``kind`` takes (checked before any loading)."""
    import inspect

    from ttt_gym.ttt.episodes import EpisodeSelector
    from ttt_gym.ttt.selection import GoalRelatedSelector, RandomSelector

    if not isinstance(kwargs, dict):
        raise ValueError(f"{path}: selector.kwargs must be an object of keyword arguments, got {kwargs!r}.")
    selector_class = {"random": RandomSelector, "gc-ttt-episodes": EpisodeSelector}.get(kind, GoalRelatedSelector)
    preset = () if kind == "random" else ("relevance", "optimality")  # fixed by the kind in make_selector
    # EpisodeSelector passes its **kwargs on to GoalRelatedSelector, so it takes both signatures' arguments.
    classes = (EpisodeSelector, GoalRelatedSelector) if kind == "gc-ttt-episodes" else (selector_class,)
    names = [name for cls in classes for name in inspect.signature(cls).parameters]
    accepted = list(dict.fromkeys(n for n in names if n not in ("dataset", "critic", "kwargs", *preset)))
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{path}: selector.kwargs {unknown} are not arguments of the {kind!r} selector "
            f"({selector_class.__name__}); it takes {accepted}."
        )
    if kind == "value-relevance" and "value_threshold" not in kwargs:
        raise ValueError(
            f"{path}: selector 'value-relevance' needs selector.kwargs.value_threshold (C in V(s, s_i) > C, e.g. -20)."
        )


def agent_path(agent_dir: Path, agent: str, env_name: str, seed: int) -> Path:
    """The saved agent ``{agent}-{dataset}-s{seed}.pt``; a clear error naming the training command if missing."""
    dataset_name = env_name.removesuffix("-v0")
    path = agent_dir / f"{agent}-{dataset_name}-s{seed}.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"No pretrained agent at {path}. Train it first:\n"
            f"    .venv/bin/python -m benchmarks.run_agent --seed {seed} "
            f"--config benchmarks/configs/{agent}-{dataset_name}.json"
        )
    return path


def _evaluation_record(result: Any, seconds: float) -> dict[str, Any]:
    total_steps = int(result.lengths.sum())
    return {
        "success": result.success_rate,
        "task_success": {str(task): rate for task, rate in result.task_success.items()},
        "successes": result.successes.astype(int).tolist(),
        "episode_lengths": result.lengths.tolist(),
        "episodes": int(result.successes.size),
        "env_steps": total_steps,
        "seconds": round(seconds, 2),
        "seconds_per_episode": round(seconds / result.successes.size, 2),
        "seconds_per_1000_steps": round(1000.0 * seconds / max(total_steps, 1), 2),
        "control_hz": round(result.steps_per_second, 2),
        "policy_ms_per_step": round(result.policy_ms_per_step, 3),
    }


def load_agent_and_critic(
    config: dict[str, Any], seed: int, agent_dir: Path, dataset: Any
) -> tuple[Any, Path, Any, Path | None]:
    """The config's trained agent and the critic its selector uses: ``(agent, agent_path, critic, critic_path)``.

    ``agent_run`` / ``selector.critic_run`` pick another trained run of the agent / critic (a config name prefix such
    as ``"gciqlawr"`` or ``"gcivl125k"``); ``selector.critic`` ``"own"`` is the agent's ``value``, None no critic.
    """
    env_name = config["env_name"]
    path = agent_path(agent_dir, config.get("agent_run", config["agent"]), env_name, seed)
    agent = AGENTS[config["agent"]].load(path, dataset)
    critic_name = config["selector"].get("critic")
    if critic_name == "own":
        return agent, path, agent.value, path
    if critic_name is None:
        return agent, path, None, None
    critic_path = agent_path(agent_dir, config["selector"].get("critic_run", critic_name), env_name, seed)
    return agent, path, AGENTS[critic_name].load(critic_path, dataset).value, critic_path


def run(
    config: dict[str, Any],
    seed: int,
    *,
    smoke: bool,
    agent_dir: Path,
    baseline: bool,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Load, wrap and evaluate one agent with GC-TTT (and without); return the result record."""
    import torch

    torch.set_num_threads(int(config["torch_threads"]))
    from ttt_gym.data import GoalDataset
    from ttt_gym.goal_evaluation import evaluate_goal_policy
    from ttt_gym.ttt.selection import make_selector
    from ttt_gym.ttt.wrapper import TestTimeTraining

    name, env_name = config["name"], config["env_name"]
    run_name = f"{name}-s{seed}" + ("-smoke" if smoke else "")
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()

    tic = time.perf_counter()
    dataset = GoalDataset.from_name(env_name)
    agent, path, critic, critic_path = load_agent_and_critic(config, seed, agent_dir, dataset)
    selector = make_selector(config["selector"]["kind"], dataset, critic, **config["selector"].get("kwargs", {}))
    ttt_kwargs = dict(config["ttt"])
    ttt = TestTimeTraining(agent, dataset, selector=selector, seed=seed, **ttt_kwargs)
    load_seconds = time.perf_counter() - tic

    evaluation = config["eval"]
    eval_kwargs = dict(
        tasks=tuple(evaluation.get("tasks", (1, 2, 3, 4, 5))),
        episodes_per_task=int(evaluation["episodes_per_task"]),
        seed=seed,
    )
    baseline_record = None
    if baseline:
        tic = time.perf_counter()
        base = evaluate_goal_policy(agent, env_name, **eval_kwargs)
        baseline_record = _evaluation_record(base, time.perf_counter() - tic)
        print(f"[{run_name}] without TTT: {base}", flush=True)
    load_before_ttt = os.getloadavg()

    print(f"[{run_name}] GC-TTT {config['selector']} {ttt_kwargs}; {eval_kwargs}", flush=True)
    tic = time.perf_counter()
    result = evaluate_goal_policy(ttt, env_name, **eval_kwargs)
    ttt_record = _evaluation_record(result, time.perf_counter() - tic)
    print(f"[{run_name}] with TTT: {result} ({ttt_record['seconds']} s)", flush=True)
    stats, selection_stats = ttt.stats, ttt.selector.stats
    ttt.close()

    return {
        "name": name,
        "seed": seed,
        "smoke": smoke,
        "config": config,
        "agent_path": str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path),
        "critic_path": None
        if critic_path is None
        else str(critic_path.relative_to(REPO_ROOT) if critic_path.is_relative_to(REPO_ROOT) else critic_path),
        "load_seconds": round(load_seconds, 2),
        "ttt": ttt_record,
        "no_ttt": baseline_record,
        "success": ttt_record["success"],
        "success_without_ttt": None if baseline_record is None else baseline_record["success"],
        "wrapper_stats": {
            "adaptations": stats.adaptations,
            "too_little_data": stats.too_little_data,
            "adaptation_errors": stats.adaptation_errors,
            "steps": stats.steps,
            "selection_seconds": round(stats.selection_seconds, 2),
            "training_seconds": round(stats.training_seconds, 2),
            "adaptation_ms": round(stats.adaptation_ms, 1),
            "last_selected": stats.last_selected,
            "last_loss_first": stats.last_loss_first,
            "last_loss_final": stats.last_loss_final,
        },
        "selector": repr(selector),
        "selector_stats": {
            "selections": selection_stats.selections,
            "goals_seen": selection_stats.goals_seen,
            "mean_ms": round(selection_stats.mean_ms, 2),
            "critic_states": selection_stats.critic_states,
            "last_relevant": selection_stats.last_relevant,
            "last_selected": selection_stats.last_selected,
            "last_subtrajectories": getattr(selection_stats, "last_subtrajectories", None),
        },
        **run_record(started, module="benchmarks.run_ttt", argv=argv, start=load_start, before_ttt=load_before_ttt),
    }


def bench_runs(config_path: Path, seeds: list[int], output_dir: Path | None) -> list[Any]:
    """``ttt-gym bench``: one run per seed (``main(["--config", PATH, "--seed", S])``)."""
    config = load_config(config_path)
    return seed_runs(
        "benchmarks.run_ttt",
        config_path,
        config,
        seeds,
        REPO_ROOT / "benchmarks" / "results" / "ttt",
        output_dir,
        stage=1,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="benchmarks/configs/ttt/NAME.json")
    parser.add_argument("--seed", type=int, required=True, help="agent seed; evaluation episodes use seed + i")
    parser.add_argument("--output", type=Path, help="result JSON (default benchmarks/results/ttt/NAME-sSEED.json)")
    parser.add_argument("--agent-dir", type=Path, default=REPO_ROOT / "runs" / "agents", help="saved agents")
    parser.add_argument("--episodes-per-task", type=int, help="smoke test only: override the config's episodes")
    parser.add_argument("--no-baseline", action="store_true", help="skip the no-TTT evaluation")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    smoke = args.episodes_per_task is not None
    if smoke:
        config["eval"] = {**config["eval"], "episodes_per_task": args.episodes_per_task}
    default = REPO_ROOT / "benchmarks" / "results" / "ttt" / f"{config['name']}-s{args.seed}.json"
    output = output_path(parser, args.output, default, smoke_flags="--episodes-per-task" if smoke else None)

    record = run(
        config, args.seed, smoke=smoke, agent_dir=args.agent_dir.resolve(), baseline=not args.no_baseline, argv=argv
    )
    write_json_atomic(output, record)
    print(f"wrote {output}", flush=True)


if __name__ == "__main__":
    main()
