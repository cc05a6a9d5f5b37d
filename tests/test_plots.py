"""Tests of `valint.plots`: each figure panel is drawn in the paper's form from tidy tables."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle
from PIL import Image

from valint import plots

N_SEEDS = 3
PHASE1_EPISODES = 100
PHASE2_EPISODES = 120
LAYOUTS = ("plus", "x", "U", "T", "4 rooms")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Reference EMA written as the paper's recursion, independent of `plots.smooth`."""
    out = np.empty(len(values))
    out[0] = values[0]
    for t in range(1, len(values)):
        out[t] = weight * out[t - 1] + (1.0 - weight) * values[t]
    return out


def _curves(value: str = "goals_per_episode", *, oracle_phase2: bool = True) -> pd.DataFrame:
    """A Fig. 1/4/7 `curves` table: phase 1 oracle, phase 2 oracle, none and isr."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(N_SEEDS):
        for episode in range(1, PHASE1_EPISODES + 1):
            rows.append((seed, "oracle", 1, episode, rng.poisson(2.0), np.nan))
        phase2 = ("oracle", "none", "isr") if oracle_phase2 else ("none", "isr")
        for condition in phase2:
            for episode in range(PHASE1_EPISODES + 1, PHASE1_EPISODES + PHASE2_EPISODES + 1):
                internal = rng.normal(0.8, 0.1) if condition == "isr" else np.nan
                rows.append((seed, condition, 2, episode, rng.poisson(2.0), internal))
    frame = pd.DataFrame(
        rows, columns=["seed", "condition", "phase", "episode", value, "internal_reward"])
    frame["env_steps"] = frame["episode"] * 20
    return frame


def _per_seed_ema(curves: pd.DataFrame, condition: str, value: str,
                  phases: tuple[int, ...] = (1, 2)) -> pd.DataFrame:
    rows = curves[(curves["condition"] == condition) & curves["phase"].isin(phases)]
    return pd.DataFrame({
        seed: pd.Series(_ema(run.sort_values("episode")[value].to_numpy(float), 0.8),
                        index=run.sort_values("episode")["episode"].to_numpy())
        for seed, run in rows.groupby("seed")})


def _line(ax, label: str):
    matches = [line for line in ax.get_lines() if line.get_label() == label]
    assert len(matches) == 1, f"no single line labelled {label!r}"
    return matches[0]


def _band(ax, condition: str):
    matches = [c for c in ax.collections if c.get_gid() == f"band:{condition}"]
    assert len(matches) == 1
    return matches[0].get_paths()[0].vertices


def _ood(layouts: tuple[str, ...] = ("random 5 walls",), n_seeds: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [(seed, condition, layout, base + rng.normal(0.0, 0.05))
            for layout in layouts
            for condition, base in (("oracle", 0.7), ("frozen", 0.5), ("isr", 0.65))
            for seed in range(n_seeds)]
    return pd.DataFrame(rows, columns=["seed", "condition", "layout", "ood_reward"])


def _bar_rectangles(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_smooth_ema_and_window_match_their_definitions():
    x = np.array([0.0, 1.0, 4.0, 2.0, 3.0])
    np.testing.assert_allclose(plots.smooth(x, 0.8), _ema(x, 0.8))
    np.testing.assert_allclose(plots.smooth(x, 2), [0.0, 0.5, 2.5, 3.0, 2.5])
    np.testing.assert_allclose(plots.smooth(x, None), x)
    with pytest.raises(ValueError):
        plots.smooth(x, 1.5)


def test_learning_curves_mean_is_mean_of_smoothed_seeds_and_band_spans_min_max():
    curves = _curves()
    fig = plots.plot_learning_curves(curves, conditions=("oracle", "none"))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    expected = _per_seed_ema(curves, "none", "goals_per_episode")
    line = ax.get_lines()[1]
    np.testing.assert_allclose(line.get_xdata(), expected.index)
    np.testing.assert_allclose(line.get_ydata(), expected.mean(axis=1))
    vertices = _band(ax, "none")
    for episode in (PHASE1_EPISODES + 1, PHASE1_EPISODES + 37):
        ys = vertices[np.isclose(vertices[:, 0], episode), 1]
        assert ys.min() == pytest.approx(expected.loc[episode].min())
        assert ys.max() == pytest.approx(expected.loc[episode].max())


def test_learning_curves_align_seeds_on_episode():
    curves = _curves()
    missing = PHASE1_EPISODES + 10
    curves = curves[~((curves["seed"] == 0) & (curves["episode"] == missing))]
    fig = plots.plot_learning_curves(curves, conditions=("none",), smoothing=None, band=None)
    line = fig.axes[0].get_lines()[0]
    at = np.flatnonzero(line.get_xdata() == missing)[0]
    others = curves[(curves["condition"] == "none") & (curves["episode"] == missing)]
    assert len(others) == N_SEEDS - 1
    assert line.get_ydata()[at] == pytest.approx(others["goals_per_episode"].mean())
    assert not fig.axes[0].collections


def test_learning_curves_draw_dotted_line_where_the_caregiver_leaves():
    fig = plots.plot_learning_curves(_curves(), caregiver_leaves_at=57)
    ax = fig.axes[0]
    vline = _line(ax, "Caregiver leaves")
    assert vline.get_linestyle() == ":"
    assert list(vline.get_xdata()) == [57, 57]


def test_learning_curves_reject_bad_input():
    with pytest.raises(ValueError, match="band"):
        plots.plot_learning_curves(_curves(), band="iqr")
    with pytest.raises(ValueError, match="goals_per_episode"):
        plots.plot_learning_curves(_curves().drop(columns="goals_per_episode"))
    with pytest.raises(ValueError, match="frozen"):
        plots.plot_learning_curves(_curves(), conditions=("frozen",))


def test_fig1b_oracle_blue_through_both_phases_none_green_in_phase2():
    fig = plots.plot_fig1b(_curves())
    ax = fig.axes[0]
    oracle = _line(ax, "With social rewards")
    none = _line(ax, "Without social rewards")
    assert to_rgb(oracle.get_color()) == to_rgb(plots.COLOURS["oracle"])
    assert to_rgb(none.get_color()) == to_rgb(plots.COLOURS["none"])
    assert oracle.get_xdata()[0] == 1
    assert oracle.get_xdata()[-1] == PHASE1_EPISODES + PHASE2_EPISODES
    assert none.get_xdata()[0] == PHASE1_EPISODES + 1
    vline = _line(ax, "Caregiver leaves")
    assert vline.get_linestyle() == ":" and vline.get_xdata()[0] == PHASE1_EPISODES
    assert ax.get_xlabel() == "Episodes" and ax.get_ylabel() == "Goals reached"
    assert len(ax.collections) == 2


def test_fig4a_draws_caregiver_in_phase1_only_and_isr_red():
    curves = _curves()
    fig = plots.plot_fig4a(curves)
    ax = fig.axes[0]
    social = _line(ax, "With social rewards")
    isr = _line(ax, "With ISR model")
    none = _line(ax, "Without ISR model")
    assert social.get_xdata()[-1] == PHASE1_EPISODES
    expected = _per_seed_ema(curves, "oracle", "goals_per_episode", phases=(1,))
    np.testing.assert_allclose(social.get_ydata(), expected.mean(axis=1))
    assert to_rgb(isr.get_color()) == to_rgb(plots.COLOURS["isr"])
    assert to_rgb(none.get_color()) == to_rgb(plots.COLOURS["none"])
    assert isr.get_xdata()[0] == PHASE1_EPISODES + 1
    assert len(ax.collections) == 3
    assert _line(ax, "Caregiver leaves").get_xdata()[0] == PHASE1_EPISODES


def test_fig7_plots_partner_goals_with_the_paper_legend():
    fig = plots.plot_fig7(_curves("partner_goals_per_episode"))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Partner goals reached"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["With social rewards", "With ISR model", "Without ISR model",
                      "Caregiver leaves"]


def test_fig3a_draws_train_and_test_of_one_seed():
    draws = np.arange(0, 500, 10)
    frame = pd.concat([
        pd.DataFrame({"seed": seed, "draws": draws, "split": split,
                      "mse": (seed + 1) * np.exp(-draws / 100) + (split == "test")})
        for seed in (7, 2) for split in ("train", "test")])
    ax = plots.plot_fig3a(frame).axes[0]
    train, test = _line(ax, "Train"), _line(ax, "Test")
    seed7 = frame[(frame["seed"] == 7) & (frame["split"] == "train")]["mse"].to_numpy()
    np.testing.assert_allclose(train.get_ydata(), _ema(seed7, 0.8))
    assert np.all(test.get_ydata() > train.get_ydata())
    ax = plots.plot_fig3a(frame, seed=2, smoothing=None).axes[0]
    seed2 = frame[(frame["seed"] == 2) & (frame["split"] == "train")]["mse"].to_numpy()
    np.testing.assert_allclose(_line(ax, "Train").get_ydata(), seed2)
    assert ax.get_ylabel() == "MSE"


def test_fig3b_log_axes_mean_and_sem_across_seeds():
    sizes = [1_000, 2_000, 4_000, 8_000]
    frame = pd.DataFrame([(seed, n, 1.0 / n * (1 + 0.1 * seed))
                          for seed in range(4) for n in sizes],
                         columns=["seed", "isr_train_transitions", "isr_test_mse"])
    ax = plots.plot_fig3b(frame).axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    line = ax.get_lines()[0]
    grouped = frame.groupby("isr_train_transitions")["isr_test_mse"]
    np.testing.assert_allclose(line.get_xdata(), sizes)
    np.testing.assert_allclose(line.get_ydata(), grouped.mean())
    segments = ax.collections[0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], 2 * grouped.sem())
    assert ax.get_ylabel() == "ISR test loss (MSE)"


def test_isr_error_by_part_draws_train_parts_the_held_out_part_and_goal_share():
    frame = pd.DataFrame([{"seed": seed, "part": part, "split": "test" if part == 10 else "train",
                           "goal_fraction": part / 100, "mse": (seed + 1) * 10.0 ** -part}
                          for seed in range(3) for part in range(1, 11)])
    fig = plots.plot_isr_error_by_part(frame)
    ax, goals = fig.axes
    assert ax.get_yscale() == "log"
    mean = frame.groupby("part")["mse"].mean()
    train, test = (line for line in ax.get_lines() if line.get_marker() == "o")
    np.testing.assert_allclose(train.get_xdata(), range(1, 10))
    np.testing.assert_allclose(train.get_ydata(), mean.iloc[:9])
    np.testing.assert_allclose(test.get_ydata(), [mean.iloc[9]])
    np.testing.assert_allclose(goals.get_lines()[0].get_ydata(), np.arange(1, 11) / 100)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Train", "Test", "Share of goal steps"]


def test_fig4b_three_bars_at_condition_means_in_paper_order():
    ood = _ood()
    ax = plots.plot_fig4b(ood).axes[0]
    bars = _bar_rectangles(ax)
    means = ood.groupby("condition")["ood_reward"].mean()
    assert [b.get_height() for b in bars] == pytest.approx(
        [means["frozen"], means["isr"], means["oracle"]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Frozen", "ISR", "Oracle"]
    assert [to_rgb(b.get_facecolor()) for b in bars] == [
        to_rgb(plots.COLOURS[c]) for c in ("frozen", "isr", "oracle")]
    assert ax.get_ylabel() == "Reward (OOD)"
    points = np.vstack([c.get_offsets() for c in ax.collections
                        if isinstance(c, PathCollection)])
    assert sorted(points[:, 1]) == pytest.approx(sorted(ood["ood_reward"]))
    sems = ood.groupby("condition")["ood_reward"].sem()
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    for container, condition in zip(containers, ("frozen", "isr", "oracle")):
        (low, high), = [seg[:, 1] for seg in container.errorbar.lines[2][0].get_segments()]
        assert (low, high) == pytest.approx(
            (means[condition] - sems[condition], means[condition] + sems[condition]))


def test_fig5_grouped_bars_per_layout_with_condition_legend():
    ood = _ood(LAYOUTS[::-1])
    ax = plots.plot_fig5(ood).axes[0]
    bars = _bar_rectangles(ax)
    assert len(bars) == 15
    assert [t.get_text() for t in ax.get_xticklabels()] == list(LAYOUTS)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Frozen", "ISR", "Oracle"]
    means = ood.groupby(["condition", "layout"])["ood_reward"].mean()
    for bar in bars:
        layout = LAYOUTS[int(round(bar.get_x() + bar.get_width() / 2))]
        condition = next(c for c in plots.CONDITION_ORDER
                         if to_rgb(bar.get_facecolor()) == to_rgb(plots.COLOURS[c]))
        assert bar.get_height() == pytest.approx(means[(condition, layout)])
    assert ax.get_ylabel() == "Reward (OOD)"
    n_points = sum(len(c.get_offsets()) for c in ax.collections
                   if isinstance(c, PathCollection))
    assert n_points == len(ood)


def test_fig5_of_a_record_in_parts_names_every_condition_once():
    """Frozen in every layout, isr and oracle in one (a Fig. 5 record part way through)."""
    ood = _ood(LAYOUTS)
    ood = ood[(ood["condition"] == "frozen") | (ood["layout"] == LAYOUTS[1])]
    ax = plots.plot_fig5(ood).axes[0]
    assert len(_bar_rectangles(ax)) == len(LAYOUTS) + 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Frozen", "ISR", "Oracle"]


def test_fig6_two_panels_thin_seeds_and_thick_mean():
    curves = _curves()
    curves = curves[curves["condition"] == "isr"].drop(columns=["condition", "phase"])
    fig = plots.plot_fig6(curves)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["Internal reward", "Goals reached"]
    for ax, value in zip(fig.axes, ("internal_reward", "goals_per_episode")):
        lines = ax.get_lines()
        assert len(lines) == N_SEEDS + 1
        expected = pd.DataFrame({s: _ema(r.sort_values("episode")[value].to_numpy(), 0.8)
                                 for s, r in curves.groupby("seed")})
        np.testing.assert_allclose(lines[-1].get_ydata(), expected.mean(axis=1))
        assert lines[-1].get_linewidth() > lines[0].get_linewidth()


def test_fig2_diagram_has_the_architecture_and_utility():
    fig = plots.plot_fig2()
    assert len(fig.axes) == 1
    texts = [t.get_text() for t in fig.axes[0].texts]
    for word in ("Standard RL", "Learning from social rewards", "Caregiver", "ISR model",
                 "Environment", "Agent"):
        assert word in texts
    assert r"$U = R_e + P\,R_s + (1 - P)\,R_i$" in texts
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert sum(box.get_linestyle() != "-" for box in boxes) == 1
    assert tuple(fig.get_size_inches()) == (10.0, 4.0)


def test_plot_functions_draw_on_a_given_axis_without_a_new_figure():
    fig, (ax1, ax2) = plt.subplots(1, 2)
    before = plt.get_fignums()
    assert plots.plot_fig4a(_curves(), ax=ax1) is fig
    assert plots.plot_fig4b(_ood(), ax=ax2) is fig
    assert plots.plot_fig2(ax=ax2) is fig
    assert plt.get_fignums() == before


def test_plot_grids_one_axis_per_image_without_ticks():
    images = [np.full((14, 14, 3), k / 5.0) for k in range(5)]
    fig = plots.plot_grids(images, titles=list(LAYOUTS), ncols=3)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == list(LAYOUTS)
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in fig.axes)
    assert len(plots.plot_grids(images[:3]).axes) == 3
    with pytest.raises(ValueError):
        plots.plot_grids(images, titles=["a"])


def test_save_gif_writes_every_frame_with_captions(tmp_path):
    frames = [np.full((20, 30, 3), 40 * k, dtype=np.uint8) for k in range(4)]
    path = plots.save_gif(frames, tmp_path / "episode.gif", fps=5,
                          labels=[f"step {k}" for k in range(4)])
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4
        assert gif.size[0] == 30 and gif.size[1] > 20
        assert gif.info["duration"] == 200
    plain = plots.save_gif(frames, tmp_path / "plain.gif")
    with Image.open(plain) as gif:
        assert gif.size == (30, 20) and gif.n_frames == 4


def test_every_figure_renders_to_png(tmp_path):
    curves = _curves()
    isr = curves[curves["condition"] == "isr"].drop(columns=["condition", "phase"])
    figures = {
        "fig1b": plots.plot_fig1b(curves),
        "fig2": plots.plot_fig2(),
        "fig4a": plots.plot_fig4a(curves),
        "fig4b": plots.plot_fig4b(_ood()),
        "fig5": plots.plot_fig5(_ood(LAYOUTS)),
        "fig6": plots.plot_fig6(isr),
        "grids": plots.plot_grids([np.zeros((7, 7, 3))] * 2, titles=["a", "b"]),
    }
    for name, fig in figures.items():
        fig.savefig(tmp_path / f"{name}.png", dpi=60)
        assert (tmp_path / f"{name}.png").stat().st_size > 0


def test_phase2_length_draws_holds_and_fails_apart_per_claim_in_its_condition_colour():
    by_length = pd.DataFrame({
        "env_steps": [1_000, 1_000, 2_000, 2_000],
        "claim_id": ["fig7_isr_helping_continues", "fig7_none_helping_decays"] * 2,
        "groups": 10, "holds": [2, 5, 9, 10], "fails": [1, 0, 0, 0], "inconclusive": [7, 5, 1, 0],
    })
    fig = plots.plot_phase2_length(by_length, chosen=1_500)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    isr_holds, isr_fails = lines[f"{plots.LABELS['isr']}: holds"], lines[f"{plots.LABELS['isr']}: fails"]
    assert to_rgb(isr_holds.get_color()) == to_rgb(plots.COLOURS["isr"])
    assert list(isr_holds.get_ydata()) == [20.0, 90.0]
    assert list(isr_fails.get_ydata()) == [10.0, 0.0] and isr_fails.get_linestyle() == ":"
    assert list(lines[f"{plots.LABELS['none']}: holds"].get_ydata()) == [50.0, 100.0]
    with pytest.raises(ValueError, match="by_length"):
        plots.plot_phase2_length(by_length.drop(columns="fails"))
