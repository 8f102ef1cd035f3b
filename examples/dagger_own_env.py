"""Train a TTT-Linear memory actor by DAgger on your own partially observable env, with your own privileged expert.

The env only has to meet ttt_gym's privileged-env contract (``ttt_gym.privileged.PrivilegedEnv``):

* ``state_space``: a ``Box`` for the full state the expert sees;
* ``info["state"]`` at reset and after every step, and a bool ``info["success"]`` after every step;
* the observation is what the learner sees.

The expert acts on ``Dict(obs=..., state=...)`` (what ``PrivilegedObservation`` shows it) through SB3's ``predict``.
Here the env is a corridor whose first observation shows a cue (left or right) that then disappears; at the end
the agent must turn to the cued side. A memoryless policy can only guess (50 %); an actor with memory solves it.

Run: python examples/dagger_own_env.py [--total-timesteps 4000] [--actor ttt-linear]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from ttt_gym.evaluation import evaluate_success
from ttt_gym.trainers import train_dagger


@dataclass
class Args:
    actor: str = "ttt-linear"
    """Actor name (ttt-linear, gru, transformer, mlp...)."""
    total_timesteps: int = 4_000
    """DAgger env steps after the first BC round."""
    corridor: int = 8
    """Steps between the cue and the turn."""
    eval_episodes: int = 100
    seed: int = 0
    threads: int = 1
    """Torch threads (one is fastest for these small actors on a CPU)."""


class CueCorridor(gym.Env):
    """A cue at step 0 (-1 left, +1 right), then ``length`` blank steps, then a turn: success if it matches the cue."""

    def __init__(self, length: int = 8) -> None:
        self.length = length
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)  # (cue or 0, progress)
        self.action_space = spaces.Discrete(2)  # 0 left, 1 right (only the last one counts)
        self.state_space = spaces.Box(-1.0, 1.0, (2,), np.float32)  # (cue, progress): the privileged state

    def _observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        progress = self.t / self.length
        visible = self.cue if self.t == 0 else 0.0
        state = np.array([self.cue, progress], np.float32)
        return np.array([visible, progress], np.float32), {"state": state}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.cue, self.t = float(self.np_random.choice([-1.0, 1.0])), 0
        return self._observe()

    def step(self, action: Any):
        self.t += 1
        done = self.t > self.length
        success = done and int(action) == (1 if self.cue > 0 else 0)
        obs, info = self._observe()
        return obs, float(success), done, False, {**info, "success": success}


class CueExpert:
    """The privileged expert: it reads the cue from the state, so it always turns the right way."""

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        cue = np.asarray(observation["state"])[..., 0]
        return (cue > 0).astype(np.int64), state


def main(args: Args) -> dict[str, float]:
    torch.set_num_threads(args.threads)

    def make_env() -> gym.Env:
        return CueCorridor(args.corridor)

    actor = train_dagger(
        make_env, args.actor, args.total_timesteps, expert=CueExpert(), seed=args.seed, progress_bar=False
    )
    actor.save(f"runs/examples/cue-corridor-{args.actor}.pt")
    results = {"expert": 1.0}
    eval_seed = 10_000 + args.seed  # test episodes, disjoint from the trainer's seeds
    results[args.actor] = evaluate_success(actor, make_env, args.eval_episodes, seed=eval_seed).success_rate
    results["random"] = evaluate_success("random", make_env, args.eval_episodes, seed=eval_seed).success_rate
    for name, rate in results.items():
        print(f"{name:<12} success {rate:.2f}")
    return results


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actor", default=Args.actor)
    parser.add_argument("--total-timesteps", type=int, default=Args.total_timesteps)
    parser.add_argument("--corridor", type=int, default=Args.corridor)
    parser.add_argument("--eval-episodes", type=int, default=Args.eval_episodes)
    parser.add_argument("--seed", type=int, default=Args.seed)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
