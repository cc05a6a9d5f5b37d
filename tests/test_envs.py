"""Tests of the single-agent world (valint/envs.py; PAPER.md §3)."""
from __future__ import annotations

import copy

import gymnasium
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from minigrid.core.constants import DIR_TO_VEC

from valint.envs import (
    EFFORT_COST,
    EPISODE_STEPS,
    LAYOUT_NAMES,
    N_ACTIONS,
    OBS_SHAPE,
    OOD_LAYOUTS,
    Layout,
    LayoutDraw,
    SocialGridBatch,
    SocialGridEnv,
    parse_layout,
    render_layout,
    sample_layout,
)

WORLDS = ("random-1", "random-3", "random-5", *LAYOUT_NAMES)
ACTION_PROBS = (0.25, 0.25, 0.5)
"""Forward-heavy random actions, so that goals are reached often."""

# A hand-made state: agent at (1, 1) facing right, a wall in front, the goal below it.
WALL_AHEAD = LayoutDraw(walls=((2, 1), (4, 4)), goal=(1, 2), agent_pos=(1, 1), agent_dir=0)


def _sorted(draw: LayoutDraw) -> LayoutDraw:
    return draw._replace(walls=tuple(sorted(draw.walls)))


def _true_view(env: SocialGridEnv) -> np.ndarray:
    """The observation computed from the MiniGrid grid cell by cell, with direction vectors."""
    encoded = env.grid.encode()
    x, y = env.agent_pos
    encoded[x, y] = (10, 0, env.agent_dir)
    dx, dy = DIR_TO_VEC[env.agent_dir]
    rx, ry = -dy, dx
    view = np.zeros(OBS_SHAPE, dtype=np.uint8)
    for row in range(9):
        for column in range(9):
            ahead, right = 4 - row, column - 4
            cx, cy = x + ahead * dx + right * rx, y + ahead * dy + right * ry
            if 0 <= cx < 7 and 0 <= cy < 7:
                view[row, column, :3] = encoded[cx, cy]
                view[row, column, 3] = encoded[cx, cy, 0] == 8
    return view


def _drive_and_compare(layouts: list[str], seeds: list[int], n_steps: int) -> int:
    """Step MiniGrid envs and the batch with the same seeds and actions; assert equality.

    Returns:
        The number of goal re-draws seen.
    """
    envs = [SocialGridEnv(layout) for layout in layouts]
    batch = SocialGridBatch(layouts, seeds)
    env_obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)])
    np.testing.assert_array_equal(batch.reset(), env_obs)
    actions = np.random.default_rng(sum(seeds)).choice(
        N_ACTIONS, size=(n_steps, len(seeds)), p=ACTION_PROBS
    )
    n_goals = 0
    for step_actions in actions:
        out = batch.step(step_actions)
        for i, env in enumerate(envs):
            obs, reward, terminated, truncated, info = env.step(int(step_actions[i]))
            assert not terminated
            assert np.float32(reward) == out.effort_cost[i] == np.float32(info["effort_cost"])
            assert info["goal_reached"] == out.goal_reached[i]
            assert truncated == out.truncated[i]
            np.testing.assert_array_equal(out.final_obs[i], obs)
            if info["goal_reached"] and not truncated:
                assert _sorted(env.get_state()) == batch.get_state(i)
            if truncated:
                obs, _ = env.reset()
                assert _sorted(env.get_state()) == batch.get_state(i)
            np.testing.assert_array_equal(out.obs[i], obs)
        n_goals += int(out.goal_reached.sum())
    return n_goals


@pytest.mark.parametrize("layout", WORLDS)
def test_batch_equals_minigrid_env(layout: str) -> None:
    n_goals = _drive_and_compare([layout] * 4, [11, 12, 13, 2**31 + 7], n_steps=1500)
    assert n_goals > 20


def test_batch_equals_minigrid_env_with_mixed_layouts() -> None:
    n_goals = _drive_and_compare(list(WORLDS), list(range(100, 100 + len(WORLDS))), n_steps=300)
    assert n_goals > 20


def test_env_forward_into_wall_costs_effort_and_stays() -> None:
    env = SocialGridEnv("random-3")
    env.reset(seed=0)
    for agent_dir in (0, 3):  # interior wall ahead, then the border wall
        env.set_state(*WALL_AHEAD._replace(agent_dir=agent_dir))
        _, reward, terminated, _, info = env.step(2)
        assert reward == EFFORT_COST == info["effort_cost"]
        assert not info["goal_reached"] and not terminated
        assert tuple(env.agent_pos) == (1, 1) and env.agent_dir == agent_dir


