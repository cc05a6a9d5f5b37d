"""Pictures of the worlds and of trained learners, for the book (PAPER.md §3, §7).

Every function returns RGB images drawn by MiniGrid's renderer (uint8, ``(height, width, 3)``)
or writes one GIF; none runs an experiment. The images feed :func:`valint.plots.plot_grids` and
:func:`valint.plots.save_gif`:

- :func:`example_grids`: the three example grids of Fig. 1 (left).
- :func:`ood_maps`: the five fixed OOD layouts of Fig. 5 (and the ``x`` of Fig. 6).
- :func:`prosocial_layouts`: layouts of the two-agent world of Fig. 7.
- :func:`episode_frames` and :func:`caregiver_left_gif`: a trained learner playing one episode,
  e.g. with and without its ISR model after the caregiver has left (Fig. 4a).

All randomness comes from the ``seed`` arguments (STYLE.md §6 item 6).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from valint.config import PPOConfig
from valint.envs import (
    EPISODE_STEPS,
    LAYOUT_NAMES,
    N_ACTIONS,
    OBS_SHAPE,
    OOD_LAYOUTS,
    SocialGridBatch,
    SocialGridEnv,
    parse_layout,
    render_layout,
    sample_layout,
)
from valint.plots import LABELS, save_gif
from valint.ppo import BatchedPPO, policy_forward
from valint.prosocial import render_prosocial, sample_prosocial_layout

if TYPE_CHECKING:
    from valint.figures import FigureResult

TILE_SIZE = 32
"""Pixels per grid cell of every picture here (MiniGrid's default)."""

_SEPARATOR_PIXELS = 8
"""Width of the white strip between the two panels of :func:`caregiver_left_gif`."""


def example_grids(n: int = 3, *, layout: str = "random-3", seed: int = 0) -> list[np.ndarray]:
    """Example grids of the single-agent world, as in Fig. 1 (left) (PAPER.md §3).

    Each grid is one draw of ``layout``: walls, then the green goal, then the agent (red
    triangle), all from one generator seeded with ``seed``.

    Args:
        n: Number of grids.
        layout: A layout name (``valint.envs.parse_layout``); the paper shows ``"random-3"``.
        seed: Seed of the generator.

    Returns:
        ``n`` RGB images, each (224, 224, 3) uint8.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    draws = [sample_layout(rng, parse_layout(layout)) for _ in range(n)]
    return [render_layout(draw, tile_size=TILE_SIZE) for draw in draws]


def ood_maps(*, seed: int = 0) -> dict[str, np.ndarray]:
    """The five fixed out-of-distribution layouts of Fig. 5 (PAPER.md §3, table of maps).

    The walls are the layout's own; goal and agent are drawn at random, as in the evaluation
    episodes, from one generator per layout seeded with ``(seed, position of the layout)``.

    Args:
        seed: Seed of the goal and agent draw.

    Returns:
        RGB image (224, 224, 3) uint8 per layout name, in the order plus, x, U, T, 4 rooms.
    """
    return {
        name: render_layout(sample_layout(np.random.default_rng([seed, k]), OOD_LAYOUTS[name]),
                            tile_size=TILE_SIZE)
        for k, name in enumerate(LAYOUT_NAMES)
    }


def prosocial_layouts(n: int = 3, seed: int = 0) -> list[np.ndarray]:
    """Layouts of the two-agent world of Fig. 7 (PAPER.md §7).

    The learner is the red triangle, the partner the blue one, the ball that blocks the partner
    the yellow disc and the partner's goal the green square.

    Args:
        n: Number of layouts.
        seed: Seed of the generator they are drawn from.

    Returns:
        ``n`` RGB images, each (224, 224, 3) uint8.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    draws = [sample_prosocial_layout(rng) for _ in range(n)]
    return [render_prosocial(draw, tile_size=TILE_SIZE) for draw in draws]


def _play(agent_state: Mapping[str, np.ndarray], *, layout: str, seed: int, steps: int,
          greedy: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of one episode and the number of goals reached before each frame."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= EPISODE_STEPS:
        raise ValueError(f"steps must be an integer in 1..{EPISODE_STEPS}, got {steps!r}")
    agent = BatchedPPO([seed], OBS_SHAPE, N_ACTIONS, PPOConfig())
    agent.load_run_states([agent_state])
    world = SocialGridBatch([layout], [seed])
    screen = SocialGridEnv(layout, render_mode="rgb_array")
    screen.reset(seed=seed)
    rng = np.random.default_rng(seed)
    obs = world.reset()
    frames, goals = [], np.zeros(steps, dtype=int)
    for t in range(steps):
        screen.set_state(*world.get_state(0))
        frames.append(screen.get_frame(highlight=False, tile_size=TILE_SIZE))
        if greedy:
            action = agent.act_greedy(obs[None])[0]
        else:
            with torch.no_grad():
                logits, _ = policy_forward(agent.params, torch.from_numpy(obs[None]))
            probs = torch.softmax(logits[0, 0].double(), dim=-1).numpy()
            action = np.array([rng.choice(N_ACTIONS, p=probs / probs.sum())])
        out = world.step(action.astype(np.int64))
        goals[t:] += int(out.goal_reached[0])
        obs = out.obs
    before = np.concatenate([[0], goals[:-1]])
    return frames, before


def episode_frames(agent_state: Mapping[str, np.ndarray], *, layout: str, seed: int,
                   steps: int = EPISODE_STEPS, greedy: bool = True) -> list[np.ndarray]:
    """One episode of a trained learner, one picture per step (PAPER.md §3).

    Loads the learner's weights (a ``BatchedPPO.run_state`` dictionary, keys such as
    ``w/conv1.w``, as in ``FigureResult.agents``) into a one-run ``BatchedPPO``, plays one
    episode in ``SocialGridBatch`` and renders every state through ``SocialGridEnv.set_state``
    and MiniGrid's renderer. Frame ``t`` is the state the learner acts on at step ``t``; after
    a goal the next frame shows the freshly drawn layout (reaching the goal does not end the
    episode).

    Args:
        agent_state: The learner's state, e.g. ``result.agents[(seed, "isr", "random-3")]``.
        layout: The layout to play in (``valint.envs.parse_layout``).
        seed: Seed of the world (and of the action sampling when ``greedy`` is False).
        steps: Number of steps, 1..20.
        greedy: Take the most probable action (as the OOD evaluation does) rather than sample.

    Returns:
        ``steps`` RGB images, each (224, 224, 3) uint8.
    """
    frames, _ = _play(agent_state, layout=layout, seed=seed, steps=steps, greedy=greedy)
    return frames


def caregiver_left_gif(result: FigureResult, path: str | os.PathLike[str], *, seed: int,
                       layout: str = "random-3", steps: int = EPISODE_STEPS,
                       fps: float = 3) -> Path:
    """A GIF of two learners after the caregiver left: with their ISR model (left) and without.

    Both learners come from the same phase-1 agent of ``seed`` and then spent phase 2 under the
    conditions ``isr`` and ``none`` (Figs. 1b and 4a; PAPER.md §5). They play the same world
    (same seed, so the same first layout) greedily, side by side; each frame's caption counts
    the goals reached so far (left: ISR, right: no ISR).

    Args:
        result: A ``FigureResult`` of ``fig1`` or ``fig4`` (its ``agents``).
        path: The GIF to write; its folder is created if needed.
        seed: The learner's seed, one of ``result.seeds``.
        layout: The layout both learners spent phase 2 in.
        steps: Steps of the episode, 1..20.
        fps: Frames per second.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: if ``result`` holds no ``isr`` or ``none`` learner for ``seed`` and
            ``layout``.
    """
    played = {}
    for condition in ("isr", "none"):
        key = (seed, condition, layout)
        if key not in result.agents:
            known = sorted({k for k in result.agents if k[1] in ("isr", "none")})
            raise ValueError(f"{result.figure} has no phase-2 learner {key!r}; it has {known}")
        played[condition] = _play(result.agents[key], layout=layout, seed=seed, steps=steps,
                                  greedy=True)
    (with_isr, goals_isr), (without, goals_none) = played["isr"], played["none"]
    height = with_isr[0].shape[0]
    gap = np.full((height, _SEPARATOR_PIXELS, 3), 255, dtype=np.uint8)
    frames = [np.concatenate([a, gap, b], axis=1) for a, b in zip(with_isr, without)]
    labels = [
        f"{LABELS['isr']}: {g} goals    {LABELS['none']}: {h} goals"
        for g, h in zip(goals_isr, goals_none)
    ]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return save_gif(frames, path, fps=fps, labels=labels)


__all__ = [
    "TILE_SIZE",
    "caregiver_left_gif",
    "episode_frames",
    "example_grids",
    "ood_maps",
    "prosocial_layouts",
]
