"""What the paper's two worlds share: the 7x7 grid, the learner's egocentric view and the
batch worlds' episode clock (PAPER.md §3 and §7).

The single-agent world (`valint.envs`, Figs. 1 and 3-6) and the two-agent world
(`valint.prosocial`, Fig. 7) differ in their objects, actions and rules, but both are a 7x7
MiniGrid grid with a wall border seen through the same 9x9 egocentric window, and both batch
twins end an episode by truncation and reset the copy in place. This module holds those
mechanics once, with one cell convention:

- a cell (x, y) of the grid has the flat index ``y * 7 + x`` (`cell_index`), row by row as the
  grid is drawn; index 49 (`OUTSIDE`) stands for every cell beyond the border, which the view
  shows as zeros;
- directions are MiniGrid's: 0 right (+x), 1 down (+y), 2 left (-x), 3 up (-y); one step
  forward adds ``DIR_STEP[d]`` to the flat index, and "to the right of d" is direction d + 1.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

GRID_SIZE = 7
"""Width and height of the grid in cells, border walls included (PAPER.md §3, §7)."""
VIEW_SIZE = 9
"""Width and height of the egocentric observation window (PAPER.md §3)."""
OBS_SHAPE = (VIEW_SIZE, VIEW_SIZE, 4)
"""Observation shape [row, column, channel]: object, colour, state, goal flag (PAPER.md §3)."""
N_CELLS = GRID_SIZE * GRID_SIZE
"""Cells of the grid; their flat indices are 0..48."""
OUTSIDE = N_CELLS
"""Flat index that stands for every cell beyond the grid (seen as zeros)."""
PADDED_SIZE = 17
"""Side of the zero-padded grid the window is cut from (PAPER.md §3)."""
CENTRE = (VIEW_SIZE // 2) * VIEW_SIZE + VIEW_SIZE // 2
"""Flat index of the learner's own cell [4, 4] in a 9x9 window."""

DIR_DX = np.array([1, 0, -1, 0], dtype=np.int64)
"""x step of one move forward in each direction (MiniGrid's ``DIR_TO_VEC``)."""
DIR_DY = np.array([0, 1, 0, -1], dtype=np.int64)
"""y step of one move forward in each direction."""
DIR_STEP = DIR_DX + GRID_SIZE * DIR_DY
"""Change of the flat index by one move forward in each direction."""


def cell_index(x: int, y: int) -> int:
    """Flat index of grid cell (x, y): ``y * 7 + x``."""
    return y * GRID_SIZE + x


def cell_xy(index: np.ndarray) -> np.ndarray:
    """(..., 2) cells (x, y) of flat indices."""
    y, x = np.divmod(np.asarray(index), GRID_SIZE)
    return np.stack([x, y], axis=-1)


def egocentric_view(grid: np.ndarray, agent_pos: tuple[int, int], agent_dir: int) -> np.ndarray:
    """The learner's 9x9 window of a whole grid, rotated so the learner faces up (PAPER.md §3).

    The grid is zero-padded to 17x17, the window centred on the learner is cut, and the
    picture is turned so that, indexed [row, column], the learner is at [4, 4], the cell in
    front of it at [3, 4] and the cell to its right at [4, 5]. The MiniGrid twins of both worlds
    build their observations with it; the batch twins gather the same cells through
    `VIEW_TABLE`.

    Args:
        grid: (7, 7, C) array indexed [x, y, channel], as MiniGrid's ``Grid.encode``.
        agent_pos: the learner's cell (x, y).
        agent_dir: the learner's direction, 0..3.

    Returns:
        (9, 9, C) contiguous array of the grid's dtype.
    """
    x, y = int(agent_pos[0]), int(agent_pos[1])
    margin = (PADDED_SIZE - GRID_SIZE) // 2
    padded = np.zeros((PADDED_SIZE, PADDED_SIZE, grid.shape[-1]), dtype=grid.dtype)
    padded[margin : margin + GRID_SIZE, margin : margin + GRID_SIZE] = grid
    low = margin - VIEW_SIZE // 2
    window = padded[x + low : x + low + VIEW_SIZE, y + low : y + low + VIEW_SIZE]
    # [x, y] -> [row = y, column = x] is the view of a learner facing up (direction 3); each
    # further quarter turn of the learner clockwise is one counter-clockwise turn of the picture.
    return np.ascontiguousarray(np.rot90(window.transpose(1, 0, 2), k=(int(agent_dir) + 1) % 4))


