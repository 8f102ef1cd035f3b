"""TestTimeTraining on SB3 models (PPO, SAC, TD3, DDPG) and our agents, with a tiny goal-reaching point env."""

from __future__ import annotations

import logging
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.wrappers import FlattenObservation
from stable_baselines3 import A2C, DDPG, PPO, SAC, TD3
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from ttt_gym.agents import AGENTS, GCIQL, GCIVL
from ttt_gym.data import GoalDataset, GoalSpace
from ttt_gym.ttt.losses import PREPARE_CHUNK_SIZE, AgentActorLoss
from ttt_gym.ttt.selection import GoalRelatedSelector, make_selector
from ttt_gym.ttt.wrapper import GoalObservationAdapter, TestTimeTraining

TARGET_ACTION = np.array([1.0, 0.0], dtype=np.float32)  # every dataset action: move along +x


class PointGoalEnv(gym.Env):
    """A point that moves by 0.05 * action towards a goal; success within 0.2 (terminates)."""

    def __init__(self, *, flat: bool = False, goal: tuple[float, float] | None = None, max_steps: int = 20) -> None:
        box = spaces.Box(-5.0, 5.0, (2,), np.float32)
        self.flat = flat
        self.observation_space = (
            spaces.Box(-5.0, 5.0, (4,), np.float32)
            if flat
            else spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
        )
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.fixed_goal = None if goal is None else np.array(goal, np.float32)
        self.max_steps = max_steps

    def _obs(self):
        if self.flat:
            return np.concatenate([self.position, self.goal]).astype(np.float32)
        return {"observation": self.position.copy(), "achieved_goal": self.position.copy(), "desired_goal": self.goal}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-0.5, 0.5, 2).astype(np.float32)
        self.goal = self.fixed_goal if self.fixed_goal is not None else self.np_random.uniform(-1, 1, 2)
        self.goal = np.asarray(self.goal, np.float32)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.position = (self.position + 0.05 * np.clip(action, -1, 1)).astype(np.float32)
        self.t += 1
        success = bool(np.linalg.norm(self.position - self.goal) <= 0.2)
        return self._obs(), float(success) - 1.0, success, self.t >= self.max_steps, {"success": success}


def make_dataset(n_trajectories: int = 300, length: int = 25, action_dim: int = 2, seed: int = 0) -> GoalDataset:
    """Straight runs along +x from random starts in [-1, 1]^2; the action is always (1, 0)."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-1, 1, (n_trajectories, 1, 2))
    steps = np.arange(length + 1)[None, :, None] * np.array([0.05, 0.0])
    observations = (starts + steps).reshape(-1, 2).astype(np.float32)
    actions = np.zeros((len(observations), action_dim), np.float32)
    actions[:, 0] = 1.0
    terminals = np.zeros((n_trajectories, length + 1), dtype=bool)
    terminals[:, -1] = True
    return GoalDataset.from_arrays(
        observations, actions, terminals.reshape(-1), goal_space=GoalSpace((0, 1), group_size=2, tolerance=0.2)
    )


@pytest.fixture(scope="module")
def dataset() -> GoalDataset:
    return make_dataset()


def relevant_only(dataset: GoalDataset):
    return make_selector("relevant-only", dataset, epsilon=0.5)


TINY = {"net_arch": [16]}


def build(kind: str, env: gym.Env | None = None, device: str = "cpu"):
    """A tiny untrained model of ``kind`` on ``device``, and its env."""
    flat = kind.endswith("flat")
    env = env if env is not None else PointGoalEnv(flat=flat)
    policy = "MlpPolicy" if flat else "MultiInputPolicy"
    common = {"policy_kwargs": dict(TINY), "seed": 0, "device": device}  # SB3 writes into policy_kwargs
    off_policy = {"buffer_size": 64, "learning_starts": 0}
    if kind.startswith("ppo"):
        return PPO(policy, env, n_steps=16, batch_size=16, **common), env
    if kind.startswith("a2c"):
        return A2C(policy, env, n_steps=8, **common), env
    if kind.startswith("sac"):
        return SAC(policy, env, **off_policy, **common), env
    if kind.startswith("td3"):
        return TD3(policy, env, **off_policy, **common), env
    if kind.startswith("ddpg"):
        return DDPG(policy, env, **off_policy, **common), env
    return AGENTS[kind](env, hidden_dims=(16,), batch_size=16, device=device), env


def snapshot(policy) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in policy.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def policy_of(model):
    return model.policy


KINDS = ["ppo-dict", "ppo-flat", "sac-dict", "sac-flat", "td3-flat", "ddpg-dict", "gcbc", "gcivl", "gciql"]
BEHAVIOUR_CLONING = {"ppo-dict", "ppo-flat", "sac-dict", "sac-flat", "td3-flat", "ddpg-dict", "gcbc"}


def check_adapts_a_copy_and_keeps_the_pretrained_weights(kind: str, model, env: gym.Env, dataset: GoalDataset):
    """Three adaptations in 12 steps leave the wrapped weights untouched and move the adapted copy's action (towards
    the data's (1, 0) for behaviour cloning); returns the wrapper and the last observation."""
    before = snapshot(policy_of(model))
    ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), every=5, steps=20, lr=1e-2, batch_size=32)
    obs, _ = env.reset(seed=0)
    for t in range(12):
        action, _ = ttt.predict(obs, episode_start=np.array([t == 0]), deterministic=True)
        assert env.action_space.contains(action.astype(np.float32))
        obs, *_ = env.step(action)
    assert ttt.stats.adaptation_errors == 0 and ttt.stats.adaptations == 3  # steps 0, 5 and 10
    assert same(snapshot(policy_of(model)), before), "the wrapped policy was modified"
    assert same(snapshot(ttt.pretrained_policy), before)
    assert not same(snapshot(ttt.adapted_policy(0)), before)

    # The adapted copy acts differently; behaviour cloning on (1, 0) moves its action towards (1, 0).
    probe = ttt.adapter.to_policy(np.array([[0.0, 0.0]]), np.array([[0.5, 0.0]], np.float32))
    pretrained_action, _ = ttt.pretrained_policy.predict(probe, deterministic=True)
    adapted_action, _ = ttt.adapted_policy(0).predict(probe, deterministic=True)
    assert not np.allclose(pretrained_action, adapted_action, atol=1e-4)
    if kind in BEHAVIOUR_CLONING:
        assert np.linalg.norm(adapted_action - TARGET_ACTION) < np.linalg.norm(pretrained_action - TARGET_ACTION)
    return ttt, obs


