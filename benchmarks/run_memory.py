"""Train memory actors by BC (on expert or demonstrator episodes) or DAgger, evaluate them, write one JSON per run.

One config per env (``benchmarks/configs/memory/*.json``) fixes the trainer budget and lists the actors to compare;
one run is one (actor, seed) cell of the memory tables in ``docs/BENCHMARKS.md``::

    .venv/bin/python -m benchmarks.run_memory --config benchmarks/configs/memory/mystery-path.json \\
        --policies transformer ttt-e2e --seeds 0 1 2

Runs go one after another in this process (one torch thread, as the config says). A run whose result
``benchmarks/results/memory/{config}-{policy}-s{seed}.json`` exists is skipped, so the same command resumes an
interrupted queue. The trained actor is saved to ``runs/memory/{config}-{policy}-s{seed}.pt`` (not committed) so that
the gradient-stopping sweep (``python -m benchmarks.grad_stop``) can reuse it.

Evaluation: ``ttt_gym.evaluation.evaluate_success`` on ``eval.episodes`` episodes reset with seeds
``10_000 + 1000 * seed + i``: never used in training (seeds from 2,000,000 up) or validation (1,000,000 +
1000 * seed + i). The evaluated actor is the checkpoint the trainer selected on its validation episodes, acting the
way validation preferred (the mode, or seeded samples: ``actor.validated_deterministic``, recorded as
``deterministic``); the blog reports the best checkpoint on its test episodes, which this benchmark never selects on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    REPO_ROOT,
    command_line,
    config_argument,
    output_path,
    read_config,
    run_record,
    write_json_atomic,
)

RESULT_DIR = REPO_ROOT / "benchmarks" / "results" / "memory"
ACTOR_DIR = REPO_ROOT / "runs" / "memory"
REQUIRED_KEYS = ("name", "env_id", "trainer", "trainer_kwargs", "policies", "eval", "torch_threads")


def load_config(path: Path) -> dict[str, Any]:
    """Read and check a memory benchmark config."""
    from ttt_gym.policies import actor_names

    config = read_config(path, REQUIRED_KEYS, "a memory benchmark config")
    if path.stem != config["name"]:
        raise ValueError(f"{path}: the file name must be the config's name ({config['name']!r}.json).")
    if config["trainer"] not in ("bc", "dagger"):
        raise ValueError(f"{path}: trainer must be 'bc' or 'dagger', got {config['trainer']!r}.")
    if config.get("demonstrations", "expert") not in ("expert", "demonstrator"):
        raise ValueError(f"{path}: demonstrations must be 'expert' or 'demonstrator' (BC data or DAgger labels).")
    unknown = sorted(set(config["policies"]) - set(actor_names()))
    if unknown:
        raise ValueError(f"{path}: unknown policies {unknown}; choose from {actor_names()}.")
    return config


def run(
    config: dict[str, Any],
    policy: str,
    seed: int,
    *,
    eval_episodes: int,
    actor_dir: Path = ACTOR_DIR,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Train one actor with the config's trainer, save it in ``actor_dir``, evaluate it; return the result record."""
    import torch
    from stable_baselines3.common.logger import configure

    from ttt_gym.trainers import collect_demonstrations, train_bc, train_dagger

    torch.set_num_threads(int(config["torch_threads"]))
    actor_name, actor_kwargs = policy, dict(config["policies"][policy])  # the trainers resolve names and presets
    env_id, env_kwargs = config["env_id"], config.get("env_kwargs", {})
    run_name = f"{config['name']}-{policy}-s{seed}"
    log_dir = actor_dir / "logs" / run_name
    logger = configure(str(log_dir), ["csv"])
    started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()

    tic = time.perf_counter()
    kwargs = {**config["trainer_kwargs"], **config.get("trainer_overrides", {}).get(policy, {})}
    if config["trainer"] == "dagger":
        from ttt_envs.experts import make_demonstrator

        # The labeller: the privileged expert (default) or the human-like demonstrator, told what was executed.
        labeller = make_demonstrator(env_id, rng=seed) if config.get("demonstrations") == "demonstrator" else None
        actor = train_dagger(
            env_id,
            actor_name,
            expert=labeller,
            seed=seed,
            actor_kwargs=actor_kwargs,
            env_kwargs=env_kwargs,
            progress_bar=False,
            logger=logger,
            **kwargs,
        )
    else:
        # BC on the human-like demonstrator's episodes (the blog's recipe) or on the privileged expert's.
        from ttt_envs.experts import make_demonstrator, make_expert

        source = config.get("demonstrations", "expert")
        demonstrator = make_demonstrator(env_id, rng=seed) if source == "demonstrator" else make_expert(env_id)
        demos = collect_demonstrations(
            env_id,
            demonstrator,
            min_episodes=kwargs.pop("demo_episodes"),
            seed=seed,
            env_kwargs=env_kwargs,
            n_envs=kwargs.pop("n_envs", 1),
        )
        actor = train_bc(
            env_id,
            actor_name,
            demos,
            seed=seed,
            actor_kwargs=actor_kwargs,
            env_kwargs=env_kwargs,
            progress_bar=False,
            logger=logger,
            **kwargs,
        )
    train_seconds = time.perf_counter() - tic
    actor_dir.mkdir(parents=True, exist_ok=True)
    actor_path = actor_dir / f"{run_name}.pt"
    actor.save(actor_path)

    print(f"[{run_name}] trained in {train_seconds:.0f} s", flush=True)
    return {
        "name": config["name"],
        "policy": policy,
        "seed": seed,
        "env_id": env_id,
        "config": {k: v for k, v in config.items() if k != "budget"},
        "actor_path": config_argument(actor_path),
        "parameters": int(sum(p.numel() for p in actor.parameters())),
        "train_seconds": round(train_seconds, 1),
        **evaluate(actor, config, seed, eval_episodes),
        **run_record(started, module="benchmarks.run_memory", argv=argv, start=load_start),
    }


