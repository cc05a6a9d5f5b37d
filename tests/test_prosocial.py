"""Tests of the two-agent prosocial world of Fig. 7 (PAPER.md §7): layouts, the scripted
partner, `ProsocialEnv` (MiniGrid) and its batched twin `ProsocialBatch`."""
from __future__ import annotations

from collections import deque
import math

import numpy as np
import pytest
from scipy import stats as sps
import torch
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env

from valint.experiments import world_obs_scale
from valint.figures import validate
from valint.isr import init_isr, isr_forward, isr_input, predict
from valint.ppo import BatchedPPO, policy_forward
from valint.config import PPOConfig
from valint.prosocial import (
    EFFORT_COST,
    MAX_STEPS,
    N_ACTIONS,
    N_INTERIOR_WALLS,
    OBS_SHAPE,
    ProsocialActions,
    ProsocialBatch,
    ProsocialEnv,
    authors_layouts,
    parse_variant,
    partner_route,
    prosocial_mazes,
    random_learner_episodes,
    random_learner_partner_goals,
    render_prosocial,
    sample_prosocial_layout,
    variant_name,
)

INTERIOR = [(x, y) for y in range(1, 6) for x in range(1, 6)]
DIRS = [(1, 0), (0, 1), (-1, 0), (0, -1)]


# --- a slow, independent reference of the layout rules (PAPER.md §7) -----------------------


def _neighbours(cell, free):
    return [(cell[0] + dx, cell[1] + dy) for dx, dy in DIRS if (cell[0] + dx, cell[1] + dy) in free]


def _component(start, cells):
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in _neighbours(queue.popleft(), cells):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return frozenset(seen)


def _is_wall(walls, cell):
    """A cell of the 7x7 grid is a wall: one of ``walls`` or on the outer ring."""
    return cell in walls or not (1 <= cell[0] <= 5 and 1 <= cell[1] <= 5)


def _forbidden_block(walls, x, y):
    """The 2x2 window of the 7x7 grid with top-left (x, y) is all wall, all free or a
    checkerboard."""
    block = [_is_wall(walls, c) for c in ((x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1))]
    checkerboard = block in ([True, False, False, True], [False, True, True, False])
    return all(block) or not any(block) or checkerboard


def _blocks_ok(walls, *, ring=True):
    """The 2x2 rule on every window of the grid (PAPER.md §7), or, with ``ring=False``, on the
    windows of the interior only (the rule this project applied before)."""
    corners = range(0, 6) if ring else range(1, 5)
    return not any(_forbidden_block(walls, x, y) for x in corners for y in corners)


def _is_corridor_maze(walls, *, ring=True):
    free = set(INTERIOR) - set(walls)
    return (
        len(set(walls)) == N_INTERIOR_WALLS
        and _blocks_ok(set(walls), ring=ring)
        and _component(min(free, key=lambda c: (c[1], c[0])), free) == free
    )


def _has_loop(walls):
    """The free interior cells hold a cycle (a connected graph is a tree iff edges = cells - 1)."""
    free = set(INTERIOR) - set(walls)
    edges = sum(len(_neighbours(c, free)) for c in free) // 2
    return edges != len(free) - 1


def _tree_degrees(free):
    """BFS tree from the first free cell in row-major order; parent = the closer neighbour
    with the smallest row-major index."""
    key = lambda c: (c[1], c[0])  # noqa: E731
    root = min(free, key=key)
    depth, queue = {root: 0}, deque([root])
    while queue:
        cell = queue.popleft()
        for nxt in _neighbours(cell, free):
            if nxt not in depth:
                depth[nxt] = depth[cell] + 1
                queue.append(nxt)
    degree = dict.fromkeys(free, 0)
    for cell in free:
        if cell != root:
            closer = [n for n in _neighbours(cell, free) if depth[n] == depth[cell] - 1]
            parent = min(closer, key=key)
            degree[cell] += 1
            degree[parent] += 1
    return degree


def _dead_ends(free):
    return {c for c in free if len(_neighbours(c, free)) == 1}


def _structures(walls):
    """Set of (ball, partner-side dead ends, goal-side dead ends) of a corridor maze."""
    free = set(INTERIOR) - set(walls)
    degree = _tree_degrees(free)
    dead = _dead_ends(free)
    out = set()
    for ball in (c for c in free if degree[c] == max(degree.values())):
        rest = free - {ball}
        sides = {_component(n, rest) for n in _neighbours(ball, free)}
        for partner_side in sides:
            for goal_side in sides - {partner_side}:
                if len(partner_side & dead) >= 1 and len(goal_side & dead) >= 2:
                    out.add((ball, frozenset(partner_side & dead), frozenset(goal_side & dead)))
    return out


def _all_corridor_mazes(*, ring=True):
    """Every wall set passing the 2x2 rule and connectivity, by a cell-by-cell search."""
    found = []

    def extend(index, walls):
        if len(walls) > N_INTERIOR_WALLS or len(walls) + 25 - index < N_INTERIOR_WALLS:
            return
        if index == 25:
            if _is_corridor_maze(walls, ring=ring):
                found.append(frozenset(walls))
            return
        x, y = INTERIOR[index]
        for is_wall in (False, True):
            new = walls | {(x, y)} if is_wall else walls
            if x > 1 and y > 1 and _forbidden_block(new, x - 1, y - 1):
                continue
            extend(index + 1, new)

    extend(0, frozenset())
    return found


def _cells(mask):
    return frozenset(c for b, c in enumerate(INTERIOR) if mask >> b & 1)


# --- layouts ---------------------------------------------------------------------------------


def test_prosocial_mazes_match_a_slow_reference_enumeration():
    mazes = prosocial_mazes()
    table = {}
    for m in range(mazes.n_mazes):
        rows = range(mazes.structure_start[m], mazes.structure_start[m + 1])
        table[_cells(int(mazes.wall_masks[m]))] = {
            (
                INTERIOR[mazes.ball[s]],
                _cells(int(mazes.partner_dead_ends[s])),
                _cells(int(mazes.goal_dead_ends[s])),
            )
            for s in rows
        }
    reference = {}
    for walls in _all_corridor_mazes():
        structures = _structures(walls)
        if structures:
            reference[walls] = structures
    assert table == reference
    assert mazes.n_mazes == 854
    assert mazes.n_structures == 5276


