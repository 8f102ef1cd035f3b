"""OPEX, SfBC and on-the-fly training on tiny fixtures: what each does to the actions, and what it never touches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from tests.test_wrapper import PointGoalEnv, make_dataset, relevant_only, same, snapshot
from ttt_gym import OPEX, OnTheFlyTraining, SfBC, TestTimeTraining
from ttt_gym.agents import GCIQL, GCIVL

OBS = spaces.Box(-np.inf, np.inf, (2,), np.float32)
ACTIONS = spaces.Box(-1.0, 1.0, (2,), np.float32)


@pytest.fixture(scope="module")
def gciql():
    agent = GCIQL((OBS, ACTIONS), make_dataset(), hidden_dims=(32, 32), batch_size=64, seed=0)
    return agent.learn(200, progress_bar=False, log_interval=0)


def observations(n: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"observation": rng.uniform(-1, 1, (n, 2)), "desired_goal": rng.uniform(-1, 1, (n, 2))}


def q_of(agent, obs, actions) -> np.ndarray:
    return agent.q_value(obs["observation"], obs["desired_goal"], actions)


def test_opex_raises_q_over_the_policys_action_and_stays_in_bounds(gciql):
    obs = observations()
    base, _ = gciql.predict(obs, deterministic=True)
    improved, _ = OPEX(gciql, beta=0.05).predict(obs, deterministic=True)
    assert improved.shape == base.shape and np.all(np.abs(improved) <= 1.0)
    gain = q_of(gciql, obs, improved) - q_of(gciql, obs, base)
    assert (gain > 0).mean() > 0.8 and not np.allclose(improved, base)
    np.testing.assert_array_equal(OPEX(gciql, beta=0.0).predict(obs, deterministic=True)[0], base)
    huge, _ = OPEX(gciql, beta=1e6).predict(obs, deterministic=True)
    assert np.all(np.abs(huge) <= 1.0) and np.isclose(np.abs(huge), 1.0).any()  # clipped to the bounds


def test_opex_composes_with_test_time_training(gciql):
    env = PointGoalEnv(goal=(0.6, 0.0))
    dataset = make_dataset()
    ttt = TestTimeTraining(gciql, dataset, selector=relevant_only(dataset), steps=3, batch_size=16)
    opex = OPEX(ttt, beta=0.05)  # GC-TTT adapts, OPEX moves the adapted action along the agent's Q
    obs, _ = env.reset(seed=0)
    action, _ = opex.predict(obs, episode_start=np.array([True]), deterministic=True)
    assert ttt.stats.adaptations == 1 and np.all(np.abs(action) <= 1.0)


def test_sfbc_acts_with_the_best_of_its_samples(gciql):
    obs = observations(8)
    sfbc = SfBC(gciql, n_samples=16, seed=3)
    drawn = []
    candidates = sfbc.candidates
    sfbc.candidates = lambda observation: drawn.append(candidates(observation)) or drawn[-1]
    chosen, _ = sfbc.predict(obs)
    actions, values = (tensor.cpu() for tensor in drawn[0][:2])  # on the agent's device (CUDA where there is one)
    assert actions.shape == (8, 16, 2) and values.shape == (8, 16)
    expected = actions[torch.arange(8), values.argmax(1)].numpy()
    np.testing.assert_allclose(chosen, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(q_of(gciql, obs, chosen), values.max(1).values.numpy(), rtol=1e-4, atol=1e-4)
    assert (values.max(1).values > values.mean(1)).all()  # the samples differ, and the best is taken
    rng_state = torch.get_rng_state()
    SfBC(gciql, n_samples=4).predict(obs)
    assert torch.equal(torch.get_rng_state(), rng_state)  # torch's global generator is left as it was


def test_on_the_fly_training_never_mutates_the_model_and_changes_actions_once_trained():
    env = PointGoalEnv()
    model = SAC("MultiInputPolicy", env, buffer_size=64, learning_starts=0, policy_kwargs={"net_arch": [16]}, seed=0)
    model.learn(16)
    before = snapshot(model.policy)
    grads = [None if p.grad is None else p.grad.clone() for p in model.policy.parameters()]
    otf = OnTheFlyTraining(model, update_every=4, steps=5, batch_size=8, lr=1e-2)
    obs, _ = env.reset(seed=0)
    first, _ = otf.predict(obs, deterministic=True)
    for _ in range(3):
        otf.predict(obs, deterministic=True)
    assert otf.updates == 1
    after, _ = otf.predict(obs, deterministic=True)
    assert not np.allclose(first, after)
    assert same(snapshot(model.policy), before)
    for p, g in zip(model.policy.parameters(), grads, strict=True):  # no gradient ever reached the model
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)
    otf.reset()
    np.testing.assert_allclose(otf.predict(obs, deterministic=True)[0], first)
    mean_reward, _ = evaluate_policy(OnTheFlyTraining(model, update_every=5, steps=2), Monitor(env), 2)
    assert np.isfinite(mean_reward)


def test_sb3_critics_drive_opex_and_sfbc():
    env = PointGoalEnv(goal=(0.5, 0.0))
    td3 = TD3("MultiInputPolicy", env, buffer_size=64, learning_starts=0, policy_kwargs={"net_arch": [16]}, seed=0)
    td3.learn(16)
    obs, _ = env.reset(seed=0)
    base, _ = td3.predict(obs, deterministic=True)
    improved, _ = OPEX(td3, beta=0.5).predict(obs, deterministic=True)
    assert improved.shape == base.shape and env.action_space.contains(improved.astype(np.float32))
    sac = SAC("MultiInputPolicy", env, buffer_size=64, learning_starts=0, policy_kwargs={"net_arch": [16]}, seed=0)
    assert env.action_space.contains(SfBC(sac, n_samples=4).predict(obs)[0].astype(np.float32))


def test_bad_arguments_are_explained():
    env = PointGoalEnv()
    ppo = PPO("MultiInputPolicy", env, n_steps=16, batch_size=16, policy_kwargs={"net_arch": [16]})
    with pytest.raises(TypeError, match="critic="):
        OPEX(ppo)
    with pytest.raises(TypeError, match="critic="):
        SfBC(GCIVL((OBS, ACTIONS), hidden_dims=(8,)))  # a value function, no Q
    discrete = PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16)
    with pytest.raises(TypeError, match="continuous"):
        OPEX(discrete, critic=lambda obs, a: a.sum(-1))
    with pytest.raises(ValueError, match="beta"):
        OPEX(ppo, critic=lambda obs, a: a.sum(-1), beta=-1.0)
    with pytest.raises(TypeError, match="TestTimeTraining"):
        SfBC(TestTimeTraining(ppo, make_dataset(), selector=relevant_only(make_dataset())), critic=lambda o, a: a)


def test_on_the_fly_training_keeps_only_the_most_recent_states():
    env = PointGoalEnv()
    model = SAC("MultiInputPolicy", env, buffer_size=64, learning_starts=0, policy_kwargs={"net_arch": [16]}, seed=0)
    otf = OnTheFlyTraining(model, update_every=3, steps=1, batch_size=2, buffer_size=5)
    obs, _ = env.reset(seed=0)
    batch = {key: np.stack([value, value + 1]) for key, value in obs.items()}  # two envs per call
    for _ in range(9):
        otf.predict(batch)
    assert otf.updates == 3
    kept = otf._visited[0]
    assert len(kept["observation"]) == 5
