"""Imitation trainers for the sequence actors: sequence BC and DAgger from a privileged expert.

Built on ``imitation`` (trajectory types, rollout statistics, beta schedules) and extended where it cannot handle
sequence policies: whole-trajectory batches with padding and masks instead of flattened transitions, and a rollout
loop that threads the learner's memory and reads the expert's privileged observation. See ``docs/TRAINING.md``.
"""

from __future__ import annotations

from ttt_gym.trainers.bc import ActorSpec, build_actor, sequence_bc_loss, train_bc
from ttt_gym.trainers.dagger import train_dagger
from ttt_gym.trainers.data import (
    SegmentSampler,
    SequenceBatch,
    SequenceSegment,
    collate_segments,
    collect_demonstrations,
    collect_rollouts,
    executed_actions,
    trajectories_to_segments,
)

__all__ = [
    "ActorSpec",
    "SegmentSampler",
    "SequenceBatch",
    "SequenceSegment",
    "build_actor",
    "collate_segments",
    "collect_demonstrations",
    "collect_rollouts",
    "executed_actions",
    "sequence_bc_loss",
    "train_bc",
    "train_dagger",
    "trajectories_to_segments",
]
