"""TTT-Linear actor: layers whose hidden state is a linear model trained online on a reconstruction loss.

Each head of a layer keeps an inner model ``f(x) = x W + b``. For every token the layer projects its input to a key,
a value and a query; the inner model takes one gradient step on the self-supervised loss
``0.5 * ||LN(k W + b) - (v - k)||^2`` with a learned, token-dependent step size, and the layer outputs
``q + LN(q W' + b')`` with the updated weights (Sun et al., "Learning to (Learn at Test Time)").

Mini-batch gradient descent: within a mini-batch of ``b`` tokens every gradient is taken at the weights ``W0`` the
mini-batch started from, and token ``t`` sees ``W0`` minus the gradients of tokens ``1..t`` of its mini-batch. Two
forms compute exactly this:

* the step form keeps ``W0`` and the running ``W`` per env (constant size) and adds one rank-one term per token;
* the sequence form processes a mini-batch with a few matmuls (the "dual form": the contribution of the other tokens'
  gradients to token ``t``'s output is ``sum_s eta_s (q_t . k_s + 1) grad_s`` over ``s <= t``), differentiable so the
  outer imitation loss trains the projections, the initial weights and the step-size gate through the inner updates.

Gradient stopping (Waitz et al.): a token's update is skipped when the norm of the inner loss gradient with respect to
the inner model's output (``dl/dz``, known before the weight gradient is formed), averaged over heads, falls below
``grad_stop_threshold`` (``absolute``) or below that multiple of its running mean over the episode (``relative``).
The decision is per layer and per token.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from ttt_gym.policies.base import (
    ActorConfig,
    FeedForward,
    SequenceActor,
    State,
    _check_grad_stop,
    _check_heads,
    register_actor,
    reset_where,
    should_skip_update,
)

_INNER_LN_EPS = 1e-6


def inner_layer_norm(
    z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Layer norm over the last dimension; returns the output, the normalised input and the standard deviation.

    The variance is the mean of the squared deviations, not ``Tensor.var``: on CPU ``var`` over a short last
    dimension took 7-12 times as long (125 against 18 us on ``[16, 2, 16, 32]``, one thread), and this function runs
    twice per mini-batch and layer in training and at every step at inference.
    """
    centered = z - z.mean(-1, keepdim=True)
    std = torch.sqrt(centered.square().mean(-1, keepdim=True) + _INNER_LN_EPS)
    normalised = centered / std
    return weight * normalised + bias, normalised, std


