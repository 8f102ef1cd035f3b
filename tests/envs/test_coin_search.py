"""Coin Search rules (one-step visibility, rewards, success at N coins, spawn distances, walls) and success rates."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ttt_envs.coin_search import MOVES, VISIBLE_INDEX, CoinSearchEnv, manhattan
from ttt_envs.experts.coin_search import CoinSearchDemonstrator, greedy_move, search_cells
from ttt_gym.evaluation import evaluate_success
from ttt_gym.experts import make_demonstrator, make_expert

ENV_ID = "ttt_gym/CoinSearch-v0"
UP, RIGHT, DOWN, LEFT = range(4)


class MemorylessPolicy:
    """Acts on the current observation only: a greedy step toward the coin when it is shown, random otherwise."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        if obs[VISIBLE_INDEX] > 0.5:
            return greedy_move((int(obs[0]), int(obs[1])), (int(obs[2]), int(obs[3]))), state
        return int(self.rng.integers(len(MOVES))), state


def walk_to_coin(env: CoinSearchEnv) -> tuple[list[np.ndarray], list[float], list[bool], list[dict]]:
    """Take greedy steps to the active coin; returns what each step gave back."""
    observations, rewards, terminations, infos = [], [], [], []
    target = env.coin
    while env.agent != target:
        obs, reward, terminated, _, info = env.step(greedy_move(env.agent, target))
        observations.append(obs)
        rewards.append(reward)
        terminations.append(terminated)
        infos.append(info)
    return observations, rewards, terminations, infos


def test_defaults_follow_the_spec() -> None:
    env = gym.make(ENV_ID).unwrapped
    assert isinstance(env, CoinSearchEnv)
    assert env.max_steps == 180 and env.grid_size == 12
    assert env.spawn_distance == (8, 12) and env.coins_to_win == 12
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space.shape == (5,) and env.observation_space.dtype == np.float32
    assert env.state_space.shape == (6,) and env.state_space.dtype == np.float32
    # A shortest-path walker always has time for every coin, however far they spawn.
    assert env.coins_to_win * env.spawn_distance[1] <= env.max_steps


def test_positions_are_visible_at_reset_and_right_after_each_collection_only() -> None:
    env = CoinSearchEnv()
    obs, info = env.reset(seed=0)
    assert obs[VISIBLE_INDEX] == 1.0
    np.testing.assert_array_equal(obs[:4], [*env.agent, *env.coin])
    np.testing.assert_array_equal(info["state"][:4], obs[:4])
    for _ in range(3):
        coin_before = env.coin
        observations, rewards, _, _ = walk_to_coin(env)
        for obs in observations[:-1]:  # dark steps: everything masked, privileged state unaffected
            np.testing.assert_array_equal(obs, np.zeros(5, dtype=np.float32))
        last = observations[-1]
        assert last[VISIBLE_INDEX] == 1.0
        assert env.coin != coin_before
        np.testing.assert_array_equal(last[:4], [*coin_before, *env.coin])  # agent on the old coin, new coin
        assert rewards == [0.0] * (len(rewards) - 1) + [1.0]
        obs, reward, *_ = env.step(greedy_move(env.agent, env.coin))  # the next step is dark again
        assert obs[VISIBLE_INDEX] == 0.0 and reward == 0.0
        np.testing.assert_array_equal(obs, np.zeros(5, dtype=np.float32))


def test_success_and_termination_exactly_on_the_last_coin() -> None:
    env = CoinSearchEnv(coins_to_win=3)
    env.reset(seed=1)
    for coin in range(1, 4):
        _, rewards, terminations, infos = walk_to_coin(env)
        assert sum(rewards) == 1.0
        assert infos[-1]["coins_collected"] == coin
        assert [i["success"] for i in infos] == [False] * (len(infos) - 1) + [coin == 3]
        assert terminations == [False] * (len(terminations) - 1) + [coin == 3]
        assert env.unwrapped._privileged_state()[4] == coin


def test_spawn_distance_stays_in_range_and_inside_the_arena() -> None:
    env = CoinSearchEnv(grid_size=12, spawn_distance=(8, 12))
    distances = []
    for seed in range(200):
        env.reset(seed=seed)
        for _ in range(2):
            distances.append(manhattan(env.agent, env.coin))
            assert all(0 <= x < 12 for x in env.coin)
            walk_to_coin(env)
    assert min(distances) >= 8 and max(distances) <= 12
    assert set(distances) == set(range(8, 13))
    assert 9.0 < np.mean(distances) < 10.5


