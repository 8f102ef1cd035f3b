"""Training throughput on ttt_gym/MaskedCartPole-v1: RecurrentPPO against the ttt_gym trainers, in one process.

One run measures, side by side, with ``torch.set_num_threads(config["torch_threads"])``::

    .venv/bin/python -m benchmarks.throughput                     # everything pending, N from the config
    .venv/bin/python -m benchmarks.throughput --trainers dagger --actors transformer   # one piece of it
    .venv/bin/python -m benchmarks.throughput --markdown          # print the table of what is measured

* **RecurrentPPO** (sb3-contrib, ``MlpLstmPolicy``) with rl-zoo's CartPoleNoVel-v1 hyperparameters (config
  ``recurrent_ppo``): env steps per second of ``.learn(N)``, counted by ``model.num_timesteps`` (``learn`` rounds N up
  to whole rollouts). Building the model and its 8 envs is not timed. Its gradient steps (optimizer steps, counted by
  a hook on the policy's optimizer) per second are the base for BC's ratio.
* **DAgger**: ``ttt_gym.trainers.train_dagger(env_id, actor, total_timesteps=N, seed=seed, progress_bar=False)`` with
  every other argument at its default, for every actor of ``ttt_gym.policies.ACTORS``. The rate is env steps per
  second of the whole call (loading the expert, building the actor, the demonstrations, the rollouts, all training):
  the env steps are the rollout steps plus the expert demonstration steps. Both counts are read from the records the
  trainer logs (``dagger/total_timesteps`` of the last round, ``dagger/round_timesteps`` of round 0), so a logger that
  only keeps those records in memory is passed; it changes no training setting. If a future trainer stops logging
  them, the rate falls back to ``total_timesteps / seconds`` and the table says so.
* **BC**: ``ttt_gym.trainers.train_bc(env_id, actor, demonstrations, seed=seed, progress_bar=False)`` at its defaults
  except the config's ``bc.train_bc_kwargs`` (which the recorded ``trainer_defaults`` do not show), for every actor,
  on one fixed set of expert demonstrations (``collect_demonstrations`` with the config's
  ``bc.demo_episodes`` and the run's seed, collected once per process, not timed). The rate is gradient steps per
  second: every ``Optimizer.step`` taken during the call, counted by a global optimizer step hook, so the count does
  not depend on what the trainer logs or on how its defaults size an epoch.

Every timed call is the whole call at the trainer's defaults: when the defaults score checkpoints on validation
episodes, that time is in the rate, while the validation episodes' env steps are not counted. The trainers' defaults
are read from their signatures when the script runs and stored with every result (``trainer_defaults``): the
benchmark measures whatever they are when it runs.

Results go to ``benchmarks/results/throughput.json`` (``--output``), rewritten atomically (a temporary file, then
``os.replace``) after every entry. An entry is identified by (trainer, actor, N, demonstration episodes, config hash,
hash of the trainer's defaults); one that is already in the file is skipped, so a long run can be split into pieces
(``--trainers``, ``--actors``) or resumed after an interruption, and a change of the config or of the trainer's
defaults measures again. The config hash covers every field except ``description`` and ``note``. ``--quick`` is a
smoke run (the config's ``quick`` N and demonstrations; needs ``--output``; entries marked ``"smoke": true``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, machine_info, output_path, read_config, run_record, write_json_atomic

DEFAULT_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "throughput.json"
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "throughput.json"
REQUIRED_KEYS = ("name", "env_id", "seed", "torch_threads", "total_timesteps", "recurrent_ppo", "bc", "quick")
TRAINERS = ("recurrent_ppo", "dagger", "bc")
SB3_CONTRIB_REQUIREMENT = "sb3-contrib==2.2.1"
PPO_ACTOR = "MlpLstmPolicy"
# Arguments the benchmark sets itself; every other argument of the trainer stays at its default.
PASSED_ARGUMENTS = {
    "dagger": ("env_id", "actor_cls_or_name", "total_timesteps", "seed", "progress_bar", "logger", "device"),
    "bc": ("env_id", "actor_cls_or_name", "demonstrations", "seed", "progress_bar", "device"),
}


def load_config(path: Path) -> dict[str, Any]:
    """Read and check the throughput config (see ``benchmarks/configs/throughput.json``)."""
    config = read_config(path, REQUIRED_KEYS, "the throughput config")
    if path.stem != config["name"]:
        raise ValueError(f"{path}: the file name must be the config's name ({config['name']!r}.json).")
    for key in ("total_timesteps", "demo_episodes"):
        if key not in config["quick"]:
            raise ValueError(f"{path}: quick needs {key!r} (the smoke run's size).")
    return config


def config_hash(config: dict[str, Any]) -> str:
    """12 hex digits of SHA-256 over the config's canonical JSON, without the prose (``description``, ``note``)."""
    measured = {key: value for key, value in config.items() if key not in ("description", "note")}
    return hashlib.sha256(json.dumps(measured, sort_keys=True).encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    """A JSON value that names ``value`` the same way in every process (no memory addresses)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    return f"{type(value).__module__}.{type(value).__qualname__}"


def trainer_defaults(trainer: str) -> dict[str, Any]:
    """The defaults of the trainer's arguments that the benchmark leaves alone, read from its signature now."""
    from ttt_gym.trainers import train_bc, train_dagger

    function = {"dagger": train_dagger, "bc": train_bc}[trainer]
    return {
        name: _plain(parameter.default)
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in PASSED_ARGUMENTS[trainer] and parameter.default is not inspect.Parameter.empty
    }


def defaults_hash(defaults: dict[str, Any] | None) -> str | None:
    """12 hex digits of SHA-256 over the defaults' canonical JSON (None for RecurrentPPO, whose settings are in the
    config)."""
    if defaults is None:
        return None
    return hashlib.sha256(json.dumps(defaults, sort_keys=True).encode()).hexdigest()[:12]


def entry_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a measurement: an entry with the same key is not measured again."""
    fields = ("trainer", "actor", "total_timesteps", "demo_episodes", "config_hash", "defaults_hash")
    return (*(entry[field] for field in fields), entry.get("device", "cpu"))


def require_recurrent_ppo() -> type:
    """sb3-contrib's ``RecurrentPPO``, or an ImportError that says how to install it."""
    try:
        from sb3_contrib import RecurrentPPO
    except ImportError as error:
        raise ImportError(
            f"The RecurrentPPO baseline needs sb3-contrib, which is not installed: run `pip install "
            f"{SB3_CONTRIB_REQUIREMENT}` (it must match stable-baselines3 2.2.1), or leave the baseline out with "
            "`--trainers dagger bc`."
        ) from error
    return RecurrentPPO


def _schedule(value: Any) -> Any:
    """rl-zoo's ``"lin_X"`` strings as its linear schedule (X times the remaining progress); numbers as they are."""
    if isinstance(value, str) and value.startswith("lin_"):
        initial = float(value.removeprefix("lin_"))
        return lambda progress_remaining: progress_remaining * initial
    return value


@contextmanager
def count_optimizer_steps() -> Iterator[list[int]]:
    """Count every ``torch.optim.Optimizer.step`` in the process while the block runs (``counter[0]``)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    counter = [0]

    def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
        counter[0] += 1

    handle = register_optimizer_step_post_hook(hook)
    try:
        yield counter
    finally:
        handle.remove()


def memory_logger() -> tuple[Any, list[dict[str, Any]]]:
    """An SB3 logger that keeps every dump in a list (step under ``"_step"``) and writes nothing anywhere."""
    from stable_baselines3.common.logger import KVWriter, Logger

    dumps: list[dict[str, Any]] = []

    class MemoryWriter(KVWriter):
        def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
            dumps.append({**key_values, "_step": step})

        def close(self) -> None:
            pass

    return Logger(folder=None, output_formats=[MemoryWriter()]), dumps


def _timed(train: Callable[[], Any]) -> tuple[Any, float, float]:
    """``train()``'s result, its wall seconds and its process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = train()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure_recurrent_ppo(config: dict[str, Any], total_timesteps: int, device: str = "cpu") -> dict[str, Any]:
    """Env steps/s (and gradient steps/s) of ``RecurrentPPO.learn(total_timesteps)`` with the config's settings."""
    from stable_baselines3.common.env_util import make_vec_env

    recurrent_ppo = require_recurrent_ppo()
    settings = config["recurrent_ppo"]
    kwargs = {key: _schedule(value) for key, value in settings["hyperparameters"].items()}
    kwargs["device"] = device
    env = make_vec_env(config["env_id"], n_envs=int(settings["n_envs"]), seed=int(config["seed"]))
    model = recurrent_ppo(env=env, seed=int(config["seed"]), verbose=0, **kwargs)
    gradient_steps = [0]
    model.policy.optimizer.register_step_post_hook(lambda *_: gradient_steps.__setitem__(0, gradient_steps[0] + 1))
    _, seconds, cpu_seconds = _timed(lambda: model.learn(total_timesteps))
    env.close()
    env_steps = int(model.num_timesteps)
    return {
        "env_steps": env_steps,
        "gradient_steps": gradient_steps[0],
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "rate": env_steps / seconds,
        "rate_unit": "env steps/s",
        "rate_basis": "env_steps",
        "env_steps_per_second": env_steps / seconds,
        "gradient_steps_per_second": gradient_steps[0] / seconds,
        "parameters": int(sum(p.numel() for p in model.policy.parameters())),
    }


def measure_dagger(config: dict[str, Any], actor: str, total_timesteps: int, device: str = "cpu") -> dict[str, Any]:
    """Env steps/s (rollouts + demonstrations) of ``train_dagger`` at its defaults."""
    from ttt_gym.trainers import train_dagger

    logger, dumps = memory_logger()
    with count_optimizer_steps() as gradient_steps:
        trained, seconds, cpu_seconds = _timed(
            lambda: train_dagger(
                config["env_id"],
                actor,
                total_timesteps=total_timesteps,
                seed=int(config["seed"]),
                progress_bar=False,
                logger=logger,
                device=device,
            )
        )
    rounds = [dump for dump in dumps if "dagger/round" in dump]
    demo = [dump["dagger/round_timesteps"] for dump in rounds if dump["dagger/round"] == 0]
    rollout = [dump["dagger/total_timesteps"] for dump in rounds if "dagger/total_timesteps" in dump]
    counted = bool(demo) and bool(rollout)
    env_steps = int(demo[0]) + int(rollout[-1]) if counted else None
    rate = env_steps / seconds if env_steps is not None else total_timesteps / seconds
    return {
        "env_steps": env_steps,
        "rollout_steps": int(rollout[-1]) if rollout else None,
        "demonstration_steps": int(demo[0]) if demo else None,
        "rounds": max((int(dump["dagger/round"]) for dump in rounds), default=None),
        "gradient_steps": gradient_steps[0],
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "rate": rate,
        "rate_unit": "env steps/s",
        "rate_basis": "env_steps" if counted else "total_timesteps",
        "env_steps_per_second": env_steps / seconds if env_steps is not None else None,
        "gradient_steps_per_second": gradient_steps[0] / seconds,
        "parameters": int(sum(p.numel() for p in trained.parameters())),
    }


def measure_bc(config: dict[str, Any], actor: str, demonstrations: list[Any], device: str = "cpu") -> dict[str, Any]:
    """Gradient steps/s of ``train_bc`` at its defaults on the given demonstrations."""
    from ttt_gym.trainers import train_bc

    with count_optimizer_steps() as gradient_steps:
        trained, seconds, cpu_seconds = _timed(
            lambda: train_bc(
                config["env_id"],
                actor,
                demonstrations,
                seed=int(config["seed"]),
                progress_bar=False,
                device=device,
                **config["bc"].get("train_bc_kwargs", {}),
            )
        )
    return {
        "gradient_steps": gradient_steps[0],
        "demonstration_episodes": len(demonstrations),
        "demonstration_steps": int(sum(len(t.acts) for t in demonstrations)),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "rate": gradient_steps[0] / seconds,
        "rate_unit": "gradient steps/s",
        "rate_basis": "gradient_steps",
        "gradient_steps_per_second": gradient_steps[0] / seconds,
        "parameters": int(sum(p.numel() for p in trained.parameters())),
    }


def read_results(path: Path) -> dict[str, Any]:
    """The results file, or an empty one."""
    if path.is_file():
        return json.loads(path.read_text())
    return {"name": "throughput", "configs": {}, "entries": []}


def write_results(path: Path, config: dict[str, Any], new_entries: list[dict[str, Any]], table: str) -> None:
    """Merge ``new_entries`` into the file as it is now (another piece may have written since) and replace it
    atomically, so an interrupted run never leaves a half-written file."""
    results = read_results(path)
    merged = {entry_key(entry): entry for entry in results["entries"]}
    merged.update({entry_key(entry): entry for entry in new_entries})
    results.update(
        config=config,
        configs={**results.get("configs", {}), config_hash(config): config},
        machine=machine_info(),
        entries=list(merged.values()),
        table_markdown=table,
    )
    write_json_atomic(path, results)


def _format_rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def markdown_table(entries: list[dict[str, Any]]) -> str:
    """``actor | trainer | steps/s | x RecurrentPPO`` for one run's entries (one N, one config, one set of defaults).

    DAgger's rate is divided by RecurrentPPO's env steps/s, BC's by RecurrentPPO's gradient steps/s.
    """
    ppo = next((entry for entry in entries if entry["trainer"] == "recurrent_ppo"), None)
    bases = {
        "env steps/s": ppo and ppo["env_steps_per_second"],
        "gradient steps/s": ppo and ppo["gradient_steps_per_second"],
    }
    rows = ["| actor | trainer | steps/s | x RecurrentPPO |", "|---|---|---:|---:|"]
    if ppo is not None:
        n = ppo["total_timesteps"]
        rows.append(f"| {PPO_ACTOR} | RecurrentPPO, N = {n:,} (env steps) | {_format_rate(bases['env steps/s'])} | 1 |")
        rows.append(
            f"| {PPO_ACTOR} | RecurrentPPO, N = {n:,} (gradient steps) "
            f"| {_format_rate(bases['gradient steps/s'])} | 1 |"
        )
    labels = {
        ("dagger", "env_steps"): "DAgger, N = {n:,} (env steps: rollouts + demonstrations)",
        ("dagger", "total_timesteps"): "DAgger, N = {n:,} (total_timesteps / s: demonstrations not counted)",
        ("bc", "gradient_steps"): "BC, {d} demonstrations (gradient steps)",
    }
    for trainer in ("dagger", "bc"):
        for entry in (e for e in entries if e["trainer"] == trainer):
            label = labels[(trainer, entry["rate_basis"])].format(
                n=entry["total_timesteps"], d=entry.get("demonstration_episodes")
            )
            base = bases[entry["rate_unit"]]
            ratio = f"{entry['rate'] / base:.3g}" if base else "-"
            rows.append(f"| {entry['actor']} | {label} | {_format_rate(entry['rate'])} | {ratio} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ttt_gym.policies import ACTORS

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT.relative_to(REPO_ROOT)})")
    parser.add_argument("--trainers", nargs="+", choices=TRAINERS, default=list(TRAINERS))
    parser.add_argument("--actors", nargs="+", choices=sorted(ACTORS), help="default: every actor in ACTORS")
    parser.add_argument("--total-timesteps", type=int, help="N for RecurrentPPO and DAgger (default: the config's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: the config's quick sizes; needs --output")
    parser.add_argument("--markdown", action="store_true", help="print the table of the entries measured; run nothing")
    parser.add_argument(
        "--device", default="cpu", help="where every trainer trains (cpu, cuda); part of an entry's key"
    )
    args = parser.parse_args(argv)
    output = output_path(parser, args.output, DEFAULT_OUTPUT, smoke_flags="--quick" if args.quick else None)

    import torch

    config = load_config(args.config)
    torch.set_num_threads(int(config["torch_threads"]))
    sizes = {"total_timesteps": config["total_timesteps"], **config["bc"], **(config["quick"] if args.quick else {})}
    n = int(args.total_timesteps or sizes["total_timesteps"])
    demo_episodes = int(sizes["demo_episodes"])
    actors = args.actors or list(ACTORS)
    chash = config_hash(config)

    plan: list[dict[str, Any]] = []
    for trainer in args.trainers:
        defaults = None if trainer == "recurrent_ppo" else trainer_defaults(trainer)
        for actor in [PPO_ACTOR] if trainer == "recurrent_ppo" else actors:
            plan.append(
                {
                    "trainer": trainer,
                    "actor": actor,
                    "total_timesteps": None if trainer == "bc" else n,
                    "demo_episodes": demo_episodes if trainer == "bc" else None,
                    "config_hash": chash,
                    "defaults_hash": defaults_hash(defaults),
                    "trainer_defaults": defaults,
                    "device": args.device,
                }
            )
    done = {entry_key(entry): entry for entry in read_results(output)["entries"]}
    if args.markdown:
        table = markdown_table([done[entry_key(cell)] for cell in plan if entry_key(cell) in done])
        print(table)
        return {"table_markdown": table}

    pending = [cell for cell in plan if entry_key(cell) not in done]
    if any(cell["trainer"] == "recurrent_ppo" for cell in pending):
        require_recurrent_ppo()  # fail before the first measurement, not after an hour of them
    demonstrations: list[Any] = []
    if any(cell["trainer"] == "bc" for cell in pending):
        from ttt_gym.trainers import collect_demonstrations

        demonstrations = collect_demonstrations(
            config["env_id"],
            min_episodes=demo_episodes,
            seed=int(config["seed"]),
            n_envs=int(sizes.get("demo_n_envs", 1)),
        )
        print(f"{len(demonstrations)} demonstrations, {sum(len(t.acts) for t in demonstrations)} steps", flush=True)

    entries: list[dict[str, Any]] = []
    for cell in plan:
        key = entry_key(cell)
        if key in done:
            print(f"skip {cell['trainer']} {cell['actor']} (in {output})", flush=True)
            entries.append(done[key])
            continue
        started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()
        if cell["trainer"] == "recurrent_ppo":
            measured = measure_recurrent_ppo(config, n, args.device)
        elif cell["trainer"] == "dagger":
            measured = measure_dagger(config, cell["actor"], n, args.device)
        else:
            measured = measure_bc(config, cell["actor"], demonstrations, args.device)
        entry = {
            **cell,
            **measured,
            "torch_threads": torch.get_num_threads(),
            "smoke": args.quick,
            **run_record(started, module="benchmarks.throughput", argv=argv, start=load_start),
        }
        entries.append(entry)
        write_results(output, config, [entry], markdown_table(entries))
        print(f"{cell['trainer']} {cell['actor']}: {_format_rate(entry['rate'])} {entry['rate_unit']}", flush=True)

    table = markdown_table(entries)
    write_results(output, config, [], table)
    print(table)
    print(f"wrote {output}")
    return {**read_results(output), "run_entries": entries}


if __name__ == "__main__":
    main()
