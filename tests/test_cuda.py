"""The CUDA paths: sequence actors, the memory trainers, GC agents, the GC-TTT wrapper and the test-time methods.

These run only where torch sees a GPU (CI has none; ``benchmarks/device_check.sh`` runs them on one). Each test
checks the CUDA result against the CPU's or against the behaviour the CPU tests assert, not only that it runs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.policies.conftest import ACTION_SPACES, TINY, make_tiny, random_trajectories, step_params
from tests.test_wrapper import (
    PointGoalEnv,
    build,
    check_adapts_a_copy_and_keeps_the_pretrained_weights,
    make_dataset,
    same,
    snapshot,
)
from tests.trainers.test_trainers import CARTPOLE, SHORT, SHORT_DAGGER, TINY_GRU
from ttt_gym import OPEX, OnTheFlyTraining, SfBC
from ttt_gym.agents import AGENTS
from ttt_gym.evaluation import evaluate_success
from ttt_gym.policies import load_actor
from ttt_gym.trainers import train_bc, train_dagger
from ttt_gym.trainers.data import collect_demonstrations

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/device_check.sh)")

CUDA = torch.device("cuda")


@pytest.fixture
def full_float32():
    """cuDNN (the GRU) and matmuls in true float32 for the CPU comparison: cuDNN's TF32 default differs by ~3e-4."""
    cudnn, matmul = torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    yield
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.set_float32_matmul_precision(matmul)


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("action_kind", sorted(ACTION_SPACES))
def test_actor_on_cuda_matches_its_cpu_twin_and_its_own_step_form(name: str, action_kind: str, full_float32) -> None:
    cpu = make_tiny(name, action_kind)
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        for parameter in cpu.parameters():  # break the symmetries of a fresh actor
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=g))
    gpu = copy.deepcopy(cpu).to(CUDA)
    assert gpu.device.type == "cuda"
    observations, actions = random_trajectories(cpu, 3, 19, seed=4)
    starts = torch.zeros(3, 19, dtype=torch.bool)
    starts[1, 6] = True
    with torch.no_grad():
        on_cpu = cpu.forward_sequence(observations, starts, cpu.shift_actions(actions)).params
        on_gpu = gpu.forward_sequence(observations.to(CUDA), starts.to(CUDA), gpu.shift_actions(actions.to(CUDA)))
    torch.testing.assert_close(on_gpu.params.cpu(), on_cpu, rtol=1e-4, atol=1e-4)
    stepped = step_params(gpu, observations.to(CUDA), actions.to(CUDA), starts.to(CUDA))
    torch.testing.assert_close(stepped, on_gpu.params, rtol=0, atol=1e-4)

    # predict takes and returns numpy, threads its state on the GPU, and matches the CPU's deterministic actions.
    batch = np.random.default_rng(5).uniform(-2, 2, (4, 3)).astype(np.float32)
    state_cpu = state_gpu = None
    for t in range(5):
        start = np.full(4, t == 0)
        expected, state_cpu = cpu.predict(batch + t, state_cpu, start, deterministic=True)
        action, state_gpu = gpu.predict(batch + t, state_gpu, start, deterministic=True)
        assert isinstance(action, np.ndarray) and action.shape == expected.shape
        assert all(value.device.type == "cuda" for value in state_gpu.values())
        np.testing.assert_allclose(action, expected, atol=1e-4)
    sampled = [make_tiny(name, action_kind).to(CUDA).predict(batch)[0] for _ in range(2)]
    np.testing.assert_array_equal(*sampled)  # seeded sampling on the GPU's generator


@pytest.fixture(scope="module")
def demos() -> list[Any]:
    return collect_demonstrations(CARTPOLE, min_episodes=8, seed=0, env_kwargs=SHORT, n_envs=8)