def reconstruction_grad(
    z: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """Gradient with respect to ``z`` of ``0.5 * ||LN(z) - target||^2`` (closed-form layer-norm backward)."""
    out, normalised, std = inner_layer_norm(z, weight, bias)
    g = (out - target) * weight
    return (g - g.mean(-1, keepdim=True) - normalised * (g * normalised).mean(-1, keepdim=True)) / std


class TTTLinear(nn.Module):
    """One TTT-Linear layer (multi-head); see the module docstring."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mini_batch_size: int,
        inner_lr: float,
        grad_stop_threshold: float,
        grad_stop_rule: str,
    ) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.mini_batch_size = mini_batch_size
        self.inner_lr = inner_lr
        self.grad_stop_threshold, self.grad_stop_rule = grad_stop_threshold, grad_stop_rule
        self.dim = dim
        # query, key, value and the step-size gate in one matmul (one weight read per token at inference)
        self.projection = nn.Linear(dim, 3 * dim + num_heads)
        self.initial_weight = nn.Parameter(torch.randn(num_heads, self.head_dim, self.head_dim) * 0.02)
        self.initial_bias = nn.Parameter(torch.zeros(num_heads, self.head_dim))
        self.ln_weight = nn.Parameter(torch.ones(num_heads, self.head_dim))
        self.ln_bias = nn.Parameter(torch.zeros(num_heads, self.head_dim))
        self.post_norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, dim)

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # x [..., d] -> q, k, v [..., H, dh] and step sizes [..., H]
        shape = (*x.shape[:-1], self.num_heads, self.head_dim)
        q, k, v, gate = self.projection(x).split([self.dim, self.dim, self.dim, self.num_heads], dim=-1)
        eta = self.inner_lr * torch.sigmoid(gate) / self.head_dim
        return q.reshape(shape), k.reshape(shape), v.reshape(shape), eta

    def _skip(self, grad_norm: torch.Tensor, norm_sum: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return should_skip_update(grad_norm, norm_sum / count, self.grad_stop_threshold, self.grad_stop_rule)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Sequence form. ``x`` ``[B, T, d]``, each row one episode from position 0; ``valid`` ``[B, T]``.

        Only the inner model's weights are carried from one mini-batch to the next, so everything else is batched
        over all mini-batches outside the loop: the projections, the ``q_t . k_s`` coefficients, and the output layer
        norm of every token. The loop (sequential, a few small matmuls per mini-batch) is what training time is spent
        on; with gradient stopping on, each mini-batch's skip decisions scale its step sizes inside it.
        """
        batch, length, dim = x.shape
        b = self.mini_batch_size
        q, k, v, eta = self._project(x)
        # -> [B, H, T, dh] / [B, H, T], padded to whole mini-batches (padding sits after every valid token)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        eta = eta.transpose(1, 2)
        pad = (-length) % b
        if pad:
            q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
            eta = F.pad(eta, (0, pad))
            valid = F.pad(valid, (0, pad))
        n_batches = (length + pad) // b
        heads, head_dim = self.num_heads, self.head_dim
        # -> [B, H, n, b, dh] / [B, H, n, 1, b]: one slice per mini-batch
        q, k, v = (t.reshape(batch, heads, n_batches, b, head_dim) for t in (q, k, v))
        eta = eta.reshape(batch, heads, n_batches, 1, b)
        keys_queries = torch.cat([k, q], dim=-2)  # one matmul gives z at the start weights for keys and queries
        targets = v - k
        causal = torch.ones(b, b, dtype=torch.bool, device=x.device).tril()
        affinity = torch.where(causal, q @ k.transpose(-1, -2) + 1.0, 0.0)  # [B, H, n, b, b]
        stopping = self.grad_stop_threshold > 0
        if stopping:  # each mini-batch's skip decisions scale its step sizes
            coefficients, keys_scaled = affinity, k.transpose(-1, -2)
        else:  # the step sizes are known up front
            coefficients, keys_scaled = affinity * eta, k.transpose(-1, -2) * eta  # [B, H, n, b, b] / [.., dh, b]
        # Per-mini-batch views by unbind: its backward stacks the slices' gradients once, where indexing in the loop
        # would build a zero tensor of the whole sequence for every mini-batch.
        per_batch = zip(*(t.unbind(2) for t in (keys_queries, targets, eta, coefficients, keys_scaled)), strict=True)
        weight = self.initial_weight.expand(batch, -1, -1, -1)
        bias = self.initial_bias.unsqueeze(1).expand(batch, -1, -1, -1)  # [B, H, 1, dh]
        ln_w, ln_b = self.ln_weight.unsqueeze(1), self.ln_bias.unsqueeze(1)
        norm_sum = x.new_zeros(batch)
        z_queries, grads, skips = [], [], []
        for i, (key_query, target, step, coefficient, key_scaled) in enumerate(per_batch):
            z_keys, z_start = (key_query @ weight + bias).split(b, dim=-2)
            grad = reconstruction_grad(z_keys, target, ln_w, ln_b)  # [B, H, b, dh]
            if stopping:
                grad_norm = grad.detach().norm(dim=-1).mean(1)  # [B, b]
                running = norm_sum.unsqueeze(1) + grad_norm.cumsum(1)
                count = torch.arange(i * b + 1, (i + 1) * b + 1, device=x.device, dtype=x.dtype)
                skip = self._skip(grad_norm, running, count)
                norm_sum = running[:, -1]
                step = step * (~skip).unsqueeze(1).unsqueeze(1).to(step.dtype)  # [B, H, 1, b]
                coefficient, key_scaled = coefficient * step, key_scaled * step
                skips.append(skip)
            z_queries.append(z_start - coefficient @ grad)
            weight = weight - key_scaled @ grad
            bias = bias - step @ grad
            grads.append(grad)
        z = torch.cat(z_queries, dim=2)  # [B, H, n * b, dh]
        y = (q.reshape(z.shape) + inner_layer_norm(z, ln_w, ln_b)[0])[:, :, :length]
        y = y.transpose(1, 2).reshape(batch, length, dim)
        valid = valid[:, :length]
        grad_norms = torch.cat(grads, dim=2).detach().norm(dim=-1).mean(1)[:, :length]  # [B, T]
        skipped = torch.cat(skips, 1)[:, :length] if stopping else torch.zeros_like(valid)
        return self.out(self.post_norm(y)), {"grad_norm": grad_norms[valid], "skipped": skipped[valid]}

    def empty_state(self, n_envs: int) -> dict[str, torch.Tensor]:
        weight = self.initial_weight.expand(n_envs, -1, -1, -1).clone()
        bias = self.initial_bias.expand(n_envs, -1, -1).clone()
        return {"weight": weight, "bias": bias, "start_weight": weight.clone(), "start_bias": bias.clone()}

    def step(
        self, x: torch.Tensor, fast: dict[str, torch.Tensor], position: torch.Tensor, norm_sum: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Step form for one token per env ``x`` ``[B, d]``; ``fast`` holds ``[B, H, ...]`` weights.

        Returns the output, the new fast weights, the grad norm ``[B]`` and the skip decision ``[B]``.
        """
        q, k, v, eta = self._project(x)  # [B, H, dh], [B, H]
        start_w, start_b = fast["start_weight"], fast["start_bias"]
        z_start = (k.unsqueeze(-2) @ start_w).squeeze(-2) + start_b
        grad = reconstruction_grad(z_start, v - k, self.ln_weight, self.ln_bias)
        grad_norm = grad.detach().norm(dim=-1).mean(1)
        norm_sum = norm_sum + grad_norm
        skip = self._skip(grad_norm, norm_sum, (position + 1).to(x.dtype))
        weight, bias = fast["weight"], fast["bias"]
        if not bool(skip.all()):  # when every env skips, the weight gradient is never formed
            eta = eta * (~skip).unsqueeze(1).to(eta.dtype)
            weight = weight - (eta.unsqueeze(-1) * k).unsqueeze(-1) @ grad.unsqueeze(-2)  # rank-one k^T grad
            bias = bias - eta.unsqueeze(-1) * grad
        z = (q.unsqueeze(-2) @ weight).squeeze(-2) + bias
        y = q + inner_layer_norm(z, self.ln_weight, self.ln_bias)[0]
        ends_batch = (position + 1) % self.mini_batch_size == 0
        new_fast = {"weight": weight, "bias": bias, "start_weight": start_w, "start_bias": start_b}
        if bool(ends_batch.any()):  # the next mini-batch starts from the current weights
            new_fast["start_weight"] = reset_where(start_w, ends_batch, weight)
            new_fast["start_bias"] = reset_where(start_b, ends_batch, bias)
        return self.out(self.post_norm(y.reshape(x.shape))), new_fast, grad_norm, skip


class CausalConv(nn.Module):
    """Depthwise causal convolution over time (``kernel`` taps), initialised to the identity.

    The short convolution ttt-lm puts before its TTT layers (``pre_conv`` / ``conv_kernel``): it hands each token its
    few predecessors directly, so quantities such as a velocity from two positions need not go through the inner
    model's memory. The step form keeps the last ``kernel - 1`` inputs per env.
    """

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        weight = torch.zeros(dim, kernel)
        weight[:, -1] = 1.0
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, T, d]``, each row from the episode start."""
        padded = F.pad(x.transpose(1, 2), (self.kernel - 1, 0))
        return F.conv1d(padded, self.weight.unsqueeze(1), self.bias, groups=x.shape[-1]).transpose(1, 2)

    def step(self, x: torch.Tensor, buffer: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One token per env ``x`` ``[B, d]`` with the previous inputs ``buffer`` ``[B, kernel - 1, d]``."""
        window = torch.cat([buffer, x.unsqueeze(1)], dim=1)
        return (window * self.weight.t()).sum(1) + self.bias, window[:, 1:]


class TTTBlock(nn.Module):
    """Pre-norm residual block: ``x + TTTLinear(conv(LN(x)))`` then a feed-forward block."""

    norm: nn.LayerNorm
    ttt: TTTLinear
    feed_forward: FeedForward

    def __init__(self, dim: int, ff_dim: int, conv_kernel: int = 0, **ttt: Any) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = CausalConv(dim, conv_kernel) if conv_kernel > 1 else None
        self.ttt = TTTLinear(dim, **ttt)
        self.feed_forward = FeedForward(dim, ff_dim)


@dataclasses.dataclass(frozen=True)
class TTTLinearActorConfig(ActorConfig):
    """Config of :class:`TTTLinearActor`.

    Attributes:
        num_layers: TTT blocks.
        num_heads: inner models per layer (each ``head_dim x head_dim``).
        ff_mult: feed-forward width as a multiple of ``embed_dim``.
        mini_batch_size: tokens per inner mini-batch ``b`` (1 = plain online gradient descent).
        inner_lr: base inner step size; the per-token step is ``inner_lr * sigmoid(gate(x)) / head_dim``.
        grad_stop_threshold: skip an inner update when the gradient norm is below this (0 = never skip).
        grad_stop_rule: ``"absolute"`` or ``"relative"`` (threshold times the running mean norm of the episode).
        conv_kernel: taps of the causal depthwise convolution before each TTT layer (ttt-lm's ``pre_conv``);
            0 or 1: none.
    """

    num_layers: int = 2
    num_heads: int = 2
    ff_mult: int = 4
    mini_batch_size: int = 16
    inner_lr: float = 1.0
    conv_kernel: int = 4
    grad_stop_threshold: float = 0.0
    grad_stop_rule: str = "absolute"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_heads(self.embed_dim, self.num_heads)
        _check_grad_stop(self.grad_stop_threshold, self.grad_stop_rule)
        if min(self.num_layers, self.ff_mult, self.mini_batch_size) < 1:
            raise ValueError("num_layers, ff_mult and mini_batch_size must be positive.")
        if self.conv_kernel < 0:
            raise ValueError(f"conv_kernel must be >= 0 (0 or 1: no convolution), got {self.conv_kernel}.")
        if self.inner_lr <= 0:
            raise ValueError(f"inner_lr must be positive, got {self.inner_lr}.")


@register_actor
class TTTLinearActor(SequenceActor):
    """Embedding -> TTT-Linear blocks -> layer norm -> action head.

    State (constant size): ``fast_weight`` / ``fast_start_weight`` ``[n_envs, layers, heads, head_dim, head_dim]``
    (current weights and those the mini-batch started from), ``fast_bias`` / ``fast_start_bias``
    ``[n_envs, layers, heads, head_dim]``, ``position`` ``[n_envs]``, ``grad_norm_sum`` ``[n_envs, layers]`` (for the
    relative rule), ``inner_updates`` / ``skipped_updates`` ``[n_envs]`` (counts of (token, layer) updates in this
    episode), ``conv_buffer`` ``[n_envs, layers, conv_kernel - 1, embed_dim]`` (the convolutions' last inputs, when
    ``conv_kernel > 1``) and ``previous_action``.
    """

    config_class = TTTLinearActorConfig
    legacy_config_defaults: ClassVar[dict[str, Any]] = {"conv_kernel": 0}  # files from before the convolution
    config: TTTLinearActorConfig

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> None:
        super().__init__(observation_space, action_space, **config)
        cfg = self.config
        ttt = {
            "num_heads": cfg.num_heads,
            "mini_batch_size": cfg.mini_batch_size,
            "inner_lr": cfg.inner_lr,
            "grad_stop_threshold": cfg.grad_stop_threshold,
            "grad_stop_rule": cfg.grad_stop_rule,
        }
        with self.seeded_init():
            self.embed = nn.Linear(self.input_dim, cfg.embed_dim)
            self.blocks = nn.ModuleList(
                TTTBlock(cfg.embed_dim, cfg.ff_mult * cfg.embed_dim, conv_kernel=cfg.conv_kernel, **ttt)
                for _ in range(cfg.num_layers)
            )
            self.final_norm = nn.LayerNorm(cfg.embed_dim)
            self.head = self.make_head(cfg.embed_dim)

    @property
    def _typed_blocks(self) -> list[TTTBlock]:
        return cast(list[TTTBlock], list(self.blocks))

    def _forward_features(
        self, inputs: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        x = self.embed(inputs)
        norms, skips = [], []
        for block in self._typed_blocks:
            h = block.norm(x)
            y, layer_stats = block.ttt(h if block.conv is None else block.conv(h), valid)
            x = block.feed_forward(x + y)
            norms.append(layer_stats["grad_norm"])
            skips.append(layer_stats["skipped"])
        skipped = torch.cat(skips).float()
        stats = {
            "inner_grad_norm": float(torch.cat(norms).mean()) if skipped.numel() else 0.0,
            "inner_updates": float((1 - skipped).sum()),
            "skipped_updates": float(skipped.sum()),
        }
        return self.final_norm(x), self._zero(), stats

    def _memory_state(self, n_envs: int) -> State:
        layers = [block.ttt.empty_state(n_envs) for block in self._typed_blocks]
        state = {f"fast_{name}": torch.stack([layer[name] for layer in layers], 1) for name in layers[0]}
        state["position"] = torch.zeros(n_envs, dtype=torch.long, device=self.device)
        state["grad_norm_sum"] = torch.zeros(n_envs, len(self.blocks), device=self.device, dtype=self.dtype)
        state["inner_updates"] = torch.zeros(n_envs, device=self.device, dtype=self.dtype)
        state["skipped_updates"] = torch.zeros(n_envs, device=self.device, dtype=self.dtype)
        if self.config.conv_kernel > 1:
            shape = (n_envs, len(self.blocks), self.config.conv_kernel - 1, self.config.embed_dim)
            state["conv_buffer"] = torch.zeros(shape, device=self.device, dtype=self.dtype)
        return state

    def _reset_memory(self, state: State, reset: torch.Tensor) -> State:
        fresh = self._memory_state(int(reset.shape[0]))
        for name, value in fresh.items():
            state[name] = reset_where(state[name], reset, value)
        return state

    def _step_features(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = self.embed(inputs)
        position = state["position"]
        names = ("weight", "bias", "start_weight", "start_bias")
        new_fast: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        norm_sums, n_skipped = [], torch.zeros_like(state["skipped_updates"])
        buffers: dict[int, torch.Tensor] = {}
        for layer, block in enumerate(self._typed_blocks):
            fast = {name: state[f"fast_{name}"][:, layer] for name in names}
            h = block.norm(x)
            if block.conv is not None:
                h, buffers[layer] = block.conv.step(h, state["conv_buffer"][:, layer])
            y, fast, grad_norm, skip = block.ttt.step(h, fast, position, state["grad_norm_sum"][:, layer])
            x = block.feed_forward(x + y)
            for name in names:
                new_fast[name].append(fast[name])
            norm_sums.append(state["grad_norm_sum"][:, layer] + grad_norm)
            n_skipped = n_skipped + skip.to(n_skipped.dtype)
        mini_batch_ended = bool(((position + 1) % self.config.mini_batch_size == 0).any())
        for name in names:
            if mini_batch_ended or not name.startswith("start_"):  # start weights change only between mini-batches
                state[f"fast_{name}"] = torch.stack(new_fast[name], 1)
        state["grad_norm_sum"] = torch.stack(norm_sums, 1)
        if buffers:
            state["conv_buffer"] = torch.stack([buffers[i] for i in range(len(self.blocks))], 1)
        state["skipped_updates"] = state["skipped_updates"] + n_skipped
        state["inner_updates"] = state["inner_updates"] + len(self.blocks) - n_skipped
        state["position"] = position + 1
        return self.final_norm(x), state
