"""benchmarks.run_ttt's config checks, which run before any agent or dataset is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.run_ttt import _check_selector_kwargs

CONFIG = Path("probe.json")


def test_episode_selector_kwargs_are_its_own_and_goal_related_selectors():
    _check_selector_kwargs(CONFIG, "gc-ttt-episodes", {"n_episodes": 30, "min_steps": 5, "epsilon": 2.0})
    with pytest.raises(ValueError, match=r"\['n_episode'\] are not arguments of the 'gc-ttt-episodes' selector"):
        _check_selector_kwargs(CONFIG, "gc-ttt-episodes", {"n_episode": 30})


def test_other_kinds_reject_the_episode_selectors_arguments_and_preset_ones():
    with pytest.raises(ValueError, match="n_episodes"):
        _check_selector_kwargs(CONFIG, "gc-ttt", {"n_episodes": 30})
    with pytest.raises(ValueError, match="relevance"):
        _check_selector_kwargs(CONFIG, "critic-free", {"relevance": "distance"})
    with pytest.raises(ValueError, match="value_threshold"):
        _check_selector_kwargs(CONFIG, "value-relevance", {})
