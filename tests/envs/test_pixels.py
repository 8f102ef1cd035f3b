"""Pixel observations (``obs_type="pixels"``): what the agent may see, never the privileged view.

The registry suite (test_registry.py) runs the checkers, seeding, pickling and rendering on the pixel ids; this file
checks what the images show, that hidden quantities never change them, and that expert and demonstrator still work.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first

from ttt_envs import PIXEL_ENV_IDS
from ttt_envs.experts.base import PixelDecodingDemonstrator
from ttt_gym.evaluation import evaluate_success
from ttt_gym.experts import make_demonstrator, make_expert

#: pixel id -> the state id it draws.
STATE_ID = {pixel_id: pixel_id.replace("Pixels-v0", "-v0") for pixel_id in PIXEL_ENV_IDS}
#: Largest decoding error of a position: exact on the grids, sub-pixel on Confounded Controls' plane.
DECODE_TOLERANCE = {
    "ttt_gym/MysteryPathPixels-v0": 0.0,
    "ttt_gym/CoinSearchPixels-v0": 0.0,
    "ttt_gym/ConfoundedControlsPixels-v0": 3e-3,
}


@pytest.mark.parametrize("env_id", PIXEL_ENV_IDS)
def test_observation_is_a_small_channels_last_image(env_id: str) -> None:
    env = gym.make(env_id)
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and space.shape == (32, 32, 3)
    assert is_image_space(space, check_channels=True) and not is_image_space_channels_first(space)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (32, 32, 3) and obs.std() > 0
    # The option and the registered id are the same env.
    np.testing.assert_array_equal(gym.make(STATE_ID[env_id], obs_type="pixels").reset(seed=0)[0], obs)


@pytest.mark.parametrize("env_id", PIXEL_ENV_IDS)
def test_image_is_drawn_from_the_state_observation_alone(env_id: str) -> None:
    """In lockstep with the state env: same privileged states, and every image is the view's drawing of the state
    observation (so it cannot hold more) which decodes back to it."""
    pixel_env, state_env = gym.make(env_id), gym.make(STATE_ID[env_id])
    view = pixel_env.unwrapped.pixel_view
    rng = np.random.default_rng(0)
    image, pixel_info = pixel_env.reset(seed=5)
    vector, state_info = state_env.reset(seed=5)
    for _ in range(200):
        np.testing.assert_array_equal(pixel_info["state"], state_info["state"])
        np.testing.assert_array_equal(image, view.render(vector))
        np.testing.assert_allclose(view.decode(image), vector, rtol=0, atol=DECODE_TOLERANCE[env_id])
        action = int(rng.integers(pixel_env.action_space.n))
        image, _, terminated, truncated, pixel_info = pixel_env.step(action)
        vector, *_, state_info = state_env.step(action)
        if terminated or truncated:
            image, pixel_info = pixel_env.reset()
            vector, state_info = state_env.reset()


def test_mystery_path_image_never_shows_the_path() -> None:
    """Episodes that start on the same cells with different hidden paths look the same to the agent."""
    env = gym.make("ttt_gym/MysteryPathPixels-v0")
    first_seen: dict[bytes, np.ndarray] = {}
    pairs = 0
    for seed in range(400):
        image, info = env.reset(seed=seed)
        path = info["state"][6:]
        other = first_seen.setdefault(image.tobytes(), path)
        if not np.array_equal(other, path):
            pairs += 1  # same image, different path
    assert pairs >= 5


def test_coin_search_masked_images_are_blank_whatever_the_hidden_positions() -> None:
    env = gym.make("ttt_gym/CoinSearchPixels-v0")
    masked_images, hidden_positions = set(), set()
    for seed in range(5):
        image, _ = env.reset(seed=seed)
        assert (image[..., 0] >= 128).sum() > 0  # the reset glimpse shows the agent
        for action in (0, 1, 2, 3):
            image, _, _, _, info = env.step(action)
            if image[..., 0].max() < 128:  # masked: no agent drawn
                masked_images.add(image.tobytes())
                hidden_positions.add(tuple(info["state"][:4]))
    assert len(masked_images) == 1 and len(hidden_positions) > 5


def test_confounded_controls_image_never_shows_rotation_flip_or_curl() -> None:
    env = gym.make("ttt_gym/ConfoundedControlsPixels-v0")
    placement = {"start": (-0.5, 0.2), "goal": (0.6, -0.4)}
    images, states = [], []
    for rotation_deg, flip, curl_sign in ((0.0, False, 1), (137.0, True, -1), (250.0, False, -1)):
        image, info = env.reset(
            seed=0, options={**placement, "rotation_deg": rotation_deg, "flip": flip, "curl_sign": curl_sign}
        )
        images.append(image)
        states.append(info["state"])
    for image in images[1:]:
        np.testing.assert_array_equal(image, images[0])
    assert len({tuple(state[4:8]) for state in states}) == 3  # the hidden frames did differ


@pytest.mark.parametrize("env_id", PIXEL_ENV_IDS)
def test_expert_and_demonstrator_succeed_on_pixels(env_id: str) -> None:
    expert = evaluate_success(make_expert(env_id), env_id, n_episodes=10, seed=1000)
    demonstrator = make_demonstrator(env_id, rng=0)
    assert isinstance(demonstrator, PixelDecodingDemonstrator)
    assert demonstrator.observation_space == gym.make(env_id).observation_space
    demo = evaluate_success(demonstrator, env_id, n_episodes=10, seed=2000)
    assert expert.success_rate >= 0.98 and demo.success_rate >= 0.9


@pytest.mark.parametrize("env_id", ["ttt_gym/MysteryPathPixels-v0", "ttt_gym/CoinSearchPixels-v0"])
def test_grid_demonstrator_acts_as_on_the_state_env(env_id: str) -> None:
    """Decoding is exact on the grids, so the pixel demonstrator takes the state demonstrator's every action."""
    traces = []
    for current_id in (env_id, STATE_ID[env_id]):
        demonstrator, env = make_demonstrator(current_id, rng=3), gym.make(current_id)
        obs, _ = env.reset(seed=11)
        state, start, actions, done = None, np.ones(1, dtype=bool), [], False
        while not done:
            action, state = demonstrator.predict(obs[None], state=state, episode_start=start)
            start[:] = False
            actions.append(int(action[0]))
            obs, _, terminated, truncated, _ = env.step(actions[-1])
            done = terminated or truncated
        traces.append(actions)
    assert traces[0] == traces[1]


@pytest.mark.parametrize("env_id", PIXEL_ENV_IDS)
def test_pixel_demonstrator_rejects_the_state_observation(env_id: str) -> None:
    demonstrator = make_demonstrator(env_id, rng=0)
    vector, _ = gym.make(STATE_ID[env_id]).reset(seed=0)
    with pytest.raises(ValueError, match="observation"):
        demonstrator.predict(vector)


@pytest.mark.parametrize("env_id", ["ttt_gym/MysteryPathPixels-v0", "ttt_gym/CoinSearchPixels-v0"])
def test_decoding_a_foreign_image_names_the_mistake(env_id: str) -> None:
    view = gym.make(env_id).unwrapped.pixel_view
    with pytest.raises(ValueError, match="obs_type='pixels'"):
        view.decode(np.full((32, 32, 3), 255, dtype=np.uint8))


def test_obs_type_is_checked() -> None:
    with pytest.raises(ValueError, match="obs_type='rgb' is not offered; use 'state' or 'pixels'"):
        gym.make("ttt_gym/MysteryPath-v0", obs_type="rgb")
