"""Goal-conditioned implicit Q-learning (GCIQL): expectile V, two Q heads, and an AWR or DDPG+BC actor.

``V(s, g)`` regresses the expectile of ``min(Q_target_1, Q_target_2)(s, g, a)``; each Q head regresses
``r + gamma * m * V(s', g)``; the target Q ensemble follows the online one by Polyak averaging (OGBench's GCIQL).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ttt_gym.agents.base import GoalConditionedAgent
from ttt_gym.agents.config import AgentConfig
from ttt_gym.agents.networks import GoalValue, gaussian_log_prob
from ttt_gym.agents.objectives import (
    TensorBatch,
    actor_diagnostics,
    awr_weights,
    expectile_loss,
    frozen_parameters,
    polyak_update,
)
from ttt_gym.data import GoalBatch

ACTOR_LOSSES = ("ddpgbc", "awr")


@dataclasses.dataclass(frozen=True)
class GCIQLConfig(AgentConfig):
    """GCIQL hyperparameters (OGBench's ``agents/gciql.py`` defaults); see :class:`AgentConfig` for the shared ones.

    OGBench tunes ``alpha`` per environment (0.003 pointmaze, 0.3 antmaze, 0.1 humanoidmaze, 1.0 cube):
    :func:`ttt_gym.agents.ogbench_hyperparameters` returns those overrides.

    Attributes:
        value_hidden_dims: widths of the V network and of each Q head.
        layer_norm: layer norm in V and Q.
        tau: rate of the Polyak update of the target Q ensemble.
        expectile: expectile of the V regression.
        actor_loss: ``"ddpgbc"`` (maximise normalised Q plus ``alpha`` x BC log-likelihood) or ``"awr"``.
        alpha: BC coefficient in DDPG+BC, or the AWR temperature.
    """

    value_hidden_dims: tuple[int, ...] = (512, 512, 512)
    layer_norm: bool = True
    tau: float = 0.005
    expectile: float = 0.9
    actor_loss: str = "ddpgbc"
    alpha: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.actor_loss not in ACTOR_LOSSES:
            raise ValueError(f"actor_loss must be one of {ACTOR_LOSSES}, got {self.actor_loss!r}.")
        if not 0.0 < self.expectile < 1.0:
            raise ValueError(f"expectile must lie in (0, 1), got {self.expectile}.")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must lie in (0, 1], got {self.tau}.")


class GCIQL(GoalConditionedAgent):
    """Goal-conditioned IQL (OGBench's GCIQL) with a DDPG+BC (default) or AWR actor.

    Example:
        >>> agent = GCIQL(env, dataset, **ogbench_hyperparameters("gciql", name)).learn(100_000)  # doctest: +SKIP
        >>> agent.value(observations, goals), agent.q_value(observations, goals, actions)  # doctest: +SKIP
    """

    config_class = GCIQLConfig
    config: GCIQLConfig
    trained_critics = ("value", "critic")

    def _build_critics(self) -> dict[str, nn.Module]:
        cfg = self.config
        dim = self.observation_dim
        value = GoalValue(dim, dim, cfg.value_hidden_dims, layer_norm=cfg.layer_norm)
        critic = GoalValue(
            dim, dim, cfg.value_hidden_dims, action_dim=self.action_dim, ensemble_size=2, layer_norm=cfg.layer_norm
        )
        target = copy.deepcopy(critic).requires_grad_(False)
        return {"value": value, "critic": critic, "target_critic": target}

    def value(self, observations: np.ndarray | torch.Tensor, goals: np.ndarray | torch.Tensor) -> np.ndarray:
        """``V(s, g)`` for one ``(obs_dim,)`` or a batch ``(B, obs_dim)`` of inputs; numpy, shape ``()`` or ``(B,)``."""
        return self._evaluate_in_chunks(self.critics["value"], observations, goals)

    def q_value(
        self,
        observations: np.ndarray | torch.Tensor,
        goals: np.ndarray | torch.Tensor,
        actions: np.ndarray | torch.Tensor,
    ) -> np.ndarray:
        """``min(Q_1, Q_2)(s, g, a)``, same shapes as :meth:`value`."""
        return self._evaluate_in_chunks(
            lambda s, g, a: self.critics["critic"](s, g, a).min(0).values, observations, goals, actions
        )

    def value_loss(self, batch: TensorBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Expectile regression of ``V(s, g)`` on ``min`` of the target Q heads at the dataset action."""
        with torch.no_grad():
            q = self.critics["target_critic"](batch.observations, batch.value_goals, batch.actions).min(0).values
        v = self.critics["value"](batch.observations, batch.value_goals)
        loss = expectile_loss(q - v, q - v, self.config.expectile).mean()
        with torch.no_grad():
            info = {
                "value/value_loss": loss.detach(),
                "value/v_mean": v.mean(),
                "value/v_max": v.max(),
                "value/v_min": v.min(),
            }
        return loss, info

    def critic_loss(self, batch: TensorBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Squared TD error of both Q heads against ``r + gamma * m * V(s', g)``."""
        with torch.no_grad():
            next_v = self.critics["value"](batch.next_observations, batch.value_goals)
            target = batch.rewards + self.config.discount * batch.masks * next_v
        q = self.critics["critic"](batch.observations, batch.value_goals, batch.actions)  # (2, B)
        loss = (q - target).square().mean(1).sum()
        with torch.no_grad():
            info = {
                "critic/critic_loss": loss.detach(),
                "critic/q_mean": target.mean(),
                "critic/q_max": target.max(),
                "critic/q_min": target.min(),
            }
        return loss, info

    def actor_weights(self, batch: GoalBatch | TensorBatch) -> torch.Tensor | None:
        """AWR: ``min(exp(alpha * (Q(s, g, a) - V(s, g))), 100)`` with ``g = actor_goals``, without gradients.

        They depend only on the frozen V and Q, so test-time training computes them once per adaptation
        (:meth:`GoalConditionedAgent.actor_weights`). ``None`` for DDPG+BC, whose Q term is evaluated at the actor's
        action and so at every step.
        """
        if self.config.actor_loss != "awr":
            return None
        return awr_weights(self._awr_advantages(self._to_tensors(batch)), self.config.alpha)

    def _awr_advantages(self, batch: TensorBatch) -> torch.Tensor:
        """``Q(s, g, a) - V(s, g)`` at the dataset action, ``Q = min`` of the online heads, ``g = actor_goals``."""
        with torch.no_grad():
            v = self.critics["value"](batch.observations, batch.actor_goals)
            q = self.critics["critic"](batch.observations, batch.actor_goals, batch.actions).min(0).values
            return q - v

    def actor_loss(
        self,
        batch: GoalBatch | TensorBatch,
        actor: nn.Module | None = None,
        params: Mapping[str, torch.Tensor] | None = None,
        *,
        with_info: bool = True,
        weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DDPG+BC or AWR on ``(observations, actor_goals)``; V and Q stay frozen.

        DDPG+BC: ``-mean(Q(s, g, clip(mu))) / mean|Q| - alpha * mean(log pi(a | s, g))``, with ``Q = min`` of the
        online heads. AWR: ``-mean(min(exp(alpha * (Q(s, g, a) - V(s, g))), 100) * log pi(a | s, g))``.
        ``with_info=False`` skips the diagnostics (an empty dict; the loss is the same), e.g. for test-time training.
        ``weights`` (AWR only): this batch's rows of :meth:`actor_weights`, computed beforehand; V and Q are then not
        evaluated (and the diagnostics lack ``actor/adv``). The loss is the same as without them.
        """
        batch = self._to_tensors(batch)
        cfg = self.config
        if weights is not None:
            if cfg.actor_loss != "awr":
                raise ValueError(
                    f"weights= applies to the AWR actor loss; this GCIQL uses actor_loss={cfg.actor_loss!r}, whose Q "
                    "term depends on the actor (actor_weights returns None for it)."
                )
            weights = self._check_weights(weights, batch)
        mean, log_std = self._actor_outputs(actor, params, batch.observations, batch.actor_goals)
        log_prob = gaussian_log_prob(mean, log_std, batch.actions)
        info: dict[str, torch.Tensor] = {}
        if cfg.actor_loss == "awr":
            if weights is None:
                advantage = self._awr_advantages(batch)
                weights = awr_weights(advantage, cfg.alpha)
                if with_info:
                    info["actor/adv"] = advantage.mean()
            loss = -(weights * log_prob).mean()
        else:
            # With a constant std the Q term uses the mean action, as OGBench does; otherwise a sample.
            if cfg.const_std:
                q_actions = mean.clamp(-1.0, 1.0)
            else:
                noise = torch.randn(mean.shape, generator=self.torch_rng, device=mean.device, dtype=mean.dtype)
                q_actions = (mean + noise * log_std.exp()).clamp(-1.0, 1.0)
            with frozen_parameters(self.critics["critic"]):
                q = self.critics["critic"](batch.observations, batch.actor_goals, q_actions).min(0).values
            q_abs_mean = q.abs().mean().detach()
            q_loss = -q.mean() / (q_abs_mean + 1e-6)
            bc_loss = -(cfg.alpha * log_prob).mean()
            loss = q_loss + bc_loss
            if with_info:
                info.update(
                    {
                        "actor/q_loss": q_loss.detach(),
                        "actor/bc_loss": bc_loss.detach(),
                        "actor/q_mean": q.mean().detach(),
                        "actor/q_abs_mean": q_abs_mean,
                    }
                )
        if not with_info:
            return loss, info
        return loss, actor_diagnostics(loss, mean, log_std, log_prob, batch.actions, info)

    def _train_step(self, batch: TensorBatch) -> dict[str, torch.Tensor]:
        assert self.critic_optimizer is not None
        value_loss, info = self.value_loss(batch)
        critic_loss, critic_info = self.critic_loss(batch)
        actor_loss, actor_info = self.actor_loss(batch)
        self.critic_optimizer.zero_grad(set_to_none=True)
        self.actor_optimizer.zero_grad(set_to_none=True)
        (value_loss + critic_loss + actor_loss).backward()
        self.critic_optimizer.step()
        self.actor_optimizer.step()
        polyak_update(self.critics["target_critic"], self.critics["critic"], self.config.tau)
        info.update(critic_info)
        info.update(actor_info)
        return info