def test_the_ring_rule_keeps_exactly_the_loop_free_mazes_of_the_interior_rule():
    """PAPER.md §7: the interior-window rule admits 2,919 mazes; the rule on every window of
    the grid keeps 854 of them, exactly the loop-free ones; every other one is refused (never
    in the table, so never drawn)."""
    interior_rule = {w for w in _all_corridor_mazes(ring=False) if _structures(w)}
    assert len(interior_rule) == 2919
    drawn = {_cells(int(m)) for m in prosocial_mazes().wall_masks}
    assert drawn == {w for w in interior_rule if _blocks_ok(w)}
    assert drawn == {w for w in interior_rule if not _has_loop(w)}
    refused = interior_rule - drawn
    assert len(refused) == 2919 - 854 and not any(_blocks_ok(w) for w in refused)


def test_twenty_thousand_authors_draws_keep_the_rule():
    """No loop, no wall in a corner cell, no two neighbouring walls along the border, the
    learner on a leaf of the goal's part (the goal's side of the ball: the component of the
    first free cell, or the union of the others; PAPER.md §7), over 20,000 draws."""
    rng = np.random.default_rng(30)
    corners = {(1, 1), (5, 1), (1, 5), (5, 5)}
    along_border = [((k, e), (k + 1, e)) for k in range(1, 5) for e in (1, 5)]
    along_border += [((e, k), (e, k + 1)) for k in range(1, 5) for e in (1, 5)]
    seen = set()
    for _ in range(20_000):
        draw = sample_prosocial_layout(rng)
        walls = frozenset(draw.walls)
        if walls not in seen:
            seen.add(walls)
            assert not _has_loop(walls) and not corners & walls, walls
            assert not any(a in walls and b in walls for a, b in along_border), walls
        free = set(INTERIOR) - walls
        first, others = _authors_parts(free, draw.ball)
        goal_part = first if draw.goal in first else others
        assert draw.learner_pos in goal_part and draw.partner_pos not in goal_part
        assert draw.learner_pos != draw.goal and len(_neighbours(draw.learner_pos, free)) == 1
    assert len(seen) > 700


def test_goal_branch_layout_invariants_hold_on_many_draws():
    rng = np.random.default_rng(0)
    for _ in range(1500):
        draw = sample_prosocial_layout(rng, layout_rule="goal-branch")
        walls = set(draw.walls)
        free = set(INTERIOR) - walls
        assert len(draw.walls) == N_INTERIOR_WALLS == len(walls)
        assert _is_corridor_maze(walls)
        degree = _tree_degrees(free)
        assert degree[draw.ball] == max(degree.values())
        dead = _dead_ends(free)
        assert {draw.partner_pos, draw.goal, draw.learner_pos} <= dead
        partner_side = _component(draw.partner_pos, free - {draw.ball})
        goal_side = _component(draw.goal, free - {draw.ball})
        assert draw.goal not in partner_side
        assert draw.learner_pos in goal_side and draw.learner_pos != draw.goal
        assert draw.partner_dir in range(4) and draw.learner_dir in range(4)


def _authors_parts(free, ball):
    """The component of the first free cell (row-major) without the ball, and the rest."""
    rest = free - {ball}
    first = _component(min(rest, key=lambda c: (c[1], c[0])), rest)
    return first, rest - first


def test_authors_layout_invariants_hold_on_many_draws():
    rng = np.random.default_rng(0)
    maze_walls = {_cells(int(m)) for m in prosocial_mazes().wall_masks}
    for _ in range(1500):
        draw = sample_prosocial_layout(rng)
        walls = frozenset(draw.walls)
        free = set(INTERIOR) - walls
        assert walls in maze_walls
        degree = _tree_degrees(free)
        assert degree[draw.ball] == max(degree.values())
        leaves = {c for c in free if degree[c] == 1}
        assert {draw.partner_pos, draw.goal, draw.learner_pos} <= leaves
        assert len({draw.partner_pos, draw.goal, draw.learner_pos}) == 3
        first, others = _authors_parts(free, draw.ball)
        partner_part, goal_part = (first, others) if draw.partner_pos in first else (others, first)
        assert draw.goal in goal_part and draw.learner_pos in goal_part
        assert draw.partner_dir in range(4) and draw.learner_dir in range(4)


def test_authors_layouts_match_a_slow_reference():
    mazes, table = prosocial_mazes(), authors_layouts()
    row_major = lambda c: (c[1], c[0])  # noqa: E731
    for m in range(0, mazes.n_mazes, 7):
        free = set(INTERIOR) - _cells(int(mazes.wall_masks[m]))
        degree = _tree_degrees(free)
        junctions = sorted((c for c in free if degree[c] == max(degree.values())), key=row_major)
        rows = range(table.junction_start[m], table.junction_start[m + 1])
        assert [INTERIOR[table.ball[j]] for j in rows] == junctions
        for j, ball in zip(rows, junctions):
            first, others = _authors_parts(free, ball)
            assert _cells(int(table.first_part[j])) == first
            assert _cells(int(table.other_part[j])) == others
        assert _cells(int(table.leaves[m])) == {c for c in free if degree[c] == 1}


