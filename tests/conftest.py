"""Shared test helpers: the authors' per-seed reference data (PAPER.md §10).

The CSVs live beside the repository in ``../shared/paper/`` (or where ``VALINT_PAPER_DATA``
points) and are never copied into it. Without them the tests that need them skip, except when
``VALINT_REQUIRE_PAPER_DATA=1`` (set by ``.ci/run`` whenever it finds the folder): then a
missing file is a failure, so a wrong path cannot turn these tests into silent skips.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest


def paper_data_dir() -> Path:
    """Where the authors' per-seed CSVs are looked for."""
    configured = os.environ.get("VALINT_PAPER_DATA")
    return Path(configured) if configured else Path(__file__).parents[2] / "shared" / "paper"


def authors_csv(name: str) -> pd.DataFrame:
    """One of the authors' per-seed CSVs, ``replicate`` used as ``seed``; skips when absent."""
    path = paper_data_dir() / name
    if not path.exists():
        message = f"authors' reference data not available at {path}"
        if os.environ.get("VALINT_REQUIRE_PAPER_DATA") == "1":
            pytest.fail(f"{message}, and VALINT_REQUIRE_PAPER_DATA=1 requires it")
        pytest.skip(message)
    return pd.read_csv(path).rename(columns={"replicate": "seed"})