def _view_table() -> np.ndarray:
    """Flat cell seen at each window cell, indexed [4 * learner cell + direction, window cell].

    Window cell [r, c] lies ``4 - r`` cells ahead of the learner and ``c - 4`` cells to its
    right; cells beyond the grid read `OUTSIDE`.
    """
    half = VIEW_SIZE // 2
    rows, cols = np.meshgrid(np.arange(VIEW_SIZE), np.arange(VIEW_SIZE), indexing="ij")
    ahead, right = (half - rows).ravel(), (cols - half).ravel()
    table = np.empty((N_CELLS * 4, VIEW_SIZE * VIEW_SIZE), dtype=np.int64)
    for cell in range(N_CELLS):
        y, x = divmod(cell, GRID_SIZE)
        for d in range(4):
            r = (d + 1) % 4
            gx = x + ahead * DIR_DX[d] + right * DIR_DX[r]
            gy = y + ahead * DIR_DY[d] + right * DIR_DY[r]
            inside = (gx >= 0) & (gx < GRID_SIZE) & (gy >= 0) & (gy < GRID_SIZE)
            table[cell * 4 + d] = np.where(inside, gy * GRID_SIZE + gx, OUTSIDE)
    table.setflags(write=False)
    return table


VIEW_TABLE = _view_table()
"""(196, 81): the flat cell (or `OUTSIDE`) at each window cell, row ``4 * cell + direction``.
The window of ``n`` learners is ``VIEW_TABLE[4 * pos + direction]``: the batch twins read their
observations from it with one gather."""


def window_cells(pos: np.ndarray, direction: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(n, 81) indices of each learner's window cells into the flattened cells of all copies.

    A batch twin keeps copy ``i``'s cells at ``offset[i] + cell`` (its grid and then its
    `OUTSIDE` cell), so one ``take`` with these indices reads every window at once.

    Args:
        pos: (n,) flat cells of the learners.
        direction: (n,) their directions.
        offset: (n,) where each copy's cells start in the flattened array.
    """
    return VIEW_TABLE.take(4 * pos + direction, axis=0) + offset[:, None]


def view_position(pos: np.ndarray, direction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(n, 2) (row, column) in the learner's window of the cells ``target`` (flat indices),
    the inverse of `VIEW_TABLE` for cells within the window."""
    learner, seen = cell_xy(pos), cell_xy(target)
    dx, dy = (seen - learner)[:, 0], (seen - learner)[:, 1]
    d = np.asarray(direction)
    r = (d + 1) % 4
    ahead = dx * DIR_DX[d] + dy * DIR_DY[d]
    right = dx * DIR_DX[r] + dy * DIR_DY[r]
    half = VIEW_SIZE // 2
    return np.stack([half - ahead, half + right], axis=1)


class EpisodeEnd(NamedTuple):
    """What `end_episodes` returns for one step of ``n`` copies."""

    truncated: np.ndarray
    """(n,) bool: the step was the last of its copy's episode."""
    obs: np.ndarray
    """(n, 9, 9, 4) uint8: observation after the step, already reset where truncated."""
    final_obs: np.ndarray
    """(n, 9, 9, 4) uint8: the episode's last observation where truncated, else equal to
    ``obs`` (a separate array)."""


def end_episodes(
    step_count: np.ndarray,
    max_steps: int,
    observe: Callable[[np.ndarray], np.ndarray],
    reset: Callable[[np.ndarray], None],
) -> EpisodeEnd:
    """Count one step in every copy and reset, in place, the copies whose episode ends.

    Both worlds' episodes end by truncation only (PAPER.md §3, §7). The batch twins call this
    after their copies have acted: it advances ``step_count`` (in place), observes every copy,
    keeps the last observation of each finished episode, draws those copies a new layout with
    ``reset`` and observes them again, as a Gymnasium vector env with auto-reset does.

    Args:
        step_count: (n,) int steps taken in each copy's episode; updated in place.
        max_steps: episode length.
        observe: the observations of the copies given by an index array.
        reset: draws a new layout for the copies given by an index array.
    """
    step_count += 1
    truncated = step_count >= max_steps
    obs = observe(np.arange(len(step_count)))
    final_obs = obs.copy()
    if truncated.any():
        done = np.flatnonzero(truncated)
        reset(done)
        step_count[done] = 0
        obs[done] = observe(done)
    return EpisodeEnd(truncated, obs, final_obs)
