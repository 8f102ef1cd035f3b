"""Goal-conditioned implicit V-learning (GCIVL): an expectile-regressed value ensemble and an AWR actor.

The value loss follows OGBench: the target is ``r + gamma * m * V_target_k(s')`` per head, and the expectile weight
comes from the advantage of the target ensemble (min over heads for ``s'``, mean for ``s``), like double DQN.
The actor's advantage is ``V(s', g) - V(s, g)`` with the online ensemble's mean.
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
from ttt_gym.agents.objectives import TensorBatch, actor_diagnostics, awr_weights, expectile_loss, polyak_update
from ttt_gym.data import GoalBatch


@dataclasses.dataclass(frozen=True)
class GCIVLConfig(AgentConfig):
    """GCIVL hyperparameters (OGBench's ``agents/gcivl.py`` defaults); see :class:`AgentConfig` for the shared ones.

    Attributes:
        value_hidden_dims: widths of the value heads' hidden layers.
        layer_norm: layer norm in the value heads.
        tau: rate of the Polyak update of the target value network.
        expectile: expectile of the value regression (0.5 = mean, towards 1 = max).
        alpha: AWR temperature (weights ``min(exp(alpha * adv), 100)``).
    """

    value_hidden_dims: tuple[int, ...] = (512, 512, 512)
    layer_norm: bool = True
    tau: float = 0.005
    expectile: float = 0.9
    alpha: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.expectile < 1.0:
            raise ValueError(f"expectile must lie in (0, 1), got {self.expectile}.")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must lie in (0, 1], got {self.tau}.")


class GCIVL(GoalConditionedAgent):
    """Goal-conditioned implicit V-learning with an AWR actor (OGBench's GCIVL): no Q function at all.

    Example:
        >>> agent = GCIVL(env, dataset, alpha=10.0).learn(100_000)  # doctest: +SKIP
        >>> agent.value(observations, goals)  # V(s, g), mean of the two heads  # doctest: +SKIP
    """

    config_class = GCIVLConfig
    config: GCIVLConfig
    trained_critics = ("value",)

    def _build_critics(self) -> dict[str, nn.Module]:
        value = GoalValue(
            self.observation_dim,
            self.observation_dim,
            self.config.value_hidden_dims,
            ensemble_size=2,
            layer_norm=self.config.layer_norm,
        )
        target = copy.deepcopy(value).requires_grad_(False)
        return {"value": value, "target_value": target}

    def value(self, observations: np.ndarray | torch.Tensor, goals: np.ndarray | torch.Tensor) -> np.ndarray:
        """``V(s, g)``: the mean of the two value heads, for one ``(obs_dim,)`` or a batch ``(B, obs_dim)`` of inputs.

        Large inputs are evaluated in chunks. Returns a numpy array of shape ``()`` or ``(B,)``.
        """
        return self._evaluate_in_chunks(lambda s, g: self.critics["value"](s, g).mean(0), observations, goals)

    def value_loss(self, batch: TensorBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """OGBench's IVL loss: per-head expectile regression with the target ensemble's advantage as the weight."""
        cfg = self.config
        n = batch.observations.shape[0]
        with torch.no_grad():
            both = self.critics["target_value"](
                torch.cat([batch.next_observations, batch.observations]), batch.value_goals.repeat(2, 1)
            )
            next_v_t, v_t = both[:, :n], both[:, n:]
            not_done = cfg.discount * batch.masks
            q_heads = batch.rewards + not_done * next_v_t  # (2, B)
            advantage = batch.rewards + not_done * next_v_t.min(0).values - v_t.mean(0)
        v = self.critics["value"](batch.observations, batch.value_goals)  # (2, B)
        loss = expectile_loss(advantage, q_heads - v, cfg.expectile).mean(1).sum()
        with torch.no_grad():
            v_mean = v.mean(0)
            info = {
                "value/value_loss": loss.detach(),
                "value/v_mean": v_mean.mean(),
                "value/v_max": v_mean.max(),
                "value/v_min": v_mean.min(),
            }
        return loss, info

    def actor_weights(self, batch: GoalBatch | TensorBatch) -> torch.Tensor:
        """AWR weights ``min(exp(alpha * (V(s', g) - V(s, g))), 100)`` with ``g = actor_goals``, without gradients.

        They depend only on the frozen value ensemble, so test-time training computes them once per adaptation
        (:meth:`GoalConditionedAgent.actor_weights`).
        """
        return awr_weights(self._actor_advantages(self._to_tensors(batch)), self.config.alpha)

    def _actor_advantages(self, batch: TensorBatch) -> torch.Tensor:
        """``V(s', g) - V(s, g)`` with the online ensemble's mean and ``g = actor_goals``, without gradients."""
        n = batch.observations.shape[0]
        with torch.no_grad():
            v = self.critics["value"](
                torch.cat([batch.observations, batch.next_observations]), batch.actor_goals.repeat(2, 1)
            ).mean(0)
            return v[n:] - v[:n]

    def actor_loss(
        self,
        batch: GoalBatch | TensorBatch,
        actor: nn.Module | None = None,
        params: Mapping[str, torch.Tensor] | None = None,
        *,
        with_info: bool = True,
        weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """AWR: ``-mean(min(exp(alpha * (V(s', g) - V(s, g))), 100) * log pi(a | s, g))`` with ``g = actor_goals``.

        ``with_info=False`` skips the diagnostics (an empty dict; the loss is the same), e.g. for test-time training.
        ``weights``: this batch's rows of :meth:`actor_weights`, computed beforehand; the value ensemble is then not
        evaluated (and the diagnostics lack ``actor/adv``). The loss is the same as without them.
        """
        batch = self._to_tensors(batch)
        advantage: torch.Tensor | None = None
        if weights is None:
            advantage = self._actor_advantages(batch)
            weights = awr_weights(advantage, self.config.alpha)
        else:
            weights = self._check_weights(weights, batch)
        mean, log_std = self._actor_outputs(actor, params, batch.observations, batch.actor_goals)
        log_prob = gaussian_log_prob(mean, log_std, batch.actions)
        loss = -(weights * log_prob).mean()
        if not with_info:
            return loss, {}
        extra = {} if advantage is None else {"actor/adv": advantage.mean()}
        return loss, actor_diagnostics(loss, mean, log_std, log_prob, batch.actions, extra)

    def _train_step(self, batch: TensorBatch) -> dict[str, torch.Tensor]:
        assert self.critic_optimizer is not None
        value_loss, info = self.value_loss(batch)
        actor_loss, actor_info = self.actor_loss(batch)
        self.critic_optimizer.zero_grad(set_to_none=True)
        self.actor_optimizer.zero_grad(set_to_none=True)
        (value_loss + actor_loss).backward()
        self.critic_optimizer.step()
        self.actor_optimizer.step()
        polyak_update(self.critics["target_value"], self.critics["value"], self.config.tau)
        info.update(actor_info)
        return info
