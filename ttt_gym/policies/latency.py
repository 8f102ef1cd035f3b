"""Moved: the actors' cost benchmark is repository tooling, ``benchmarks/policy_latency.py``."""

raise ImportError(
    "ttt_gym.policies.latency moved out of the library: from a checkout of the repository run "
    "`python -m benchmarks.policy_latency` (module benchmarks.policy_latency)."
)
