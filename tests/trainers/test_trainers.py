"""Tests of ttt_gym.trainers: expert-labelled rollouts, sequence BC, DAgger, the command line."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pytest
import torch
from imitation.data.types import TrajectoryWithRew

from ttt_envs.experts import make_expert
from ttt_gym.evaluation import evaluate_success
from ttt_gym.policies import GRUActor, load_actor, make_actor
from ttt_gym.trainers import (
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
from ttt_gym.trainers.cli import add_train_commands

CARTPOLE = "ttt_gym/MaskedCartPole-v1"
SHORT = {"max_episode_steps": 100}
TINY_GRU = {"hidden_dim": 32, "embed_dim": 32}
TINY_MLP = {"hidden_dims": (32, 32)}


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
    return collect_demonstrations(CARTPOLE, min_episodes=4, seed=0, env_kwargs=SHORT)


def _gru() -> GRUActor:
    return build_actor("gru", CARTPOLE, seed=0, actor_kwargs=TINY_GRU)  # type: ignore[return-value]


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_rollouts_label_every_step_with_the_expert(beta: float) -> None:
    expert = RecordingExpert(CARTPOLE)
    trajectories = collect_rollouts(
        CARTPOLE, expert, _gru(), beta=beta, min_episodes=2, min_timesteps=150, seed=1, env_kwargs=SHORT
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
        CARTPOLE, make_expert(CARTPOLE), actor, beta=0.0, seed=2, deterministic_learner=True, env_kwargs=SHORT
    )
    batch = collate_segments(trajectories_to_segments([trajectory]))
    with torch.no_grad():
        out = actor.forward_sequence(batch.observations, previous_actions=batch.previous_actions, mask=batch.mask)
    np.testing.assert_array_equal(out.params.argmax(-1)[0].numpy(), executed_actions(trajectory))


def test_rollouts_are_seeded() -> None:
    def run() -> list[TrajectoryWithRew]:
        return collect_rollouts(CARTPOLE, make_expert(CARTPOLE), _gru(), beta=0.5, seed=3, env_kwargs=SHORT)

    first, second = run(), run()
    np.testing.assert_array_equal(first[0].obs, second[0].obs)
    np.testing.assert_array_equal(executed_actions(first[0]), executed_actions(second[0]))


def test_rollouts_need_a_learner_below_beta_one() -> None:
    with pytest.raises(ValueError, match="needs a learner"):
        collect_rollouts(CARTPOLE, make_expert(CARTPOLE), None, beta=0.5)


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


@pytest.mark.parametrize("chunk_len", [None, 25])
def test_bc_reduces_the_loss(demos: list[TrajectoryWithRew], chunk_len: int | None) -> None:
    before = sequence_bc_loss(_gru(), demos)
    actor = train_bc(
        CARTPOLE,
        "gru",
        demos,
        n_epochs=60,
        chunk_len=chunk_len,
        batch_size=4,
        lr=3e-3,
        actor_kwargs=TINY_GRU,
        progress_bar=False,
    )
    after = sequence_bc_loss(actor, demos)
    assert after < 0.7 * before, (before, after)


def test_bc_accepts_a_class_or_an_actor_and_is_seeded(demos: list[TrajectoryWithRew]) -> None:
    kwargs: dict[str, Any] = {"n_epochs": 2, "batch_size": 4, "progress_bar": False}
    first = train_bc(CARTPOLE, GRUActor, demos, actor_kwargs=TINY_GRU, **kwargs)
    second = train_bc(CARTPOLE, "gru", demos, actor_kwargs=TINY_GRU, **kwargs)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    actor = make_actor("mlp", first.observation_space, first.action_space, **TINY_MLP)
    assert train_bc(CARTPOLE, actor, demos, **kwargs) is actor
    with pytest.raises(ValueError, match="Unknown actor"):
        train_bc(CARTPOLE, "lstm", demos, **kwargs)


def test_trained_actor_saves_and_loads(demos: list[TrajectoryWithRew], tmp_path) -> None:
    actor = train_bc(CARTPOLE, "gru", demos, n_epochs=2, batch_size=4, actor_kwargs=TINY_GRU, progress_bar=False)
    actor.save(tmp_path / "gru.pt")
    loaded = load_actor(tmp_path / "gru.pt")
    assert sequence_bc_loss(loaded, demos) == sequence_bc_loss(actor, demos)
    assert evaluate_success(loaded, CARTPOLE, 2, env_kwargs=SHORT).mean_return == pytest.approx(
        evaluate_success(actor, CARTPOLE, 2, env_kwargs=SHORT).mean_return
    )


def test_short_dagger_gru_beats_the_memoryless_mlp(tmp_path) -> None:
    """Position-only CartPole: velocity must be inferred from the history, which the MLP cannot see."""
    from stable_baselines3.common.logger import configure

    common: dict[str, Any] = dict(
        total_timesteps=3000,
        seed=0,
        n_demo_episodes=5,
        n_epochs=30,
        n_epochs_per_round=10,
        round_min_timesteps=500,
        env_kwargs=SHORT,
        progress_bar=False,
    )
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
            "--epochs",
            "1",
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
        collect_demonstrations(CARTPOLE, min_episodes=4, seed=0, env_kwargs=SHORT),
        n_epochs=3,
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


def test_demonstrator_demonstrations_and_its_dagger_misuse() -> None:
    """A human-like demonstrator (partial observation, own memory) records demos; it cannot label a mixture."""
    from ttt_envs.experts import make_demonstrator

    env_id = "ttt_gym/MysteryPath-v0"
    demos = collect_demonstrations(env_id, make_demonstrator(env_id, rng=0), min_episodes=6, seed=0, n_envs=3)
    assert len(demos) == 6
    assert np.mean([bool(t.infos[-1]["success"]) for t in demos]) > 0.5  # it finds the hidden path most times
    for t in demos:
        np.testing.assert_array_equal(executed_actions(t), t.acts)
    with pytest.raises(ValueError, match="privileged expert"):
        collect_rollouts(env_id, make_demonstrator(env_id, rng=0), _gru_for(env_id), beta=0.5, seed=0)


def _gru_for(env_id: str) -> GRUActor:
    return build_actor("gru", env_id, seed=0, actor_kwargs=TINY_GRU)  # type: ignore[return-value]