@pytest.mark.parametrize("kind", KINDS)
def test_adapts_a_copy_and_restores_the_pretrained_weights(kind, dataset):
    model, env = build(kind)
    ttt, obs = check_adapts_a_copy_and_keeps_the_pretrained_weights(kind, model, env, dataset)

    # A new episode restores the pretrained weights before adapting again, from the same start.
    ttt.predict(obs, episode_start=np.array([True]), deterministic=True)
    assert ttt.stats.adaptations == 4


def test_restore_is_exact_when_adaptation_is_skipped(dataset):
    model, env = build("ppo-dict")
    ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), every=3, steps=10, lr=1e-2, batch_size=8)
    obs, _ = env.reset(seed=0)
    for t in range(3):
        obs, *_ = env.step(ttt.predict(obs, episode_start=np.array([t == 0]))[0])
    far_away = {key: np.full(2, 4.0, np.float32) for key in obs}  # nothing relevant here
    ttt.predict(far_away)
    assert ttt.stats.too_little_data == 1
    assert same(snapshot(ttt.adapted_policy(0)), snapshot(model.policy))


def test_env_indices_adapt_separately(dataset):
    venv = DummyVecEnv([lambda: PointGoalEnv(goal=(1.0, 0.0)), lambda: PointGoalEnv(goal=(-1.0, 0.5))])
    model, _ = build("ppo-dict", venv)
    ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), every=50, steps=10, lr=1e-2, batch_size=16)
    obs = venv.reset()
    actions, _ = ttt.predict(obs, episode_start=np.ones(2, bool), deterministic=True)
    assert actions.shape == (2, 2)
    first, second = ttt.adapted_policy(0), ttt.adapted_policy(1)
    assert first is not second and not same(snapshot(first), snapshot(second))
    first_before, second_before = snapshot(first), snapshot(second)

    # Env 0 starts a new episode with a new goal; env 1 carries on: only env 0 adapts again.
    obs["desired_goal"][0] = [0.0, -1.0]
    ttt.predict(obs, episode_start=np.array([True, False]), deterministic=True)
    assert ttt.stats.adaptations == 3
    assert same(snapshot(ttt.adapted_policy(1)), second_before)
    assert not same(snapshot(ttt.adapted_policy(0)), first_before)

    # A changed goal alone (no episode_start) also restarts that env's adaptation.
    obs["desired_goal"][1] = [0.5, 0.5]
    ttt.predict(obs, episode_start=np.zeros(2, bool))
    assert ttt.stats.adaptations == 4


def test_evaluate_policy_accepts_the_wrapper(dataset):
    venv = DummyVecEnv([lambda: Monitor(PointGoalEnv(max_steps=8))] * 2)
    model, _ = build("sac-dict", venv)
    ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), every=4, steps=5, batch_size=16, env=venv)
    mean_reward, _ = evaluate_policy(ttt, venv, n_eval_episodes=4)
    assert np.isfinite(mean_reward)
    assert ttt.stats.steps >= 16 and ttt.stats.adaptations >= 4 and ttt.stats.adaptation_errors == 0


