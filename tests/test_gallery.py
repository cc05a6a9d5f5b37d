"""Tests of valint.gallery: the pictures of the worlds and of trained learners."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from minigrid.core.constants import COLORS
from PIL import Image

from valint import gallery
from valint.config import PPOConfig, get_profile
from valint.envs import LAYOUT_NAMES, N_ACTIONS, OBS_SHAPE, OOD_LAYOUTS
from valint.figures import FigureResult
from valint.ppo import BatchedPPO

TILE = gallery.TILE_SIZE
SIDE = 7 * TILE


def _centre(image: np.ndarray, x: int, y: int) -> np.ndarray:
    return image[y * TILE + TILE // 2, x * TILE + TILE // 2]


def _fresh_state(seed: int) -> dict[str, np.ndarray]:
    return BatchedPPO([seed], OBS_SHAPE, N_ACTIONS, PPOConfig()).run_state(0)


def test_example_grids_shapes_and_seed():
    grids = gallery.example_grids(3, layout="random-3", seed=0)
    assert [g.shape for g in grids] == [(SIDE, SIDE, 3)] * 3
    assert all(g.dtype == np.uint8 for g in grids)
    again = gallery.example_grids(3, layout="random-3", seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(grids, again))
    assert not np.array_equal(grids[0], grids[1])


def test_example_grids_reject_bad_n():
    with pytest.raises(ValueError, match="n must be"):
        gallery.example_grids(0)


def test_ood_maps_show_their_walls_at_the_right_cells():
    maps = gallery.ood_maps()
    assert list(maps) == list(LAYOUT_NAMES)
    grey = np.array(COLORS["grey"])
    for name, image in maps.items():
        assert image.shape == (SIDE, SIDE, 3)
        walls = set(OOD_LAYOUTS[name].fixed_walls)
        for x in range(1, 6):
            for y in range(1, 6):
                is_grey = np.array_equal(_centre(image, x, y), grey)
                assert is_grey == ((x, y) in walls), (name, x, y)


def test_prosocial_layouts_shapes():
    layouts = gallery.prosocial_layouts(2, seed=1)
    assert [p.shape for p in layouts] == [(SIDE, SIDE, 3)] * 2


def test_episode_frames_one_frame_per_step():
    state = _fresh_state(0)
    frames = gallery.episode_frames(state, layout="random-3", seed=0, steps=5)
    assert len(frames) == 5
    assert all(f.shape == (SIDE, SIDE, 3) for f in frames)
    again = gallery.episode_frames(state, layout="random-3", seed=0, steps=5)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again))
    sampled = gallery.episode_frames(state, layout="x", seed=0, steps=3, greedy=False)
    assert len(sampled) == 3


def test_episode_frames_reject_too_many_steps():
    with pytest.raises(ValueError, match="steps"):
        gallery.episode_frames(_fresh_state(0), layout="random-3", seed=0, steps=21)


def _result(agents: dict) -> FigureResult:
    return FigureResult("fig4", get_profile("smoke"), (0,), {}, {}, pd.DataFrame(), 0.0, agents)


def test_caregiver_left_gif_has_frames(tmp_path):
    agents = {(0, "isr", "random-3"): _fresh_state(0), (0, "none", "random-3"): _fresh_state(1)}
    path = gallery.caregiver_left_gif(_result(agents), tmp_path / "sub" / "episode.gif", seed=0,
                                      steps=8)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames >= 2
        width, height = gif.size
    assert width == 2 * SIDE + 8
    assert height > SIDE


def test_caregiver_left_gif_names_a_missing_learner(tmp_path):
    agents = {(0, "isr", "random-3"): _fresh_state(0)}
    with pytest.raises(ValueError, match="none"):
        gallery.caregiver_left_gif(_result(agents), tmp_path / "episode.gif", seed=0)