@pytest.mark.parametrize("name", ["gru", "ttt-linear", "ttt-e2e", "transformer"])
def test_train_bc_on_cuda_lowers_the_loss_and_saves_a_cpu_loadable_actor(name: str, demos, tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"batch_size": 8, "validation_episodes": 0, "progress_bar": False, "seed": 0}
    kwargs["actor_kwargs"] = {"embed_dim": 32}
    untrained = train_bc(CARTPOLE, name, demos, n_batches=0, device="cuda", env_kwargs=SHORT, **kwargs)
    trained = train_bc(CARTPOLE, name, demos, n_batches=60, device="cuda", env_kwargs=SHORT, **kwargs)
    assert trained.device.type == "cuda"
    observations = torch.as_tensor(np.stack([d.obs[:-1] for d in demos[:4]]), device=CUDA)
    labels = torch.as_tensor(np.stack([d.acts for d in demos[:4]]), device=CUDA)
    with torch.no_grad():
        assert trained.loss(observations, labels)[0] < untrained.loss(observations, labels)[0] - 0.05
    trained.save(tmp_path / "actor.pt")
    on_cpu = load_actor(tmp_path / "actor.pt", device="cpu")
    assert on_cpu.device.type == "cpu"
    obs = observations[:, 0].cpu().numpy()
    np.testing.assert_array_equal(
        on_cpu.predict(obs, deterministic=True)[0], trained.predict(obs, deterministic=True)[0]
    )


def test_short_dagger_on_cuda_learns_position_only_cartpole() -> None:
    gru = train_dagger(CARTPOLE, "gru", actor_kwargs=TINY_GRU, device="cuda", **SHORT_DAGGER)
    assert gru.device.type == "cuda"
    assert evaluate_success(gru, CARTPOLE, 20, seed=1000, env_kwargs=SHORT).mean_return >= 90.0


@pytest.mark.parametrize("kind", ["sac-dict", "gcbc", "gciql"])
def test_gc_ttt_adapts_a_cuda_copy_and_keeps_the_cuda_weights(kind: str) -> None:
    model, env = build(kind, device="cuda")
    assert all(value.device.type == "cuda" for value in model.policy.state_dict().values())
    ttt, _ = check_adapts_a_copy_and_keeps_the_pretrained_weights(kind, model, env, make_dataset())
    assert ttt.device.type == "cuda"


def trained_gciql(device: str, steps: int):
    """The same tiny GC-IQL (weights initialised on the CPU from its seed) trained ``steps`` steps on ``device``."""
    agent = AGENTS["gciql"](PointGoalEnv(), make_dataset(), hidden_dims=(32, 32), batch_size=64, device=device)
    return agent.learn(steps, progress_bar=False, log_interval=0)


def test_gc_agents_train_the_same_weights_on_cuda_as_on_the_cpu() -> None:
    on_gpu = snapshot(trained_gciql("cuda", 50).policy)
    for key, value in snapshot(trained_gciql("cpu", 50).policy).items():
        torch.testing.assert_close(on_gpu[key].cpu(), value, rtol=1e-3, atol=1e-4)


def test_test_time_methods_on_a_cuda_agent_match_the_cpu_and_keep_their_contracts() -> None:
    gpu = trained_gciql("cuda", 100)
    rng = np.random.default_rng(0)
    position = rng.uniform(-1, 1, (16, 2))
    obs = {"observation": position, "achieved_goal": position, "desired_goal": rng.uniform(-1, 1, (16, 2))}
    expected, _ = OPEX(trained_gciql("cpu", 100), beta=0.05).predict(obs, deterministic=True)
    np.testing.assert_allclose(OPEX(gpu, beta=0.05).predict(obs, deterministic=True)[0], expected, atol=1e-3)

    samples, _ = SfBC(gpu, n_samples=8, seed=0).predict(obs, deterministic=True)
    base, _ = gpu.predict(obs, deterministic=True)
    assert samples.shape == (16, 2) and np.all(np.abs(samples) <= 1.0)
    assert not np.allclose(samples, base)

    before = snapshot(gpu.policy)
    on_the_fly = OnTheFlyTraining(gpu, beta=1.0, lr=1e-2, update_every=4, steps=5)
    env = PointGoalEnv(goal=(0.6, 0.0))
    state, _ = env.reset(seed=0)
    for t in range(12):
        action, _ = on_the_fly.predict(state, episode_start=np.array([t == 0]), deterministic=True)
        assert np.all(np.abs(action) <= 1.0)
        state, *_ = env.step(action)
    assert same(snapshot(gpu.policy), before), "on-the-fly training modified the wrapped policy"
