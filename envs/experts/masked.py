"""Experts and demonstrators of masked CartPole / Acrobot.

* Expert: a PPO MLP trained on the full state (shipped in ``weights/``, retrained by ``make experts``),
  run on the ``state`` entry of the ``PrivilegedObservation`` dict.
* Demonstrator: a human-like controller that sees only the masked observation; it remembers the previous
  observation and estimates the hidden velocities by finite differences, which lag by half a step and
  make it decent but imperfect (it also slips now and then).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from ttt_envs import NAMESPACE
from ttt_envs.experts.base import Demonstrator, StatePolicyExpert
from ttt_envs.masked import MaskedAcrobotEnv, MaskedCartPoleEnv, MaskedClassicControl

CARTPOLE_ID = f"{NAMESPACE}/MaskedCartPole-v1"
ACROBOT_ID = f"{NAMESPACE}/MaskedAcrobot-v1"

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class _MaskedTask:
    """What differs between the masked envs on the expert side."""

    env_class: type[MaskedClassicControl]
    name: str
    """Short name: ``train_ppo --env <name>`` retrains the expert into ``weights/<name>_ppo.zip``."""
    demonstrator: type[Demonstrator]


class ExpertWeightsError(RuntimeError):
    """The shipped PPO expert file is missing or cannot be loaded."""


def _full_id(env_id: str) -> str:
    return env_id if "/" in env_id else f"{NAMESPACE}/{env_id}"


def _task(env_id: str) -> _MaskedTask:
    full_id = _full_id(env_id)
    if full_id not in _TASKS:
        raise ValueError(f"{env_id!r} is not a masked env; use one of {sorted(_TASKS)}.")
    return _TASKS[full_id]


def default_weights_path(env_id: str) -> Path:
    """Where the shipped expert of ``env_id`` lives: ``ttt_envs/experts/weights/<name>_ppo.zip``."""
    return WEIGHTS_DIR / f"{_task(env_id).name}_ppo.zip"


def load_state_policy(env_id: str, weights_path: str | Path | None = None) -> BasePolicy:
    """Load the PPO policy that acts on the full state of ``env_id`` (on the CPU).

    Raises:
        ExpertWeightsError: the file is missing or corrupt; the message names the command that retrains it.
    """
    from stable_baselines3 import PPO

    full_id, task = _full_id(env_id), _task(env_id)
    path = Path(weights_path) if weights_path is not None else default_weights_path(full_id)
    retrain = (
        f"Retrain the experts with `make experts` (or `python -m ttt_envs.experts.train_ppo --env "
        f"{task.name}`, minutes on a CPU)."
    )
    if not path.is_file():
        raise ExpertWeightsError(f"The {full_id} expert's weights file {path} does not exist. {retrain}")
    # The schedules are only needed to keep training; replacing them makes loading independent of how
    # (and with which Python) the training script pickled its closures.
    no_schedules = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0}
    try:
        # PPO.load builds (randomly initialised) networks before loading the weights: keep the caller's global
        # torch generator untouched, so that making an expert never changes a seeded run.
        with torch.random.fork_rng(devices=[]):
            model = PPO.load(path, device="cpu", custom_objects=no_schedules)
    except Exception as error:  # zipfile, pickle and torch errors all mean the same thing here
        raise ExpertWeightsError(
            f"Could not load the {full_id} expert from {path} ({type(error).__name__}: {error}). {retrain}"
        ) from error
    return model.policy


def make_expert(env_id: str, weights_path: str | Path | None = None) -> StatePolicyExpert:
    """The privileged PPO expert of a masked env, acting on the ``PrivilegedObservation`` dict.

    Args:
        env_id: ``"ttt_gym/MaskedCartPole-v1"`` or ``"ttt_gym/MaskedAcrobot-v1"``.
        weights_path: an SB3 PPO zip trained on the full state; the shipped file by default.

    Raises:
        ExpertWeightsError: the weights file is missing or corrupt (retrain with ``make experts``).
    """
    return expert_from_state_policy(env_id, load_state_policy(env_id, weights_path))


def expert_from_state_policy(env_id: str, state_policy: BasePolicy) -> StatePolicyExpert:
    """Wrap a policy trained on the full state so that it acts on the masked env's privileged dict."""
    env = _task(env_id).env_class()
    dict_space = spaces.Dict({"obs": env.observation_space, "state": env.state_space})
    return StatePolicyExpert(dict_space, env.action_space, state_policy)


