"""Test-time policy improvement against a fixed critic (Park, Frans, Levine, Kumar, "Is value learning really the
main bottleneck in offline RL?", Sections 4-5 and Appendix D.5), beside GC-TTT.

* :class:`OPEX`: act with ``clip(a + beta * grad_a Q(s, g, a))``, one gradient step on the action at every step.
* :class:`SfBC`: sample N actions from the policy and act with the one the critic values most.
* :class:`OnTheFlyTraining`: train a copy of the policy on the states visited during evaluation, maximising
  ``Q(s, mu(s)) - beta ||mu(s) - mu_off(s)||^2`` with the critic and the offline policy frozen (the paper's eq. 12).
* :mod:`~ttt_gym.improve.accuracy`: the paper's policy-accuracy diagnostic, the error against an optimal policy on
  training, validation and evaluation states (:class:`MazeOracle` for OGBench's point mass).

Each keeps SB3's ``predict`` and takes the model's own Q when it has one (GCIQL, SAC, TD3, DDPG, TQC), or
``critic=``. OPEX also wraps a :class:`~ttt_gym.TestTimeTraining`: GC-TTT adapts, OPEX then improves its action.
"""

from __future__ import annotations

from ttt_gym.improve.accuracy import MazeOracle, RecordingPolicy, action_mse
from ttt_gym.improve.critics import ActionValue, action_value
from ttt_gym.improve.methods import OPEX, OnTheFlyTraining, SfBC

__all__ = [
    "OPEX",
    "ActionValue",
    "MazeOracle",
    "OnTheFlyTraining",
    "RecordingPolicy",
    "SfBC",
    "action_mse",
    "action_value",
]
