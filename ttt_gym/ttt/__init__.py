"""GC-TTT: goal-conditioned test-time training around any SB3 policy or offline agent.

One-way flow, one module per step of ``TestTimeTraining.predict``:

* :mod:`~ttt_gym.ttt.adapter`: the policy's observation <-> ``(state, goal)``, and where the goal space comes from;
* :mod:`~ttt_gym.ttt.selection`: ``select(state, goal) -> Selection``, the goal-related data D(s, g*);
* :mod:`~ttt_gym.ttt.batch`: the selected rows as tensors, the goal fixed to g*;
* :mod:`~ttt_gym.ttt.losses`: the test-time losses per policy family;
* :mod:`~ttt_gym.ttt.critics`: ``V(s, g)`` of an SB3 off-policy model for the selection;
* :mod:`~ttt_gym.ttt.wrapper`: :class:`TestTimeTraining`, which restores, selects, fine-tunes and acts;
  :mod:`~ttt_gym.ttt.scheduling` runs the adaptations in line or in a background thread.
"""

from __future__ import annotations

from ttt_gym.ttt.adapter import GoalObservationAdapter
from ttt_gym.ttt.batch import TTTBatch
from ttt_gym.ttt.critics import ModelCritic
from ttt_gym.ttt.losses import AgentActorLoss, default_loss, log_likelihood_loss, mse_loss
from ttt_gym.ttt.selection import (
    SELECTOR_KINDS,
    GoalRelatedSelector,
    RandomSelector,
    Selection,
    SelectionStats,
    Selector,
    make_selector,
)
from ttt_gym.ttt.wrapper import TestTimeTraining, TTTStats

__all__ = [
    "SELECTOR_KINDS",
    "AgentActorLoss",
    "GoalObservationAdapter",
    "GoalRelatedSelector",
    "ModelCritic",
    "RandomSelector",
    "Selection",
    "SelectionStats",
    "Selector",
    "TTTBatch",
    "TTTStats",
    "TestTimeTraining",
    "default_loss",
    "log_likelihood_loss",
    "make_selector",
    "mse_loss",
]
