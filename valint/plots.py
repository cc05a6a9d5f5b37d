"""One function per figure panel of Rong & Kleiman-Weiner (2024), drawn from tidy tables.

Every ``plot_*`` function takes the tidy frames of ``docs/CONTRACTS.md`` and keyword-only
options, draws on ``ax`` when one is given (and makes a figure only when none is), and returns
the matplotlib :class:`~matplotlib.figure.Figure`. Plot functions run no statistical tests and
touch no files: the tests live in ``valint.stats`` and the tables are written and read by
``valint.experiments``. The descriptive summaries a panel needs to be drawn (a display
smoothing, the mean across seeds, a min–max band, a standard error bar) are computed here.

Display wording lives in :data:`LABELS` and the colour of each condition in :data:`COLOURS`,
so every figure of the book speaks the paper's words and keeps the paper's colours (PAPER.md §2:
with social rewards blue, without green, ISR red).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import FuncFormatter
from PIL import Image, ImageDraw, ImageFont

from valint.stats import isr_error_by_part_summary

LABELS: dict[str, str] = {
    # Conditions as the bar charts name them (Figs. 4b, 5; PAPER.md §5).
    "frozen": "Frozen",
    "isr": "ISR",
    "oracle": "Oracle",
    "none": "No ISR",
    # Learning-curve legends (Fig. 1b, Fig. 4a and Fig. 7 captions, PAPER.md §2).
    "with_social_rewards": "With social rewards",
    "without_social_rewards": "Without social rewards",
    "with_isr_model": "With ISR model",
    "without_isr_model": "Without ISR model",
    "caregiver_leaves": "Caregiver leaves",
    "seeds": "Single seeds",
    "mean": "Mean",
    # Table columns (docs/CONTRACTS.md) as axis labels.
    "episode": "Episodes",
    "goals_per_episode": "Goals reached",
    "partner_goals_per_episode": "Partner goals reached",
    "internal_reward": "Internal reward",
    "ood_reward": "Reward (OOD)",
    "draws": "Training draws",
    "mse": "MSE",
    "isr_train_transitions": "Training transitions (social rewards)",
    "isr_test_mse": "ISR test loss (MSE)",
    "layout": "Layout",
    # ISR data splits (Fig. 3a caption: "train and test performance").
    "train": "Train",
    "test": "Test",
    # The five OOD layouts of Fig. 5 (PAPER.md §3).
    "plus": "plus",
    "x": "x",
    "U": "U",
    "T": "T",
    "4 rooms": "4 rooms",
}
"""Display wording of every condition, column, split and layout name (the paper's words)."""

COLOURS: dict[str, str] = {
    "oracle": "#1f77b4",
    "none": "#2ca02c",
    "isr": "#d62728",
    "frozen": "#8c8c8c",
    "train": "#1f77b4",
    "test": "#ff7f0e",
}
"""One fixed colour per condition (PAPER.md §2: social rewards blue, none green, ISR red)."""

CONDITION_ORDER: tuple[str, ...] = ("frozen", "isr", "oracle")
"""Bar order of Figs. 4b and 5."""

LAYOUT_ORDER: tuple[str, ...] = ("plus", "x", "U", "T", "4 rooms")
"""Group order of Fig. 5 (PAPER.md §3)."""

Smoothing = float | int | None
Band = Literal["minmax", "sem"] | None


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}; see docs/CONTRACTS.md")
    if frame.empty:
        raise ValueError(f"{name} is empty")


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.get_figure(), ax


def smooth(values: Sequence[float] | np.ndarray, smoothing: Smoothing) -> np.ndarray:
    """Smooths one run's curve for display, as the paper's curves are (Figs. 1b, 3a, 4a, 6, 7).

    Args:
        values: One seed's values in episode (or draw) order.
        smoothing: A float in ``[0, 1)`` is the weight of an exponential moving average,
            ``s_t = w * s_{t-1} + (1 - w) * x_t`` with ``s_0 = x_0`` (the paper's "EMA 0.8",
            TensorBoard's convention). An int ``>= 1`` is the width of a trailing moving
            average (shorter at the start). ``None`` or ``0`` leaves the values as they are.

    Returns:
        The smoothed values, a float array of the same length.
    """
    x = np.asarray(values, dtype=float)
    if smoothing is None or smoothing == 0:
        return x.copy()
    series = pd.Series(x)
    if isinstance(smoothing, (int, np.integer)) and not isinstance(smoothing, bool):
        if smoothing < 1:
            raise ValueError(f"a smoothing window must be >= 1, got {smoothing}")
        return series.rolling(int(smoothing), min_periods=1).mean().to_numpy()
    if not 0.0 <= float(smoothing) < 1.0:
        raise ValueError(f"an EMA weight must lie in [0, 1), got {smoothing}")
    return series.ewm(alpha=1.0 - float(smoothing), adjust=False).mean().to_numpy()


def _thousands(x: float, _pos: int) -> str:
    return f"{x / 1000:g}K" if x != 0 else "0"