def test_sample_prosocial_layout_makes_the_documented_rng_calls():
    mazes, table = prosocial_mazes(), authors_layouts()
    row_major = lambda c: (c[1], c[0])  # noqa: E731
    for seed in range(40):
        draw = sample_prosocial_layout(np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        while True:
            m = int(rng.integers(mazes.n_mazes))
            start, stop = table.junction_start[m], table.junction_start[m + 1]
            j = int(start + rng.integers(stop - start))
            parts = [_cells(int(table.first_part[j])), _cells(int(table.other_part[j]))]
            if rng.integers(2) == 1:
                parts.reverse()
            leaves = _cells(int(table.leaves[m]))
            partner_cells = sorted(parts[0] & leaves, key=row_major)
            goal_cells = sorted(parts[1] & leaves, key=row_major)
            if partner_cells and len(goal_cells) >= 2:
                break
        partner = partner_cells[rng.integers(len(partner_cells))]
        goal = goal_cells.pop(rng.integers(len(goal_cells)))
        learner = goal_cells[rng.integers(len(goal_cells))]
        assert (partner, goal, learner) == (draw.partner_pos, draw.goal, draw.learner_pos)
        assert (int(rng.integers(4)), int(rng.integers(4))) == (draw.partner_dir, draw.learner_dir)
        assert set(draw.walls) == _cells(int(mazes.wall_masks[m]))
    for seed in range(20):
        draw = sample_prosocial_layout(np.random.default_rng(seed), layout_rule="goal-branch")
        rng = np.random.default_rng(seed)
        m = int(rng.integers(mazes.n_mazes))
        start, stop = mazes.structure_start[m], mazes.structure_start[m + 1]
        s = int(start + rng.integers(stop - start))
        partner_cells = sorted(_cells(int(mazes.partner_dead_ends[s])), key=row_major)
        goal_cells = sorted(_cells(int(mazes.goal_dead_ends[s])), key=row_major)
        partner = partner_cells[rng.integers(len(partner_cells))]
        goal = goal_cells.pop(rng.integers(len(goal_cells)))
        learner = goal_cells[rng.integers(len(goal_cells))]
        assert (partner, goal, learner) == (draw.partner_pos, draw.goal, draw.learner_pos)
        assert (int(rng.integers(4)), int(rng.integers(4))) == (draw.partner_dir, draw.learner_dir)
        assert set(draw.walls) == _cells(int(mazes.wall_masks[m]))


def _within(measured, expected, n):
    """|measured - expected| within four binomial standard errors of n draws."""
    return abs(measured - expected) <= 4 * np.sqrt(expected * (1 - expected) / n)


@pytest.mark.parametrize("layout_rule", ["authors", "goal-branch"])
def test_only_the_goal_branch_rule_keeps_the_learner_off_the_other_branches(layout_rule):
    """PAPER.md §7: under the authors' rule the learner starts on a leaf of the goal's side of
    the ball, on any of its branches and sometimes next to the ball; the ``goal-branch`` rule
    always puts it on the goal's own branch, never next to the ball."""
    n = 2000
    rng = np.random.default_rng(12)
    same = next_to_ball = 0
    for _ in range(n):
        draw = sample_prosocial_layout(rng, layout_rule=layout_rule)
        rest = set(INTERIOR) - set(draw.walls) - {draw.ball}
        same += draw.learner_pos in _component(draw.goal, rest)
        distance = abs(draw.learner_pos[0] - draw.ball[0]) + abs(draw.learner_pos[1] - draw.ball[1])
        next_to_ball += distance == 1
    if layout_rule == "authors":
        assert 0.2 * n < same < 0.8 * n and next_to_ball > 0.05 * n, (same, next_to_ball)
    else:
        assert same == n and next_to_ball == 0


def test_a_random_learner_helps_as_often_as_in_the_authors_world():
    """PAPER.md §7: a uniformly random learner in the authors' world yields about 0.34 partner
    goals per episode (0.337-0.347 over 16,000 episodes of an independent re-implementation).
    The 95 % interval over 10,000 episodes must overlap 0.32-0.36; the earlier interior-only
    maze rule gave 0.27. The goal-branch rule helps far less often."""
    episodes = random_learner_episodes("authors", n_copies=100, episodes=100)
    assert episodes.size == 10_000
    mean = episodes.mean()
    half = 1.96 * episodes.std(ddof=1) / np.sqrt(episodes.size)
    assert mean - half < 0.36 and mean + half > 0.32, (mean, half)
    goal_branch = random_learner_partner_goals("goal-branch", n_copies=100, episodes=20)
    assert 0.03 < goal_branch < 0.5 * mean, goal_branch


def test_partner_route_runs_a_shortest_path_through_the_ball():
    rng = np.random.default_rng(1)
    for _ in range(300):
        draw = sample_prosocial_layout(rng)
        route = partner_route(draw.walls, draw.goal)
        free = set(INTERIOR) - set(draw.walls)
        cell, path = draw.partner_pos, [draw.partner_pos]
        while cell != draw.goal:
            dx, dy = DIRS[route[cell]]
            cell = (cell[0] + dx, cell[1] + dy)
            assert cell in free
            path.append(cell)
        depth, queue = {draw.partner_pos: 0}, deque([draw.partner_pos])
        while queue:
            c = queue.popleft()
            for n in _neighbours(c, free):
                if n not in depth:
                    depth[n] = depth[c] + 1
                    queue.append(n)
        assert len(path) - 1 == depth[draw.goal]
        assert draw.ball in path


# --- the MiniGrid environment ----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*not having a spec")
def test_prosocial_env_passes_check_env():
    check_env(ProsocialEnv(), skip_render_check=True)
    check_env(ProsocialEnv(render_mode="rgb_array"))


def test_prosocial_env_observation_has_the_paper_landmarks():
    env = ProsocialEnv()
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        assert obs.shape == (9, 9, 4) and obs.dtype == np.uint8
        assert tuple(obs[4, 4, :3]) == (10, 0, env.agent_dir)
        front = env.grid.get(*env.front_pos)
        right = env.grid.get(*(np.array(env.agent_pos) + env.right_vec))
        assert tuple(obs[3, 4, :3]) == (front.encode() if front else (1, 0, 0))
        assert tuple(obs[4, 5, :3]) == (right.encode() if right else (1, 0, 0))
        row, col = info["partner_view_pos"]
        assert tuple(obs[row, col, :3]) == (10, 2, env.partner.dir)
        assert np.sum(obs[:, :, 3]) == 1
        assert np.sum((obs[:, :, 0] == 6) & (obs[:, :, 1] == 4)) == 1
        assert np.sum(obs[:, :, 0] == 2) >= N_INTERIOR_WALLS


def test_prosocial_env_forward_costs_effort_also_when_blocked():
    env = ProsocialEnv()
    env.reset(seed=3)
    while env.grid.get(*env.front_pos) is None or env.grid.get(*env.front_pos).type != "wall":
        _, reward, _, _, info = env.step(ProsocialActions.left)
        assert reward == 0.0 == info["effort_cost"]
    pos = env.agent_pos
    _, reward, terminated, _, info = env.step(ProsocialActions.forward)
    assert reward == EFFORT_COST == info["effort_cost"] == -0.009
    assert env.agent_pos == pos and not terminated
    for action in (ProsocialActions.still, ProsocialActions.right, ProsocialActions.pickup):
        assert env.step(action)[1] == 0.0


def test_prosocial_env_episodes_last_exactly_100_steps():
    env = ProsocialEnv()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(1, MAX_STEPS + 1):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(5)))
        assert not terminated
        assert truncated == (t == MAX_STEPS)


