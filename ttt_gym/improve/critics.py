"""``Q(s, g, a)`` as a differentiable function of the policy's observation and action, from the model itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from stable_baselines3.common.policies import BasePolicy

from ttt_gym.agents.base import GoalConditionedAgent
from ttt_gym.ttt.critics import q_estimate

__all__ = ["ActionValue", "action_value", "base_model", "policy_of"]

ActionValue = Callable[[Any, torch.Tensor], torch.Tensor]
"""``q(observation, actions) -> (B,)``: the policy's observation as tensors (a dict or a flat tensor, as
``policy.obs_to_tensor`` makes it) and actions in the policy's own space (``[-1, 1]`` for squashing SB3 policies),
differentiable in the actions."""


def base_model(model: Any) -> Any:
    """The model under a wrapper: a ``TestTimeTraining``'s wrapped model (its critic is the one to use)."""
    inner = getattr(model, "model", None)
    return inner if inner is not None and hasattr(model, "adapted_policy") else model


def policy_of(model: Any) -> BasePolicy:
    """The SB3 policy of a model, an agent or a policy.

    Raises:
        TypeError: it has none.
    """
    policy = getattr(base_model(model), "policy", base_model(model))
    if not isinstance(policy, BasePolicy):
        raise TypeError(
            f"Expected an SB3 model (SAC, TD3, DDPG, TQC...), an SB3 policy or a ttt_gym agent, got "
            f"{type(model).__name__}"
        )
    return policy


def action_value(model: Any, critic: ActionValue | None = None) -> ActionValue:
    """``critic`` if given, else the model's own ``Q``: GCIQL's two heads (their minimum), or an SB3 off-policy
    model's critic (the minimum over its heads; TQC: the mean quantile).

    Raises:
        TypeError: no critic given and the model has no Q; the message names the fix.
    """
    if critic is not None:
        if not callable(critic):
            raise TypeError(f"critic must be q(observation, actions) -> (B,) tensor, got {type(critic).__name__}")
        return critic
    inner = base_model(model)
    if isinstance(inner, GoalConditionedAgent) and "critic" in inner.critics:
        heads = inner.critics["critic"]

        def agent_q(observation: Any, actions: torch.Tensor) -> torch.Tensor:
            return heads(observation["observation"], observation["desired_goal"], actions).min(0).values  # type: ignore[no-any-return]

        return agent_q
    policy = policy_of(model)
    q_module = getattr(policy, "critic", None)
    if isinstance(q_module, torch.nn.Module) and isinstance(getattr(policy, "actor", None), torch.nn.Module):

        def sb3_q(observation: Any, actions: torch.Tensor) -> torch.Tensor:
            return q_estimate(q_module(observation, actions))

        return sb3_q
    raise TypeError(
        f"{type(inner).__name__} has no Q(s, g, a) (GCIQL, SAC, TD3, DDPG and TQC have one): pass critic=q, a "
        "function q(observation, actions) -> values, e.g. from a GCIQL agent trained on the same data"
    )
