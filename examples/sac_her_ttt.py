"""SAC + HER on a goal env, then test-time training with the model's own replay buffer and its own critic.

1. Train SAC with HER on OGBench's pointmaze through ``GoalObservation`` (goal coordinates in the observation).
2. Turn its replay buffer into a ``GoalDataset`` (``GoalDataset.from_replay_buffer``); the goal space comes from
   the model's env.
3. Wrap the model in ``TestTimeTraining`` with ``selector="gc-ttt"``: the H-step selection scores states with the
   SAC's own ``V(s, g) = Q(s, g, pi(s, g))``.
4. Evaluate both with OGBench's task protocol (``evaluate_goal_policy``).

Run: python examples/sac_her_ttt.py [--total-timesteps 20000]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from gymnasium.wrappers import TimeLimit
from stable_baselines3 import SAC, HerReplayBuffer

from ttt_gym import GoalDataset, TestTimeTraining, evaluate_goal_policy
from ttt_gym.goal_evaluation import make_goal_env
from ttt_gym.wrappers import GoalObservation


@dataclass
class Args:
    env: str = "pointmaze-medium-navigate-v0"
    total_timesteps: int = 20_000
    """SAC env steps (the replay buffer holds them all: the dataset)."""
    train_episode_steps: int = 200
    """Training episodes are cut to this many steps (HER relabels within an episode; evaluation keeps 1000)."""
    ttt_every: int = 100
    """K: steps between adaptations."""
    ttt_steps: int = 50
    """N: Adam steps per adaptation."""
    episodes_per_task: int = 2
    max_episode_steps: int | None = None
    """Cut evaluation episodes (quick checks); None: the env's 1000 steps."""
    seed: int = 0
    threads: int = 1


def main(args: Args) -> dict[str, float]:
    torch.set_num_threads(args.threads)
    env = GoalObservation(TimeLimit(make_goal_env(args.env), args.train_episode_steps))
    model = SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs=dict(n_sampled_goal=4, goal_selection_strategy="future"),
        learning_starts=max(min(1_000, args.total_timesteps // 2), args.train_episode_steps + 1),
        seed=args.seed,
        device="auto",
    )
    model.learn(args.total_timesteps)
    dataset = GoalDataset.from_replay_buffer(model.replay_buffer)
    print(f"dataset from the replay buffer: {dataset!r}")

    ttt = TestTimeTraining(model, dataset, selector="gc-ttt", every=args.ttt_every, steps=args.ttt_steps)
    print(f"selection scored by {ttt.selector.critic!r}")
    results = {}
    for label, policy in (("SAC+HER", model), ("SAC+HER + TTT", ttt)):
        result = evaluate_goal_policy(
            policy,
            args.env,
            episodes_per_task=args.episodes_per_task,
            seed=10_000 + args.seed,
            max_episode_steps=args.max_episode_steps,
        )
        print(f"{label:<14} {result}")
        results[label] = result.success_rate
    return results


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=Args.env)
    parser.add_argument("--total-timesteps", type=int, default=Args.total_timesteps)
    parser.add_argument("--episodes-per-task", type=int, default=Args.episodes_per_task)
    parser.add_argument("--seed", type=int, default=Args.seed)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