def test_partner_never_reaches_its_goal_while_the_ball_stays():
    env = ProsocialEnv()
    for seed in range(20):
        env.reset(seed=seed)
        ball = env.layout.ball
        for _ in range(MAX_STEPS):
            _, _, _, _, info = env.step(ProsocialActions.still)
            assert not info["goal_reached"]
            assert env.partner_pos != ball
            assert info["partner_action"] in (1, 2, 3)
    batch = ProsocialBatch(range(40))
    batch.reset()
    for _ in range(3 * MAX_STEPS):
        step = batch.step(np.zeros(40, dtype=int))
        assert not step.goal_reached.any()


def _plan(env, targets):
    """Learner's next action along a shortest path to any of `targets` (walls, ball and
    partner are obstacles); None when it stands on one."""
    start = tuple(env.agent_pos)
    if start in targets:
        return None
    previous, queue = {start: None}, deque([start])
    while queue:
        cell = queue.popleft()
        if cell in targets:
            break
        for dx, dy in DIRS:
            nxt = (cell[0] + dx, cell[1] + dy)
            obj = env.grid.get(*nxt)
            if nxt not in previous and obj is None:
                previous[nxt] = cell
                queue.append(nxt)
    if cell not in targets:
        return None
    while previous[cell] != start:
        cell = previous[cell]
    return _turn_or_forward(env, DIRS.index((cell[0] - start[0], cell[1] - start[1])))


def _turn_or_forward(env, direction):
    turn = (direction - env.agent_dir) % 4
    return {0: ProsocialActions.forward, 1: ProsocialActions.right, 3: ProsocialActions.left}.get(
        turn, ProsocialActions.right
    )


def _helper_action(env):
    """Walk next to the ball, face it and pick it up; then step off the partner's path to
    the goal (to the nearest free cell off it) and stay there; stand still while the way is
    blocked."""
    ball = env.layout.ball
    if not env.ball_present:
        return _plan(env, _off_partner_path(env)) or ProsocialActions.still
    adjacent = {(ball[0] + dx, ball[1] + dy) for dx, dy in DIRS}
    action = _plan(env, adjacent)
    if action is not None:
        return action
    if tuple(env.agent_pos) not in adjacent:
        return ProsocialActions.still
    facing = DIRS.index((ball[0] - env.agent_pos[0], ball[1] - env.agent_pos[1]))
    if facing == env.agent_dir:
        return ProsocialActions.pickup
    return _turn_or_forward(env, facing)


def _off_partner_path(env):
    """Free cells that are not on the partner's remaining path to its goal."""
    route = partner_route(env.layout.walls, env.goal_pos)
    cell, path = env.partner_pos, {env.partner_pos}
    while cell != env.goal_pos:
        dx, dy = DIRS[route[cell]]
        cell = (cell[0] + dx, cell[1] + dy)
        path.add(cell)
    free = set(INTERIOR) - set(env.layout.walls)
    return free - path


def test_picking_up_the_ball_lets_the_partner_reach_its_goal():
    env = ProsocialEnv()
    for seed in range(30):
        env.reset(seed=seed)
        layout = env.layout
        picked_at = None
        for t in range(1, MAX_STEPS + 1):
            _, _, _, _, info = env.step(_helper_action(env))
            if picked_at is None and not env.ball_present:
                picked_at = t
            if info["goal_reached"]:
                break
        assert picked_at is not None
        assert info["goal_reached"], f"seed {seed}: partner did not arrive"
        # one goal event, then a fresh layout with the ball back in place
        assert env.layout != layout
        assert env.grid.get(*env.layout.ball).type == "ball"
        assert env.step_count == t
        assert t - picked_at <= 60


def test_learner_cannot_walk_into_the_ball_and_pickup_removes_it():
    env = ProsocialEnv()
    env.reset(seed=5)
    while (action := _helper_action(env)) != ProsocialActions.pickup:
        env.step(action)
    pos = env.agent_pos
    _, reward, _, _, _ = env.step(ProsocialActions.forward)
    assert env.agent_pos == pos and reward == EFFORT_COST
    assert env.grid.get(*env.layout.ball).type == "ball"
    obs, _, _, _, _ = env.step(ProsocialActions.pickup)
    assert not env.ball_present and env.carrying is not None and env.carrying.type == "ball"
    assert not np.any((obs[:, :, 0] == 6))


# --- the batched twin ------------------------------------------------------------------------


def test_prosocial_batch_matches_prosocial_env_step_by_step():
    seeds = [0, 1, 2, 7, 11, 123, 2024, 99999]
    n_steps = 2500
    envs = [ProsocialEnv() for _ in seeds]
    batch = ProsocialBatch(seeds)
    obs = batch.reset()
    for i, (env, seed) in enumerate(zip(envs, seeds)):
        env_obs, info = env.reset(seed=seed)
        np.testing.assert_array_equal(obs[i], env_obs)
        assert tuple(batch.partner_view_pos[i]) == info["partner_view_pos"]
    rng = np.random.default_rng(0)
    n_goals = n_truncations = 0
    for _ in range(n_steps):
        actions = np.array(
            [_helper_action(env) if rng.random() < 0.7 else rng.integers(5) for env in envs]
        )
        step = batch.step(actions)
        assert step.effort_cost.dtype == np.float32
        for i, env in enumerate(envs):
            env_obs, reward, terminated, truncated, info = env.step(int(actions[i]))
            np.testing.assert_array_equal(step.final_obs[i], env_obs)
            assert np.float32(reward) == step.effort_cost[i]
            assert np.float32(info["effort_cost"]) == step.effort_cost[i]
            assert not terminated
            assert info["goal_reached"] == step.goal_reached[i]
            assert truncated == step.truncated[i]
            assert info["partner_action"] == step.partner_action[i]
            if truncated:
                env_obs, info = env.reset()
            np.testing.assert_array_equal(step.obs[i], env_obs)
            assert tuple(step.partner_view_pos[i]) == info["partner_view_pos"]
        n_goals += int(step.goal_reached.sum())
        n_truncations += int(step.truncated.sum())
    assert n_truncations == len(seeds) * n_steps // MAX_STEPS
    assert n_goals > 300, n_goals


