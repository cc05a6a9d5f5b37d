"""Provenance of a run: package versions, git commit, device and wall time.

Every result the book shows is stored with this record (PAPER.md §10: the published numbers
could not be traced to the code and versions that made them), and each figure page renders it
with :func:`provenance_frame`. Nothing here raises for a missing package, a missing ``git`` or
a copy of the package outside a git checkout; such fields read ``"not installed"`` or
``"unknown"``.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from valint import __version__

PACKAGES = (
    "numpy",
    "torch",
    "gymnasium",
    "minigrid",
    "pandas",
    "scipy",
    "statsmodels",
    "seaborn",
    "matplotlib",
)
"""Distributions whose versions are recorded, in this order."""

SCIENCE_MODULES = (
    "gridworld",
    "envs",
    "prosocial",
    "social",
    "isr",
    "nets",
    "networks",
    "ppo",
    "experiments",
)
"""Modules of ``valint`` whose change can change a number in a figure's tables: the worlds
(with the grid mechanics they share), the caregiver, the networks, the ISR, the learner and
the protocol of a run. The plans and executors (``plan``, ``executors``, ``figures``) decide
which runs train and where, but every run's store key already names all of it, and the same
batch gives the same bits under every executor; the statistics, the claims ledger, the plots
and the book read tables. All of them are left out, so that changing a verdict rule does not
throw away hours of training. ``config.py`` is left out too: every profile value a run uses
(PPO, ISR, phase lengths, checkpoints, evaluation episodes) is itself part of the run's store
key, so editing the ``quick`` profile does not make a paper-scale record stale."""

WORLD_MODULES: dict[str, tuple[str, ...]] = {
    "grid": ("gridworld", "envs", "social", "isr", "nets", "networks", "ppo", "experiments"),
    "prosocial": ("gridworld", "prosocial", "social", "isr", "nets", "networks", "ppo",
                  "experiments"),
}
"""The science modules a run of each world executes: the single-agent world of Figs. 1-6
(PAPER.md §3) and the two-agent world of Fig. 7 (§7). A run's code hash covers only its own
world's modules, so a change to the two-agent world leaves the records of Figs. 1-6 current,
and a change to the single-agent world those of Fig. 7."""

UNKNOWN = "unknown"
NOT_INSTALLED = "not installed"
_GIT_TIMEOUT_S = 10.0
_PACKAGE_DIR = Path(__file__).resolve().parent


def package_version(name: str) -> str:
    """Return the installed version of distribution ``name``, or ``"not installed"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def _git(directory: Path, *args: str) -> str | None:
    """Run ``git -C directory args`` and return its stripped stdout, or None on any failure."""
    executable = shutil.which("git")
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()


def git_state(package_dir: str | Path | None = None) -> tuple[str, bool | str]:
    """Return the commit of the repository that holds the package, and whether it is dirty.

    The commit is reported only when ``package_dir`` lies in a git work tree that tracks the
    package's ``__init__.py``; an installed copy that merely sits inside some other repository
    (a virtual environment inside a project, say) reports ``"unknown"``.

    Args:
        package_dir: The directory of the ``valint`` package; defaults to this module's.

    Returns:
        ``(commit, dirty)``: the 40-hex ``HEAD`` commit and True when tracked files differ from
        it (untracked files are ignored, as ``git describe --dirty`` does), or
        ``("unknown", "unknown")`` when there is no such checkout or ``git`` is missing.
    """
    directory = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    if not directory.is_dir():
        return UNKNOWN, UNKNOWN
    if _git(directory, "ls-files", "--error-unmatch", "--", "__init__.py") is None:
        return UNKNOWN, UNKNOWN
    commit = _git(directory, "rev-parse", "--verify", "HEAD")
    if commit is None or len(commit) != 40:
        return UNKNOWN, UNKNOWN
    status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return commit, (UNKNOWN if status is None else bool(status))


