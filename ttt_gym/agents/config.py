"""The hyperparameters every offline goal-conditioned agent has, and OGBench's per-environment overrides.

Each agent's own config (``GCBCConfig``, ``GCIVLConfig``, ``GCIQLConfig``) extends :class:`AgentConfig` next to the
agent. :class:`AgentConfig` extends the dataset's :class:`~ttt_gym.data.GoalSamplingConfig`: the goal relabelling an
agent trains with is part of its config, under OGBench's names, and ``discount`` is both the discount factor and the
parameter of geometric goal sampling.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ttt_gym.data import GoalSamplingConfig

__all__ = ["AgentConfig", "ogbench_hyperparameters"]


@dataclasses.dataclass(frozen=True)
class AgentConfig(GoalSamplingConfig):
    """Hyperparameters every agent has (OGBench's names and defaults).

    The goal-relabelling fields (``value_p_curgoal``, ``value_p_trajgoal``, ``value_p_randomgoal``,
    ``value_geom_sample``, ``actor_p_*``, ``actor_geom_sample``, ``discount``) are
    :class:`~ttt_gym.data.GoalSamplingConfig`'s; :meth:`goal_sampling` hands them to the dataset.

    Attributes:
        lr: Adam learning rate of every network.
        batch_size: transitions per gradient step.
        actor_hidden_dims: widths of the actor's hidden layers.
        const_std: keep the actor's standard deviation at 1 (OGBench's default); otherwise learn a
            state-independent log standard deviation.
        seed: seeds the network initialisation, the batch sampling and stochastic actions.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    """

    lr: float = 3e-4
    batch_size: int = 1024
    actor_hidden_dims: tuple[int, ...] = (512, 512, 512)
    const_std: bool = True
    seed: int = 0
    device: str = "auto"

    shorthands = ("hidden_dims",)  # sets every *_hidden_dims field at once

    def __post_init__(self) -> None:
        for name in ("actor_hidden_dims", "value_hidden_dims"):
            if hasattr(self, name):
                dims = tuple(int(d) for d in getattr(self, name))
                if not dims or min(dims) < 1:
                    raise ValueError(f"{name} must be a non-empty sequence of positive widths, got {dims}.")
                object.__setattr__(self, name, dims)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        super().__post_init__()

    @classmethod
    def _expand_shorthands(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``hidden_dims`` sets every ``*_hidden_dims`` field (an explicit different value for one is an error)."""
        if "hidden_dims" in kwargs:
            dims = tuple(kwargs.pop("hidden_dims"))
            for field in dataclasses.fields(cls):
                name = field.name
                if name.endswith("_hidden_dims"):
                    if name in kwargs and tuple(kwargs[name]) != dims:
                        raise ValueError(f"hidden_dims={dims} conflicts with {name}={tuple(kwargs[name])}.")
                    kwargs[name] = dims
        return kwargs

    def goal_sampling(self) -> GoalSamplingConfig:
        """The dataset's goal-relabelling config implied by this agent config (its relabelling fields alone)."""
        return GoalSamplingConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(GoalSamplingConfig)})


def ogbench_hyperparameters(agent: str, env_name: str) -> dict[str, Any]:
    """Per-environment overrides of OGBench's ``impls/hyperparameters.sh`` for a state-based env.

    Pass the result as keyword arguments: ``GCIQL(env, dataset, **ogbench_hyperparameters("gciql", name))``.
    Covers the pointmaze / antmaze / humanoidmaze / antsoccer / cube / scene / puzzle families; an env outside them
    gets an empty dict (the agent's defaults).

    Args:
        agent: ``"gcbc"``, ``"gcivl"`` or ``"gciql"`` (case-insensitive).
        env_name: an OGBench dataset name such as ``"pointmaze-medium-navigate-v0"``.
    """
    agent = agent.lower()
    if agent not in ("gcbc", "gcivl", "gciql"):
        raise ValueError(f"agent must be 'gcbc', 'gcivl' or 'gciql', got {agent!r}.")
    family = env_name.split("-")[0]
    overrides: dict[str, Any] = {}
    if family == "humanoidmaze" or "-giant-" in env_name:
        if agent != "gcbc":
            overrides["discount"] = 0.995
    if agent != "gcbc" and "-stitch-" in env_name:
        overrides.update(actor_p_trajgoal=0.5, actor_p_randomgoal=0.5)
    if agent != "gcbc" and "-explore-" in env_name:
        overrides.update(actor_p_trajgoal=0.0, actor_p_randomgoal=1.0)
    if agent == "gcivl":
        overrides["alpha"] = 10.0
    elif agent == "gciql":
        noisy = "-noisy-" in env_name
        alphas = {"pointmaze": 0.003, "antmaze": 0.3, "humanoidmaze": 0.1, "antsoccer": 0.1}
        if family in alphas:
            overrides["alpha"] = 0.01 if "-explore-" in env_name else alphas[family]
        elif family in ("cube", "scene", "puzzle"):
            overrides["alpha"] = 0.03 if noisy else 1.0
    return overrides
