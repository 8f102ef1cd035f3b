"""ttt_gym: test-time training of reinforcement-learning policies for Gymnasium and Stable-Baselines3.

``import ttt_gym`` registers the memory environments under the ``ttt_gym/`` namespace
(``gym.make("ttt_gym/MysteryPath-v0")``). The main entry points: :class:`TestTimeTraining` (GC-TTT around any SB3
policy or offline agent), the offline goal-conditioned agents :class:`GCBC` / :class:`GCIVL` / :class:`GCIQL`,
:class:`GoalDataset` and :func:`generate_dataset` (OGBench-format data made locally), and the evaluation helpers.
"""

from __future__ import annotations

from ttt_envs import ENV_IDS, register_envs

register_envs()

from ttt_gym import experts, wrappers  # noqa: E402
from ttt_gym.agents import GCBC, GCIQL, GCIVL  # noqa: E402
from ttt_gym.data import GoalDataset, generate_dataset  # noqa: E402
from ttt_gym.evaluation import evaluate_success  # noqa: E402
from ttt_gym.goal_evaluation import evaluate_goal_policy  # noqa: E402
from ttt_gym.improve import OPEX, OnTheFlyTraining, SfBC  # noqa: E402
from ttt_gym.ttt.selection import make_selector  # noqa: E402
from ttt_gym.ttt.wrapper import TestTimeTraining  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ENV_IDS",
    "GCBC",
    "GCIQL",
    "GCIVL",
    "OPEX",
    "GoalDataset",
    "OnTheFlyTraining",
    "SfBC",
    "TestTimeTraining",
    "__version__",
    "evaluate_goal_policy",
    "evaluate_success",
    "experts",
    "generate_dataset",
    "make_selector",
    "wrappers",
]
