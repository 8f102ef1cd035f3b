"""Experts and demonstrators for every id: SB3 predict signature, success thresholds, imitation compatibility."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from ttt_envs import ENV_IDS
from ttt_gym.evaluation import evaluate_success
from ttt_gym.experts import make_demonstrator, make_expert
from ttt_gym.wrappers import PrivilegedObservation

# (metric, threshold): success rate for the memory tasks, mean return for the classic-control ones.
EXPERT_BAR = {
    "ttt_gym/MysteryPath-v0": ("success", 0.98),
    "ttt_gym/CoinSearch-v0": ("success", 0.98),
    "ttt_gym/ConfoundedControls-v0": ("success", 0.98),
    "ttt_gym/MaskedCartPole-v1": ("return", 475.0),
    "ttt_gym/MaskedAcrobot-v1": ("return", -85.0),
    **{i: ("success", 0.98) for i in ENV_IDS if "MiniGridMemory" in i},
}
#: Highest success a random policy may reach: on MiniGrid's Memory tasks a random walk ends at one of the two end
#: objects, about half the time the right one (measured 0.30-0.47).
RANDOM_CEILING = {i: 0.6 for i in ENV_IDS if "MiniGridMemory" in i}
#: Ids of the tests that evaluate episodes: of MiniGrid's six Memory ids only S7 and S17Random (the smallest grid and
#: the largest, with a random hallway), since the six together add 15 s of random walks (up to 1445 steps each) to the
#: suite; tests/envs/test_minigrid_memory.py evaluates the others' expert and demonstrator.
EVALUATED_IDS = tuple(i for i in ENV_IDS if "MiniGridMemory" not in i or i.endswith(("S7-v0", "S17Random-v0")))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_expert_is_an_sb3_policy_on_the_privileged_dict(env_id: str) -> None:
    expert = make_expert(env_id)
    env = PrivilegedObservation(gym.make(env_id))
    assert isinstance(expert, BasePolicy)
    assert expert.observation_space == env.observation_space
    assert expert.action_space == env.action_space
    obs, _ = env.reset(seed=0)
    action, state = expert.predict(obs, deterministic=True)
    assert env.action_space.contains(np.int64(action)) and state is None
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    actions, _ = expert.predict(batch, deterministic=True)
    assert actions.shape == (2,) and actions[0] == actions[1] == action


@pytest.mark.parametrize("env_id", EVALUATED_IDS)
def test_expert_meets_its_bar_and_beats_random(env_id: str) -> None:
    metric, bar = EXPERT_BAR[env_id]
    expert = evaluate_success(make_expert(env_id), env_id, n_episodes=30, seed=1000)
    random = evaluate_success("random", env_id, n_episodes=30, seed=1000)
    if metric == "success":
        assert expert.success_rate >= bar
        assert random.success_rate <= RANDOM_CEILING.get(env_id, 0.35)
    else:
        assert expert.mean_return >= bar
        assert random.mean_return < bar - 100


@pytest.mark.parametrize("env_id", EVALUATED_IDS)
def test_demonstrator_sees_only_the_partial_observation_and_beats_random(env_id: str) -> None:
    demo = make_demonstrator(env_id, rng=0)
    env = gym.make(env_id)
    assert demo.observation_space == env.observation_space
    with pytest.raises(ValueError, match="observation"):
        demo.predict(PrivilegedObservation(gym.make(env_id)).reset(seed=0)[0])
    demo_result = evaluate_success(demo, env_id, n_episodes=30, seed=2000)
    random = evaluate_success("random", env_id, n_episodes=30, seed=2000)
    assert demo_result.mean_return > random.mean_return


def test_demonstrator_threads_memory_through_sb3_evaluate_policy() -> None:
    env_id = "ttt_gym/MysteryPath-v0"
    venv = DummyVecEnv([lambda: gym.make(env_id)] * 2)
    venv.seed(0)
    mean, _ = evaluate_policy(make_demonstrator(env_id, rng=0), venv, n_eval_episodes=6)  # type: ignore[arg-type]
    assert np.isfinite(mean)


def test_unknown_env_id_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="MysteryPath-v0"):
        make_expert("ttt_gym/Nope-v0")


def test_imitation_dagger_accepts_the_expert(tmp_path) -> None:
    """imitation's SimpleDAggerTrainer takes our expert as `expert_policy`, and imitation's rollout collects its
    demonstrations on the privileged dict env, which its BC trains on.

    (imitation 1.0.1's DAgger collector itself asserts array observations, so the BC + DAgger loop on the partial
    observation with dict-observation labels is the trainers' own extension, not this test's business.)
    """
    from imitation.algorithms import bc
    from imitation.algorithms.dagger import SimpleDAggerTrainer
    from imitation.data import rollout
    from imitation.data.wrappers import RolloutInfoWrapper

    env_id = "ttt_gym/MysteryPath-v0"
    rng = np.random.default_rng(0)
    venv = DummyVecEnv([lambda: RolloutInfoWrapper(PrivilegedObservation(gym.make(env_id)))] * 2)
    venv.seed(0)
    expert = make_expert(env_id)
    learner = bc.BC(observation_space=venv.observation_space, action_space=venv.action_space, rng=rng)
    trainer = SimpleDAggerTrainer(venv=venv, scratch_dir=tmp_path, expert_policy=expert, bc_trainer=learner, rng=rng)
    assert trainer.expert_policy is expert

    trajectories = rollout.generate_trajectories(expert, venv, rollout.make_min_episodes(6), rng=rng)
    assert len(trajectories) >= 6
    assert all(t.infos[-1]["success"] for t in trajectories)  # the expert always reaches the goal
    learner.set_demonstrations(rollout.flatten_trajectories(trajectories))
    learner.train(n_batches=3)