def evaluate(actor: Any, config: dict[str, Any], seed: int, episodes: int) -> dict[str, Any]:
    """The test fields of a result: ``episodes`` episodes from seed ``10_000 + 1000 * seed``, acting as validated."""
    import numpy as np

    from ttt_gym.evaluation import evaluate_success

    tic = time.perf_counter()
    result = evaluate_success(
        actor,
        config["env_id"],
        episodes,
        seed=10_000 + 1000 * seed,
        env_kwargs=config.get("env_kwargs", {}),
        n_envs=int(config["eval"].get("n_envs", 1)),
    )
    print(f"[{config['name']}-s{seed}] {result}", flush=True)
    return {
        "success": result.success_rate,
        "deterministic": actor.validated_deterministic,
        "return_mean": result.mean_return,
        "return_std": result.std_return,
        "length_mean": float(np.mean(result.lengths)),
        "episodes": len(result.successes),
        "eval_seconds": round(time.perf_counter() - tic, 1),
        "eval_steps_per_second": round(result.steps_per_second, 1),
    }


def reevaluate(path: Path, config: dict[str, Any], episodes: int, argv: list[str] | None) -> None:
    """Evaluate a run's saved actor again (as loaded: the seeded sampling stream from its start) and rewrite the
    test fields of its result; the training fields stay."""
    import torch

    from ttt_gym.policies import load_actor

    record = json.loads(path.read_text())
    torch.set_num_threads(int(config["torch_threads"]))
    actor = load_actor(REPO_ROOT / record["actor_path"], device="cpu")
    record.update(evaluate(actor, config, int(record["seed"]), episodes))
    record["reevaluated"] = {
        "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line("benchmarks.run_memory", argv),
    }
    write_json_atomic(path, record)
    print(f"rewrote {path}", flush=True)


def bench_runs(config_path: Path, seeds: list[int], output_dir: Path | None) -> list[Any]:
    """``ttt-gym bench``: one run per (seed, policy); with ``output_dir``, the actors go to ``runs/memory/`` + its
    place under ``benchmarks/results/`` (or into ``output_dir/actors`` when it lies elsewhere)."""
    from ttt_gym.bench import BenchRun

    config = load_config(config_path)
    directory = (output_dir or RESULT_DIR).resolve()
    results = REPO_ROOT / "benchmarks" / "results"
    # Actors are not committed: for results under benchmarks/results/X, they go to runs/memory/X.
    actors = ACTOR_DIR / directory.relative_to(results) if directory.is_relative_to(results) else directory / "actors"
    runs = []
    for seed in seeds:
        for policy in config["policies"]:
            argv = ["--config", config_argument(config_path), "--policies", policy, "--seeds", str(seed)]
            if output_dir is not None:
                argv += [
                    "--output-dir",
                    config_argument(directory),
                    "--actor-dir",
                    config_argument(actors),
                ]
            runs.append(
                BenchRun(
                    label=f"{config['name']} {policy} seed {seed}",
                    seed=seed,
                    module="benchmarks.run_memory",
                    argv=tuple(argv),
                    output=directory / f"{config['name']}-{policy}-s{seed}.json",
                    config={k: v for k, v in config.items() if k != "budget"},
                    root=REPO_ROOT,
                    cpus=float(config["torch_threads"]),
                )
            )
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="benchmarks/configs/memory/NAME.json")
    parser.add_argument("--policies", nargs="+", help="subset of the config's policies (default: all, in order)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-episodes", type=int, help="smoke test only: fewer episodes; needs --output-dir")
    parser.add_argument("--output-dir", type=Path, help="where results go (default benchmarks/results/memory)")
    parser.add_argument("--actor-dir", type=Path, default=ACTOR_DIR, help="where trained actors go (runs/memory)")
    parser.add_argument(
        "--reevaluate",
        action="store_true",
        help="evaluate the saved actors of existing results again and rewrite their test fields (no training)",
    )
    args = parser.parse_args(argv)

    config = load_config(args.config)
    policies = args.policies or list(config["policies"])
    unknown = [p for p in policies if p not in config["policies"]]
    if unknown:
        parser.error(f"{unknown} not in the config's policies {list(config['policies'])}")
    smoke_flags = None if args.eval_episodes is None else "--eval-episodes"
    output_dir = output_path(parser, args.output_dir, RESULT_DIR, smoke_flags=smoke_flags, option="--output-dir")
    episodes = args.eval_episodes or int(config["eval"]["episodes"])
    for seed in args.seeds:
        for policy in policies:
            output = output_dir / f"{config['name']}-{policy}-s{seed}.json"
            if args.reevaluate:
                if output.exists():
                    reevaluate(output, config, episodes, argv)
                continue
            if output.exists():
                print(f"skip {output} (exists)", flush=True)
                continue
            record = run(config, policy, seed, eval_episodes=episodes, actor_dir=args.actor_dir.resolve(), argv=argv)
            record["smoke"] = args.eval_episodes is not None
            write_json_atomic(output, record)
            print(f"wrote {output}", flush=True)


if __name__ == "__main__":
    main()
