"""The single-agent 7x7 world of the paper (PAPER.md §3; paper Figs. 1, 3, 4, 5, 6).

The world comes in two implementations that are the same world, step for step:

- :class:`SocialGridEnv`, a MiniGrid environment, for rendering, documentation and checks;
- :class:`SocialGridBatch`, a batched NumPy twin that steps ``n`` independent copies at once,
  for training.

Both draw every layout through :func:`sample_layout` from a generator seeded with
``gymnasium.utils.seeding.np_random(seed)``, so that the same seed and the same actions give
identical observations, effort costs, goal events and truncations in both.

The environment pays only the effort cost R_e. Reaching the goal is reported as
``goal_reached``; the caregiver's social reward R_s is computed from it in ``valint.social``.
The grid's cell index, the egocentric view and the batch's auto-reset are those of
``valint.gridworld``, shared with the two-agent world of Fig. 7.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from minigrid.core.actions import Actions
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Goal, Wall
from minigrid.minigrid_env import MiniGridEnv

from valint.gridworld import (
    CENTRE,
    DIR_STEP,
    GRID_SIZE,
    N_CELLS,
    OBS_SHAPE,
    cell_index,
    cell_xy,
    egocentric_view,
    end_episodes,
    window_cells,
)

EFFORT_COST = -0.045
"""R_e of one forward move, also into a wall (= -0.9 / 20); 0 onto the goal (PAPER.md §3)."""

EPISODE_STEPS = 20
"""Steps per episode; episodes are truncated, never terminated (PAPER.md §3)."""

N_ACTIONS = 3
"""Actions: 0 turn left, 1 turn right, 2 forward (PAPER.md §3)."""

MAX_RANDOM_WALLS = 10
"""Largest ``N`` accepted in a ``"random-N"`` layout."""

LAYOUT_NAMES = ("plus", "x", "U", "T", "4 rooms")
"""The five fixed out-of-distribution layouts, the paper's "custom environments" (Fig. 5)."""

_MAP_WALLS: dict[str, tuple[tuple[int, int], ...]] = {
    "plus": ((3, 2), (2, 3), (3, 3), (4, 3), (3, 4)),
    "x": ((2, 2), (2, 4), (3, 3), (4, 2), (4, 4)),
    "U": ((2, 2), (2, 3), (3, 4), (4, 3), (4, 2)),
    "T": ((2, 2), (3, 2), (4, 2), (3, 3), (3, 4)),
    "4 rooms": ((3, 1), (1, 3), (3, 3), (5, 3), (3, 5)),
}

_INTERIOR = tuple((x, y) for y in range(1, GRID_SIZE - 1) for x in range(1, GRID_SIZE - 1))
"""The 25 interior cells (x, y), in the order in which :func:`sample_layout` indexes them."""

_AGENT_OBJECT = OBJECT_TO_IDX["agent"]
_AGENT_COLOUR = COLOR_TO_IDX["red"]
_GOAL_OBJECT = OBJECT_TO_IDX["goal"]


