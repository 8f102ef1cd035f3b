"""Base classes for privileged experts and history-based demonstrators."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from ttt_envs._base import PixelView


class ScriptedExpert(BasePolicy):
    """A parameter-free SB3 policy that acts on the ``PrivilegedObservation`` dict.

    Subclasses implement :meth:`act` for one privileged state. Being a real ``BasePolicy`` (with
    ``observation_space`` / ``action_space``), it is accepted wherever SB3 or imitation expect a policy,
    e.g. as imitation's DAgger ``expert_policy`` or in ``evaluate_policy`` on a privileged env.
    """

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Space) -> None:
        if not isinstance(observation_space, spaces.Dict) or set(observation_space.spaces) != {"obs", "state"}:
            raise TypeError(
                f"{type(self).__name__} acts on Dict(obs=..., state=...); got {observation_space}. "
                "Wrap the env in ttt_gym.wrappers.PrivilegedObservation."
            )
        super().__init__(observation_space, action_space)

    @abstractmethod
    def act(self, state: np.ndarray, obs: np.ndarray) -> int:
        """The expert action for one privileged ``state`` (and the agent's own ``obs``)."""

    def _predict(self, observation: Any, deterministic: bool = True) -> th.Tensor:
        states = observation["state"].cpu().numpy()
        obs = observation["obs"].cpu().numpy()
        actions = [self.act(states[i], obs[i]) for i in range(states.shape[0])]
        return th.as_tensor(np.asarray(actions, dtype=np.int64))

    def forward(self, *args: Any, **kwargs: Any) -> th.Tensor:  # pragma: no cover - not a trainable net
        raise NotImplementedError(f"{type(self).__name__} is scripted: call predict().")


class StatePolicyExpert(BasePolicy):
    """Runs a policy trained on the full state (e.g. SB3 PPO) on the ``state`` entry of the privileged dict."""

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Space, state_policy: BasePolicy) -> None:
        super().__init__(observation_space, action_space)
        if state_policy.observation_space.shape != observation_space["state"].shape:
            raise ValueError(
                f"The state policy expects observations of shape {state_policy.observation_space.shape}, but the "
                f"env's privileged state has shape {observation_space['state'].shape}; retrain the expert."
            )
        self.state_policy = state_policy

    def _predict(self, observation: Any, deterministic: bool = True) -> th.Tensor:
        return self.state_policy._predict(observation["state"], deterministic=deterministic)

    def forward(self, *args: Any, **kwargs: Any) -> th.Tensor:  # pragma: no cover
        raise NotImplementedError("Call predict().")