def _seed_matrix(rows: pd.DataFrame, x: str, value: str, smoothing: Smoothing) -> pd.DataFrame:
    """Each seed's smoothed curve as one column, indexed by ``x`` so that seeds align on it."""
    columns = {}
    for seed, run in rows.sort_values(x).groupby("seed", sort=True):
        run = run.dropna(subset=[value])
        columns[seed] = pd.Series(smooth(run[value].to_numpy(), smoothing),
                                  index=run[x].to_numpy())
    return pd.DataFrame(columns).sort_index()


def plot_learning_curves(
    curves: pd.DataFrame,
    *,
    value: str = "goals_per_episode",
    conditions: Sequence[str] = ("oracle", "none"),
    labels: Mapping[str, str] | None = None,
    phases: Mapping[str, Sequence[int]] | None = None,
    smoothing: Smoothing = 0.8,
    caregiver_leaves_at: float | None = None,
    band: Band = "minmax",
    ax: Axes | None = None,
) -> Figure:
    """Learning curves: mean over seeds of each seed's smoothed curve, with a band across seeds.

    Paper Figs. 1b, 4a and 7 (PAPER.md §2, §6). Each seed's curve is smoothed first and the
    smoothed curves are then averaged per episode, so the band shows the spread of the smoothed
    runs ("Traces averaged over ten seeds and smoothed. Bands show the min and max."). Seeds are
    aligned on ``episode``; where a seed lacks an episode the mean and band use the others.

    Args:
        curves: The ``curves`` table of Figs. 1, 4 or 7 (docs/CONTRACTS.md): ``seed``,
            ``condition``, ``phase``, ``episode`` and the ``value`` column. Phase-1 rows carry
            condition ``"oracle"`` (the caregiver is present).
        value: Column drawn on the y axis (``goals_per_episode``; ``partner_goals_per_episode``
            for Fig. 7).
        conditions: Conditions to draw, one line each, in legend order. A condition selects
            all rows with that condition, so ``"oracle"`` runs through phase 1 into phase 2.
        labels: Legend label per condition; default ``LABELS[condition]``.
        phases: Phases drawn per condition, e.g. ``{"oracle": (1,)}`` to draw the caregiver's
            curve in phase 1 only (Figs. 4a, 7); default every phase present.
        smoothing: EMA weight in ``[0, 1)`` or a window width, see :func:`smooth`.
        caregiver_leaves_at: Episode at which the caregiver leaves; draws a dotted vertical
            line there. ``None`` draws none.
        band: ``"minmax"`` (min and max of the smoothed seeds, as the paper), ``"sem"`` (±1
            standard error of the mean) or ``None``.
        ax: Axis to draw on; a new 6×4 inch figure when ``None``.

    Returns:
        The figure holding ``ax``.
    """
    _require_columns(curves, ["seed", "condition", "phase", "episode", value], "curves")
    if band not in ("minmax", "sem", None):
        raise ValueError(f"band must be 'minmax', 'sem' or None, got {band!r}")
    labels = {} if labels is None else dict(labels)
    phases = {} if phases is None else dict(phases)
    fig, ax = _new_axes(ax, (6.0, 4.0))

    for condition in conditions:
        rows = curves[curves["condition"] == condition]
        if condition in phases:
            rows = rows[rows["phase"].isin(list(phases[condition]))]
        if rows.empty:
            raise ValueError(f"curves has no rows for condition {condition!r}")
        runs = _seed_matrix(rows, "episode", value, smoothing)
        mean = runs.mean(axis=1)
        colour = COLOURS.get(condition, "0.2")
        ax.plot(mean.index, mean.to_numpy(), color=colour, lw=1.6,
                label=labels.get(condition, LABELS.get(condition, condition)))
        if band == "minmax":
            low, high = runs.min(axis=1), runs.max(axis=1)
        elif band == "sem":
            sem = runs.sem(axis=1).fillna(0.0)
            low, high = mean - sem, mean + sem
        if band is not None:
            ax.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=colour,
                            alpha=0.2, lw=0, gid=f"band:{condition}")

    if caregiver_leaves_at is not None:
        ax.axvline(caregiver_leaves_at, color="0.25", ls=":", lw=1.5,
                   label=LABELS["caregiver_leaves"], gid="caregiver_leaves")
    ax.set_xlabel(LABELS["episode"])
    ax.set_ylabel(LABELS.get(value, value))
    if curves["episode"].max() >= 2000:
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.legend(loc="best", framealpha=0.85, edgecolor="none")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _phase1_end(curves: pd.DataFrame) -> float | None:
    """Last phase-1 episode: where the caregiver leaves (PAPER.md §6, "at 6K episodes")."""
    phase1 = curves.loc[curves["phase"] == 1, "episode"]
    return None if phase1.empty else float(phase1.max())


