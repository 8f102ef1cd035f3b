"""Moved: the agents' update-speed benchmark is repository tooling, ``benchmarks/agent_speed.py``."""

raise ImportError(
    "ttt_gym.agents.speed moved out of the library: from a checkout of the repository run "
    "`python -m benchmarks.agent_speed` (module benchmarks.agent_speed)."
)
