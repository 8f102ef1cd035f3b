"""Critic quality against BFS distances, on hand-built mazes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import critic_quality

# A U-shaped maze (1 = wall): the two arms are next to each other in x-y but 6 cells apart around the bottom.
U_MAZE = np.array(
    [
        [1, 1, 1, 1, 1],
        [1, 0, 1, 0, 1],
        [1, 0, 1, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
    ]
)


def test_bfs_distances_follow_the_walls() -> None:
    cells = critic_quality.open_cells(U_MAZE)
    distances = critic_quality.bfs_distances(U_MAZE, cells)
    top_left, top_right = cells.index((1, 1)), cells.index((1, 3))
    assert distances[top_left, top_right] == 6 and distances[top_right, top_left] == 6
    assert np.array_equal(distances, distances.T) and np.all(np.diag(distances) == 0)
    assert critic_quality.neighbours(cells)[cells.index((3, 2))] == [cells.index((3, 1)), cells.index((3, 3))]


def test_a_critic_that_knows_the_maze_scores_one_and_a_straight_line_critic_does_not() -> None:
    cells = critic_quality.open_cells(U_MAZE)
    distances = critic_quality.bfs_distances(U_MAZE, cells)
    adjacent = critic_quality.neighbours(cells)
    discount = 0.99
    exact = -(1 - discount**distances) / (1 - discount)  # V of a unit-cost shortest path of that many steps
    scores = critic_quality.score_critic(exact, distances, adjacent, discount)
    assert scores["next_cell_accuracy"] == 1.0
    assert scores["spearman_value_vs_minus_distance"] == pytest.approx(1.0)
    assert scores["implied_steps_per_cell"] == pytest.approx(1.0)
    xy = np.array(cells, dtype=float)
    straight = -np.linalg.norm(xy[:, None] - xy[None], axis=-1)  # ignores the wall between the arms
    line = critic_quality.score_critic(straight, distances, adjacent, discount)
    assert line["next_cell_accuracy"] < 1.0
    assert line["pairs"] == scores["pairs"] == len(cells) * (len(cells) - 1)


def test_greedy_walk_follows_an_exact_critic_to_the_goal_and_sticks_where_a_straight_line_critic_meets_a_wall() -> None:
    cells = critic_quality.open_cells(U_MAZE)
    distances = critic_quality.bfs_distances(U_MAZE, cells)
    adjacent = critic_quality.neighbours(cells)
    start, goal = cells.index((1, 1)), cells.index((1, 3))
    exact = -distances.astype(float)
    walk = critic_quality.greedy_walk(exact, adjacent, start, goal, max_steps=18)
    assert walk[-1] == goal and len(walk) - 1 == distances[start, goal]
    xy = np.array(cells, dtype=float)
    straight = -np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    stuck = critic_quality.greedy_walk(straight, adjacent, start, goal, max_steps=18)
    assert stuck[-1] != goal and len(stuck) == 19  # never leaves the arm nearest the goal as the crow flies
