"""Users' own data into GoalDataset: SB3 replay buffers, imitation trajectories, Minari datasets (real packages)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
import ogbench  # noqa: F401  (registers the OGBench ids)
import pytest
from gymnasium import spaces
from imitation.data import rollout
from imitation.data.types import Trajectory
from minari.data_collector import EpisodeBuffer
from stable_baselines3 import SAC, HerReplayBuffer
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from ttt_gym.data import DatasetFormatError, GoalDataset, GoalSpace
from ttt_gym.wrappers import GoalObservation

MAZE_GOAL_SPACE = GoalSpace(indices=(0, 1), group_size=2, tolerance=1.0)
# minari asks for author, code_permalink, eval_env ... on every dataset it writes; these tests do not set them.
minari_advice = pytest.mark.filterwarnings("ignore:.*(is set to None|env_spec is None):UserWarning")


def short_maze(episode_steps: int) -> GoalObservation:
    """Point maze with goal-dict observations and short episodes (truncated after ``episode_steps``)."""
    return GoalObservation(gym.make("pointmaze-medium-v0", max_episode_steps=episode_steps))


def goal_dict_space(obs_dim: int = 2, goal_dim: int = 2) -> spaces.Dict:
    goal = spaces.Box(-np.inf, np.inf, (goal_dim,), np.float32)
    state = spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    return spaces.Dict({"observation": state, "achieved_goal": goal, "desired_goal": goal})


def trajectory_rows(ds: GoalDataset) -> list[np.ndarray]:
    """Transition indices of each trajectory, in order."""
    return np.split(np.arange(len(ds)), np.flatnonzero(np.diff(ds.trajectory_ids)) + 1)


# -- SB3 replay buffers -----------------------------------------------------------------------------------------------


def test_dict_replay_buffer_trajectories_per_env_oldest_first() -> None:
    """Two envs, a wrapped-around buffer: boundaries at dones and where the next row does not continue."""
    buffer = DictReplayBuffer(16, goal_dict_space(), spaces.Box(-100, 100, (2,), np.float32), device="cpu", n_envs=2)
    dones = {0: {3, 7}, 1: {5}}
    jump = {1: {8}}  # env 1 restarts at t = 9 without a done (learn() called again)
    for t in range(11):
        state = np.array([[0, t], [1, t]], np.float32)
        next_state = state + np.array([0, 1], np.float32)
        done = np.array([t in dones[env] for env in (0, 1)])
        for env in (0, 1):
            if done[env] or t in jump.get(env, ()):
                next_state[env, 1] = t + 0.5  # a terminal observation, not the next reset state
        goal = np.zeros((2, 2), np.float32)
        buffer.add(
            {"observation": state, "achieved_goal": state, "desired_goal": goal},
            {"observation": next_state, "achieved_goal": next_state, "desired_goal": goal},
            state.copy(),
            np.zeros(2),
            done,
            [{}, {}],
        )
    assert buffer.full and buffer.pos == 3  # 8 rows per env: t = 3 .. 10 are left

    ds = GoalDataset.from_replay_buffer(buffer)
    assert ds.source == "<DictReplayBuffer>" and ds.goal_space is None
    assert ds.observations[:, 0].tolist() == [0] * 8 + [1] * 8
    assert ds.observations[:, 1].tolist() == list(range(3, 11)) * 2
    np.testing.assert_array_equal(ds.actions, ds.observations)
    # env 0: [3] (its start overwritten) [4..7] [8..10] (under way); env 1: [3..5] [6..8] [9, 10]
    assert ds.trajectory_ids.tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5]
    assert ds.steps_to_end.tolist() == [0, 3, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 1, 0]
    assert ds.next_observations[:, 1].tolist() == [3.5, 5, 6, 7, 7.5, 9, 10, 11, 4, 5, 5.5, 7, 8, 8.5, 10, 11]


@pytest.mark.filterwarnings("ignore:.*compute_reward.*:UserWarning")  # gymnasium on HER's compute_reward lookup
def test_her_replay_buffer_after_sac_learn() -> None:
    """Every stored transition, once; every episode HER can sample is one whole trajectory."""
    venv = make_vec_env(lambda: short_maze(12), n_envs=2, seed=0)
    model = SAC(
        "MultiInputPolicy",
        venv,
        buffer_size=60,  # 30 rows per env, 40 steps per env: the buffer wraps around
        learning_starts=30,
        batch_size=16,
        policy_kwargs=dict(net_arch=[16]),
        replay_buffer_class=HerReplayBuffer,
        seed=0,
        device="cpu",
    )
    model.learn(total_timesteps=80)
    buffer = model.replay_buffer
    assert isinstance(buffer, HerReplayBuffer) and buffer.full

    goal_space = venv.env_method("get_wrapper_attr", "goal_space")[0]
    ds = GoalDataset.from_replay_buffer(buffer, goal_space=goal_space)
    assert ds.goal_space == goal_space
    np.testing.assert_array_equal(ds.goal_coordinates, ds.observations[:, :2])

    def sorted_rows(*arrays: np.ndarray) -> np.ndarray:
        rows = np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)
        return rows[np.lexsort(rows.T[::-1])]

    stored = [buffer.observations["observation"], buffer.actions, buffer.next_observations["observation"]]
    flat = [array.reshape(60, -1) for array in stored]  # (rows, envs, dim) -> every (row, env) pair
    np.testing.assert_array_equal(
        sorted_rows(ds.observations, ds.actions, ds.next_observations), sorted_rows(*flat).astype(np.float32)
    )

    trajectories = {tuple(ds.observations[rows[0]]): rows for rows in trajectory_rows(ds)}
    finished = 0
    for env in range(2):
        for start in np.unique(buffer.ep_start[buffer.ep_length[:, env] > 0, env]):
            length = buffer.ep_length[start, env]
            rows = (start + np.arange(length)) % buffer.buffer_size
            dataset_rows = trajectories[tuple(buffer.observations["observation"][start, env].astype(np.float32))]
            np.testing.assert_array_equal(ds.actions[dataset_rows], buffer.actions[rows, env])
            assert buffer.dones[rows[-1], env] and ds.steps_to_end[dataset_rows[-1]] == 0
            finished += 1
    assert finished >= 2
    venv.close()


def test_buffers_that_cannot_be_read_are_refused() -> None:
    box = spaces.Box(-1, 1, (2,), np.float32)
    flat = ReplayBuffer(8, box, box, device="cpu")
    with pytest.raises(TypeError, match=r"flat ReplayBuffer.*GoalObservation.*MultiInputPolicy"):
        GoalDataset.from_replay_buffer(flat)  # type: ignore[arg-type]
    model = SAC("MultiInputPolicy", short_maze(5), buffer_size=8, policy_kwargs=dict(net_arch=[8]), device="cpu")
    with pytest.raises(TypeError, match=r"model.replay_buffer"):
        GoalDataset.from_replay_buffer(model)  # type: ignore[arg-type]
    with pytest.raises(DatasetFormatError, match="empty"):
        GoalDataset.from_replay_buffer(model.replay_buffer)  # type: ignore[arg-type]
    privileged = spaces.Dict({"obs": box, "state": box})
    with pytest.raises(DatasetFormatError, match=r"lack \['observation', 'desired_goal'\].*GoalObservation"):
        GoalDataset.from_replay_buffer(DictReplayBuffer(8, privileged, box, device="cpu"))


def test_goal_space_must_match_achieved_goal() -> None:
    buffer = DictReplayBuffer(4, goal_dict_space(obs_dim=3), spaces.Box(-1, 1, (1,), np.float32), device="cpu")
    state = np.array([[1.0, 2.0, 3.0]], np.float32)
    obs = {"observation": state, "achieved_goal": state[:, :2], "desired_goal": np.zeros((1, 2), np.float32)}
    buffer.add(obs, obs, np.zeros((1, 1)), np.zeros(1), np.array([True]), [{}])
    assert GoalDataset.from_replay_buffer(buffer, goal_space=MAZE_GOAL_SPACE).goal_space == MAZE_GOAL_SPACE
    with pytest.raises(DatasetFormatError, match=r"achieved_goal is not the goal space's coordinates \(1, 2\)"):
        GoalDataset.from_replay_buffer(buffer, goal_space=GoalSpace((1, 2), group_size=2, tolerance=1.0))


# -- imitation trajectories --------------------------------------------------------------------------------------------


def test_trajectories_from_imitation_rollouts() -> None:
    venv = DummyVecEnv([lambda: short_maze(6)] * 2)
    venv.seed(0)
    trajectories = rollout.generate_trajectories(None, venv, rollout.make_min_episodes(3), np.random.default_rng(0))
    venv.close()
    ds = GoalDataset.from_trajectories(trajectories, goal_space=MAZE_GOAL_SPACE)

    assert ds.num_trajectories == len(trajectories) and ds.goal_space == MAZE_GOAL_SPACE
    states = [trajectory.obs.get("observation") for trajectory in trajectories]  # type: ignore[union-attr]
    np.testing.assert_array_equal(ds.observations, np.concatenate([s[:-1] for s in states]).astype(np.float32))
    np.testing.assert_array_equal(ds.next_observations, np.concatenate([s[1:] for s in states]).astype(np.float32))
    np.testing.assert_array_equal(ds.actions, np.concatenate([t.acts for t in trajectories]).astype(np.float32))
    assert [len(rows) for rows in trajectory_rows(ds)] == [len(t) for t in trajectories]


def test_hand_built_trajectories_and_their_errors() -> None:
    states = np.arange(12, dtype=np.float32).reshape(4, 3)
    first = Trajectory(obs=states, acts=np.array([0, 2, 1]), infos=None, terminal=True)  # discrete actions
    second = Trajectory(obs=states[:2] + 100, acts=np.array([1]), infos=None, terminal=False)
    ds = GoalDataset.from_trajectories([first, second])
    assert ds.goal_space is None
    assert ds.actions.tolist() == [[0.0], [2.0], [1.0], [1.0]]
    assert ds.trajectory_ids.tolist() == [0, 0, 0, 1] and ds.steps_to_end.tolist() == [2, 1, 0, 0]
    np.testing.assert_array_equal(ds.next_observations[-1], states[1] + 100)

    other_shape = Trajectory(obs=np.zeros((3, 2), np.float32), acts=np.array([0, 1]), infos=None, terminal=True)
    with pytest.raises(DatasetFormatError, match=r"episode 1 has observation shape \(2,\).*episode 0 has \(3,\)"):
        GoalDataset.from_trajectories([first, other_shape])
    with pytest.raises(DatasetFormatError, match="no episodes"):
        GoalDataset.from_trajectories([])
    with pytest.raises(TypeError, match=r"item 0 is a dict.*Trajectory\(obs="):
        GoalDataset.from_trajectories([{"obs": states, "acts": np.zeros(3)}])  # type: ignore[list-item]


# -- Minari -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def minari_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private Minari directory: nothing touches ~/.minari."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    yield tmp_path / "minari"


def straight_runs(lengths: list[int], goal_space: GoalSpace | None = MAZE_GOAL_SPACE) -> GoalDataset:
    """Trajectories of random 3-d states and 2-d actions, ``lengths`` transitions each."""
    rng = np.random.default_rng(0)
    terminals = np.concatenate([np.arange(n + 1) == n for n in lengths])
    observations = rng.normal(size=(len(terminals), 3)).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(len(terminals), 2)).astype(np.float32)
    return GoalDataset.from_arrays(observations, actions, terminals, goal_space=goal_space)


def assert_same_transitions(a: GoalDataset, b: GoalDataset) -> None:
    for key in ("observations", "actions", "next_observations", "trajectory_ids", "steps_to_end"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


@minari_advice
def test_minari_round_trip(minari_dir: Path) -> None:
    ds = straight_runs([4, 1, 6])
    written = ds.to_minari("ttt/runs-v0")
    assert (minari_dir / "ttt" / "runs-v0").is_dir()
    assert written.total_episodes == 3 and written.total_steps == 11
    episode = written[2]
    assert episode.observations.shape == (7, 3) and episode.actions.shape == (6, 2)
    assert not episode.rewards.any() and not episode.terminations.any() and episode.truncations.tolist()[-1]

    back = GoalDataset.from_minari("ttt/runs-v0")
    assert_same_transitions(back, ds)
    assert back.goal_space == MAZE_GOAL_SPACE and back.source == "minari:ttt/runs-v0"
    assert GoalDataset.from_minari("ttt/runs-v0", goal_space=None).goal_space is None


@minari_advice
def test_minari_goal_space_none_is_kept_and_env_is_recorded(minari_dir: Path) -> None:
    written = straight_runs([3, 2], goal_space=None).to_minari("maze-v0", env="pointmaze-medium-v0")
    assert written.env_spec is not None and written.env_spec.id == "pointmaze-medium-v0"
    assert GoalDataset.from_minari("maze-v0").goal_space is None  # stored None wins over the env's goal space


@minari_advice
def test_minari_existing_id_needs_overwrite(minari_dir: Path) -> None:
    straight_runs([2]).to_minari("runs-v0")
    with pytest.raises(FileExistsError, match=r"already exists.*overwrite=True"):
        straight_runs([5, 5]).to_minari("runs-v0")
    assert GoalDataset.from_minari("runs-v0").num_trajectories == 1
    straight_runs([5, 5]).to_minari("runs-v0", overwrite=True)
    assert_same_transitions(GoalDataset.from_minari("runs-v0"), straight_runs([5, 5]))


def test_minari_missing_id_is_not_downloaded(minari_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"'D4RL/door/human-v2' is not in the local Minari directory.*never"):
        GoalDataset.from_minari("D4RL/door/human-v2")


@minari_advice
def test_minari_goal_dict_dataset(minari_dir: Path) -> None:
    """A dataset written with minari's own API on goal-dict observations; the goal space comes from the env id."""
    rng = np.random.default_rng(1)
    episodes, states = [], []
    for episode, steps in enumerate([3, 5]):
        state = rng.normal(size=(steps + 1, 2)).astype(np.float32)
        states.append(state)
        goal = np.zeros_like(state)
        episodes.append(
            EpisodeBuffer(
                id=episode,
                observations={"observation": state, "achieved_goal": state.copy(), "desired_goal": goal},
                actions=rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
                rewards=np.zeros(steps),
                terminations=np.zeros(steps, bool),
                truncations=np.arange(steps) == steps - 1,
            )
        )
    minari.create_dataset_from_buffers(
        "goals-v0",
        episodes,
        env="pointmaze-medium-v0",
        observation_space=goal_dict_space(),
        action_space=spaces.Box(-1, 1, (2,), np.float32),
        data_format="arrow",
    )
    ds = GoalDataset.from_minari("goals-v0")
    assert ds.goal_space == GoalSpace(indices=(0, 1), group_size=2, tolerance=1.0)  # goal_space_for(env id)
    np.testing.assert_array_equal(ds.observations, np.concatenate([s[:-1] for s in states]))
    np.testing.assert_array_equal(ds.next_observations, np.concatenate([s[1:] for s in states]))
    assert ds.trajectory_ids.tolist() == [0] * 3 + [1] * 5


def test_minari_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "minari", None)  # import minari now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "ttt-gym\[minari\]"'):
        GoalDataset.from_minari("anything-v0")
