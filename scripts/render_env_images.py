"""Render the privileged view of every memory env (expert running for a few steps) into docs/images/.

Usage: python scripts/render_env_images.py
"""

from __future__ import annotations

from pathlib import Path

import ttt_gym
from ttt_gym.demo import render_snapshot

# env id -> (image name, expert steps before the snapshot: mid-episode, so that the picture shows progress)
IMAGES = {
    "ttt_gym/MysteryPath-v0": ("mystery_path", 4),
    "ttt_gym/CoinSearch-v0": ("coin_search", 40),
    "ttt_gym/ConfoundedControls-v0": ("confounded_controls", 15),
    "ttt_gym/MaskedCartPole-v1": ("masked_cartpole", 50),
    "ttt_gym/MaskedAcrobot-v1": ("masked_acrobot", 60),
}

if __name__ == "__main__":
    for env_id in ttt_gym.ENV_IDS:
        name, n_steps = IMAGES[env_id]
        path = render_snapshot(env_id, Path("docs/images") / f"{name}.png", seed=0, n_steps=n_steps)
        print(f"{env_id} -> {path}")
