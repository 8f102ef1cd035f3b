"""Tests of ttt_gym.trainers: expert-labelled rollouts, sequence BC, DAgger, the command line."""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from imitation.data.types import TrajectoryWithRew

from ttt_envs.experts import make_expert
from ttt_gym.evaluation import evaluate_success
from ttt_gym.policies import GRUActor, load_actor, make_actor
from ttt_gym.trainers import (
    SegmentSampler,
    build_actor,
    collate_segments,
    collect_demonstrations,
    collect_rollouts,
    executed_actions,
    sequence_bc_loss,
    train_bc,
    train_dagger,
    trajectories_to_segments,
)
from ttt_gym.trainers.bc import BestCheckpoint
from ttt_gym.trainers.cli import add_train_commands

CARTPOLE = "ttt_gym/MaskedCartPole-v1"
SHORT = {"max_episode_steps": 100}
TINY_GRU = {"hidden_dim": 32, "embed_dim": 32}
TINY_MLP = {"hidden_dims": (32, 32)}
# A DAgger run short enough for the default suite that still teaches a GRU position-only CartPole.
SHORT_DAGGER: dict[str, Any] = dict(
    total_timesteps=3000,
    seed=0,
    n_demo_episodes=8,
    round_timesteps=500,
    gradient_steps_per_step=0.1,
    n_envs=8,
    validation_episodes=8,
    env_kwargs=SHORT,
    progress_bar=False,
)


class RecordingExpert:
    """Wraps the expert and records every action it returns."""

    def __init__(self, env_id: str) -> None:
        self.expert = make_expert(env_id)
        self.actions: list[Any] = []

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        assert isinstance(observation, dict) and set(observation) == {"obs", "state"}
        action, state = self.expert.predict(observation, state, episode_start, deterministic)
        self.actions.append(np.asarray(action))
        return action, state


@pytest.fixture(scope="module")
def demos() -> list[TrajectoryWithRew]:
    return collect_demonstrations(CARTPOLE, min_episodes=4, seed=0, env_kwargs=SHORT, n_envs=1)


def _gru() -> GRUActor:
    return build_actor("gru", CARTPOLE, seed=0, actor_kwargs=TINY_GRU)  # type: ignore[return-value]


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_rollouts_label_every_step_with_the_expert(beta: float) -> None:
    expert = RecordingExpert(CARTPOLE)
    trajectories = collect_rollouts(
        CARTPOLE, expert, _gru(), beta=beta, min_episodes=2, min_timesteps=150, seed=1, env_kwargs=SHORT, n_envs=1
    )
    steps = sum(len(t.acts) for t in trajectories)
    assert steps >= 150 and len(trajectories) >= 2
    labels = np.concatenate([t.acts for t in trajectories])
    queried = np.concatenate([np.atleast_1d(a) for a in expert.actions])  # batches of one env
    np.testing.assert_array_equal(labels, queried)  # one expert query per step, stored as label
    for t in trajectories:
        assert isinstance(t, TrajectoryWithRew)
        assert t.obs.shape == (len(t.acts) + 1, 2)  # partial observations, not the privileged dict
    used_expert = np.array([info["expert_executed"] for t in trajectories for info in t.infos])
    executed = np.concatenate([executed_actions(t) for t in trajectories])
    np.testing.assert_array_equal(executed[used_expert], labels[used_expert])
    if beta == 1.0:
        assert used_expert.all()
        np.testing.assert_array_equal(executed, labels)
    elif beta == 0.0:
        assert not used_expert.any()
        assert (executed != labels).any()  # an untrained learner disagrees with the expert somewhere
    else:
        assert 0.35 < used_expert.mean() < 0.65


