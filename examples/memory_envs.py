"""Compare the privileged expert, the human-like demonstrator and a random policy on every memory env.

Run: python examples/memory_envs.py
"""

from __future__ import annotations

import ttt_gym
from ttt_gym.evaluation import evaluate_success, reference_policies

for env_id in ttt_gym.ENV_IDS:
    for name, policy in reference_policies(env_id, seed=0).items():
        result = evaluate_success(policy, env_id, n_episodes=20, seed=0)
        print(f"{env_id:<32} {name:<13} {result}")