def test_evaluate_goal_policy_on_pointmaze(tmp_path):
    from ttt_gym.data import generate_dataset
    from ttt_gym.goal_evaluation import evaluate_goal_policy

    name = "pointmaze-medium-navigate-v0"
    data = GoalDataset.load(
        generate_dataset(name, num_episodes=2, path=tmp_path, progress_bar=False, episode_steps=200, num_workers=1)
    )
    box = spaces.Box(-np.inf, np.inf, (2,), np.float32)
    agent = GCIVL((box, spaces.Box(-1.0, 1.0, (2,), np.float32)), hidden_dims=(16,), device="cpu")
    selector = make_selector("gc-ttt", data, agent.value, epsilon=30.0)  # tiny data: everything is relevant
    ttt = TestTimeTraining(agent, data, selector=selector, every=5, steps=3, batch_size=16)
    result = evaluate_goal_policy(ttt, name, tasks=(1,), episodes_per_task=1, max_episode_steps=10)
    assert result.lengths.tolist() == [[10]]
    assert ttt.stats.adaptations == 2 and ttt.stats.adaptation_errors == 0 and selector.stats.critic_states > 0


def test_default_selector_uses_the_models_own_critic(dataset):
    agent, _ = build("gciql")
    ttt = TestTimeTraining(agent, dataset)
    assert isinstance(ttt.selector, GoalRelatedSelector) and ttt.selector.optimality == "h_step"
    assert ttt.selector.critic == agent.value
    assert ttt.device == torch.device("cpu")
    model, _ = build("td3-flat")  # V(s, g) = Q(s, g, pi(s, g)) of the model itself
    selector = TestTimeTraining(model, dataset).selector
    assert type(selector.critic).__name__ == "ModelCritic" and selector.optimality == "h_step"
    model, _ = build("ppo-dict")  # no Q critic: critic-free
    selector = TestTimeTraining(model, dataset).selector
    assert selector.critic is None and selector.optimality == "monte_carlo"


def test_too_little_data_acts_pretrained_and_says_why(dataset, caplog):
    model, env = build("ppo-dict")
    ttt = TestTimeTraining(model, dataset, selector=make_selector("relevant-only", dataset, epsilon=1e-6), every=2)
    obs, _ = env.reset(seed=0)
    with caplog.at_level(logging.WARNING, logger="ttt_gym.ttt.wrapper"):
        for t in range(4):
            action, _ = ttt.predict(obs, episode_start=np.array([t == 0]), deterministic=True)
            np.testing.assert_array_equal(action, model.predict(obs, deterministic=True)[0])
    assert ttt.stats.too_little_data == 2 and ttt.stats.adaptations == 0
    assert "min_selected" in caplog.text


def test_errors_during_adaptation_do_not_stop_the_control_loop(dataset, caplog):
    def broken_loss(policy, batch):
        raise RuntimeError("boom")

    model, env = build("td3-flat")
    ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), loss=broken_loss, every=2, steps=3)
    obs, _ = env.reset(seed=0)
    with caplog.at_level(logging.WARNING, logger="ttt_gym.ttt.wrapper"):
        for t in range(4):
            action, _ = ttt.predict(obs, episode_start=np.array([t == 0]), deterministic=True)
            np.testing.assert_array_equal(action, model.predict(obs, deterministic=True)[0])
    assert ttt.stats.adaptation_errors == 2 and ttt.stats.adaptations == 0
    assert "boom" in caplog.text
    assert same(snapshot(ttt.adapted_policy(0)), snapshot(model.policy))


def test_mismatched_spaces_are_explained(dataset):
    model, _ = build("ppo-dict")
    with pytest.raises(ValueError, match="dataset's actions have 3"):
        TestTimeTraining(model, make_dataset(n_trajectories=5, action_dim=3))
    flat5 = ActorCriticPolicy(spaces.Box(-5, 5, (5,), np.float32), spaces.Box(-1, 1, (2,), np.float32), lambda _: 1e-3)
    with pytest.raises(ValueError, match="flat observation has 5 entries"):
        TestTimeTraining(flat5, dataset)
    with pytest.raises(ValueError, match="wrap the env"):
        TestTimeTraining(model, dataset, env=PointGoalEnv(flat=True))
    with pytest.raises(ValueError, match="desired_goal"):
        GoalObservationAdapter(spaces.Dict({"observation": spaces.Box(-1, 1, (2,))}), dataset)
    with pytest.raises(ValueError, match="dataset's observations have 2"):
        GoalObservationAdapter(
            spaces.Dict({"observation": spaces.Box(-1, 1, (3,)), "desired_goal": spaces.Box(-1, 1, (2,))}), dataset
        )
    discrete = PPO("MlpPolicy", "CartPole-v1", device="cpu")
    with pytest.raises(TypeError, match="Box action space"):
        TestTimeTraining(discrete, dataset)
    with pytest.raises(TypeError, match="SB3 model"):
        TestTimeTraining(object(), dataset)
    agent, _ = build("gcbc")
    with pytest.raises(ValueError, match="lives on cpu"):
        TestTimeTraining(agent, dataset, device="cuda")
    with pytest.raises(ValueError, match="every >= 1"):
        TestTimeTraining(model, dataset, every=0)
    ttt = TestTimeTraining(model, dataset)
    with pytest.raises(ValueError, match=r"\(obs, info\) tuple"):
        ttt.predict(({"observation": np.zeros(2)}, {}))