def test_prosocial_batch_reset_is_deterministic_and_partner_view_pos_points_at_the_partner():
    batch = ProsocialBatch([4, 5, 6])
    first = batch.reset()
    np.testing.assert_array_equal(batch.reset(), first)
    rng = np.random.default_rng(2)
    for _ in range(250):
        step = batch.step(rng.integers(5, size=3))
        rows, cols = step.partner_view_pos.T
        np.testing.assert_array_equal(step.obs[np.arange(3), rows, cols, :2], [[10, 2]] * 3)
        assert set(step.partner_action) <= {1, 2, 3}


# --- rendering and input checks --------------------------------------------------------------


def test_render_shows_learner_partner_ball_and_goal():
    draw = sample_prosocial_layout(np.random.default_rng(0))
    img = render_prosocial(draw, tile_size=16)
    assert img.shape == (7 * 16, 7 * 16, 3) and img.dtype == np.uint8
    for colour in ([255, 0, 0], [0, 0, 255], [255, 255, 0], [0, 255, 0]):
        assert np.all(img == colour, axis=-1).any()
    env = ProsocialEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (7 * 32, 7 * 32, 3)
    assert np.all(frame == [0, 0, 255], axis=-1).any()


def test_bad_input_raises_value_error_naming_the_parameter():
    with pytest.raises(ValueError, match="render_mode"):
        ProsocialEnv(render_mode="ascii")
    env = ProsocialEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(5)
    with pytest.raises(ValueError, match="seeds"):
        ProsocialBatch([])
    batch = ProsocialBatch([0, 1])
    batch.reset()
    with pytest.raises(ValueError, match="actions"):
        batch.step(np.array([0, 7]))
    with pytest.raises(ValueError, match="actions"):
        batch.step(np.array([0]))
    with pytest.raises(ValueError, match="tile_size"):
        render_prosocial(sample_prosocial_layout(np.random.default_rng(0)), tile_size=0)
    with pytest.raises(ValueError, match="rng"):
        sample_prosocial_layout(0)


# --- fidelity points of issue 12 ---------------------------------------------------------------


def test_nobody_steps_onto_the_goal_cell():
    env = ProsocialEnv()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n_facing_goal = 0
    for _ in range(20_000):
        n_facing_goal += tuple(int(v) for v in env.front_pos) == env.goal_pos
        env.step(int(rng.choice([1, 2, 3, 3, 3])))
        assert tuple(env.agent_pos) != env.goal_pos
        assert env.partner_pos != env.goal_pos
    assert n_facing_goal > 100, n_facing_goal


def test_the_learner_carries_the_ball_until_the_layout_is_drawn_again():
    env = ProsocialEnv()
    batch = ProsocialBatch([5])
    env.reset(seed=5)
    batch.reset()
    while (action := _helper_action(env)) != ProsocialActions.pickup:
        env.step(action)
        batch.step(np.array([action]))
    assert env.carrying is None and not batch.carrying[0]
    env.step(ProsocialActions.pickup)
    batch.step(np.array([ProsocialActions.pickup]))
    assert env.carrying.type == "ball" and batch.carrying[0]
    carried = 0
    while True:
        action = _helper_action(env)
        _, _, _, truncated, info = env.step(action)
        step = batch.step(np.array([action]))
        assert not truncated, "choose a seed whose partner arrives within the episode"
        if info["goal_reached"]:
            break
        carried += 1
        assert env.carrying.type == "ball" and batch.carrying[0] and not env.ball_present
    assert step.goal_reached[0] and carried > 0
    assert env.carrying is None and not batch.carrying[0] and env.ball_present


def test_agent_order_is_drawn_each_step_from_the_worlds_generator():
    seed = 3
    env = ProsocialEnv()
    env.reset(seed=seed)
    rng = seeding.np_random(seed)[0]
    sample_prosocial_layout(rng)
    order = []
    for _ in range(MAX_STEPS - 1):
        env.step(ProsocialActions.still)
        assert env.learner_first == (rng.random() < 0.5)
        order.append(env.learner_first)
    assert 20 < sum(order) < 80
    # the batch draws the same order, and reruns are bit-identical
    runs = []
    for _ in range(2):
        batch = ProsocialBatch([seed, seed + 1])
        batch.reset()
        actions = np.random.default_rng(1)
        steps = [batch.step(actions.integers(N_ACTIONS, size=2)) for _ in range(300)]
        runs.append((np.stack([s.learner_first for s in steps]), np.stack([s.obs for s in steps])))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0][:, 0], runs[0][0][:, 1])
    still = ProsocialBatch([seed])
    still.reset()
    batch_order = [bool(still.step(np.zeros(1, dtype=int)).learner_first[0]) for _ in order]
    assert batch_order == order


def test_the_agent_order_changes_what_happens():
    """The learner stands on the partner's next cell and walks on: the partner follows into
    that cell in the same step only when the learner acted first."""
    outcomes = {True: set(), False: set()}
    for seed in range(300):
        env = ProsocialEnv()
        env.reset(seed=seed)
        route = partner_route(env.layout.walls, env.goal_pos)
        if route[env.partner_pos] != env.partner.dir:
            continue
        first = (env.partner_pos[0] + DIRS[env.partner.dir][0], env.partner_pos[1] + DIRS[env.partner.dir][1])
        if first in (env.goal_pos, env.layout.ball) or route[first] < 0:
            continue
        second = (first[0] + DIRS[route[first]][0], first[1] + DIRS[route[first]][1])
        if second in (env.goal_pos, env.layout.ball):
            continue
        env.agent_pos, env.agent_dir = first, int(route[first])
        env.step(ProsocialActions.forward)
        assert tuple(env.agent_pos) == second
        outcomes[env.learner_first].add(env.partner_pos == first)
    assert outcomes == {True: {True}, False: {False}}, outcomes


