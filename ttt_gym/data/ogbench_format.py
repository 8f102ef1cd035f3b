"""OGBench's dataset file layout: reading ``.npz`` files and checking arrays, with errors that name the problem.

A file holds trajectories back to back (see :mod:`ttt_gym.data.dataset`): ``observations`` ``(N, obs_dim)``,
``actions`` ``(N, action_dim)`` and ``terminals`` ``(N,)`` (1 on the last state of every trajectory), plus optional
per-row ``qpos``, ``qvel`` and ``button_states``.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["INFO_KEYS", "REQUIRED_KEYS", "DatasetFormatError", "check_layout", "read_npz"]

REQUIRED_KEYS = ("observations", "actions", "terminals")
INFO_KEYS = ("qpos", "qvel", "button_states")


class DatasetFormatError(ValueError):
    """A dataset file or array set is not in OGBench's format; the message names the file and the problem."""


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an npz file, with errors that say which file is broken and how."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise DatasetFormatError(
            f"{path}: not a readable .npz archive ({type(err).__name__}: {err}); the file is corrupt or truncated "
            "(e.g. an interrupted download or copy): delete it and generate or download it again"
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetFormatError(f"{path}: holds a single .npy array, not an .npz archive of named arrays")
    with archive:
        missing = [key for key in REQUIRED_KEYS if key not in archive.files]
        if missing:
            raise DatasetFormatError(
                f"{path}: missing key(s) {missing}; found {sorted(archive.files)}. An OGBench dataset needs "
                f"{list(REQUIRED_KEYS)} (plus optional {list(INFO_KEYS)})"
            )
        arrays = {}
        for key in (*REQUIRED_KEYS, *(k for k in INFO_KEYS if k in archive.files)):
            try:
                arrays[key] = archive[key]
            except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as err:
                raise DatasetFormatError(
                    f"{path}: array '{key}' cannot be read ({type(err).__name__}: {err}); the file is corrupt or "
                    "truncated: delete it and generate or download it again"
                ) from err
    return arrays


def check_layout(
    source: str,
    observations: np.ndarray,
    actions: np.ndarray,
    terminals: np.ndarray,
    extras: Mapping[str, np.ndarray],
) -> None:
    """Raise a :class:`DatasetFormatError` unless the arrays are in OGBench's layout (``source`` names them)."""
    if observations.ndim != 2:
        raise DatasetFormatError(
            f"{source}: observations must be a 2-d (N, obs_dim) array, got shape {observations.shape} "
            "(pixel datasets are not supported)"
        )
    if actions.ndim != 2:
        raise DatasetFormatError(f"{source}: actions must be a 2-d (N, action_dim) array, got shape {actions.shape}")
    if terminals.ndim != 1:
        raise DatasetFormatError(f"{source}: terminals must be a 1-d (N,) array, got shape {terminals.shape}")
    lengths = {"observations": len(observations), "actions": len(actions), "terminals": len(terminals)}
    lengths.update({key: len(value) for key, value in extras.items()})
    if len(set(lengths.values())) != 1:
        raise DatasetFormatError(f"{source}: arrays have different lengths {lengths}; the file is inconsistent")
    if len(terminals) == 0:
        raise DatasetFormatError(f"{source}: the dataset is empty")
    if not terminals[-1]:
        raise DatasetFormatError(
            f"{source}: the last row is not a terminal (terminals[-1] == 0): the last trajectory has no end, so the "
            "data is truncated or not in OGBench's layout (terminals = 1 on the last state of every trajectory)"
        )
    for key, array in (("observations", observations), ("actions", actions)):
        if not np.issubdtype(array.dtype, np.number):
            raise DatasetFormatError(f"{source}: {key} has non-numeric dtype {array.dtype}")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).any(axis=1).sum())
            raise DatasetFormatError(f"{source}: {key} has NaN or infinite values in {bad} rows")