@dataclass(frozen=True)
class Layout:
    """A distribution over layouts of the 7x7 world (PAPER.md §3).

    A random layout (``fixed_walls is None``) places ``n_walls`` wall blocks uniformly on the
    free interior cells; a fixed layout always has the walls ``fixed_walls``. In both the goal
    and the agent are random.
    """

    name: str
    """Name used in tables and plots: one of :data:`LAYOUT_NAMES` or ``"random-N"``."""
    n_walls: int
    """Number of interior wall blocks."""
    fixed_walls: tuple[tuple[int, int], ...] | None = None
    """Wall cells (x, y), each in 1..5, of a fixed layout; ``None`` for random walls."""
    free_cells: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    """Interior cells that ``fixed_walls`` leaves free (all 25 for random walls)."""

    def __post_init__(self) -> None:
        if isinstance(self.n_walls, bool) or not isinstance(self.n_walls, (int, np.integer)):
            raise ValueError(f"n_walls must be an integer, got {self.n_walls!r}")
        object.__setattr__(self, "n_walls", int(self.n_walls))
        if self.fixed_walls is None:
            if not 0 <= self.n_walls <= MAX_RANDOM_WALLS:
                raise ValueError(
                    f"n_walls must be an integer in 0..{MAX_RANDOM_WALLS}, got {self.n_walls!r}"
                )
            object.__setattr__(self, "free_cells", _INTERIOR)
            return
        cells = tuple(tuple(int(v) for v in cell) for cell in self.fixed_walls)
        if len(set(cells)) != len(cells) or not set(cells) <= set(_INTERIOR):
            raise ValueError(
                "fixed_walls must be distinct interior cells (x, y) with x and y in 1..5, "
                f"got {self.fixed_walls!r}"
            )
        if len(cells) > len(_INTERIOR) - 2:
            raise ValueError(
                f"fixed_walls must leave at least 2 free cells, got {len(cells)} walls"
            )
        if self.n_walls != len(cells):
            raise ValueError(
                f"n_walls must equal len(fixed_walls) = {len(cells)}, got {self.n_walls!r}"
            )
        object.__setattr__(self, "fixed_walls", cells)
        object.__setattr__(
            self, "free_cells", tuple(cell for cell in _INTERIOR if cell not in cells)
        )

    @classmethod
    def random(cls, n_walls: int) -> Layout:
        """Layout with ``n_walls`` random walls, named ``"random-<n_walls>"``.

        Training uses 3 random walls (Figs. 1, 3, 4a) or 1 (Figs. 4b, 5, 6); 5 random walls are
        the OOD test of Fig. 4b (PAPER.md §3).

        Raises:
            ValueError: if ``n_walls`` is not an integer in 0..10.
        """
        return cls(name=f"random-{n_walls}", n_walls=n_walls)

    @property
    def is_random(self) -> bool:
        """Whether the walls are drawn anew at every layout draw."""
        return self.fixed_walls is None


OOD_LAYOUTS: dict[str, Layout] = {
    name: Layout(name=name, n_walls=len(walls), fixed_walls=walls)
    for name, walls in _MAP_WALLS.items()
}
"""The five fixed 5-wall layouts of Fig. 5, by name (PAPER.md §3, table of maps)."""

_RANDOM_NAME = re.compile(r"random-(0|[1-9][0-9]*)")


def parse_layout(layout: str | Layout) -> Layout:
    """The :class:`Layout` named by ``layout`` (PAPER.md §3).

    Args:
        layout: a :class:`Layout` (returned as it is), one of ``"plus"``, ``"x"``, ``"U"``,
            ``"T"``, ``"4 rooms"``, or ``"random-N"`` with ``N`` in 0..10.

    Returns:
        The layout.

    Raises:
        ValueError: if ``layout`` names no layout.
    """
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, str):
        if layout in OOD_LAYOUTS:
            return OOD_LAYOUTS[layout]
        match = _RANDOM_NAME.fullmatch(layout)
        if match is not None and int(match.group(1)) <= MAX_RANDOM_WALLS:
            return Layout.random(int(match.group(1)))
    allowed = ", ".join(repr(name) for name in LAYOUT_NAMES)
    raise ValueError(
        f"layout must be one of {allowed} or 'random-N' with N in 0..{MAX_RANDOM_WALLS}, "
        f"got {layout!r}"
    )


class LayoutDraw(NamedTuple):
    """One draw of a layout: the full state of the world apart from the step counter."""

    walls: tuple[tuple[int, int], ...]
    """Interior wall cells (x, y)."""
    goal: tuple[int, int]
    """Goal cell (x, y)."""
    agent_pos: tuple[int, int]
    """Agent cell (x, y)."""
    agent_dir: int
    """Agent direction, MiniGrid's convention: 0 right (+x), 1 down (+y), 2 left, 3 up."""