def test_rollouts_thread_the_learner_memory() -> None:
    """With beta=0 and the mode, each executed action is what the actor picks given the whole executed history."""
    actor = _gru()
    (trajectory,) = collect_rollouts(
        CARTPOLE, make_expert(CARTPOLE), actor, beta=0.0, seed=2, deterministic_learner=True, env_kwargs=SHORT, n_envs=1
    )
    batch = collate_segments(trajectories_to_segments([trajectory]))
    with torch.no_grad():
        out = actor.forward_sequence(batch.observations, previous_actions=batch.previous_actions, mask=batch.mask)
    np.testing.assert_array_equal(out.params.argmax(-1)[0].numpy(), executed_actions(trajectory))


def test_rollouts_are_seeded() -> None:
    def run() -> list[TrajectoryWithRew]:
        return collect_rollouts(CARTPOLE, make_expert(CARTPOLE), _gru(), beta=0.5, seed=3, env_kwargs=SHORT, n_envs=1)

    first, second = run(), run()
    np.testing.assert_array_equal(first[0].obs, second[0].obs)
    np.testing.assert_array_equal(executed_actions(first[0]), executed_actions(second[0]))


def test_rollouts_need_a_learner_below_beta_one() -> None:
    with pytest.raises(ValueError, match="needs a learner"):
        collect_rollouts(CARTPOLE, make_expert(CARTPOLE), None, beta=0.5, n_envs=1)


def test_segments_and_padding(demos: list[TrajectoryWithRew]) -> None:
    lengths = [len(t.acts) for t in demos]
    whole = trajectories_to_segments(demos)
    assert [len(s) for s in whole] == lengths
    chunks = trajectories_to_segments(demos, chunk_len=30)
    assert sum(len(s) for s in chunks) == sum(lengths) and max(len(s) for s in chunks) == 30
    short = [
        TrajectoryWithRew(
            obs=demos[0].obs[:6], acts=demos[0].acts[:5], infos=None, terminal=False, rews=demos[0].rews[:5]
        )
    ]
    batch = collate_segments(trajectories_to_segments([*short, demos[0]]))
    assert batch.observations.shape == (2, lengths[0], 2)
    assert batch.mask.sum(1).tolist() == [5, lengths[0]]
    assert batch.n_steps == 5 + lengths[0]
    with pytest.raises(ValueError, match="chunk_len"):
        trajectories_to_segments(demos, chunk_len=0)


@pytest.mark.parametrize("window", [None, 25])
def test_bc_reduces_the_loss(demos: list[TrajectoryWithRew], window: int | None) -> None:
    before = sequence_bc_loss(_gru(), demos)
    actor = train_bc(
        CARTPOLE,
        "gru",
        demos,
        n_batches=60,
        window=window,
        burn_in=10 if window else 0,
        batch_size=4,
        lr=3e-3,
        validation_episodes=0,
        actor_kwargs=TINY_GRU,
        progress_bar=False,
    )
    after = sequence_bc_loss(actor, demos)
    assert after < 0.7 * before, (before, after)


def test_bc_accepts_a_class_or_an_actor_and_is_seeded(demos: list[TrajectoryWithRew]) -> None:
    kwargs: dict[str, Any] = {"n_batches": 2, "batch_size": 4, "validation_episodes": 0, "progress_bar": False}
    first = train_bc(CARTPOLE, GRUActor, demos, actor_kwargs=TINY_GRU, **kwargs)
    second = train_bc(CARTPOLE, "gru", demos, actor_kwargs=TINY_GRU, **kwargs)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    actor = make_actor("mlp", first.observation_space, first.action_space, **TINY_MLP)
    assert train_bc(CARTPOLE, actor, demos, **kwargs) is actor
    with pytest.raises(ValueError, match="Unknown actor"):
        train_bc(CARTPOLE, "lstm", demos, **kwargs)
    with pytest.raises(ValueError, match="exactly one of n_batches and n_epochs"):
        train_bc(CARTPOLE, "gru", demos, n_epochs=2, validation_episodes=0)


