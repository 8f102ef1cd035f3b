"""Draw the agent views of the pixel envs next to the privileged view, into docs/images/*_pixels.png.

Each picture is one step of a demonstrator episode (seed 0): on the left the privileged render (``env.render()``),
then the 32 x 32 observation(s) the agent gets at that step, each pixel drawn as an 8 x 8 block.

Usage: python scripts/render_pixel_views.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

import ttt_gym  # noqa: F401  (registers the ids)
from ttt_gym.experts import make_demonstrator

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
GAP_PX = 8

Frame = tuple[np.ndarray, np.ndarray, np.ndarray]  # (privileged render, agent view, decoded observation vector)


def episode(env_id: str, seed: int = 0) -> list[Frame]:
    """Every step of one demonstrator episode: the privileged render, the agent's image and what it shows."""
    env = gym.make(env_id, render_mode="rgb_array")
    view = env.unwrapped.pixel_view
    demonstrator = make_demonstrator(env_id, rng=seed)
    obs, _ = env.reset(seed=seed)
    frames, state, start, done = [], None, np.ones(1, dtype=bool), False
    while not done:
        frames.append((env.render(), obs, view.decode(obs)))
        action, state = demonstrator.predict(obs[None], state=state, episode_start=start)
        start[:] = False
        obs, _, terminated, truncated, _ = env.step(int(action[0]))
        done = terminated or truncated
    return frames


def first(frames: list[Frame], keep: Callable[[int, np.ndarray], bool]) -> int:
    return next(t for t, (_, _, vector) in enumerate(frames) if keep(t, vector))


def compose(panels: list[np.ndarray]) -> np.ndarray:
    """Panels side by side on a white strip, each agent view scaled up by whole pixels to the render's height."""
    height = panels[0].shape[0]
    scaled = [panels[0]]
    for image in panels[1:]:
        factor = height // image.shape[0]
        scaled.append(np.kron(image, np.ones((factor, factor, 1), dtype=np.uint8)))
    height = max(p.shape[0] for p in scaled)
    width = sum(p.shape[1] for p in scaled) + GAP_PX * (len(scaled) - 1)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    left = 0
    for panel in scaled:
        canvas[: panel.shape[0], left : left + panel.shape[1]] = panel
        left += panel.shape[1] + GAP_PX
    return canvas


def main() -> None:
    frames = episode("ttt_gym/MysteryPathPixels-v0")
    t = first(frames, lambda t, v: v[4] > 0.5)  # right after the first fall: the margin is blue
    pictures = {"mystery_path_pixels": [frames[t][0], frames[t - 1][1], frames[t][1]]}

    frames = episode("ttt_gym/CoinSearchPixels-v0")
    t = first(frames, lambda t, v: t > 0 and v[4] > 0.5)  # a glimpse after the first collection, then a masked step
    pictures["coin_search_pixels"] = [frames[t][0], frames[t][1], frames[t + 1][1]]

    frames = episode("ttt_gym/ConfoundedControlsPixels-v0")
    t = min(12, len(frames) - 1)
    pictures["confounded_controls_pixels"] = [frames[t][0], frames[t][1]]

    for name, panels in pictures.items():
        path = OUT / f"{name}.png"
        Image.fromarray(compose(panels)).save(path)
        print(path)


if __name__ == "__main__":
    main()