def hash_modules(sources: Iterable[tuple[str, bytes]]) -> str:
    """16 hex digits of the sha256 of named module sources, in the order given."""
    digest = hashlib.sha256()
    for name, source in sources:
        digest.update(name.encode() + b"\0")
        digest.update(source + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def science_code_hash(world: str | None = None) -> str:
    """Hash of the source of the science modules a run of ``world`` executes
    (:data:`WORLD_MODULES`): 16 hex digits of a sha256.

    It is part of every results-store key (``valint.experiments``), so a run cached before a
    change to, say, ``ppo.py`` is never reused by the changed code, and it is recorded with
    every run so that a page can say which code made a number.

    Args:
        world: ``grid`` or ``prosocial``; None hashes every module of :data:`SCIENCE_MODULES`,
            the one code hash of the records made before each world had its own.
    """
    if world is not None and world not in WORLD_MODULES:
        raise ValueError(f"world must be one of {', '.join(WORLD_MODULES)}, got {world!r}")
    modules = SCIENCE_MODULES if world is None else WORLD_MODULES[world]
    return hash_modules((name, (_PACKAGE_DIR / f"{name}.py").read_bytes()) for name in modules)


def science_codes() -> str:
    """Every world's :func:`science_code_hash`, in words: ``grid <hash>, prosocial <hash>``."""
    return ", ".join(f"{world} {science_code_hash(world)}" for world in WORLD_MODULES)


class SameScience(NamedTuple):
    """A declaration that a refactoring left every number of the science unchanged.

    A record made by science code ``same_as`` is then as current as one made by ``code``: the
    book does not call it stale (``valint.records.Record.stale_codes``). A declaration is only
    made with evidence, and ``tests/test_science_lineage.py`` re-checks it while ``code`` is the
    current code: the modules at ``commit`` hash to ``same_as``; exactly the modules in
    ``changed`` differ; and, with the science modules of ``commit`` swapped into this checkout,
    every figure's smoke tables and long traces of both worlds come out bit for bit the same.
    """

    code: str
    """:func:`science_code_hash` of the refactored code."""
    same_as: str
    """:func:`science_code_hash` of the code it was refactored from."""
    commit: str
    """A git commit whose science modules hash to ``same_as``."""
    changed: tuple[str, ...]
    """The science modules of ``code``'s world whose source differs between the two (new
    modules included)."""
    why: str
    """What the refactoring did."""
    figures: tuple[str, ...] = ()
    """The figures whose records the declaration carries over; empty: every figure. A change
    can leave some figures' numbers unchanged and not others' (a rule that only Figs. 5 and 6
    read, say), and only those figures' records are carried."""


SAME_SCIENCE: tuple[SameScience, ...] = (
    SameScience(
        code="6dba8098d869de8d",
        same_as="328d367987f49a17",
        commit="8aa9089abcd205da8370015dac75638be8165dfb",
        changed=("gridworld", "envs", "prosocial"),
        why="the egocentric view, the cell index and the auto-reset of both worlds moved into "
        "valint.gridworld",
    ),
    SameScience(
        code="f063b3f52506a1a7",
        same_as="6dba8098d869de8d",
        commit="de652ac0f344ad9c94b0d6a72917d8693c348424",
        changed=("experiments",),
        why="each world got its own code hash; the best phase-1 checkpoint is taken during the "
        "rollout, from the weights that played the scored episodes (PAPER.md §6); a batch with "
        "a run missing is trained whole on resume. Figs. 1, 3 and 4 never start from the best "
        "checkpoint, and an uninterrupted batch trains as before",
        figures=("fig1", "fig3", "fig4"),
    ),
)
"""Every declared bit-identical refactoring of the science code, oldest first."""


def same_science_codes(code: str, figure: str | None = None) -> frozenset[str]:
    """The science-code hashes declared to compute the same numbers as ``code`` (itself
    included), following :data:`SAME_SCIENCE` both ways and through chains of refactorings.

    Args:
        code: a :func:`science_code_hash`.
        figure: follow only the declarations that carry this figure's records (all when None).
    """
    declared = [same for same in SAME_SCIENCE
                if figure is None or not same.figures or figure in same.figures]
    found = {code}
    grew = True
    while grew:
        grew = False
        for same in declared:
            if (same.code in found) != (same.same_as in found):
                found |= {same.code, same.same_as}
                grew = True
    return frozenset(found)


def _cpu_description() -> str:
    """Name the processor and the number of cores this process may use."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or UNKNOWN
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 0
    return f"cpu: {name}, {cores} cores"


def default_device() -> str:
    """Describe the device runs use: ``"cuda:<GPU name>"`` when CUDA is available, else the CPU."""
    try:
        import torch
    except ImportError:
        return _cpu_description()
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return _cpu_description()


def _torch_threads() -> int | str:
    """torch's intra-op thread count, which sets CPU training speed."""
    try:
        import torch
    except ImportError:
        return NOT_INSTALLED
    return torch.get_num_threads()


def provenance(
    *,
    profile: str,
    science_code: str | None = None,
    config_key: str | None = None,
    wall_time_s: float | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Record how a result was made, for the results store and the book (PAPER.md §10).

    Args:
        profile: The config profile of the run (``"paper"``, ``"quick"`` or ``"smoke"``).
        science_code: The :func:`science_code_hash` of the code that made the result; by
            default every world's (:func:`science_codes`), for a result of no one world.
        config_key: The results-store key of the run's config (:func:`valint.store.config_key`).
        wall_time_s: Wall-clock time of the run, in seconds.
        device: Where the run was computed; defaults to :func:`default_device`.

    Returns:
        A flat JSON-able dict: ``profile``, ``config_key``, ``wall_time_s``,
        ``timestamp_utc`` (ISO 8601), ``valint_version``, ``science_code``,
        ``<package>_version`` for each of
        :data:`PACKAGES` (``"not installed"`` when absent), ``python_version``, ``platform``,
        ``git_commit`` and ``git_dirty`` (see :func:`git_state`), ``torch_num_threads`` and
        ``device``.

    Raises:
        ValueError: If ``profile`` is empty or ``wall_time_s`` is negative or not finite.
    """
    if not isinstance(profile, str) or not profile:
        raise ValueError(f"profile must be a non-empty str, got {profile!r}")
    if wall_time_s is not None and not (math.isfinite(wall_time_s) and wall_time_s >= 0):
        raise ValueError(f"wall_time_s must be a finite number >= 0, got {wall_time_s!r}")
    commit, dirty = git_state()
    record: dict[str, Any] = {
        "profile": profile,
        "config_key": config_key,
        "wall_time_s": None if wall_time_s is None else float(wall_time_s),
        "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "valint_version": __version__,
        "science_code": science_codes() if science_code is None else science_code,
    }
    record.update((f"{name}_version", package_version(name)) for name in PACKAGES)
    record.update(
        {
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "git_commit": commit,
            "git_dirty": dirty,
            "torch_num_threads": _torch_threads(),
            "device": device if device is not None else default_device(),
        }
    )
    return record


def provenance_frame(prov: dict[str, Any]) -> pd.DataFrame:
    """Turn a provenance record into a two-column table for a book page.

    Args:
        prov: A record from :func:`provenance` (or read back from a store sidecar).

    Returns:
        One row per field, in the record's order, with columns ``item`` and ``value`` (both
        str; a missing value reads ``"not recorded"``).
    """
    rows = [
        {"item": str(item), "value": "not recorded" if value is None else str(value)}
        for item, value in prov.items()
    ]
    return pd.DataFrame(rows, columns=["item", "value"])
