"""The two-agent prosocial world of Fig. 7 (PAPER.md §7).

A learner shares a 7x7 corridor maze with a scripted partner. The partner walks the shortest
path to its goal, but a ball on a junction blocks that path; the learner helps by picking the
ball up. This module holds one world in two implementations that must give identical
trajectories from the same seed:

- `ProsocialEnv`, a MiniGrid environment (MiniGrid objects, MiniGrid renderer), the reference;
- `ProsocialBatch`, a vectorised numpy twin that steps `n` independent copies at once.

Both draw every layout from `sample_prosocial_layout`, and the order in which the two agents
act from the same generator: each copy's own seeded generator is the only source of randomness.
Two layout rules exist (`valint.config.LAYOUT_RULES`): ``authors``, the rule of the authors'
code and the default, and ``goal-branch``, which always puts the learner on the goal's branch.
The social reward for helping (+0.4 to both agents when the partner reaches its goal) is not
computed here: both implementations report the event as `goal_reached` and `social.py` pays
it (STYLE.md §6.7), *adding* it to the effort cost. Only the learner's effort cost R_e is
returned as the reward.

The grid's cell index, the egocentric view and the batch's auto-reset are those of
`valint.gridworld`, shared with the single-agent world.

The observation is fed to the networks unnormalised (`OBS_SCALE`, PAPER.md §7), unlike the
single-agent world's images; the worlds carry their scale as ``obs_scale``.
"""
from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Iterable, Sequence
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from minigrid.core.constants import COLOR_TO_IDX, COLORS, OBJECT_TO_IDX, TILE_PIXELS
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Ball, Goal, Wall, WorldObj
from minigrid.minigrid_env import MiniGridEnv
from minigrid.utils.rendering import fill_coords, point_in_triangle, rotate_fn

from valint.config import LAYOUT_RULES, OBS_SCALES, check_choice
from valint.gridworld import (
    DIR_DX,
    DIR_DY,
    DIR_STEP,
    GRID_SIZE,
    N_CELLS,
    OBS_SHAPE,
    cell_index,
    egocentric_view,
    end_episodes,
    view_position,
    window_cells,
)

INTERIOR_SIZE = GRID_SIZE - 2
"""Width and height of the interior; interior cells have x, y in 1..5."""
N_INTERIOR_WALLS = 8
"""Interior wall cells of every prosocial maze (PAPER.md §7)."""
MAX_STEPS = 100
"""Episode length in steps; episodes end by truncation only (PAPER.md §7)."""
EFFORT_COST = -0.009
"""R_e of one forward move of the learner, paid also when the move is blocked (PAPER.md §7)."""
N_ACTIONS = 5
"""Size of the learner's action space (PAPER.md §7)."""
BALL_COLOR = "yellow"
"""Colour of the ball, encoded as (6, 4, 0); yellow keeps it apart from both agents."""
PARTNER_COLOR = "blue"
"""Colour of the partner, encoded as (10, 2, partner_dir); the learner is MiniGrid's red agent."""
OBS_SCALE = 1.0
"""Factor the networks apply to this world's observation: none, the integer codes 0-10 are fed
as they are (PAPER.md §7: the authors' two-agent observation was not an image space)."""
OBS_SCALE_BY_NAME = {"raw": OBS_SCALE, "1/255": 1.0 / 255.0}
"""The observation scales of `valint.config.OBS_SCALES` as factors; ``1/255`` is the
single-agent world's scaling (PAPER.md §4), kept to show what it does here."""


def variant_name(layout_rule: str = "authors", obs_scale: str = "raw") -> str:
    """The name of a variant of the world, used as its ``layout`` by `valint.experiments`:
    ``"authors"`` for the default, else e.g. ``"goal-branch, 1/255"`` (PAPER.md §7)."""
    check_choice("layout_rule", layout_rule, LAYOUT_RULES)
    check_choice("obs_scale", obs_scale, OBS_SCALES)
    return layout_rule if obs_scale == "raw" else f"{layout_rule}, {obs_scale}"


def parse_variant(name: str) -> tuple[str, str]:
    """``(layout_rule, obs_scale)`` of a `variant_name`; ValueError for any other name."""
    allowed = [variant_name(r, s) for r in LAYOUT_RULES for s in OBS_SCALES]
    check_choice("layout", name, allowed)
    rule, _, scale = name.partition(", ")
    return rule, scale or "raw"


class ProsocialActions(IntEnum):
    """Action coding of the learner, also used to report the partner's action (PAPER.md §7)."""

    still = 0
    left = 1
    right = 2
    forward = 3
    pickup = 4


_WALL_CODE = (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0)
_EMPTY_CODE = (OBJECT_TO_IDX["empty"], 0, 0)
_GOAL_CODE = (OBJECT_TO_IDX["goal"], COLOR_TO_IDX["green"], 0)
_BALL_CODE = (OBJECT_TO_IDX["ball"], COLOR_TO_IDX[BALL_COLOR], 0)
_AGENT = OBJECT_TO_IDX["agent"]
_FORWARD = int(ProsocialActions.forward)
_PICKUP = int(ProsocialActions.pickup)
_LEARNER_COLOR_IDX = COLOR_TO_IDX["red"]
_PARTNER_COLOR_IDX = COLOR_TO_IDX[PARTNER_COLOR]


# ---------------------------------------------------------------------------------------------
# Layouts: the maze table and the draw (PAPER.md §7)
# ---------------------------------------------------------------------------------------------


class ProsocialDraw(NamedTuple):
    """One layout of the prosocial world (PAPER.md §7, Fig. 7).

    Cells are (x, y) in the 7x7 grid (interior 1..5); directions are MiniGrid's
    0 = right (+x), 1 = down (+y), 2 = left, 3 = up.
    """

    walls: tuple[tuple[int, int], ...]
    """The 8 interior wall cells, in row-major order (by y, then x)."""
    ball: tuple[int, int]
    """The junction cell that holds the ball."""
    partner_pos: tuple[int, int]
    """The partner's start, on one side of the ball (a leaf or dead end, by the rule)."""
    partner_dir: int
    """The partner's direction."""
    goal: tuple[int, int]
    """The partner's goal, on the other side of the ball."""
    learner_pos: tuple[int, int]
    """The learner's start (where, depends on the layout rule; never the goal)."""
    learner_dir: int
    """The learner's direction."""