def plot_fig1b(curves: pd.DataFrame, *, smoothing: Smoothing = 0.8,
               ax: Axes | None = None) -> Figure:
    """Fig. 1 (right): learning with (blue) and without (green) social rewards.

    The oracle runs with the caregiver through both phases; the ``none`` runs lose it after
    phase 1 (dotted line) and unlearn the goal-directed behaviour. PAPER.md §2, §6 row 1b.

    Args:
        curves: The Fig. 1 ``curves`` table (docs/CONTRACTS.md).
        smoothing: EMA weight or window, see :func:`smooth`.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    _require_columns(curves, ["phase"], "curves")
    return plot_learning_curves(
        curves, value="goals_per_episode", conditions=("oracle", "none"),
        labels={"oracle": LABELS["with_social_rewards"],
                "none": LABELS["without_social_rewards"]},
        smoothing=smoothing, caregiver_leaves_at=_phase1_end(curves), band="minmax", ax=ax)


def plot_fig4a(curves: pd.DataFrame, *, smoothing: Smoothing = 0.8,
               ax: Axes | None = None) -> Figure:
    """Fig. 4 (left): the ISR model prevents unlearning after the caregiver leaves.

    Phase 1 with the caregiver in blue ("With social rewards"), phase 2 with the ISR in red
    ("With ISR model") and without it in green ("Without ISR model"). PAPER.md §2, §6 row 4a.

    Args:
        curves: The Fig. 4 ``curves`` table (docs/CONTRACTS.md); phase-2 oracle rows, if any,
            are not drawn.
        smoothing: EMA weight or window, see :func:`smooth`.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    return _with_and_without_isr(curves, "goals_per_episode", smoothing, ax)


def _with_and_without_isr(curves: pd.DataFrame, value: str, smoothing: Smoothing,
                          ax: Axes | None) -> Figure:
    """Phase 1 with the caregiver, then phase 2 with and without the ISR (Figs. 4a and 7)."""
    _require_columns(curves, ["phase"], "curves")
    return plot_learning_curves(
        curves, value=value, conditions=("oracle", "isr", "none"),
        labels={"oracle": LABELS["with_social_rewards"], "isr": LABELS["with_isr_model"],
                "none": LABELS["without_isr_model"]},
        phases={"oracle": (1,)}, smoothing=smoothing,
        caregiver_leaves_at=_phase1_end(curves), band="minmax", ax=ax)


