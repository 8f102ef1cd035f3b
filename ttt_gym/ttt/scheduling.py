"""When adaptations run: in ``predict``'s own thread (:class:`InlineSchedule`), or in a background thread while the
env keeps stepping with the current weights (:class:`BackgroundSchedule`, ``TestTimeTraining(asynchronous=True)``).

Both work on :class:`EnvSlot` objects, one per environment index, and call back into the wrapper for what an
adaptation is: ``adapt(policy, state, goal, seed) -> bool`` fine-tunes ``policy`` (at the pretrained weights) in
place and says whether to keep the result; ``restore(policy)`` puts the pretrained weights back.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from stable_baselines3.common.policies import BasePolicy

__all__ = ["BackgroundSchedule", "EnvSlot", "InlineSchedule"]

logger = logging.getLogger("ttt_gym.ttt.wrapper")

AdaptFn = Callable[[BasePolicy, np.ndarray, np.ndarray, tuple[int, ...]], bool]
RestoreFn = Callable[[BasePolicy], None]


@dataclasses.dataclass
class EnvSlot:
    """Per-environment-index state: the acting copy of the policy and where the episode stands."""

    index: int
    policy: BasePolicy
    goal: np.ndarray | None = None
    steps: int = 0
    """Steps since the episode (or goal) started."""
    attempts: int = 0
    """Adaptations started in this slot (since the last :meth:`reseed`, if any); seeds their minibatch sampling."""
    episode_seed: int | None = None
    """The seed of the last :meth:`reseed`, None if never reseeded."""
    generation: int = 0
    """Bumped at every episode / goal start; background results of an older generation are discarded."""
    job: Future[tuple[int, BasePolicy | None]] | None = None
    due: tuple[np.ndarray, np.ndarray] | None = None
    """Background schedule: an adaptation (state, goal) waiting for the running one to finish."""

    def start_episode(self, goal: np.ndarray) -> None:
        self.goal = goal.copy()
        self.steps = 0
        self.generation += 1
        self.due = None

    def reseed(self, episode_seed: int) -> None:
        """Key the next adaptations by ``episode_seed``, their count restarting at 0."""
        self.episode_seed = int(episode_seed)
        self.attempts = 0

    def next_adaptation_key(self, seed: int) -> tuple[int, ...]:
        """Count one more adaptation and return the key of its minibatch stream: ``(seed, index, attempts)``, or
        ``(seed, index, episode_seed, attempts)`` after :meth:`reseed` (so that it does not depend on earlier
        episodes)."""
        self.attempts += 1
        if self.episode_seed is None:
            return (seed, self.index, self.attempts)
        return (seed, self.index, self.episode_seed, self.attempts)


class InlineSchedule:
    """Adapt within ``predict``: the step that is due acts with the weights its adaptation produced."""

    def __init__(self, adapt: AdaptFn, restore: RestoreFn, seed: int) -> None:
        self._adapt, self._restore, self.seed = adapt, restore, seed

    def start_episode(self, slot: EnvSlot) -> None:
        """Nothing to do: the adaptation due on this same step restores first."""

    def before_act(self, slot: EnvSlot) -> None:
        """Nothing to collect."""

    def adapt(self, slot: EnvSlot, state: np.ndarray, goal: np.ndarray) -> None:
        key = slot.next_adaptation_key(self.seed)
        self._restore(slot.policy)
        if not self._adapt(slot.policy, state, goal, key):
            self._restore(slot.policy)

    def wait(self, slots: Iterable[EnvSlot], timeout: float | None = None) -> None:
        """Nothing runs in the background."""

    def close(self) -> None:
        """No thread to stop."""


class BackgroundSchedule:
    """Adapt in one worker thread; each env index acts with its current weights (the pretrained ones at an episode
    start) until its adaptation finishes, and uses the new weights from the next ``predict`` on.

    Args:
        adapt, restore, seed: as :class:`InlineSchedule`.
        fresh_copy: A new trainable copy of the pretrained policy (each background adaptation works on its own).
        count: ``count(name)`` adds one to the wrapper's counter ``name`` (``delayed_adaptations``,
            ``discarded_adaptations``, ``adaptation_errors``), thread-safely.
    """

    def __init__(
        self,
        adapt: AdaptFn,
        restore: RestoreFn,
        seed: int,
        fresh_copy: Callable[[], BasePolicy],
        count: Callable[[str], None],
    ) -> None:
        self._adapt, self._restore, self.seed = adapt, restore, seed
        self._fresh_copy, self._count = fresh_copy, count
        self._executor: ThreadPoolExecutor | None = None

    def start_episode(self, slot: EnvSlot) -> None:
        self._restore(slot.policy)  # act pretrained until the first adaptation of the episode is in

    def before_act(self, slot: EnvSlot) -> None:
        """Take a finished adaptation in (or drop it if stale), then start a due one."""
        if slot.job is None or not slot.job.done():
            return
        try:
            generation, policy = slot.job.result()
        except Exception:  # e.g. copying the policy failed in the worker: the control loop goes on
            logger.exception("TestTimeTraining: background adaptation failed; acting with the pretrained weights")
            self._count("adaptation_errors")
            generation, policy = slot.generation, None
        slot.job = None
        if generation != slot.generation:
            self._count("discarded_adaptations")
        elif policy is not None:
            slot.policy = policy
        else:  # too little data or an error: back to the pretrained weights
            self._restore(slot.policy)
        if slot.due is not None:
            state, goal = slot.due
            slot.due = None
            self._launch(slot, state, goal)

    def adapt(self, slot: EnvSlot, state: np.ndarray, goal: np.ndarray) -> None:
        if slot.job is not None:
            slot.due = (state.copy(), goal.copy())
            self._count("delayed_adaptations")
            return
        self._launch(slot, state.copy(), goal.copy())

    def wait(self, slots: Iterable[EnvSlot], timeout: float | None = None) -> None:
        """Block until the slots' running adaptations finish, and take their results in."""
        for slot in slots:
            while slot.job is not None:
                futures.wait([slot.job], timeout=timeout)
                if not slot.job.done():
                    raise TimeoutError(f"TestTimeTraining.wait: an adaptation still runs after {timeout} s")
                self.before_act(slot)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _launch(self, slot: EnvSlot, state: np.ndarray, goal: np.ndarray) -> None:
        seed = slot.next_adaptation_key(self.seed)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttt")
        generation = slot.generation

        def job() -> tuple[int, BasePolicy | None]:
            policy = self._fresh_copy()
            return generation, (policy if self._adapt(policy, state, goal, seed) else None)

        slot.job = self._executor.submit(job)
