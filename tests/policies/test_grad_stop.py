"""Gradient stopping at inference: ``with_grad_stop`` copies the setting and the weights, and rejects bad input."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
import torch

import ttt_gym  # noqa: F401  (registers the envs)
from ttt_gym.policies import MLPActor, TTTE2EActor, TTTLinearActor, with_grad_stop

ENV_ID = "ttt_gym/MysteryPath-v0"


@pytest.fixture(autouse=True)
def single_thread() -> None:
    torch.set_num_threads(1)


def make_actor(name: str) -> TTTLinearActor | TTTE2EActor:
    env = gym.make(ENV_ID)
    if name == "ttt_linear":
        return TTTLinearActor(env.observation_space, env.action_space, embed_dim=16, num_heads=2, mini_batch_size=4)
    return TTTE2EActor(env.observation_space, env.action_space, embed_dim=16, num_layers=1, num_heads=2, chunk_size=4)


def test_copy_has_the_setting_and_the_weights() -> None:
    actor = make_actor("ttt_linear")
    copy = with_grad_stop(actor, 0.5, "relative")
    assert (copy.config.grad_stop_threshold, copy.config.grad_stop_rule) == (0.5, "relative")
    assert dataclasses.replace(copy.config, grad_stop_threshold=0.0, grad_stop_rule="absolute") == actor.config
    for name, value in actor.state_dict().items():
        assert torch.equal(copy.state_dict()[name], value)
        assert copy.state_dict()[name].data_ptr() != value.data_ptr()


def test_bad_input_raises_with_the_fix() -> None:
    actor = make_actor("ttt_linear")
    with pytest.raises(ValueError, match="use one of absolute, relative"):
        with_grad_stop(actor, 0.1, "sometimes")
    with pytest.raises(ValueError, match="pass non-negative thresholds"):
        with_grad_stop(actor, -0.1, "absolute")
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="--policy ttt-linear or --policy ttt-e2e"):
        with_grad_stop(MLPActor(env.observation_space, env.action_space), 0.1, "absolute")


def test_the_sweep_moved_out_of_the_library_with_a_pointer() -> None:
    from ttt_gym.policies import grad_stop

    with pytest.raises(ImportError, match=r"benchmarks\.grad_stop"):
        grad_stop.sweep_grad_stop  # noqa: B018