class ProsocialMazes(NamedTuple):
    """Every valid prosocial maze with its valid (ball, partner side, goal side) structures.

    Interior cell (x, y) is bit ``(y - 1) * 5 + (x - 1)`` of a mask. Maze ``m`` owns the
    structures ``structure_start[m]:structure_start[m + 1]``. PAPER.md §7.
    """

    wall_masks: np.ndarray
    """(n_mazes,) int64: the interior wall cells of each maze, sorted ascending."""
    structure_start: np.ndarray
    """(n_mazes + 1,) int64: offsets of each maze's structures."""
    ball: np.ndarray
    """(n_structures,) int64: bit index of the ball's cell."""
    partner_dead_ends: np.ndarray
    """(n_structures,) int64: mask of the dead ends on the partner's side."""
    goal_dead_ends: np.ndarray
    """(n_structures,) int64: mask of the dead ends on the goal's side (at least two)."""

    @property
    def n_mazes(self) -> int:
        """Number of valid wall sets."""
        return len(self.wall_masks)

    @property
    def n_structures(self) -> int:
        """Number of valid (maze, ball, partner side, goal side) combinations."""
        return len(self.ball)


_FULL_MASK = (1 << (INTERIOR_SIZE * INTERIOR_SIZE)) - 1
_FIRST_COLUMN = sum(1 << (INTERIOR_SIZE * r) for r in range(INTERIOR_SIZE))
_LAST_COLUMN = _FIRST_COLUMN << (INTERIOR_SIZE - 1)


def _bit(x: int, y: int) -> int:
    return (y - 1) * INTERIOR_SIZE + (x - 1)


def _bit_cell(bit: int) -> tuple[int, int]:
    return bit % INTERIOR_SIZE + 1, bit // INTERIOR_SIZE + 1


def _mask_cells(mask: int) -> list[tuple[int, int]]:
    """Cells of a mask in row-major order (by y, then x)."""
    return [_bit_cell(b) for b in range(INTERIOR_SIZE * INTERIOR_SIZE) if mask >> b & 1]


def _wall_mask(walls: Iterable[tuple[int, int]]) -> int:
    return sum(1 << _bit(int(x), int(y)) for x, y in walls)


def _grow(mask: np.ndarray) -> np.ndarray:
    """Cells of the mask plus their 4-neighbours, inside the 5x5 interior."""
    return (
        mask
        | ((mask << 1) & ~_FIRST_COLUMN)
        | ((mask >> 1) & ~_LAST_COLUMN)
        | (mask << INTERIOR_SIZE)
        | (mask >> INTERIOR_SIZE)
    ) & _FULL_MASK


