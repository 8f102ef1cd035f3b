"""Evaluation on Ray (``workers=N``) gives ``workers=1``'s episodes exactly, because policies are reseeded per episode.

The Ray tests share the session's local Ray (``ray_local``, 2 CPUs); the rest run without it.
"""

from __future__ import annotations

import pickle
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from tests.test_wrapper import PointGoalEnv, build
from ttt_gym.agents import AGENTS
from ttt_gym.data import GoalDataset, GoalSpace
from ttt_gym.evaluation import derived_seed, evaluate_success
from ttt_gym.goal_evaluation import evaluate_goal_policy
from ttt_gym.policies import ACTORS
from ttt_gym.ttt.selection import make_selector
from ttt_gym.ttt.wrapper import TestTimeTraining

MEMORY_ENV = "ttt_gym/MaskedCartPole-v1"  # an untrained actor's sampled episodes last 10-50 steps


class ExitGoalEnv(gym.Env):
    """A point that moves by 0.25 * action until it leaves the unit disc (at most 20 steps); success: it leaves on
    the goal's side. Episode lengths follow the actions closely, so different adaptations show in the results."""

    box = spaces.Box(-5.0, 5.0, (2,), np.float32)
    observation_space = spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
    action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-0.2, 0.2, 2).astype(np.float32)
        angle = self.np_random.uniform(0, 2 * np.pi)
        self.goal = np.array([np.cos(angle), np.sin(angle)], np.float32)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return {"observation": self.position.copy(), "achieved_goal": self.position.copy(), "desired_goal": self.goal}

    def step(self, action):
        self.position = (self.position + 0.25 * np.clip(action, -1, 1)).astype(np.float32)
        self.t += 1
        left = bool(np.linalg.norm(self.position) >= 1.0)
        success = left and float(self.position @ self.goal) > 0
        return self._obs(), float(success), left, self.t >= 20, {"success": success}


def straight_runs(n_trajectories: int = 200, length: int = 10) -> GoalDataset:
    """Straight runs from random starts, each in its own random direction: a minibatch's mean action, and so an
    adaptation, depends on which transitions it drew."""
    rng = np.random.default_rng(0)
    starts = rng.uniform(-1, 1, (n_trajectories, 1, 2))
    directions = rng.uniform(-1, 1, (n_trajectories, 1, 2))
    steps = 0.25 * np.arange(length + 1)[None, :, None] * directions
    observations = (starts + steps).reshape(-1, 2).astype(np.float32)
    actions = np.broadcast_to(directions, (n_trajectories, length + 1, 2)).reshape(-1, 2).astype(np.float32)
    terminals = np.zeros((n_trajectories, length + 1), dtype=bool)
    terminals[:, -1] = True
    return GoalDataset.from_arrays(
        observations, actions, terminals.reshape(-1), goal_space=GoalSpace((0, 1), group_size=2, tolerance=0.2)
    )


@pytest.fixture(scope="module")
def dataset() -> GoalDataset:
    return straight_runs()


def gcbc():
    return AGENTS["gcbc"](ExitGoalEnv(), hidden_dims=(16,), batch_size=16, device="cpu")


def gc_ttt(dataset: GoalDataset, *, seed: int = 0, **kwargs) -> TestTimeTraining:
    """GC-TTT around a tiny GCBC: an adaptation every 3 steps, 5 Adam steps on minibatches of 8."""
    selector = make_selector("relevant-only", dataset, epsilon=0.5)
    settings = dict(every=3, steps=5, lr=0.1, batch_size=8, min_selected=4, seed=seed) | kwargs
    return TestTimeTraining(gcbc(), dataset, selector=selector, **settings)


def memory_actor():
    env = gym.make(MEMORY_ENV)
    return ACTORS["gru"](env.observation_space, env.action_space, embed_dim=16, hidden_dim=16)


def assert_same_goal_episodes(a, b):
    np.testing.assert_array_equal(a.successes, b.successes)
    np.testing.assert_array_equal(a.lengths, b.lengths)


def assert_same_episodes(a, b):
    np.testing.assert_array_equal(a.successes, b.successes)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.returns, b.returns)


# -- workers=N equals workers=1 ---------------------------------------------------------------------------------------


