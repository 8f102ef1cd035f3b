"""Actor classes by name, and the actor file format: what :meth:`SequenceActor.save` writes and ``load`` reads.

A file names its actor class (``"actor": "GRUActor"``); the class must be registered (:func:`register_actor`, which
every actor module applies) for :func:`load_actor` to rebuild it without being told the class.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import torch
from stable_baselines3.common.utils import get_device

from ttt_gym._checkpoint import check_saved_class, read_checkpoint, spaces_from_data, spaces_to_data, write_checkpoint

if TYPE_CHECKING:
    from ttt_gym.policies.base import SequenceActor

__all__ = ["load_actor", "read_actor", "register_actor", "write_actor"]

_ActorT = TypeVar("_ActorT", bound="SequenceActor")
_ACTOR_CLASSES: dict[str, type[SequenceActor]] = {}


def register_actor(cls: type[_ActorT]) -> type[_ActorT]:
    """Class decorator: make ``cls`` loadable by name (:meth:`SequenceActor.load`, :func:`load_actor`)."""
    _ACTOR_CLASSES[cls.__name__] = cls
    return cls


def write_actor(actor: SequenceActor, path: str | Path) -> None:
    """Write the config, the spaces, the weights and how validation says the actor acts best."""
    write_checkpoint(
        path,
        {
            "actor": type(actor).__name__,
            "config": dataclasses.asdict(actor.config),
            **spaces_to_data(actor.observation_space, actor.action_space),
            "state_dict": {k: v.detach().cpu() for k, v in actor.state_dict().items()},
            "validated_deterministic": actor.validated_deterministic,
        },
    )


def read_actor(
    path: str | Path, device: str | torch.device = "auto", expected: type[SequenceActor] | None = None
) -> SequenceActor:
    """Rebuild the actor a file holds; ``expected``: the class it must be (any registered one when None)."""
    saved = read_checkpoint(path, kind="actor", entry="actor")
    actor_cls = _ACTOR_CLASSES.get(saved["actor"])
    if actor_cls is None:
        raise ValueError(f"{path} holds an unknown actor {saved['actor']!r}; known: {sorted(_ACTOR_CLASSES)}.")
    if expected is not None:
        check_saved_class(path, saved["actor"], expected.__name__)
    # Fields added after a file was written keep the behaviour the file was trained with, not today's default.
    config = {**actor_cls.legacy_config_defaults, **saved["config"]}
    actor = actor_cls(*spaces_from_data(saved), **config)
    actor.load_state_dict(saved["state_dict"])
    actor.validated_deterministic = saved.get("validated_deterministic")
    return actor.to(get_device(device))


def load_actor(path: str | Path, device: str | torch.device = "auto") -> SequenceActor:
    """Load any actor written by ``save`` without knowing its class."""
    return read_actor(path, device)