# --- observation scale, a property of the world (issue 12) ---------------------------------------


def test_observation_scale_is_a_property_of_the_world():
    assert ProsocialBatch([0]).obs_scale == 1.0 == ProsocialEnv().obs_scale
    assert ProsocialBatch([0], obs_scale="1/255").obs_scale == 1 / 255
    assert world_obs_scale("prosocial", variant_name()) == 1.0
    assert world_obs_scale("prosocial", variant_name(), network="isr") == 1.0
    assert world_obs_scale("prosocial", variant_name("authors", "1/255"), network="isr") == 1 / 255
    assert world_obs_scale("grid", "random-3") == 1 / 255
    assert world_obs_scale("grid", "random-3", network="isr") == 1.0
    assert parse_variant(variant_name("goal-branch", "1/255")) == ("goal-branch", "1/255")


def test_policy_and_isr_read_the_raw_codes_in_the_two_agent_world():
    batch = ProsocialBatch([0, 1])
    obs = batch.reset()
    x = torch.from_numpy(obs[:, None])
    for scale in (1.0, 1 / 255):
        agent = BatchedPPO([0, 1], OBS_SHAPE, N_ACTIONS, PPOConfig(), obs_scale=scale, device="cpu")
        kernel_logits, _ = agent._forward_obs(obs[:, None], "act")
        expected, _ = policy_forward(agent.params, x, obs_scale=scale)
        torch.testing.assert_close(kernel_logits, expected)
        plain, _ = policy_forward(agent.params, x.float() * scale, obs_scale=1.0)
        torch.testing.assert_close(expected, plain)
    raw, _ = policy_forward(agent.params, x, obs_scale=1.0)
    assert not torch.allclose(raw, expected)
    params = init_isr([0, 1], OBS_SHAPE[-1] + 2)
    actions = np.array([3, 4])
    partner = np.array([1, 3])
    cells = batch.partner_view_pos
    for scale in (1.0, 1 / 255):
        got = predict(params, obs, actions, partner, cells, obs_scale=scale)
        inputs = isr_input(torch.from_numpy(obs), torch.from_numpy(actions), torch.from_numpy(partner),
                           torch.from_numpy(cells))
        inputs[..., : OBS_SHAPE[-1]] *= scale
        expected = isr_forward(params, inputs[:, None])[:, 0]
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_layout_rule_and_obs_scale_are_validated():
    with pytest.raises(ValueError, match="layout_rule"):
        ProsocialBatch([0], layout_rule="maze")
    with pytest.raises(ValueError, match="obs_scale"):
        ProsocialEnv(obs_scale="1/256")
    with pytest.raises(ValueError, match="layout_rule"):
        sample_prosocial_layout(np.random.default_rng(0), layout_rule="random")
    with pytest.raises(ValueError, match="layout_rule.*'authors', 'goal-branch'"):
        validate("fig7", "smoke", None, 0, {"layout_rule": "x"})
    with pytest.raises(ValueError, match="obs_scale"):
        validate("fig7", "smoke", None, 0, {"obs_scale": "none"})
    with pytest.raises(ValueError, match="layout"):
        parse_variant("prosocial")


# --- the Fig. 7 chapter's helpers ----------------------------------------------------------------


def test_phase1_learning_by_seed_tests_each_seed_alone():
    import pandas as pd

    from valint.stats import phase1_learning_by_seed

    rng = np.random.default_rng(0)
    episodes = np.arange(1, 201)
    rising = np.where(episodes > 100, 1.0, 0.2) + rng.normal(0, 0.3, 200)
    flat = 0.3 + rng.normal(0, 0.3, 200)
    rows = [
        pd.DataFrame({"seed": s, "condition": "oracle", "phase": 1, "episode": episodes,
                      "partner_goals_per_episode": v})
        for s, v in ((0, rising), (1, flat))
    ]
    phase2 = rows[0].assign(phase=2, condition="none", partner_goals_per_episode=-5.0)
    table = phase1_learning_by_seed(pd.concat(rows + [phase2]))
    assert list(table["seed"]) == [0, 1]
    assert list(table["window_episodes"]) == [20, 20] and list(table["blocks"]) == [5, 5]
    assert table.loc[0, "p_value"] < 1e-4 and table.loc[1, "p_value"] > 0.05
    # the test is on the block means: Welch's t of five means of four episodes each
    last, first = rising[-20:].reshape(5, 4).mean(axis=1), rising[:20].reshape(5, 4).mean(axis=1)
    welch = sps.ttest_ind(last, first, equal_var=False, alternative="greater")
    np.testing.assert_allclose(table.loc[0, "p_value"], welch.pvalue, rtol=1e-10)
    np.testing.assert_allclose(table.loc[0, "last_window"], rising[-20:].mean())
    np.testing.assert_allclose(table.loc[1, "first_window"], flat[:20].mean())


def test_phase1_learning_by_seed_respects_the_autocorrelation_of_a_run():
    """Runs that learn nothing, whose neighbouring episodes correlate (AR(1), phi 0.6, far more
    than the record's |r| < 0.15): a test that treats the episodes of a window as independent
    finds "learning" in far more than 5 % of them; the block test stays near its level."""
    import pandas as pd

    from valint.stats import phase1_learning_by_seed

    rng = np.random.default_rng(2026)
    n_runs, n_episodes, phi = 300, 400, 0.6
    noise = rng.normal(0, 1, (n_runs, n_episodes))
    values = np.empty_like(noise)
    values[:, 0] = noise[:, 0] / math.sqrt(1 - phi**2)
    for k in range(1, n_episodes):
        values[:, k] = phi * values[:, k - 1] + noise[:, k]
    curves = pd.DataFrame({
        "seed": np.repeat(np.arange(n_runs), n_episodes), "condition": "oracle", "phase": 1,
        "episode": np.tile(np.arange(1, n_episodes + 1), n_runs),
        "partner_goals_per_episode": values.reshape(-1)})
    blocks = phase1_learning_by_seed(curves)
    episodes = [sps.ttest_ind(v[-40:], v[:40], equal_var=False, alternative="greater").pvalue
                for v in values]
    assert (blocks["p_value"] < 0.05).mean() < 0.10
    assert (np.array(episodes) < 0.05).mean() > 0.15


