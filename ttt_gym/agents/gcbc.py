"""Goal-conditioned behavioural cloning (GCBC): maximise the likelihood of dataset actions given state and goal."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
from torch import nn

from ttt_gym.agents.base import GoalConditionedAgent
from ttt_gym.agents.config import AgentConfig
from ttt_gym.agents.networks import gaussian_log_prob
from ttt_gym.agents.objectives import TensorBatch, actor_diagnostics
from ttt_gym.data import GoalBatch


@dataclasses.dataclass(frozen=True)
class GCBCConfig(AgentConfig):
    """GCBC hyperparameters (OGBench's ``agents/gcbc.py`` defaults); see :class:`AgentConfig` for the shared ones.

    The value-goal fields are unused by GCBC; their defaults (all goals from the trajectory) only keep the dataset
    from relabelling value goals it does not need.
    """

    value_p_curgoal: float = 0.0
    value_p_trajgoal: float = 1.0
    value_p_randomgoal: float = 0.0
    value_geom_sample: bool = False


class GCBC(GoalConditionedAgent):
    """Goal-conditioned behavioural cloning with a constant-std Gaussian actor (OGBench's GCBC).

    Example:
        >>> agent = GCBC(env, dataset, seed=0).learn(100_000)  # doctest: +SKIP
        >>> action, _ = agent.predict(obs, goal=info["goal"])  # doctest: +SKIP
    """

    config_class = GCBCConfig
    config: GCBCConfig

    def actor_loss(
        self,
        batch: GoalBatch | TensorBatch,
        actor: nn.Module | None = None,
        params: Mapping[str, torch.Tensor] | None = None,
        *,
        with_info: bool = True,
        weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Negative log-likelihood of ``batch.actions`` given ``(observations, actor_goals)``.

        ``with_info=False`` skips the diagnostics (an empty dict; the loss is the same), e.g. for test-time training.
        ``weights`` must be None: GC-BC's loss has none (:meth:`actor_weights` returns None).
        """
        if weights is not None:
            raise ValueError("GCBC's actor loss takes no weights (its actor_weights are None)")
        batch = self._to_tensors(batch)
        mean, log_std = self._actor_outputs(actor, params, batch.observations, batch.actor_goals)
        log_prob = gaussian_log_prob(mean, log_std, batch.actions)
        loss = -log_prob.mean()
        if not with_info:
            return loss, {}
        return loss, actor_diagnostics(loss, mean, log_std, log_prob, batch.actions)

    def _train_step(self, batch: TensorBatch) -> dict[str, torch.Tensor]:
        loss, info = self.actor_loss(batch)
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optimizer.step()
        return info
