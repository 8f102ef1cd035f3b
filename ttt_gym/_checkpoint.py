"""Reading and writing the torch files that agents, sequence actors and SB3 policies are saved in.

Every file is a dict of tensors and plain data (spaces go through :mod:`ttt_gym._spaces`), so it loads with
``torch.load(weights_only=True)``: no pickled classes. Agent and actor files name their class under one entry
(``"agent"``, ``"actor"``) and carry ``format_version``; a file without it is version 1. Writes are atomic, so an
interrupted save never leaves a truncated file in place of a good one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from gymnasium import spaces

from ttt_gym._spaces import space_from_data, space_to_data

FORMAT_VERSION = 1
"""Version of the file layout written today; :func:`read_checkpoint` reads every version up to it."""


def write_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """``torch.save`` ``state`` and today's ``format_version`` to ``path`` atomically, creating the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"format_version": FORMAT_VERSION, **state}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_checkpoint(path: str | Path, *, kind: str, entry: str) -> dict[str, Any]:
    """Load a file written by :func:`write_checkpoint`, with errors that name the file and what is wrong.

    Args:
        path: the file.
        kind: what the file should hold, for the messages (``"agent"``, ``"actor"``, ``"policy"``).
        entry: the key every file of that kind has (``"agent"``, ``"actor"``, ``"data"``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a torch file, not a file of this kind, or written by a newer ttt_gym.
    """
    path = Path(path)
    article = "an" if kind[:1] in "aeiou" else "a"
    if not path.is_file():
        raise FileNotFoundError(f"No saved {kind} at {path}.")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable {kind} file written by save(): {error}") from error
    if not isinstance(saved, dict) or entry not in saved:
        raise ValueError(f"{path} is not {article} {kind} file written by save() (no {entry!r} entry).")
    version = saved.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has file format {version!r}, newer than this ttt_gym reads ({FORMAT_VERSION}): upgrade ttt_gym."
        )
    return saved


def check_saved_class(path: str | Path, saved_name: str, expected_name: str) -> None:
    """Raise a ``TypeError`` naming the right class when a file holds another class than the one loading it."""
    if saved_name != expected_name:
        raise TypeError(f"{path} holds a saved {saved_name}; load it with {saved_name}.load.")


def spaces_to_data(observation_space: spaces.Space, action_space: spaces.Space) -> dict[str, Any]:
    """The ``observation_space`` and ``action_space`` entries of a file."""
    return {"observation_space": space_to_data(observation_space), "action_space": space_to_data(action_space)}


def spaces_from_data(saved: Mapping[str, Any]) -> tuple[spaces.Space, spaces.Space]:
    """The ``(observation_space, action_space)`` a file's entries describe (the inverse of :func:`spaces_to_data`)."""
    return space_from_data(saved["observation_space"]), space_from_data(saved["action_space"])