def test_fig7_robustness_trains_every_variant_and_reports_the_random_level(tmp_path):
    from valint.figures import fig7_robustness, fig7_robustness_summary

    table = fig7_robustness("smoke", store=tmp_path, progress=False)
    variants = set(zip(table["layout_rule"], table["obs_scale"]))
    assert variants == {(r, s) for r in ("authors", "goal-branch") for s in ("raw", "1/255")}
    for rule, level in table.groupby("layout_rule")["random_learner"].unique().items():
        assert list(level) == [random_learner_partner_goals(rule)]
    assert set(table["sixth"]) <= set(range(1, 7))
    summary = fig7_robustness_summary(table)
    assert len(summary) == 4 and "change" in summary
    # a second call is served by the store
    again = fig7_robustness("smoke", store=tmp_path, progress=False)
    assert again.equals(table)


def test_phase1_learning_by_length_cuts_each_run_and_the_reliable_length_needs_a_margin():
    import pandas as pd

    from valint.stats import phase1_learning_by_length, shortest_reliable_length

    rng = np.random.default_rng(1)
    episodes = np.arange(1, 401)
    # seed 0 learns after episode 100, seed 1 only after episode 250
    runs = {0: np.where(episodes > 100, 1.5, 0.2), 1: np.where(episodes > 250, 1.5, 0.2)}
    curves = pd.concat([
        pd.DataFrame({"seed": s, "condition": "oracle", "phase": 1, "episode": episodes,
                      "env_steps": episodes * 100,
                      "partner_goals_per_episode": v + rng.normal(0, 0.3, episodes.size)})
        for s, v in runs.items()
    ])
    lengths = [5_000, 10_000, 20_000, 30_000, 40_000]
    table = phase1_learning_by_length(curves, lengths)
    assert list(table["env_steps"]) == lengths
    assert list(table["seeds_learned"]) == [0, 0, 1, 2, 2]
    assert shortest_reliable_length(table) == 30_000
    # a length where every seed passes once, then one fails again, is not reliable
    edge = table.assign(seeds_learned=[0, 2, 1, 2, 2])
    assert shortest_reliable_length(edge) == 30_000
    assert shortest_reliable_length(table.assign(seeds_learned=[2, 2, 2, 2, 1])) is None
    with pytest.raises(ValueError, match="lengths"):
        phase1_learning_by_length(curves, [0])


def _learning_runs(learn_after: dict[int, int], *, episodes: int = 400, rng_seed: int = 4):
    """Phase-1 curves of seeds that start to help after ``learn_after[seed]`` episodes of 100
    steps each."""
    import pandas as pd

    rng = np.random.default_rng(rng_seed)
    index = np.arange(1, episodes + 1)
    return pd.concat([
        pd.DataFrame({"seed": s, "condition": "oracle", "phase": 1, "episode": index,
                      "env_steps": index * 100,
                      "partner_goals_per_episode": np.where(index > after, 1.5, 0.2)
                      + rng.normal(0, 0.3, episodes)})
        for s, after in learn_after.items()], ignore_index=True)


def test_a_length_chosen_on_the_seeds_a_profile_runs_is_refused_and_another_is_tested():
    """A rule that chooses the length on the seeds the profile then runs would pass its own
    check: the check refuses it. Chosen on other seeds, the check is a real test and can fail:
    here the run seeds learn later than the seeds the length was chosen on."""
    from valint.stats import choose_phase1_length, phase1_length_check

    curves = _learning_runs({0: 300, 1: 320, 2: 90, 3: 100, 4: 110})
    lengths = list(range(5_000, 40_001, 5_000))
    planted = choose_phase1_length(curves, lengths, seeds=[0, 1])
    with pytest.raises(ValueError, match="chosen on seeds \\[0, 1\\] that the profile runs"):
        phase1_length_check(curves, lengths, chosen_on=[0, 1, 2], run_seeds=[0, 1],
                            profile_steps=planted)
    chosen = choose_phase1_length(curves, lengths, seeds=[2, 3, 4])
    check = phase1_length_check(curves, lengths, chosen_on=[2, 3, 4], run_seeds=[0, 1],
                                profile_steps=chosen).iloc[0]
    assert bool(check["matches"]) and check["chosen_steps"] == chosen < planted
    assert check["test_seeds"] == 2 and check["test_learned"] < 2  # out of sample, it fails


def test_the_quick_fig7_phase1_is_chosen_out_of_sample_on_the_paper_record():
    """The quick profile's Fig. 7 phase 1 is the rule's answer on record seeds it does not run,
    and the record's runs of the seeds it does run learned at that length."""
    from valint import config, records
    from valint.stats import phase1_length_check

    chosen_on = config.PHASE1_LENGTH_CHOSEN_ON["quick"]
    assert not set(chosen_on) & set(range(config.QUICK.n_seeds))
    curves = records.load_record("fig7").tables.get("curves")
    if curves is None:
        pytest.skip("no paper-scale record of Figure 7")
    n_steps = config.PAPER.prosocial_ppo.n_steps
    lengths = [r * n_steps for r in range(4, config.PAPER.prosocial_phase1_rollouts + 1, 2)]
    steps = config.QUICK.prosocial_phase1_rollouts * config.QUICK.prosocial_ppo.n_steps
    check = phase1_length_check(curves, lengths, chosen_on=chosen_on,
                                run_seeds=range(config.QUICK.n_seeds), profile_steps=steps).iloc[0]
    assert bool(check["matches"]), check
    assert check["test_seeds"] == config.QUICK.n_seeds