def test_batch_forward_into_wall_costs_effort_and_stays() -> None:
    batch = SocialGridBatch(["random-3", "x"], [0, 1])
    batch.reset()
    batch.set_state(0, *WALL_AHEAD)
    batch.set_state(1, *WALL_AHEAD._replace(agent_dir=3))
    out = batch.step(np.array([2, 2]))
    np.testing.assert_array_equal(out.effort_cost, np.float32([EFFORT_COST, EFFORT_COST]))
    np.testing.assert_array_equal(batch.agent_pos, [[1, 1], [1, 1]])
    assert not out.goal_reached.any()


def test_env_turns_cost_nothing() -> None:
    env = SocialGridEnv("plus")
    env.reset(seed=0)
    env.set_state(*WALL_AHEAD)
    _, reward, _, _, info = env.step(0)
    assert reward == 0.0 == info["effort_cost"] and env.agent_dir == 3
    _, reward, _, _, _ = env.step(1)
    _, reward_2, _, _, _ = env.step(1)
    assert reward == reward_2 == 0.0 and env.agent_dir == 1
    assert tuple(env.agent_pos) == (1, 1)


def test_env_goal_move_costs_nothing_and_redraws_layout() -> None:
    env = SocialGridEnv("random-3")
    env.reset(seed=5)
    for _ in range(5):
        env.step(0)
    env.set_state(*WALL_AHEAD._replace(agent_dir=1))  # facing the goal
    expected = sample_layout(copy.deepcopy(env.np_random), env.layout)
    _, reward, terminated, truncated, info = env.step(2)
    assert reward == 0.0 == info["effort_cost"]
    assert info["goal_reached"] and not terminated and not truncated
    assert env.get_state() == _sorted(expected)
    assert env.step_count == 6


def test_batch_goal_move_costs_nothing_and_keeps_step_count() -> None:
    seed = 3
    rng = seeding.np_random(seed)[0]
    batch = SocialGridBatch(["random-3"], [seed])
    batch.reset()
    assert batch.get_state(0) == _sorted(sample_layout(rng, parse_layout("random-3")))
    for _ in range(7):
        batch.step(np.array([0]))
    batch.set_state(0, *WALL_AHEAD._replace(agent_dir=1))
    out = batch.step(np.array([2]))
    assert out.goal_reached[0] and out.effort_cost[0] == 0.0 and not out.truncated[0]
    assert batch.get_state(0) == _sorted(sample_layout(rng, parse_layout("random-3")))
    assert batch.step_count[0] == 8


def test_env_episode_lasts_exactly_20_steps_and_never_terminates() -> None:
    env = SocialGridEnv("random-1")
    rng = np.random.default_rng(0)
    for episode in range(20):
        env.reset(seed=episode)
        for t in range(1, EPISODE_STEPS + 1):
            _, _, terminated, truncated, _ = env.step(int(rng.choice(3, p=ACTION_PROBS)))
            assert not terminated
            assert truncated == (t == EPISODE_STEPS)


def test_batch_truncates_every_20_steps() -> None:
    batch = SocialGridBatch(["random-1", "U"], [0, 1])
    batch.reset()
    rng = np.random.default_rng(1)
    for t in range(1, 5 * EPISODE_STEPS + 1):
        out = batch.step(rng.choice(3, size=2, p=ACTION_PROBS))
        assert out.truncated.tolist() == [t % EPISODE_STEPS == 0] * 2
        np.testing.assert_array_equal(batch.step_count, [t % EPISODE_STEPS] * 2)


@pytest.mark.parametrize("agent_dir", range(4))
def test_env_obs_geometry_matches_grid(agent_dir: int) -> None:
    env = SocialGridEnv("random-3")
    env.reset(seed=0)
    env.set_state(walls=((2, 2), (4, 3)), goal=(5, 1), agent_pos=(3, 2), agent_dir=agent_dir)
    obs = env.gen_obs()
    encoded = env.grid.encode()
    front = np.add(env.agent_pos, DIR_TO_VEC[agent_dir])
    right = np.add(env.agent_pos, (-DIR_TO_VEC[agent_dir][1], DIR_TO_VEC[agent_dir][0]))
    np.testing.assert_array_equal(obs[4, 4], (10, 0, agent_dir, 0))
    np.testing.assert_array_equal(obs[3, 4, :3], encoded[front[0], front[1]])
    np.testing.assert_array_equal(obs[4, 5, :3], encoded[right[0], right[1]])
    np.testing.assert_array_equal(obs, _true_view(env))
    batch = SocialGridBatch(["random-3"], [0])
    batch.set_state(0, *env.get_state())
    np.testing.assert_array_equal(batch.observe()[0], obs)


