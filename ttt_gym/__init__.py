"""ttt_gym: test-time training of reinforcement-learning policies for Gymnasium and Stable-Baselines3.

``import ttt_gym`` registers the memory environments under the ``ttt_gym/`` namespace
(``gym.make("ttt_gym/MysteryPath-v0")``).
"""

from __future__ import annotations

from ttt_envs import ENV_IDS, register_envs

register_envs()

from ttt_gym import experts, wrappers  # noqa: E402
from ttt_gym.evaluation import EvaluationResult, evaluate_success  # noqa: E402

__version__ = "0.1.0"

__all__ = ["ENV_IDS", "EvaluationResult", "__version__", "evaluate_success", "experts", "wrappers"]