def test_goal_evaluation_of_gc_ttt_on_workers_equals_serial(ray_local, dataset):
    ttt = gc_ttt(dataset)
    on_ray = evaluate_goal_policy(ttt, ExitGoalEnv, episodes_per_task=6, seed=3, workers=2)
    assert ttt.stats.adaptations == 0  # the tasks adapted copies, not this wrapper
    serial = evaluate_goal_policy(ttt, ExitGoalEnv, episodes_per_task=6, seed=3)
    assert ttt.stats.adaptations > 6 and ttt.stats.adaptation_errors == ttt.stats.too_little_data == 0
    assert_same_goal_episodes(on_ray, serial)
    assert len(set(serial.lengths.ravel().tolist())) > 1
    assert on_ray.steps_per_second > 0 and on_ray.policy_ms_per_step > 0

    # Not vacuous: other minibatch streams give other episodes.
    other = evaluate_goal_policy(gc_ttt(dataset, seed=1), ExitGoalEnv, episodes_per_task=6, seed=3)
    assert not np.array_equal(other.lengths, serial.lengths)


def test_goal_evaluation_of_a_sampling_agent_on_workers_equals_serial(ray_local):
    agent = gcbc()
    on_ray = evaluate_goal_policy(agent, ExitGoalEnv, episodes_per_task=6, deterministic=False, workers=2)
    serial = evaluate_goal_policy(agent, ExitGoalEnv, episodes_per_task=6, deterministic=False)
    assert_same_goal_episodes(on_ray, serial)
    assert len(set(serial.lengths.ravel().tolist())) > 1


@pytest.mark.parametrize(("n_envs", "n_episodes"), [(1, 6), (4, 10)])  # 10 = batches of 4, 4, 2
def test_success_evaluation_on_workers_equals_serial(ray_local, n_envs, n_episodes):
    actor = memory_actor()
    settings = dict(n_episodes=n_episodes, seed=5, deterministic=False, n_envs=n_envs)
    on_ray = evaluate_success(actor, MEMORY_ENV, **settings, workers=2)
    serial = evaluate_success(actor, MEMORY_ENV, **settings)
    assert_same_episodes(on_ray, serial)
    assert len(set(serial.lengths.tolist())) > 1 and on_ray.steps_per_second > 0


# -- reseed: an episode is a function of its seed ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gc-ttt", "sampling-agent"])
def test_goal_episodes_do_not_depend_on_the_episodes_before(kind, dataset):
    model = gc_ttt(dataset) if kind == "gc-ttt" else gcbc()
    deterministic = kind == "gc-ttt"
    together = evaluate_goal_policy(model, ExitGoalEnv, episodes_per_task=3, seed=10, deterministic=deterministic)
    for episode in (2, 0):  # the other way round, on the model the episodes above went through
        alone = evaluate_goal_policy(
            model, ExitGoalEnv, episodes_per_task=1, seed=10 + episode, deterministic=deterministic
        )
        assert alone.lengths[0, 0] == together.lengths[0, episode]
        assert alone.successes[0, 0] == together.successes[0, episode]


@pytest.mark.parametrize(("n_envs", "first"), [(1, 2), (2, 2)])
def test_memory_episodes_do_not_depend_on_the_episodes_before(n_envs, first):
    actor = memory_actor()
    together = evaluate_success(actor, MEMORY_ENV, 4, seed=0, deterministic=False, n_envs=n_envs)
    later = evaluate_success(actor, MEMORY_ENV, 4 - first, seed=first, deterministic=False, n_envs=n_envs)
    np.testing.assert_array_equal(later.lengths, together.lengths[first:])
    np.testing.assert_array_equal(later.returns, together.returns[first:])


def test_random_policy_is_reseeded_too():
    together = evaluate_success("random", MEMORY_ENV, 3, seed=0)
    last = evaluate_success("random", MEMORY_ENV, 1, seed=2)
    assert last.lengths[0] == together.lengths[2]


def record_keys(ttt: TestTimeTraining, monkeypatch) -> list[tuple[int, ...]]:
    """The keys of the minibatch streams ``ttt`` fine-tunes with, in order."""
    keys: list[tuple[int, ...]] = []
    original = ttt._generator

    def recording(key):
        keys.append(tuple(key))
        return original(key)

    monkeypatch.setattr(ttt, "_generator", recording)
    return keys


def play(ttt: TestTimeTraining, env: gym.Env, seed: int, steps: int) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    actions = []
    for t in range(steps):
        action, _ = ttt.predict(obs, episode_start=np.array([t == 0]), deterministic=True)
        ttt.wait()
        actions.append(action)
        obs, *_ = env.step(action)
    return np.stack(actions)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_adaptation_keys_with_and_without_reseed(dataset, monkeypatch, asynchronous):
    ttt = gc_ttt(dataset, every=2, asynchronous=asynchronous)
    keys = record_keys(ttt, monkeypatch)
    env = ExitGoalEnv()
    play(ttt, env, seed=0, steps=4)
    play(ttt, env, seed=1, steps=2)
    assert keys == [(0, 0, 1), (0, 0, 2), (0, 0, 3)]  # never reseeded: counted over the wrapper's lifetime
    assert derived_seed((0, 0, 1)) == int(np.random.SeedSequence([0, 0, 1]).generate_state(1)[0])

    keys.clear()
    ttt.reseed(7)
    first = play(ttt, env, seed=7, steps=4)
    ttt.reseed(7)
    again = play(ttt, env, seed=7, steps=4)
    assert keys == [(0, 0, 7, 1), (0, 0, 7, 2)] * 2
    np.testing.assert_array_equal(first, again)
    ttt.close()