def test_obs_goal_channel_marks_the_goal_only() -> None:
    batch = SocialGridBatch(list(WORLDS), list(range(len(WORLDS))))
    obs = batch.reset()
    for _ in range(60):
        np.testing.assert_array_equal(obs[..., 3], obs[..., 0] == 8)
        assert (obs[..., 3].sum(axis=(1, 2)) == 1).all()
        obs = batch.step(np.full(batch.n, 2)).obs


def test_env_same_seed_same_rollout() -> None:
    actions = np.random.default_rng(0).choice(3, size=100, p=ACTION_PROBS)
    rollouts = []
    for _ in range(2):
        env = SocialGridEnv("random-3")
        obs, _ = env.reset(seed=42)
        steps = [obs]
        for action in actions:
            obs, reward, _, truncated, info = env.step(int(action))
            steps += [obs, reward, info["goal_reached"]]
            if truncated:
                steps.append(env.reset()[0])
        rollouts.append(steps)
    for a, b in zip(*rollouts):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore:.*alternative render modes")
@pytest.mark.parametrize("layout", ["random-3", "4 rooms"])
def test_env_passes_check_env(layout: str) -> None:
    check_env(SocialGridEnv(layout, render_mode="rgb_array"), skip_render_check=False)


def test_parse_layout_accepts_paper_layouts() -> None:
    assert parse_layout("random-0") == Layout.random(0)
    assert parse_layout("random-10").n_walls == 10
    for name in LAYOUT_NAMES:
        layout = parse_layout(name)
        assert layout is OOD_LAYOUTS[name] and layout.name == name and layout.n_walls == 5
    assert parse_layout(OOD_LAYOUTS["U"]) is OOD_LAYOUTS["U"]
    assert OOD_LAYOUTS["4 rooms"].fixed_walls == ((3, 1), (1, 3), (3, 3), (5, 3), (3, 5))


@pytest.mark.parametrize("spec", ["random-11", "random-03", "random--1", "cross", "Plus", "", 3])
def test_parse_layout_rejects_unknown_names(spec: object) -> None:
    allowed = r"layout must be one of 'plus', 'x', 'U', 'T', '4 rooms'"
    with pytest.raises(ValueError, match=allowed) as e:
        parse_layout(spec)  # type: ignore[arg-type]
    assert "random-N" in str(e.value) and repr(spec) in str(e.value)


def test_layout_rejects_bad_walls() -> None:
    with pytest.raises(ValueError, match="n_walls must be an integer in 0..10, got 11"):
        Layout.random(11)
    with pytest.raises(ValueError, match="fixed_walls"):
        Layout("bad", 1, ((0, 3),))
    with pytest.raises(ValueError, match="n_walls must equal"):
        Layout("bad", 2, ((1, 3),))


def test_sample_layout_draws_one_random_vector() -> None:
    for name, k in [("random-4", 7), ("T", 3)]:
        rng, reference = np.random.default_rng(9), np.random.default_rng(9)
        draw = sample_layout(rng, parse_layout(name))
        reference.random(k)
        assert rng.random() == reference.random()
        cells = set(draw.walls) | {draw.goal, draw.agent_pos}
        assert len(cells) == len(draw.walls) + 2
        assert all(1 <= v <= 5 for cell in cells for v in cell) and 0 <= draw.agent_dir < 4


def test_sample_layout_is_uniform() -> None:
    rng = np.random.default_rng(0)
    draws = [sample_layout(rng, parse_layout("random-1")) for _ in range(10_000)]
    for cells in ([d.walls[0] for d in draws], [d.goal for d in draws]):
        counts = np.zeros((7, 7))
        np.add.at(counts, tuple(np.array(cells).T), 1)
        assert 300 < counts[1:6, 1:6].min() and counts.max() < 520  # 400 expected per cell
    assert 2300 < np.bincount([d.agent_dir for d in draws]).min()


