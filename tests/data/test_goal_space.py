"""GoalSpace: the one success test and its radius index."""

from __future__ import annotations

import numpy as np

from ttt_gym.data import GoalSpace


def test_success_test_takes_integer_and_bool_coordinates_as_numbers():
    space = GoalSpace((0, 1), group_size=2, tolerance=1.5)
    assert space.is_success(np.array([1, 1]), np.array([0, 0]))  # distance 1.41 <= 1.5, not a truncated radius
    assert not space.is_success(np.array([2, 2], dtype=np.uint8), np.array([0, 0], dtype=np.uint8))
    assert space.is_success(np.array([True, False]), np.array([False, False]))
    assert space.squared_distances(np.zeros((3, 2), np.float32), np.ones(2, np.float32)).dtype == np.float32


def test_index_finds_what_the_success_test_accepts():
    space = GoalSpace((0, 1, 2, 3), group_size=2, tolerance=0.5)  # two objects: every one within 0.5
    rng = np.random.default_rng(0)
    coordinates = rng.uniform(-1, 1, (500, 4)).astype(np.float32)
    point = np.array([0.1, 0.2, -0.3, 0.4], np.float32)
    found = space.index(coordinates).within(point, 0.5, inclusive=True)
    np.testing.assert_array_equal(found, np.flatnonzero(space.is_success(coordinates, point)))
    assert 0 < len(found) < 500