class Demonstrator(ABC):
    """A human-like heuristic that sees only the partial observation and keeps its own memory.

    It has SB3's recurrent ``predict`` signature: ``state`` is a list with one memory object per env,
    threaded by the caller (``evaluate_policy`` does this), and reset where ``episode_start`` is true.

    ``predict`` assumes that the actions it returns are the ones executed. To label the states another policy
    visits (DAgger), call :meth:`record_actions` with the executed actions after each ``predict``, as with
    ``SequenceActor.record_actions``: the next memory update then uses the executed action and the observation
    it led to. Recording the demonstrator's own actions changes nothing.

    Args:
        observation_space: the env's (partial) observation space.
        action_space: the env's action space.
        rng: generator (or seed) for the demonstrator's own mistakes and tie-breaking.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    @abstractmethod
    def initial_memory(self) -> Any:
        """A fresh memory for a new episode."""

    @abstractmethod
    def act(self, obs: np.ndarray, memory: Any) -> tuple[int, Any]:
        """Choose an action for one observation and return it with the updated memory.

        The returned memory assumes the chosen action is executed (``act`` ends with ``record_action`` of it).
        """

    @abstractmethod
    def record_action(self, memory: Any, action: int) -> Any:
        """Return ``memory`` as if ``action`` had been executed at the step that produced it.

        ``memory`` is what ``act`` just returned. Must not draw from ``self.rng`` (so that relabelling keeps the
        demonstrator's random stream), and recording the action ``act`` chose must leave the memory as it was.
        A demonstrator whose memory does not depend on its own actions returns ``memory`` unchanged.
        """

    def predict(
        self,
        observation: np.ndarray,
        state: list[Any] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, list[Any]]:
        obs = np.asarray(observation)
        single = obs.shape == self.observation_space.shape
        batch = obs[None] if single else obs
        if batch.shape[1:] != self.observation_space.shape:
            raise ValueError(
                f"{type(self).__name__}.predict: observation of shape {obs.shape} does not match the env's "
                f"observation shape {self.observation_space.shape} (or a batch of it). Pass the env's own "
                "observation, not the PrivilegedObservation dict."
            )
        n = batch.shape[0]
        memories = list(state) if state is not None else [self.initial_memory() for _ in range(n)]
        if len(memories) != n:
            raise ValueError(f"{type(self).__name__}.predict: got {len(memories)} memories for {n} observations.")
        starts = np.zeros(n, dtype=bool) if episode_start is None else np.asarray(episode_start, dtype=bool).reshape(n)
        actions = np.empty(n, dtype=np.int64)
        for i in range(n):
            if starts[i]:
                memories[i] = self.initial_memory()
            actions[i], memories[i] = self.act(batch[i], memories[i])
        return (actions[0] if single else actions), memories

    def record_actions(self, state: list[Any], actions: np.ndarray) -> list[Any]:
        """Tell each env's memory which action was executed at the step just predicted.

        Mirrors ``SequenceActor.record_actions``, so a rollout loop treats learner and demonstrator alike::

            labels, state = demonstrator.predict(obs, state, episode_start)
            executed = np.where(use_expert, labels, learner_actions)
            state = demonstrator.record_actions(state, executed)

        Args:
            state: the memories returned by the last ``predict``.
            actions: the executed actions, one per env (a scalar after an un-batched ``predict``).

        Returns:
            The updated memories; memories may be updated in place, so keep using the returned list.
        """
        if state is None:
            raise ValueError(
                f"{type(self).__name__}.record_actions got state=None: pass the state returned by predict()."
            )
        memories = list(state)
        executed = np.asarray(actions).reshape(-1)
        if executed.shape[0] != len(memories):
            raise ValueError(
                f"{type(self).__name__}.record_actions: got {executed.shape[0]} actions for {len(memories)} memories; "
                "pass one executed action per env of the last predict()."
            )
        for i, action in enumerate(executed):
            if not self.action_space.contains(action):
                raise ValueError(
                    f"{type(self).__name__}.record_actions: action {action!r} is not in the action space "
                    f"{self.action_space}."
                )
            memories[i] = self.record_action(memories[i], int(action))
        return memories


class PixelDecodingDemonstrator(Demonstrator):
    """A vector demonstrator acting on a pixel env: it reads each image back into the vector it shows, then acts.

    The pixel envs draw their image from the observation vector alone (``ttt_envs._base.PixelView``), so decoding
    the image (``view.decode``) gives the demonstrator exactly what it would see in the state env (Mystery Path,
    Coin Search), or the positions to within 1e-3 (Confounded Controls): it sees only what the pixels show and reads
    no privileged state. Memory, ``record_action`` and the random stream are the wrapped demonstrator's.

    Args:
        demonstrator: the demonstrator built on the env's ``vector_observation_space``.
        view: the env's ``pixel_view`` (its ``observation_space`` is the image space).
    """

    def __init__(self, demonstrator: Demonstrator, view: PixelView) -> None:
        super().__init__(view.observation_space, demonstrator.action_space, rng=demonstrator.rng)
        self.demonstrator = demonstrator
        self.view = view

    def initial_memory(self) -> Any:
        return self.demonstrator.initial_memory()

    def act(self, obs: np.ndarray, memory: Any) -> tuple[int, Any]:
        return self.demonstrator.act(self.view.decode(obs), memory)

    def record_action(self, memory: Any, action: int) -> Any:
        return self.demonstrator.record_action(memory, action)


def build_demonstrator(
    env_id: str, build: Callable[[spaces.Space, spaces.Space], Demonstrator], **env_kwargs: Any
) -> Demonstrator:
    """``build(observation vector space, action space)`` for the env ``gym.make(env_id, **env_kwargs)``, wrapped in a
    :class:`PixelDecodingDemonstrator` when that env was made with ``obs_type="pixels"``: how every env module's
    ``make_demonstrator`` serves both observation types."""
    env = gym.make(env_id, **env_kwargs)
    try:
        base = env.unwrapped
        vector_space = getattr(base, "vector_observation_space", env.observation_space)
        demonstrator = build(vector_space, env.action_space)
        view = getattr(base, "pixel_view", None)
    finally:
        env.close()
    return demonstrator if view is None else PixelDecodingDemonstrator(demonstrator, view)


def privileged_spaces(env_id: str) -> tuple[spaces.Dict, spaces.Space, spaces.Space]:
    """``(PrivilegedObservation dict space, plain observation space, action space)`` of ``env_id``: what an expert
    (on the dict) and a demonstrator (on the plain observation) are built from."""
    from ttt_envs.wrappers import PrivilegedObservation

    env = PrivilegedObservation(gym.make(env_id))
    privileged, action_space = env.observation_space, env.action_space
    assert isinstance(privileged, spaces.Dict)
    env.close()
    return privileged, privileged["obs"], action_space