def test_flattened_goal_observation_with_its_key_order(dataset):
    env = FlattenObservation(PointGoalEnv())  # sorted keys: achieved_goal, desired_goal, observation
    model, _ = build("ppo-flat", env)
    ttt = TestTimeTraining(
        model, dataset, selector=relevant_only(dataset), flat_keys=("achieved_goal", "desired_goal", "observation")
    )
    obs, _ = env.reset(seed=3)
    states, goals, batched = ttt.adapter.split(obs)
    np.testing.assert_array_equal(states[0], env.unwrapped.position)
    np.testing.assert_array_equal(goals[0], env.unwrapped.goal)
    assert not batched
    ttt.predict(obs, episode_start=np.array([True]))
    assert ttt.stats.adaptations == 1 and ttt.stats.adaptation_errors == 0


def test_asynchronous_mode_acts_while_adapting(dataset):
    model, env = build("ppo-dict")
    ttt = TestTimeTraining(
        model, dataset, selector=relevant_only(dataset), every=100, steps=30, lr=1e-2, batch_size=32, asynchronous=True
    )
    obs, _ = env.reset(seed=0)
    pretrained_action = model.predict(obs, deterministic=True)[0]
    first, _ = ttt.predict(obs, episode_start=np.array([True]), deterministic=True)
    np.testing.assert_array_equal(first, pretrained_action)  # the adaptation runs in the background
    ttt.wait()
    adapted, _ = ttt.predict(obs, deterministic=True)
    assert ttt.stats.adaptations == 1 and not np.allclose(adapted, pretrained_action, atol=1e-4)

    # A result that arrives after its episode ended is dropped; the new episode's adaptation is used.
    ttt.predict(obs, episode_start=np.array([True]))
    ttt.predict(obs, episode_start=np.array([True]))
    ttt.close()
    assert ttt.stats.discarded_adaptations == 1 and ttt.stats.adaptations == 3
    assert ttt.stats.adaptation_errors == 0
    assert same(snapshot(model.policy), snapshot(ttt.pretrained_policy))


def test_rewards_are_the_selectors_success_test_without_a_goal_space(dataset):
    # Without a goal space the selector's returns count a state within success_tolerance as at the goal; its
    # Selection says which rows those are, and the fine-tuning batch's rewards and masks are exactly that.
    from ttt_gym.ttt.batch import build_batch
    from ttt_gym.ttt.selection import Selection

    data = GoalDataset.from_arrays(dataset.observations, dataset.actions, dataset.steps_to_end == 0)
    assert data.goal_space is None
    selector = make_selector("relevant-only", data, epsilon=5.0, success_tolerance=0.2, subtrajectory_steps=1)
    goal = data.observations[7] + np.float32(0.1)  # near row 7, equal to no state
    selection = selector.select(data.observations[0], goal)
    assert len(selection) == len(data)  # everything is within 5.0
    at_goal = np.linalg.norm(data.observations[selection.indices] - goal, axis=1) <= 0.2
    assert 0 < at_goal.sum() < len(data)
    np.testing.assert_array_equal(selection.reaches_goal, at_goal)
    critic_free = make_selector("critic-free", data, epsilon=5.0, success_tolerance=0.2)
    np.testing.assert_array_equal(critic_free.returns(selection.indices, goal) == 0.0, at_goal)  # reached at once
    agent, _ = build("gcbc")
    ttt = TestTimeTraining(agent, data, selector=selector)
    batch = build_batch(data, selection, goal, ttt._view, ttt.device).transitions
    np.testing.assert_array_equal(batch.rewards.numpy() == 0.0, at_goal)
    np.testing.assert_array_equal(batch.masks.numpy() == 0.0, at_goal)
    # Bare indices (a user's selector): the dataset's own test, exact equality without a goal space.
    bare = Selection.of(np.arange(len(data)), data, data.observations[7])
    np.testing.assert_array_equal(bare.reaches_goal, np.all(data.observations == data.observations[7], axis=1))
    with pytest.raises(ValueError, match=r"writable|read-only"):
        selection.indices[0] = 1