@pytest.mark.parametrize("spellings", [("ttt-linear", "ttt_linear"), ("transformer-ctx1", "Transformer_CTX1")])
def test_actor_names_accept_dashes_and_underscores(demos: list[TrajectoryWithRew], spellings) -> None:
    kwargs: dict[str, Any] = {"n_batches": 1, "batch_size": 2, "validation_episodes": 0, "progress_bar": False}
    first, second = (train_bc(CARTPOLE, name, demos, actor_kwargs={"embed_dim": 16}, **kwargs) for name in spellings)
    assert type(first) is type(second) and first.config == second.config
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    if "ctx1" in spellings[0]:
        assert first.config.context == 1  # type: ignore[attr-defined]


def test_trained_actor_saves_and_loads(demos: list[TrajectoryWithRew], tmp_path) -> None:
    actor = train_bc(
        CARTPOLE,
        "gru",
        demos,
        n_batches=2,
        batch_size=4,
        validation_episodes=0,
        actor_kwargs=TINY_GRU,
        progress_bar=False,
    )
    actor.save(tmp_path / "gru.pt")
    loaded = load_actor(tmp_path / "gru.pt")
    assert sequence_bc_loss(loaded, demos) == sequence_bc_loss(actor, demos)
    assert evaluate_success(loaded, CARTPOLE, 2, env_kwargs=SHORT).mean_return == pytest.approx(
        evaluate_success(actor, CARTPOLE, 2, env_kwargs=SHORT).mean_return
    )


def test_short_dagger_gru_beats_the_memoryless_mlp(tmp_path) -> None:
    """Position-only CartPole: velocity must be inferred from the history, which the MLP cannot see."""
    from stable_baselines3.common.logger import configure

    common = SHORT_DAGGER
    gru = train_dagger(
        CARTPOLE,
        "gru",
        actor_kwargs=TINY_GRU,
        checkpoint_dir=tmp_path / "ckpt",
        logger=configure(str(tmp_path / "log"), ["csv"]),
        **common,
    )
    mlp = train_dagger(CARTPOLE, "mlp", actor_kwargs=TINY_MLP, **common)
    gru_return = evaluate_success(gru, CARTPOLE, 20, seed=1000, env_kwargs=SHORT).mean_return
    mlp_return = evaluate_success(mlp, CARTPOLE, 20, seed=1000, env_kwargs=SHORT).mean_return
    random_return = evaluate_success("random", CARTPOLE, 20, seed=1000, env_kwargs=SHORT).mean_return
    assert gru_return >= 90.0 and gru_return > mlp_return + 30.0, (gru_return, mlp_return, random_return)
    rounds = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert rounds[0] == "round_000.pt" and len(rounds) >= 4
    assert isinstance(load_actor(tmp_path / "ckpt" / rounds[-1]), GRUActor)
    log = (tmp_path / "log" / "progress.csv").read_text()
    assert "dagger/beta" in log and "bc/nll" in log


