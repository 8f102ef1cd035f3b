"""The privileged-env contract: a user's own env as an id or a factory, and clear errors for what it misses."""

from __future__ import annotations

import runpy
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from ttt_gym.evaluation import evaluate_success
from ttt_gym.privileged import PrivilegedEnv, check_privileged_env, make_env
from ttt_gym.trainers import collect_demonstrations, train_dagger

EXAMPLE = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "dagger_own_env.py"))
CueCorridor, CueExpert = EXAMPLE["CueCorridor"], EXAMPLE["CueExpert"]


class NoStateSpace(CueCorridor):
    def __init__(self) -> None:
        super().__init__()
        del self.state_space


class NoStateInfo(CueCorridor):
    def reset(self, *, seed=None, options=None):
        obs, _ = super().reset(seed=seed)
        return obs, {}


class NoSuccess(CueCorridor):
    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        info.pop("success")
        return obs, reward, terminated, truncated, info


def test_an_env_that_meets_the_contract_passes():
    assert isinstance(CueCorridor(), PrivilegedEnv)
    check_privileged_env(CueCorridor)
    check_privileged_env(lambda length: CueCorridor(length), {"length": 3})


@pytest.mark.parametrize(
    ("env_class", "error", "message"),
    [
        (NoStateSpace, TypeError, "state_space"),
        (NoStateInfo, KeyError, r"reset\(\) infos lack 'state'"),
        (NoSuccess, KeyError, "lack 'success'"),
    ],
)
def test_what_an_env_misses_is_named(env_class, error, message):
    with pytest.raises(error, match=message):
        check_privileged_env(env_class)
    with pytest.raises(error, match=message):  # the trainers check before they start
        collect_demonstrations(env_class, CueExpert(), min_episodes=1, n_envs=1)


def test_an_env_instance_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"factory, e\.g\. lambda: CueCorridor\(\)"):
        make_env(CueCorridor())
    with pytest.raises(TypeError, match="factory"):
        train_dagger(CueCorridor(), "mlp", 0, expert=CueExpert())


def test_a_users_env_needs_its_own_expert():
    with pytest.raises(ValueError, match="pass expert="):
        train_dagger(CueCorridor, "mlp", 0)


def test_registered_ids_of_users_envs_work_like_factories():
    gym.register(id="UserCueCorridor-v0", entry_point=CueCorridor)
    try:
        demos = collect_demonstrations("UserCueCorridor-v0", CueExpert(), min_episodes=3, n_envs=3, seed=0)
        assert len(demos) == 3 and all(len(d.acts) == 9 and d.infos[-1]["success"] for d in demos)
        result = evaluate_success(CueExpert(), "UserCueCorridor-v0", 4, privileged=True)
        assert result.success_rate == 1.0
        np.testing.assert_array_equal(result.lengths, [9, 9, 9, 9])
    finally:
        gym.registry.pop("UserCueCorridor-v0")
