"""What :func:`ttt_gym.data.generate_dataset` can make: OGBench's collection settings per dataset, and file paths."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "DATASET_SPECS",
    "DEFAULT_DATASET_DIR",
    "DatasetSpec",
    "UnsupportedDatasetError",
    "dataset_paths",
    "dataset_spec",
]

DEFAULT_DATASET_DIR = Path("~/.ogbench/data")
"""OGBench's default dataset directory (``ogbench.utils.DEFAULT_DATASET_DIR``)."""


class UnsupportedDatasetError(ValueError):
    """The dataset cannot be generated locally (unknown name, or OGBench made it with a learned expert)."""


@dataclass(frozen=True)
class DatasetSpec:
    """How OGBench collected one dataset (``data_gen_scripts/commands.sh``).

    Attributes:
        name: Dataset name, e.g. ``"pointmaze-medium-navigate-v0"``.
        env_id: The environment it is collected in, e.g. ``"pointmaze-medium-v0"``.
        family: ``"locomaze"`` (maze navigation) or ``"manipspace"`` (manipulation).
        dataset_type: ``"navigate"`` / ``"stitch"`` for mazes, ``"play"`` / ``"noisy"`` for manipulation.
        num_episodes: Training episodes (the validation file adds a tenth of that).
        episode_steps: Transitions per episode (OGBench's ``max_episode_steps``).
        noise: Action noise: Gaussian std for mazes; plan noise (play) or the maximum per-episode
            noise level (noisy) for manipulation.
        p_random_action: Probability of a uniformly random action at each step (manipulation, noisy).
    """

    name: str
    env_id: str
    family: Literal["locomaze", "manipspace"]
    dataset_type: str
    num_episodes: int
    episode_steps: int
    noise: float
    p_random_action: float = 0.0


def _build_specs() -> dict[str, DatasetSpec]:
    specs: list[DatasetSpec] = []
    for maze in ("medium", "large", "giant", "teleport"):
        giant = maze == "giant"
        specs.append(
            DatasetSpec(
                name=f"pointmaze-{maze}-navigate-v0",
                env_id=f"pointmaze-{maze}-v0",
                family="locomaze",
                dataset_type="navigate",
                num_episodes=500 if giant else 1000,
                episode_steps=2001 if giant else 1001,
                noise=0.5,
            )
        )
        specs.append(
            DatasetSpec(
                name=f"pointmaze-{maze}-stitch-v0",
                env_id=f"pointmaze-{maze}-v0",
                family="locomaze",
                dataset_type="stitch",
                num_episodes=5000,
                episode_steps=201,
                noise=0.5,
            )
        )
    manip = {
        "cube-single": (1000, 0.1),
        "cube-double": (1000, 0.1),
        "cube-triple": (3000, 0.1),
        "cube-quadruple": (5000, 0.1),
        "scene": (1000, 0.1),
        "puzzle-3x3": (1000, 0.2),
        "puzzle-4x4": (1000, 0.2),
        "puzzle-4x5": (3000, 0.2),
        "puzzle-4x6": (5000, 0.2),
    }
    for env, (episodes, p_random) in manip.items():
        for dataset_type in ("play", "noisy"):
            specs.append(
                DatasetSpec(
                    name=f"{env}-{dataset_type}-v0",
                    env_id=f"{env}-v0",
                    family="manipspace",
                    dataset_type=dataset_type,
                    num_episodes=episodes,
                    episode_steps=1001,
                    noise=0.1,
                    p_random_action=p_random if dataset_type == "noisy" else 0.0,
                )
            )
    return {spec.name: spec for spec in specs}


DATASET_SPECS: Mapping[str, DatasetSpec] = _build_specs()
"""Every dataset :func:`generate_dataset` can make, by name."""


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``, or an :class:`UnsupportedDatasetError` saying why not and what works."""
    if name in DATASET_SPECS:
        return DATASET_SPECS[name]
    supported = ", ".join(DATASET_SPECS)
    for marker in ("-singletask", "-oraclerep"):
        if marker in name:
            base = name.split(marker)[0] + "-v0"
            raise UnsupportedDatasetError(
                f"'{name}' is a view of the '{base}' dataset that ogbench.make_env_and_datasets derives on load: "
                f"generate '{base}' instead."
            )
    if name.startswith("visual-"):
        raise UnsupportedDatasetError(
            f"'{name}' has pixel observations, which need an offscreen OpenGL renderer for every step; generate the "
            f"state-based '{name.removeprefix('visual-')}' instead. Supported: {supported}."
        )
    if name.split("-", 1)[0] in ("antmaze", "humanoidmaze", "antsoccer"):
        raise UnsupportedDatasetError(
            f"'{name}': OGBench collects antmaze / humanoidmaze / antsoccer data with pretrained SAC locomotion "
            "experts (data_gen_scripts/main_sac.py checkpoints) that the ogbench package does not ship and that "
            "cannot be downloaded here, so this data cannot be reproduced locally. Datasets that need no learned "
            f"expert: {supported}."
        )
    raise UnsupportedDatasetError(f"Unknown dataset '{name}'. Supported: {supported}.")


def dataset_paths(name: str, path: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Training and validation file paths of dataset ``name``.

    Args:
        name: Dataset name.
        path: A directory (files ``{name}.npz`` and ``{name}-val.npz`` inside it), a training file path ending in
            ``.npz`` (validation file next to it, OGBench's ``-val.npz`` convention), or None for
            :data:`DEFAULT_DATASET_DIR`.
    """
    target = Path(os.path.expanduser(path if path is not None else DEFAULT_DATASET_DIR))
    train = target if target.suffix == ".npz" else target / f"{name}.npz"
    return train, train.with_name(train.name[: -len(".npz")] + "-val.npz")
