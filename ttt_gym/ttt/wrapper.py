"""GC-TTT as a policy wrapper: ``TestTimeTraining(model, dataset).predict(obs)`` fine-tunes before it acts.

Goal-conditioned test-time training (Bagatella et al., Algorithm 1) in receding-horizon form. For each environment
index, at the start of an episode (or when its goal changes) and then every ``every`` steps:

1. restore the pretrained weights (a frozen copy; the wrapped policy itself is never modified),
2. select the goal-related data D(s, g*) with a :class:`~ttt_gym.ttt.selection.Selector`,
3. run ``steps`` Adam steps of the test-time loss on uniform minibatches of D(s, g*), the goal fixed to g*,
4. act with the adapted copy until the next adaptation.

``predict`` has SB3's signature, so ``stable_baselines3.common.evaluation.evaluate_policy``, callbacks and
:func:`ttt_gym.goal_evaluation.evaluate_goal_policy` accept the wrapper wherever they accept a model.
See ``docs/TTT.md``.

(Over 500 lines: construction and its checks, SB3's interface and the adaptation phases that one ``predict`` runs
read best in one place; the parts that stand alone live beside it in this subpackage.)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.utils import get_device

from ttt_gym.agents.base import GoalConditionedAgent
from ttt_gym.data import GoalDataset
from ttt_gym.evaluation import derived_seed, reseed_policy
from ttt_gym.ttt.adapter import (
    DESIRED_KEY,
    OBSERVATION_KEY,
    GoalObservationAdapter,
    check_env,
    env_goal_space,
    model_env,
)
from ttt_gym.ttt.batch import PolicyView, TTTBatch, build_batch
from ttt_gym.ttt.batched import fine_tune_together
from ttt_gym.ttt.copies import adapted_module, detached_copy, torch_threads
from ttt_gym.ttt.critics import ModelCritic, has_q_critic
from ttt_gym.ttt.losses import TTTLoss, default_loss
from ttt_gym.ttt.scheduling import BackgroundSchedule, EnvSlot, InlineSchedule
from ttt_gym.ttt.selection import Critic, GoalRelatedSelector, Selection, Selector, make_selector

__all__ = ["GoalObservationAdapter", "TTTStats", "TestTimeTraining"]

logger = logging.getLogger(__name__)

CRITIC_KINDS = ("gc-ttt", "value-relevance", "gc-ttt-episodes")
"""Selector kinds that need a critic."""

DEFAULT_DISCOUNT = 0.99
"""Discount of the selection's returns when the model does not say (OGBench's agents and SB3's default)."""

# --------------------------------------------------------------------------------------------------------------------
# The wrapper


@dataclasses.dataclass
class TTTStats:
    """What the wrapper did (counters over its lifetime; mutable)."""

    adaptations: int = 0
    """Fine-tunings completed (in asynchronous mode, the discarded ones included)."""
    too_little_data: int = 0
    """Selections with fewer than ``min_selected`` transitions: acted with the pretrained weights."""
    adaptation_errors: int = 0
    """Exceptions during selection or fine-tuning: logged, then acted with the pretrained weights."""
    delayed_adaptations: int = 0
    """Asynchronous mode: adaptations due while the previous one was still running (started when it finished)."""
    discarded_adaptations: int = 0
    """Asynchronous mode: adaptations that finished after their episode or goal had changed."""
    steps: int = 0
    """Actions returned (one per environment per ``predict`` call)."""
    last_selected: int = 0
    """Size of the last selection."""
    last_loss_first: float = math.nan
    """Test-time loss at the first step of the last fine-tuning."""
    last_loss_final: float = math.nan
    """Test-time loss at its last step."""
    selection_seconds: float = 0.0
    """Total wall-clock time in ``selector.select``."""
    training_seconds: float = 0.0
    """Total wall-clock time fine-tuning (data transfer and optimizer steps)."""

    @property
    def adaptation_ms(self) -> float:
        """Mean milliseconds of selection + fine-tuning per adaptation attempt."""
        attempts = self.adaptations + self.too_little_data + self.adaptation_errors
        return 1e3 * (self.selection_seconds + self.training_seconds) / max(attempts, 1)


