"""The test-time-training actors: inner updates, resets, gradient stopping, the closed-form inner gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch.utils.flop_counter import FlopCounterMode

from tests.policies.conftest import OBSERVATION_SPACE, make_tiny, random_trajectories, step_params
from ttt_gym.policies import TTTE2EActor, TTTLinearActor
from ttt_gym.policies.ttt_linear import inner_layer_norm, reconstruction_grad

TTT_ACTORS = ["ttt_linear", "ttt_e2e", "ttt_e2e_ctx1"]


def fast_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in state.items() if k.startswith("fast_")}


def run_steps(actor, n_steps: int, n_envs: int = 2, state=None, seed: int = 0):
    observations = np.random.default_rng(seed).uniform(-2, 2, size=(n_steps, n_envs, 3)).astype(np.float32)
    for t in range(n_steps):
        _, state = actor.predict(observations[t], state)
    return state


def test_reconstruction_grad_matches_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 2, 5, 8, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(3, 2, 5, 8, generator=g, dtype=torch.float64)
    weight = torch.randn(2, 1, 8, generator=g, dtype=torch.float64)
    bias = torch.randn(2, 1, 8, generator=g, dtype=torch.float64)
    loss = 0.5 * (inner_layer_norm(z, weight, bias)[0] - target).pow(2).sum()
    (expected,) = torch.autograd.grad(loss, z)
    torch.testing.assert_close(reconstruction_grad(z.detach(), target, weight, bias), expected)


@pytest.mark.parametrize("name", TTT_ACTORS)
def test_inner_loop_changes_fast_weights_and_episode_start_resets_them(name: str) -> None:
    actor = make_tiny(name)
    initial = fast_weights(actor.initial_state(2))
    state = run_steps(actor, 9)  # two full chunks / mini-batches of 4, so the starting weights changed too
    after = fast_weights(state)
    for key in initial:
        assert not torch.allclose(after[key], initial[key]), key
    assert torch.all(state["inner_updates"] > 0) and torch.all(state["skipped_updates"] == 0)
    _, state = actor.predict(np.zeros((2, 3), dtype=np.float32), state, np.array([True, False]))
    # env 0 restarted: at most its first step's update on top of the initial weights (none for TTT-E2E)
    reset_env = fast_weights(state)
    if name.startswith("ttt_e2e"):
        for key in initial:
            torch.testing.assert_close(reset_env[key][0], initial[key][0])
        assert state["inner_updates"][0] == 0
    else:
        torch.testing.assert_close(reset_env["fast_start_weight"][0], initial["fast_start_weight"][0])
        assert state["inner_updates"][0] == len(actor.blocks)
    assert not torch.allclose(
        reset_env["fast_w1" if name.startswith("ttt_e2e") else "fast_weight"][1],
        initial["fast_w1" if name.startswith("ttt_e2e") else "fast_weight"][1],
    )


@pytest.mark.parametrize("name", TTT_ACTORS)
@pytest.mark.parametrize("rule", ["absolute", "relative"])
def test_gradient_stopping_skips_all_with_a_huge_threshold_and_none_with_zero(name: str, rule: str) -> None:
    never = make_tiny(name, grad_stop_threshold=0.0, grad_stop_rule=rule)
    always = make_tiny(name, grad_stop_threshold=1e12, grad_stop_rule=rule)
    state_never, state_always = run_steps(never, 13), run_steps(always, 13)
    assert torch.all(state_never["skipped_updates"] == 0) and torch.all(state_never["inner_updates"] > 0)
    assert torch.all(state_always["inner_updates"] == 0) and torch.all(state_always["skipped_updates"] > 0)
    torch.testing.assert_close(
        state_always["skipped_updates"], state_never["inner_updates"]
    )  # same number of decisions, all skipped
    initial = fast_weights(always.initial_state(2))
    for key, value in fast_weights(state_always).items():
        torch.testing.assert_close(value, initial[key])  # nothing was learned
    observations, actions = random_trajectories(always, 2, 13)
    _, info_always = always.loss(observations, actions)
    _, info_never = never.loss(observations, actions)
    assert info_always["inner_updates"] == 0 and info_always["skipped_updates"] > 0
    assert info_never["skipped_updates"] == 0 and info_never["inner_updates"] > 0


def test_relative_rule_skips_some_updates_at_a_moderate_threshold() -> None:
    actor = make_tiny("ttt_linear", grad_stop_threshold=1.0, grad_stop_rule="relative")
    state = run_steps(actor, 40)
    assert torch.all(state["skipped_updates"] > 0) and torch.all(state["inner_updates"] > 0)


@pytest.mark.parametrize("name", TTT_ACTORS)
def test_step_form_matches_sequence_form_when_some_updates_are_skipped(name: str) -> None:
    # The sequence form scales each mini-batch's step sizes by its skip decisions inside its loop; the step form
    # decides token by token. A relative threshold of 1 skips some updates and keeps others: both forms must agree.
    actor = make_tiny(name, grad_stop_threshold=1.0, grad_stop_rule="relative").double()
    with torch.no_grad():  # perturbed: a fresh actor's equal initial values could hide an ordering bug
        g = torch.Generator().manual_seed(11)
        for parameter in actor.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=g, dtype=parameter.dtype))
    observations, actions = random_trajectories(actor, 3, 30, seed=6, dtype=torch.float64)
    starts = torch.zeros(3, 30, dtype=torch.bool)
    starts[1, 9] = starts[2, 17] = True
    sequence = actor.forward_sequence(observations, starts, actor.shift_actions(actions)).params.detach()
    _, info = actor.loss(observations, actions)
    assert info["skipped_updates"] > 0 and info["inner_updates"] > 0
    torch.testing.assert_close(step_params(actor, observations, actions, starts), sequence, rtol=0, atol=1e-9)


def test_ttt_linear_outer_gradient_flows_through_inner_updates() -> None:
    # The initial inner weights only reach later tokens' outputs through the inner updates' gradients.
    actor = make_tiny("ttt_linear")
    observations, actions = random_trajectories(actor, 2, 12)
    loss, _ = actor.loss(observations, actions)
    loss.backward()
    layer = actor.blocks[0].ttt
    assert layer.initial_weight.grad.abs().sum() > 0
    assert layer.projection.weight.grad[-layer.num_heads :].abs().sum() > 0  # the step-size gate


@pytest.mark.parametrize("first_order", [False, True])
def test_ttt_e2e_meta_gradient_reaches_the_inner_step_size(first_order: bool) -> None:
    actor: TTTE2EActor = make_tiny("ttt_e2e_ctx1", first_order=first_order)  # type: ignore[assignment]
    observations, actions = random_trajectories(actor, 2, 12)
    loss, info = actor.loss(observations, actions)
    assert info["aux_loss"] > 0 and info["inner_updates"] == 4  # 2 rows x 2 chunk updates that later steps use
    loss.backward()
    assert actor.log_inner_lr.grad.abs().sum() > 0
    assert actor.fast_init["w1"].grad.abs().sum() > 0


def test_ttt_e2e_second_order_differs_from_first_order() -> None:
    grads = []
    for first_order in (False, True):
        actor = make_tiny("ttt_e2e_ctx1", first_order=first_order)
        observations, actions = random_trajectories(actor, 2, 12)
        actor.loss(observations, actions)[0].backward()
        grads.append(actor.embed.weight.grad.clone())
    assert not torch.allclose(grads[0], grads[1])


def test_ttt_e2e_loss_adds_the_weighted_embedding_mse() -> None:
    actor = make_tiny("ttt_e2e", aux_loss_weight=0.5)
    observations, actions = random_trajectories(actor, 2, 10)
    loss, info = actor.loss(observations, actions)
    assert float(loss.detach()) == pytest.approx(info["nll"] + 0.5 * info["aux_loss"], rel=1e-6)


def test_ttt_linear_mini_batch_of_one_is_online_gradient_descent() -> None:
    """b = 1: every token's update starts from the previous token's weights (the step form checks it in float64)."""
    actor = make_tiny("ttt_linear", mini_batch_size=1).double()
    torch.nn.init.normal_(actor.head.linear.weight, generator=torch.Generator().manual_seed(1))
    observations, actions = random_trajectories(actor, 2, 7, dtype=torch.float64)
    sequence = actor.forward_sequence(observations, None, actor.shift_actions(actions)).params.detach()
    state = actor.initial_state(2)
    with torch.no_grad():
        for t in range(7):
            distribution, state = actor.forward_step(observations[:, t], state)
            state = actor.record_actions(state, actions[:, t])
            torch.testing.assert_close(state["fast_weight"], state["fast_start_weight"])
            torch.testing.assert_close(distribution.logits, sequence[:, t])


def test_ttt_configs_are_validated() -> None:
    with pytest.raises(ValueError, match="grad_stop_threshold"):
        TTTLinearActor(OBSERVATION_SPACE, spaces.Discrete(2), grad_stop_threshold=-1.0)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        TTTLinearActor(OBSERVATION_SPACE, spaces.Discrete(2), embed_dim=10, num_heads=3)
    with pytest.raises(ValueError, match="context"):
        TTTE2EActor(OBSERVATION_SPACE, spaces.Discrete(2), context=0)


@pytest.mark.parametrize("name", TTT_ACTORS)
def test_gradient_stopping_saves_inference_flops(name: str) -> None:
    """Skipping every update must skip its work too (for TTT-E2E, the backward pass at chunk boundaries)."""

    def flops_of_a_chunk(threshold: float) -> int:
        actor = make_tiny(name, grad_stop_threshold=threshold)
        state = run_steps(actor, 4, n_envs=1)
        with FlopCounterMode(display=False) as counter:
            run_steps(actor, 4, n_envs=1, state=state, seed=1)  # steps 4..7: one chunk boundary, four tokens
        return counter.get_total_flops()

    assert flops_of_a_chunk(1e12) < flops_of_a_chunk(0.0)


def test_ttt_e2e_inner_clip_bounds_every_update_and_keeps_off_distribution_episodes_finite() -> None:
    """The inner SGD step of each env is at most inner_lr * inner_max_grad_norm; wild inputs never give NaN actions."""
    clipped = make_tiny("ttt_e2e", inner_lr=1.0, inner_max_grad_norm=0.1, learn_inner_lr=False)
    state = run_steps(clipped, 4)  # one chunk of 4: the fast weights are still the initial ones
    before = fast_weights(state)
    observations = np.random.default_rng(1).uniform(-50, 50, size=(64, 2, 3)).astype(np.float32)
    for t in range(64):
        actions, state = clipped.predict(observations[t], state)
        if t == 0:  # the first step of chunk 2 made exactly one update, from `before`
            after = fast_weights(state)
            step = torch.sqrt(sum((after[k] - before[k]).pow(2).flatten(1).sum(1) for k in before))
            assert float(step.max()) <= 0.1 * 1.0 + 1e-5
    assert all(torch.isfinite(v).all() for v in fast_weights(state).values())
    assert all(clipped.action_space.contains(np.asarray(a)) for a in actions)
    with pytest.raises(ValueError, match="inner_max_grad_norm"):
        TTTE2EActor(OBSERVATION_SPACE, spaces.Discrete(2), inner_max_grad_norm=0.0)


def test_ttt_linear_pre_conv_keeps_its_inputs_in_the_state_and_can_be_disabled() -> None:
    with_conv = make_tiny("ttt_linear", conv_kernel=3)
    state = run_steps(with_conv, 5)
    assert state["conv_buffer"].shape == (2, 2, 2, 16)  # envs, layers, kernel - 1, embed
    _, fresh = with_conv.predict(np.zeros((2, 3), np.float32), state, episode_start=np.array([True, False]))
    before = run_steps(with_conv, 5)["conv_buffer"]
    assert not torch.equal(fresh["conv_buffer"][0, :, :-1], before[0, :, :-1])  # env 0 restarted from zeros
    assert torch.count_nonzero(fresh["conv_buffer"][0, :, 0]) == 0
    assert "conv_buffer" not in run_steps(make_tiny("ttt_linear", conv_kernel=0), 2)
    with pytest.raises(ValueError, match="conv_kernel"):
        TTTLinearActor(OBSERVATION_SPACE, spaces.Discrete(2), conv_kernel=-1)


def test_files_saved_before_the_conv_and_the_clip_load_with_their_old_behaviour(tmp_path) -> None:
    """A saved config without the newer fields keeps what the file was trained with (no conv, no clip)."""
    for name, field, old_value in (("ttt_linear", "conv_kernel", 0), ("ttt_e2e", "inner_max_grad_norm", None)):
        actor = make_tiny(name, **{field: old_value})
        path = tmp_path / f"{name}.pt"
        actor.save(path)
        saved = torch.load(path, weights_only=False)
        del saved["config"][field]  # as written before the field existed
        torch.save(saved, path)
        loaded = type(actor).load(path)
        assert getattr(loaded.config, field) == old_value