def test_optimizer_kwargs_reach_adam(dataset):
    agent, env = build("gcbc")
    obs, _ = env.reset(seed=0)
    weights = {}
    for name, kwargs in (("default", None), ("fused", {"fused": True}), ("foreach", {"foreach": True})):
        ttt = TestTimeTraining(
            agent, dataset, selector=relevant_only(dataset), steps=10, lr=1e-2, batch_size=16, optimizer_kwargs=kwargs
        )
        ttt.predict(obs, episode_start=np.array([True]))
        weights[name] = snapshot(ttt.adapted_policy(0))
    assert same(weights["default"], weights["foreach"])  # foreach is the CPU default
    for key, value in weights["default"].items():  # fused: the same steps up to float rounding
        torch.testing.assert_close(weights["fused"][key], value, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="lr="):
        TestTimeTraining(agent, dataset, optimizer_kwargs={"lr": 1e-3})
    with pytest.raises(ValueError, match="not options of torch"):
        TestTimeTraining(agent, dataset, optimizer_kwargs={"momentum": 0.9})


@pytest.mark.parametrize("kind", ["gcivl", "gciql-awr"])
def test_frozen_critics_run_once_per_adaptation_not_per_step(kind, dataset):
    env = PointGoalEnv()
    agent = (
        GCIVL(env, hidden_dims=(16,), alpha=1.0, device="cpu")
        if kind == "gcivl"
        else GCIQL(env, hidden_dims=(16,), actor_loss="awr", alpha=1.0, device="cpu")
    )
    calls: list[str] = []
    for name in ("value", "critic"):
        if name in agent.critics:
            agent.critics[name].register_forward_hook(lambda *_, name=name: calls.append(name))
    agent_loss = AgentActorLoss(agent)
    options = {"selector": relevant_only(dataset), "every": 5, "steps": 6, "lr": 1e-2, "batch_size": 1024}
    runs = {
        "prepared": TestTimeTraining(agent, dataset, **options),  # the default loss: AgentActorLoss with prepare
        "per step": TestTimeTraining(agent, dataset, loss=lambda policy, batch: agent_loss(policy, batch), **options),
    }
    critics = [name for name in ("value", "critic") if name in agent.critics]
    for name, ttt in runs.items():
        calls.clear()
        obs, _ = env.reset(seed=0)
        for t in range(7):
            obs, *_ = env.step(ttt.predict(obs, episode_start=np.array([t == 0]), deterministic=True)[0])
        assert ttt.stats.adaptations == 2 and ttt.stats.adaptation_errors == 0  # steps 0 and 5
        # Prepared: each critic once per chunk of the selection and adaptation; a plain callable: once per step.
        per_adaptation = math.ceil(ttt.stats.last_selected / PREPARE_CHUNK_SIZE) if name == "prepared" else 6
        assert sorted(calls) == sorted(critics * 2 * per_adaptation), name
        assert ttt.stats.last_selected <= 6 * 1024  # else the wrapper skips prepare (below)
    # A selection larger than the steps draw (6 x 4 rows here) is not prepared: the critics run per step instead.
    calls.clear()
    small = TestTimeTraining(agent, dataset, **{**options, "batch_size": 4})
    obs, _ = env.reset(seed=0)
    small.predict(obs, episode_start=np.array([True]), deterministic=True)
    assert small.stats.last_selected > 6 * 4 and sorted(calls) == sorted(critics * 6)
    # The same fine-tuning either way (up to float rounding: the weights come from batches of other sizes).
    prepared, per_step = runs["prepared"], runs["per step"]
    assert prepared.stats.last_selected == per_step.stats.last_selected
    assert prepared.stats.last_loss_first == pytest.approx(per_step.stats.last_loss_first, rel=1e-5)
    assert prepared.stats.last_loss_final == pytest.approx(per_step.stats.last_loss_final, rel=1e-5)
    for key, value in snapshot(per_step.adapted_policy(0)).items():
        torch.testing.assert_close(snapshot(prepared.adapted_policy(0))[key], value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["ppo-dict", "ppo-flat", "a2c-dict", "sac-flat", "td3-flat", "ddpg-dict"])
