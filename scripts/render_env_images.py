"""Render the privileged view of every memory env (expert running for a few steps) into docs/images/.

Usage: python scripts/render_env_images.py
"""

from __future__ import annotations

from pathlib import Path

import ttt_gym
from ttt_gym.cli import render_snapshot

IMAGE_NAMES = {
    "ttt_gym/MysteryPath-v0": "mystery_path",
    "ttt_gym/CoinSearch-v0": "coin_search",
    "ttt_gym/ConfoundedControls-v0": "confounded_controls",
    "ttt_gym/MaskedCartPole-v1": "masked_cartpole",
    "ttt_gym/MaskedAcrobot-v1": "masked_acrobot",
}

if __name__ == "__main__":
    for env_id in ttt_gym.ENV_IDS:
        path = render_snapshot(env_id, Path("docs/images") / f"{IMAGE_NAMES[env_id]}.png", seed=0, n_steps=12)
        print(f"{env_id} -> {path}")