# -- demonstrators -----------------------------------------------------------------------------------------------------
class CartPoleDemonstrator(Demonstrator):
    """Balances the pole from positions only, with a PD-style rule on velocities estimated from the last step.

    Push right when ``theta + k_theta_dot * theta_dot + k_x * x + k_x_dot * x_dot > 0``: lean into the fall,
    damped by the (estimated) angular velocity, and drift back towards the centre. The velocities are finite
    differences of the last two observations, so they are zero on the first step and lag afterwards; with
    probability ``slip_probability`` the demonstrator presses the other button.

    Args:
        observation_space: the masked env's observation space ``(x, theta)``.
        action_space: ``Discrete(2)``.
        rng: generator (or seed) for the slips.
        slip_probability: chance of pressing the wrong button on a step.
    """

    #: Seconds between observations (gymnasium's ``tau``).
    DT = 0.02

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        rng: np.random.Generator | int | None = None,
        slip_probability: float = 0.15,
        gains: tuple[float, float, float, float] = (1.0, 0.35, 0.05, 0.12),
    ) -> None:
        super().__init__(observation_space, action_space, rng=rng)
        if not 0.0 <= slip_probability <= 1.0:
            raise ValueError(f"slip_probability must lie in [0, 1], got {slip_probability}.")
        self.slip_probability = slip_probability
        self.gains = gains

    def initial_memory(self) -> np.ndarray | None:
        return None  # no previous observation yet

    def act(self, obs: np.ndarray, memory: np.ndarray | None) -> tuple[int, np.ndarray]:
        x, theta = float(obs[0]), float(obs[1])
        x_dot, theta_dot = (0.0, 0.0) if memory is None else ((obs - memory) / self.DT).tolist()
        k_theta, k_theta_dot, k_x, k_x_dot = self.gains
        push = k_theta * theta + k_theta_dot * theta_dot + k_x * x + k_x_dot * x_dot
        action = int(push > 0)
        if self.rng.random() < self.slip_probability:
            action = 1 - action
        return action, np.array(obs, dtype=np.float32)

    def record_action(self, memory: np.ndarray | None, action: int) -> np.ndarray | None:
        """No-op: the memory is the last observation only; the velocities come from observations, not pushes."""
        return memory


class AcrobotDemonstrator(Demonstrator):
    """Swings the acrobot up by energy pumping on the angular velocity estimated from the last step.

    The angles come from the observed cos / sin; their wrapped difference over one step estimates the
    first link's angular velocity. The torque on the middle joint opposes that estimate, so its reaction on
    the first link pushes with the swing and adds energy every half period; with probability
    ``slip_probability`` it applies no torque.

    Args:
        observation_space: the masked env's observation space ``(cos t1, sin t1, cos t2, sin t2)``.
        action_space: ``Discrete(3)`` (torque -1, 0, +1).
        rng: generator (or seed) for the slips.
        slip_probability: chance of applying no torque on a step.
    """

    #: Seconds between observations (gymnasium's ``dt``).
    DT = 0.2

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        rng: np.random.Generator | int | None = None,
        slip_probability: float = 0.1,
    ) -> None:
        super().__init__(observation_space, action_space, rng=rng)
        if not 0.0 <= slip_probability <= 1.0:
            raise ValueError(f"slip_probability must lie in [0, 1], got {slip_probability}.")
        self.slip_probability = slip_probability

    def initial_memory(self) -> np.ndarray | None:
        return None  # no previous angles yet

    def act(self, obs: np.ndarray, memory: np.ndarray | None) -> tuple[int, np.ndarray]:
        angles = np.arctan2(obs[[1, 3]], obs[[0, 2]])
        theta1_dot = 0.0 if memory is None else _wrap_angle(angles[0] - memory[0]) / self.DT
        torque = -int(np.sign(theta1_dot))
        if self.rng.random() < self.slip_probability:
            torque = 0
        return torque + 1, angles  # actions 0, 1, 2 are torques -1, 0, +1

    def record_action(self, memory: np.ndarray | None, action: int) -> np.ndarray | None:
        """No-op: the memory is the last angles only; the velocity comes from observations, not torques."""
        return memory


def _wrap_angle(angle: float) -> float:
    """``angle`` wrapped to [-pi, pi): the shortest signed rotation."""
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def make_demonstrator(env_id: str, rng: np.random.Generator | int | None = None) -> Demonstrator:
    """A history-based heuristic acting on the masked observation of ``env_id`` only."""
    task = _task(env_id)
    env = task.env_class()
    return task.demonstrator(env.observation_space, env.action_space, rng=rng)


_TASKS: dict[str, _MaskedTask] = {
    CARTPOLE_ID: _MaskedTask(MaskedCartPoleEnv, "cartpole", CartPoleDemonstrator),
    ACROBOT_ID: _MaskedTask(MaskedAcrobotEnv, "acrobot", AcrobotDemonstrator),
}


__all__ = [
    "AcrobotDemonstrator",
    "CartPoleDemonstrator",
    "ExpertWeightsError",
    "default_weights_path",
    "expert_from_state_policy",
    "load_state_policy",
    "make_demonstrator",
    "make_expert",
]