def sample_layout(rng: np.random.Generator, layout: Layout) -> LayoutDraw:
    """Draw walls, goal, agent position and direction (PAPER.md §3).

    A random layout places its walls one by one, each uniform over the interior cells still
    free; a fixed layout has its own walls. Then the goal is uniform over the free cells, the
    agent uniform over the free cells other than the goal, and its direction uniform over
    0..3. Reachability is not checked (PAPER.md §3).

    This is the only place where the world draws randomness: :class:`SocialGridEnv` and
    :class:`SocialGridBatch` both call it, so that they consume a generator identically. Each
    call takes exactly one ``rng.random(k)`` with ``k = n_walls + 3`` (random layouts) or
    ``k = 3`` (fixed layouts).

    Args:
        rng: the generator to draw from (the env's ``np_random``).
        layout: the layout to draw.

    Returns:
        The draw; ``walls`` in the order they were placed.
    """
    # int(u * m) < m for every u in [0, 1) and every m < 2**52, so each index is uniform on
    # 0..m-1 (up to the 2**-53 resolution of u).
    fixed_walls = layout.fixed_walls
    if fixed_walls is None:
        u = rng.random(layout.n_walls + 3).tolist()
        free = list(_INTERIOR)
        walls = tuple([free.pop(int(u[k] * (len(_INTERIOR) - k))) for k in range(layout.n_walls)])
    else:
        u = rng.random(3).tolist()
        free = list(layout.free_cells)
        walls = fixed_walls
    n_free = len(free)
    goal = free.pop(int(u[-3] * n_free))
    agent_pos = free[int(u[-2] * (n_free - 1))]
    agent_dir = int(u[-1] * 4)
    return LayoutDraw(walls=walls, goal=goal, agent_pos=agent_pos, agent_dir=agent_dir)


def _check_state(
    walls: Sequence[tuple[int, int]],
    goal: tuple[int, int],
    agent_pos: tuple[int, int],
    agent_dir: int,
) -> LayoutDraw:
    """Validate a state given by hand and return it as a :class:`LayoutDraw`."""
    interior = set(_INTERIOR)
    wall_cells = tuple((int(x), int(y)) for x, y in walls)
    if not set(wall_cells) <= interior or len(set(wall_cells)) != len(wall_cells):
        raise ValueError(
            f"walls must be distinct interior cells (x, y) with x and y in 1..5, got {walls!r}"
        )
    goal_cell = (int(goal[0]), int(goal[1]))
    if goal_cell not in interior or goal_cell in wall_cells:
        raise ValueError(
            f"goal must be an interior cell (x, y) in 1..5 that is not a wall, got {goal!r}"
        )
    agent_cell = (int(agent_pos[0]), int(agent_pos[1]))
    if agent_cell not in interior or agent_cell in wall_cells or agent_cell == goal_cell:
        raise ValueError(
            "agent_pos must be an interior cell (x, y) in 1..5 that is neither a wall nor the "
            f"goal, got {agent_pos!r}"
        )
    if agent_dir not in (0, 1, 2, 3):
        raise ValueError(f"agent_dir must be one of 0, 1, 2, 3, got {agent_dir!r}")
    return LayoutDraw(wall_cells, goal_cell, agent_cell, int(agent_dir))


def _build_grid(draw: LayoutDraw) -> Grid:
    """The MiniGrid grid of a draw: border walls, interior walls and the goal."""
    grid = Grid(GRID_SIZE, GRID_SIZE)
    grid.wall_rect(0, 0, GRID_SIZE, GRID_SIZE)
    for x, y in draw.walls:
        grid.set(x, y, Wall())
    goal = Goal()
    grid.set(*draw.goal, goal)
    goal.init_pos = goal.cur_pos = draw.goal
    return grid


def render_layout(draw: LayoutDraw, *, tile_size: int = 32) -> np.ndarray:
    """Picture of one state of the world with MiniGrid's renderer (paper Figs. 1a and 5).

    The goal is green, the agent the red triangle, walls grey.

    Args:
        draw: the state, e.g. from :func:`sample_layout`, :meth:`SocialGridEnv.get_state` or
            :meth:`SocialGridBatch.get_state`.
        tile_size: pixels per grid cell.

    Returns:
        RGB image, uint8, shape (7 * tile_size, 7 * tile_size, 3).

    Raises:
        ValueError: if ``tile_size`` is not a positive integer or the state is not valid.
    """
    is_integer = isinstance(tile_size, (int, np.integer)) and not isinstance(tile_size, bool)
    if not is_integer or tile_size < 1:
        raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
    draw = _check_state(*draw)
    return _build_grid(draw).render(int(tile_size), draw.agent_pos, draw.agent_dir)


