"""Loss building blocks against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ttt_gym.agents import GCBC, GCIQL, GCIVL, awr_weights, expectile_loss, ogbench_hyperparameters
from ttt_gym.agents.networks import gaussian_log_prob
from ttt_gym.data import GoalBatch

from .conftest import TINY


def test_expectile_loss_weights_positive_errors_by_expectile():
    adv = torch.tensor([2.0, -2.0, 0.0, -0.5])
    loss = expectile_loss(adv, adv, 0.9)
    # 0.9 * 4, 0.1 * 4, 0.9 * 0 (adv >= 0 takes the expectile), 0.1 * 0.25
    torch.testing.assert_close(loss, torch.tensor([3.6, 0.4, 0.0, 0.025]))


def test_expectile_loss_takes_weight_from_advantage_and_size_from_difference():
    loss = expectile_loss(torch.tensor([1.0, -1.0]), torch.tensor([3.0, 3.0]), 0.7)
    torch.testing.assert_close(loss, torch.tensor([0.7 * 9, 0.3 * 9]))


def test_expectile_half_is_half_the_squared_error():
    diff = torch.linspace(-2, 2, 9)
    torch.testing.assert_close(expectile_loss(diff, diff, 0.5), 0.5 * diff**2)


def test_awr_weights_are_capped_at_100():
    weights = awr_weights(torch.tensor([0.0, 1.0, 10.0, 1000.0, -3.0]), alpha=1.0)
    expected = torch.tensor([1.0, math.e, 100.0, 100.0, math.exp(-3.0)])
    torch.testing.assert_close(weights, expected)
    assert torch.isfinite(awr_weights(torch.tensor([1e6]), alpha=10.0)).all()


def test_gaussian_log_prob_matches_torch_distribution():
    mean, actions, log_std = torch.randn(5, 3), torch.randn(5, 3), torch.tensor([0.0, -1.0, 0.5])
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(mean, log_std, actions), expected)


def _batch(n: int = 8, seed: int = 0) -> GoalBatch:
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 2)).astype(np.float32)
    return GoalBatch(
        observations=obs,
        actions=rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
        next_observations=obs + 0.01,
        rewards=-np.ones(n, np.float32),
        masks=np.ones(n, np.float32),
        value_goals=obs[::-1].copy(),
        actor_goals=obs[::-1].copy(),
    )


def test_gcbc_actor_loss_is_the_negative_log_likelihood(goal_spaces):
    agent = GCBC(goal_spaces, **TINY)
    batch = _batch()
    loss, info = agent.actor_loss(batch)
    obs, goals, actions = (torch.from_numpy(x) for x in (batch.observations, batch.actor_goals, batch.actions))
    mean, _ = agent.actor(obs, goals)
    expected = -torch.distributions.Normal(mean, 1.0).log_prob(actions).sum(-1).mean()
    torch.testing.assert_close(loss, expected)
    assert set(info) >= {"actor/actor_loss", "actor/bc_log_prob", "actor/mse", "actor/std"}


def test_gciql_ddpgbc_actor_loss_matches_formula_and_leaves_critic_without_gradient(goal_spaces):
    agent = GCIQL(goal_spaces, alpha=0.5, **TINY)
    batch = _batch()
    loss, _ = agent.actor_loss(batch)
    obs, goals, actions = (torch.from_numpy(x) for x in (batch.observations, batch.actor_goals, batch.actions))
    with torch.no_grad():
        mean, _ = agent.actor(obs, goals)
        q = agent.critics["critic"](obs, goals, mean.clamp(-1, 1)).min(0).values
        log_prob = torch.distributions.Normal(mean, 1.0).log_prob(actions).sum(-1)
        expected = -q.mean() / (q.abs().mean() + 1e-6) - 0.5 * log_prob.mean()
    torch.testing.assert_close(loss.detach(), expected)
    loss.backward()
    assert all(p.grad is None for p in agent.critics.parameters())
    assert all(p.grad is not None for p in agent.actor.parameters())
    assert all(p.requires_grad for p in agent.critics["critic"].parameters())  # unfrozen afterwards


def test_gciql_awr_actor_loss_uses_capped_advantage_weights(goal_spaces):
    agent = GCIQL(goal_spaces, actor_loss="awr", alpha=3.0, **TINY)
    batch = _batch()
    loss, info = agent.actor_loss(batch)
    obs, goals, actions = (torch.from_numpy(x) for x in (batch.observations, batch.actor_goals, batch.actions))
    with torch.no_grad():
        adv = agent.critics["critic"](obs, goals, actions).min(0).values - agent.critics["value"](obs, goals)
        mean, _ = agent.actor(obs, goals)
        log_prob = torch.distributions.Normal(mean, 1.0).log_prob(actions).sum(-1)
    torch.testing.assert_close(loss.detach(), -(torch.exp(3.0 * adv).clamp(max=100) * log_prob).mean())
    torch.testing.assert_close(info["actor/adv"], adv.mean())


def test_ogbench_hyperparameters_follow_the_published_table():
    assert ogbench_hyperparameters("gciql", "pointmaze-medium-navigate-v0") == {"alpha": 0.003}
    assert ogbench_hyperparameters("GCIQL", "pointmaze-giant-stitch-v0") == {
        "alpha": 0.003,
        "discount": 0.995,
        "actor_p_trajgoal": 0.5,
        "actor_p_randomgoal": 0.5,
    }
    assert ogbench_hyperparameters("gcivl", "antmaze-large-navigate-v0") == {"alpha": 10.0}
    assert ogbench_hyperparameters("gciql", "humanoidmaze-medium-navigate-v0") == {"alpha": 0.1, "discount": 0.995}
    assert ogbench_hyperparameters("gciql", "cube-single-play-v0") == {"alpha": 1.0}
    assert ogbench_hyperparameters("gcbc", "pointmaze-medium-stitch-v0") == {}
    with pytest.raises(ValueError, match="gcbc"):
        ogbench_hyperparameters("hiql", "pointmaze-medium-navigate-v0")


def _tensors(batch: GoalBatch) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in batch.as_dict().items()}


def test_gcivl_losses_match_ogbench_formulas(goal_spaces):
    agent = GCIVL(goal_spaces, alpha=2.0, expectile=0.8, discount=0.9, **TINY)
    with torch.no_grad():  # make the target differ from the online value network
        for p in agent.critics["target_value"].parameters():
            p.add_(0.1)
    batch = _batch()
    b = _tensors(batch)
    value, target = agent.critics["value"], agent.critics["target_value"]
    with torch.no_grad():
        next_t1, next_t2 = target(b["next_observations"], b["value_goals"])
        t1, t2 = target(b["observations"], b["value_goals"])
        adv = b["rewards"] + 0.9 * b["masks"] * torch.minimum(next_t1, next_t2) - (t1 + t2) / 2
        v1, v2 = value(b["observations"], b["value_goals"])
        q1 = b["rewards"] + 0.9 * b["masks"] * next_t1
        q2 = b["rewards"] + 0.9 * b["masks"] * next_t2
        weight = torch.where(adv >= 0, 0.8, 0.2)
        expected = (weight * (q1 - v1) ** 2).mean() + (weight * (q2 - v2) ** 2).mean()
    loss, _ = agent.value_loss(agent._to_tensors(batch))
    torch.testing.assert_close(loss.detach(), expected)

    actor_loss, _ = agent.actor_loss(batch)
    with torch.no_grad():
        v = value(b["observations"], b["actor_goals"]).mean(0)
        next_v = value(b["next_observations"], b["actor_goals"]).mean(0)
        mean, _ = agent.actor(b["observations"], b["actor_goals"])
        log_prob = torch.distributions.Normal(mean, 1.0).log_prob(b["actions"]).sum(-1)
        expected_actor = -(torch.exp(2.0 * (next_v - v)).clamp(max=100) * log_prob).mean()
    torch.testing.assert_close(actor_loss.detach(), expected_actor)


def test_gciql_value_and_critic_losses_match_ogbench_formulas(goal_spaces):
    agent = GCIQL(goal_spaces, expectile=0.7, discount=0.95, **TINY)
    batch = _batch()
    b = _tensors(batch)
    with torch.no_grad():
        q = agent.critics["target_critic"](b["observations"], b["value_goals"], b["actions"]).min(0).values
        v = agent.critics["value"](b["observations"], b["value_goals"])
        expected_value = (torch.where(q - v >= 0, 0.7, 0.3) * (q - v) ** 2).mean()
        target = b["rewards"] + 0.95 * b["masks"] * agent.critics["value"](b["next_observations"], b["value_goals"])
        q1, q2 = agent.critics["critic"](b["observations"], b["value_goals"], b["actions"])
        expected_critic = ((q1 - target) ** 2 + (q2 - target) ** 2).mean()
    tensors = agent._to_tensors(batch)
    torch.testing.assert_close(agent.value_loss(tensors)[0].detach(), expected_value)
    torch.testing.assert_close(agent.critic_loss(tensors)[0].detach(), expected_critic)


def test_target_network_follows_by_polyak_averaging(goal_spaces, line_dataset):
    agent = GCIQL(goal_spaces, line_dataset, tau=0.25, **TINY)
    target_before = [p.clone() for p in agent.critics["target_critic"].parameters()]
    agent.learn(1, progress_bar=False, log_interval=0)
    for old, new, online in zip(
        target_before, agent.critics["target_critic"].parameters(), agent.critics["critic"].parameters(), strict=True
    ):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * online)