class TestTimeTraining:
    """Goal-conditioned test-time training (GC-TTT) around any SB3 policy or ttt_gym agent.

    Example:
        >>> agent = GCIQL.load("gciql.pt")  # doctest: +SKIP
        >>> ttt = TestTimeTraining(agent, dataset, every=100, steps=100, lr=3e-4)  # doctest: +SKIP
        >>> evaluate_goal_policy(ttt, "pointmaze-medium-navigate-v0")  # doctest: +SKIP
        >>> evaluate_policy(TestTimeTraining(sac_model, dataset), vec_env)  # doctest: +SKIP

    Args:
        model_or_policy: An SB3 model (PPO, A2C, SAC, TD3, DDPG; ``MlpPolicy`` on flat observation + goal, or
            ``MultiInputPolicy`` on ``GoalObservation`` dicts), an SB3 policy (``model.policy``, a SAC / TD3
            ``Actor``), or a GCBC / GCIVL / GCIQL agent. It is never modified.
        dataset: The offline data to select from (the pre-training data in the paper). Without a goal space of
            its own (:attr:`GoalDataset.goal_space`), it takes the env's: ``env``'s, else the SB3 model's
            ``get_env()``'s :class:`~ttt_gym.wrappers.GoalObservation` (or OGBench env).
        selector: Chooses D(s, g*). Default: :class:`~ttt_gym.ttt.selection.GoalRelatedSelector` with the model's own
            critic when it has one (H-step returns), else critic-free (Monte-Carlo returns). The model's critic is
            an agent's ``value`` (GCIVL, GCIQL), or ``V(s, g) = Q(s, g, pi(s, g))`` of a SAC / TD3 / DDPG / TQC
            model (:class:`~ttt_gym.ttt.critics.ModelCritic`). A kind of :func:`~ttt_gym.ttt.selection.make_selector`
            (``"gc-ttt"``, ``"critic-free"``...) builds that selector on ``dataset`` with the same critic.
        every: Steps between adaptations (K in the paper; it also adapts at every episode start and new goal).
        steps: Optimizer steps per adaptation (N); 0 only restores and selects.
        lr: Adam learning rate of the fine-tuning (the authors use 3e-4 or 3e-5).
        batch_size: Minibatch size, sampled uniformly with replacement from D(s, g*) (the authors use 1024).
        loss: ``loss(policy, batch) -> tensor`` (:mod:`ttt_gym.ttt.losses`); default: the agent's own actor loss, or
            behaviour cloning that fits the policy family (:func:`~ttt_gym.ttt.losses.default_loss`). A loss with a
            ``prepare(batch) -> batch`` method gets it called once per adaptation on the whole selected data, before
            the first step (the agents' loss computes its AWR weights there).
        device: Where the adapted copies live: ``"auto"`` (CUDA when available; an agent's own device), ``"cpu"``,
            ``"cuda"``...
        min_selected: Fewer selected transitions (rows, i.e. states of the selected sub-trajectories, not
            sub-trajectories) than this: act with the pretrained weights (counted in
            ``stats.too_little_data``).
        flat_keys: Part order of a flat (Box) policy observation (:class:`GoalObservationAdapter`).
        env: Optional env or VecEnv to check against the policy's spaces at construction (and to take the goal
            space from, when the dataset has none).
        asynchronous: Fine-tune in a background thread and keep acting with the current weights meanwhile (the
            pretrained ones at an episode start); the new weights are used from the first ``predict`` after the
            fine-tuning finishes.
        optimizer_kwargs: Keyword arguments of the fine-tuning's ``torch.optim.Adam`` (``lr`` excepted) over the
            defaults, ``foreach=True`` on the CPU and ``fused=True`` on CUDA. ``{"fused": True}`` on the CPU takes
            about 6% less time per step at 512^3 / batch 256; the weights then differ at float rounding.
        seed: Seeds the minibatch sampling (per environment index and adaptation): the ``n``-th adaptation of
            environment index ``i`` draws from ``(seed, i, n)``, or from ``(seed, i, s, n)`` counting from the last
            :meth:`reseed` ``(s)``.
        torch_threads: torch's intra-op threads during selection and fine-tuning (restored afterwards); None leaves
            them alone. Small-batch fine-tuning is fastest on one thread and must not depend on the caller's
            setting: on this project's loaded 2-core CPU, 286-314 ms per GC-BC 256x256 adaptation with one thread
            against 404-472 ms at the caller's 2 (docs/TTT.md, "Parameters"). The process-wide setting also holds
            for the acting thread while a background adaptation runs.
        batched_adaptation: Env indices due on the same ``predict`` (a vector env's episode starts, then every K
            steps) fine-tune together: one vmapped forward and one Adam step for all, each index on its own data and
            minibatches, with the same result as one at a time up to float rounding. It falls back to one at a time
            (and says so once in the log, at INFO level) where the loss cannot run under ``torch.func.vmap``. Inline
            mode only.
            On this project's 2-core CPU, where an adaptation is compute-bound already, 16 together took 13.6x one
            instead of 16x (docs/TTT.md, "Many environments at once"); on a GPU the gain should be larger.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        model_or_policy: Any,
        dataset: GoalDataset,
        *,
        selector: Selector | str | None = None,
        every: int = 100,
        steps: int = 100,
        lr: float = 3e-4,
        batch_size: int = 256,
        loss: TTTLoss | None = None,
        device: str | torch.device = "auto",
        min_selected: int = 16,
        flat_keys: Sequence[str] = (OBSERVATION_KEY, DESIRED_KEY),
        env: Any = None,
        asynchronous: bool = False,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        seed: int = 0,
        torch_threads: int | None = 1,
        batched_adaptation: bool = True,
    ) -> None:
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1 or None, got {torch_threads}")
        if every < 1 or steps < 0 or batch_size < 1 or min_selected < 1 or not lr > 0:
            raise ValueError(
                f"Need every >= 1, steps >= 0, batch_size >= 1, min_selected >= 1 and lr > 0; got every={every}, "
                f"steps={steps}, batch_size={batch_size}, min_selected={min_selected}, lr={lr}"
            )
        self.model = model_or_policy
        self.agent = model_or_policy if isinstance(model_or_policy, GoalConditionedAgent) else None
        policy = getattr(model_or_policy, "policy", model_or_policy)
        if not isinstance(policy, BasePolicy):
            raise TypeError(
                f"TestTimeTraining wraps an SB3 model (PPO, SAC, TD3...), an SB3 policy or a ttt_gym agent "
                f"(GCBC, GCIVL, GCIQL); got {type(model_or_policy).__name__}"
            )
        self.policy = policy
        """The wrapped (pretrained) policy; never modified."""
        self.every, self.steps, self.lr, self.batch_size = int(every), int(steps), float(lr), int(batch_size)
        self.min_selected = int(min_selected)
        self.asynchronous = bool(asynchronous)
        self.seed = int(seed)
        self.torch_threads = torch_threads
        self.optimizer_kwargs = dict(optimizer_kwargs or {})

        _check_action_space(policy.action_space, dataset)
        if env is not None:
            check_env(env, policy)
        if dataset.goal_space is None:  # e.g. a file not named after an OGBench dataset: the env knows its goals
            goal_space = env_goal_space(env if env is not None else model_env(model_or_policy))
            if goal_space is not None:
                dataset = dataset.with_goal_space(goal_space)
        self.dataset = dataset
        self.adapter = GoalObservationAdapter(policy.observation_space, dataset, flat_keys)
        self.device = self._resolve_device(device)
        self.batched_adaptation = bool(batched_adaptation)
        """Env indices due on the same step fine-tune together (:mod:`ttt_gym.ttt.batched`); switched off by itself
        when the loss cannot be vmapped."""
        self._check_optimizer_kwargs()

        # The frozen pretrained copy on the wrapper's device: every adaptation starts from its weights.
        self._pretrained = detached_copy(policy).to(self.device)
        self._pretrained.set_training_mode(False)
        for parameter in self._pretrained.parameters():
            parameter.requires_grad_(False)
        self._pretrained_state = self._pretrained.state_dict()
        self._view = PolicyView.of(self._pretrained, self.adapter.to_policy, self.device)

        if selector is None or isinstance(selector, str):
            # A kind, as SB3 takes "MlpPolicy"; the default is GoalRelatedSelector's (H-step returns with a critic,
            # else critic-free). The critic is the model's own: an agent's value function, or V(s, g) = Q(s, g,
            # pi(s, g)) of an SB3 off-policy model (on its frozen copy), in the model's discount.
            critic: Critic | None = getattr(self.agent, "value", None)  # our agents take full goal observations
            selector_kwargs: dict[str, Any] = {}
            if critic is None and has_q_critic(self._pretrained):
                discount = float(getattr(model_or_policy, "gamma", DEFAULT_DISCOUNT))
                critic = ModelCritic(self._pretrained, self.adapter, discount)
                selector_kwargs["discount"] = discount
            if selector is None:
                selector = GoalRelatedSelector(dataset, critic, **selector_kwargs)
            elif critic is None and selector in CRITIC_KINDS:
                raise ValueError(
                    f"selector={selector!r} scores with a critic, but {type(model_or_policy).__name__} has none (no "
                    f'value function, no Q(s, g, a)): use selector="critic-free", or pass '
                    f"selector=make_selector({selector!r}, dataset, critic=...) with a critic trained on the same data"
                )
            else:
                selector = make_selector(selector, dataset, critic, **selector_kwargs)
        if not callable(getattr(selector, "select", None)):
            raise TypeError(f"selector must have select(state, goal) -> indices, got {type(selector).__name__}")
        self.selector = selector
        self.loss: TTTLoss = loss if loss is not None else default_loss(model_or_policy)
        self._slots: dict[int, EnvSlot] = {}
        self._episode_seed: int | None = None
        self._stats_lock = threading.Lock()
        self.stats = TTTStats()
        self._schedule = self._make_schedule()

    # -- SB3 interface --------------------------------------------------------------------------------------------

    @property
    def observation_space(self) -> spaces.Space:
        """The wrapped policy's observation space."""
        return self.policy.observation_space

    @property
    def action_space(self) -> spaces.Space:
        """The wrapped policy's action space."""
        return self.policy.action_space

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """SB3's ``predict``: adapt where due, then act with each environment's adapted copy.

        Args:
            observation: One observation or a batch (one per environment index) in the policy's format.
            state: Passed through unchanged (the wrapped policies are memoryless).
            episode_start: ``(n_envs,)`` bools; true restarts that environment's test-time training.
            deterministic: Passed to the adapted policy's ``predict``.

        Returns:
            ``(actions, state)``, actions unbatched when ``observation`` was.
        """
        states, goals, batched = self.adapter.split(observation)
        n = len(states)
        starts = np.zeros(n, dtype=bool) if episode_start is None else np.asarray(episode_start, bool).reshape(-1)
        if len(starts) != n:
            raise ValueError(f"episode_start has {len(starts)} entries for {n} observations")
        due = []
        for index in range(n):
            slot = self._slot(index)
            if starts[index] or slot.goal is None or not np.array_equal(slot.goal, goals[index]):
                slot.start_episode(goals[index])
                self._schedule.start_episode(slot)
            self._schedule.before_act(slot)
            if slot.steps % self.every == 0:
                due.append(index)
        if len(due) > 1 and isinstance(self._schedule, InlineSchedule) and self.batched_adaptation:
            self._adapt_together([self._slots[i] for i in due], states[due], goals[due])
        else:
            for index in due:
                self._schedule.adapt(self._slots[index], states[index], goals[index])
        actions = []
        for index in range(n):
            slot = self._slots[index]
            action, _ = slot.policy.predict(self.adapter.policy_input(observation, index), deterministic=deterministic)
            actions.append(action[0])
            slot.steps += 1
        self.stats.steps += n
        stacked = np.stack(actions)
        return (stacked if batched else stacked[0]), state

    # -- inspection and control -----------------------------------------------------------------------------------

    @property
    def pretrained_policy(self) -> BasePolicy:
        """The frozen copy of the pretrained policy on the wrapper's device (do not modify it)."""
        return self._pretrained

    def adapted_policy(self, env_index: int = 0) -> BasePolicy:
        """The copy environment ``env_index`` currently acts with."""
        if env_index not in self._slots:
            raise KeyError(f"Environment index {env_index} has not acted yet (known: {sorted(self._slots)})")
        return self._slots[env_index].policy

    def reseed(self, seed: int) -> None:
        """Key the random streams of what follows by ``seed`` (the evaluation functions pass each episode's seed).

        Every environment index's fine-tuning minibatches then come from ``(self.seed, index, seed, n)`` for its
        ``n``-th adaptation since this call, rather than from ``(self.seed, index, n)`` counted over the wrapper's
        lifetime, so an episode's adaptations do not depend on the episodes before it. The acting copies (their
        sampling noise), the wrapped model and the selector are reseeded too where they have ``reseed``. Never
        called: the streams are the lifetime ones, as they always were.
        """
        self._episode_seed = int(seed)
        for slot in self._slots.values():
            slot.reseed(seed)
            reseed_policy(slot.policy, seed)
        for part in (self._pretrained, self.model, self.selector):  # new copies start from the pretrained one
            reseed_policy(part, seed)

    def reset(self, env_index: int | None = None) -> None:
        """Restart test-time training for one environment index (or all): the next step adapts afresh."""
        for index in list(self._slots) if env_index is None else [env_index]:
            slot = self._slots.get(index)
            if slot is not None:
                slot.goal = None

    def wait(self, timeout: float | None = None) -> None:
        """Asynchronous mode: block until running adaptations finish and take their results in."""
        self._schedule.wait(self._slots.values(), timeout)

    def close(self) -> None:
        """Wait for background adaptations and stop the worker thread."""
        self.wait()
        self._schedule.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the environment slots, the schedule (its worker thread), the lock and the policy view (a
        closure): a copy, e.g. a Ray task's, starts with fresh slots as after construction, and keeps the counters
        and the last :meth:`reseed`."""
        state = self.__dict__.copy()
        for name in ("_slots", "_schedule", "_stats_lock", "_view"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._slots = {}
        self._stats_lock = threading.Lock()
        self._view = PolicyView.of(self._pretrained, self.adapter.to_policy, self.device)
        self._schedule = self._make_schedule()

    def __repr__(self) -> str:
        return (
            f"TestTimeTraining({type(self.policy).__name__}, every={self.every}, steps={self.steps}, lr={self.lr}, "
            f"batch_size={self.batch_size}, device={self.device}, selector={self.selector!r}, loss={self.loss!r})"
        )

    # -- internals ------------------------------------------------------------------------------------------------

    def _resolve_device(self, device: str | torch.device) -> torch.device:
        if self.agent is not None:
            agent_device = torch.device(self.agent.device)
            if device == "auto":
                return agent_device
            if torch.device(device).type != agent_device.type:
                raise ValueError(
                    f"The agent lives on {agent_device} and its critics score the test-time loss there; pass "
                    f"device='auto' (or {str(agent_device)!r}), or load the agent with device={str(device)!r}"
                )
            return agent_device
        return get_device(device)

    def _make_schedule(self) -> InlineSchedule | BackgroundSchedule:
        if self.asynchronous:
            return BackgroundSchedule(self._adapt, self._restore, self.seed, self._fresh_copy, self._count)
        return InlineSchedule(self._adapt, self._restore, self.seed)

    def _slot(self, index: int) -> EnvSlot:
        slot = self._slots.get(index)
        if slot is None:
            slot = self._slots[index] = EnvSlot(index=index, policy=self._fresh_copy(), episode_seed=self._episode_seed)
        return slot

    def _restore(self, policy: BasePolicy) -> None:
        policy.load_state_dict(self._pretrained_state)

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _fresh_copy(self) -> BasePolicy:
        policy = detached_copy(self._pretrained)
        # Only the adapted part (the actor of SAC / TD3 / our agents) is optimised; critics stay out of autograd.
        for parameter in adapted_module(policy).parameters():
            parameter.requires_grad_(True)
        return policy

    def _adapt(self, policy: BasePolicy, state: np.ndarray, goal: np.ndarray, seed: tuple[int, ...]) -> bool:
        """Select and fine-tune ``policy`` (already at the pretrained weights) in place; False: act pretrained."""
        with torch_threads(self.torch_threads):
            return self._select_and_fine_tune(policy, state, goal, seed)

    def _select_and_fine_tune(
        self, policy: BasePolicy, state: np.ndarray, goal: np.ndarray, seed: tuple[int, ...]
    ) -> bool:
        try:
            batch = self._selected_batch(state, goal)
            if batch is None:
                return False
            tic = time.perf_counter()
            first, final = self._fine_tune(policy, batch, seed)
            self._record(time.perf_counter() - tic, [(first, final)])
            return True
        except Exception as error:  # the control loop must go on: fall back to the pretrained weights
            self._record_error(error)
            return False

    def _adapt_together(self, slots: list[EnvSlot], states: np.ndarray, goals: np.ndarray) -> None:
        """The inline adaptations of several env indices due on the same step, fine-tuned in one vmapped loop
        (:mod:`ttt_gym.ttt.batched`); each index falls back to the pretrained weights on its own failure, and all
        fall back to one at a time where the loss cannot be vmapped."""
        with torch_threads(self.torch_threads):
            ready: list[tuple[EnvSlot, TTTBatch, tuple[int, ...]]] = []
            for slot, state, goal in zip(slots, states, goals, strict=True):
                key = slot.next_adaptation_key(self.seed)
                self._restore(slot.policy)
                try:
                    batch = self._selected_batch(state, goal)
                    if batch is not None:
                        ready.append((slot, batch, key))
                except Exception as error:
                    self._record_error(error)
            if len(ready) > 1 and self.steps > 0 and self.batched_adaptation:
                tic = time.perf_counter()
                try:
                    results = fine_tune_together(
                        [slot.policy for slot, _, _ in ready],
                        adapted_module,
                        [batch for _, batch, _ in ready],
                        self.loss,
                        steps=self.steps,
                        batch_size=self.batch_size,
                        lr=self.lr,
                        adam_kwargs=self._adam_kwargs(),
                        generators=[self._generator(seed) for _, _, seed in ready],
                    )
                except FloatingPointError as error:  # a diverged loss: those adaptations failed, not the batching
                    for slot, _, _ in ready:
                        self._restore(slot.policy)
                        self._record_error(error)
                    return
                except Exception as error:  # e.g. a loss vmap cannot trace: one at a time from now on
                    self.batched_adaptation = False
                    logger.info(
                        "TestTimeTraining: env indices cannot adapt together (%s: %s); adapting one at a time",
                        type(error).__name__,
                        error,
                    )
                else:
                    self._record(time.perf_counter() - tic, results)
                    return
            for slot, batch, seed in ready:
                try:
                    tic = time.perf_counter()
                    first, final = self._fine_tune(slot.policy, batch, seed)
                    self._record(time.perf_counter() - tic, [(first, final)])
                except Exception as error:
                    self._restore(slot.policy)
                    self._record_error(error)

    def _selected_batch(self, state: np.ndarray, goal: np.ndarray) -> TTTBatch | None:
        """Select D(s, g*) and build its batch (prepared for the loss), or None when too little was selected."""
        tic = time.perf_counter()
        selection = self.selector.select(state, goal)
        if not isinstance(selection, Selection):  # a selector of the user's that returns bare indices
            selection = Selection.of(selection, self.dataset, goal)
        selected_at = time.perf_counter()
        with self._stats_lock:
            self.stats.selection_seconds += selected_at - tic
            self.stats.last_selected = len(selection)
        if len(selection) < self.min_selected:
            with self._stats_lock:
                self.stats.too_little_data += 1
                count = self.stats.too_little_data
            _log_rarely(
                count,
                "TestTimeTraining: %d transitions selected (< min_selected=%d) near state %s for goal %s; acting "
                "with the pretrained weights (%d time(s) so far)",
                len(selection),
                self.min_selected,
                np.array2string(state, precision=2),
                np.array2string(goal, precision=2),
                count,
            )
            return None
        batch = build_batch(self.dataset, selection, goal, self._view, self.device)
        prepare = getattr(self.loss, "prepare", None)
        # Once per adaptation, e.g. AgentActorLoss's AWR weights from the frozen critics; not when the selection holds
        # more rows than the steps will draw (then the per-minibatch evaluation is the cheaper one).
        if self.steps and callable(prepare) and len(batch) <= self.steps * self.batch_size:
            batch = prepare(batch)
        with self._stats_lock:
            self.stats.training_seconds += time.perf_counter() - selected_at  # moving the data is part of training
        return batch

    def _record(self, seconds: float, losses: list[tuple[float, float]]) -> None:
        with self._stats_lock:
            self.stats.training_seconds += seconds
            self.stats.adaptations += len(losses)
            self.stats.last_loss_first, self.stats.last_loss_final = losses[-1]

    def _record_error(self, error: Exception) -> None:
        with self._stats_lock:
            self.stats.adaptation_errors += 1
            count = self.stats.adaptation_errors
        if count == 1:
            logger.error("TestTimeTraining: adaptation failed; acting with the pretrained weights", exc_info=error)
        else:
            _log_rarely(
                count,
                "TestTimeTraining: adaptation failed (%s: %s); acting with the pretrained weights (%d time(s))",
                type(error).__name__,
                error,
                count,
            )

    def _generator(self, seed: tuple[int, ...]) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(derived_seed(seed))
        return generator

    def _check_optimizer_kwargs(self) -> None:
        # Here rather than at the first adaptation, where the error would only be logged.
        if "lr" in self.optimizer_kwargs or "params" in self.optimizer_kwargs:
            raise ValueError("optimizer_kwargs takes Adam's other options; pass the learning rate as lr=")
        try:
            probe = torch.zeros(1, device=self.device, requires_grad=True)
            torch.optim.Adam([probe], lr=self.lr, **self._adam_kwargs())
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(
                f"optimizer_kwargs={self.optimizer_kwargs} are not options of torch.optim.Adam on {self.device}: "
                f"{error}"
            ) from error

    def _adam_kwargs(self) -> dict[str, Any]:
        """Adam's options: ``optimizer_kwargs`` over the per-device default implementation."""
        if "fused" in self.optimizer_kwargs or "foreach" in self.optimizer_kwargs:
            return dict(self.optimizer_kwargs)
        default = {"fused": True} if self.device.type == "cuda" else {"foreach": True}
        return {**default, **self.optimizer_kwargs}

    def _fine_tune(self, policy: BasePolicy, data: TTTBatch, seed: tuple[int, ...]) -> tuple[float, float]:
        """``steps`` Adam steps of the loss on uniform minibatches of ``data``; returns the first and last loss."""
        if self.steps == 0:
            return math.nan, math.nan
        parameters = [p for p in adapted_module(policy).parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=self.lr, **self._adam_kwargs())
        generator = self._generator(seed)
        losses: list[torch.Tensor] = []
        policy.set_training_mode(True)
        try:
            for step in range(self.steps):
                rows = torch.randint(len(data), (self.batch_size,), generator=generator, device=self.device)
                loss = self.loss(policy, data.take(rows))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if step == 0 or step == self.steps - 1:
                    losses.append(loss.detach())
        finally:
            policy.set_training_mode(False)
        first, final = float(losses[0]), float(losses[-1])
        if not math.isfinite(final):
            raise FloatingPointError(f"the test-time loss became {final}; lower lr or check the loss")
        return first, final


# --------------------------------------------------------------------------------------------------------------------
# Helpers


def _check_action_space(action_space: spaces.Space, dataset: GoalDataset) -> None:
    if not isinstance(action_space, spaces.Box):
        raise TypeError(
            f"Test-time training fine-tunes on the dataset's continuous actions, but the policy's action space is "
            f"{action_space}: use a policy with a Box action space"
        )
    if int(np.prod(action_space.shape)) != dataset.action_dim:
        raise ValueError(
            f"The policy acts in {action_space} but the dataset's actions have {dataset.action_dim} entries: load "
            "the dataset collected in the policy's env"
        )


def _log_rarely(count: int, message: str, *args: Any) -> None:
    """Warn on the 1st, 10th, 100th... occurrence, debug-log the others (adaptations recur every K steps)."""
    level = logging.WARNING if math.log10(count).is_integer() else logging.DEBUG
    logger.log(level, message, *args)
