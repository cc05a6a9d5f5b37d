"""Fingerprint of what the science code computes, for ``test_science_lineage.py``.

Run as ``python tests/science_fingerprint.py WORK_DIR`` with the ``valint`` to fingerprint
first on ``PYTHONPATH``. It prints one JSON object: where ``valint`` was imported from, and a
sha256 per item of

- long traces of both worlds, batch and MiniGrid twins, with random actions: every layout of
  the single-agent world (the five maps and ``random-0`` to ``random-10``) and both layout rules
  of the two-agent world, hashing every field a step returns and the state the worlds expose;
- every figure's tables at the ``smoke`` profile (``python -m valint run FIG --profile smoke``
  in this process, a fresh results store), all but ``runs.csv``, whose keys and times name the
  code and the moment rather than the science.

Two checkouts whose fingerprints are equal compute the same bits on this machine for these
inputs.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

TRACE_STEPS = 1_000
"""Steps of each batch trace: 50 episodes of the single-agent world, 10 of the two-agent one."""
ENV_STEPS = 300
"""Steps of each MiniGrid trace."""


def _update(digest, *values) -> None:
    for value in values:
        array = np.asarray(value)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())


def grid_traces() -> dict[str, str]:
    """The single-agent world (PAPER.md §3): every layout, three seeds each."""
    from valint.envs import LAYOUT_NAMES, SocialGridBatch, SocialGridEnv

    layouts = [*LAYOUT_NAMES, *(f"random-{k}" for k in range(11))]
    copies = [layout for layout in layouts for _ in range(3)]
    world = SocialGridBatch(copies, list(range(len(copies))))
    digest = hashlib.sha256()
    _update(digest, world.reset())
    actions = np.random.default_rng(0)
    for _ in range(TRACE_STEPS):
        step = world.step(actions.choice(3, size=world.n, p=[0.2, 0.2, 0.6]))
        _update(digest, *step, world.agent_pos, world.agent_dir, world.goal, world.walls,
                world.step_count)
    out = {"grid batch": digest.hexdigest()}
    for layout in ("random-3", "random-1", "x", "4 rooms"):
        env, digest = SocialGridEnv(layout), hashlib.sha256()
        obs, _ = env.reset(seed=7)
        _update(digest, obs)
        for action in actions.choice(3, size=ENV_STEPS, p=[0.2, 0.2, 0.6]).tolist():
            obs, reward, _, truncated, info = env.step(action)
            _update(digest, obs, reward, truncated, info["goal_reached"], info["effort_cost"],
                    *env.get_state())
            if truncated:
                obs, _ = env.reset()
                _update(digest, obs)
        out[f"grid env {layout}"] = digest.hexdigest()
    return out


def prosocial_traces() -> dict[str, str]:
    """The two-agent world (PAPER.md §7): both layout rules, twelve seeds each."""
    from valint.config import LAYOUT_RULES
    from valint.prosocial import ProsocialBatch, ProsocialEnv, random_learner_partner_goals

    out = {}
    actions = np.random.default_rng(1)
    weights = [0.1, 0.15, 0.15, 0.4, 0.2]
    for rule in LAYOUT_RULES:
        world, digest = ProsocialBatch(range(12), layout_rule=rule), hashlib.sha256()
        _update(digest, world.reset(), world.partner_view_pos)
        for _ in range(TRACE_STEPS):
            step = world.step(actions.choice(5, size=world.n, p=weights))
            _update(digest, *step, world.carrying)
        out[f"prosocial batch {rule}"] = digest.hexdigest()
        env, digest = ProsocialEnv(layout_rule=rule), hashlib.sha256()
        obs, info = env.reset(seed=3)
        _update(digest, obs, info["partner_view_pos"])
        for action in actions.choice(5, size=ENV_STEPS, p=weights).tolist():
            obs, reward, _, truncated, info = env.step(action)
            _update(digest, obs, reward, truncated, env.learner_first, env.ball_present,
                    *(info[k] for k in ("goal_reached", "partner_action", "partner_view_pos")))
            if truncated:
                obs, info = env.reset()
                _update(digest, obs, info["partner_view_pos"])
        out[f"prosocial env {rule}"] = digest.hexdigest()
        out[f"random learner {rule}"] = repr(
            random_learner_partner_goals(rule, n_copies=10, episodes=4))
    return out


def smoke_tables(work: Path) -> dict[str, str]:
    """Every figure's tables at the smoke profile, in this process."""
    from valint.__main__ import main
    from valint.figures import FIGURES

    out = {}
    for figure in FIGURES:
        folder = work / figure
        code = main(["run", figure, "--profile", "smoke", "--executor", "inprocess",
                     "--out", str(folder), "--store", str(work / "store")])
        if code != 0:
            raise SystemExit(f"python -m valint run {figure} --profile smoke exited {code}")
        for table in sorted(folder.glob("*.csv")):
            if table.name != "runs.csv":
                out[f"{figure}/{table.name}"] = hashlib.sha256(table.read_bytes()).hexdigest()
    return out


def fingerprint(work: Path) -> dict:
    import valint

    return {"valint": str(Path(valint.__file__).resolve().parent),
            "digests": {**grid_traces(), **prosocial_traces(), **smoke_tables(work)}}


if __name__ == "__main__":
    os.environ["VALINT_PROGRESS"] = "0"
    result = fingerprint(Path(sys.argv[1]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")
