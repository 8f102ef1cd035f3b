"""Test-time-training losses: behaviour cloning for any SB3 policy family, and our agents' own actor losses.

A loss is any callable ``loss(policy, batch) -> scalar tensor`` that is differentiable in the parameters of
``policy``, the adapted copy of the pretrained policy; ``batch`` is a :class:`TTTBatch` drawn uniformly from the
selected data D(s, g*) with the goal fixed to g* (GC-TTT, eq. 1). :func:`default_loss` picks one per family:

=================================================  ===============================================================
policy                                             loss
=================================================  ===============================================================
GCBC / GCIVL / GCIQL agent                         the agent's ``actor_loss`` (BC; AWR or DDPG+BC, critics frozen)
``ActorCriticPolicy`` (PPO, A2C), ``MultiInput``    :func:`log_likelihood_loss` of the action distribution
SAC / TQC policy or ``Actor``                      :func:`log_likelihood_loss` of the tanh-squashed Gaussian
TD3 / DDPG policy or ``Actor``                     :func:`mse_loss` of the deterministic action
our ``GoalConditionedPolicy`` without its agent    :func:`log_likelihood_loss` of the Gaussian actor (GCBC's loss)
=================================================  ===============================================================

A loss may also have ``prepare(batch) -> batch``, which the wrapper calls once per adaptation on the whole selected
data before the first step. :class:`AgentActorLoss` uses it to compute the AWR weights of GCIVL and GCIQL (AWR) from
the frozen critics once (:attr:`TTTBatch.weights`), rather than evaluating the critics on every minibatch: they and
the selected data do not change during an adaptation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.sac.policies import Actor as SACActor
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import Actor as TD3Actor
from stable_baselines3.td3.policies import TD3Policy

from ttt_gym.agents.base import GoalConditionedAgent, GoalConditionedPolicy, TensorBatch
from ttt_gym.agents.networks import gaussian_log_prob
from ttt_gym.ttt.batch import TTTBatch

__all__ = [
    "AgentActorLoss",
    "TTTBatch",
    "TTTLoss",
    "default_loss",
    "log_likelihood_loss",
    "mse_loss",
]

PREPARE_CHUNK_SIZE = 8192
"""Rows per critic evaluation in :meth:`AgentActorLoss.prepare`."""

SQUASHED_ACTION_LIMIT = 1.0 - 1e-3
"""Dataset actions are clipped to ``+-`` this before a tanh-squashed log-likelihood: OGBench's data often sits exactly
at the bounds (clipped noise), where ``atanh`` is infinite."""


TTTLoss = Callable[[BasePolicy, TTTBatch], torch.Tensor]
"""``loss(policy, batch) -> scalar tensor`` minimised by the test-time optimizer."""


def log_likelihood_loss(policy: BasePolicy, batch: TTTBatch) -> torch.Tensor:
    """Behaviour cloning by maximum likelihood: ``-mean log pi(a | s, g*)``.

    Works for policies with an action distribution: SB3's ``ActorCriticPolicy`` (PPO, A2C, any features extractor),
    SAC and sb3-contrib's TQC (policy or ``Actor``: tanh-squashed Gaussian, actions clipped to
    :data:`SQUASHED_ACTION_LIMIT`) and our ``GoalConditionedPolicy`` (constant-std Gaussian: GCBC's loss).
    """
    actor = _squashed_gaussian_actor(policy)
    if actor is not None:
        mean, log_std, kwargs = actor.get_action_dist_params(batch.observations)
        distribution = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        actions = batch.actions.clamp(-SQUASHED_ACTION_LIMIT, SQUASHED_ACTION_LIMIT)
        return -distribution.log_prob(actions).mean()
    if isinstance(policy, GoalConditionedPolicy):
        assert isinstance(batch.observations, dict)
        mean, log_std = policy.actor(
            batch.observations["observation"].flatten(1), batch.observations["desired_goal"].flatten(1)
        )
        return -gaussian_log_prob(mean, log_std, batch.actions).mean()
    get_distribution = getattr(policy, "get_distribution", None)
    if get_distribution is None:
        raise TypeError(
            f"log_likelihood_loss: {type(policy).__name__} has no action distribution (no get_distribution); use "
            "mse_loss for deterministic actors, or pass loss=your_loss(policy, batch) to TestTimeTraining"
        )
    return -get_distribution(batch.observations).log_prob(batch.actions).mean()


def _squashed_gaussian_actor(policy: Any) -> Any:
    """The SAC-style actor of ``policy`` (SAC's, TQC's: ``get_action_dist_params`` + ``action_dist``), or None."""
    if isinstance(policy, SACPolicy | SACActor):
        return policy.actor if isinstance(policy, SACPolicy) else policy
    actor = getattr(policy, "actor", policy)  # sb3-contrib's TQC shares SAC's actor design, not its classes
    if callable(getattr(actor, "get_action_dist_params", None)) and hasattr(actor, "action_dist"):
        return actor
    return None


def mse_loss(policy: BasePolicy, batch: TTTBatch) -> torch.Tensor:
    """Behaviour cloning by regression: ``mean ||mu(s, g*) - a||^2`` of the deterministic action (TD3, DDPG).

    For other policies the deterministic action of ``policy._predict`` is used (the distribution's mode).
    """
    if isinstance(policy, TD3Policy | TD3Actor):
        actor = policy.actor if isinstance(policy, TD3Policy) else policy
        predicted = actor(batch.observations)
    else:
        predicted = policy._predict(batch.observations, deterministic=True)
    return (predicted - batch.actions).square().sum(-1).mean()


class AgentActorLoss:
    """The agent's own actor loss on the adapted copy of its policy (critics frozen): BC for GCBC, AWR for GCIVL,
    DDPG+BC or AWR for GCIQL, as in pre-training (the paper fine-tunes with the pre-training loss).

    The agent's logging diagnostics are skipped (``actor_loss(..., with_info=False)``); they are never read at test
    time.

    AWR's weights depend only on the frozen critics and the selected data, neither of which changes during an
    adaptation. :meth:`prepare` therefore computes them once for the whole selection (``agent.actor_weights``), and
    each step passes its minibatch's rows as ``actor_loss(..., weights=...)``: the same loss without evaluating the
    critics at every step, which were most of a GCIVL / GCIQL-AWR step's FLOPs. Without :meth:`prepare` (or for
    GCBC and DDPG+BC, which have no such weights) every call evaluates what the loss needs.
    """

    def __init__(self, agent: GoalConditionedAgent) -> None:
        self.agent = agent

    def prepare(self, batch: TTTBatch, *, chunk_size: int = PREPARE_CHUNK_SIZE) -> TTTBatch:
        """``batch`` with :attr:`TTTBatch.weights` from the frozen critics, or as it is if the loss has none.

        Called once per adaptation on the whole selected data. The critics run on ``chunk_size`` rows at a time, so
        that a selection of tens of thousands of rows does not allocate activations for all of them at once.
        """
        transitions = batch.transitions
        chunks: list[torch.Tensor] = []
        for begin in range(0, len(batch), chunk_size):
            rows = TensorBatch(
                **{
                    f.name: getattr(transitions, f.name)[begin : begin + chunk_size]
                    for f in dataclasses.fields(TensorBatch)
                }
            )
            weights = self.agent.actor_weights(rows)
            if weights is None:
                return batch
            chunks.append(weights.detach())
        if not chunks:
            return batch
        return dataclasses.replace(batch, weights=torch.cat(chunks))

    def __call__(self, policy: BasePolicy, batch: TTTBatch) -> torch.Tensor:
        loss, _ = self.agent.actor_loss(batch.transitions, actor=policy, with_info=False, weights=batch.weights)
        return loss

    def __repr__(self) -> str:
        return f"AgentActorLoss({type(self.agent).__name__})"


def default_loss(model_or_policy: Any) -> TTTLoss:
    """The loss that fits a model's family (see the module docstring).

    Raises:
        TypeError: The policy family is unknown: pass ``loss=`` to the wrapper.
    """
    if isinstance(model_or_policy, GoalConditionedAgent):
        return AgentActorLoss(model_or_policy)
    policy = getattr(model_or_policy, "policy", model_or_policy)
    if isinstance(policy, TD3Policy | TD3Actor):
        return mse_loss
    if isinstance(policy, ActorCriticPolicy | GoalConditionedPolicy) or _squashed_gaussian_actor(policy) is not None:
        return log_likelihood_loss
    if isinstance(policy, BasePolicy) and hasattr(policy, "get_distribution"):
        return log_likelihood_loss
    raise TypeError(
        f"No default test-time loss for {type(policy).__name__}: pass loss=fn with fn(policy, batch) -> scalar "
        "tensor (ttt_gym.ttt.losses.mse_loss fits deterministic actors, log_likelihood_loss stochastic ones)"
    )