def test_env_indices_adapting_together_take_the_reseeded_keys(dataset, monkeypatch):
    ttt = gc_ttt(dataset)
    keys = record_keys(ttt, monkeypatch)
    envs = [PointGoalEnv(goal=(1.0, 0.0)), PointGoalEnv(goal=(-1.0, 0.5))]
    batch = [env.reset(seed=i)[0] for i, env in enumerate(envs)]
    obs = {key: np.stack([o[key] for o in batch]) for key in batch[0]}
    ttt.predict(obs, episode_start=np.ones(2, bool))
    ttt.reseed(5)
    ttt.predict(obs, episode_start=np.ones(2, bool))
    assert keys == [(0, 0, 1), (0, 1, 1), (0, 0, 5, 1), (0, 1, 5, 1)]


def test_sequence_actor_reseed_and_reset_sampling():
    actor = memory_actor()
    observations = np.zeros((8, *actor.observation_space.shape), np.float32)

    def draws():
        return actor.predict(observations, episode_start=np.ones(8, bool), deterministic=False)[0]

    fresh = draws()
    actor.reseed(3)
    reseeded = draws()
    actor.reseed(3)
    np.testing.assert_array_equal(draws(), reseeded)
    actor.reset_sampling()
    np.testing.assert_array_equal(draws(), fresh)
    assert not np.array_equal(reseeded, fresh)


class ThreadProbe:
    """Acts 0 and notes torch's thread count at every step."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        self.threads.add(torch.get_num_threads())
        return 0, state


def test_serial_episodes_run_on_the_torch_threads_asked_for():
    before, probe = torch.get_num_threads(), ThreadProbe()
    evaluate_success(probe, MEMORY_ENV, 1)
    evaluate_success(probe, MEMORY_ENV, 1, torch_threads=before + 1)
    assert probe.threads == {before, before + 1} and torch.get_num_threads() == before


# -- arguments, Ray missing, pickling ---------------------------------------------------------------------------------


def test_workers_below_one_are_refused():
    with pytest.raises(ValueError, match="workers must be at least 1"):
        evaluate_success("random", MEMORY_ENV, 1, workers=0)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        evaluate_goal_policy(gcbc(), ExitGoalEnv, episodes_per_task=1, workers=0)


def test_workers_need_ray_and_one_worker_does_not(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as without the extra
    with pytest.raises(ImportError, match=r"ttt-gym\[ray\]"):
        evaluate_success("random", MEMORY_ENV, 2, workers=2)
    with pytest.raises(ImportError, match=r"ttt-gym\[ray\]"):
        evaluate_goal_policy(gcbc(), ExitGoalEnv, episodes_per_task=2, workers=2)
    assert len(evaluate_success("random", MEMORY_ENV, 1).lengths) == 1
    assert evaluate_goal_policy(gcbc(), ExitGoalEnv, episodes_per_task=1).lengths.shape == (1, 1)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_pickled_wrapper_starts_afresh_and_acts_the_same(dataset, asynchronous):
    ttt = gc_ttt(dataset, asynchronous=asynchronous)
    env = ExitGoalEnv()
    play(ttt, env, seed=0, steps=4)  # slots, copies and (asynchronous) a worker thread exist now
    copy = pickle.loads(pickle.dumps(ttt))
    assert copy._slots == {} and copy.stats == ttt.stats
    for wrapper in (ttt, copy):
        wrapper.reseed(3)
    np.testing.assert_array_equal(play(copy, env, seed=3, steps=5), play(ttt, env, seed=3, steps=5))
    assert copy.stats.adaptations == ttt.stats.adaptations > 2  # the copy adapted on its own, as the original
    ttt.close()
    copy.close()


def test_a_wrapper_around_a_squashing_sb3_policy_pickles(dataset):
    """SAC's policy squashes: the wrapper's view of the data rescales actions with a closure, rebuilt on unpickling."""
    model, env = build("sac-dict")
    selector = make_selector("relevant-only", dataset, epsilon=0.5)
    ttt = TestTimeTraining(model.policy, dataset, selector=selector, steps=2, batch_size=16)
    copy = pickle.loads(pickle.dumps(ttt))
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(copy.predict(obs, deterministic=True)[0], ttt.predict(obs, deterministic=True)[0])
    assert copy.stats.adaptations == ttt.stats.adaptations == 1
