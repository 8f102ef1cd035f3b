"""Gymnasium spaces to and from plain data, for checkpoints that load with ``torch.load(weights_only=True)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces


def space_to_data(space: spaces.Space) -> dict[str, Any]:
    """A Box, Discrete or Dict space as tensors and builtins (what a checkpoint stores)."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "low": torch.as_tensor(space.low),
            "high": torch.as_tensor(space.high),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {key: space_to_data(sub) for key, sub in space.spaces.items()}}
    raise TypeError(f"Cannot save a {type(space).__name__} space; checkpoints hold Box, Discrete and Dict spaces.")


def space_from_data(data: Mapping[str, Any]) -> spaces.Space:
    """The inverse of :func:`space_to_data`."""
    kind = data["type"]
    if kind == "Box":
        return spaces.Box(low=data["low"].numpy(), high=data["high"].numpy(), dtype=np.dtype(data["dtype"]))
    if kind == "Discrete":
        return spaces.Discrete(data["n"], start=data["start"])
    if kind == "Dict":
        return spaces.Dict({key: space_from_data(sub) for key, sub in data["spaces"].items()})
    raise ValueError(f"Unknown space type {kind!r} in the checkpoint; was it written by ttt_gym?")
