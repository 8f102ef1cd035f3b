"""Demonstrators labelling states another policy visited (DAgger): ``record_actions`` tells them what was executed."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from ttt_envs import ENV_IDS, MINIGRID_MEMORY, NAMESPACE
from ttt_envs.confounded_controls import ConfoundedControlsEnv
from ttt_envs.experts.base import Demonstrator
from ttt_envs.experts.coin_search import CoinSearchDemonstrator
from ttt_envs.experts.confounded_controls import ConfoundedControlsDemonstrator
from ttt_envs.experts.mystery_path import make_demonstrator as make_mystery_path_demonstrator
from ttt_envs.mystery_path import MOVES, MysteryPathEnv
from ttt_gym.experts import make_demonstrator

MYSTERY_PATH = "ttt_gym/MysteryPath-v0"
COIN_SEARCH = "ttt_gym/CoinSearch-v0"
CONFOUNDED_CONTROLS = "ttt_gym/ConfoundedControls-v0"
MINIGRID_IDS = {f"{NAMESPACE}/{name}" for name in MINIGRID_MEMORY}
#: Demonstrators whose memory depends on the actions executed (dead reckoning for MiniGrid's Memory); the masked
#: ones only remember observations.
ACTION_DEPENDENT = {MYSTERY_PATH, COIN_SEARCH, CONFOUNDED_CONTROLS, *MINIGRID_IDS}
#: Ids of the random-walk relabelling test: of MiniGrid's six Memory ids only S7 and S17Random (the smallest grid and
#: the largest, with a random hallway), since their demonstrator is the same code on all six and the six random walks
#: add 4 s to the suite.
RANDOM_WALK_IDS = tuple(i for i in ENV_IDS if i not in MINIGRID_IDS or i.endswith(("S7-v0", "S17Random-v0")))
E, N = 0, 2

#: (length, first 40 labels) of two successive episodes (env seeds 0 and 1) of the demonstrator made with rng=7,
#: recorded before ``record_actions`` existed: adding it must change neither the actions nor the order of the
#: demonstrators' random draws (the second episode continues the same generator).
PINNED_EPISODES = {
    MYSTERY_PATH: ((45, "3103000000100300100030001000100010000100"), (63, "3330002232303303323332333333303323330133")),
    COIN_SEARCH: ((122, "0000101101033333333333111111111113333003"), (180, "2212121213333333323000000000001111121212")),
    CONFOUNDED_CONTROLS: ((34, "0211222122212221222122212221222122"), (30, "027767767767767767767767767767")),
    "ttt_gym/MaskedCartPole-v1": (
        (269, "0011101000011100011100000111111110000011"),
        (500, "0011100110001011110000111100011100011101"),
    ),
    "ttt_gym/MaskedAcrobot-v1": (
        (97, "1222221000000222222000011222222010000122"),
        (81, "1122222200000022212200010022222200000002"),
    ),
    "ttt_gym/MiniGridMemoryS7-v0": ((9, "111122212"), (9, "111122202")),
    "ttt_gym/MiniGridMemoryS9-v0": ((10, "1111222212"), (11, "11112222202")),
    "ttt_gym/MiniGridMemoryS11-v0": ((12, "111122222212"), (12, "111122222202")),
    "ttt_gym/MiniGridMemoryS13-v0": ((13, "1111222222212"), (14, "11112222222202")),
    "ttt_gym/MiniGridMemoryS13Random-v0": ((8, "11112202"), (9, "111122212")),
    "ttt_gym/MiniGridMemoryS17Random-v0": ((9, "111122202"), (9, "111122212")),
}


def label_rollout(
    env_id: str, *, executed_by: str, record: bool, n_envs: int = 2, episodes_per_env: int = 2, seed: int = 0
) -> tuple[np.ndarray, list[list[Any]]]:
    """Lockstep rollout of ``n_envs`` envs until each has finished ``episodes_per_env`` whole episodes.

    Args:
        executed_by: "demonstrator" (its own labels are executed) or "random" (seeded random actions are).
        record: whether the executed actions are passed to ``record_actions`` after every ``predict``.

    Returns:
        The labels ``[steps, n_envs]`` and a copy of the memories after every step.
    """
    demonstrator = make_demonstrator(env_id, rng=seed)
    envs = [gym.make(env_id) for _ in range(n_envs)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    action_rng = np.random.default_rng(seed + 100)
    n_actions = int(envs[0].action_space.n)
    state, starts = None, np.ones(n_envs, dtype=bool)
    finished = np.zeros(n_envs, dtype=int)
    labels, memories = [], []
    while finished.min() < episodes_per_env:
        actions, state = demonstrator.predict(obs, state=state, episode_start=starts)
        executed = actions if executed_by == "demonstrator" else action_rng.integers(n_actions, size=n_envs)
        if record:
            state = demonstrator.record_actions(state, executed)
        labels.append(actions.copy())
        memories.append(copy.deepcopy(state))
        for i, env in enumerate(envs):
            obs[i], _, terminated, truncated, _ = env.step(int(executed[i]))
            starts[i] = terminated or truncated
            if starts[i]:
                finished[i] += 1
                obs[i] = env.reset()[0]
    return np.asarray(labels), memories


def assert_same_memory(a: Any, b: Any) -> None:
    if dataclasses.is_dataclass(a):
        assert a == b
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_recording_its_own_actions_changes_nothing(env_id: str) -> None:
    plain_labels, plain_memories = label_rollout(env_id, executed_by="demonstrator", record=False)
    own_labels, own_memories = label_rollout(env_id, executed_by="demonstrator", record=True)
    np.testing.assert_array_equal(own_labels, plain_labels)
    assert len(own_memories) == len(plain_memories)
    for own, plain in zip(own_memories, plain_memories, strict=True):
        for own_memory, plain_memory in zip(own, plain, strict=True):
            assert_same_memory(own_memory, plain_memory)


@pytest.mark.parametrize("record", [False, True])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_own_episodes_are_unchanged_by_record_actions(env_id: str, record: bool) -> None:
    demonstrator = make_demonstrator(env_id, rng=7)
    env = gym.make(env_id)
    for seed, (length, first_labels) in enumerate(PINNED_EPISODES[env_id]):
        obs, _ = env.reset(seed=seed)
        state, start, labels, done = None, np.ones(1, dtype=bool), [], False
        while not done:
            actions, state = demonstrator.predict(obs[None], state=state, episode_start=start)
            if record:
                state = demonstrator.record_actions(state, actions)
            start[:] = False
            labels.append(int(actions[0]))
            obs, _, terminated, truncated, _ = env.step(labels[-1])
            done = terminated or truncated
        assert (len(labels), "".join(map(str, labels[:40]))) == (length, first_labels)


@pytest.mark.parametrize("env_id", RANDOM_WALK_IDS)
def test_labels_states_of_a_random_policy(env_id: str) -> None:
    labels, _ = label_rollout(env_id, executed_by="random", record=True)
    action_space = gym.make(env_id).action_space
    assert labels.dtype == np.int64 and labels.shape[1] == 2 and labels.shape[0] > 0
    assert all(action_space.contains(label) for label in labels.ravel())
    again, _ = label_rollout(env_id, executed_by="random", record=True)
    np.testing.assert_array_equal(again, labels)  # reproducible under the seeds
    # Without record_actions the memory believes its own labels were executed; that only matters where the
    # memory depends on actions.
    unrecorded, _ = label_rollout(env_id, executed_by="random", record=False)
    assert np.array_equal(unrecorded, labels) == (env_id not in ACTION_DEPENDENT)


def test_mystery_path_blames_a_fall_on_the_executed_move() -> None:
    env = MysteryPathEnv()
    obs, _ = env.reset(seed=3)
    start = env.start
    demonstrator = make_mystery_path_demonstrator(MYSTERY_PATH, rng=0, forget_prob=0.0, whim_prob=0.0)
    proposal, state = demonstrator.predict(obs[None])
    falling = [
        a
        for a, (d_row, d_col) in enumerate(MOVES)
        if a != proposal[0]
        and not (
            0 <= start[0] + d_row < env.grid_size
            and 0 <= start[1] + d_col < env.grid_size
            and env.path_mask[start[0] + d_row, start[1] + d_col]
        )
    ]
    executed = np.array([falling[0]])
    unrecorded = copy.deepcopy(state)
    state = demonstrator.record_actions(state, executed)
    assert state[0].last_action == falling[0]
    obs, *_ = env.step(falling[0])
    assert obs[4] == 1.0
    _, state = demonstrator.predict(obs[None], state=state)
    assert state[0].bad_moves == {(start, falling[0])}
    # Without the record, the fall is blamed on the move the demonstrator proposed but never made.
    _, unrecorded = demonstrator.predict(obs[None], state=unrecorded)
    assert unrecorded[0].bad_moves == {(start, int(proposal[0]))}


def test_mystery_path_remembers_exactly_the_falls_of_a_random_walk() -> None:
    env = gym.make(MYSTERY_PATH)
    demonstrator = make_mystery_path_demonstrator(MYSTERY_PATH, rng=0, forget_prob=0.0, whim_prob=0.0)
    action_rng = np.random.default_rng(1)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        state, falls, done = None, set(), False
        while not done:
            _, state = demonstrator.predict(obs, state=state)
            assert state[0].bad_moves == falls
            cell, action = (int(obs[0]), int(obs[1])), int(action_rng.integers(4))
            state = demonstrator.record_actions(state, np.int64(action))  # a scalar after an un-batched predict
            obs, _, terminated, truncated, _ = env.step(action)
            if obs[4] == 1.0:
                falls.add((cell, action))
            done = terminated or truncated
        assert falls  # a random walk falls off


def test_coin_search_dead_reckons_the_executed_moves() -> None:
    env = gym.make(COIN_SEARCH)
    demonstrator = CoinSearchDemonstrator(env.observation_space, env.action_space, miscount_prob=0.0, rng=0)
    action_rng = np.random.default_rng(2)
    obs, _ = env.reset(seed=4)
    state = unrecorded = None
    drifted = False
    for _ in range(150):
        _, state = demonstrator.predict(obs[None], state=state)
        _, unrecorded = demonstrator.predict(obs[None], state=unrecorded)
        action = int(action_rng.integers(4))
        state = demonstrator.record_actions(state, np.array([action]))
        obs, _, terminated, truncated, info = env.step(action)
        true_cell = (round(float(info["state"][0])), round(float(info["state"][1])))
        assert state[0].position == true_cell
        drifted |= unrecorded[0].position != true_cell
        assert not (terminated or truncated)
    assert drifted  # the memory that assumed its own moves lost track of the agent


def test_coin_search_record_keeps_a_miscount() -> None:
    env = gym.make(COIN_SEARCH)
    demonstrator = CoinSearchDemonstrator(env.observation_space, env.action_space, miscount_prob=1.0, rng=0)
    obs, _ = env.reset(seed=0)
    _, state = demonstrator.predict(obs[None])
    anchored = (int(obs[0]), int(obs[1]))
    for action in range(4):
        assert demonstrator.record_actions(state, np.array([action]))[0].position == anchored


def test_confounded_controls_learns_the_frame_from_executed_presses() -> None:
    env = ConfoundedControlsEnv()
    obs, _ = env.reset(seed=0, options=dict(start=(0.0, 0.0), goal=(0.8, -0.8)))
    demonstrator = ConfoundedControlsDemonstrator(env.observation_space, env.action_space, rng=0)
    proposal, state = demonstrator.predict(obs[None])
    assert proposal[0] == E  # it probes E first
    state = demonstrator.record_actions(state, np.array([N]))
    assert (state[0].previous_action, state[0].repeat_count) == (N, 0)
    obs, *_ = env.step(N)
    proposal, state = demonstrator.predict(obs[None], state=state)
    assert state[0].probed_axes == {N % 4}  # the move is attributed to the N press, not to the proposed E
    assert proposal[0] == E
    state = demonstrator.record_actions(state, np.array([N]))
    assert (state[0].previous_action, state[0].repeat_count) == (N, 1)  # a repeat of the executed N, so curled


def test_confounded_controls_fits_frame_and_curl_from_a_random_walk() -> None:
    env = ConfoundedControlsEnv()
    obs, _ = env.reset(seed=5, options=dict(start=(0.0, 0.0), goal=(0.85, 0.85)))
    demonstrator = ConfoundedControlsDemonstrator(env.observation_space, env.action_space, rng=0)
    action_rng = np.random.default_rng(3)
    state, action = None, 0
    for _ in range(200):
        _, state = demonstrator.predict(obs[None], state=state)
        # Repeat the last press half the time, so that curled presses are seen.
        action = action if action_rng.random() < 0.5 else int(action_rng.integers(8))
        state = demonstrator.record_actions(state, np.array([action]))
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    _, state = demonstrator.predict(obs[None], state=state)
    estimate = state[0]
    assert estimate.frame_known
    rotation, flip = estimate.frame()
    assert flip == env._flip
    assert math.cos(rotation - env._rotation) == pytest.approx(1.0, abs=1e-6)
    assert estimate.curl_per_press() == pytest.approx(env._curl_sign * env.curl_per_repeat, abs=1e-3)


@pytest.mark.parametrize("env_id", ["ttt_gym/MaskedCartPole-v1", "ttt_gym/MaskedAcrobot-v1"])
def test_masked_demonstrators_remember_observations_only(env_id: str) -> None:
    env = gym.make(env_id)
    demonstrator = make_demonstrator(env_id, rng=0)
    obs, _ = env.reset(seed=0)
    _, state = demonstrator.predict(obs[None])
    remembered = state[0].copy()
    for action in range(int(env.action_space.n)):
        np.testing.assert_array_equal(demonstrator.record_actions(state, np.array([action]))[0], remembered)


@pytest.mark.parametrize(
    ("state", "actions", "match"),
    [
        (None, np.array([0]), "state=None"),
        ([None, None], np.array([0]), "1 actions for 2 memories"),
        ([None], np.array([9]), "not in the action space"),
        ([None], np.array([0.5]), "not in the action space"),
    ],
)
def test_record_actions_errors_name_the_mistake(state: Any, actions: np.ndarray, match: str) -> None:
    demonstrator: Demonstrator = make_demonstrator(MYSTERY_PATH, rng=0)
    with pytest.raises(ValueError, match=match):
        demonstrator.record_actions(state, actions)