def test_render_returns_rgb_arrays() -> None:
    env = SocialGridEnv("x", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (7 * 32, 7 * 32, 3) and frame.dtype == np.uint8
    batch = SocialGridBatch(["random-3"], [4])
    batch.reset()
    picture = render_layout(batch.get_state(0), tile_size=8)
    assert picture.shape == (56, 56, 3) and picture.dtype == np.uint8
    gx, gy = batch.goal[0]
    goal_tile = picture[gy * 8 : (gy + 1) * 8, gx * 8 : (gx + 1) * 8]
    assert (goal_tile[..., 1] > 200).any() and (goal_tile[..., 0] < 50).all()
    env.set_state(*batch.get_state(0))
    assert env.render().shape == (224, 224, 3)
    with pytest.raises(ValueError, match="tile_size"):
        render_layout(batch.get_state(0), tile_size=0)


def test_set_state_rejects_overlaps() -> None:
    env = SocialGridEnv()
    with pytest.raises(ValueError, match="agent_pos"):
        env.set_state(walls=((2, 2),), goal=(3, 3), agent_pos=(2, 2), agent_dir=0)
    with pytest.raises(ValueError, match="agent_dir must be one of 0, 1, 2, 3, got 4"):
        env.set_state(walls=(), goal=(3, 3), agent_pos=(2, 2), agent_dir=4)


def test_batch_rejects_bad_actions() -> None:
    batch = SocialGridBatch(["x", "T"], [0, 1])
    with pytest.raises(RuntimeError, match="reset"):
        batch.step(np.array([0, 0]))
    batch.reset()
    with pytest.raises(ValueError, match="actions must be 0"):
        batch.step(np.array([0, 3]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        batch.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="action must be one of"):
        SocialGridEnv().step(5)


@settings(max_examples=100, deadline=None)
@given(
    layouts=st.lists(st.sampled_from(WORLDS), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_batch_invariants(layouts: list[str], seed: int, data: st.DataObject) -> None:
    n = len(layouts)
    batch = SocialGridBatch(layouts, [seed + i for i in range(n)])
    obs = batch.reset()
    n_steps = data.draw(st.integers(1, 60), label="n_steps")
    actions = np.array(
        data.draw(st.lists(st.integers(0, 2), min_size=n * n_steps, max_size=n * n_steps))
    ).reshape(n_steps, n)
    for step_actions in actions:
        before = batch.step_count
        out = batch.step(step_actions)
        for array in (out.obs, out.final_obs):
            assert array.shape == (n, *OBS_SHAPE) and array.dtype == np.uint8
            assert np.isin(array[..., 0], (0, 1, 2, 8, 10)).all()
            assert np.isin(array[..., 1], (0, 1, 5)).all()
            assert (array[..., 2] < 4).all() and (array[..., 3] <= 1).all()
            assert (array[:, 4, 4, 0] == 10).all()
        assert out.effort_cost.dtype == np.float32
        expected_cost = np.where((step_actions == 2) & ~out.goal_reached, EFFORT_COST, 0.0)
        np.testing.assert_array_equal(out.effort_cost, expected_cost.astype(np.float32))
        np.testing.assert_array_equal(batch.step_count, (before + 1) % EPISODE_STEPS)
        np.testing.assert_array_equal(out.truncated, before + 1 == EPISODE_STEPS)
        x, y = batch.agent_pos.T
        assert not batch.walls[np.arange(n), x, y].any()
        assert not (batch.agent_pos == batch.goal).all(axis=1).any()
    assert obs.shape == (n, *OBS_SHAPE)


@pytest.mark.filterwarnings("ignore:.*alternative render modes")
@pytest.mark.filterwarnings("ignore:The system font")
@pytest.mark.parametrize(("env_id", "kwargs"), [
    ("valint/SocialGrid-v0", {}),
    ("valint/SocialGridLayout-v0", {"layout": "x"}),
    ("valint/Prosocial-v0", {}),
])
def test_registered_ids_make_checked_worlds_with_a_caregiver(env_id: str, kwargs: dict) -> None:
    env = gymnasium.make(env_id, render_mode="rgb_array", **kwargs)
    check_env(env.unwrapped)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (9, 9, 4)
    _, _, _, _, info = env.step(2)
    assert info["caregiver_present"] is True
    assert env.render().shape[-1] == 3
