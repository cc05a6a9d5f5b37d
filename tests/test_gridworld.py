"""The mechanics both worlds share (valint.gridworld): one cell index, one egocentric view,
one auto-reset."""
from __future__ import annotations

import numpy as np
import pytest

from valint.gridworld import (
    DIR_DX,
    DIR_DY,
    DIR_STEP,
    GRID_SIZE,
    N_CELLS,
    OUTSIDE,
    VIEW_SIZE,
    VIEW_TABLE,
    cell_index,
    cell_xy,
    egocentric_view,
    end_episodes,
    view_position,
    window_cells,
)

CELLS = [(x, y) for y in range(GRID_SIZE) for x in range(GRID_SIZE)]


def _numbered_grid() -> np.ndarray:
    """(7, 7, 1) indexed [x, y]: each cell holds its flat index + 1, so 0 means outside."""
    grid = np.zeros((GRID_SIZE, GRID_SIZE, 1), dtype=np.int64)
    for x, y in CELLS:
        grid[x, y, 0] = cell_index(x, y) + 1
    return grid


def test_cell_index_is_row_by_row_and_cell_xy_inverts_it():
    assert [cell_index(x, y) for x, y in CELLS] == list(range(N_CELLS))
    assert cell_xy(np.arange(N_CELLS)).tolist() == [list(c) for c in CELLS]
    assert OUTSIDE == N_CELLS


@pytest.mark.parametrize("direction", range(4))
def test_one_step_forward_moves_the_flat_index_by_dir_step(direction):
    x, y = 3, 2
    moved = cell_index(x + int(DIR_DX[direction]), y + int(DIR_DY[direction]))
    assert moved == cell_index(x, y) + int(DIR_STEP[direction])


@pytest.mark.parametrize("direction", range(4))
def test_the_view_puts_the_learner_at_the_centre_facing_up(direction):
    grid = _numbered_grid()
    x, y = 2, 3
    view = egocentric_view(grid, (x, y), direction)[..., 0]
    front = (x + int(DIR_DX[direction]), y + int(DIR_DY[direction]))
    right_dir = (direction + 1) % 4
    right = (x + int(DIR_DX[right_dir]), y + int(DIR_DY[right_dir]))
    assert view.shape == (VIEW_SIZE, VIEW_SIZE)
    assert view[4, 4] == cell_index(x, y) + 1
    assert view[3, 4] == cell_index(*front) + 1
    assert view[4, 5] == cell_index(*right) + 1
    assert np.count_nonzero(view) == N_CELLS, "the whole grid is always in view"


def test_the_batch_gather_and_the_minigrid_view_agree_everywhere():
    grid = _numbered_grid()
    cells = np.append(grid[..., 0].T.ravel(), 0)
    for x, y in CELLS:
        for direction in range(4):
            gathered = cells[VIEW_TABLE[4 * cell_index(x, y) + direction]].reshape(9, 9)
            assert np.array_equal(gathered, egocentric_view(grid, (x, y), direction)[..., 0])


def test_window_cells_offsets_each_copy():
    pos, direction = np.array([8, 24]), np.array([0, 3])
    window = window_cells(pos, direction, np.array([0, 50]))
    assert np.array_equal(window[0], VIEW_TABLE[4 * 8])
    assert np.array_equal(window[1], VIEW_TABLE[4 * 24 + 3] + 50)


def test_view_position_inverts_the_view_table():
    for learner in range(N_CELLS):
        for direction in range(4):
            seen = VIEW_TABLE[4 * learner + direction]
            inside = np.flatnonzero(seen != OUTSIDE)
            where = view_position(np.full(inside.size, learner), np.full(inside.size, direction),
                                  seen[inside])
            assert np.array_equal(where[:, 0] * VIEW_SIZE + where[:, 1], inside)


def test_end_episodes_counts_keeps_the_last_view_and_resets_only_finished_copies():
    step_count = np.array([3, 19, 7, 19])
    state = np.array([10, 20, 30, 40])
    resets = []

    def observe(rows):
        return np.repeat(state[rows], 4).reshape(len(rows), 2, 2).astype(np.uint8)

    def reset(rows):
        resets.append(rows.tolist())
        state[rows] = 0

    end = end_episodes(step_count, 20, observe, reset)
    assert resets == [[1, 3]]
    assert end.truncated.tolist() == [False, True, False, True]
    assert step_count.tolist() == [4, 0, 8, 0]
    assert end.obs[:, 0, 0].tolist() == [10, 0, 30, 0]
    assert end.final_obs[:, 0, 0].tolist() == [10, 20, 30, 40]
    assert not np.shares_memory(end.obs, end.final_obs)


def test_end_episodes_without_a_finished_copy_resets_nothing():
    step_count = np.zeros(3, dtype=np.int64)
    end = end_episodes(step_count, 20, lambda rows: np.zeros((len(rows), 1), np.uint8),
                       lambda rows: pytest.fail("nothing should be reset"))
    assert not end.truncated.any() and step_count.tolist() == [1, 1, 1]
