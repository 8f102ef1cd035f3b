"""Rules of Mystery Path and the success rates of its expert, demonstrator and a random policy."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

import ttt_gym  # noqa: F401  (registers the ids)
from ttt_envs.experts.mystery_path import make_demonstrator, make_expert
from ttt_envs.mystery_path import MOVES, MysteryPathEnv, noisy_astar
from ttt_gym.evaluation import evaluate_success

ENV_ID = "ttt_gym/MysteryPath-v0"

torch.set_num_threads(1)


def _edges(cell: tuple[int, int], grid_size: int) -> set[str]:
    last = grid_size - 1
    sides = {"top": cell[0] == 0, "bottom": cell[0] == last, "left": cell[1] == 0, "right": cell[1] == last}
    return {side for side, on in sides.items() if on}


def _action_between(a: tuple[int, int], b: tuple[int, int]) -> int:
    return MOVES.index((b[0] - a[0], b[1] - a[1]))


def _off_path_action(env: MysteryPathEnv, cell: tuple[int, int]) -> int:
    for action, (d_row, d_col) in enumerate(MOVES):
        row, col = cell[0] + d_row, cell[1] + d_col
        if not (0 <= row < env.grid_size and 0 <= col < env.grid_size) or not env.path_mask[row, col]:
            return action
    raise AssertionError(f"every neighbour of {cell} is on the path")


@pytest.mark.parametrize("grid_size", [3, 7, 10])
def test_path_joins_start_and_goal_on_opposite_edges(grid_size: int) -> None:
    env = MysteryPathEnv(grid_size=grid_size)
    opposite = {("top", "bottom"), ("bottom", "top"), ("left", "right"), ("right", "left")}
    start_edges: set[str] = set()
    for seed in range(150):
        env.reset(seed=seed)
        path = env.path
        assert path[0] == env.start and path[-1] == env.goal
        assert any((s, g) in opposite for s in _edges(env.start, grid_size) for g in _edges(env.goal, grid_size))
        for a, b in itertools.pairwise(path):
            assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
        assert len(set(path)) == len(path)
        # One cell wide: cells that are not consecutive along the path are never neighbours.
        for i, a in enumerate(path):
            for b in path[i + 2 :]:
                assert abs(a[0] - b[0]) + abs(a[1] - b[1]) > 1
        assert env.path_mask.sum() == len(path) and all(env.path_mask[c] for c in path)
        start_edges |= _edges(env.start, grid_size)
    assert start_edges == {"top", "bottom", "left", "right"}  # every pair of edges, both ways round


def test_noisy_astar_with_uniform_costs_is_a_shortest_route() -> None:
    route = noisy_astar(np.ones((5, 5)), (0, 1), (4, 3))
    assert route[0] == (0, 1) and route[-1] == (4, 3) and len(route) == 1 + 4 + 2


def test_paths_vary_and_wind() -> None:
    env = MysteryPathEnv()
    lengths, masks = [], set()
    for seed in range(100):
        env.reset(seed=seed)
        lengths.append(len(env.path) - 1)
        masks.add(env.path_mask.tobytes())
    assert len(masks) > 90
    assert max(lengths) > 10  # some paths are longer than the 6 to 12 moves of a straight crossing


def test_falling_off_returns_to_start_with_flag_and_continues() -> None:
    env = MysteryPathEnv()
    obs, _ = env.reset(seed=0)
    start, goal = env.start, env.goal
    np.testing.assert_array_equal(obs, [*start, *goal, 0.0])
    # Walk two cells along the path, then step off it.
    for cell in env.path[1:3]:
        obs, reward, terminated, truncated, info = env.step(_action_between(env.agent, cell))
        assert obs[4] == 0.0 and reward == 0.0 and not terminated
    obs, reward, terminated, truncated, info = env.step(_off_path_action(env, env.agent))
    np.testing.assert_array_equal(obs, [*start, *goal, 1.0])
    assert reward == 0.0 and not terminated and not truncated and not info["success"]
    # The flag lasts one step only.
    obs, *_ = env.step(_action_between(env.agent, env.path[1]))
    np.testing.assert_array_equal(obs, [*env.path[1], *goal, 0.0])


def test_stepping_off_the_grid_also_returns_to_start() -> None:
    env = MysteryPathEnv()
    env.reset(seed=1)
    row, col = env.start
    outward = 0 if row == 0 else 2 if row == env.grid_size - 1 else 3 if col == 0 else 1
    obs, _, terminated, _, _ = env.step(outward)
    assert env.agent == env.start and obs[4] == 1.0 and not terminated


def test_reaching_the_goal_rewards_and_terminates_with_success() -> None:
    env = gym.make(ENV_ID)
    _, info = env.reset(seed=5)
    base = env.unwrapped
    assert isinstance(base, MysteryPathEnv)
    assert not info["success"]
    rewards: list[float] = []
    for a, b in itertools.pairwise(base.path):
        _, reward, terminated, truncated, info = env.step(_action_between(a, b))
        rewards.append(float(reward))
    assert rewards[-1] == 1.0 and sum(rewards) == 1.0
    assert terminated and not truncated and info["success"]


def test_time_limit_is_128_steps() -> None:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    base = env.unwrapped
    assert isinstance(base, MysteryPathEnv)
    action = _off_path_action(base, base.start)
    for step in range(1, 129):
        _, _, terminated, truncated, info = env.step(action)
        assert not terminated and truncated == (step == 128) and not info["success"]


def test_observation_never_contains_the_path() -> None:
    env = MysteryPathEnv()
    by_endpoints: dict[tuple, tuple[bytes, np.ndarray]] = {}
    pair_found = False
    for seed in range(400):
        obs, _ = env.reset(seed=seed)
        key = (env.start, env.goal)
        if key in by_endpoints and by_endpoints[key][0] != env.path_mask.tobytes():
            np.testing.assert_array_equal(obs, by_endpoints[key][1])
            pair_found = True
            break
        by_endpoints[key] = (env.path_mask.tobytes(), obs)
    assert pair_found, "no two seeds with the same start and goal but different paths"
    assert env.observation_space.shape == (5,)


def test_privileged_state_holds_agent_goal_start_and_path() -> None:
    env = MysteryPathEnv(grid_size=5)
    _, info = env.reset(seed=2)
    state = info["state"]
    assert state.dtype == np.float32 and state.shape == (6 + 25,) and env.state_space.contains(state)
    np.testing.assert_array_equal(state[:6], [*env.agent, *env.goal, *env.start])
    np.testing.assert_array_equal(state[6:].reshape(5, 5), env.path_mask.astype(np.float32))


@pytest.mark.parametrize("grid_size", [2, 0, -3, 4.5, True])
def test_grid_size_too_small_or_not_an_integer_raises(grid_size: object) -> None:
    with pytest.raises(ValueError, match="grid_size"):
        MysteryPathEnv(grid_size=grid_size)  # type: ignore[arg-type]


def test_expert_reaches_the_goal() -> None:
    result = evaluate_success(make_expert(ENV_ID), ENV_ID, n_episodes=50, seed=0)
    assert result.success_rate >= 0.98
    # It never falls: the episode lasts exactly the path length.
    assert result.lengths.max() <= 2 * 7 * 7


def test_expert_works_on_a_larger_grid() -> None:
    kwargs = {"grid_size": 11}
    result = evaluate_success(make_expert(ENV_ID, env_kwargs=kwargs), ENV_ID, n_episodes=20, seed=0, env_kwargs=kwargs)
    assert result.success_rate == 1.0


def test_demonstrator_beats_random_but_not_the_expert() -> None:
    demo = evaluate_success(make_demonstrator(ENV_ID, rng=0), ENV_ID, n_episodes=100, seed=0)
    rand = evaluate_success("random", ENV_ID, n_episodes=100, seed=0)
    assert rand.success_rate <= 0.05
    assert 0.6 <= demo.success_rate < 1.0
    assert demo.success_rate > rand.success_rate + 0.5


def test_demonstrator_without_lapses_never_repeats_a_fall() -> None:
    env = gym.make(ENV_ID)
    demo = make_demonstrator(ENV_ID, rng=0, forget_prob=0.0, whim_prob=0.0)
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        memory = demo.initial_memory()
        falls: set[tuple[tuple[int, int], int]] = set()
        done = False
        while not done:
            cell = (int(obs[0]), int(obs[1]))
            action, memory = demo.act(obs, memory)
            obs, _, terminated, truncated, info = env.step(action)
            if obs[4] == 1.0:
                assert (cell, action) not in falls
                falls.add((cell, action))
            done = terminated or truncated
        assert info["success"]
