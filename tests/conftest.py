"""Shared test helpers: the authors' per-seed reference data (PAPER.md §10).

The CSVs ship inside the package (``valint/data/authors/``, read by
``valint.pages.authors_per_seed``), so the tests that read them always run.
"""
from __future__ import annotations

import pandas as pd

from valint import pages

_FIGURES = {file: figure for figure, file in pages.AUTHORS_FILES.items()}


def authors_csv(name: str) -> pd.DataFrame:
    """One of the authors' shipped per-seed CSVs, with ``replicate`` copied into ``seed``.

    The copy is for tests of code that needs a ``seed`` column, which use the authors' numbers
    as a realistic fixture. ``replicate`` is a list position, not a seed (PAPER.md §8): a paired
    or seed-clustered result on this frame is a number about the code, never about the authors'
    experiment, and the book shows none (tests/test_agreement.py shuffles the positions).
    """
    frame = pages.authors_per_seed(_FIGURES[name])
    return frame.assign(seed=frame["replicate"]).drop(columns="replicate")
