"""Several environment indices fine-tune at once: one ``torch.func.vmap`` forward and one Adam step for all of them.

When several env indices are due on the same ``predict`` (every episode start of a vector env, and every K steps
after), each would otherwise run its own N Adam steps one after another. Here their adapted parameters are stacked
along a new first dimension ``E``; each step draws every index's own minibatch (from its own selection, with its own
seeded generator, exactly as alone), evaluates all E losses in one vmapped call of the same loss on
``torch.func.functional_call``, and takes one Adam step on the stacked tensors. Adam is elementwise, and the summed
loss gives each slice its own gradient, so every index ends where it would alone, up to float rounding (tested).

A loss that cannot run under ``vmap`` (data-dependent Python control flow, in-place updates of captured state, a
random draw from a torch generator) raises here; the wrapper then falls back to one index at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from stable_baselines3.common.policies import BasePolicy
from torch import nn

from ttt_gym.agents.base import TensorBatch
from ttt_gym.ttt.batch import TTTBatch

__all__ = ["fine_tune_together"]


class _LossOf(nn.Module):
    """``forward(batch) = loss(policy, batch)``, so that ``functional_call`` can swap the policy's parameters."""

    def __init__(self, policy: BasePolicy, loss: Callable[[BasePolicy, TTTBatch], torch.Tensor]) -> None:
        super().__init__()
        self.policy = policy
        self.loss = loss

    def forward(self, batch: TTTBatch) -> torch.Tensor:
        return self.loss(self.policy, batch)


def fine_tune_together(
    policies: Sequence[BasePolicy],
    adapted: Callable[[BasePolicy], nn.Module],
    batches: Sequence[TTTBatch],
    loss: Callable[[BasePolicy, TTTBatch], torch.Tensor],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    adam_kwargs: dict[str, Any],
    generators: Sequence[torch.Generator],
) -> list[tuple[float, float]]:
    """Fine-tune ``policies[e]`` on ``batches[e]`` for ``steps`` Adam steps, all at once; returns each one's first
    and last loss. The policies (same architecture, same pretrained weights) are updated in place at the end only,
    so on an exception they are untouched.

    Args:
        policies: The per-index copies to adapt.
        adapted: ``policy -> the module whose parameters are fine-tuned`` (the actor of SAC / TD3 / our agents).
        batches: Each index's selected data (already prepared).
        loss: The test-time loss, ``loss(policy, batch)``.
        steps, batch_size, lr, adam_kwargs: As the wrapper's.
        generators: One per index, seeded as that index's adaptation alone would be.
    """
    template = policies[0]
    names = _adapted_names(template, adapted(template))
    stacked = {
        name: torch.stack([dict(policy.named_parameters())[name].detach() for policy in policies]).requires_grad_(True)
        for name in names
    }
    optimizer = torch.optim.Adam(list(stacked.values()), lr=lr, **adam_kwargs)
    module = _LossOf(template, loss)
    view = batches[0].view
    sizes = torch.tensor([len(batch) for batch in batches], device=stacked[names[0]].device)
    offsets = torch.cumsum(sizes, 0) - sizes
    rows = _concatenate([batch.transitions for batch in batches])
    # AWR weights only when every index has them (a large selection leaves them to the loss, which gives the same
    # value per minibatch): then the loss computes them for all.
    weights = None if any(b.weights is None for b in batches) else torch.cat([b.weights for b in batches])  # type: ignore[misc]
    n_envs = len(policies)

    def one(params: dict[str, torch.Tensor], fields: dict[str, torch.Tensor], row_weights: Any) -> torch.Tensor:
        batch = TTTBatch(TensorBatch(**fields), view, row_weights)
        return torch.func.functional_call(module, {f"policy.{k}": v for k, v in params.items()}, (batch,))

    batched = torch.func.vmap(one, in_dims=(0, 0, None if weights is None else 0))
    first = last = None
    template.set_training_mode(True)
    try:
        with _no_distribution_validation():
            for step in range(steps):
                draws = torch.stack(
                    [
                        torch.randint(int(size), (batch_size,), generator=generator, device=sizes.device)
                        for size, generator in zip(sizes.tolist(), generators, strict=True)
                    ]
                )
                flat = (draws + offsets[:, None]).reshape(-1)
                fields = {k: v.index_select(0, flat).reshape(n_envs, batch_size, *v.shape[1:]) for k, v in rows.items()}
                row_weights = None if weights is None else weights.index_select(0, flat).reshape(n_envs, batch_size)
                losses = batched(stacked, fields, row_weights)
                optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                optimizer.step()
                if step == 0:
                    first = losses.detach()
                last = losses.detach()
    finally:
        template.set_training_mode(False)
    assert first is not None and last is not None
    if not torch.isfinite(last).all():
        raise FloatingPointError("a test-time loss became non-finite; lower lr or check the loss")
    with torch.no_grad():
        for e, policy in enumerate(policies):
            parameters = dict(policy.named_parameters())
            for name in names:
                parameters[name].copy_(stacked[name][e])
    return [(float(a), float(b)) for a, b in zip(first.tolist(), last.tolist(), strict=True)]


def _adapted_names(policy: BasePolicy, adapted: nn.Module) -> list[str]:
    """The policy's names of the adapted module's trainable parameters."""
    ids = {id(p) for p in adapted.parameters() if p.requires_grad}
    return [name for name, p in policy.named_parameters() if id(p) in ids]


def _concatenate(transitions: Sequence[TensorBatch]) -> dict[str, torch.Tensor]:
    return {f.name: torch.cat([getattr(t, f.name) for t in transitions]) for f in dataclasses.fields(TensorBatch)}


@contextlib.contextmanager
def _no_distribution_validation() -> Iterator[None]:
    """torch.distributions check their arguments with data-dependent branches, which vmap cannot trace; the values
    come from the policy itself, so the checks are skipped here (and restored after)."""
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(before)
