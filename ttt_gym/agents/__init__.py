"""Offline goal-conditioned agents (OGBench's GCBC, GCIVL, GCIQL) with a Stable-Baselines-style API.

>>> from ttt_gym.agents import GCIQL, ogbench_hyperparameters  # doctest: +SKIP
>>> agent = GCIQL(env, dataset, **ogbench_hyperparameters("gciql", "pointmaze-medium-navigate-v0"))  # doctest: +SKIP
>>> agent.learn(1_000_000).save("gciql.pt")  # doctest: +SKIP
"""

from __future__ import annotations

from ttt_gym.agents.base import (
    AgentConfig,
    GoalConditionedAgent,
    GoalConditionedPolicy,
    TensorBatch,
    awr_weights,
    expectile_loss,
    ogbench_hyperparameters,
)
from ttt_gym.agents.gcbc import GCBC, GCBCConfig
from ttt_gym.agents.gciql import GCIQL, GCIQLConfig
from ttt_gym.agents.gcivl import GCIVL, GCIVLConfig

AGENTS: dict[str, type[GoalConditionedAgent]] = {"gcbc": GCBC, "gcivl": GCIVL, "gciql": GCIQL}
"""Short names of the agents, for configs and the command line."""

__all__ = [
    "AGENTS",
    "GCBC",
    "GCIQL",
    "GCIVL",
    "AgentConfig",
    "GCBCConfig",
    "GCIQLConfig",
    "GCIVLConfig",
    "GoalConditionedAgent",
    "GoalConditionedPolicy",
    "TensorBatch",
    "awr_weights",
    "expectile_loss",
    "ogbench_hyperparameters",
]
