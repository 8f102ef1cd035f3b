"""Expert and demonstrator for ``ttt_gym/ConfoundedControls-v0``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from gymnasium import spaces

from ttt_envs.confounded_controls import N_COMMANDS, PLANE_HALF_WIDTH, command_angle, nominal_angle, wrap_angle
from ttt_envs.experts.base import Demonstrator, ScriptedExpert, build_demonstrator, privileged_spaces

#: A move whose end point lies this close to a wall may have been clamped, so its direction is not trusted.
WALL_TOLERANCE = 1e-4
#: Commands the demonstrator presses first to learn the frame: E then N (two axes pin down rotation and flip).
PROBE_COMMANDS: tuple[int, ...] = (0, 2, 4, 6, 1, 3, 5, 7)


def best_command(
    position: np.ndarray,
    goal: np.ndarray,
    rotation: float,
    flip: bool,
    curl_per_press: float,
    previous_action: int,
    repeat_count: int,
) -> int:
    """The command whose actual direction (curl included) points most nearly at the goal.

    Args:
        position: (x, y) of the agent.
        goal: (x, y) of the goal.
        rotation: rotation of the action frame, radians.
        flip: left-right flip of the commands.
        curl_per_press: signed extra rotation per consecutive repeat, radians.
        previous_action: last command pressed (-1 if none).
        repeat_count: consecutive repeats of the last press (0 when it changed command).
    """
    goal_angle = math.atan2(goal[1] - position[1], goal[0] - position[0])
    best, best_score = 0, -math.inf
    for action in range(N_COMMANDS):
        repeats = repeat_count + 1 if action == previous_action else 0
        score = math.cos(command_angle(action, rotation, flip, curl_per_press * repeats) - goal_angle)
        if score > best_score + 1e-9:
            best, best_score = action, score
    return best


class ConfoundedControlsExpert(ScriptedExpert):
    """Reads rotation, flip and curl from the privileged state and presses the command that heads for the goal.

    For every command it computes the direction that press would really take (a repeat of the previous
    command is curled once more) and picks the one with the largest cosine to the goal direction. With
    eight commands 45 degrees apart, at most one of them curled, some command is always within 45 degrees of
    the goal direction, so every move brings the agent closer while it is outside ``goal_radius``
    (which is at least one step).
    """

    def act(self, state: np.ndarray, obs: np.ndarray) -> int:
        rotation = math.atan2(float(state[5]), float(state[4]))
        return best_command(
            position=state[0:2],
            goal=state[2:4],
            rotation=rotation,
            flip=bool(state[6] > 0.5),
            curl_per_press=float(state[7]) * float(state[8]),
            previous_action=round(float(state[10])),
            repeat_count=round(float(state[11])),
        )


@dataclass(frozen=True)
class FrameEstimate:
    """What the demonstrator has worked out so far; immutable, a new one per step.

    Frame evidence is kept as running sums: for each flip hypothesis, the sum of unit vectors at
    ``observed angle - mirrored nominal angle`` over uncurled clean moves (their mean direction is the
    rotation, their length how well the hypothesis fits). Curl evidence is a least-squares fit through the
    origin of ``deviation`` against ``repeat_count`` over curled clean moves.
    """

    previous_obs: tuple[float, ...] | None = None
    previous_action: int = -1
    repeat_count: int = 0
    # ``previous_action`` and ``repeat_count`` before the last press: record_action recounts the streak from them
    # when the executed command differs from the one the demonstrator chose.
    action_before_previous: int = -1
    repeat_count_before_previous: int = 0
    fit_sums: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    probed_axes: frozenset[int] = frozenset()
    curl_numerator: float = 0.0
    curl_denominator: float = 0.0

    @property
    def frame_known(self) -> bool:
        """Two uncurled moves along different axes fix both the rotation and the flip."""
        return len(self.probed_axes) >= 2

    def frame(self) -> tuple[float, bool]:
        """(rotation, flip) that best explains the uncurled moves seen so far."""
        fits = [math.hypot(sx, sy) for sx, sy in self.fit_sums]
        flip = fits[1] > fits[0]
        sx, sy = self.fit_sums[int(flip)]
        return math.atan2(sy, sx), flip

    def curl_per_press(self) -> float:
        """Estimated signed curl per repeat, radians; 0 until a repeated press has been seen."""
        return self.curl_numerator / self.curl_denominator if self.curl_denominator > 0 else 0.0


class ConfoundedControlsDemonstrator(Demonstrator):
    """Works out the controls like a person would: try a couple of keys, then steer with the learned frame.

    It sees only positions. It presses E, then N (then other keys if a move hit a wall), reads off where
    they went and fits the rotation and flip (E and N 90 degrees apart counter-clockwise means no flip). Then
    it presses the command its estimate says points at the goal, refitting the frame after every uncurled
    move. It does not know about curl until it repeats a command and sees the move veer off; from then on
    it fits the curl per repeat from its own repeats and takes it into account.

    Args:
        observation_space: the env's observation space (``Box(4,)``).
        action_space: ``Discrete(8)``.
        slip_prob: probability of pressing a uniformly random command instead (a human slip).
        rng: generator or seed for the slips.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        slip_prob: float = 0.0,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, rng=rng)
        if not 0.0 <= slip_prob <= 1.0:
            raise ValueError(f"slip_prob is a probability and must be in [0, 1], got {slip_prob!r}.")
        self.slip_prob = float(slip_prob)

    def initial_memory(self) -> FrameEstimate:
        return FrameEstimate()

    def act(self, obs: np.ndarray, memory: FrameEstimate) -> tuple[int, FrameEstimate]:
        memory = self._learn_from_last_move(obs, memory)
        if not memory.frame_known:
            untried = [a for a in PROBE_COMMANDS if a % 4 not in memory.probed_axes]
            action = untried[0]
            if action == memory.previous_action:  # a repeat would curl the probe; try the next axis instead
                action = untried[1] if len(untried) > 1 else (action + 2) % N_COMMANDS
        else:
            rotation, flip = memory.frame()
            action = best_command(
                position=obs[0:2],
                goal=obs[2:4],
                rotation=rotation,
                flip=flip,
                curl_per_press=memory.curl_per_press(),
                previous_action=memory.previous_action,
                repeat_count=memory.repeat_count,
            )
        if self.slip_prob > 0 and self.rng.random() < self.slip_prob:
            action = int(self.rng.integers(N_COMMANDS))
        memory = replace(
            memory,
            previous_obs=tuple(float(v) for v in obs),
            action_before_previous=memory.previous_action,
            repeat_count_before_previous=memory.repeat_count,
        )
        return action, self.record_action(memory, action)

    def record_action(self, memory: FrameEstimate, action: int) -> FrameEstimate:
        """Learn the frame from the executed press next step: it is the command (and repeat count) that moved it."""
        repeats = memory.repeat_count_before_previous + 1 if action == memory.action_before_previous else 0
        return replace(memory, previous_action=action, repeat_count=repeats)

    @staticmethod
    def _learn_from_last_move(obs: np.ndarray, memory: FrameEstimate) -> FrameEstimate:
        if memory.previous_obs is None or memory.previous_action < 0:
            return memory
        dx, dy = float(obs[0]) - memory.previous_obs[0], float(obs[1]) - memory.previous_obs[1]
        near_wall = max(abs(float(obs[0])), abs(float(obs[1]))) >= PLANE_HALF_WIDTH - WALL_TOLERANCE
        if near_wall or math.hypot(dx, dy) == 0.0:
            return memory
        observed = math.atan2(dy, dx)
        action = memory.previous_action
        if memory.repeat_count == 0:
            sums = []
            for flip in (False, True):
                base = nominal_angle(action)
                offset = observed - (math.pi - base if flip else base)
                sx, sy = memory.fit_sums[int(flip)]
                sums.append((sx + math.cos(offset), sy + math.sin(offset)))
            return replace(
                memory,
                fit_sums=(sums[0], sums[1]),
                probed_axes=memory.probed_axes | {action % 4},
            )
        if not memory.frame_known:
            return memory
        rotation, flip = memory.frame()
        deviation = wrap_angle(observed - command_angle(action, rotation, flip, 0.0))
        r = float(memory.repeat_count)
        return replace(
            memory,
            curl_numerator=memory.curl_numerator + deviation * r,
            curl_denominator=memory.curl_denominator + r * r,
        )