def _flood(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Cells of `allowed` connected to `seed` (elementwise over int64 masks)."""
    reach = seed & allowed
    while True:
        grown = _grow(reach) & allowed
        if np.array_equal(grown, reach):
            return reach
        reach = grown


_CORNER_CELLS = _wall_mask([(1, 1), (INTERIOR_SIZE, 1), (1, INTERIOR_SIZE), (INTERIOR_SIZE, INTERIOR_SIZE)])
"""The interior cells in a corner of the grid: a wall there makes a 2x2 window of the outer
ring all wall."""
_BORDER_PAIRS = tuple(
    _wall_mask(pair)
    for k in range(1, INTERIOR_SIZE)
    for edge in (1, INTERIOR_SIZE)
    for pair in (((k, edge), (k + 1, edge)), ((edge, k), (edge, k + 1)))
)
"""Neighbouring interior cells along the border: walls on both make a 2x2 window of the outer
ring all wall."""


def _corridor_wall_masks() -> np.ndarray:
    """All interior wall sets of 8 cells that form a connected corridor maze (PAPER.md §7).

    The 2x2 rule holds on every 2x2 window of the 7x7 grid, the outer wall ring included: no
    window is all wall, no window of the interior is all free, none is a checkerboard. Rows of
    the interior are 5-bit wall masks, built up row by row; a new row must not form, with the
    row above, a 2x2 block that is all free, all wall or a checkerboard. The windows that hold
    part of the outer ring can only break the rule by being all wall (their ring cells are
    walls, so they are never all free nor a checkerboard): a wall in a corner cell of the
    interior, or two neighbouring walls along the border. Those sets are dropped, and the
    rest kept if their free cells are connected.
    """
    rows = np.arange(1 << INTERIOR_SIZE)
    row_bits = (rows[:, None] >> np.arange(INTERIOR_SIZE)) & 1
    allowed_below = np.ones((len(rows), len(rows)), dtype=bool)
    for j in range(INTERIOR_SIZE - 1):
        a0, a1 = row_bits[:, j, None], row_bits[:, j + 1, None]
        b0, b1 = row_bits[None, :, j], row_bits[None, :, j + 1]
        n_walls = a0 + a1 + b0 + b1
        checkerboard = (a0 == b1) & (a1 == b0) & (a0 != a1)
        allowed_below &= (n_walls != 0) & (n_walls != 4) & ~checkerboard
    row_walls = row_bits.sum(axis=1)

    prefixes = rows[:, None]
    prefix_walls = row_walls
    for _ in range(INTERIOR_SIZE - 1):
        parent, below = np.nonzero(allowed_below[prefixes[:, -1]])
        prefixes = np.concatenate([prefixes[parent], below[:, None]], axis=1)
        prefix_walls = prefix_walls[parent] + row_walls[below]
        keep = prefix_walls <= N_INTERIOR_WALLS
        prefixes, prefix_walls = prefixes[keep], prefix_walls[keep]
    prefixes = prefixes[prefix_walls == N_INTERIOR_WALLS].astype(np.int64)
    walls = (prefixes << (INTERIOR_SIZE * np.arange(INTERIOR_SIZE))).sum(axis=1)
    on_ring = (walls & _CORNER_CELLS) != 0
    for pair in _BORDER_PAIRS:
        on_ring |= (walls & pair) == pair
    walls = walls[~on_ring]
    free = ~walls & _FULL_MASK
    connected = _flood(free & -free, free) == free
    return np.sort(walls[connected])


def _interior_neighbours() -> np.ndarray:
    """(26, 4) bit index of each interior cell's neighbour per direction; 25 = outside."""
    n = INTERIOR_SIZE * INTERIOR_SIZE
    table = np.full((n + 1, 4), n, dtype=np.int64)
    for b in range(n):
        x, y = _bit_cell(b)
        for d in range(4):
            nx, ny = x + DIR_DX[d], y + DIR_DY[d]
            if 1 <= nx <= INTERIOR_SIZE and 1 <= ny <= INTERIOR_SIZE:
                table[b, d] = _bit(nx, ny)
    return table


def _bfs_tree_degree(free: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Degree of every cell in the BFS spanning tree of the free cells, per maze.

    The root is the first free cell in row-major order (smallest y, then smallest x). Each
    other cell's parent is, among its neighbours one step closer to the root, the one with
    the smallest row-major index (up, then left, then right, then down).

    Args:
        free: (n_mazes, 26) bool, free interior cells by bit index; column 25 (outside) False.
        neighbours: (26, 4) from `_interior_neighbours`.

    Returns:
        (n_mazes, 25) int: tree degree, 0 on walls.
    """
    n_mazes, n = free.shape[0], free.shape[1] - 1
    maze = np.arange(n_mazes)
    depth = np.full((n_mazes, n + 1), -1)
    depth[maze, np.argmax(free[:, :n], axis=1)] = 0
    for k in range(1, n):
        frontier = depth == k - 1
        new = free[:, :n] & (depth[:, :n] < 0) & frontier[:, neighbours[:n]].any(axis=-1)
        if not new.any():
            break
        depth[:, :n][new] = k
    parent_order = np.array([3, 2, 0, 1])
    candidates = neighbours[:n][:, parent_order]
    closer = free[:, candidates] & (depth[:, candidates] == depth[:, :n, None] - 1)
    has_parent = closer.any(axis=-1) & free[:, :n]
    parent = np.where(has_parent, candidates[np.arange(n), np.argmax(closer, axis=-1)], n)
    n_children = (parent[:, None, :] == np.arange(n)[None, :, None]).sum(axis=-1)
    return np.where(free[:, :n], n_children + has_parent, 0)


@functools.cache
def prosocial_mazes() -> ProsocialMazes:
    """Enumerate every valid prosocial maze once (cached), PAPER.md §7, Fig. 7.

    A maze is valid when its 8 interior walls form a connected corridor maze (free interior
    cells connected; no 2x2 window of the 7x7 grid, the outer ring included, all wall, no 2x2
    block of the interior all free, none a checkerboard; such a maze has no loop) and it has
    at least one valid structure. A structure is a ball cell, a partner side and a goal side:
    the ball sits on a cell of highest degree in the BFS spanning tree of the free cells
    (every cell of that degree is a candidate). The tree is rooted at the first free cell in
    row-major order (smallest y, then smallest x); each other cell hangs from the neighbour
    one step closer to the root with the smallest row-major index. Removing the ball's cell
    splits the free cells into sides; the partner side holds at least one dead end (a free
    cell with exactly one free neighbour) and the goal side, a different side, at least two
    (the goal and the learner). Structures are ordered by maze, ball cell, then the
    directions (0..3) from the ball into the partner side and into the goal side.

    Returns:
        The table of mazes and structures; 854 mazes with 5,276 structures.
    """
    wall_masks = _corridor_wall_masks()
    free_masks = ~wall_masks & _FULL_MASK
    n = INTERIOR_SIZE * INTERIOR_SIZE
    neighbours = _interior_neighbours()
    free = np.zeros((len(wall_masks), n + 1), dtype=bool)
    free[:, :n] = (free_masks[:, None] >> np.arange(n)) & 1
    n_free_neighbours = free[:, neighbours[:n]].sum(axis=-1)
    dead_end_bits = free[:, :n] & (n_free_neighbours == 1)
    dead_ends = (dead_end_bits.astype(np.int64) << np.arange(n)).sum(axis=1)

    tree_degree = _bfs_tree_degree(free, neighbours)
    is_junction = tree_degree == tree_degree.max(axis=1, keepdims=True)
    maze, ball = np.nonzero(is_junction)
    remaining = free_masks[maze] & ~(np.int64(1) << ball)
    sides = np.zeros((len(maze), 4), dtype=np.int64)
    for d in range(4):
        seed_bit = neighbours[ball, d]
        seed = np.where(seed_bit < n, np.int64(1) << np.minimum(seed_bit, n - 1), 0)
        sides[:, d] = _flood(seed, remaining)
    side_dead_ends = sides & dead_ends[maze, None]
    n_side_dead_ends = np.bitwise_count(side_dead_ends)
    first_of_side = sides != 0
    for d in range(1, 4):
        for earlier in range(d):
            first_of_side[:, d] &= sides[:, d] != sides[:, earlier]

    rows = []
    for partner_d in range(4):
        for goal_d in range(4):
            if partner_d == goal_d:
                continue
            ok = (
                first_of_side[:, partner_d]
                & first_of_side[:, goal_d]
                & (n_side_dead_ends[:, partner_d] >= 1)
                & (n_side_dead_ends[:, goal_d] >= 2)
            )
            idx = np.nonzero(ok)[0]
            rows.append(
                np.stack(
                    [
                        maze[idx],
                        ball[idx],
                        np.full(len(idx), partner_d),
                        np.full(len(idx), goal_d),
                        side_dead_ends[idx, partner_d],
                        side_dead_ends[idx, goal_d],
                    ],
                    axis=1,
                )
            )
    table = np.concatenate(rows).astype(np.int64)
    table = table[np.lexsort(table[:, 3::-1].T)]
    valid_mazes, first, _ = np.unique(table[:, 0], return_index=True, return_counts=True)
    return ProsocialMazes(
        wall_masks=wall_masks[valid_mazes],
        structure_start=np.append(first, len(table)).astype(np.int64),
        ball=table[:, 1],
        partner_dead_ends=table[:, 4],
        goal_dead_ends=table[:, 5],
    )


_Cell = tuple[int, int]


class AuthorsLayouts(NamedTuple):
    """The authors' layout rule precomputed on every maze of `prosocial_mazes` (PAPER.md §7).

    For each maze, each junction (a cell of highest degree in the BFS spanning tree of
    `prosocial_mazes`) splits the free cells, with the junction's cell removed, into two parts:
    the connected component of the first free cell in row-major order, and the union of all
    other components. Maze ``m`` owns the junctions ``junction_start[m]:junction_start[m + 1]``,
    in row-major order of their cells. Cells are bits as in `ProsocialMazes`.
    """

    junction_start: np.ndarray
    """(n_mazes + 1,) int64: offsets of each maze's junctions."""
    ball: np.ndarray
    """(n_junctions,) int64: bit index of the junction's cell."""
    first_part: np.ndarray
    """(n_junctions,) int64: mask of the component holding the first free cell."""
    other_part: np.ndarray
    """(n_junctions,) int64: mask of the union of all other components (may be empty)."""
    leaves: np.ndarray
    """(n_mazes,) int64: mask of the leaves (degree 1) of the maze's BFS spanning tree."""


@functools.cache
def authors_layouts() -> AuthorsLayouts:
    """Precompute the authors' layout rule on every maze, once (cached); PAPER.md §7, Fig. 7.

    The mazes are those of `prosocial_mazes` (8 interior walls, as for the ``goal-branch``
    rule), with the same spanning tree (root at the first free cell in row-major order).
    """
    mazes = prosocial_mazes()
    n = INTERIOR_SIZE * INTERIOR_SIZE
    free_masks = ~mazes.wall_masks & _FULL_MASK
    free = np.zeros((mazes.n_mazes, n + 1), dtype=bool)
    free[:, :n] = (free_masks[:, None] >> np.arange(n)) & 1
    tree_degree = _bfs_tree_degree(free, _interior_neighbours())
    leaves = ((tree_degree == 1).astype(np.int64) << np.arange(n)).sum(axis=1)
    maze, ball = np.nonzero(tree_degree == tree_degree.max(axis=1, keepdims=True))
    remaining = free_masks[maze] & ~(np.int64(1) << ball)
    first_part = _flood(remaining & -remaining, remaining)
    counts = np.bincount(maze, minlength=mazes.n_mazes)
    return AuthorsLayouts(
        junction_start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        ball=ball.astype(np.int64),
        first_part=first_part,
        other_part=remaining & ~first_part,
        leaves=leaves,
    )


def sample_prosocial_layout(
    rng: np.random.Generator, *, layout_rule: str = "authors"
) -> ProsocialDraw:
    """Draw one layout of the prosocial world (PAPER.md §7, Fig. 7).

    With the world's order draws (`ProsocialEnv`), the only use of randomness of the world.
    Both rules pick the maze uniformly among those of `prosocial_mazes` and draw every
    choice uniformly, cells in row-major order; directions come last, ``rng.integers(4)`` for
    the partner's, then for the learner's.

    ``authors`` (the authors' generator, the default): ``rng.integers(n_mazes)`` picks the
    maze, ``rng.integers(k)`` one of its k junctions for the ball, and a fair coin
    ``rng.integers(2)`` (0: the first part) the part of the partner (`AuthorsLayouts`). The
    partner starts on a leaf of its part, the goal is a leaf of the other part and the learner
    a leaf of the goal's part other than the goal. A draw whose partner part has no leaf, or
    whose goal part has fewer than two (no leaf left for the learner), is one on which the
    authors' generator fails: it is discarded and the three draws are repeated, so the learner
    always starts on the goal's side of the ball.

    ``goal-branch`` (this project's earlier reading): ``rng.integers(n_mazes)`` picks the
    maze; ``rng.integers(k)`` one of its k structures (ball, partner side, goal side, see
    `prosocial_mazes`); then the partner's dead end among those of its side, the goal among
    the goal side's dead ends and the learner among the goal side's remaining dead ends, so
    the learner always starts on the goal's own branch.

    Args:
        rng: the generator of the environment copy (``env.np_random``).
        layout_rule: ``authors`` or ``goal-branch`` (`valint.config.LAYOUT_RULES`).

    Returns:
        The layout.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    check_choice("layout_rule", layout_rule, LAYOUT_RULES)
    mazes = prosocial_mazes()
    if layout_rule == "authors":
        maze, ball, partner_pos, goal, learner_pos = _draw_authors(rng)
    else:
        maze, ball, partner_pos, goal, learner_pos = _draw_goal_branch(rng)
    partner_dir = int(rng.integers(4))
    learner_dir = int(rng.integers(4))
    return ProsocialDraw(
        walls=tuple(_mask_cells(int(mazes.wall_masks[maze]))),
        ball=ball,
        partner_pos=partner_pos,
        partner_dir=partner_dir,
        goal=goal,
        learner_pos=learner_pos,
        learner_dir=learner_dir,
    )


def _draw_authors(rng: np.random.Generator) -> tuple[int, _Cell, _Cell, _Cell, _Cell]:
    """Maze, ball, partner, goal and learner of the ``authors`` rule (see the sampler)."""
    mazes, table = prosocial_mazes(), authors_layouts()
    while True:
        maze = int(rng.integers(mazes.n_mazes))
        first, stop = table.junction_start[maze], table.junction_start[maze + 1]
        junction = int(first + rng.integers(stop - first))
        parts = (int(table.first_part[junction]), int(table.other_part[junction]))
        if int(rng.integers(2)) == 1:
            parts = parts[::-1]
        leaves = int(table.leaves[maze])
        partner_cells = _mask_cells(parts[0] & leaves)
        goal_cells = _mask_cells(parts[1] & leaves)
        if partner_cells and len(goal_cells) >= 2:
            break
    partner_pos = partner_cells[int(rng.integers(len(partner_cells)))]
    goal = goal_cells.pop(int(rng.integers(len(goal_cells))))
    learner_pos = goal_cells[int(rng.integers(len(goal_cells)))]
    return maze, _bit_cell(int(table.ball[junction])), partner_pos, goal, learner_pos


def _draw_goal_branch(rng: np.random.Generator) -> tuple[int, _Cell, _Cell, _Cell, _Cell]:
    """Maze, ball, partner, goal and learner of the ``goal-branch`` rule (see the sampler)."""
    mazes = prosocial_mazes()
    maze = int(rng.integers(mazes.n_mazes))
    first, stop = mazes.structure_start[maze], mazes.structure_start[maze + 1]
    structure = int(first + rng.integers(stop - first))
    partner_cells = _mask_cells(int(mazes.partner_dead_ends[structure]))
    partner_pos = partner_cells[int(rng.integers(len(partner_cells)))]
    goal_cells = _mask_cells(int(mazes.goal_dead_ends[structure]))
    goal = goal_cells.pop(int(rng.integers(len(goal_cells))))
    learner_pos = goal_cells[int(rng.integers(len(goal_cells)))]
    return maze, _bit_cell(int(mazes.ball[structure])), partner_pos, goal, learner_pos


# ---------------------------------------------------------------------------------------------
# The scripted partner (PAPER.md §7)
# ---------------------------------------------------------------------------------------------


@functools.cache
def _route_from_mask(wall_mask: int, goal: tuple[int, int]) -> np.ndarray:
    route = np.full((GRID_SIZE, GRID_SIZE), -1, dtype=np.int8)
    distance = {goal: 0}
    queue = deque([goal])
    while queue:
        x, y = queue.popleft()
        for d in range(4):
            cell = (x + int(DIR_DX[d]), y + int(DIR_DY[d]))
            inside = 1 <= cell[0] <= INTERIOR_SIZE and 1 <= cell[1] <= INTERIOR_SIZE
            if inside and not wall_mask >> _bit(*cell) & 1 and cell not in distance:
                distance[cell] = distance[(x, y)] + 1
                queue.append(cell)
    for (x, y), dist in distance.items():
        for d in range(4):
            if distance.get((x + int(DIR_DX[d]), y + int(DIR_DY[d]))) == dist - 1:
                route[x, y] = d
                break
    route.setflags(write=False)
    return route


def partner_route(walls: Iterable[tuple[int, int]], goal: tuple[int, int]) -> np.ndarray:
    """The scripted partner's shortest-path policy to its goal (PAPER.md §7, Fig. 7).

    Only walls are obstacles: the ball and the learner are ignored, so the route runs
    through the ball's junction and the partner bumps into the ball until it is removed.
    Where several shortest paths exist, the first direction in the order 0 = right,
    1 = down, 2 = left, 3 = up that leads one step closer to the goal is taken.

    Args:
        walls: interior wall cells (x, y).
        goal: the partner's goal (x, y).

    Returns:
        (7, 7) int8 indexed [x, y]: the direction of the next cell of the path; -1 on walls,
        on the goal and on cells that cannot reach it. Read-only (cached).
    """
    return _route_from_mask(_wall_mask(walls), (int(goal[0]), int(goal[1])))


def partner_action(partner_dir: int, route_dir: int) -> int:
    """The partner's action given its direction and the direction of its path (PAPER.md §7).

    It moves forward when it faces the next cell of its path, else turns towards it: left
    for a quarter turn to the left, right for a quarter turn to the right or a half turn.

    Args:
        partner_dir: the partner's direction (0..3).
        route_dir: the direction of the next cell of its path (`partner_route`).

    Returns:
        The action in the learner's coding (`ProsocialActions`): 1 left, 2 right, 3 forward.
    """
    turn = (route_dir - partner_dir) % 4
    if turn == 0:
        return ProsocialActions.forward
    if turn == 3:
        return ProsocialActions.left
    return ProsocialActions.right


# Vectorised forms of the two agents' rules, indexed by action or by the turn
# (route_dir - partner_dir) % 4 that the partner faces.
_TURN_BY_ACTION = np.array([0, -1, 1, 0, 0])
_PARTNER_ACTION_BY_TURN = np.array([int(partner_action(0, turn)) for turn in range(4)])
_PARTNER_TURN_BY_TURN = _TURN_BY_ACTION[_PARTNER_ACTION_BY_TURN]


# ---------------------------------------------------------------------------------------------
# The MiniGrid environment
# ---------------------------------------------------------------------------------------------


class Partner(WorldObj):
    """The scripted partner as a MiniGrid object: a blue agent triangle (PAPER.md §7).

    It is encoded as MiniGrid's agent, ``(10, 2, partner_dir)``, blocks the learner, and is
    drawn by MiniGrid's renderer as a blue triangle pointing in its direction.
    """

    def __init__(self, direction: int):
        super().__init__("agent", PARTNER_COLOR)
        self.dir = direction

    def encode(self) -> tuple[int, int, int]:
        """MiniGrid encoding (object, colour, state) with the direction as state."""
        return (_AGENT, _PARTNER_COLOR_IDX, self.dir)

    def render(self, img: np.ndarray) -> None:
        """Draw the partner like MiniGrid draws its agent, in blue."""
        triangle = point_in_triangle((0.12, 0.19), (0.87, 0.50), (0.12, 0.81))
        triangle = rotate_fn(triangle, cx=0.5, cy=0.5, theta=0.5 * math.pi * self.dir)
        fill_coords(img, triangle, COLORS[PARTNER_COLOR])


def _layout_grid(draw: ProsocialDraw) -> tuple[Grid, Partner]:
    grid = Grid(GRID_SIZE, GRID_SIZE)
    grid.wall_rect(0, 0, GRID_SIZE, GRID_SIZE)
    for x, y in draw.walls:
        grid.set(x, y, Wall())
    grid.set(*draw.ball, Ball(BALL_COLOR))
    grid.set(*draw.goal, Goal())
    partner = Partner(draw.partner_dir)
    grid.set(*draw.partner_pos, partner)
    return grid, partner


def render_prosocial(draw: ProsocialDraw, *, tile_size: int = TILE_PIXELS) -> np.ndarray:
    """Render a prosocial layout with MiniGrid's renderer, for the book's pictures of Fig. 7.

    The learner is MiniGrid's red triangle, the partner a blue triangle, the ball a yellow
    disc, the partner's goal the green square, walls grey.

    Args:
        draw: a layout, e.g. from `sample_prosocial_layout`.
        tile_size: pixels per cell.

    Returns:
        (7 * tile_size, 7 * tile_size, 3) uint8 RGB image.
    """
    if not isinstance(tile_size, int) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive int, got {tile_size!r}")
    grid, _ = _layout_grid(draw)
    return grid.render(tile_size, draw.learner_pos, draw.learner_dir)


class ProsocialEnv(MiniGridEnv):
    """
    ## Description

    The two-agent world of Fig. 7 (PAPER.md §7). A 7x7 grid with a wall border holds a
    corridor maze of exactly 8 interior walls (free cells connected; no 2x2 window of the grid,
    the outer ring included, all wall, none of the interior all free, none a checkerboard). A **ball** (yellow) sits on a junction. A scripted
    **partner** (blue triangle) starts on one side of the ball and walks the shortest path
    to its **goal** (green) on the other side; the ball blocks the only way through. The
    partner treats only walls as obstacles, so it bumps into the ball until the **learner**
    (red triangle) picks the ball up: helping is clearing the ball so the partner can pass.
    Layouts come from `sample_prosocial_layout`, over the 854 valid mazes, with the authors'
    placement rule by default (the learner on a leaf of the goal's side of the ball, on any
    branch of it) or ``goal-branch`` (the learner always on the goal's own branch). The partner is a MiniGrid object (`Partner`), so
    MiniGrid's renderer draws it next to the learner; `render` shows the whole grid without
    the view highlight, since the learner sees all of it.

    Each step a fair coin from the environment's generator (``self.np_random.random() <
    0.5``, drawn first) decides whether the learner acts before the partner or after it. The
    partner turns towards the next cell of its path (`partner_route`, `partner_action`) or,
    facing it, moves forward; a forward move into a wall, the ball or the learner leaves it
    in place. Nobody steps onto the goal cell: the partner arrives by moving forward into it,
    which reports `goal_reached`; after both agents have acted, the whole layout is then drawn
    again in place and the step counter keeps running.

    ## Mission Space

    "help your partner reach its goal" (constant).

    ## Action Space

    | Num | Name    | Action                                                         |
    |-----|---------|----------------------------------------------------------------|
    | 0   | still   | Do nothing                                                     |
    | 1   | left    | Turn left                                                      |
    | 2   | right   | Turn right                                                     |
    | 3   | forward | Move forward (walls, the ball, the partner and the goal block) |
    | 4   | pickup  | Facing the ball: carry it (until the layout is drawn again)    |

    ## Observation Encoding

    A (9, 9, 4) uint8 egocentric view of the whole grid, built as PAPER.md §3 builds the
    single-agent view: MiniGrid's grid encoding (object, colour, state) of the 7x7 grid,
    with the learner written as (10, 0, learner_dir) and the partner as (10, 2, partner_dir);
    the ball is (6, 4, 0), yellow, and disappears from the view once carried. The grid is
    zero-padded to 17x17, the 9x9 window centred on the learner is cut and rotated so the
    learner faces up: indexed [row, column, channel], the learner is at [4, 4], the cell in
    front of it at [3, 4] and the cell to its right at [4, 5]. Channel 3 is 1 on the
    partner's goal cell, 0 elsewhere. The networks read these codes unscaled
    (``obs_scale``, PAPER.md §7).

    `reset` and `step` report in `info` `partner_view_pos`, the partner's (row, column)
    in the returned observation; `step` also reports `partner_action`, the
    partner's action of this step in the learner's coding (1 left, 2 right, 3 forward).
    The ISR input (PAPER.md §7) writes that action at the partner's cell of the observation
    the learner acted on, i.e. the previous observation and its `partner_view_pos`.

    ## Rewards

    The reward is the learner's effort cost R_e: -0.009 for every forward move, also when
    it is blocked, 0 otherwise. The social reward for helping (+0.4 to both agents when
    `info["goal_reached"]`) is paid by `valint.social` and added to the cost, whichever
    agent acted first (the authors' code assigned the cost instead, so it overwrote the
    +0.4 when the partner happened to act first; this project does not repeat that bug).

    ## Termination

    Never terminated. Truncated after exactly 100 steps.

    ## Registered Configurations

    - `valint/Prosocial-v0` (registered in `valint.social`)

    Args:
        render_mode: None or one of MiniGrid's render modes.
        layout_rule: ``authors`` or ``goal-branch`` (`valint.config.LAYOUT_RULES`).
        obs_scale: ``raw`` or ``1/255`` (`valint.config.OBS_SCALES`): how the networks
            scale this world's observation; it does not change the observation itself.
    """

    def __init__(
        self, *, render_mode: str | None = None, layout_rule: str = "authors", obs_scale: str = "raw"
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be one of {[None, *self.metadata['render_modes']]}, "
                f"got {render_mode!r}"
            )
        check_choice("layout_rule", layout_rule, LAYOUT_RULES)
        check_choice("obs_scale", obs_scale, OBS_SCALES)
        super().__init__(
            mission_space=MissionSpace(mission_func=self._gen_mission),
            grid_size=GRID_SIZE,
            max_steps=MAX_STEPS,
            see_through_walls=True,
            render_mode=render_mode,
            highlight=False,
        )
        self.layout_rule = layout_rule
        self.obs_scale = OBS_SCALE_BY_NAME[obs_scale]
        """Factor the networks apply to the observation (PAPER.md §7)."""
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = spaces.Box(low=0, high=255, shape=OBS_SHAPE, dtype=np.uint8)
        self.layout: ProsocialDraw | None = None
        self.partner: Partner | None = None
        self.partner_pos: tuple[int, int] = (-1, -1)
        self.goal_pos: tuple[int, int] = (-1, -1)
        self.learner_first = True
        """Whether the learner acted before the partner in the last step."""
        self._route = np.full((GRID_SIZE, GRID_SIZE), -1, dtype=np.int8)

    @property
    def ball_present(self) -> bool:
        """Whether the ball still blocks its junction (False once the learner carries it)."""
        return isinstance(self.grid.get(*self.layout.ball), Ball)

    @staticmethod
    def _gen_mission() -> str:
        return "help your partner reach its goal"

    def _gen_grid(self, width: int, height: int) -> None:
        draw = sample_prosocial_layout(self.np_random, layout_rule=self.layout_rule)
        self.grid, self.partner = _layout_grid(draw)
        self.layout = draw
        self.partner_pos = draw.partner_pos
        self.goal_pos = draw.goal
        self.agent_pos = draw.learner_pos
        self.agent_dir = draw.learner_dir
        self.carrying = None
        self._route = partner_route(draw.walls, draw.goal)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw a new layout; `info["partner_view_pos"]` locates the partner in `obs`."""
        obs, _ = super().reset(seed=seed, options=options)
        return obs, {"partner_view_pos": self._partner_view_pos(obs)}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Both agents act, in an order drawn for this step; see the class docstring."""
        if action not in range(N_ACTIONS):
            raise ValueError(f"action must be one of 0..{N_ACTIONS - 1}, got {action!r}")
        self.step_count += 1
        self.learner_first = bool(self.np_random.random() < 0.5)
        if self.learner_first:
            effort_cost = self._learner_step(action)
            partner_act, goal_reached = self._partner_step()
        else:
            partner_act, goal_reached = self._partner_step()
            effort_cost = self._learner_step(action)
        if goal_reached:
            self._gen_grid(self.width, self.height)
        truncated = self.step_count >= self.max_steps
        if self.render_mode == "human":
            self.render()
        obs = self.gen_obs()
        info = {
            "goal_reached": goal_reached,
            "effort_cost": effort_cost,
            "partner_action": partner_act,
            "partner_view_pos": self._partner_view_pos(obs),
        }
        return obs, effort_cost, False, truncated, info

    def _learner_step(self, action: int) -> float:
        """Apply the learner's action; returns its effort cost R_e."""
        fwd_pos = tuple(int(v) for v in self.front_pos)
        fwd_cell = self.grid.get(*fwd_pos)
        if action == ProsocialActions.left:
            self.agent_dir = (self.agent_dir - 1) % 4
        elif action == ProsocialActions.right:
            self.agent_dir = (self.agent_dir + 1) % 4
        elif action == ProsocialActions.forward:
            open_cell = fwd_cell is None or (fwd_cell.can_overlap() and fwd_pos != self.goal_pos)
            if open_cell:
                self.agent_pos = fwd_pos
            return EFFORT_COST
        elif action == ProsocialActions.pickup:
            if fwd_cell is not None and fwd_cell.type == "ball" and self.carrying is None:
                self.carrying = fwd_cell
                self.grid.set(*fwd_pos, None)
        return 0.0

    def _partner_step(self) -> tuple[int, bool]:
        """Move the scripted partner one step; returns its action and whether it arrived."""
        x, y = self.partner_pos
        act = partner_action(self.partner.dir, int(self._route[x, y]))
        if act == ProsocialActions.left:
            self.partner.dir = (self.partner.dir - 1) % 4
        elif act == ProsocialActions.right:
            self.partner.dir = (self.partner.dir + 1) % 4
        else:
            target = (x + int(DIR_DX[self.partner.dir]), y + int(DIR_DY[self.partner.dir]))
            cell = self.grid.get(*target)
            blocked = (cell is not None and not cell.can_overlap()) or target == tuple(
                self.agent_pos
            )
            if not blocked:
                if target == self.goal_pos:
                    return int(act), True
                self.grid.set(x, y, None)
                self.grid.set(*target, self.partner)
                self.partner_pos = target
        return int(act), False

    def gen_obs(self) -> np.ndarray:
        """The learner's (9, 9, 4) egocentric view (PAPER.md §3 and §7)."""
        full = np.zeros((GRID_SIZE, GRID_SIZE, 4), dtype=np.uint8)
        full[:, :, :3] = self.grid.encode()
        ax, ay = self.agent_pos
        full[ax, ay, :3] = (_AGENT, _LEARNER_COLOR_IDX, self.agent_dir)
        full[self.goal_pos[0], self.goal_pos[1], 3] = 1
        return egocentric_view(full, self.agent_pos, self.agent_dir)

    @staticmethod
    def _partner_view_pos(obs: np.ndarray) -> tuple[int, int]:
        is_partner = (obs[:, :, 0] == _AGENT) & (obs[:, :, 1] == _PARTNER_COLOR_IDX)
        (row, col), = np.argwhere(is_partner)
        return int(row), int(col)


# ---------------------------------------------------------------------------------------------
# The batched twin
# ---------------------------------------------------------------------------------------------


class BatchStep(NamedTuple):
    """Result of `ProsocialBatch.step` for `n` copies (docs/CONTRACTS.md, PAPER.md §7)."""

    obs: np.ndarray
    """(n, 9, 9, 4) uint8: observation after the step, already reset where truncated."""
    effort_cost: np.ndarray
    """(n,) float32: R_e of the step, -0.009 for a forward move, else 0."""
    goal_reached: np.ndarray
    """(n,) bool: the partner reached its goal this step (the layout was drawn again)."""
    learner_first: np.ndarray
    """(n,) bool: the learner acted before the partner in this step."""
    truncated: np.ndarray
    """(n,) bool: the episode ended after this step (100 steps)."""
    final_obs: np.ndarray
    """(n, 9, 9, 4) uint8: last observation of the episode where truncated, else = obs."""
    partner_action: np.ndarray
    """(n,) int64: the partner's action of this step (1 left, 2 right, 3 forward)."""
    partner_view_pos: np.ndarray
    """(n, 2) int64: (row, column) of the partner in `obs` (after any auto-reset)."""


@functools.cache
def _maze_cells(wall_mask: int) -> tuple[np.ndarray, np.ndarray]:
    """Static encoding (50, 4) and wall flags (49,) of a maze, flat index y * 7 + x."""
    walls = np.ones((GRID_SIZE, GRID_SIZE), dtype=bool)
    walls[1:-1, 1:-1] = False
    for x, y in _mask_cells(wall_mask):
        walls[y, x] = True
    walls = walls.ravel()
    encoding = np.zeros((N_CELLS + 1, 4), dtype=np.uint8)
    encoding[:N_CELLS, :3] = np.where(walls[:, None], _WALL_CODE, _EMPTY_CODE)
    walls.setflags(write=False)
    encoding.setflags(write=False)
    return encoding, walls


class ProsocialBatch:
    """`n` independent copies of `ProsocialEnv` stepped with vectorised numpy (PAPER.md §7).

    Copy i draws its layouts and its per-step order of the two agents from
    ``gymnasium.utils.seeding.np_random(seeds[i])[0]`` exactly as
    ``ProsocialEnv.reset(seed=seeds[i])`` followed by a plain ``reset()`` at each
    truncation, so both give identical observations, costs, goal events and partner actions
    from the same actions. State is numpy arrays over copies; Python loops only over copies
    (one order draw each per step, and the copies whose layout is drawn again).

    The ISR (PAPER.md §7) pairs the observation the learner acted on with the learner's
    action and the partner's action at the partner's cell: keep `partner_view_pos` (after
    `reset`) or `BatchStep.partner_view_pos` (after `step`) with the observation it belongs
    to, and pair it with the next step's `partner_action`.

    Args:
        seeds: one seed per copy (non-negative ints).
        layout_rule: ``authors`` or ``goal-branch`` (`valint.config.LAYOUT_RULES`).
        obs_scale: ``raw`` or ``1/255`` (`valint.config.OBS_SCALES`), see `obs_scale`.

    Attributes:
        obs_scale: the factor the networks apply to this world's observations (PAPER.md §7:
            1, the integer codes unscaled, unless ``1/255`` was asked for).
        partner_view_pos: (n, 2) int64, (row, column) of the partner in the current
            observation (the last one returned by `reset` or `step`).
    """

    def __init__(
        self, seeds: Sequence[int], *, layout_rule: str = "authors", obs_scale: str = "raw"
    ):
        seeds = list(seeds)
        if not seeds or not all(isinstance(s, (int, np.integer)) and s >= 0 for s in seeds):
            raise ValueError(
                f"seeds must be a non-empty sequence of non-negative ints, got {seeds!r}"
            )
        check_choice("layout_rule", layout_rule, LAYOUT_RULES)
        check_choice("obs_scale", obs_scale, OBS_SCALES)
        self.layout_rule = layout_rule
        self.obs_scale = OBS_SCALE_BY_NAME[obs_scale]
        self.seeds = [int(s) for s in seeds]
        self.n = len(seeds)
        n = self.n
        self._copy = np.arange(n)
        self._rngs: list[np.random.Generator] = []
        self._static = np.zeros((n, N_CELLS + 1, 4), dtype=np.uint8)
        # Per-copy maze cells, flattened over copies: copy i, cell c is entry i * 49 + c.
        self._cell_offset = self._copy * N_CELLS
        self._walls_flat = np.zeros(n * N_CELLS, dtype=bool)
        self._route_flat = np.zeros(n * N_CELLS, dtype=np.int64)
        self._ball = np.zeros(n, dtype=np.int64)
        self._ball_present = np.zeros(n, dtype=bool)
        self._goal = np.zeros(n, dtype=np.int64)
        self._learner_pos = np.zeros(n, dtype=np.int64)
        self._learner_dir = np.zeros(n, dtype=np.int64)
        self._partner_pos = np.zeros(n, dtype=np.int64)
        self._partner_dir = np.zeros(n, dtype=np.int64)
        self._step_count = np.zeros(n, dtype=np.int64)
        self.partner_view_pos = np.zeros((n, 2), dtype=np.int64)

    @property
    def carrying(self) -> np.ndarray:
        """(n,) bool: the learner carries the ball (it picked it up in the current layout)."""
        return ~self._ball_present

    def reset(self) -> np.ndarray:
        """Re-seed every copy from its seed and draw its first layout.

        Returns:
            (n, 9, 9, 4) uint8 observations; `partner_view_pos` locates the partner in them.
        """
        self._rngs = [seeding.np_random(s)[0] for s in self.seeds]
        self._redraw(self._copy)
        self._step_count[:] = 0
        obs = self._observe(self._copy)
        self.partner_view_pos = self._partner_view(self._copy)
        return obs

    def step(self, actions: np.ndarray) -> BatchStep:
        """Step every copy once, the two agents in an order drawn per copy (PAPER.md §7).

        Args:
            actions: (n,) ints in 0..4 (`ProsocialActions`).

        Returns:
            The `BatchStep`; copies that reach 100 steps are reset (`obs`) after their last
            observation is kept in `final_obs`.
        """
        if not self._rngs:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.n,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be an int array of shape ({self.n},), got dtype {actions.dtype} "
                f"and shape {actions.shape}"
            )
        if actions.min() < 0 or actions.max() >= N_ACTIONS:
            raise ValueError(f"actions must be in 0..{N_ACTIONS - 1}, got {actions!r}")
        learner_first = np.array([rng.random() < 0.5 for rng in self._rngs])
        self._learner_step(actions, learner_first)
        partner_act, goal_reached = self._partner_step()
        self._learner_step(actions, ~learner_first)
        effort_cost = np.where(actions == _FORWARD, np.float32(EFFORT_COST), np.float32(0.0))
        self._redraw(np.flatnonzero(goal_reached))
        end = end_episodes(self._step_count, MAX_STEPS, self._observe, self._redraw)
        self.partner_view_pos = self._partner_view(self._copy)
        return BatchStep(
            obs=end.obs,
            effort_cost=effort_cost,
            goal_reached=goal_reached,
            learner_first=learner_first,
            truncated=end.truncated,
            final_obs=end.final_obs,
            partner_action=partner_act,
            partner_view_pos=self.partner_view_pos,
        )

    def _learner_step(self, actions: np.ndarray, acting: np.ndarray) -> None:
        """The learner's action in the copies where ``acting``; walls, the ball, the partner
        and the goal block a forward move, and pickup takes the ball it faces."""
        turn = np.where(acting, _TURN_BY_ACTION[actions], 0)
        self._learner_dir = (self._learner_dir + turn) % 4
        front = self._learner_pos + DIR_STEP[self._learner_dir]
        ball_in_front = self._ball_present & (self._ball == front)
        blocked = self._walls_flat[self._cell_offset + front] | ball_in_front
        blocked |= (self._partner_pos == front) | (self._goal == front)
        moves = acting & (actions == _FORWARD) & ~blocked
        self._learner_pos = np.where(moves, front, self._learner_pos)
        self._ball_present &= ~(acting & (actions == _PICKUP) & ball_in_front)

    def _partner_step(self) -> tuple[np.ndarray, np.ndarray]:
        """The partner's step in every copy; returns its actions and where it arrived."""
        turn = (self._route_flat[self._cell_offset + self._partner_pos] - self._partner_dir) % 4
        partner_act = _PARTNER_ACTION_BY_TURN[turn]
        self._partner_dir = (self._partner_dir + _PARTNER_TURN_BY_TURN[turn]) % 4
        target = self._partner_pos + DIR_STEP[self._partner_dir]
        partner_blocked = self._walls_flat[self._cell_offset + target]
        partner_blocked |= self._ball_present & (self._ball == target)
        partner_blocked |= self._learner_pos == target
        forward = (turn == 0) & ~partner_blocked
        goal_reached = forward & (target == self._goal)
        self._partner_pos = np.where(forward & ~goal_reached, target, self._partner_pos)
        return partner_act, goal_reached

    def _redraw(self, copies: np.ndarray) -> None:
        """Draw new layouts for ``copies``, in order, each from its own generator."""
        for i in copies.tolist():
            self._redraw_one(i)

    def _redraw_one(self, i: int) -> None:
        draw = sample_prosocial_layout(self._rngs[i], layout_rule=self.layout_rule)
        wall_mask = _wall_mask(draw.walls)
        encoding, walls = _maze_cells(wall_mask)
        goal = cell_index(*draw.goal)
        self._static[i] = encoding
        self._static[i, goal] = (*_GOAL_CODE, 1)
        cells = slice(i * N_CELLS, (i + 1) * N_CELLS)
        self._walls_flat[cells] = walls
        self._route_flat[cells] = _route_from_mask(wall_mask, draw.goal).T.ravel()
        self._goal[i] = goal
        self._ball[i] = cell_index(*draw.ball)
        self._ball_present[i] = True
        self._learner_pos[i] = cell_index(*draw.learner_pos)
        self._learner_dir[i] = draw.learner_dir
        self._partner_pos[i] = cell_index(*draw.partner_pos)
        self._partner_dir[i] = draw.partner_dir

    def _observe(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), 9, 9, 4) observations of the copies `idx`."""
        k = np.arange(len(idx))
        cells = self._static[idx]
        ball = self._ball_present[idx]
        cells[k[ball], self._ball[idx][ball], :3] = _BALL_CODE
        agents = np.stack([self._partner_pos[idx], self._learner_pos[idx]], axis=1)
        codes = np.empty((len(idx), 2, 3), dtype=np.uint8)
        codes[:, :, 0] = _AGENT
        codes[:, :, 1] = (_PARTNER_COLOR_IDX, _LEARNER_COLOR_IDX)
        codes[:, 0, 2] = self._partner_dir[idx]
        codes[:, 1, 2] = self._learner_dir[idx]
        cells[k[:, None], agents, :3] = codes
        window = window_cells(self._learner_pos[idx], self._learner_dir[idx], k * (N_CELLS + 1))
        # np.take on the flattened cells is several times faster than 2-D fancy indexing.
        obs = np.take(cells.reshape(-1, 4), window, axis=0)
        return obs.reshape(len(idx), *OBS_SHAPE)

    def _partner_view(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), 2) (row, column) of the partner in the learner's window."""
        return view_position(self._learner_pos[idx], self._learner_dir[idx], self._partner_pos[idx])