def test_wraps_models_after_learn(kind, dataset):
    """After ``learn()`` an on-policy SB3 policy keeps the last forward's distribution (non-leaf tensors), which a
    plain deep copy refuses: the wrapper must copy trained models of every family, adapt them, and evaluate."""
    model, env = build(kind)
    model.learn(32)
    before = snapshot(policy_of(model))
    ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), every=5, steps=10, lr=1e-2, batch_size=32)
    obs, _ = env.reset(seed=0)
    adapted, _ = ttt.predict(obs, episode_start=np.array([True]), deterministic=True)
    assert env.action_space.contains(np.asarray(adapted, dtype=np.float32))
    assert ttt.stats.adaptation_errors == 0 and ttt.stats.adaptations == 1
    assert same(snapshot(policy_of(model)), before), "the wrapped policy was modified"
    assert not same(snapshot(ttt.adapted_policy(0)), before)
    pretrained, _ = model.predict(obs, deterministic=True)
    assert not np.allclose(adapted, pretrained, atol=1e-4), "adaptation did not change the action"

    mean_reward, _ = evaluate_policy(ttt, Monitor(build(kind)[1]), n_eval_episodes=2)
    assert np.isfinite(mean_reward) and ttt.stats.adaptation_errors == 0
    assert same(snapshot(policy_of(model)), before)


def test_selector_kinds_by_name(dataset):
    model, env = build("gcivl")
    for kind in ("critic-free", "gc-ttt", "relevant-only"):
        ttt = TestTimeTraining(model, dataset, selector=kind, every=5, steps=2, batch_size=8)
        assert type(ttt.selector).__name__ == "GoalRelatedSelector"
        obs, _ = env.reset(seed=0)
        ttt.predict(obs, episode_start=np.array([True]), deterministic=True)
        assert ttt.stats.adaptation_errors == 0
    with pytest.raises(ValueError, match="Unknown selector kind"):
        TestTimeTraining(model, dataset, selector="best")


def test_a_critic_may_be_given_as_the_agent(dataset):
    from ttt_gym.ttt.selection import make_selector

    agent, _ = build("gcivl")
    selector = make_selector("gc-ttt", dataset, critic=agent)
    assert selector.critic == agent.value
    with pytest.raises(TypeError, match=r"agent\.value"):
        make_selector("gc-ttt", dataset, critic=object())


class PointGoalEnvWithGoalSpace(PointGoalEnv):
    """The point env, with velocity-like padding (4-d observations, 2-d goal coordinates) and its goal space."""

    goal_space = GoalSpace((0, 1), group_size=2, tolerance=0.2)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        box, padded = spaces.Box(-5.0, 5.0, (2,), np.float32), spaces.Box(-5.0, 5.0, (4,), np.float32)
        self.observation_space = spaces.Dict({"observation": padded, "achieved_goal": box, "desired_goal": box})

    def _obs(self):
        obs = super()._obs()
        obs["observation"] = np.concatenate([self.position, np.zeros(2, np.float32)])
        return obs


def padded_dataset(goal_space: GoalSpace | None) -> GoalDataset:
    base = make_dataset(100)
    observations = np.zeros((len(base) + base.num_trajectories, 4), np.float32)
    terminals = np.zeros(len(observations), bool)
    row = 0
    for trajectory in range(base.num_trajectories):
        rows = np.flatnonzero(base.trajectory_ids == trajectory)
        n = len(rows)
        observations[row : row + n, :2] = base.observations[rows]
        observations[row + n, :2] = base.next_observations[rows[-1]]
        terminals[row + n] = True
        row += n + 1
    actions = np.tile(TARGET_ACTION, (len(observations), 1))
    return GoalDataset.from_arrays(observations, actions, terminals, goal_space=goal_space, source="my_data.npz")


def test_goal_space_is_taken_from_the_env_when_the_dataset_has_none():
    unknown = padded_dataset(goal_space=None)
    venv = DummyVecEnv([lambda: Monitor(PointGoalEnvWithGoalSpace())])
    model = PPO("MultiInputPolicy", venv, n_steps=16, batch_size=16, policy_kwargs=dict(TINY), seed=0, device="cpu")
    for ttt in (
        TestTimeTraining(model, unknown, selector="relevant-only", steps=2, batch_size=8),  # from model.get_env()
        TestTimeTraining(model.policy, unknown, selector="relevant-only", steps=2, env=PointGoalEnvWithGoalSpace()),
    ):
        assert ttt.dataset.goal_space == PointGoalEnvWithGoalSpace.goal_space
        assert ttt.dataset.observations is unknown.observations  # shared, not copied
        ttt.predict(venv.reset(), episode_start=np.array([True]))
        assert ttt.stats.adaptations == 1 and ttt.stats.adaptation_errors == 0
    assert unknown.goal_space is None
    with pytest.raises(ValueError, match=r"no known goal space.*pass env="):  # nobody knows it: a clear error
        TestTimeTraining(model.policy, unknown, selector="relevant-only")


def test_goal_space_of_a_goal_observation_pointmaze():
    from ttt_gym.goal_evaluation import make_goal_env
    from ttt_gym.ttt.adapter import env_goal_space
    from ttt_gym.wrappers import GoalObservation

    env = Monitor(GoalObservation(make_goal_env("pointmaze-medium-navigate-v0")))
    expected = GoalSpace((0, 1), group_size=2, tolerance=1.0)
    assert env_goal_space(env) == expected
    assert env_goal_space(DummyVecEnv([lambda: env])) == expected
    assert env_goal_space(PointGoalEnv()) is None