def _fig7_curves(phase2_drop_after: int) -> "pd.DataFrame":
    """Six seeds that learned to help in phase 1 (400 episodes of 100 steps); in phase 2 (300
    episodes) ``isr`` keeps the level and ``none`` falls after ``phase2_drop_after`` episodes."""
    import pandas as pd

    rng = np.random.default_rng(3)
    one, two = np.arange(1, 401), np.arange(1, 301)
    frames = []
    for seed in range(6):
        learned = np.where(one > 100, 1.5, 0.2) + rng.normal(0, 0.3, one.size)
        frames.append(pd.DataFrame({"seed": seed, "condition": "oracle", "phase": 1, "episode": one,
                                    "env_steps": one * 100, "partner_goals_per_episode": learned}))
        for condition in ("isr", "none"):
            level = np.full(two.size, 1.5) if condition == "isr" else np.where(two > phase2_drop_after, 0.1, 1.5)
            frames.append(pd.DataFrame({
                "seed": seed, "condition": condition, "phase": 2, "episode": 400 + two,
                "env_steps": 40_000 + two * 100,
                "partner_goals_per_episode": level + rng.normal(0, 0.3 + 0.05 * seed, two.size)}))
    return pd.concat(frames, ignore_index=True)


def test_fig7_verdicts_by_phase2_length_judge_every_group_as_the_ledger_would():
    """Each group's verdict at each cut equals claims_fig7 on that group's cut runs."""
    import itertools

    from valint import claims

    curves = _fig7_curves(phase2_drop_after=100)
    lengths = [5_000, 15_000, 30_000]
    table = claims.fig7_verdicts_by_phase2_length(curves, lengths, n_seeds=3)
    assert list(table.columns) == ["env_steps", "claim_id", "groups", "holds", "fails", "inconclusive"]
    assert set(table["groups"]) == {20}
    for length in lengths:
        cut = curves[(curves["phase"] == 1) | (curves["env_steps"] - 40_000 <= length)]
        expected = {}
        for group in itertools.combinations(range(6), 3):
            ledger = claims.claims_fig7({"curves": cut[cut["seed"].isin(group)]}, profile="test")
            for claim_id, verdict in zip(ledger["claim_id"], ledger["verdict"]):
                expected.setdefault(claim_id, {"holds": 0, "fails": 0, "inconclusive": 0})[verdict] += 1
        got = table[table["env_steps"] == length].set_index("claim_id")[["holds", "fails", "inconclusive"]]
        assert got.to_dict("index") == expected, length
    # before the drop nothing decays; long after it, every group sees it
    none = table[table["claim_id"] == "fig7_none_helping_decays"].set_index("env_steps")
    assert none.loc[5_000, "holds"] == 0 and none.loc[30_000, "holds"] == 20


def test_the_shortest_phase2_that_decides_both_claims_needs_every_group_at_every_longer_length():
    from valint import claims
    from valint.stats import shortest_reliable_length

    table = claims.fig7_verdicts_by_phase2_length(_fig7_curves(phase2_drop_after=60),
                                                  [2_000, 10_000, 20_000, 30_000], n_seeds=4)
    summary = claims.fig7_phase2_summary(table)
    assert list(summary.columns) == ["env_steps", "groups", "decided", "holds", "fails"]
    decided = table.assign(d=table["holds"] + table["fails"]).groupby("env_steps")["d"].min()
    assert list(summary["decided"]) == list(decided)
    reliable = shortest_reliable_length(summary, passed="decided", of="groups")
    assert reliable is not None
    assert (summary.loc[summary["env_steps"] >= reliable, "decided"] == 15).all()
    assert summary.loc[summary["env_steps"] < reliable, "decided"].lt(15).iloc[-1]


@pytest.mark.parametrize("n_seeds", [1, 7, 2.0, True])
def test_fig7_verdicts_by_phase2_length_name_a_bad_group_size(n_seeds):
    from valint import claims

    with pytest.raises(ValueError, match="n_seeds must be an integer from 2 to 6"):
        claims.fig7_verdicts_by_phase2_length(_fig7_curves(100), [10_000], n_seeds=n_seeds)
    with pytest.raises(ValueError, match="lengths"):
        claims.fig7_verdicts_by_phase2_length(_fig7_curves(100), [0], n_seeds=3)


def test_fig7_verdicts_by_phase2_length_need_runs_of_equal_length():
    """A group's windows are the record's only if every run of a phase has as many episodes."""
    from valint import claims

    curves = _fig7_curves(100)
    shorter_phase1 = curves.drop(curves[(curves["seed"] == 2) & (curves["phase"] == 1)
                                        & (curves["episode"] == 400)].index)
    with pytest.raises(ValueError, match="phase-1 episodes"):
        claims.fig7_verdicts_by_phase2_length(shorter_phase1, [10_000], n_seeds=3)
    shorter_phase2 = curves.drop(curves[(curves["seed"] == 2) & (curves["condition"] == "none")
                                        & (curves["episode"] == 450)].index)
    with pytest.raises(ValueError, match="phase-2 episodes"):
        claims.fig7_verdicts_by_phase2_length(shorter_phase2, [10_000], n_seeds=3)


def test_the_phase2_summary_and_sentence_count_holds_and_fails_apart():
    """Groups that fail are not "decided" in favour of the claim: the summary keeps the fewest
    holds and fails apart, and the resampling sentence names both and says what the groups
    are (overlapping resamples of the record's seeds with its full phase 1)."""
    import pandas as pd

    from valint import claims, pages

    by_length = pd.DataFrame({
        "env_steps": [1_000, 1_000, 2_000, 2_000],
        "claim_id": ["fig7_isr_helping_continues", "fig7_none_helping_decays"] * 2,
        "groups": 10, "holds": [2, 9, 6, 10], "fails": [7, 0, 4, 0], "inconclusive": [1, 1, 0, 0]})
    summary = claims.fig7_phase2_summary(by_length).set_index("env_steps")
    assert summary.loc[1_000, ["decided", "holds", "fails"]].tolist() == [9, 2, 0]
    assert summary.loc[2_000, ["decided", "holds", "fails"]].tolist() == [10, 6, 0]
    curves = _fig7_curves(phase2_drop_after=100)
    study = pages.fig7_phase2_length_study(curves, "quick")
    assert "resamples, not new runs: the 6 groups of 5 out of the record's 6 seeds overlap" in study["sentence"]
    at = study["by_length"][study["by_length"]["env_steps"] == study["steps"]].set_index("claim_id")
    for claim_id, row in at.iterrows():
        assert (f"{claim_id}: {row['holds']} hold, {row['fails']} fail, "
                f"{row['inconclusive']} inconclusive") in study["sentence"]