AUTHORS_RANDOM_LEARNER = (0.337, 0.347)
"""Partner goals per episode of a uniformly random learner in the authors' world: the range
an independent re-implementation of their generator, step and scripted partner measured over
16,000 episodes (PAPER.md §7; the authors report no such number)."""


def random_learner_episodes(
    layout_rule: str = "authors", *, n_copies: int = 50, episodes: int = 20, seed: int = 0
) -> np.ndarray:
    """Partner goals in each episode of a learner that acts uniformly at random (PAPER.md §7).

    The level an untrained learner starts from, against which learning to help is judged;
    the authors' world gives about 0.34 per episode.

    Args:
        layout_rule: ``authors`` or ``goal-branch``.
        n_copies: world copies stepped together (seeds ``seed * n_copies ...``).
        episodes: episodes per copy.
        seed: picks the world seeds and the learner's actions.

    Returns:
        (n_copies, episodes) int: the partner's goals in each episode of each copy.
    """
    world = ProsocialBatch(range(seed * n_copies, (seed + 1) * n_copies), layout_rule=layout_rule)
    world.reset()
    actions = np.random.default_rng(seed)
    goals = np.zeros((n_copies, episodes), dtype=np.int64)
    for step in range(episodes * MAX_STEPS):
        reached = world.step(actions.integers(N_ACTIONS, size=n_copies)).goal_reached
        goals[:, step // MAX_STEPS] += reached
    return goals


def random_learner_partner_goals(
    layout_rule: str = "authors", *, n_copies: int = 50, episodes: int = 20, seed: int = 0
) -> float:
    """Mean partner goals per episode of a uniformly random learner (`random_learner_episodes`)."""
    return float(random_learner_episodes(
        layout_rule, n_copies=n_copies, episodes=episodes, seed=seed).mean())