def sac_on_padded_env():
    env = PointGoalEnvWithGoalSpace(goal=(0.6, 0.0))
    model = SAC("MultiInputPolicy", env, buffer_size=256, learning_starts=32, policy_kwargs=dict(TINY), seed=0)
    return model.learn(96), env


def test_sac_own_critic_drives_gc_ttt_selection():
    from ttt_gym.ttt.critics import ModelCritic

    model, env = sac_on_padded_env()
    dataset = padded_dataset(PointGoalEnvWithGoalSpace.goal_space)
    ttt = TestTimeTraining(model, dataset, selector="gc-ttt", every=5, steps=5, batch_size=16, min_selected=4)
    critic = ttt.selector.critic
    assert isinstance(critic, ModelCritic) and critic.discount == model.gamma == ttt.selector.discount
    obs, _ = env.reset(seed=0)
    ttt.predict(obs, episode_start=np.array([True]), deterministic=True)
    assert ttt.stats.adaptations == 1 and ttt.stats.adaptation_errors == 0
    assert ttt.selector.stats.critic_states > 0  # the H-step returns consulted the SAC's Q

    # V(s, g) = Q(s, g, pi(s, g)), the smaller head, on the selector's scale; full goal observations and goal
    # coordinates give the same values.
    states = dataset.observations[:64]
    goals = dataset.observations[100:164]
    with torch.no_grad():
        obs_tensor, _ = model.policy.obs_to_tensor(ttt.adapter.to_policy(states, goals[:, :2]))
        q = torch.min(*model.critic(obs_tensor, model.actor(obs_tensor, deterministic=True))).squeeze(1).numpy()
    expected = (model.gamma * q - 1) / (1 - model.gamma)
    np.testing.assert_allclose(critic(states, goals), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(critic(states, goals[:, :2]), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ModelCritic(ttt.pretrained_policy, ttt.adapter, 0.99, rescale=False)(states, goals), q)

    # The default selector uses it too; a model without a Q critic is refused with the fix named.
    assert isinstance(TestTimeTraining(model, dataset).selector.critic, ModelCritic)
    with pytest.raises(TypeError, match="critic-free"):
        ModelCritic(build("ppo-dict")[0].policy, ttt.adapter, 0.99)


def test_tqc_own_critic_is_the_mean_quantile():
    from sb3_contrib import TQC

    from ttt_gym.ttt.critics import ModelCritic

    env = PointGoalEnvWithGoalSpace(goal=(0.6, 0.0))
    model = TQC("MultiInputPolicy", env, buffer_size=64, learning_starts=0, policy_kwargs=dict(TINY), seed=0)
    model.learn(16)
    dataset = padded_dataset(PointGoalEnvWithGoalSpace.goal_space)
    ttt = TestTimeTraining(model, dataset, selector="gc-ttt", every=5, steps=2, batch_size=8, min_selected=4)
    critic = ttt.selector.critic
    assert isinstance(critic, ModelCritic)
    states, goals = dataset.observations[:8], dataset.observations[50:58, :2]
    with torch.no_grad():
        obs, _ = model.policy.obs_to_tensor(ttt.adapter.to_policy(states, goals))
        quantiles = model.critic(obs, model.actor(obs, deterministic=True))  # (n, n_critics, n_quantiles)
    expected = quantiles.reshape(len(states), -1).mean(dim=1).numpy()
    np.testing.assert_allclose(ModelCritic(model.policy, ttt.adapter, 0.99, rescale=False)(states, goals), expected)
    obs, _ = env.reset(seed=0)
    ttt.predict(obs, episode_start=np.array([True]))
    assert ttt.stats.adaptation_errors == 0 and ttt.stats.adaptations == 1  # a TQC copy was fine-tuned


def test_adaptation_runs_on_its_own_thread_count_and_restores_the_callers(dataset):
    seen = []

    def loss(policy, batch):
        seen.append(torch.get_num_threads())
        return log_likelihood_loss(policy, batch)

    from ttt_gym.ttt.losses import log_likelihood_loss

    model, env = build("ppo-dict")
    obs, _ = env.reset(seed=0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        ttt = TestTimeTraining(model, dataset, selector=relevant_only(dataset), steps=3, batch_size=8, loss=loss)
        ttt.predict(obs, episode_start=np.array([True]))
        assert seen == [1, 1, 1] and torch.get_num_threads() == 2
        seen.clear()
        untouched = TestTimeTraining(
            model, dataset, selector=relevant_only(dataset), steps=2, batch_size=8, loss=loss, torch_threads=None
        )
        untouched.predict(obs, episode_start=np.array([True]))
        assert seen == [2, 2]
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="torch_threads"):
        TestTimeTraining(model, dataset, torch_threads=0)


@pytest.mark.parametrize("kind", ["ppo-dict", "ppo-flat", "sac-dict", "td3-flat", "ddpg-dict", "gcbc", "gcivl"])
def test_env_indices_adapting_together_end_where_they_would_alone(kind, dataset):
    """Four env indices due on the same step, fine-tuned in one vmapped loop: the same weights as one at a time."""
    goals = [(1.0, 0.0), (-1.0, 0.5), (0.5, 0.5), (0.0, -1.0)]
    venv = DummyVecEnv([lambda g=g: PointGoalEnv(goal=g, flat=kind.endswith("flat")) for g in goals])
    model, _ = build(kind, venv) if not kind.startswith("gc") else build(kind)
    with torch.no_grad():  # every parameter distinct, as after training: a swapped stacking order would show
        generator = torch.Generator().manual_seed(7)
        for parameter in policy_of(model).parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))
    obs = venv.reset()
    before = snapshot(policy_of(model))
    adapted = {}
    for together in (True, False):
        ttt = TestTimeTraining(
            model,
            dataset,
            selector=relevant_only(dataset),
            every=50,
            steps=10,
            lr=1e-2,
            batch_size=16,
            batched_adaptation=together,
        )
        ttt.predict(obs, episode_start=np.ones(4, bool), deterministic=True)
        assert ttt.batched_adaptation is together and ttt.stats.adaptations == 4 and ttt.stats.adaptation_errors == 0
        adapted[together] = [snapshot(ttt.adapted_policy(i)) for i in range(4)]
    for alone, together in zip(adapted[False], adapted[True], strict=True):
        assert not same(alone, before)
        for key, value in alone.items():
            torch.testing.assert_close(together[key], value, rtol=1e-5, atol=1e-6)
    assert not same(adapted[True][0], adapted[True][1])  # each index on its own data
    assert same(snapshot(policy_of(model)), before)


