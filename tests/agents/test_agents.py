"""Behaviour shared by GCBC, GCIVL and GCIQL: training, acting, persistence, the SB3 policy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from stable_baselines3.common.policies import BasePolicy

from ttt_gym.agents import GCBC, GCIQL, GCIVL, GoalConditionedAgent, GoalConditionedPolicy
from ttt_gym.data import GoalSamplingConfig

from .conftest import ACTION_DIM, OBS_DIM, TINY

AGENTS = [GCBC, GCIVL, GCIQL]
CRITIC_AGENTS = [GCIVL, GCIQL]


def _losses(agent: GoalConditionedAgent, dataset, steps: int, key: str) -> list[float]:
    return [
        agent.update(dataset.sample(agent.config.batch_size, agent.rng, agent.config.goal_sampling()))[key]
        for _ in range(steps)
    ]


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        (GCBC, ["actor/actor_loss"]),
        (GCIVL, ["value/value_loss"]),
        (GCIQL, ["value/value_loss", "critic/critic_loss", "actor/mse"]),  # DDPG+BC's total moves with Q
    ],
)
def test_losses_decrease_on_a_toy_dataset(cls, keys, goal_spaces, line_dataset):
    agent = cls(goal_spaces, line_dataset, **TINY, seed=1)
    sampling = agent.config.goal_sampling()
    history = []
    for _ in range(150):
        batch = line_dataset.sample(agent.config.batch_size, agent.rng, sampling)
        history.append(agent.update(batch))
    for key in keys:
        first = np.mean([h[key] for h in history[:15]])
        last = np.mean([h[key] for h in history[-15:]])
        assert last < first, f"{cls.__name__} {key}: {first:.4f} -> {last:.4f}"


def test_gcbc_learns_to_head_for_the_goal(goal_spaces, line_dataset):
    agent = GCBC(goal_spaces, line_dataset, hidden_dims=(64, 64), batch_size=128, lr=1e-3, seed=0)
    agent.learn(400, progress_bar=False, log_interval=0)
    rng = np.random.default_rng(123)
    obs = rng.uniform(-1, 1, size=(256, OBS_DIM))
    direction = rng.normal(size=(256, OBS_DIM))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    goals = obs + rng.uniform(0.3, 1.4, size=(256, 1)) * direction
    actions, _ = agent.predict(obs, goal=goals, deterministic=True)
    cosine = np.sum(actions * direction, axis=1) / np.linalg.norm(actions, axis=1)
    assert np.median(cosine) > 0.9


@pytest.mark.parametrize("cls", AGENTS)
def test_predict_shapes_for_single_and_batched_observations(cls, goal_spaces):
    agent = cls(goal_spaces, **TINY)
    obs, goal = np.zeros(OBS_DIM), np.ones(OBS_DIM)
    action, state = agent.predict(obs, goal=goal, deterministic=True)
    assert action.shape == (ACTION_DIM,) and state is None
    actions, _ = agent.predict(np.zeros((5, OBS_DIM)), goal=np.ones((5, OBS_DIM)))
    assert actions.shape == (5, ACTION_DIM)
    dict_action, _ = agent.predict({"observation": obs, "achieved_goal": obs, "desired_goal": goal}, deterministic=True)
    np.testing.assert_array_equal(dict_action, action)
    batched, _ = agent.predict({"observation": np.zeros((3, OBS_DIM)), "desired_goal": np.ones((3, OBS_DIM))})
    assert batched.shape == (3, ACTION_DIM)
    sampled, _ = agent.predict(np.zeros((1000, OBS_DIM)), goal=np.ones((1000, OBS_DIM)))  # SB3's default: a sample
    assert sampled.min() >= -1 and sampled.max() <= 1 and sampled.std() > 0.3  # unit std, clipped


def test_predict_explains_a_missing_goal_and_wrong_inputs(goal_spaces):
    agent = GCBC(goal_spaces, **TINY)
    with pytest.raises(ValueError, match="goal=info"):
        agent.predict(np.zeros(OBS_DIM))
    with pytest.raises(ValueError, match="tuple"):
        agent.predict((np.zeros(OBS_DIM), {}))
    with pytest.raises(ValueError, match="full_goal=True"):
        agent.predict(np.zeros(OBS_DIM), goal=np.zeros(OBS_DIM + 3))


@pytest.mark.parametrize("cls", AGENTS)
def test_save_load_round_trip_is_exact(cls, goal_spaces, line_dataset, tmp_path):
    agent = cls(goal_spaces, line_dataset, **TINY, seed=3, const_std=False)
    agent.learn(5, progress_bar=False, log_interval=0)
    path = tmp_path / "agent.pt"
    agent.save(path)
    loaded = cls.load(path, line_dataset)

    assert loaded.config == agent.config and loaded.num_timesteps == 5
    for (name, a), (_, b) in zip(agent.policy.state_dict().items(), loaded.policy.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for a, b in zip(agent.critics.state_dict().values(), loaded.critics.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    obs = np.random.default_rng(0).normal(size=(16, OBS_DIM))
    np.testing.assert_array_equal(
        agent.predict(obs, goal=obs[::-1], deterministic=True)[0],
        loaded.predict(obs, goal=obs[::-1], deterministic=True)[0],
    )
    if hasattr(agent, "value"):
        np.testing.assert_array_equal(agent.value(obs, obs[::-1]), loaded.value(obs, obs[::-1]))

    # Optimizer moments and the sampling RNG came along: training continues identically.
    agent.learn(3, progress_bar=False, log_interval=0)
    loaded.learn(3, progress_bar=False, log_interval=0)
    for a, b in zip(agent.actor.parameters(), loaded.actor.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_names_the_right_class_and_bad_files(goal_spaces, tmp_path):
    path = tmp_path / "gcbc.pt"
    GCBC(goal_spaces, **TINY).save(path)
    with pytest.raises(TypeError, match=r"GCBC\.load"):
        GCIQL.load(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        GCBC.load(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"corrupt\.pt"):
        GCBC.load(corrupt)


def test_seed_fixes_initial_weights(goal_spaces):
    a, b, c = GCIQL(goal_spaces, **TINY, seed=7), GCIQL(goal_spaces, **TINY, seed=7), GCIQL(goal_spaces, **TINY, seed=8)
    for pa, pb in zip(a.critics.parameters(), b.critics.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert not torch.equal(a.actor.trunk.layers[0].weight, c.actor.trunk.layers[0].weight)


@pytest.mark.parametrize("cls", AGENTS)
def test_policy_is_an_sb3_policy(cls, goal_spaces):
    agent = cls(goal_spaces, **TINY)
    assert isinstance(agent.policy, BasePolicy) and isinstance(agent.policy, GoalConditionedPolicy)
    obs = {"observation": np.zeros(OBS_DIM), "desired_goal": np.ones(OBS_DIM)}
    action, _ = agent.policy.predict(obs, deterministic=True)
    np.testing.assert_array_equal(action, agent.predict(obs, deterministic=True)[0])
    with torch.no_grad():
        tensor_action = agent.policy({k: torch.as_tensor(v)[None] for k, v in obs.items()})
    np.testing.assert_allclose(tensor_action[0].numpy(), action, atol=1e-6)


def test_policy_runs_in_sb3_evaluate_policy_on_pointmaze(goal_spaces):
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    from ttt_gym.goal_evaluation import make_goal_env
    from ttt_gym.wrappers import GoalObservation

    env = Monitor(GoalObservation(make_goal_env("pointmaze-medium-v0", max_episode_steps=5), full_goal=True))
    agent = GCIQL(env, **TINY)
    assert agent.observation_dim == OBS_DIM
    mean_reward, _ = evaluate_policy(agent.policy, env, n_eval_episodes=2)
    assert np.isfinite(mean_reward)
    evaluate_policy(agent, env, n_eval_episodes=1)  # the agent itself has SB3's predict too


@pytest.mark.parametrize("cls", CRITIC_AGENTS)
def test_value_shapes(cls, goal_spaces):
    agent = cls(goal_spaces, **TINY)
    obs = np.zeros((7, OBS_DIM), np.float32)
    assert agent.value(obs, obs).shape == (7,)
    assert np.shape(agent.value(obs[0], obs[0])) == ()
    many = np.random.default_rng(0).normal(size=(70_000, OBS_DIM)).astype(np.float32)  # more than one chunk
    values = agent.value(many, many[::-1])
    assert values.shape == (70_000,) and values.dtype == np.float32
    np.testing.assert_allclose(values[-5:], agent.value(many[-5:], many[::-1][-5:]), rtol=1e-5, atol=1e-6)
    assert agent.value(torch.zeros(4, OBS_DIM), torch.zeros(4, OBS_DIM)).shape == (4,)


def test_gciql_q_value_shape(goal_spaces):
    agent = GCIQL(goal_spaces, **TINY)
    assert agent.q_value(np.zeros((3, OBS_DIM)), np.zeros((3, OBS_DIM)), np.zeros((3, ACTION_DIM))).shape == (3,)


def test_gcbc_has_no_critic(goal_spaces):
    assert not hasattr(GCBC(goal_spaces, **TINY), "value")


def test_unknown_config_key_lists_valid_keys(goal_spaces):
    with pytest.raises(TypeError, match=r"'expectle' \(did you mean 'expectile'\?\).*Valid keys: .*alpha"):
        GCIQL(goal_spaces, expectle=0.7)
    with pytest.raises(TypeError, match="expectile"):
        GCBC(goal_spaces, expectile=0.7)  # GCBC has no critic, so no expectile
    with pytest.raises(ValueError, match="actor_loss"):
        GCIQL(goal_spaces, actor_loss="sac")
    with pytest.raises(ValueError, match="sum"):
        GCIVL(goal_spaces, value_p_curgoal=0.5)


def test_config_defaults_are_ogbench_and_hidden_dims_sets_all(goal_spaces):
    cfg = GCIQL(goal_spaces, device="cpu").config
    assert (cfg.lr, cfg.batch_size, cfg.discount, cfg.tau, cfg.expectile, cfg.actor_loss) == (
        3e-4,
        1024,
        0.99,
        0.005,
        0.9,
        "ddpgbc",
    )
    assert cfg.actor_hidden_dims == cfg.value_hidden_dims == (512, 512, 512)
    assert GCIVL(goal_spaces).config.alpha == 10.0
    small = GCIVL(goal_spaces, hidden_dims=[16, 16]).config
    assert small.actor_hidden_dims == small.value_hidden_dims == (16, 16)
    assert small.goal_sampling() == GoalSamplingConfig()
    assert GCBC(goal_spaces).config.goal_sampling().value_p_trajgoal == 1.0


def test_actor_loss_fine_tunes_a_copy_without_touching_the_agent(goal_spaces, line_dataset):
    agent = GCIVL(goal_spaces, line_dataset, **TINY)
    before = copy.deepcopy(agent.actor.state_dict())
    critics_before = copy.deepcopy(agent.critics.state_dict())
    actor = copy.deepcopy(agent.actor)
    optimizer = torch.optim.Adam(actor.parameters(), lr=1e-3)
    batch = line_dataset.sample(64, np.random.default_rng(0), agent.config.goal_sampling())
    for _ in range(3):
        loss, _ = agent.actor_loss(batch, actor=actor)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for key, value in agent.actor.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    for key, value in agent.critics.state_dict().items():
        torch.testing.assert_close(value, critics_before[key], rtol=0, atol=0)
    assert not torch.equal(actor.mean_head.weight, agent.actor.mean_head.weight)
    # The functional form gives the same loss, for torch.func (per-episode vmap) users.
    params = {name: p.detach() for name, p in actor.named_parameters()}
    torch.testing.assert_close(agent.actor_loss(batch, params=params)[0], agent.actor_loss(batch, actor=actor)[0])


def test_dataset_and_space_mismatch_is_explained(goal_spaces, line_dataset):
    from gymnasium import spaces

    with pytest.raises(ValueError, match="observation_dim=2"):
        GCBC((spaces.Box(-1, 1, (5,)), goal_spaces[1]), line_dataset)
    with pytest.raises(TypeError, match="Box action space"):
        GCBC((goal_spaces[0], spaces.Discrete(3)))
    with pytest.raises(ValueError, match="dataset"):
        GCBC(goal_spaces, **TINY).learn(1, progress_bar=False)


def test_learn_logs_through_the_sb3_logger(goal_spaces, line_dataset, tmp_path):
    agent = GCIQL(goal_spaces, line_dataset, **TINY)
    agent.learn(4, progress_bar=False, log_interval=2, log_dir=tmp_path)
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"critic/critic_loss", "value/value_loss", "actor/actor_loss", "time/steps_per_second"} <= set(header)
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_policy_saves_and_loads_with_sb3(goal_spaces, tmp_path):
    agent = GCIVL(goal_spaces, **TINY, seed=5)
    agent.policy.save(tmp_path / "policy.pt")
    policy = GoalConditionedPolicy.load(tmp_path / "policy.pt")
    obs = {"observation": np.ones((4, OBS_DIM)), "desired_goal": -np.ones((4, OBS_DIM))}
    np.testing.assert_array_equal(policy.predict(obs)[0], agent.policy.predict(obs)[0])


def test_load_refuses_a_file_from_a_newer_format(goal_spaces, tmp_path):
    path = tmp_path / "gcbc.pt"
    GCBC(goal_spaces, **TINY).save(path)
    state = torch.load(path, weights_only=True)
    assert state["format_version"] == 1
    torch.save({**state, "format_version": 99}, path)
    with pytest.raises(ValueError, match=r"gcbc\.pt has file format 99.*upgrade ttt_gym"):
        GCBC.load(path)


def test_gciql_extractions_share_the_critic_of_their_seed(goal_spaces, line_dataset):
    # IQL's value and Q are learned without the actor, so AWR and DDPG+BC agents of one seed train the very same critic
    # on the very same batches: comparing them compares the policy extraction alone (Park et al.'s extraction study).
    agents = {loss: GCIQL(goal_spaces, line_dataset, **TINY, actor_loss=loss, seed=3) for loss in ("ddpgbc", "awr")}
    for agent in agents.values():
        agent.learn(30, progress_bar=False)
    ddpgbc, awr = (agents[loss].critics.state_dict() for loss in ("ddpgbc", "awr"))
    assert {"value", "critic", "target_critic"} <= {key.split(".")[0] for key in ddpgbc}
    assert all(torch.equal(ddpgbc[key], awr[key]) for key in ddpgbc)
    actors = [agents[loss].policy.state_dict() for loss in ("ddpgbc", "awr")]
    assert any(not torch.equal(actors[0][key], actors[1][key]) for key in actors[0])  # while the actors differ
