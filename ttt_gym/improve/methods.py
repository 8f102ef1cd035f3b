"""OPEX, SfBC and on-the-fly training: act better than the policy by asking a fixed critic, at test time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from ttt_gym.improve.critics import ActionValue, action_value, policy_of
from ttt_gym.ttt.copies import adapted_module, detached_copy

__all__ = ["OPEX", "OnTheFlyTraining", "SfBC"]


class _ActsWithCritic:
    """What the three share: the policy, its critic, and the moves between env actions and the policy's own."""

    def __init__(self, model: Any, critic: ActionValue | None) -> None:
        self.model = model
        self.policy = policy_of(model)
        if not isinstance(self.policy.action_space, spaces.Box):
            raise TypeError(
                f"{type(self).__name__} moves continuous actions along the critic; the policy acts in "
                f"{self.policy.action_space}"
            )
        self.q = action_value(model, critic)
        self.device = self.policy.device
        squash = bool(getattr(self.policy, "squash_output", False))
        low = -np.ones_like(self.policy.action_space.low) if squash else self.policy.action_space.low
        high = np.ones_like(self.policy.action_space.high) if squash else self.policy.action_space.high
        self._low = torch.as_tensor(low, dtype=torch.float32, device=self.device)
        self._high = torch.as_tensor(high, dtype=torch.float32, device=self.device)

    @property
    def observation_space(self) -> spaces.Space:
        return self.policy.observation_space

    @property
    def action_space(self) -> spaces.Space:
        return self.policy.action_space

    def _observation(self, observation: Any) -> tuple[Any, bool]:
        """The policy's observation as tensors (dict keys it does not take dropped) and whether it was batched."""
        space = self.policy.observation_space
        if isinstance(observation, Mapping) and isinstance(space, spaces.Dict):
            observation = {key: np.asarray(observation[key], dtype=np.float32) for key in space.spaces}
        elif isinstance(space, spaces.Box):
            observation = np.asarray(observation, dtype=np.float32)
        return self.policy.obs_to_tensor(observation)

    def _to_policy_space(self, actions: np.ndarray) -> torch.Tensor:
        if getattr(self.policy, "squash_output", False):
            actions = self.policy.scale_action(actions)
        return torch.as_tensor(np.asarray(actions, dtype=np.float32), device=self.device).reshape(
            -1,
            *self.policy.action_space.shape,  # type: ignore[misc]
        )

    def _to_env(self, actions: torch.Tensor, batched: bool) -> np.ndarray:
        """As SB3's ``predict`` returns them: unscaled for squashing policies, clipped otherwise."""
        array = actions.detach().cpu().numpy().reshape(-1, *self.policy.action_space.shape)  # type: ignore[misc]
        if getattr(self.policy, "squash_output", False):
            array = self.policy.unscale_action(array)
        else:
            array = np.clip(array, self.policy.action_space.low, self.policy.action_space.high)  # type: ignore[attr-defined]
        return array if batched else array[0]

    def _clip(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.minimum(actions, self._high), self._low)


class OPEX(_ActsWithCritic):
    """On-the-fly policy extraction: ``a <- clip(a + beta * grad_a Q(s, g, a))`` on the model's own action.

    Example:
        >>> opex = OPEX(gciql_agent, beta=0.3)  # doctest: +SKIP
        >>> evaluate_goal_policy(opex, "pointmaze-medium-navigate-v0")  # doctest: +SKIP
        >>> evaluate_goal_policy(OPEX(TestTimeTraining(gciql_agent, dataset)), name)  # doctest: +SKIP

    Args:
        model: Anything with SB3's ``predict`` whose policy and critic can be found: a GCIQL agent, an SB3 SAC /
            TD3 / DDPG / TQC model, or a ``TestTimeTraining`` around one (its adapted action is improved, with the
            wrapped model's critic).
        critic: ``q(observation, actions) -> values`` (:data:`~ttt_gym.improve.ActionValue`); default: the model's.
        beta: Step size on the action (the paper: 0.3 on antmaze, 0.0003 on kitchen; its scale follows Q's).

    Raises:
        TypeError: no critic (given or the model's), or a discrete action space.
    """

    def __init__(self, model: Any, critic: ActionValue | None = None, *, beta: float = 0.3) -> None:
        super().__init__(model, critic)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict``: the model's action, then one gradient step of Q on it."""
        actions, state = self.model.predict(observation, state, episode_start, deterministic)
        obs, batched = self._observation(observation)
        action = self._to_policy_space(actions).requires_grad_(True)
        with torch.enable_grad():
            (gradient,) = torch.autograd.grad(self.q(obs, action).sum(), action)
        return self._to_env(self._clip(action.detach() + self.beta * gradient), batched), state

    def __repr__(self) -> str:
        return f"OPEX({type(self.model).__name__}, beta={self.beta})"


