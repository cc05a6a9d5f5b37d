"""Where in phase 1 the ISR errs: its squared error on each chronological part of phase 1.

Figure 3a's claim of "no measurable gap between train and test performance" compares the
ISR's error on its training split (the first 90 % of phase 1) with its error on the held-out
split (the last 10 %, PAPER.md §4). The two splits differ in more than whether the ISR saw
them: early phase 1 is a learner wandering at random, late phase 1 a learner walking to the
goal. Cutting the training split into parts as long as the held-out one and measuring the
ISR's error on each separates the two: memorisation would show as a held-out error above
that of the training parts just before it; an error that falls along phase 1 and meets the
held-out set at the level of its neighbours shows that late states are easier, not that the
model memorised. First a diagnosis of the reproduced result, this table is now what Fig. 3a's
claim is tested on (``valint.claims``: the held-out tenth against the last training tenth).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from valint.isr import StackedData, Transitions, isr_kernel, stack_isr
from valint.nets import torch_threads

ERROR_BY_PART_COLUMNS = ("part", "split", "first_step", "n_transitions", "goal_fraction", "mse")
"""Columns of :func:`isr_error_by_part` (one row per part; docs/CONTRACTS.md adds ``seed``)."""

_CHUNK = 8192
"""Transitions per forward pass."""


@torch.no_grad()
def squared_errors(transitions: Transitions, weights: Mapping[str, np.ndarray], *,
                   obs_scale: float = 1.0) -> np.ndarray:
    """``(ISR(s, a) - target)^2`` of one trained ISR on every transition, in phase-1 order.

    Computed on one torch thread, so that the same ISR gives the same bits whichever process
    and thread setting builds the table (a sum split over threads rounds differently).

    Args:
        transitions: a phase-1 run's transitions (``valint.experiments.transitions_of``).
        weights: the ISR's weights (``valint.experiments.isr_weights``).
        obs_scale: the factor the ISR applies to the view (``world_obs_scale(..., network="isr")``).
    """
    data = StackedData([transitions], obs_scale=obs_scale)
    kernel = isr_kernel(stack_isr([dict(weights)]))
    errors = np.empty(len(transitions), dtype=np.float64)
    with torch_threads(1):
        for start in range(0, len(transitions), _CHUNK):
            index = torch.arange(start, min(start + _CHUNK, len(transitions)))
            x, y = data.inputs(index, torch.empty((len(index), data.codes.shape[1])))
            prediction = kernel.forward(x, len(index), mode="predict").reshape(-1)
            errors[start:start + len(index)] = ((prediction - y) ** 2).numpy()
    return errors


def isr_error_by_part(transitions: Transitions, weights: Mapping[str, np.ndarray], *,
                      test_fraction: float, n_train_parts: int = 9,
                      obs_scale: float = 1.0) -> pd.DataFrame:
    """The ISR's mean squared error on consecutive parts of phase 1 (Fig. 3a, diagnosis).

    The training split is cut into ``n_train_parts`` consecutive parts of (nearly) equal
    length; the held-out split (the last ``test_fraction``, ``Transitions.split``) is the last
    part. With ``test_fraction`` 0.1 and 9 training parts every part is a tenth of phase 1.

    Args:
        transitions: a phase-1 run's transitions.
        weights: the ISR trained on that run's training split.
        test_fraction: the ISR's held-out fraction (``ISRConfig.test_fraction``), above 0.
        n_train_parts: parts of the training split, at least 1.
        obs_scale: as in :func:`squared_errors`.

    Returns:
        :data:`ERROR_BY_PART_COLUMNS`: ``part`` 1, 2, ... in phase-1 order; ``split`` "train"
        or "test"; ``first_step`` the part's first transition; ``n_transitions``;
        ``goal_fraction`` the share of goal steps (target 0.4); ``mse``.

    Raises:
        ValueError: if ``test_fraction`` leaves no held-out transition, or ``n_train_parts`` is
            not a whole number from 1 to the training split's length.
    """
    train, test = transitions.split(test_fraction)
    if len(test) == 0:
        raise ValueError(f"test_fraction={test_fraction!r} holds out no transition of "
                         f"{len(transitions)}; the ISR's error by part needs a held-out split")
    if isinstance(n_train_parts, bool) or not isinstance(n_train_parts, (int, np.integer)) or not (
            1 <= n_train_parts <= len(train)):
        raise ValueError(f"n_train_parts must be a whole number from 1 to {len(train)} (the "
                         f"training transitions), got {n_train_parts!r}")
    errors = squared_errors(transitions, weights, obs_scale=obs_scale)
    goals = np.asarray(transitions.targets) > 0
    parts = [(p, "train") for p in np.array_split(train, n_train_parts)] + [(test, "test")]
    return pd.DataFrame(
        [{"part": i, "split": split, "first_step": int(index[0]), "n_transitions": len(index),
          "goal_fraction": float(goals[index].mean()), "mse": float(errors[index].mean())}
         for i, (index, split) in enumerate(parts, start=1)],
        columns=list(ERROR_BY_PART_COLUMNS),
    )