def plot_fig7(curves: pd.DataFrame, *, smoothing: Smoothing = 0.8,
              ax: Axes | None = None) -> Figure:
    """Fig. 7: prosocial helping is internalized (two-agent world, PAPER.md §7).

    The partner's goals per episode: phase 1 with social rewards, then with and without the
    ISR model. PAPER.md §2, §6 row 7.

    Args:
        curves: The Fig. 7 ``curves`` table (docs/CONTRACTS.md).
        smoothing: EMA weight or window, see :func:`smooth`.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    return _with_and_without_isr(curves, "partner_goals_per_episode", smoothing, ax)


def plot_fig3a(isr_curve: pd.DataFrame, *, seed: int | None = None, smoothing: Smoothing = 0.8,
               ax: Axes | None = None) -> Figure:
    """Fig. 3 (left): the ISR's train and held-out (test) MSE during its training, one seed.

    PAPER.md §2, §6 row 3a ("EMA 0.8, one seed"). The held-out MSE is measured without updating
    the model (PAPER.md §9).

    Args:
        isr_curve: The Fig. 3 ``isr_curve`` table: ``seed``, ``draws``, ``split``
            (``train``/``test``), ``mse``.
        seed: Seed to draw; default the first seed in the table.
        smoothing: EMA weight or window, see :func:`smooth`.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    _require_columns(isr_curve, ["seed", "draws", "split", "mse"], "isr_curve")
    seed = isr_curve["seed"].iloc[0] if seed is None else seed
    run = isr_curve[isr_curve["seed"] == seed]
    if run.empty:
        raise ValueError(f"isr_curve has no rows for seed {seed!r}")
    fig, ax = _new_axes(ax, (5.0, 3.6))
    for split in ("train", "test"):
        rows = run[run["split"] == split].sort_values("draws")
        if rows.empty:
            continue
        ax.plot(rows["draws"].to_numpy(), smooth(rows["mse"].to_numpy(), smoothing),
                color=COLOURS[split], lw=1.6, label=LABELS[split])
    ax.set_xlabel(LABELS["draws"])
    ax.set_ylabel(LABELS["mse"])
    ax.set_ylim(bottom=0.0)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_isr_error_by_part(isr_error_by_part: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Fig. 3a, diagnosis: the ISR's MSE on each tenth of phase 1, and the share of goal steps.

    Mean over seeds with ±1 standard-error bars (log axis); the training parts in the train
    colour, the held-out last part in the test colour; the share of goal steps on a second
    axis (grey). ``valint.isr_errors`` says why.

    Args:
        isr_error_by_part: The Fig. 3 ``isr_error_by_part`` table (docs/CONTRACTS.md).
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    _require_columns(isr_error_by_part, ["seed", "part", "split", "goal_fraction", "mse"],
                     "isr_error_by_part")
    summary = isr_error_by_part_summary(isr_error_by_part)
    fig, ax = _new_axes(ax, (5.0, 3.6))
    for split in ("train", "test"):
        rows = summary[summary["split"] == split]
        mean, sem = rows["mse"].to_numpy(), rows["mse_sem"].fillna(0.0).to_numpy()
        ax.errorbar(rows["part"].to_numpy(), mean, yerr=np.vstack([np.minimum(sem, 0.9 * mean), sem]),
                    color=COLOURS[split], marker="o", ms=5, lw=1.4, capsize=3, label=LABELS[split])
    ax.set_yscale("log")
    ax.set_xticks(summary["part"].to_numpy())
    ax.set_xlabel("Tenth of phase 1 (in training order)")
    ax.set_ylabel(LABELS["mse"])
    goals = ax.twinx()
    goals.plot(summary["part"].to_numpy(), summary["goal_fraction"].to_numpy(), color="0.55", ls="--",
               lw=1.2, label="Share of goal steps")
    goals.set_ylim(0, None)
    goals.set_ylabel("Share of goal steps", color="0.4")
    goals.spines[["top"]].set_visible(False)
    ax.spines[["top"]].set_visible(False)
    (handles, labels), (more_handles, more_labels) = (ax.get_legend_handles_labels(),
                                                      goals.get_legend_handles_labels())
    ax.legend(handles + more_handles, labels + more_labels, frameon=False, fontsize=8, ncol=3,
              loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return fig


def plot_fig3b(isr_data_size: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Fig. 3 (right): held-out ISR loss falls with more social-reward training data.

    Mean across seeds with ±1 standard-error bars, log–log axes as the paper. PAPER.md §2,
    §6 row 3b.

    Args:
        isr_data_size: The Fig. 3 ``isr_data_size`` table: ``seed``,
            ``isr_train_transitions``, ``isr_test_mse``.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    _require_columns(isr_data_size, ["seed", "isr_train_transitions", "isr_test_mse"],
                     "isr_data_size")
    summary = (isr_data_size.groupby("isr_train_transitions")["isr_test_mse"]
               .agg(["mean", "sem"]).sort_index())
    sem = summary["sem"].fillna(0.0).to_numpy()
    mean = summary["mean"].to_numpy()
    # On a log axis a bar may not reach below zero; clip the lower half at a tenth of the mean.
    lower = np.minimum(sem, 0.9 * mean)
    fig, ax = _new_axes(ax, (5.0, 3.6))
    ax.errorbar(summary.index.to_numpy(), mean, yerr=np.vstack([lower, sem]), color="0.15",
                marker="o", ms=5, lw=1.4, capsize=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(LABELS["isr_train_transitions"])
    ax.set_ylabel(LABELS["isr_test_mse"])
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_phase1_length(by_length: pd.DataFrame, *, chosen: int | None = None,
                       ax: Axes | None = None) -> Figure:
    """How many seeds had learned to help, had phase 1 of Fig. 7 ended earlier (PAPER.md §7).

    Args:
        by_length: from ``valint.stats.phase1_learning_by_length``.
        chosen: a phase-1 length to mark (the quick profile's), in environment steps.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure: seeds learned against the length of phase 1, the number of seeds dashed.
    """
    _require_columns(by_length, ["env_steps", "seeds", "seeds_learned"], "by_length")
    fig, ax = _new_axes(ax, (6.0, 3.0))
    ax.step(by_length["env_steps"], by_length["seeds_learned"], where="mid", color="0.15", lw=1.4)
    ax.axhline(int(by_length["seeds"].max()), color="0.6", ls="--", lw=1)
    if chosen is not None:
        ax.axvline(chosen, color=COLOURS["train"], lw=1.2)
        ax.annotate("profile", (chosen, 0.5), xytext=(4, 0), textcoords="offset points",
                    color=COLOURS["train"], fontsize=9)
    ax.set_ylim(0, int(by_length["seeds"].max()) + 0.5)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlabel("length of phase 1 (environment steps)")
    ax.set_ylabel("seeds that learned to help")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_phase2_length(by_length: pd.DataFrame, *, chosen: int | None = None,
                       ax: Axes | None = None) -> Figure:
    """How do groups of the recorded seeds come out, had phase 2 of Fig. 7 ended earlier?

    The groups are resamples of one record's seeds (they overlap), each with the record's full
    phase 1: the shares describe those seeds, not the chance that a new run decides.

    Args:
        by_length: from ``valint.claims.fig7_verdicts_by_phase2_length``.
        chosen: a phase-2 length to mark (a profile's), in environment steps.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure: per claim, in the colour of the claim's condition, the share of groups whose
        verdict is holds (solid) and fails (dotted), against the length of phase 2.
    """
    _require_columns(by_length, ["env_steps", "claim_id", "groups", "holds", "fails"], "by_length")
    fig, ax = _new_axes(ax, (6.0, 3.0))
    for claim_id, rows in by_length.groupby("claim_id", sort=False):
        condition = "isr" if "_isr_" in claim_id else "none"
        for verdict, style in (("holds", "-"), ("fails", ":")):
            share = 100 * rows[verdict] / rows["groups"]
            ax.step(rows["env_steps"], share, where="mid", color=COLOURS[condition], lw=1.4,
                    ls=style, label=f"{LABELS[condition]}: {verdict}")
    ax.axhline(100, color="0.6", ls="--", lw=1)
    if chosen is not None:
        ax.axvline(chosen, color="0.15", lw=1.2)
        ax.annotate("profile", (chosen, 4), xytext=(4, 0), textcoords="offset points",
                    color="0.15", fontsize=9)
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlabel("length of phase 2 (environment steps)")
    ax.set_ylabel("groups of recorded seeds (%)")
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5),
              title="claim about", title_fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _seed_offsets(n: int, half_width: float) -> np.ndarray:
    """Deterministic horizontal offsets of ``n`` per-seed points within a bar (a strip plot)."""
    return np.zeros(1) if n == 1 else np.linspace(-half_width, half_width, n)


def _bars_with_seeds(ax: Axes, rows: pd.DataFrame, centre: float, width: float,
                     colour: str, label: str | None) -> None:
    values = rows.sort_values("seed")["ood_reward"].to_numpy(dtype=float)
    sem = float(pd.Series(values).sem()) if len(values) > 1 else 0.0
    ax.bar(centre, values.mean(), width=width, color=colour, alpha=0.85, label=label,
           edgecolor="none", yerr=sem, capsize=4, error_kw={"elinewidth": 1.3, "ecolor": "0.1"},
           zorder=2)
    ax.scatter(centre + _seed_offsets(len(values), 0.3 * width), values, s=12, color="0.1",
               alpha=0.7, lw=0, zorder=3)


def plot_fig4b(ood: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Fig. 4 (right): OOD reward in five-wall layouts after training with one wall.

    Bars are the mean per condition (Frozen, ISR, Oracle) with ±1 standard-error bars and the
    per-seed returns as points. "Frozen" kept training in the training layouts with the
    caregiver and meets the OOD layouts zero-shot (PAPER.md §5). PAPER.md §2, §6 row 4b.

    Args:
        ood: The Fig. 4 ``ood`` table: ``seed``, ``condition``, ``layout``, ``ood_reward``.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    _require_columns(ood, ["seed", "condition", "ood_reward"], "ood")
    fig, ax = _new_axes(ax, (3.6, 3.6))
    present = [c for c in CONDITION_ORDER if c in set(ood["condition"])]
    for i, condition in enumerate(present):
        _bars_with_seeds(ax, ood[ood["condition"] == condition], i, 0.7, COLOURS[condition],
                         None)
    ax.set_xticks(range(len(present)), [LABELS[c] for c in present])
    ax.set_xlim(-0.6, len(present) - 0.4)
    ax.set_ylabel(LABELS["ood_reward"])
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_fig5(ood: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Fig. 5: OOD reward per custom layout (plus, x, U, T, 4 rooms), bars grouped by layout.

    Within each layout one bar per condition (Frozen, ISR, Oracle): mean with ±1 standard-error
    bars and the per-seed returns as points. PAPER.md §2, §3, §6 row 5.

    Args:
        ood: The Fig. 5 ``ood`` table: ``seed``, ``condition``, ``layout``, ``ood_reward``.
        ax: Axis to draw on; a new figure when ``None``.

    Returns:
        The figure holding the panel.
    """
    _require_columns(ood, ["seed", "condition", "layout", "ood_reward"], "ood")
    present_layouts = set(ood["layout"])
    layouts = [lay for lay in LAYOUT_ORDER if lay in present_layouts]
    layouts += sorted(present_layouts - set(LAYOUT_ORDER))
    conditions = [c for c in CONDITION_ORDER if c in set(ood["condition"])]
    fig, ax = _new_axes(ax, (7.5, 3.8))
    width = 0.8 / len(conditions)
    for j, condition in enumerate(conditions):
        label = LABELS[condition]
        for i, layout in enumerate(layouts):
            rows = ood[(ood["condition"] == condition) & (ood["layout"] == layout)]
            if rows.empty:
                continue
            centre = i + (j - (len(conditions) - 1) / 2) * width
            _bars_with_seeds(ax, rows, centre, width * 0.92, COLOURS[condition], label)
            label = None
    ax.set_xticks(range(len(layouts)), [LABELS.get(lay, lay) for lay in layouts])
    ax.set_xlabel(LABELS["layout"])
    ax.set_ylabel(LABELS["ood_reward"])
    ax.legend(frameon=False, ncols=len(conditions), loc="lower center",
              bbox_to_anchor=(0.5, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_agreement(agreement: pd.DataFrame, *, axes: Sequence[Axes] | None = None) -> Figure:
    """Forest plot of ours − the authors' per cell, in % of the authors' mean, one panel per figure.

    Each cell (a row of ``valint.agreement.agreement_table``): the difference of means as a dot,
    its 95 % Welch interval as a thin line and its 90 % interval (the one TOST reads) as a thick
    line, all divided by the authors' mean; the grey band is the equivalence margin. A cell is
    shown equivalent when its thick line lies inside the band, and differs (before Holm's
    correction) when its thin line misses zero. Panels have their own scales: Fig. 3b's MSE
    differences are far larger, relative to the authors' means, than the rewards'.

    Args:
        agreement: ``valint.agreement.agreement_table`` (figure, cell, difference, ci_low,
            ci_high, eq_ci_low, eq_ci_high, mean_authors, margin_pct, verdict).
        axes: One axis per figure of the table; a new figure when ``None``.

    Returns:
        The figure holding the panels.
    """
    _require_columns(agreement, ["figure", "cell", "difference", "ci_low", "ci_high", "eq_ci_low",
                                 "eq_ci_high", "mean_authors", "margin_pct", "verdict"],
                     "agreement")
    figures = list(dict.fromkeys(agreement["figure"]))
    sizes = [int((agreement["figure"] == f).sum()) for f in figures]
    if axes is None:
        fig, axes = plt.subplots(len(figures), 1, figsize=(7.0, 0.32 * sum(sizes) + 1.2 * len(figures)),
                                 height_ratios=[n + 1.5 for n in sizes], layout="constrained",
                                 squeeze=False)
        axes = list(axes[:, 0])
    fig = axes[0].get_figure()
    for ax, figure in zip(axes, figures):
        rows = agreement[agreement["figure"] == figure].reset_index(drop=True)
        scale = 100 / rows["mean_authors"].abs().to_numpy()
        y = np.arange(len(rows))[::-1]
        margin = float(rows["margin_pct"].iloc[0])
        ax.axvspan(-margin, margin, color="0.88", zorder=0,
                   label=f"±{margin:.0f} % of the authors' mean")
        ax.axvline(0, color="0.4", lw=0.8, zorder=1)
        colours = np.where(rows["verdict"] == "differs", COLOURS["isr"], "0.15")
        ax.hlines(y, rows["ci_low"] * scale, rows["ci_high"] * scale, colors=colours, lw=1.0,
                  zorder=2, label="95 % CI")
        ax.hlines(y, rows["eq_ci_low"] * scale, rows["eq_ci_high"] * scale, colors=colours,
                  lw=3.2, zorder=3, label="90 % CI (TOST)")
        ax.scatter(rows["difference"] * scale, y, color=colours, s=18, zorder=4)
        ax.set_yticks(y, rows["cell"])
        ax.set_ylim(-0.8, len(rows) - 0.2)
        ax.set_title(f"Figure {figure}", loc="left", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlabel("Ours − authors' mean, % of the authors' mean")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, loc="outside upper center", ncols=3, fontsize=8)
    return fig


def plot_fig6(curves: pd.DataFrame, *, smoothing: Smoothing = 0.8,
              axes: Sequence[Axes] | None = None) -> Figure:
    """Fig. 6: reward hacking on an under-trained ISR in the "x" layout, after the caregiver left.

    Left "Internal reward", right "Goals reached", per episode of phase 2: each seed thin,
    their mean thick. The internal reward rises while the goals reached do not. PAPER.md §2,
    §6 row 6.

    Args:
        curves: The Fig. 6 ``curves`` table: ``seed``, ``episode``, ``internal_reward``,
            ``goals_per_episode``.
        smoothing: EMA weight or window, see :func:`smooth`.
        axes: Two axes to draw on; a new 10×3.6 inch figure when ``None``.

    Returns:
        The figure holding both panels.
    """
    _require_columns(curves, ["seed", "episode", "internal_reward", "goals_per_episode"],
                     "curves")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.6), layout="constrained")
    else:
        if len(axes) != 2:
            raise ValueError(f"plot_fig6 needs two axes, got {len(axes)}")
        fig = axes[0].get_figure()
    colour = COLOURS["isr"]
    for ax, value in zip(axes, ("internal_reward", "goals_per_episode")):
        runs = _seed_matrix(curves, "episode", value, smoothing)
        for seed in runs.columns:
            ax.plot(runs.index, runs[seed].to_numpy(), color=colour, lw=0.6, alpha=0.3)
        ax.plot(runs.index, runs.mean(axis=1).to_numpy(), color=colour, lw=1.8)
        ax.set_title(LABELS[value])
        ax.set_xlabel(LABELS["episode"])
        if curves["episode"].max() >= 2000:
            ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.spines[["top", "right"]].set_visible(False)
    n_seeds = curves["seed"].nunique()
    axes[0].legend(
        [Line2D([], [], color=colour, lw=0.6, alpha=0.5), Line2D([], [], color=colour, lw=1.8)],
        [LABELS["seeds"], f"{LABELS['mean']} ({n_seeds} seeds)"], frameon=False)
    return fig


_DOTTED = (0, (1.2, 1.8))
"""Line style of what is not always present: the caregiver and its social reward (Fig. 2)."""


def _box(ax: Axes, xy: tuple[float, float], size: tuple[float, float], title: str, *,
         subtitle: str | None = None, face: str, edge: str, dotted: bool = False,
         subtitle_colour: str = "0.25") -> None:
    (x, y), (w, h) = xy, size
    ax.add_patch(FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.16",
        facecolor=face, edgecolor=edge, lw=1.8, ls=_DOTTED if dotted else "-", zorder=2))
    if subtitle is None:
        ax.text(x, y, title, ha="center", va="center", fontsize=12.5, weight="bold",
                color="0.1", zorder=3)
        return
    ax.text(x, y + 0.2, title, ha="center", va="center", fontsize=12.5, weight="bold",
            color="0.1", zorder=3)
    ax.text(x, y - 0.25, subtitle, ha="center", va="center", fontsize=10,
            color=subtitle_colour, zorder=3)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], *, colour: str,
           dotted: bool = False) -> None:
    """A straight arrow; a dotted one keeps a solid head so that its direction stays legible."""
    tail, tip = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    direction = (tip - tail) / np.hypot(*(tip - tail))
    base = tip - 0.25 * direction
    ax.add_patch(FancyArrowPatch(
        tuple(tail), tuple(base + 0.05 * direction), arrowstyle="-", color=colour, lw=1.8,
        ls=_DOTTED if dotted else "-", shrinkA=0, shrinkB=0, capstyle="butt", zorder=1))
    ax.add_patch(FancyArrowPatch(
        tuple(base), tuple(tip), arrowstyle="-|>,head_length=7,head_width=3.5", color=colour,
        lw=1.8, shrinkA=0, shrinkB=0, joinstyle="miter", zorder=1))


def _label(ax: Axes, xy: tuple[float, float], text: str, *, colour: str = "0.1",
           ha: str = "center", fontsize: float = 11.5, style: str = "normal") -> None:
    ax.text(*xy, text, ha=ha, va="center", fontsize=fontsize, color=colour, style=style,
            zorder=4)


def plot_fig2(*, ax: Axes | None = None) -> Figure:
    """Fig. 2: the agent architectures, drawn with matplotlib patches (PAPER.md §2 Fig. 2, §1).

    Left, standard RL: the environment sends the state s and the extrinsic reward R_e to the
    agent, whose policy acts on the environment. Right, learning from social rewards (the
    MDP-SR): the caregiver and its social reward R_s are dotted because they are not always
    present; when present they shape the policy and train the ISR model, which provides the
    internal reward R_i once the caregiver is absent. The utility is
    U = R_e + P·R_s + (1−P)·R_i with P = 1 while the caregiver is present.

    Args:
        ax: Axis to draw on (its frame is hidden); a new 10×4 inch figure when ``None``.

    Returns:
        The figure holding the diagram.
    """
    fig, ax = _new_axes(ax, (10.0, 4.0))
    ax.set_xlim(0.0, 20.0)
    ax.set_ylim(0.0, 8.0)
    ax.set_aspect("equal")
    ax.axis("off")
    env_face, env_edge = "#edf3e6", "#4f6d35"
    agent_face, agent_edge = "#f3f3f3", "0.3"
    social, internal, ink = COLOURS["oracle"], COLOURS["isr"], "0.15"
    policy = r"policy $\pi(a \mid s)$"

    # Left: standard RL, the agent-environment loop.
    ax.text(4.2, 7.6, "Standard RL", ha="center", va="center", fontsize=13.5, weight="bold")
    agent, env = (4.2, 5.0), (4.2, 1.9)
    _box(ax, agent, (3.4, 1.2), "Agent", subtitle=policy, face=agent_face, edge=agent_edge)
    _box(ax, env, (3.4, 1.0), "Environment", face=env_face, edge=env_edge)
    _arrow(ax, (5.2, agent[1] - 0.6), (5.2, env[1] + 0.5), colour=ink)
    _label(ax, (5.4, 3.45), r"action $a$", ha="left")
    _arrow(ax, (3.2, env[1] + 0.5), (3.2, agent[1] - 0.6), colour=ink)
    _label(ax, (3.0, 3.45), "state $s$\n" + r"reward $R_e$", ha="right")
    ax.text(4.2, 0.75, r"$U = R_e$", ha="center", va="center", fontsize=14)

    ax.plot([8.6, 8.6], [0.3, 7.8], color="0.82", lw=1.0)

    # Right: learning from social rewards.
    ax.text(14.3, 7.6, "Learning from social rewards", ha="center", va="center",
            fontsize=13.5, weight="bold")
    agent, env = (14.3, 4.0), (14.3, 1.9)
    isr, caregiver = (10.7, 6.15), (17.9, 6.15)
    _box(ax, agent, (3.4, 1.2), "Agent", subtitle=policy, face=agent_face, edge=agent_edge)
    _box(ax, env, (3.4, 1.0), "Environment", face=env_face, edge=env_edge)
    _box(ax, isr, (3.2, 1.2), "ISR model", subtitle=r"predicts $R_s(s, a)$",
         face="#fcecec", edge=internal, subtitle_colour=internal)
    _box(ax, caregiver, (3.2, 1.2), "Caregiver", subtitle="not always present",
         face="#eaf2fb", edge=social, dotted=True, subtitle_colour=social)

    _arrow(ax, (15.3, agent[1] - 0.6), (15.3, env[1] + 0.5), colour=ink)
    _label(ax, (15.5, 2.95), r"$a$", ha="left")
    _arrow(ax, (13.3, env[1] + 0.5), (13.3, agent[1] - 0.6), colour=ink)
    _label(ax, (13.1, 2.95), r"$s,\ R_e$", ha="right")

    # The caregiver's social reward shapes the policy and trains the ISR (dotted: not always).
    _arrow(ax, (caregiver[0] - 0.9, caregiver[1] - 0.6), (agent[0] + 1.1, agent[1] + 0.6),
           colour=social, dotted=True)
    _label(ax, (16.75, 5.05), r"$R_s$", colour=social, ha="left", fontsize=13)
    _label(ax, (16.75, 4.6), "caregiver present", colour=social, ha="left", fontsize=9.5,
           style="italic")
    _arrow(ax, (caregiver[0] - 1.6, caregiver[1]), (isr[0] + 1.6, isr[1]), colour=social,
           dotted=True)
    _label(ax, (14.3, 6.4), r"trains on $R_s$", colour=social, fontsize=10.5)
    # The ISR's internal reward replaces R_s once the caregiver has left.
    _arrow(ax, (isr[0] + 0.9, isr[1] - 0.6), (agent[0] - 1.1, agent[1] + 0.6), colour=internal)
    _label(ax, (11.85, 5.05), r"$R_i$", colour=internal, ha="right", fontsize=13)
    _label(ax, (11.85, 4.6), "caregiver absent", colour=internal, ha="right", fontsize=9.5,
           style="italic")

    ax.text(14.3, 0.75, r"$U = R_e + P\,R_s + (1 - P)\,R_i$", ha="center", va="center",
            fontsize=14)
    ax.text(14.3, 0.2, r"$P = 1$ while the caregiver is present, $P = 0$ once it has left",
            ha="center", va="center", fontsize=9.5, color="0.35")
    return fig


def plot_grids(images: Sequence[np.ndarray], *, titles: Sequence[str] | None = None,
               ncols: int | None = None) -> Figure:
    """A row (or grid) of rendered layouts, without ticks, each with its title above.

    Used for the three example grids of Fig. 1 (left), the five OOD layouts of Fig. 5 and the
    prosocial layouts of Fig. 7 (PAPER.md §3, §7).

    Args:
        images: RGB images, each ``(height, width, 3)`` (uint8 or floats in ``[0, 1]``).
        titles: One title per image; none when ``None``.
        ncols: Images per row; default all in one row.

    Returns:
        A figure with one axis per image.
    """
    n = len(images)
    if n == 0:
        raise ValueError("plot_grids needs at least one image")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    ncols = n if ncols is None else max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 2.2 * nrows + 0.3 * nrows),
                             squeeze=False, layout="constrained")
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.remove()
            continue
        ax.imshow(np.asarray(images[k]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if titles is not None:
            ax.set_title(LABELS.get(titles[k], titles[k]), fontsize=12)
    return fig


def _to_uint8_rgb(frame: np.ndarray) -> np.ndarray:
    array = np.asarray(frame)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"a frame must be (height, width, 3), got shape {array.shape}")
    if array.dtype != np.uint8:
        array = np.clip(np.round(np.asarray(array, dtype=float) * 255.0), 0, 255).astype(np.uint8)
    return array[..., :3]


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], *, fps: float = 4,
             labels: Sequence[str] | None = None) -> Path:
    """Writes frames (e.g. rendered steps of an episode) as a looping animated GIF with Pillow.

    Used by the book to show episodes of the worlds of PAPER.md §3 and §7. Pillow merges
    consecutive identical frames into one longer frame, so the file may hold fewer frames than
    given when some repeat.

    Args:
        frames: RGB images of one size, each ``(height, width, 3)`` (uint8 or floats in
            ``[0, 1]``).
        path: File to write; its folder must exist.
        fps: Frames per second.
        labels: Optional caption per frame, drawn on a white strip under the image.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    if len(frames) == 0:
        raise ValueError("save_gif needs at least one frame")
    if labels is not None and len(labels) != len(frames):
        raise ValueError(f"{len(labels)} labels for {len(frames)} frames")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    images = [Image.fromarray(_to_uint8_rgb(f)) for f in frames]
    if len({im.size for im in images}) != 1:
        raise ValueError("all frames must have the same size")
    if labels is not None:
        width, height = images[0].size
        font_size = max(10, width // 18)
        font = ImageFont.load_default(size=font_size)
        strip = int(font_size * 1.8)
        captioned = []
        for image, label in zip(images, labels):
            canvas = Image.new("RGB", (width, height + strip), "white")
            canvas.paste(image, (0, 0))
            ImageDraw.Draw(canvas).text((width / 2, height + strip / 2), str(label),
                                        fill=(20, 20, 20), font=font, anchor="mm")
            captioned.append(canvas)
        images = captioned
    path = Path(path)
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(round(1000.0 / fps)), loop=0)
    return path


__all__ = [
    "COLOURS",
    "LABELS",
    "plot_fig1b",
    "plot_fig2",
    "plot_fig3a",
    "plot_fig3b",
    "plot_fig4a",
    "plot_fig4b",
    "plot_fig5",
    "plot_fig6",
    "plot_fig7",
    "plot_grids",
    "plot_learning_curves",
    "save_gif",
    "smooth",
]