class SfBC(_ActsWithCritic):
    """Selection from behaviour candidates: ``n_samples`` actions from the policy, act with the one Q values most.

    Args:
        model: A GCIQL agent or an SB3 SAC / TD3 / DDPG / TQC model (its policy samples; TD3 / DDPG are
            deterministic, so all candidates coincide: use a stochastic policy).
        critic: As :class:`OPEX`.
        n_samples: Candidates per state (the paper: 32).
        seed: Seeds the candidates of SB3 policies (torch's global generator is left as it was); our agents'
            policies sample from their own seeded generator.
    """

    def __init__(self, model: Any, critic: ActionValue | None = None, *, n_samples: int = 32, seed: int = 0) -> None:
        super().__init__(model, critic)
        if hasattr(model, "adapted_policy"):
            raise TypeError("SfBC samples from a fixed policy; wrap the model itself, not a TestTimeTraining")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.n_samples, self.seed, self._calls = int(n_samples), int(seed), 0

    def candidates(self, observation: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """``(actions (B, n, action_dim), values (B, n), batched)`` in the policy's action space."""
        obs, batched = self._observation(observation)
        repeated = (
            {key: value.repeat_interleave(self.n_samples, 0) for key, value in obs.items()}
            if isinstance(obs, dict)
            else obs.repeat_interleave(self.n_samples, 0)
        )
        self._calls += 1
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, self._calls]).generate_state(1)[0]))
            actions = self._clip(self.policy._predict(repeated, deterministic=False))  # scored as the env acts
            values = self.q(repeated, actions)
        n_rows = len(actions) // self.n_samples
        return actions.reshape(n_rows, self.n_samples, -1), values.reshape(n_rows, self.n_samples), batched

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict``: the best of ``n_samples`` sampled actions (always sampled; ``deterministic`` unused)."""
        actions, values, batched = self.candidates(observation)
        best = actions[torch.arange(len(actions)), values.argmax(dim=1)]
        return self._to_env(best, batched), state

    def __repr__(self) -> str:
        return f"SfBC({type(self.model).__name__}, n_samples={self.n_samples})"


class OnTheFlyTraining(_ActsWithCritic):
    """Test-time training of a copy of the policy on the states visited so far (the paper's eq. 12).

    Every ``update_every`` calls of ``predict`` the copy takes ``steps`` Adam steps on minibatches of the visited
    policy observations, minimising ``-Q(s, mu(s)) / mean|Q| + beta ||mu(s) - mu_off(s)||^2``: the critic and the
    offline policy ``mu_off`` stay frozen, the Q term is normalised by its mean magnitude as in DDPG+BC. The wrapped
    model is never modified. :meth:`reset` forgets the states and restores the offline weights.

    Args:
        model: A GCIQL agent or an SB3 SAC / TD3 / DDPG / TQC model.
        critic: As :class:`OPEX`.
        beta: Weight of the pull towards the offline policy.
        lr: Adam learning rate.
        update_every: ``predict`` calls between updates.
        steps: Adam steps per update.
        batch_size: States per step (uniform over those visited).
        buffer_size: The most recent states kept.
        seed: Seeds the minibatch draws.
    """

    def __init__(
        self,
        model: Any,
        critic: ActionValue | None = None,
        *,
        beta: float = 1.0,
        lr: float = 3e-4,
        update_every: int = 100,
        steps: int = 20,
        batch_size: int = 256,
        buffer_size: int = 100_000,
        seed: int = 0,
    ) -> None:
        if hasattr(model, "adapted_policy"):
            raise TypeError("OnTheFlyTraining trains its own copy; wrap the model itself, not a TestTimeTraining")
        if min(update_every, steps, batch_size, buffer_size) < 1 or not lr > 0 or not beta >= 0:
            raise ValueError("Need update_every, steps, batch_size, buffer_size >= 1, lr > 0 and beta >= 0")
        super().__init__(model, critic)
        self.beta, self.lr, self.update_every, self.steps = float(beta), float(lr), int(update_every), int(steps)
        self.batch_size, self.buffer_size, self.seed = int(batch_size), int(buffer_size), int(seed)
        self._offline = _frozen_copy(self.policy)
        if critic is None and _is_sb3_off_policy(self.policy):
            self.q = action_value(self._offline)  # the frozen copy's critic: nothing is ever written to the model's
        self.reset()

    def reset(self) -> None:
        """Forget the visited states and start again from the offline weights."""
        self.online = _frozen_copy(self.policy)
        self._parameters = list(adapted_module(self.online).parameters())
        for parameter in self._parameters:
            parameter.requires_grad_(True)
        self._optimizer = torch.optim.Adam(self._parameters, lr=self.lr)
        self._visited: list[Any] = []
        self._calls = self.updates = 0
        self._generator = torch.Generator(device=self.device)
        self._generator.manual_seed(self.seed)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict`` with the trained copy; the observation joins the visited states first."""
        obs, batched = self._observation(observation)
        self._visited.append(obs)
        self._calls += 1
        if self._calls % self.update_every == 0:
            self._update()
        with torch.no_grad():
            actions = self.online._predict(obs, deterministic=deterministic)
        return self._to_env(actions, batched), state

    def _update(self) -> None:
        visited = _keep_last(_concatenate(self._visited), self.buffer_size)
        self._visited = [visited]
        n = _rows(visited)
        self.online.set_training_mode(True)
        try:
            for _ in range(self.steps):
                index = torch.randint(n, (self.batch_size,), generator=self._generator, device=self.device)
                batch = _take(visited, index)
                with torch.no_grad():
                    anchor = self._offline._predict(batch, deterministic=True)
                with torch.enable_grad():
                    mu = self.online._predict(batch, deterministic=True)
                    q = self.q(batch, mu)
                    loss = -q.mean() / q.abs().mean().detach().clamp_min(1e-6)
                    loss = loss + self.beta * (mu - anchor).square().sum(-1).mean()
                    gradients = torch.autograd.grad(loss, self._parameters, allow_unused=True)
                for parameter, gradient in zip(self._parameters, gradients, strict=True):
                    parameter.grad = gradient
                self._optimizer.step()
        finally:
            self.online.set_training_mode(False)
        self.updates += 1

    def __repr__(self) -> str:
        return (
            f"OnTheFlyTraining({type(self.model).__name__}, beta={self.beta}, lr={self.lr}, "
            f"update_every={self.update_every}, steps={self.steps})"
        )


def _frozen_copy(policy: BasePolicy) -> BasePolicy:
    copied = detached_copy(policy)
    copied.set_training_mode(False)
    for parameter in copied.parameters():
        parameter.requires_grad_(False)
    return copied


def _is_sb3_off_policy(policy: BasePolicy) -> bool:
    return isinstance(getattr(policy, "critic", None), torch.nn.Module)


def _rows(observation: Any) -> int:
    first = next(iter(observation.values())) if isinstance(observation, dict) else observation
    return int(first.shape[0])


def _concatenate(observations: list[Any]) -> Any:
    if isinstance(observations[0], dict):
        return {key: torch.cat([o[key] for o in observations]) for key in observations[0]}
    return torch.cat(observations)


def _keep_last(observation: Any, n: int) -> Any:
    """The last ``n`` rows (the most recent states)."""
    if isinstance(observation, dict):
        return {key: value[-n:] for key, value in observation.items()}
    return observation[-n:]


def _take(observation: Any, index: torch.Tensor) -> Any:
    if isinstance(observation, dict):
        return {key: value.index_select(0, index) for key, value in observation.items()}
    return observation.index_select(0, index)
