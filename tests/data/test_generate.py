"""Generation of OGBench-format datasets: format, OGBench compatibility, seeding, unsupported names."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import ogbench
import pytest

from ttt_gym.data import (
    DATASET_SPECS,
    GoalDataset,
    UnsupportedDatasetError,
    dataset_paths,
    dataset_spec,
    generate_dataset,
)
from ttt_gym.data.collectors import _cells_at_distance, _is_corridor

from .conftest import TINY_EPISODES, TINY_STEPS

NAVIGATE = "pointmaze-medium-navigate-v0"


def _generate(tmp_path: Path, name: str = NAVIGATE, **kwargs: Any) -> dict[str, np.ndarray]:
    options: dict[str, Any] = dict(
        num_episodes=TINY_EPISODES, episode_steps=TINY_STEPS, progress_bar=False, num_workers=1
    )
    options.update(kwargs)
    path = generate_dataset(name, path=tmp_path, **options)
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def test_files_have_ogbench_keys_dtypes_and_layout(tiny_navigate: Path) -> None:
    train, val = dataset_paths(NAVIGATE, tiny_navigate.parent)
    assert train == tiny_navigate and val.name == f"{NAVIGATE}-val.npz" and val.is_file()
    with np.load(train) as archive:
        assert sorted(archive.files) == ["actions", "observations", "qpos", "qvel", "terminals"]
        rows = TINY_EPISODES * TINY_STEPS
        assert archive["observations"].shape == (rows, 2) and archive["observations"].dtype == np.float32
        assert archive["actions"].shape == (rows, 2) and archive["actions"].dtype == np.float32
        assert archive["qpos"].dtype == np.float32 and archive["qvel"].dtype == np.float32
        assert archive["terminals"].dtype == bool
        assert np.flatnonzero(archive["terminals"]).tolist() == [TINY_STEPS * (k + 1) - 1 for k in range(3)]
        assert np.abs(archive["actions"]).max() <= 1.0
        # The point mass observes its position: qpos *before* each step is the stored observation.
        np.testing.assert_array_equal(archive["observations"], archive["qpos"])
    with np.load(val) as archive:
        assert len(archive["terminals"]) == TINY_STEPS  # max(1, 3 // 10) validation episode


def test_ogbench_loads_generated_files_offline(tiny_navigate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("ogbench tried to download although the files exist")

    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    env, train, val = ogbench.make_env_and_datasets(NAVIGATE, dataset_dir=str(tiny_navigate.parent))
    env.close()
    transitions = TINY_EPISODES * (TINY_STEPS - 1)
    assert train["observations"].shape == (transitions, 2) and len(val["observations"]) == TINY_STEPS - 1
    ours = GoalDataset.load(tiny_navigate)
    np.testing.assert_array_equal(train["observations"], ours.observations)
    np.testing.assert_array_equal(train["next_observations"], ours.next_observations)
    np.testing.assert_array_equal(train["actions"], ours.actions)
    np.testing.assert_array_equal(train["terminals"], ours.terminals)


def test_generation_is_seeded_per_episode(tmp_path: Path, tiny_navigate: Path) -> None:
    with np.load(tiny_navigate) as archive:
        reference = {key: archive[key] for key in archive.files}
    state: Any = np.random.get_state()  # noqa: NPY002  (generation must leave the legacy global generator alone)
    same = _generate(tmp_path / "same")
    after: Any = np.random.get_state()  # noqa: NPY002
    assert after[1].tolist() == state[1].tolist(), "the caller's np.random state was changed"
    for key in reference:
        np.testing.assert_array_equal(same[key], reference[key])
    other_seed = _generate(tmp_path / "other", seed=1)
    assert not np.array_equal(other_seed["observations"], reference["observations"])
    # Episode k depends on (seed, k) only: fewer episodes give a prefix of the same data.
    fewer = _generate(tmp_path / "fewer", num_episodes=2)
    np.testing.assert_array_equal(fewer["observations"], reference["observations"][: 2 * TINY_STEPS])


def test_worker_processes_do_not_change_the_data(tmp_path: Path, tiny_navigate: Path) -> None:
    with np.load(tiny_navigate) as archive:
        reference = {key: archive[key] for key in archive.files}
    parallel = _generate(tmp_path, num_workers=2)
    for key in reference:
        np.testing.assert_array_equal(parallel[key], reference[key])


def test_stitch_reaches_a_goal_four_cells_away(tmp_path: Path) -> None:
    data = _generate(tmp_path, "pointmaze-medium-stitch-v0", num_episodes=2, episode_steps=120)
    assert len(data["observations"]) == 240
    # The noisy oracle moves: each episode covers several maze cells (4 m each) in 120 steps.
    for episode in data["observations"].reshape(2, 120, 2):
        assert np.linalg.norm(episode[-1] - episode[0]) > 4.0


def test_maze_cell_helpers() -> None:
    maze = np.array(
        [
            [1, 1, 1, 1, 1],
            [1, 0, 0, 0, 1],
            [1, 1, 1, 0, 1],
            [1, 1, 1, 0, 1],
            [1, 1, 1, 1, 1],
        ]
    )
    assert _is_corridor(maze, (1, 2)) and _is_corridor(maze, (2, 3))
    assert not _is_corridor(maze, (1, 1)) and not _is_corridor(maze, (1, 3))  # dead end, corner
    assert _cells_at_distance(maze, (1, 1), 4) == [(3, 3)]
    assert _cells_at_distance(maze, (1, 1), 5) == []


def test_cube_single_play_uses_ogbench_oracles(tmp_path: Path) -> None:
    path = generate_dataset(
        "cube-single-play-v0", num_episodes=1, episode_steps=60, path=tmp_path, progress_bar=False, num_workers=1
    )
    with np.load(path) as archive:
        assert sorted(archive.files) == ["actions", "observations", "qpos", "qvel", "terminals"]
        observations, qpos, actions = archive["observations"], archive["qpos"], archive["actions"]
    assert observations.shape == (60, 28) and actions.shape == (60, 5)
    # The goal space (cube position) is the cube's qpos, centred and scaled like OGBench's oracle representation.
    dataset = GoalDataset.load(path)
    expected = (qpos[:-1, 14:17] - np.array([0.425, 0.0, 0.0])) * 10.0
    np.testing.assert_allclose(dataset.goal_coordinates, expected, atol=1e-5)
    assert np.abs(np.diff(observations[:, 12:15], axis=0)).max() > 0.01, "the oracle should move the arm"


def test_unsupported_names_explain_why_and_what_works() -> None:
    with pytest.raises(UnsupportedDatasetError, match=r"pretrained SAC.*pointmaze-medium-navigate-v0"):
        dataset_spec("antmaze-large-navigate-v0")
    with pytest.raises(UnsupportedDatasetError, match="humanoidmaze"):
        generate_dataset("humanoidmaze-medium-navigate-v0", progress_bar=False)
    with pytest.raises(UnsupportedDatasetError, match="state-based 'cube-single-play-v0'"):
        dataset_spec("visual-cube-single-play-v0")
    with pytest.raises(UnsupportedDatasetError, match="generate 'pointmaze-medium-navigate-v0'"):
        dataset_spec("pointmaze-medium-navigate-singletask-task1-v0")
    with pytest.raises(UnsupportedDatasetError, match="Unknown dataset"):
        dataset_spec("pointmaze-tiny-navigate-v0")


def test_specs_follow_ogbench_commands() -> None:
    navigate, stitch = DATASET_SPECS[NAVIGATE], DATASET_SPECS["pointmaze-medium-stitch-v0"]
    assert (navigate.num_episodes, navigate.episode_steps, navigate.noise) == (1000, 1001, 0.5)
    assert (stitch.num_episodes, stitch.episode_steps) == (5000, 201)
    assert DATASET_SPECS["pointmaze-giant-navigate-v0"].episode_steps == 2001
    cube = DATASET_SPECS["cube-single-play-v0"]
    assert (cube.env_id, cube.num_episodes, cube.episode_steps, cube.noise) == ("cube-single-v0", 1000, 1001, 0.1)


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_episodes"):
        generate_dataset(NAVIGATE, num_episodes=0, path=tmp_path, progress_bar=False)
    with pytest.raises(ValueError, match="seed"):
        generate_dataset(NAVIGATE, num_episodes=1, seed=-1, path=tmp_path, progress_bar=False)
