"""Sequence BC and DAgger on a pixel env with the CNN encoder, end to end (a handful of Adam steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttt_gym.evaluation import evaluate_success
from ttt_gym.experts import make_demonstrator
from ttt_gym.trainers import collect_demonstrations, sequence_bc_loss, train_bc, train_dagger
from ttt_gym.trainers.bc import build_actor

MYSTERY_PATH_PIXELS = "ttt_gym/MysteryPathPixels-v0"
TINY_CNN_GRU = {"embed_dim": 16, "hidden_dim": 16, "encoder": "cnn", "encoder_features": 16}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_bc_on_pixels_with_the_cnn_encoder_runs_end_to_end() -> None:
    demos = collect_demonstrations(
        MYSTERY_PATH_PIXELS, make_demonstrator(MYSTERY_PATH_PIXELS, rng=0), min_episodes=6, seed=0, n_envs=6
    )
    assert demos[0].obs.dtype == np.uint8 and demos[0].obs.shape[1:] == (32, 32, 3)
    before = sequence_bc_loss(build_actor("gru", MYSTERY_PATH_PIXELS, seed=0, actor_kwargs=TINY_CNN_GRU), demos)
    actor = train_bc(
        MYSTERY_PATH_PIXELS,
        "gru",
        demos,
        n_batches=40,
        batch_size=6,
        lr=1e-2,
        validation_episodes=0,  # the last weights, so that the loss below measures the fit
        actor_kwargs=TINY_CNN_GRU,
        progress_bar=False,
    )
    assert actor.config.encoder == "cnn"
    after = sequence_bc_loss(actor, demos)
    assert after < 0.9 * before  # the CNN + GRU fit the demonstrator's images
    result = evaluate_success(actor, MYSTERY_PATH_PIXELS, n_episodes=2, seed=0)
    assert result.successes.shape == (2,) and 0.0 <= result.success_rate <= 1.0


def test_dagger_on_pixels_labels_with_the_privileged_expert() -> None:
    actor = train_dagger(
        MYSTERY_PATH_PIXELS,
        "gru",
        total_timesteps=200,
        round_timesteps=100,
        n_demo_episodes=3,
        batch_size=3,
        window=16,
        n_envs=2,
        validation_episodes=0,
        actor_kwargs=TINY_CNN_GRU,
        progress_bar=False,
    )
    assert actor.observation_encoder is not None
    fresh = build_actor("gru", MYSTERY_PATH_PIXELS, seed=0, actor_kwargs=TINY_CNN_GRU)
    assert fresh.observation_encoder is not None
    moved = [
        float((trained.detach().cpu() - initial.detach()).abs().max())  # trained on CUDA where there is one
        for trained, initial in zip(
            actor.observation_encoder.parameters(), fresh.observation_encoder.parameters(), strict=True
        )
    ]
    assert min(moved) > 1e-4  # every CNN tensor was trained through the rounds' Adam steps
