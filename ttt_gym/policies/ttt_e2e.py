"""TTT-E2E actor ("TTT-Policy"): a frozen attention prefix with a short view and a suffix MLP that learns at test time.

Per step ``t`` the observation (and previous action) is embedded as ``e_t``; a causal transformer prefix that sees only
the latest tokens turns it into ``h_t``; a residual suffix MLP with *fast weights* ``theta`` gives ``u_t``, from which
the action head reads the action distribution and a linear predictor guesses the next token's embedding.

Inner loop (at deployment and in training alike): steps are grouped in chunks of ``chunk_size`` (M) steps from the
episode start. All steps of chunk ``c`` use the fast weights ``theta_c``. When the first step of chunk ``c + 1`` arrives
its embedding completes the targets of chunk ``c``, and ``theta_{c+1} = theta_c - lr * grad L_c(theta_c)`` with
``L_c`` the MSE between the chunk's predictions and the layer-normalised embeddings of the steps that followed them.
The update is made before that step acts, so the step form and the sequence form compute the same thing: there is
no exception to the step-vs-sequence equality. Long-range memory can only flow through these updates; information
within reach of attention flows through it: a sliding window of the latest ``context`` steps (default 32, TTT-E2E's own
layout: sliding-window attention, test-time training for what lies beyond the window), attention within the current
chunk only (``context=None``, the blog's chunk-local setting), or the current step only (``context=1``).

Outer loop: :meth:`SequenceActor.loss` is the action NLL (cross-entropy, or Gaussian NLL for Box actions) plus
``aux_loss_weight`` times the same embedding MSE, differentiated through the inner updates (second order unless
``first_order``). Only the suffix MLP adapts; embeddings, norms, attention, predictor and heads are fixed at
deployment.

Gradient stopping: a chunk's update is skipped when the norm of the inner loss gradient with respect to the
predictions (known before backpropagating into the suffix) is below ``grad_stop_threshold`` (``absolute``) or below
that multiple of its running mean over the episode's chunks (``relative``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from ttt_gym.policies.base import (
    ActorConfig,
    SequenceActor,
    State,
    _check_grad_stop,
    _check_heads,
    register_actor,
    reset_where,
    should_skip_update,
)
from ttt_gym.policies.transformer import CausalTransformer

# The fast tensors in the one order every code path uses: ``log_inner_lr[i]`` is the step size of ``_FAST[i]``. It is
# the key order of ``fast_init`` (an ``nn.ParameterDict`` built from a dict sorts its keys), which is the order actors
# were trained with; the step form once iterated ``("w1", "b1", "w2", "b2")`` and so paired trained step sizes with
# the wrong tensors.
_FAST = ("b1", "b2", "w1", "w2")


@dataclasses.dataclass(frozen=True)
class TTTE2EActorConfig(ActorConfig):
    """Config of :class:`TTTE2EActor`.

    Attributes:
        num_layers: transformer blocks of the prefix.
        num_heads: attention heads of the prefix (``embed_dim / num_heads`` must be even).
        ff_mult: prefix feed-forward width as a multiple of ``embed_dim``.
        context: prefix attention: the latest k steps (default 32: a sliding window across chunk boundaries), None for
            the current chunk only (causal, chunk-aligned). On Mystery Path and Coin Search the window of 32 lifted
            TTT-E2E from 76.0% / 30.5% (current chunk) to 98.0% / 97.5% (docs/BENCHMARKS.md).
        chunk_size: steps per inner update (M); one SGD step per chunk.
        suffix_mult: hidden width of the suffix MLP as a multiple of ``embed_dim``.
        inner_lr: initial inner SGD step size (one per fast tensor).
        learn_inner_lr: meta-learn the (log) inner step sizes.
        aux_loss_weight: weight of the embedding MSE in the outer loss (the blog's 0.01).
        first_order: drop the second-order terms (inner gradients treated as constants in the outer backward).
        inner_max_grad_norm: clip each env's inner gradient (all fast tensors together) to this norm before the SGD
            step (None: no clipping). Without it the fast weights of an off-distribution episode (a learner's own
            DAgger rollout, say) can grow without bound within a few chunks and the actions become NaN.
        grad_stop_threshold: skip a chunk's update when the inner gradient norm is below this (0 = never skip).
        grad_stop_rule: ``"absolute"`` or ``"relative"`` (threshold times the running mean norm of the episode).
    """

    num_layers: int = 2
    num_heads: int = 2
    ff_mult: int = 4
    context: int | None = 32
    chunk_size: int = 16
    suffix_mult: int = 4
    inner_lr: float = 1.0
    learn_inner_lr: bool = True
    aux_loss_weight: float = 0.01
    first_order: bool = False
    inner_max_grad_norm: float | None = 1.0
    grad_stop_threshold: float = 0.0
    grad_stop_rule: str = "absolute"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_heads(self.embed_dim, self.num_heads, rotary=True)
        _check_grad_stop(self.grad_stop_threshold, self.grad_stop_rule)
        if min(self.num_layers, self.ff_mult, self.chunk_size, self.suffix_mult) < 1:
            raise ValueError("num_layers, ff_mult, chunk_size and suffix_mult must be positive.")
        if self.context is not None and self.context < 1:
            raise ValueError(f"context must be None (the current chunk) or >= 1, got {self.context}.")
        if self.inner_lr <= 0 or self.aux_loss_weight < 0:
            raise ValueError("inner_lr must be positive and aux_loss_weight non-negative.")
        if self.inner_max_grad_norm is not None and not self.inner_max_grad_norm > 0:
            raise ValueError(
                f"inner_max_grad_norm must be positive or None (no clipping), got {self.inner_max_grad_norm}."
            )


@register_actor
class TTTE2EActor(SequenceActor):
    """See the module docstring.

    State (constant size): the prefix cache ``keys_{layer}``/``values_{layer}`` ``[n_envs, heads, cap, head_dim]``
    with ``cap = context or chunk_size`` and ``position`` ``[n_envs]``; the fast weights ``fast_w1`` ``[n_envs, d, h]``,
    ``fast_b1``, ``fast_w2`` ``[n_envs, h, d]``, ``fast_b2``; the current chunk's prefix outputs and embeddings
    ``chunk_hidden`` / ``chunk_embedding`` ``[n_envs, chunk_size, d]``; ``grad_norm_sum``, ``inner_updates`` and
    ``skipped_updates`` ``[n_envs]`` (chunk updates done / skipped this episode); ``previous_action``.
    """

    config_class = TTTE2EActorConfig
    legacy_config_defaults: ClassVar[dict[str, Any]] = {"inner_max_grad_norm": None}  # files from before the clip
    config: TTTE2EActorConfig

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, **config: Any) -> None:
        super().__init__(observation_space, action_space, **config)
        cfg = self.config
        d, hidden = cfg.embed_dim, cfg.suffix_mult * cfg.embed_dim
        with self.seeded_init():
            self.embed = nn.Linear(self.input_dim, d)
            self.prefix = CausalTransformer(
                d,
                cfg.num_layers,
                cfg.num_heads,
                cfg.ff_mult * d,
                window=cfg.context,
                chunk=cfg.chunk_size if cfg.context is None else None,
            )
            self.prefix_norm = nn.LayerNorm(d)
            self.suffix_norm = nn.LayerNorm(d)
            self.fast_init = nn.ParameterDict(
                {
                    "w1": nn.Parameter(torch.randn(d, hidden) / math.sqrt(d)),
                    "b1": nn.Parameter(torch.zeros(hidden)),
                    "w2": nn.Parameter(torch.randn(hidden, d) * 0.5 / math.sqrt(hidden)),
                    "b2": nn.Parameter(torch.zeros(d)),
                }
            )
            self.log_inner_lr = nn.Parameter(
                torch.full((len(_FAST),), math.log(cfg.inner_lr)), requires_grad=cfg.learn_inner_lr
            )
            self.predictor = nn.Linear(d, d)
            self.final_norm = nn.LayerNorm(d)
            self.head = self.make_head(d)

    @property
    def aux_loss_weight(self) -> float:
        return self.config.aux_loss_weight

    # -- pieces ---------------------------------------------------------------------------------------------------

    def _suffix(self, hidden: torch.Tensor, fast: dict[str, torch.Tensor]) -> torch.Tensor:
        """``hidden`` ``[B, N, d]`` with per-env fast weights -> ``u`` ``[B, N, d]``."""
        a = F.gelu(torch.baddbmm(fast["b1"].unsqueeze(1), self.suffix_norm(hidden), fast["w1"]))
        return hidden + torch.baddbmm(fast["b2"].unsqueeze(1), a, fast["w2"])

    @staticmethod
    def _targets(embeddings: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(embeddings, embeddings.shape[-1:])

    def _inner_step(
        self,
        fast: dict[str, torch.Tensor],
        hidden: torch.Tensor,
        targets: torch.Tensor,
        pairs: torch.Tensor,
        norm_sum: torch.Tensor,
        count: torch.Tensor,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One SGD step of the suffix on a chunk.

        Args:
            fast: fast weights ``[B, ...]`` of the chunk.
            hidden: prefix outputs ``[B, M, d]`` of the chunk.
            targets: normalised embeddings ``[B, M, d]`` of the steps following them.
            pairs: ``[B, M]`` bool, True where the (prediction, target) pair exists.
            norm_sum: ``[B]`` sum of the earlier chunks' gradient norms (relative rule), this chunk's added inside.
            count: ``[B]`` number of chunks so far, this one included.

        Returns:
            New fast weights, the chunk's suffix outputs ``u`` (computed with the old weights), the per-step squared
            errors ``[B, M]``, the gradient norms ``[B]`` and the skip decisions ``[B]``.
        """
        differentiable = torch.is_grad_enabled()
        with torch.enable_grad():
            if differentiable:
                leaves = {k: w if w.requires_grad else w.detach().requires_grad_(True) for k, w in fast.items()}
            else:
                leaves = {k: w.detach().requires_grad_(True) for k, w in fast.items()}
            u = self._suffix(hidden, leaves)
            errors = self.predictor(u) - targets
            squared = errors.pow(2).mean(-1)  # [B, M]
            weights = pairs.to(squared.dtype)
            n_pairs = weights.sum(1)
            per_env = (squared * weights).sum(1) / n_pairs.clamp_min(1.0)
        # The stopping decision needs only d per_env / d predictions = 2 * errors / (n_pairs * d), known before any
        # backward pass: when every env skips, the backward into the suffix is not run at all.
        with torch.no_grad():
            scale = 2.0 / (n_pairs.clamp_min(1.0) * errors.shape[-1])
            grad_norm = scale * torch.sqrt((errors.pow(2).sum(-1) * weights).sum(1))
        norm_sum = norm_sum + grad_norm
        skip = should_skip_update(
            grad_norm, norm_sum / count, self.config.grad_stop_threshold, self.config.grad_stop_rule
        )
        keep = (~skip & (n_pairs > 0)).to(per_env.dtype)
        if not bool(keep.any()):
            new_fast = dict(leaves if differentiable else fast)
        else:
            with torch.enable_grad():
                # retain_graph: in training the chunk's outputs u (action features, aux loss) share this graph.
                grads = torch.autograd.grad(
                    per_env.sum(),
                    list(leaves.values()),
                    create_graph=differentiable and not self.config.first_order,
                    retain_graph=differentiable,
                )
            scale = keep  # [B]: the clip factor, the skip decision and the step size make one per-env factor
            if self.config.inner_max_grad_norm is not None:
                # Per-env clip over all fast tensors; the factor is a constant of the outer backward, as in
                # torch.nn.utils.clip_grad_norm_.
                norms = torch.stack([torch.linalg.vector_norm(g.detach().flatten(1), dim=1) for g in grads]).norm(dim=0)
                scale = scale * (self.config.inner_max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
            lrs = self.log_inner_lr.exp()
            new_fast = {}
            for name, grad in zip(leaves, grads, strict=True):
                step = (lrs[_FAST.index(name)] * scale).view(-1, *(1,) * (grad.dim() - 1)) * grad
                new_fast[name] = (leaves[name] if differentiable else fast[name]) - step
        if not differentiable:
            new_fast = {name: w.detach() for name, w in new_fast.items()}
            u, squared = u.detach(), squared.detach()
        return new_fast, u, squared, grad_norm, skip

    # -- sequence form --------------------------------------------------------------------------------------------

    def _forward_features(
        self, inputs: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        batch, length, _ = inputs.shape
        m = self.config.chunk_size
        embeddings = self.embed(inputs)
        hidden = self.prefix_norm(self.prefix(embeddings))
        targets = F.pad(self._targets(embeddings[:, 1:]), (0, 0, 0, 1))
        pairs = F.pad(valid[:, :-1] & valid[:, 1:], (0, 1))
        fast = {name: self.fast_init[name].expand(batch, *self.fast_init[name].shape) for name in _FAST}
        norm_sum = inputs.new_zeros(batch)
        features, squared_errors, norms, skips = [], [], [], []
        n_chunks = math.ceil(length / m)
        # split, not indexing in the loop: its backward joins the chunks' gradients once instead of building a
        # zero tensor of the whole sequence per chunk
        chunks = zip(hidden.split(m, 1), targets.split(m, 1), pairs.split(m, 1), strict=True)
        for c, (hidden_chunk, targets_chunk, pairs_chunk) in enumerate(chunks):
            count = inputs.new_full((batch,), c + 1.0)
            new_fast, u, squared, grad_norm, skip = self._inner_step(
                fast, hidden_chunk, targets_chunk, pairs_chunk, norm_sum, count
            )
            features.append(u)
            squared_errors.append(squared)
            has_pairs = pairs_chunk.any(1)
            norm_sum = norm_sum + grad_norm
            norms.append(grad_norm[has_pairs])
            skips.append(skip[has_pairs])
            fast = new_fast
        squared = torch.cat(squared_errors, 1)
        weights = pairs.to(squared.dtype)
        aux_loss = (squared * weights).sum() / weights.sum().clamp_min(1.0)
        if n_chunks > 1:  # the last chunk's update is never used: report the ones that were
            norms, skips = norms[:-1], skips[:-1]
        skipped = torch.cat(skips).float() if skips else inputs.new_zeros(0)
        stats = {
            "embedding_mse": float(aux_loss.detach()),
            "inner_grad_norm": float(torch.cat(norms).mean().detach()) if skipped.numel() else 0.0,
            "inner_updates": float((1 - skipped).sum()),
            "skipped_updates": float(skipped.sum()),
        }
        return self.final_norm(torch.cat(features, 1)), aux_loss, stats

    # -- step form ------------------------------------------------------------------------------------------------

    def _memory_state(self, n_envs: int) -> State:
        state = self.prefix.empty_cache(n_envs, self.device, self.dtype)
        for name in _FAST:
            w = self.fast_init[name]
            state[f"fast_{name}"] = w.detach().expand(n_envs, *w.shape).clone()
        shape = (n_envs, self.config.chunk_size, self.config.embed_dim)
        state["chunk_hidden"] = torch.zeros(shape, device=self.device, dtype=self.dtype)
        state["chunk_embedding"] = torch.zeros(shape, device=self.device, dtype=self.dtype)
        for name in ("grad_norm_sum", "inner_updates", "skipped_updates"):
            state[name] = torch.zeros(n_envs, device=self.device, dtype=self.dtype)
        return state

    def _reset_memory(self, state: State, reset: torch.Tensor) -> State:
        state = self.prefix.reset_cache(state, reset)
        fresh = self._memory_state(int(reset.shape[0]))
        kept = (*self.prefix.cache_names, "position")  # reset_cache handled them
        for name, value in fresh.items():
            if name not in kept:
                state[name] = reset_where(state[name], reset, value)
        return state

    def _step_features(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        m = self.config.chunk_size
        position = state["position"]
        embedding = self.embed(inputs)
        hidden = self.prefix_norm(self.prefix.step(embedding, state))
        boundary = (position > 0) & (position % m == 0)
        if bool(boundary.any()):
            rows = torch.nonzero(boundary).squeeze(-1)
            fast = {name: state[f"fast_{name}"][rows] for name in _FAST}
            chunk_embeddings = torch.cat([state["chunk_embedding"][rows, 1:], embedding[rows].unsqueeze(1)], 1)
            n = int(rows.numel())
            pairs = torch.ones(n, m, dtype=torch.bool, device=inputs.device)
            count = (position[rows] // m).to(hidden.dtype)
            new_fast, _, _, grad_norm, skip = self._inner_step(
                fast,
                state["chunk_hidden"][rows],
                self._targets(chunk_embeddings),
                pairs,
                state["grad_norm_sum"][rows],
                count,
            )
            for name in _FAST:
                state[f"fast_{name}"] = state[f"fast_{name}"].index_copy(0, rows, new_fast[name])
            skipped = skip.to(hidden.dtype)
            state["grad_norm_sum"] = state["grad_norm_sum"].index_add(0, rows, grad_norm)
            state["skipped_updates"] = state["skipped_updates"].index_add(0, rows, skipped)
            state["inner_updates"] = state["inner_updates"].index_add(0, rows, 1.0 - skipped)
        slot = position % m
        every = torch.arange(inputs.shape[0], device=inputs.device)
        state["chunk_hidden"][every, slot] = hidden
        state["chunk_embedding"][every, slot] = embedding
        fast = {name: state[f"fast_{name}"] for name in _FAST}
        u = self._suffix(hidden.unsqueeze(1), fast).squeeze(1)
        return self.final_norm(u), state
