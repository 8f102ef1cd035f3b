"""GoalDataset: trajectory structure, OGBench goal relabelling, batches, and errors on broken files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import ogbench
import pytest

from ttt_gym.data import DatasetFormatError, GoalDataset, GoalKind, GoalSamplingConfig, GoalSpace


def labelled_dataset(lengths: list[int]) -> GoalDataset:
    """Trajectories whose observations say where they are: ``[trajectory, step, 0]``.

    ``lengths`` are transitions per trajectory; each trajectory also stores its final state (a terminal row).
    """
    observations, terminals = [], []
    for trajectory, length in enumerate(lengths):
        for step in range(length + 1):
            observations.append([trajectory, step, 0.0])
            terminals.append(step == length)
    observations_array = np.asarray(observations, dtype=np.float32)
    actions = np.arange(2 * len(observations_array), dtype=np.float32).reshape(-1, 2)
    return GoalDataset.from_arrays(observations_array, actions, np.asarray(terminals))


def test_trajectory_structure() -> None:
    ds = labelled_dataset([3, 1, 4])
    assert len(ds) == 8 and ds.num_trajectories == 3
    assert ds.trajectory_ids.tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    assert ds.steps_to_end.tolist() == [2, 1, 0, 0, 3, 2, 1, 0]
    assert ds.terminals.tolist() == [0, 0, 1, 1, 0, 0, 0, 1]
    assert ds.observations[:, 1].tolist() == [0, 1, 2, 0, 0, 1, 2, 3]
    assert ds.next_observations[:, 1].tolist() == [1, 2, 3, 1, 1, 2, 3, 4]  # final states only as next states
    assert ds.actions[3].tolist() == [8.0, 9.0]  # row 4 of the file: the terminal row 3 has no transition
    assert ds.observation_dim == 3 and ds.action_dim == 2
    assert ds.goal_coordinates.shape == (8, 3)  # no goal space: full observations
    with pytest.raises(ValueError):
        ds.observations[0, 0] = 1.0  # read-only


def test_matches_ogbench_load_dataset(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    terminals = np.zeros(30, dtype=bool)
    terminals[[6, 7, 19, 29]] = True  # includes a one-state trajectory (row 7)
    path = tmp_path / "pointmaze-medium-navigate-v0.npz"
    arrays: dict[str, Any] = dict(
        observations=rng.normal(size=(30, 2)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(30, 2)).astype(np.float32),
        terminals=terminals,
        qpos=rng.normal(size=(30, 2)).astype(np.float32),
    )
    np.savez_compressed(path, **arrays)
    reference = ogbench.load_dataset(str(path), add_info=True)
    ds = GoalDataset.load(path)
    for key in ("observations", "next_observations", "actions", "terminals"):
        np.testing.assert_array_equal(getattr(ds, key), reference[key])
    np.testing.assert_array_equal(ds.extras["qpos"], reference["qpos"])
    assert ds.num_trajectories == 3
    assert ds.goal_space == GoalSpace(indices=(0, 1), group_size=2, tolerance=1.0)  # from the file name


def test_relabelling_frequencies_match_probabilities() -> None:
    ds = labelled_dataset([50] * 40)
    rng = np.random.default_rng(1)
    indices = rng.integers(0, len(ds), size=200_000)
    for probs in [(0.2, 0.5, 0.3), (0.0, 1.0, 0.0), (0.5, 0.0, 0.5)]:
        goals, kinds = ds.sample_goals(
            indices, rng, p_curgoal=probs[0], p_trajgoal=probs[1], p_randomgoal=probs[2], geom_sample=True
        )
        frequencies = np.bincount(kinds, minlength=3) / len(kinds)
        np.testing.assert_allclose(frequencies, probs, atol=0.005)
        assert (goals[kinds == GoalKind.CURRENT] == indices[kinds == GoalKind.CURRENT]).all()
        if probs[0] == 0.0:
            assert not (kinds == GoalKind.CURRENT).any()
        if probs[2] == 0.0:
            assert not (kinds == GoalKind.RANDOM).any()
    # Random goals are uniform over the dataset: they land in every trajectory.
    goals, _ = ds.sample_goals(indices, rng, p_curgoal=0.0, p_trajgoal=0.0, p_randomgoal=1.0, geom_sample=False)
    counts = np.bincount(ds.trajectory_ids[goals], minlength=40) / len(goals)
    np.testing.assert_allclose(counts, 1 / 40, atol=0.004)


@pytest.mark.parametrize("geom_sample", [True, False])
def test_future_goals_never_cross_a_trajectory_end(geom_sample: bool) -> None:
    ds = labelled_dataset([1, 5, 2, 30, 3])
    rng = np.random.default_rng(2)
    indices = np.repeat(np.arange(len(ds)), 2000)
    goals, kinds = ds.sample_goals(
        indices, rng, p_curgoal=0.0, p_trajgoal=1.0, p_randomgoal=0.0, geom_sample=geom_sample, discount=0.9
    )
    assert (kinds == GoalKind.TRAJECTORY).all()
    assert (ds.trajectory_ids[goals] == ds.trajectory_ids[indices]).all()
    at_end = ds.steps_to_end[indices] == 0
    assert (goals[~at_end] > indices[~at_end]).all(), "future goals lie strictly ahead"
    assert (goals[at_end] == indices[at_end]).all(), "the last transition's only future goal is itself"
    assert (goals <= indices + ds.steps_to_end[indices]).all()
    # Every later state of the long trajectory is reachable from its first state.
    first = int(np.flatnonzero(ds.trajectory_ids == 3)[0])
    assert set(goals[indices == first]) == set(range(first + 1, first + 30))


def test_geometric_offsets_have_the_discount_mean() -> None:
    ds = labelled_dataset([100_000])
    rng = np.random.default_rng(3)
    indices = np.zeros(100_000, dtype=np.int64)
    goals, _ = ds.sample_goals(indices, rng, p_curgoal=0, p_trajgoal=1, p_randomgoal=0, geom_sample=True, discount=0.9)
    assert goals.min() == 1 and goals.mean() == pytest.approx(10.0, rel=0.03)


def test_sample_batches_follow_ogbench_conventions() -> None:
    ds = labelled_dataset([20] * 10)
    batch = ds.sample(4096, np.random.default_rng(4))
    assert len(batch) == 4096
    for name, array in batch.as_dict().items():
        assert array.dtype == np.float32 and array.shape[0] == 4096, name
    assert batch.observations.shape == (4096, 3) and batch.actions.shape == (4096, 2)
    np.testing.assert_array_equal(batch.next_observations[:, 1], batch.observations[:, 1] + 1)
    # Success means the value goal is the current state: reward 0 and mask 0, otherwise -1 and 1.
    same_state = (batch.value_goals == batch.observations).all(axis=1)
    np.testing.assert_array_equal(batch.rewards, same_state.astype(np.float32) - 1.0)
    np.testing.assert_array_equal(batch.masks, 1.0 - same_state.astype(np.float32))
    assert 0.2 < same_state.mean() < 0.25  # p_curgoal 0.2, plus geometric goals clipped at trajectory ends
    # Default actor goals: later states of the same trajectory (its own state for a trajectory's last transition).
    assert (batch.actor_goals[:, 0] == batch.observations[:, 0]).all()
    last = batch.observations[:, 1] == 19
    assert (batch.actor_goals[~last, 1] > batch.observations[~last, 1]).all()
    assert (batch.actor_goals[last, 1] == 19).all()


def test_sample_is_reproducible_and_can_be_restricted_to_a_subset() -> None:
    ds = labelled_dataset([20] * 10)
    first = ds.sample(64, np.random.default_rng(5))
    second = ds.sample(64, np.random.default_rng(5))
    for name, array in first.as_dict().items():
        np.testing.assert_array_equal(array, getattr(second, name))
    subset = np.flatnonzero(ds.trajectory_ids == 7)
    batch = ds.sample(256, np.random.default_rng(6), GoalSamplingConfig(), indices=subset)
    assert (batch.observations[:, 0] == 7).all()
    with pytest.raises(ValueError, match="empty"):
        ds.sample(8, np.random.default_rng(0), indices=np.array([], dtype=np.int64))


def test_sampling_config_is_validated() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        GoalSamplingConfig(value_p_curgoal=0.5, value_p_trajgoal=0.5, value_p_randomgoal=0.5)
    with pytest.raises(ValueError, match="discount"):
        GoalSamplingConfig(discount=1.0)


# -- broken files ----------------------------------------------------------------------------------------------------


def _save(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def _valid_arrays(rows: int = 10) -> dict[str, Any]:
    terminals = np.zeros(rows, dtype=bool)
    terminals[[4, rows - 1]] = True
    return dict(
        observations=np.zeros((rows, 2), dtype=np.float32),
        actions=np.zeros((rows, 2), dtype=np.float32),
        terminals=terminals,
    )


def test_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ttt-gym dataset generate"):
        GoalDataset.load(tmp_path / "nothing.npz")


def test_not_an_npz_names_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("not a dataset")
    with pytest.raises(DatasetFormatError, match=r"notes\.npz: not a readable \.npz"):
        GoalDataset.load(text)
    single = tmp_path / "single.npz"
    with open(single, "wb") as file:
        np.save(file, np.zeros(3))
    with pytest.raises(DatasetFormatError, match=r"single \.npy array"):
        GoalDataset.load(single)


def test_truncated_file_is_reported(tmp_path: Path, tiny_navigate: Path) -> None:
    data = tiny_navigate.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"truncated\.npz.*(corrupt|truncated)"):
        GoalDataset.load(truncated)


def test_corrupt_member_is_reported(tmp_path: Path) -> None:
    arrays = _valid_arrays(2000)
    arrays["observations"] = np.random.default_rng(0).normal(size=(2000, 2)).astype(np.float32)
    path = tmp_path / "corrupt.npz"
    np.savez_compressed(path, **arrays)
    data = bytearray(path.read_bytes())
    start = data.index(b"observations.npy") + 200  # inside the observations member's compressed payload
    data[start : start + 4000] = b"\xff" * 4000
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match=r"corrupt\.npz"):
        GoalDataset.load(path)


def test_missing_keys_are_listed(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    del arrays["terminals"]
    with pytest.raises(DatasetFormatError, match=r"missing key\(s\) \['terminals'\]"):
        GoalDataset.load(_save(tmp_path / "missing.npz", **arrays))


def test_length_mismatch_is_reported(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    arrays["actions"] = arrays["actions"][:-1]
    with pytest.raises(DatasetFormatError, match=r"mismatch\.npz: arrays have different lengths"):
        GoalDataset.load(_save(tmp_path / "mismatch.npz", **arrays))
    arrays = _valid_arrays()
    arrays["qpos"] = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(DatasetFormatError, match="'qpos': 3"):
        GoalDataset.load(_save(tmp_path / "info.npz", **arrays))


def test_missing_final_terminal_is_reported(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    arrays["terminals"][-1] = False
    with pytest.raises(DatasetFormatError, match=r"last row is not a terminal"):
        GoalDataset.load(_save(tmp_path / "open.npz", **arrays))


def test_bad_values_and_shapes_are_reported() -> None:
    arrays = _valid_arrays()
    arrays["observations"][3, 1] = np.nan
    with pytest.raises(DatasetFormatError, match="NaN or infinite values in 1 rows"):
        GoalDataset.from_arrays(**arrays)
    arrays = _valid_arrays()
    with pytest.raises(DatasetFormatError, match="2-d"):
        GoalDataset.from_arrays(arrays["observations"][:, :, None], arrays["actions"], arrays["terminals"])
    with pytest.raises(DatasetFormatError, match="no transitions"):
        GoalDataset.from_arrays(np.zeros((2, 2)), np.zeros((2, 2)), np.ones(2))
    with pytest.raises(DatasetFormatError, match="do not fit"):
        GoalDataset.from_arrays(**arrays, goal_space=GoalSpace(indices=(1, 2), group_size=2, tolerance=1.0))
