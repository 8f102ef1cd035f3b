"""Measurement tooling of the repository (not installed with ``ttt_gym``): runners, sweeps, cost tools, summaries.

Every script runs as a module from the repository root, e.g. ``python -m benchmarks.run_memory --help``;
``benchmarks._common`` holds what the runners share. See ``docs/BENCHMARKS.md``.
"""
