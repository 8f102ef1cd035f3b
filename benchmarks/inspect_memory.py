"""Teacher-forced vs closed-loop behaviour of a trained memory actor: where does it stop imitating?

For one saved actor (``runs/memory/*.pt``) this prints three measurements on fresh seeded episodes:

1. Teacher-forced: action accuracy and NLL on held-out demonstrator episodes (the actor reads the demonstrator's
   history, as in training).
2. Closed loop: success of the actor acting on its own.
3. Relabelled closed loop: along the actor's own episodes the demonstrator, told every executed action
   (``Demonstrator.record_actions``), says what it would do; the disagreement rate is reported per episode phase
   (steps since the last visible observation for Coin Search, else steps since the start), so compounding error shows
   as a rate that grows along the episode.

    .venv/bin/python -m benchmarks.inspect_memory --actor runs/memory/coin-search-ttt-linear-s0.pt \\
        --env ttt_gym/CoinSearch-v0 --episodes 100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import write_json_atomic


def inspect(actor_path: Path, env_id: str, episodes: int, seed: int) -> dict[str, Any]:
    from ttt_envs.experts import make_demonstrator
    from ttt_gym.evaluation import evaluate_success
    from ttt_gym.policies import load_actor
    from ttt_gym.trainers import collate_segments, collect_demonstrations, collect_rollouts, trajectories_to_segments
    from ttt_gym.trainers.data import executed_actions

    actor = load_actor(actor_path)
    held_out = collect_demonstrations(
        env_id, make_demonstrator(env_id, rng=seed), min_episodes=episodes, seed=seed, n_envs=50
    )
    batch = collate_segments(trajectories_to_segments(held_out))
    with torch.no_grad():
        _, info = actor.loss(batch.observations, batch.labels, mask=batch.mask, previous_actions=batch.previous_actions)
    closed = evaluate_success(actor, env_id, episodes, seed=seed + 1, n_envs=50)
    # beta = 0: the actor's actions are executed; the demonstrator labels every visited step from its own memory of
    # what was executed.
    own = collect_rollouts(
        env_id,
        make_demonstrator(env_id, rng=seed),
        actor,
        beta=0.0,
        min_episodes=episodes,
        seed=seed + 2,
        deterministic_learner=True,
        n_envs=50,
    )
    phase_agree: dict[int, list[bool]] = {}
    for trajectory in own:
        visible = np.asarray(trajectory.obs)[:-1, 4] > 0.5 if "CoinSearch" in env_id else None
        since = 0
        for t, (label, act) in enumerate(zip(trajectory.acts, executed_actions(trajectory), strict=True)):
            since = 0 if (visible is not None and visible[t]) or t == 0 else since + 1
            bucket = min(since // 10 * 10, 60)
            phase_agree.setdefault(bucket, []).append(bool(label == act))
    return {
        "actor": str(actor_path),
        "env_id": env_id,
        "teacher_forced_accuracy": info.get("accuracy"),
        "teacher_forced_nll": info["nll"],
        "closed_loop_success": closed.success_rate,
        "closed_loop_return": closed.mean_return,
        "relabelled_agreement": float(np.mean([a for v in phase_agree.values() for a in v])),
        "agreement_by_phase": {
            f"{k}-{k + 9}" if k < 60 else "60+": float(np.mean(v)) for k, v in sorted(phase_agree.items())
        },
        "demonstrator_success_on_held_out": float(np.mean([bool(t.infos[-1]["success"]) for t in held_out])),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--actor", type=Path, nargs="+", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--seed",
        type=int,
        default=500_000,
        help="seeds the held-out episodes' generators (another stream than training)",
    )
    parser.add_argument("--output", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = [inspect(path, args.env, args.episodes, args.seed) for path in args.actor]
    for result in results:
        print(json.dumps(result, indent=2))
    if args.output:
        write_json_atomic(args.output, results)


if __name__ == "__main__":
    main()