def test_spawn_works_from_every_cell_of_a_small_arena() -> None:
    env = CoinSearchEnv(grid_size=5, spawn_distance=(4, 4), coins_to_win=1)
    env.reset(seed=0)
    for row in range(5):
        for col in range(5):
            env.agent = (row, col)
            coin = env._spawn_coin()
            assert manhattan((row, col), coin) == 4 and all(0 <= x < 5 for x in coin)


def test_walls_clamp_the_agent() -> None:
    env = CoinSearchEnv()
    env.reset(seed=0)
    env.agent, env.coin = (0, 0), (11, 11)
    for action in (UP, LEFT):
        env.step(action)
        assert env.agent == (0, 0)
    env.agent = (11, 11 - 1)
    env.coin = (0, 0)
    env.step(DOWN)
    assert env.agent == (11, 10)
    env.step(RIGHT)
    env.step(RIGHT)
    assert env.agent == (11, 11)


def test_privileged_state_counts_coins_and_steps() -> None:
    env = CoinSearchEnv()
    _, info = env.reset(seed=4)
    np.testing.assert_array_equal(info["state"][4:], [0.0, 0.0])
    *_, infos = walk_to_coin(env)
    state = infos[-1]["state"]
    np.testing.assert_array_equal(state[:4], [*env.agent, *env.coin])
    assert state[4] == 1.0 and state[5] == len(infos)
    assert env.state_space.contains(state)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid_size": 3}, "grid_size"),
        ({"grid_size": 12.5}, "grid_size"),
        ({"grid_size": True}, "grid_size"),
        ({"spawn_distance": 10}, "spawn_distance"),
        ({"spawn_distance": (12, 8)}, "spawn_distance"),
        ({"spawn_distance": (0, 4)}, "spawn_distance"),
        ({"grid_size": 6, "spawn_distance": (7, 9)}, "spawn_distance"),
        ({"coins_to_win": 0}, "coins_to_win"),
        ({"coins_to_win": 2.0}, "coins_to_win"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(ENV_ID, **kwargs)


def test_impossible_coin_count_warns() -> None:
    with pytest.warns(UserWarning, match="coins_to_win"):
        CoinSearchEnv(coins_to_win=30)  # 30 coins x at least 8 moves > 180 steps


def test_search_cells_ring_around_the_centre() -> None:
    cells = search_cells((5, 5), grid_size=12, radius=2)
    assert len(cells) == 4 + 8 and len(set(cells)) == len(cells)
    assert [manhattan(c, (5, 5)) for c in cells] == [1] * 4 + [2] * 8
    assert all(0 <= x < 3 for c in search_cells((0, 0), grid_size=12, radius=2) for x in c)


def test_demonstrator_without_miscounts_dead_reckons_exactly() -> None:
    env = gym.make(ENV_ID)
    demo = CoinSearchDemonstrator(env.observation_space, env.action_space, miscount_prob=0.0, rng=0)
    result = evaluate_success(demo, ENV_ID, n_episodes=10, seed=50)
    assert result.success_rate == 1.0
    with pytest.raises(ValueError, match="miscount_prob"):
        CoinSearchDemonstrator(env.observation_space, env.action_space, miscount_prob=1.5)


def test_policy_success_rates() -> None:
    expert = evaluate_success(make_expert(ENV_ID), ENV_ID, n_episodes=50, seed=0)
    demonstrator = evaluate_success(make_demonstrator(ENV_ID, rng=0), ENV_ID, n_episodes=50, seed=0)
    memoryless = evaluate_success(MemorylessPolicy(seed=0), ENV_ID, n_episodes=50, seed=0)
    random = evaluate_success("random", ENV_ID, n_episodes=50, seed=0)
    assert expert.success_rate >= 0.98
    assert demonstrator.success_rate >= 0.8
    assert memoryless.success_rate <= 0.05 and random.success_rate <= 0.05
    assert demonstrator.mean_return > 5 * random.mean_return
    assert memoryless.mean_return < 2.0