def test_a_loss_vmap_cannot_trace_falls_back_to_one_at_a_time(dataset, caplog):
    def loss(policy, batch):  # data-dependent Python control flow: vmap refuses it
        value = log_likelihood_loss(policy, batch)
        return value * 2 if float(value) > 1e9 else value

    from ttt_gym.ttt.losses import log_likelihood_loss

    venv = DummyVecEnv([lambda g=g: PointGoalEnv(goal=g) for g in ((1.0, 0.0), (-1.0, 0.5))])
    model, _ = build("ppo-dict", venv)
    ttt = TestTimeTraining(
        model, dataset, selector=relevant_only(dataset), steps=3, batch_size=8, loss=loss, batched_adaptation=True
    )
    with caplog.at_level(logging.INFO, logger="ttt_gym.ttt.wrapper"):
        ttt.predict(venv.reset(), episode_start=np.ones(2, bool))
    assert not ttt.batched_adaptation and "one at a time" in caplog.text
    assert ttt.stats.adaptations == 2 and ttt.stats.adaptation_errors == 0
    assert TestTimeTraining(model, dataset).batched_adaptation is True  # the default path for n_envs > 1


def test_indices_with_and_without_prepared_weights_still_adapt_together(dataset):
    # A selection larger than steps x batch_size leaves GCIVL's AWR weights to the loss: mixed with prepared ones,
    # all indices go without them (the same loss values), and the batching stays on.
    goals = [(1.0, 0.0), (-1.0, 0.5), (0.5, 0.5), (0.0, -1.0)]
    venv = DummyVecEnv([lambda g=g: PointGoalEnv(goal=g) for g in goals])
    model, _ = build("gcivl")
    obs = venv.reset()
    adapted = {}
    for together in (True, False):
        ttt = TestTimeTraining(
            model, dataset, selector=relevant_only(dataset), steps=2, lr=1e-2, batch_size=1100,
            batched_adaptation=together,
        )  # fmt: skip
        ttt.predict(obs, episode_start=np.ones(4, bool), deterministic=True)
        assert ttt.batched_adaptation is together and ttt.stats.adaptations == 4
        adapted[together] = [snapshot(ttt.adapted_policy(i)) for i in range(4)]
    for alone, with_others in zip(adapted[False], adapted[True], strict=True):
        for key, value in alone.items():
            torch.testing.assert_close(with_others[key], value, rtol=1e-4, atol=1e-5)


def test_a_critic_selector_on_a_model_without_one_names_critic_free(dataset):
    model, _ = build("ppo-dict")
    with pytest.raises(ValueError, match='selector="critic-free"'):
        TestTimeTraining(model, dataset, selector="gc-ttt")
