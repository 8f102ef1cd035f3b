"""Test-time losses: one per SB3 policy family, our agents' own actor losses, and the batch they consume."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy, MultiInputActorCriticPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy

from ttt_gym.agents import GCBC, GCIQL, GCIVL, TensorBatch
from ttt_gym.ttt.batch import PolicyView
from ttt_gym.ttt.losses import (
    SQUASHED_ACTION_LIMIT,
    AgentActorLoss,
    TTTBatch,
    default_loss,
    log_likelihood_loss,
    mse_loss,
)

FLAT = spaces.Box(-10.0, 10.0, (4,), np.float32)
GOAL_DICT = spaces.Dict(
    {
        "observation": spaces.Box(-10.0, 10.0, (2,), np.float32),
        "desired_goal": spaces.Box(-10.0, 10.0, (2,), np.float32),
    }
)
ACTIONS = spaces.Box(-1.0, 1.0, (2,), np.float32)


def _lr(_: float) -> float:
    return 1e-3


def _batch(n: int = 16, seed: int = 0, *, as_dict: bool = False, actions: np.ndarray | None = None) -> TTTBatch:
    rng = np.random.default_rng(seed)
    obs = torch.as_tensor(rng.normal(size=(n, 2)), dtype=torch.float32)
    goal = torch.as_tensor(np.tile(rng.normal(size=(1, 2)), (n, 1)), dtype=torch.float32)
    acts = torch.as_tensor(rng.uniform(-1, 1, (n, 2)) if actions is None else actions, dtype=torch.float32)
    transitions = TensorBatch(
        observations=obs,
        actions=acts,
        next_observations=obs + 0.1,
        rewards=-torch.ones(n),
        masks=torch.ones(n),
        value_goals=goal,
        actor_goals=goal,
    )
    view = PolicyView(lambda s, g: {"observation": s, "desired_goal": g} if as_dict else torch.cat([s, g], dim=1))
    return TTTBatch(transitions, view)


def test_ppo_log_likelihood_is_the_distribution_nll_and_fits_the_actions():
    torch.manual_seed(0)
    policy = ActorCriticPolicy(FLAT, ACTIONS, _lr, net_arch=[16])
    batch = _batch(actions=np.tile([[0.8, -0.5]], (16, 1)))
    expected = -policy.get_distribution(batch.observations).log_prob(batch.actions).mean()
    torch.testing.assert_close(log_likelihood_loss(policy, batch), expected)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    first = log_likelihood_loss(policy, batch).item()
    for _ in range(50):
        loss = log_likelihood_loss(policy, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    mean = policy.get_distribution(batch.observations).distribution.mean.mean(0)
    torch.testing.assert_close(mean, torch.tensor([0.8, -0.5]), atol=0.1, rtol=0)


def test_multi_input_policy_takes_the_dict_batch():
    policy = MultiInputActorCriticPolicy(GOAL_DICT, ACTIONS, _lr, net_arch=[16])
    loss = log_likelihood_loss(policy, _batch(as_dict=True))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert policy.action_net.weight.grad is not None and policy.value_net.weight.grad is None


def test_sac_log_likelihood_is_finite_at_the_action_bounds():
    policy = SACPolicy(FLAT, ACTIONS, _lr, net_arch=[16])
    batch = _batch(actions=np.tile([[1.0, -1.0]], (16, 1)))
    loss = log_likelihood_loss(policy, batch)
    assert torch.isfinite(loss)
    mean, log_std, kwargs = policy.actor.get_action_dist_params(batch.observations)
    distribution = policy.actor.action_dist.proba_distribution(mean, log_std, **kwargs)
    clipped = batch.actions.clamp(-SQUASHED_ACTION_LIMIT, SQUASHED_ACTION_LIMIT)
    torch.testing.assert_close(loss, -distribution.log_prob(clipped).mean())
    # The actor alone (an SB3 BasePolicy too) gives the same loss.
    torch.testing.assert_close(log_likelihood_loss(policy.actor, batch), loss)
    loss.backward()
    assert all(p.grad is None for p in policy.critic.parameters())


def test_td3_mse_is_the_squared_error_of_the_deterministic_action():
    policy = TD3Policy(FLAT, ACTIONS, _lr, net_arch=[16])
    batch = _batch()
    expected = (policy.actor(batch.observations) - batch.actions).square().sum(-1).mean()
    torch.testing.assert_close(mse_loss(policy, batch), expected)
    torch.testing.assert_close(mse_loss(policy.actor, batch), expected)
    ppo = ActorCriticPolicy(FLAT, ACTIONS, _lr, net_arch=[16])
    assert torch.isfinite(mse_loss(ppo, batch))  # the distribution's mode for other policies


def test_agent_losses_are_the_agents_own():
    obs_space, action_space = spaces.Box(-np.inf, np.inf, (2,), np.float32), ACTIONS
    batch = _batch(as_dict=True)
    for agent in (
        GCBC((obs_space, action_space), hidden_dims=(16,)),
        GCIQL((obs_space, action_space), hidden_dims=(16,), actor_loss="awr", alpha=1.0),
    ):
        loss_fn = default_loss(agent)
        assert isinstance(loss_fn, AgentActorLoss)
        expected, _ = agent.actor_loss(batch.transitions)
        torch.testing.assert_close(loss_fn(agent.policy, batch), expected)
    # The policy alone (without its agent) gets GCBC's loss: the Gaussian negative log-likelihood.
    gcbc = GCBC((obs_space, action_space), hidden_dims=(16,))
    assert default_loss(gcbc.policy) is log_likelihood_loss
    torch.testing.assert_close(log_likelihood_loss(gcbc.policy, batch), gcbc.actor_loss(batch.transitions)[0])


@pytest.mark.parametrize(
    "make_agent",
    [
        lambda spaces_pair: GCBC(spaces_pair, hidden_dims=(16,)),
        lambda spaces_pair: GCIVL(spaces_pair, hidden_dims=(16,)),
        lambda spaces_pair: GCIQL(spaces_pair, hidden_dims=(16,)),
        lambda spaces_pair: GCIQL(spaces_pair, hidden_dims=(16,), actor_loss="awr", alpha=1.0),
    ],
    ids=["gcbc", "gcivl", "gciql-ddpgbc", "gciql-awr"],
)
def test_actor_loss_without_info_is_the_same_loss(make_agent):
    agent = make_agent((spaces.Box(-np.inf, np.inf, (2,), np.float32), ACTIONS))
    batch = _batch(as_dict=True).transitions
    with_info, info = agent.actor_loss(batch)
    without_info, no_info = agent.actor_loss(batch, with_info=False)
    assert info and no_info == {}
    torch.testing.assert_close(without_info, with_info, rtol=0, atol=0)
    # Same gradients too: the flag only skips the detached diagnostics.
    grads = [torch.autograd.grad(loss, list(agent.actor.parameters())) for loss in (with_info, without_info)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # The test-time loss skips them.
    calls = []
    original = agent.actor_loss

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    agent.actor_loss = recording
    torch.testing.assert_close(AgentActorLoss(agent)(agent.policy, _batch(as_dict=True)), with_info, rtol=0, atol=0)
    assert calls and all(call["with_info"] is False for call in calls)


def test_default_loss_per_family_and_unknown_policies():
    assert default_loss(ActorCriticPolicy(FLAT, ACTIONS, _lr)) is log_likelihood_loss
    assert default_loss(SACPolicy(FLAT, ACTIONS, _lr)) is log_likelihood_loss
    assert default_loss(TD3Policy(FLAT, ACTIONS, _lr)) is mse_loss
    td3 = TD3Policy(FLAT, ACTIONS, _lr)

    class Model:  # an SB3 algorithm exposes .policy
        policy = td3

    assert default_loss(Model()) is mse_loss
    with pytest.raises(TypeError, match="loss="):
        default_loss(torch.nn.Linear(2, 2))


def test_batch_take_keeps_rows_aligned():
    batch = _batch(as_dict=True)
    rows = torch.tensor([3, 3, 0])
    part = batch.take(rows)
    assert len(part) == 3
    torch.testing.assert_close(part.observations["observation"], batch.observations["observation"][rows])
    torch.testing.assert_close(part.transitions.next_observations, batch.transitions.next_observations[rows])
    torch.testing.assert_close(part.actions, batch.actions[rows])
    assert part.observations["observation"] is part.transitions.observations  # one copy of the rows
    flat = _batch().take(rows)
    assert flat.observations.shape == (3, 4)
    assert part.weights is None and flat.weights is None
    weighted = dataclasses.replace(batch, weights=torch.arange(16.0)).take(rows)
    torch.testing.assert_close(weighted.weights, torch.tensor([3.0, 3.0, 0.0]))


AWR_AGENTS = [
    lambda spaces_pair: GCIVL(spaces_pair, hidden_dims=(16,), alpha=1.0),
    lambda spaces_pair: GCIQL(spaces_pair, hidden_dims=(16,), actor_loss="awr", alpha=1.0),
]


def _varied_batch(n: int = 40) -> TTTBatch:
    """A dict batch whose next observations are random steps away (GCIVL's advantages differ per row)."""
    batch = _batch(n, as_dict=True)
    steps = torch.as_tensor(np.random.default_rng(1).normal(0, 0.3, (n, 2)), dtype=torch.float32)
    transitions = dataclasses.replace(batch.transitions, next_observations=batch.transitions.observations + steps)
    return dataclasses.replace(batch, transitions=transitions)


def count_critic_calls(agent) -> list[str]:
    """The names of the agent's critics (V, Q), appended at each of their forward calls from now on."""
    calls: list[str] = []
    for name in ("value", "critic"):
        if name in agent.critics:
            agent.critics[name].register_forward_hook(lambda *_, name=name: calls.append(name))
    return calls


@pytest.mark.parametrize("make_agent", AWR_AGENTS, ids=["gcivl", "gciql-awr"])
def test_prepared_awr_weights_give_the_recomputed_loss(make_agent):
    agent = make_agent((spaces.Box(-np.inf, np.inf, (2,), np.float32), ACTIONS))
    data = _varied_batch()
    loss_fn = AgentActorLoss(agent)
    prepared = loss_fn.prepare(data)
    assert data.weights is None and prepared.weights is not None and prepared.weights.shape == (len(data),)
    assert not prepared.weights.requires_grad and len(set(prepared.weights.tolist())) > 1
    # Chunked (3 chunks of at most 16 rows) or not, the same weights.
    torch.testing.assert_close(loss_fn.prepare(data, chunk_size=16).weights, prepared.weights)

    actor = copy.deepcopy(agent.policy)
    calls = count_critic_calls(agent)
    for seed in range(3):
        rows = torch.randint(len(data), (24,), generator=torch.Generator().manual_seed(seed))
        with_weights = loss_fn(actor, prepared.take(rows))
        assert calls == [], "the critics ran although the weights were given"
        recomputed = loss_fn(actor, data.take(rows))
        assert calls, "the recomputing path should run the critics"
        calls.clear()
        torch.testing.assert_close(with_weights, recomputed)

    # On one batch, the weights of actor_weights give exactly the recomputed loss and gradients.
    transitions = data.transitions
    weights = agent.actor_weights(transitions)
    expected, info = agent.actor_loss(transitions, actor=actor)
    loss, weighted_info = agent.actor_loss(transitions, actor=actor, weights=weights)
    torch.testing.assert_close(loss, expected, rtol=0, atol=0)
    grads = [torch.autograd.grad(value, list(actor.parameters())) for value in (expected, loss)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert set(info) - set(weighted_info) == {"actor/adv"}  # no critic run, no advantage to report
    with pytest.raises(ValueError, match="one value per transition"):
        agent.actor_loss(transitions, weights=weights[:-1])


@pytest.mark.parametrize(
    "make_agent",
    [
        lambda spaces_pair: GCBC(spaces_pair, hidden_dims=(16,)),
        lambda spaces_pair: GCIQL(spaces_pair, hidden_dims=(16,)),
    ],
    ids=["gcbc", "gciql-ddpgbc"],
)
def test_losses_without_critic_weights_are_unchanged(make_agent):
    agent = make_agent((spaces.Box(-np.inf, np.inf, (2,), np.float32), ACTIONS))
    data = _varied_batch()
    loss_fn = AgentActorLoss(agent)
    assert agent.actor_weights(data.transitions) is None
    prepared = loss_fn.prepare(data)
    assert prepared is data and prepared.weights is None
    torch.testing.assert_close(loss_fn(agent.policy, prepared), agent.actor_loss(data.transitions)[0], rtol=0, atol=0)
    if isinstance(agent, GCIQL):  # DDPG+BC's Q term depends on the actor: no weights to pass
        with pytest.raises(ValueError, match="AWR"):
            agent.actor_loss(data.transitions, weights=torch.ones(len(data)))
