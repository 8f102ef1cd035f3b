"""The CNN encoder (``encoder="cnn"``) on every actor: shapes, step form = sequence form, save / load, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces

from tests.policies.conftest import ACTION_SPACES, OBSERVATION_SPACE, TINY, step_params
from ttt_gym.policies import ACTORS, SequenceActor, load_actor
from ttt_gym.policies.blocks import ImageEncoder

#: A tiny RGB image space, channels last like the suite's pixel envs (a CNN step stays well under a millisecond).
IMAGE_SPACE = spaces.Box(0, 255, (12, 12, 3), dtype=np.uint8)
CNN = {"encoder": "cnn", "encoder_features": 8}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def make_cnn_actor(name: str, action: str = "discrete", space: spaces.Box = IMAGE_SPACE, **overrides) -> SequenceActor:
    key, config = TINY[name]
    return ACTORS[key](space, ACTION_SPACES[action], **{**config, **CNN, **overrides})


def random_images(
    actor: SequenceActor, batch: int, length: int, seed: int, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer-valued images ``[B, T, *image_shape]`` (as the trainers hand them over: uint8 values as floats)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, length, *actor.observation_space.shape), generator=g).to(dtype)
    if actor.discrete:
        actions = torch.randint(0, actor.action_dim, (batch, length), generator=g)
    else:
        actions = torch.rand(batch, length, actor.action_dim, generator=g, dtype=dtype) * 2 - 1
    return images, actions


def assert_step_matches_sequence(actor: SequenceActor, seed: int) -> None:
    images, actions = random_images(actor, 3, 14, seed=seed, dtype=torch.float64)
    starts = torch.zeros(3, 14, dtype=torch.bool)
    starts[1, 5] = starts[2, 9] = True
    with torch.no_grad():
        sequence = actor.forward_sequence(images, starts, actor.shift_actions(actions)).params
    assert sequence.abs().max() > 0.1  # the check is sensitive to the features
    torch.testing.assert_close(step_params(actor, images, actions, starts), sequence, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(TINY))
def test_cnn_features_take_the_observations_place_in_the_input(name: str) -> None:
    actor = make_cnn_actor(name)
    assert isinstance(actor.observation_encoder, ImageEncoder)
    assert actor.observation_feature_dim == 8
    assert actor.input_dim == 8 + (actor.action_dim if actor.config.previous_action else 0)
    image = IMAGE_SPACE.sample()
    action, _ = actor.predict(image, deterministic=True)
    assert np.shape(action) == () and ACTION_SPACES["discrete"].contains(action)
    actions, _ = actor.predict(np.stack([image] * 4), deterministic=True)
    assert actions.shape == (4,) and np.all(actions == action)
    images, labels = random_images(actor, 2, 7, seed=0)
    out = actor.forward_sequence(images, None, actor.shift_actions(labels))
    assert out.params.shape == (2, 7, 4)


@pytest.mark.parametrize("action_kind", sorted(ACTION_SPACES))
@pytest.mark.parametrize("name", sorted(TINY))
def test_step_form_matches_sequence_form_in_float64_after_training_and_reload(
    name: str, action_kind: str, tmp_path: Path
) -> None:
    actor = make_cnn_actor(name, action_kind).double()
    with torch.no_grad():
        g = torch.Generator().manual_seed(11)
        for parameter in actor.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=g, dtype=parameter.dtype))
    assert_step_matches_sequence(actor, seed=1)
    images, actions = random_images(actor, 3, 10, seed=2, dtype=torch.float64)
    optimizer = torch.optim.Adam(actor.parameters(), lr=0.05)
    for _ in range(2):
        loss, _ = actor.loss(images, actions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert_step_matches_sequence(actor, seed=3)
    actor.save(tmp_path / "actor.pt")
    assert_step_matches_sequence(load_actor(tmp_path / "actor.pt").double(), seed=3)


@pytest.mark.parametrize("name", sorted(TINY))
def test_observation_delta_is_the_change_of_the_cnn_features(name: str) -> None:
    actor = make_cnn_actor(name, observation_delta=2.0).double()
    assert actor.input_dim == 2 * 8 + (actor.action_dim if actor.config.previous_action else 0)
    torch.nn.init.normal_(actor.head.linear.weight, generator=torch.Generator().manual_seed(1))
    assert_step_matches_sequence(actor, seed=4)
    state = actor.initial_state(2)
    assert state["previous_observation"].shape == (2, 8)


@pytest.mark.parametrize("name", sorted(TINY))
def test_loss_trains_the_cnn(name: str) -> None:
    actor = make_cnn_actor(name)
    images, actions = random_images(actor, 2, 6, seed=5)
    loss, _ = actor.loss(images, actions)
    loss.backward()
    encoder_grads = [p.grad for p in actor.observation_encoder.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in encoder_grads)


@pytest.mark.parametrize("name", ["gru", "transformer", "ttt_e2e"])
def test_save_load_round_trips_exactly(name: str, tmp_path: Path) -> None:
    actor = make_cnn_actor(name, seed=3)
    with torch.no_grad():
        for p in actor.parameters():
            p.add_(0.01 * torch.randn_like(p))
    actor.save(tmp_path / "actor.pt")
    loaded = load_actor(tmp_path / "actor.pt")
    assert loaded.config == actor.config and loaded.config.encoder == "cnn"
    for (key, a), (_, b) in zip(actor.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), key
    images, actions = random_images(actor, 2, 6, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(actor.log_prob(images, actions), loaded.log_prob(images, actions), rtol=0, atol=0)


def test_images_are_scaled_to_unit_range_and_either_channel_order_is_read() -> None:
    last = ImageEncoder(IMAGE_SPACE, 8)
    first = ImageEncoder(spaces.Box(0, 255, (3, 12, 12), dtype=np.uint8), 8)
    first.load_state_dict(last.state_dict())
    images = torch.randint(0, 256, (5, 12, 12, 3)).float()
    expected = last.linear(last.convolutions(images.permute(0, 3, 1, 2) / 255.0))
    torch.testing.assert_close(last(images), expected)
    torch.testing.assert_close(first(images.permute(0, 3, 1, 2)), expected)


def test_encoder_weights_are_seeded_apart_from_the_actor_layers() -> None:
    a, b = make_cnn_actor("gru", seed=5), make_cnn_actor("gru", seed=5)
    for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), key
    assert not torch.equal(
        make_cnn_actor("gru", seed=6).observation_encoder.linear[0].weight, a.observation_encoder.linear[0].weight
    )


def test_flat_default_builds_no_encoder() -> None:
    key, config = TINY["gru"]
    actor = ACTORS[key](OBSERVATION_SPACE, ACTION_SPACES["discrete"], **config)
    assert actor.config.encoder == "flat" and actor.observation_encoder is None
    assert not any(k.startswith("observation_encoder") for k in actor.state_dict())


def test_bad_encoder_settings_fail_at_construction() -> None:
    with pytest.raises(ValueError, match=r"encoder='cnn' reads image observations.*encoder='flat'"):
        make_cnn_actor("gru", space=OBSERVATION_SPACE)
    with pytest.raises(ValueError, match="encoder='cnn' reads image"):
        make_cnn_actor("mlp", space=spaces.Box(0.0, 1.0, (12, 12, 3), dtype=np.float32))  # not uint8 0..255
    with pytest.raises(ValueError, match="encoder must be one of"):
        make_cnn_actor("gru", encoder="resnet")
    with pytest.raises(ValueError, match="encoder_features"):
        make_cnn_actor("gru", encoder_features=0)