def test_train_memory_command(tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_train_commands(parser.add_subparsers(dest="command", required=True))
    output = tmp_path / "actor.pt"
    args = parser.parse_args(
        [
            "train-memory",
            "ttt_gym/MysteryPath-v0",
            "--policy",
            "transformer-ctx1",
            "--trainer",
            "dagger",
            "--timesteps",
            "100",
            "--demo-episodes",
            "2",
            "--labeller",
            "demonstrator",
            "--validation-episodes",
            "2",
            "--max-episode-steps",
            "40",
            "--output",
            str(output),
            "--eval-episodes",
            "2",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert load_actor(output).config.context == 1  # type: ignore[attr-defined]
    assert "ttt_gym/MysteryPath-v0 transformer-ctx1 (dagger): success" in capsys.readouterr().out


def test_lockstep_rollouts_match_the_contract() -> None:
    """n_envs=3: whole batches of episodes, every step labelled by the expert, the executed action recorded."""
    trajectories = collect_rollouts(
        CARTPOLE, make_expert(CARTPOLE), _gru(), beta=0.5, min_episodes=4, seed=2, env_kwargs=SHORT, n_envs=3
    )
    assert len(trajectories) == 6  # two batches of three
    for t in trajectories:
        assert t.obs.shape == (len(t.acts) + 1, 2)
        used = np.array([info["expert_executed"] for info in t.infos])
        np.testing.assert_array_equal(executed_actions(t)[used], t.acts[used])
    assert 0 < np.mean([info["expert_executed"] for t in trajectories for info in t.infos]) < 1
    assert len({tuple(t.obs[0].round(6)) for t in trajectories}) == 6  # each episode got its own reset seed


def test_lockstep_evaluation_equals_one_at_a_time() -> None:
    """The same seeded episodes give the same outcomes with a batched predict as one episode at a time."""
    actor = train_bc(
        CARTPOLE,
        "gru",
        collect_demonstrations(CARTPOLE, min_episodes=4, seed=0, env_kwargs=SHORT, n_envs=1),
        n_batches=10,
        validation_episodes=0,
        seed=0,
        actor_kwargs=TINY_GRU,
        env_kwargs=SHORT,
        progress_bar=False,
    )
    one = evaluate_success(actor, CARTPOLE, 7, seed=3, env_kwargs=SHORT)
    batched = evaluate_success(actor, CARTPOLE, 7, seed=3, env_kwargs=SHORT, n_envs=3)
    np.testing.assert_array_equal(one.lengths, batched.lengths)
    np.testing.assert_allclose(one.returns, batched.returns)
    np.testing.assert_array_equal(one.successes, batched.successes)
    with pytest.raises(ValueError, match="n_envs=1"):
        evaluate_success("random", CARTPOLE, 2, n_envs=2)


def test_demonstrator_demonstrations_and_relabelling_of_learner_states() -> None:
    """A human-like demonstrator (partial observation, own memory) records demos and labels a DAgger mixture: its
    labels are what it would say had it walked the visited states with the executed actions."""
    from ttt_envs.experts import make_demonstrator

    env_id = "ttt_gym/MysteryPath-v0"
    demos = collect_demonstrations(env_id, make_demonstrator(env_id, rng=0), min_episodes=6, seed=0, n_envs=3)
    assert len(demos) == 6
    assert np.mean([bool(t.infos[-1]["success"]) for t in demos]) > 0.5  # it finds the hidden path most times
    for t in demos:
        np.testing.assert_array_equal(executed_actions(t), t.acts)
    mixed = collect_rollouts(env_id, make_demonstrator(env_id, rng=1), _gru_for(env_id), beta=0.5, seed=0, n_envs=1)
    (episode,) = mixed
    executed = executed_actions(episode)
    assert 0 < np.mean(executed != episode.acts)  # the learner's own moves were executed at some steps
    replay = make_demonstrator(env_id, rng=1)
    memory, labels = None, []
    for t, action in enumerate(executed):
        label, memory = replay.predict(episode.obs[t][None], memory, np.array([t == 0]))
        memory = replay.record_actions(memory, action[None])
        labels.append(label[0])
    np.testing.assert_array_equal(np.asarray(labels), episode.acts)


def _gru_for(env_id: str) -> GRUActor:
    return build_actor("gru", env_id, seed=0, actor_kwargs=TINY_GRU)  # type: ignore[return-value]


def test_window_sampler_reports_its_scored_steps_and_burns_in(demos: list[TrajectoryWithRew]) -> None:
    segments = trajectories_to_segments(demos)
    sampler = SegmentSampler(segments, batch_size=64, rng=np.random.default_rng(0), window=10, burn_in=4)
    scored = 0
    for _ in range(40):
        batch = sampler.sample()
        assert batch.mask.shape[1] <= 14 and batch.loss_mask.sum(1).max() <= 10
        assert bool((batch.loss_mask <= batch.mask).all())
        burn = (batch.mask & ~batch.loss_mask).sum(1)
        assert burn.max() <= 4 and bool((batch.loss_mask.sum(1) > 0).all())
        scored += batch.n_steps
    # the expected scored steps per batch is what the sampler reports (used to plan training)
    assert scored / 40 == pytest.approx(sampler.steps_per_batch, rel=0.1)
    whole = SegmentSampler(segments, batch_size=2, rng=np.random.default_rng(0))
    # whole episodes: an epoch (two batches of the four episodes) uses every step exactly once
    assert whole.sample().n_steps + whole.sample().n_steps == sum(len(s) for s in segments)


def test_dagger_training_cost_is_linear_in_the_steps_collected(tmp_path) -> None:
    """Adam steps = gradient_steps_per_step x steps collected (demonstrations included), not epochs x aggregate."""
    import csv

    from stable_baselines3.common.logger import configure

    rows = {}
    for total in (600, 1800):
        folder = tmp_path / str(total)
        train_dagger(
            CARTPOLE,
            "mlp",
            total,
            seed=0,
            n_demo_episodes=2,
            round_timesteps=300,
            gradient_steps_per_step=0.05,
            n_envs=3,
            validation_episodes=0,
            actor_kwargs=TINY_MLP,
            env_kwargs=SHORT,
            progress_bar=False,
            logger=configure(str(folder), ["csv"]),
        )
        rounds = [r for r in csv.DictReader((folder / "progress.csv").open()) if r.get("dagger/round")]
        demo_steps = int(rounds[0]["dagger/round_timesteps"])
        collected = int(rounds[-1]["dagger/total_timesteps"])
        batches = int(rounds[-1]["dagger/batches"])
        per_round = [int(r["dagger/round_timesteps"]) for r in rounds[1:]]
        assert per_round and all(steps >= 300 for steps in per_round[:-1])  # round_timesteps at least, but the last
        expected = np.ceil(0.05 * demo_steps) + sum(np.ceil(0.05 * s) for s in per_round)
        assert batches == expected, (batches, expected)
        rows[total] = (collected, batches)
    (c1, b1), (c2, b2) = rows[600], rows[1800]
    assert c2 >= 3 * 600 and b2 - b1 == pytest.approx(0.05 * (c2 - c1), abs=len(rows) * 10)


def _script_validation(monkeypatch: pytest.MonkeyPatch, successes: list[float]) -> list[bool]:
    """Make every validation return the next of ``successes`` (also its return); the modes asked for are recorded."""
    import ttt_gym.evaluation
    from ttt_gym.evaluation import EvaluationResult

    scores, modes = iter(successes), []

    def scripted(*args: Any, deterministic: bool, **kwargs: Any) -> EvaluationResult:
        modes.append(deterministic)
        success = next(scores)
        return EvaluationResult(np.array([success]), np.array([success]), np.array([1]), 1.0)

    monkeypatch.setattr(ttt_gym.evaluation, "evaluate_success", scripted)
    return modes


def _validate_changing_weights(best: BestCheckpoint, actor: torch.nn.Module, n_checks: int) -> list[dict]:
    """Shift every weight by 1 before each of ``n_checks`` validations, then restore the best; the weights seen."""
    snapshots = []
    for step in range(n_checks):
        with torch.no_grad():
            for parameter in actor.parameters():
                parameter.add_(1.0)
        snapshots.append({k: v.clone() for k, v in actor.state_dict().items()})
        best(step)
    best.restore()
    return snapshots


def test_best_checkpoint_restores_the_validation_best_weights_and_way_of_acting(monkeypatch, tmp_path) -> None:
    # (by the mode, sampled) success per validation: the best is step 1, sampled.
    modes = _script_validation(monkeypatch, [0.2, 0.1, 0.3, 0.8, 0.5, 0.4])
    actor = _gru()
    assert actor.validated_deterministic is None
    best = BestCheckpoint(actor, CARTPOLE, n_episodes=5, seed=0)
    snapshots = _validate_changing_weights(best, actor, 3)
    assert modes == [True, False] * 3
    assert best.best_step == 1 and best.best == (0.8, 0.8) and actor.validated_deterministic is False
    for key, value in actor.state_dict().items():
        torch.testing.assert_close(value, snapshots[1][key], rtol=0, atol=0)
    actor.save(tmp_path / "actor.pt")
    assert load_actor(tmp_path / "actor.pt").validated_deterministic is False


def test_best_checkpoint_gives_ties_to_the_later_checkpoint(monkeypatch) -> None:
    # Validation saturates at step 1 and ties at step 2: the later, longer-trained weights are kept.
    _script_validation(monkeypatch, [0.4, 0.2, 1.0, 0.6, 1.0, 0.9, 0.8, 0.8])
    actor = _gru()
    best = BestCheckpoint(actor, CARTPOLE, n_episodes=5, seed=0)
    snapshots = _validate_changing_weights(best, actor, 4)
    assert best.best_step == 2 and best.best == (1.0, 1.0) and actor.validated_deterministic is True
    for key, value in actor.state_dict().items():
        torch.testing.assert_close(value, snapshots[2][key], rtol=0, atol=0)


def test_evaluation_acts_the_validated_way_unless_told() -> None:
    class Recorder:
        validated_deterministic = False

        def __init__(self) -> None:
            self.seen: set[bool] = set()

        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            self.seen.add(deterministic)
            return np.zeros(len(observation), dtype=np.int64), state

    policy = Recorder()
    evaluate_success(policy, CARTPOLE, 2, n_envs=2)
    assert policy.seen == {False}
    policy.seen.clear()
    evaluate_success(policy, CARTPOLE, 2, n_envs=2, deterministic=True)
    assert policy.seen == {True}


@pytest.mark.parametrize("name", ["ttt-linear", "ttt-e2e"])
def test_trainers_fit_the_ttt_actors(demos: list[TrajectoryWithRew], name: str, tmp_path) -> None:
    config = {"embed_dim": 16, "num_layers": 1, "num_heads": 2}
    before = sequence_bc_loss(build_actor(name, CARTPOLE, seed=0, actor_kwargs=config), demos)
    actor = train_bc(
        CARTPOLE,
        name,
        demos,
        n_batches=40,
        batch_size=4,
        lr=3e-3,
        validation_episodes=2,
        validate_every=20,
        actor_kwargs=config,
        env_kwargs=SHORT,
        progress_bar=False,
    )
    assert sequence_bc_loss(actor, demos) < 0.8 * before
    dagger = train_dagger(
        CARTPOLE,
        name,
        300,
        seed=0,
        n_demo_episodes=3,
        round_timesteps=150,
        gradient_steps_per_step=0.05,
        n_envs=3,
        validation_episodes=3,
        actor_kwargs=config,
        env_kwargs=SHORT,
        progress_bar=False,
    )
    dagger.save(tmp_path / "actor.pt")
    assert type(load_actor(tmp_path / "actor.pt")) is type(actor)
    assert evaluate_success(dagger, CARTPOLE, 3, seed=5, env_kwargs=SHORT, n_envs=3).mean_return > 0


def test_trainers_leave_torch_global_generator_alone(demos: list[TrajectoryWithRew]) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_bc(
        CARTPOLE,
        "gru",
        demos,
        n_batches=2,
        batch_size=2,
        validation_episodes=2,
        actor_kwargs=TINY_GRU,
        env_kwargs=SHORT,
        progress_bar=False,
    )
    train_dagger(
        CARTPOLE,
        "gru",
        100,
        seed=1,
        n_demo_episodes=2,
        round_timesteps=100,
        n_envs=2,
        validation_episodes=2,
        actor_kwargs=TINY_GRU,
        env_kwargs=SHORT,
        progress_bar=False,
    )
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_bad_trainer_arguments_fail_before_any_work(demos: list[TrajectoryWithRew]) -> None:
    with pytest.raises(ValueError, match="n_batches must be >= 0"):
        train_bc(CARTPOLE, "mlp", demos, n_batches=-3, validation_episodes=0)
    with pytest.raises(ValueError, match="n_epochs must be positive"):
        train_bc(CARTPOLE, "mlp", demos, n_batches=None, n_epochs=0, validation_episodes=0)
    with pytest.raises(ValueError, match="burn_in needs a window"):
        train_bc(CARTPOLE, "mlp", demos, window=None, burn_in=4, validation_episodes=0)
    with pytest.raises(ValueError, match="seed must be in"):
        train_bc(CARTPOLE, "mlp", demos, n_batches=1, seed=5_000)

    class Forgetful:  # a partial-observation labeller that cannot be told what was executed
        observation_space = gym.spaces.Box(-1, 1, (2,))

        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            return np.zeros(len(observation), dtype=np.int64), state

    with pytest.raises(ValueError, match="record_actions"):
        train_dagger(CARTPOLE, "mlp", 100, Forgetful(), validation_episodes=0)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_dagger(CARTPOLE, "mlp", 100, lr_schedule="linear")


def test_whole_episode_batches_never_repeat_an_episode(demos: list[TrajectoryWithRew]) -> None:
    segments = trajectories_to_segments(demos)
    sampler = SegmentSampler(segments, batch_size=3, rng=np.random.default_rng(1))
    for _ in range(30):
        batch = sampler.sample()
        first_obs = {tuple(row[0].tolist()) for row in batch.observations}
        assert len(first_obs) == 3


@pytest.mark.parametrize(
    ("env_id", "env_kwargs", "expected"),
    [
        ("ttt_gym/MysteryPath-v0", {}, 3.0),  # one cell is 2 / (grid_size - 1) in the normalised input
        ("ttt_gym/MysteryPath-v0", {"grid_size": 9}, 4.0),
        ("ttt_gym/ConfoundedControls-v0", {}, 20.0),  # 1 / step_length
        ("ttt_gym/ConfoundedControls-v0", {"step_length": 0.1}, 10.0),
        ("ttt_gym/CoinSearch-v0", {}, 0.0),
        ("ttt_gym/ConfoundedControlsPixels-v0", {}, 0.0),  # no measured recipe for changes of CNN features
        (CARTPOLE, {}, 0.0),
    ],
)
def test_memory_actors_take_the_envs_recommended_observation_change_by_default(
    env_id: str, env_kwargs: dict[str, Any], expected: float
) -> None:
    # The table recipe as the trainers' default: the memory actors get the env's factor, the memoryless floors none,
    # and an explicit setting always wins.
    for name in ("gru", "transformer", "ttt-linear", "ttt-e2e"):
        assert build_actor(name, env_id, **env_kwargs).config.observation_delta == expected
    for floor in ("mlp", "transformer-ctx1"):
        assert build_actor(floor, env_id, **env_kwargs).config.observation_delta == 0.0
    explicit = build_actor("gru", env_id, actor_kwargs={"observation_delta": 0.5}, **env_kwargs)
    assert explicit.config.observation_delta == 0.5
    floor = build_actor("mlp", env_id, actor_kwargs={"observation_delta": 2.0}, **env_kwargs)
    assert floor.config.observation_delta == 2.0


def test_device_argument_places_a_new_actor_and_moves_a_given_one(demos: list[TrajectoryWithRew]) -> None:
    kwargs: dict[str, Any] = {"n_batches": 1, "batch_size": 2, "validation_episodes": 0, "progress_bar": False}
    actor = train_bc(CARTPOLE, "gru", demos, actor_kwargs=TINY_GRU, device="cpu", **kwargs)
    assert actor.device.type == "cpu"
    assert build_actor(actor, CARTPOLE, device="cpu") is actor  # moved in place, not copied
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert build_actor("gru", CARTPOLE, actor_kwargs=TINY_GRU, device="auto").device.type == expected
    with pytest.raises(RuntimeError):
        build_actor("gru", CARTPOLE, device="not-a-device")
