"""Interface tests run over every actor and both action-space kinds."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from torch.utils.flop_counter import FlopCounterMode

from tests.policies.conftest import (
    MEMORY_ACTORS,
    OBSERVATION_SPACE,
    TINY,
    make_tiny,
    random_trajectories,
    step_params,
)
from ttt_gym.policies import (
    ACTORS,
    TransformerActor,
    TTTLinearActor,
    load_actor,
    make_actor,
)


def test_predict_shapes_single_and_batched(actor_name: str, action_kind: str) -> None:
    actor = make_tiny(actor_name, action_kind)
    rng = np.random.default_rng(0)
    action, state = actor.predict(OBSERVATION_SPACE.sample())
    assert action.shape == actor.action_space.shape
    assert actor.action_space.contains(action.astype(actor.action_space.dtype))
    assert all(value.shape[0] == 1 for value in state.values())
    observations = rng.uniform(-2, 2, size=(5, 3)).astype(np.float32)
    actions, state = actor.predict(observations, None, np.ones(5, dtype=bool))
    assert actions.shape == (5, *actor.action_space.shape)
    for _ in range(3):
        actions, state = actor.predict(observations, state, np.zeros(5, dtype=bool), deterministic=True)
        assert isinstance(actions, np.ndarray)
        assert all(actor.action_space.contains(a.astype(actor.action_space.dtype)) for a in actions)
    assert all(value.shape[0] == 5 for value in state.values())


def test_stochastic_predict_is_seeded(actor_name: str) -> None:
    observations = np.random.default_rng(1).uniform(-2, 2, size=(50, 3)).astype(np.float32)
    first = make_tiny(actor_name, "box").predict(observations)[0]
    second = make_tiny(actor_name, "box").predict(observations)[0]
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", MEMORY_ACTORS)
def test_state_threading_carries_memory(name: str) -> None:
    actor = make_tiny(name)
    torch.nn.init.normal_(actor.head.linear.weight, generator=torch.Generator().manual_seed(1))
    observations = np.random.default_rng(2).uniform(-2, 2, size=(6, 2, 3)).astype(np.float32)
    state = None
    for t in range(6):
        distribution, state = actor.forward_step(
            torch.as_tensor(observations[t]), state if state is not None else actor.initial_state(2)
        )
    fresh, _ = actor.forward_step(torch.as_tensor(observations[-1]), actor.initial_state(2))
    assert not torch.allclose(distribution.logits, fresh.logits)


def test_episode_start_resets_to_a_fresh_state(actor_name: str, action_kind: str) -> None:
    actor = make_tiny(actor_name, action_kind)
    torch.nn.init.normal_(actor.head.linear.weight, generator=torch.Generator().manual_seed(1))
    observations, actions = random_trajectories(actor, 2, 9, seed=3)
    state = actor.initial_state(2)
    with torch.no_grad():
        for t in range(8):
            _, state = actor.forward_step(observations[:, t], state)
            state = actor.record_actions(state, actions[:, t])
        continued = {k: v.clone() for k, v in state.items()}
        reset_out, _ = actor.forward_step(observations[:, 8], state, torch.tensor([True, False]))
        fresh_out, _ = actor.forward_step(observations[:, 8], actor.initial_state(2))
        kept_out, _ = actor.forward_step(observations[:, 8], continued)
    params = lambda d: d.logits if actor.discrete else d.mean  # noqa: E731
    torch.testing.assert_close(params(reset_out)[0], params(fresh_out)[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(params(reset_out)[1], params(kept_out)[1], rtol=0, atol=1e-6)


def test_predict_episode_start_matches_fresh_predict(actor_name: str) -> None:
    actor = make_tiny(actor_name, "box")
    rng = np.random.default_rng(4)
    observations = rng.uniform(-2, 2, size=(7, 3, 3)).astype(np.float32)
    _, state = actor.predict(observations[0])
    for t in range(1, 6):
        _, state = actor.predict(observations[t], state, np.zeros(3, dtype=bool), deterministic=True)
    after_reset, _ = actor.predict(observations[6], state, np.ones(3, dtype=bool), deterministic=True)
    fresh, _ = actor.predict(observations[6], None, deterministic=True)
    np.testing.assert_allclose(after_reset, fresh, atol=1e-6)


def test_step_form_matches_sequence_form_float32(actor_name: str, action_kind: str) -> None:
    actor = make_tiny(actor_name, action_kind)
    observations, actions = random_trajectories(actor, 3, 21, seed=5)
    starts = torch.zeros(3, 21, dtype=torch.bool)
    starts[1, 7] = starts[2, 13] = True
    with torch.no_grad():
        sequence = actor.forward_sequence(observations, starts, actor.shift_actions(actions)).params
    torch.testing.assert_close(step_params(actor, observations, actions, starts), sequence, rtol=0, atol=1e-5)


def test_step_form_matches_sequence_form_exactly_in_float64(actor_name: str, action_kind: str) -> None:
    # A large head makes the check sensitive to every feature; float64 removes rounding as an excuse.
    actor = make_tiny(actor_name, action_kind).double()
    torch.nn.init.normal_(actor.head.linear.weight, generator=torch.Generator().manual_seed(1))
    observations, actions = random_trajectories(actor, 3, 30, seed=6, dtype=torch.float64)
    starts = torch.zeros(3, 30, dtype=torch.bool)
    starts[1, 9] = starts[2, 17] = starts[2, 22] = True
    sequence = actor.forward_sequence(observations, starts, actor.shift_actions(actions)).params.detach()
    assert sequence.abs().max() > 1.0
    torch.testing.assert_close(step_params(actor, observations, actions, starts), sequence, rtol=0, atol=1e-9)


def test_step_form_matches_sequence_form_on_perturbed_and_trained_actors(
    actor_name: str, action_kind: str, tmp_path: Path
) -> None:
    # A fresh actor has symmetric parameters (e.g. TTT-E2E's per-tensor inner step sizes are all equal), which hides
    # a step form that pairs parameters differently from the sequence form. Check after perturbing every parameter,
    # after a few real training steps, and after a save / load round trip.
    actor = make_tiny(actor_name, action_kind).double()
    with torch.no_grad():
        g = torch.Generator().manual_seed(11)
        for parameter in actor.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=g, dtype=parameter.dtype))
    observations, actions = random_trajectories(actor, 3, 26, seed=12, dtype=torch.float64)
    starts = torch.zeros(3, 26, dtype=torch.bool)
    starts[1, 10] = True
    optimizer = torch.optim.Adam(actor.parameters(), lr=0.05)
    for _ in range(3):
        loss, _ = actor.loss(observations, actions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    actor.save(tmp_path / "actor.pt")
    for candidate in (actor, load_actor(tmp_path / "actor.pt").double()):
        with torch.no_grad():
            sequence = candidate.forward_sequence(observations, starts, candidate.shift_actions(actions)).params
        torch.testing.assert_close(step_params(candidate, observations, actions, starts), sequence, rtol=0, atol=1e-9)


def test_observation_delta_input_matches_between_forms_and_resets_at_episode_starts(
    actor_name: str, tmp_path: Path
) -> None:
    make_tiny(actor_name, observation_delta=3.0).save(tmp_path / "actor.pt")
    actor = load_actor(tmp_path / "actor.pt").double()  # the factor survives a save / load round trip
    assert actor.config.observation_delta == 3.0
    assert actor.input_dim == 2 * actor.observation_dim + (actor.action_dim if actor.config.previous_action else 0)
    torch.nn.init.normal_(actor.head.linear.weight, generator=torch.Generator().manual_seed(1))
    observations, actions = random_trajectories(actor, 3, 23, seed=14, dtype=torch.float64)
    starts = torch.zeros(3, 23, dtype=torch.bool)
    starts[1, 8] = starts[2, 15] = True
    with torch.no_grad():
        sequence = actor.forward_sequence(observations, starts, actor.shift_actions(actions)).params
        torch.testing.assert_close(step_params(actor, observations, actions, starts), sequence, rtol=0, atol=1e-9)
        # The change since the previous observation is an input: the memoryless MLP now tells apart two steps that
        # see the same observation after different ones, and an episode start (no previous observation) restarts it.
        moved = observations.clone()
        moved[:, 4] += 1.0
        after = actor.forward_sequence(moved, starts, actor.shift_actions(actions)).params
        assert (after[:, 5] - sequence[:, 5]).abs().max() > 1e-3
        restart = torch.zeros_like(starts)
        restart[:, 5] = True
        fresh = actor.forward_sequence(observations[:, 5:], None, actor.shift_actions(actions)[:, 5:]).params
        split = actor.forward_sequence(observations, restart, actor.shift_actions(actions)).params
        torch.testing.assert_close(split[:, 5:], fresh, rtol=0, atol=1e-9)


def test_observation_delta_must_be_a_finite_non_negative_factor() -> None:
    with pytest.raises(ValueError, match="observation_delta"):
        make_tiny("mlp", observation_delta=-1.0)
    with pytest.raises(ValueError, match="observation_delta"):
        make_tiny("mlp", observation_delta=float("nan"))


def test_ttt_e2e_step_form_uses_each_tensors_own_inner_step_size() -> None:
    # Unequal inner step sizes: every pairing of the four rates with the four fast tensors gives other actions.
    actor = make_tiny("ttt_e2e").double()
    with torch.no_grad():
        actor.log_inner_lr.copy_(torch.tensor([1.0, -1.0, 0.5, -2.0], dtype=torch.float64))
    observations, actions = random_trajectories(actor, 2, 17, seed=13, dtype=torch.float64)
    starts = torch.zeros(2, 17, dtype=torch.bool)
    with torch.no_grad():
        sequence = actor.forward_sequence(observations, starts, actor.shift_actions(actions)).params
        step = step_params(actor, observations, actions, starts)
        torch.testing.assert_close(step, sequence, rtol=0, atol=1e-9)
        actor.log_inner_lr.copy_(actor.log_inner_lr.flip(0))
        swapped = step_params(actor, observations, actions, starts)
    assert (swapped[:, 4:] - step[:, 4:]).abs().max() > 1e-3  # the rates matter after the first inner update


def test_padding_does_not_change_valid_steps(actor_name: str) -> None:
    actor = make_tiny(actor_name)
    observations, actions = random_trajectories(actor, 2, 12, seed=7)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[0, 8:] = False
    log_prob = actor.log_prob(observations, actions, mask)
    scrambled, scrambled_actions = observations.clone(), actions.clone()
    scrambled[0, 8:] = 100.0
    scrambled_actions[0, 8:] = -7  # padding labels need not be valid actions
    log_prob_scrambled = actor.log_prob(scrambled, scrambled_actions, mask)
    assert torch.all(log_prob[0, 8:] == 0)
    torch.testing.assert_close(log_prob, log_prob_scrambled)


def test_loss_backpropagates_to_every_trainable_parameter(actor_name: str, action_kind: str) -> None:
    actor = make_tiny(actor_name, action_kind)
    observations, actions = random_trajectories(actor, 2, 10, seed=8)
    loss, info = actor.loss(observations, actions)
    loss.backward()
    assert np.isfinite(info["nll"])
    missing = [n for n, p in actor.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing, f"no gradient reached {missing}"


def test_save_load_round_trips_exactly(actor_name: str, action_kind: str, tmp_path: Path) -> None:
    actor = make_tiny(actor_name, action_kind, seed=11)
    with torch.no_grad():
        for p in actor.parameters():
            p.add_(0.01 * torch.randn_like(p))  # not the seeded init, so loading must really restore weights
    path = tmp_path / "actor.pt"
    actor.save(path)
    loaded = type(actor).load(path)
    assert loaded.config == actor.config
    assert type(load_actor(path)) is type(actor)
    for (name, a), (_, b) in zip(actor.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    observations, actions = random_trajectories(actor, 2, 9, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(
            actor.log_prob(observations, actions), loaded.log_prob(observations, actions), rtol=0, atol=0
        )
    obs = OBSERVATION_SPACE.sample()
    np.testing.assert_array_equal(actor.predict(obs)[0], loaded.predict(obs)[0])


def test_load_with_the_wrong_class_says_which_one(tmp_path: Path) -> None:
    path = tmp_path / "gru.pt"
    make_tiny("gru").save(path)
    with pytest.raises(TypeError, match=r"GRUActor\.load"):
        TransformerActor.load(path)


def test_load_explains_missing_foreign_and_newer_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No saved actor at .*missing\.pt"):
        load_actor(tmp_path / "missing.pt")
    foreign = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ValueError, match=r"weights\.pt is not an actor file .*'actor'"):
        load_actor(foreign)
    path = tmp_path / "gru.pt"
    make_tiny("gru").save(path)
    saved = torch.load(path, weights_only=True)
    assert saved["format_version"] == 1
    torch.save({**saved, "format_version": 2}, path)
    with pytest.raises(ValueError, match="upgrade ttt_gym"):
        load_actor(path)


@pytest.mark.parametrize("name", ["gru", "transformer_ctx3", "ttt_linear", "ttt_e2e", "ttt_e2e_ctx1"])
def test_per_step_cost_and_state_size_do_not_grow(name: str) -> None:
    """FLOPs of a step and the state size at step ~16 equal those at step ~1000 (same phase of any chunk)."""
    actor = make_tiny(name)
    obs = np.zeros((2, 3), dtype=np.float32)
    flops, sizes, state = {}, {}, None
    for t in range(1004):
        if t in (16, 17, 1000, 1001):
            with FlopCounterMode(display=False) as counter:
                _, state = actor.predict(obs, state)
            flops[t] = counter.get_total_flops()
            sizes[t] = sum(v.numel() for v in state.values())
        else:
            _, state = actor.predict(obs, state)
    assert flops[16] == flops[1000] > 0 and flops[17] == flops[1001] > 0
    assert sizes[16] == sizes[1000]


def test_full_attention_cost_grows_with_the_episode() -> None:
    actor = make_tiny("transformer")
    obs = np.zeros((1, 3), dtype=np.float32)
    flops, state = {}, None
    for t in range(600):
        with FlopCounterMode(display=False) as counter:
            _, state = actor.predict(obs, state)
        flops[t] = counter.get_total_flops()
    assert flops[599] > 2 * flops[16]
    _, state = actor.predict(obs, state, np.ones(1, dtype=bool))
    assert int(state["position"][0]) == 1


def test_errors_point_at_the_likely_mistake() -> None:
    actor = make_tiny("gru")
    with pytest.raises(TypeError, match=r"\(observation, info\)"):
        actor.predict((np.zeros(3, dtype=np.float32), {}))
    with pytest.raises(ValueError, match="matches neither"):
        actor.predict(np.zeros((2, 4), dtype=np.float32))
    _, state = actor.predict(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="state=None"):
        actor.predict(np.zeros((3, 3), dtype=np.float32), state)
    with pytest.raises(TypeError, match="hidden_dim"):
        make_tiny("gru", hiden_dim=8)
    with pytest.raises(ValueError, match="previous_actions"):
        actor.forward_sequence(torch.zeros(1, 4, 3))
    with pytest.raises(ValueError, match="grad_stop_rule"):
        TTTLinearActor(OBSERVATION_SPACE, gym.spaces.Discrete(2), grad_stop_rule="sometimes")
    with pytest.raises(TypeError, match="Box observations"):
        make_actor("mlp", gym.spaces.Dict({"obs": OBSERVATION_SPACE}), gym.spaces.Discrete(2))


def test_make_actor_knows_every_actor() -> None:
    assert set(ACTORS) == {key for key, _ in TINY.values()}
    with pytest.raises(ValueError, match="choose one of"):
        make_actor("lstm", OBSERVATION_SPACE, gym.spaces.Discrete(2))


@pytest.mark.parametrize("name", ["transformer", "ttt_e2e"])
def test_sb3_evaluate_policy_drives_the_actor(name: str) -> None:
    env = gym.make("ttt_gym/MaskedCartPole-v1")
    key, config = TINY[name]
    actor = make_actor(key, env.observation_space, env.action_space, **config)
    mean_return, _ = evaluate_policy(actor, env, n_eval_episodes=2, deterministic=True, warn=False)
    assert mean_return > 0