class SocialGridEnv(MiniGridEnv):
    """
    ## Description

    The single-agent world of Rong & Kleiman-Weiner (2024), paper Figs. 1, 3, 4, 5 and 6
    (PAPER.md §3). A 7x7 grid with a wall border holds interior wall blocks, one green goal
    square and the agent (red triangle). A layout is either random (`"random-N"`: N blocks,
    each uniform over the free interior cells) or one of five fixed 5-block maps (`"plus"`,
    `"x"`, `"U"`, `"T"`, `"4 rooms"`). The goal is then uniform over the free cells and the
    agent uniform over the remaining free cells, with a uniform direction. Reachability is not
    checked.

    Reaching the goal does not end the episode: the whole layout (walls, goal, agent position
    and direction) is drawn again and the step counter keeps running, so several goals per
    episode are possible.

    ## Mission Space

    "get to the green goal square" (constant; not part of the observation).

    ## Action Space

    | Num | Name    | Action       |
    |-----|---------|--------------|
    | 0   | left    | Turn left    |
    | 1   | right   | Turn right   |
    | 2   | forward | Move forward |

    ## Observation Encoding

    A `uint8` array of shape `(9, 9, 4)`, indexed `[row, column, channel]`: the 9x9 window
    centred on the agent of the fully observed grid, rotated so that the agent faces "up".
    The agent is at `[4, 4]`, the cell in front of it at `[3, 4]`, the cell to its right at
    `[4, 5]`. Channels 0-2 are MiniGrid's (object index, colour index, state) encoding; the
    agent's cell holds `(10, 0, direction)`; cells outside the grid are zeros. Channel 3 is 1
    where the object is the goal, 0 elsewhere. The whole interior is always visible.

    ## Rewards

    The environment's reward is the effort cost R_e: −0.045 (= −0.9 / 20) for a forward
    move, also when a wall blocks it; 0 for turns and for the forward move onto the goal, where
    the caregiver's social reward R_s (+0.4) is paid instead. R_s is not paid here: `info`
    holds `"goal_reached"` (bool) and `"effort_cost"` (R_e), and `valint.social` computes the
    learner's utility U = R_e + P·R_s + (1 − P)·R_i from them.

    ## Termination

    Never terminated. Truncated after exactly 20 steps.

    ## Registered Configurations

    Registered by `valint.social`:

    - `valint/SocialGrid-v0`: three random walls (`layout="random-3"`), the training world
      of Figs. 1, 3 and 4a.
    - `valint/SocialGridLayout-v0`: pass the layout, e.g.
      `gymnasium.make("valint/SocialGridLayout-v0", layout="x")`; `layout` is `"random-N"`
      (N in 0..10) or one of `"plus"`, `"x"`, `"U"`, `"T"`, `"4 rooms"`.
    """

    def __init__(
        self,
        layout: str | Layout = "random-3",
        *,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.layout = parse_layout(layout)
        kwargs.setdefault("highlight", False)
        super().__init__(
            mission_space=MissionSpace(mission_func=self._gen_mission),
            grid_size=GRID_SIZE,
            max_steps=EPISODE_STEPS,
            see_through_walls=True,
            render_mode=render_mode,
            **kwargs,
        )
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = spaces.Box(low=0, high=255, shape=OBS_SHAPE, dtype=np.uint8)
        self.step_count = 0

    @staticmethod
    def _gen_mission() -> str:
        return "get to the green goal square"

    def _gen_grid(self, width: int, height: int) -> None:
        self._apply(sample_layout(self.np_random, self.layout))

    def _apply(self, draw: LayoutDraw) -> None:
        self.grid = _build_grid(draw)
        self.agent_pos = draw.agent_pos
        self.agent_dir = draw.agent_dir

    def get_state(self) -> LayoutDraw:
        """The current state as a :class:`LayoutDraw`, walls sorted by (x, y)."""
        walls = tuple(
            (x, y)
            for x, y in sorted(_INTERIOR)
            if (cell := self.grid.get(x, y)) is not None and cell.type == "wall"
        )
        goal = next(
            (x, y)
            for x, y in _INTERIOR
            if (cell := self.grid.get(x, y)) is not None and cell.type == "goal"
        )
        return LayoutDraw(
            walls, goal, (int(self.agent_pos[0]), int(self.agent_pos[1])), int(self.agent_dir)
        )

    def set_state(
        self,
        walls: Sequence[tuple[int, int]],
        goal: tuple[int, int],
        agent_pos: tuple[int, int],
        agent_dir: int,
    ) -> None:
        """Put the world into a given state; the step counter is left as it is.

        Used to render a state of :class:`SocialGridBatch` and to set up tests.

        Raises:
            ValueError: if a wall, the goal or the agent is off the interior or they overlap,
                or ``agent_dir`` is not in 0..3.
        """
        self._apply(_check_state(walls, goal, agent_pos, agent_dir))

    def _effort_cost(self, action: int, goal_reached: bool) -> float:
        """R_e of one step: −0.045 per forward move, 0 onto the goal (PAPER.md §3)."""
        return EFFORT_COST if action == Actions.forward and not goal_reached else 0.0

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One step: turn or move, pay R_e, re-draw the layout if the goal was reached.

        Returns:
            ``(obs, reward, terminated, truncated, info)`` with ``reward`` = R_e,
            ``terminated`` always False and ``info = {"goal_reached", "effort_cost"}``.

        Raises:
            ValueError: if ``action`` is not 0, 1 or 2.
        """
        if action not in (0, 1, 2):
            raise ValueError(
                f"action must be one of 0 (left), 1 (right), 2 (forward), got {action!r}"
            )
        action = int(action)
        self.step_count += 1
        goal_reached = False
        if action == Actions.left:
            self.agent_dir = (self.agent_dir - 1) % 4
        elif action == Actions.right:
            self.agent_dir = (self.agent_dir + 1) % 4
        else:
            fwd_x, fwd_y = (int(v) for v in self.front_pos)
            fwd_cell = self.grid.get(fwd_x, fwd_y)
            goal_reached = fwd_cell is not None and fwd_cell.type == "goal"
            if fwd_cell is None or fwd_cell.can_overlap():
                self.agent_pos = (fwd_x, fwd_y)
        effort_cost = self._effort_cost(action, goal_reached)
        if goal_reached:
            self._gen_grid(self.width, self.height)
        truncated = self.step_count >= self.max_steps
        if self.render_mode == "human":
            self.render()
        info = {"goal_reached": goal_reached, "effort_cost": effort_cost}
        return self.gen_obs(), effort_cost, False, truncated, info

    def gen_obs(self) -> np.ndarray:
        """The egocentric 9x9x4 observation (PAPER.md §3; see ## Observation Encoding)."""
        x, y = int(self.agent_pos[0]), int(self.agent_pos[1])
        encoded = self.grid.encode()
        encoded[x, y] = (_AGENT_OBJECT, _AGENT_COLOUR, self.agent_dir)
        goal_flag = (encoded[..., :1] == _GOAL_OBJECT).astype(np.uint8)
        return egocentric_view(np.concatenate([encoded, goal_flag], axis=-1), (x, y), self.agent_dir)


# Batched twin. The world of one copy is a flat array of 50 cell codes: the grid's 49 cells by
# their `valint.gridworld` index y * 7 + x, then the one cell that stands for "outside".
_WORLD_CELLS = N_CELLS + 1
_UNSEEN, _EMPTY, _WALL, _GOAL, _AGENT = 0, 1, 2, 3, 4
_CODE_TO_OBS = np.array(
    [
        (OBJECT_TO_IDX["unseen"], 0, 0, 0),
        (OBJECT_TO_IDX["empty"], 0, 0, 0),
        (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0, 0),
        (_GOAL_OBJECT, COLOR_TO_IDX["green"], 0, 1),
    ]
    + [(_AGENT_OBJECT, _AGENT_COLOUR, d, 0) for d in range(4)],
    dtype=np.uint8,
)
"""Observation of each cell code; code ``_AGENT + d`` is the agent facing ``d``."""
_CODE_TO_OBS_WORD = _CODE_TO_OBS.view(np.uint32).ravel()
"""The same table with each 4-byte observation as one word, for a fast gather."""
_TURN = np.array([(d + turn) % 4 for turn in (-1, 1, 0) for d in range(4)], dtype=np.int64)
"""New direction, indexed [4 * action + direction] (actions 0 left, 1 right, 2 forward)."""
_FORWARD = int(Actions.forward)
_EMPTY_WORLD = np.full(_WORLD_CELLS, _UNSEEN, dtype=np.uint8)
_EMPTY_WORLD[:N_CELLS] = [
    _EMPTY if 0 < x < GRID_SIZE - 1 and 0 < y < GRID_SIZE - 1 else _WALL
    for y in range(GRID_SIZE)
    for x in range(GRID_SIZE)
]
_EFFORT = np.float32(EFFORT_COST)
_NO_EFFORT = np.float32(0.0)


class BatchStep(NamedTuple):
    """Result of :meth:`SocialGridBatch.step` for ``n`` copies."""

    obs: np.ndarray
    """(n, 9, 9, 4) uint8: observation after the step, already reset where truncated."""
    effort_cost: np.ndarray
    """(n,) float32: R_e of the step, −0.045 or 0 (PAPER.md §3)."""
    goal_reached: np.ndarray
    """(n,) bool: the agent moved onto the goal (the layout was then re-drawn)."""
    truncated: np.ndarray
    """(n,) bool: the step was the 20th of its episode."""
    final_obs: np.ndarray
    """(n, 9, 9, 4) uint8: last observation of the finished episode where truncated, else a
    copy of obs."""


class SocialGridBatch:
    """``n`` independent copies of :class:`SocialGridEnv`, stepped at once in NumPy.

    Copy ``i`` has its own layout ``layouts[i]`` (a batch may mix a training world and the
    OOD layouts) and its own generator ``gymnasium.utils.seeding.np_random(seeds[i])[0]``, used
    exactly as :class:`SocialGridEnv` uses ``np_random`` after ``reset(seed=seeds[i])`` and a
    plain ``reset()`` at each truncation. Given the same actions, copy ``i`` therefore goes
    through the same observations, effort costs, goal events and truncations as the MiniGrid
    env. Truncated copies are reset automatically (the reset draw follows the step's goal
    re-draw, as in the env).

    Args:
        layouts: one layout per copy (names as in :func:`parse_layout`, or :class:`Layout`).
        seeds: one non-negative integer seed per copy.

    Raises:
        ValueError: if a layout is unknown, a seed is not a non-negative integer, or the
            lengths differ or are 0.
    """

    def __init__(self, layouts: Sequence[str | Layout], seeds: Sequence[int]) -> None:
        if len(layouts) != len(seeds) or len(seeds) == 0:
            raise ValueError(
                "layouts and seeds must be non-empty and of equal length, got "
                f"{len(layouts)} layouts and {len(seeds)} seeds"
            )
        for seed in seeds:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
        self.layouts = tuple(parse_layout(layout) for layout in layouts)
        self.seeds = tuple(int(seed) for seed in seeds)
        self._rngs = [seeding.np_random(seed)[0] for seed in self.seeds]
        self.n = len(self.seeds)
        self._rows = np.arange(self.n)
        self._offset = self._rows * _WORLD_CELLS
        self._world = np.tile(_EMPTY_WORLD, (self.n, 1))
        self._pos = np.full(self.n, cell_index(1, 1), dtype=np.int64)
        self._dir = np.zeros(self.n, dtype=np.int64)
        self._step_count = np.zeros(self.n, dtype=np.int64)
        self._started = False

    def reset(self) -> np.ndarray:
        """Draw a new layout for every copy and zero the step counters.

        The first call corresponds to ``reset(seed=seeds[i])`` of the MiniGrid env, later calls
        to a plain ``reset()`` (the generators continue).

        Returns:
            Observations, (n, 9, 9, 4) uint8.
        """
        self._redraw(self._rows)
        self._step_count[:] = 0
        self._started = True
        return self._observe(self._rows)

    def step(self, actions: np.ndarray) -> BatchStep:
        """Step every copy once (PAPER.md §3): move, re-draw on goal, truncate at 20 steps.

        Args:
            actions: (n,) integers, 0 turn left, 1 turn right, 2 forward.

        Returns:
            The :class:`BatchStep`.

        Raises:
            ValueError: if ``actions`` has the wrong shape or a value outside 0..2.
            RuntimeError: if :meth:`reset` was never called.
        """
        if not self._started:
            raise RuntimeError("SocialGridBatch.reset() must be called before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.n,) or actions.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be an integer array of shape ({self.n},), got dtype "
                f"{actions.dtype} and shape {actions.shape}"
            )
        if actions.min() < 0 or actions.max() >= N_ACTIONS:
            raise ValueError(
                f"actions must be 0 (left), 1 (right) or 2 (forward), got values "
                f"{np.unique(actions).tolist()}"
            )
        forward = actions == _FORWARD
        # The agent never leaves the interior, so the cell in front of it is on the grid.
        front = self._pos + DIR_STEP.take(self._dir)
        front_code = self._world.ravel().take(self._offset + front)
        goal_reached = forward & (front_code == _GOAL)
        self._pos = np.where(forward & (front_code != _WALL), front, self._pos)
        self._dir = _TURN.take(4 * actions + self._dir)
        effort_cost = np.where(forward & ~goal_reached, _EFFORT, _NO_EFFORT)
        if goal_reached.any():
            self._redraw(np.flatnonzero(goal_reached))
        end = end_episodes(self._step_count, EPISODE_STEPS, self._observe, self._redraw)
        return BatchStep(end.obs, effort_cost, goal_reached, end.truncated, end.final_obs)

    def _redraw(self, rows: np.ndarray) -> None:
        """Draw new layouts for ``rows`` via :func:`sample_layout`, one generator each."""
        for i in rows.tolist():
            draw = sample_layout(self._rngs[i], self.layouts[i])
            world = self._world[i]
            world[:] = _EMPTY_WORLD
            if draw.walls:
                world[[cell_index(x, y) for x, y in draw.walls]] = _WALL
            world[cell_index(*draw.goal)] = _GOAL
            self._pos[i] = cell_index(*draw.agent_pos)
            self._dir[i] = draw.agent_dir

    def _observe(self, rows: np.ndarray) -> np.ndarray:
        """Observations of ``rows``, gathered from the copies' cells (PAPER.md §3)."""
        pos, direction = self._pos[rows], self._dir[rows]
        cells = window_cells(pos, direction, self._offset.take(rows))
        codes = self._world.ravel().take(cells)
        codes[:, CENTRE] = _AGENT + direction
        return _CODE_TO_OBS_WORD.take(codes).view(np.uint8).reshape(len(rows), *OBS_SHAPE)

    @property
    def agent_pos(self) -> np.ndarray:
        """(n, 2) int: agent cell (x, y) of every copy."""
        return cell_xy(self._pos)

    @property
    def agent_dir(self) -> np.ndarray:
        """(n,) int: agent direction of every copy (0 right, 1 down, 2 left, 3 up)."""
        return self._dir.copy()

    @property
    def step_count(self) -> np.ndarray:
        """(n,) int: steps taken in the current episode of every copy."""
        return self._step_count.copy()

    @property
    def goal(self) -> np.ndarray:
        """(n, 2) int: goal cell (x, y) of every copy."""
        return cell_xy(np.argmax(self._world == _GOAL, axis=1))

    @property
    def walls(self) -> np.ndarray:
        """(n, 7, 7) bool, indexed [copy, x, y]: wall cells of every copy, border included."""
        grid = self._world[:, :N_CELLS].reshape(self.n, GRID_SIZE, GRID_SIZE)
        return grid.transpose(0, 2, 1) == _WALL

    def get_state(self, i: int) -> LayoutDraw:
        """State of copy ``i`` as a :class:`LayoutDraw` (walls sorted by (x, y)), e.g. for
        :func:`render_layout` or :meth:`SocialGridEnv.set_state`."""
        walls = self.walls[i]
        interior = tuple((x, y) for x, y in sorted(_INTERIOR) if walls[x, y])
        goal = tuple(int(v) for v in self.goal[i])
        pos = tuple(int(v) for v in self.agent_pos[i])
        return LayoutDraw(interior, goal, pos, int(self._dir[i]))

    def set_state(
        self,
        i: int,
        walls: Sequence[tuple[int, int]],
        goal: tuple[int, int],
        agent_pos: tuple[int, int],
        agent_dir: int,
    ) -> None:
        """Put copy ``i`` into a given state; its step counter is left as it is.

        Raises:
            ValueError: if ``i`` is not a copy index, or the state is not valid (see
                :meth:`SocialGridEnv.set_state`).
        """
        if not 0 <= i < self.n:
            raise ValueError(f"i must be a copy index in 0..{self.n - 1}, got {i!r}")
        draw = _check_state(walls, goal, agent_pos, agent_dir)
        self._world[i] = _EMPTY_WORLD
        self._world[i, [cell_index(x, y) for x, y in draw.walls]] = _WALL
        self._world[i, cell_index(*draw.goal)] = _GOAL
        self._pos[i] = cell_index(*draw.agent_pos)
        self._dir[i] = draw.agent_dir
        self._started = True

    def observe(self) -> np.ndarray:
        """Current observations, (n, 9, 9, 4) uint8."""
        return self._observe(self._rows)
