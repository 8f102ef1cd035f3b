"""Copies of the wrapped policy and the torch settings an adaptation runs under (shared by the wrapper and
:mod:`ttt_gym.improve`)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
from stable_baselines3.common.policies import BasePolicy
from torch import nn

__all__ = ["adapted_module", "detached_copy", "torch_threads"]


def detached_copy(policy: BasePolicy) -> BasePolicy:
    """A deep copy of ``policy`` without its optimizers (SB3 policies carry one; the copies never use it) and without
    the torch distribution an on-policy SB3 policy keeps from its last forward pass (``action_dist.distribution``):
    after ``learn()`` that one holds non-leaf tensors of a finished graph, which ``copy.deepcopy`` refuses."""
    memo: dict[int, Any] = {}
    for module in policy.modules():
        optimizer = getattr(module, "optimizer", None)
        if isinstance(optimizer, torch.optim.Optimizer):
            memo[id(optimizer)] = None
        last = getattr(getattr(module, "action_dist", None), "distribution", None)
        if last is not None:
            memo[id(last)] = None
    return copy.deepcopy(policy, memo)


def adapted_module(policy: BasePolicy) -> nn.Module:
    """The part of the policy that fine-tuning updates: the actor of SAC / TD3 / our agents, else the whole policy."""
    actor = getattr(policy, "actor", None)
    return actor if isinstance(actor, nn.Module) else policy


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` inside the block, restored after (None: unchanged)."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
