"""Render the privileged view of every memory env (expert running for a few steps) into docs/images/.

MiniGrid's six Memory ids share one picture, of ``ttt_gym/MiniGridMemoryS13-v0`` (MiniGrid's own renderer).

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
    # In the corridor after 4 steps, the start room out of the agent's view.
    "ttt_gym/MiniGridMemoryS13-v0": ("minigrid_memory", 4),
}

if __name__ == "__main__":
    missing = [env_id for env_id in ttt_gym.ENV_IDS if env_id not in IMAGES and "MiniGridMemory" not in env_id]
    if missing:
        raise SystemExit(f"No picture set up for {', '.join(missing)}: add (image name, expert steps) to IMAGES.")
    for env_id, (name, n_steps) in IMAGES.items():
        path = render_snapshot(env_id, Path("docs/images") / f"{name}.png", seed=0, n_steps=n_steps)
        print(f"{env_id} -> {path}")