class GoalDirectionPolicy:
    """Memoryless baseline: presses the command named after the goal direction, as if the controls were honest.

    It has SB3's ``predict`` signature and acts on the plain observation ``[x, y, goal_x, goal_y]`` (one or a
    batch). It is the policy a learner without memory tends towards, and it fails whenever the hidden frame
    turns the commands far from their names, or curl bends a command it keeps pressing.
    """

    def predict(
        self,
        observation: np.ndarray,
        state: object = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, object]:
        obs = np.asarray(observation, dtype=np.float64)
        angles = np.arctan2(obs[..., 3] - obs[..., 1], obs[..., 2] - obs[..., 0])
        actions = np.round(angles / (2 * math.pi / N_COMMANDS)).astype(np.int64) % N_COMMANDS
        return actions, state


def make_expert(env_id: str) -> ScriptedExpert:
    """The privileged expert for ``env_id`` (a Confounded Controls id), acting on the ``PrivilegedObservation`` dict."""
    privileged, _, action_space = privileged_spaces(env_id)
    return ConfoundedControlsExpert(privileged, action_space)


def make_demonstrator(env_id: str, rng: np.random.Generator | int | None = None) -> Demonstrator:
    """The position-only demonstrator for ``env_id``: probes the controls, fits the frame, steers (on a pixel env, from
    the positions it decodes from each image: ``PixelDecodingDemonstrator``)."""
    return build_demonstrator(
        env_id, lambda obs_space, act_space: ConfoundedControlsDemonstrator(obs_space, act_space, rng=rng)
    )


__all__ = [
    "ConfoundedControlsDemonstrator",
    "ConfoundedControlsExpert",
    "FrameEstimate",
    "GoalDirectionPolicy",
    "best_command",
    "make_demonstrator",
    "make_expert",
]
