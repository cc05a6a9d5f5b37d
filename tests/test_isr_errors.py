"""The ISR's error along phase 1 (``valint.isr_errors``): the diagnosis of Fig. 3a's gap."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from valint import pages, stats
from valint.envs import OBS_SHAPE
from valint.isr import Transitions, init_isr, predict, stack_isr
from valint.isr_errors import ERROR_BY_PART_COLUMNS, isr_error_by_part, squared_errors


def _transitions(n: int, seed: int = 0) -> Transitions:
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 11, size=(n, *OBS_SHAPE), dtype=np.uint8)
    targets = np.where(rng.random(n) < 0.2, 0.4, 0.0).astype(np.float32)
    return Transitions(obs, rng.integers(0, 3, size=n), targets)


def _weights(seed: int = 3) -> dict[str, np.ndarray]:
    return {k: v[0].numpy() for k, v in init_isr([seed], OBS_SHAPE[-1] + 1).items()}


def test_squared_errors_agree_with_the_isr_predictions_row_by_row():
    data, weights = _transitions(40), _weights()
    errors = squared_errors(data, weights)
    stacked = stack_isr([weights])
    by_row = np.array([(predict(stacked, data.obs[i:i + 1], data.actions[i:i + 1])[0] - data.targets[i]) ** 2
                       for i in range(len(data))])
    np.testing.assert_allclose(errors, by_row, rtol=1e-4, atol=1e-7)  # float32: batch vs one row


def test_the_parts_cut_phase_1_in_order_and_the_last_is_the_held_out_split():
    data, weights = _transitions(203), _weights()
    table = isr_error_by_part(data, weights, test_fraction=0.1)
    assert list(table.columns) == list(ERROR_BY_PART_COLUMNS)
    assert table["part"].tolist() == list(range(1, 11))
    assert table["split"].tolist() == ["train"] * 9 + ["test"]
    train, test = data.split(0.1)
    assert table["n_transitions"].sum() == len(data)
    assert table["n_transitions"].iloc[-1] == len(test)
    assert table["first_step"].iloc[-1] == test[0]
    assert (np.diff(table["first_step"]) == table["n_transitions"].iloc[:-1]).all()
    errors = squared_errors(data, weights)
    starts = [*table["first_step"], len(data)]
    for row, (a, b) in zip(table.itertuples(), zip(starts, starts[1:])):
        assert row.mse == pytest.approx(errors[a:b].mean())
        assert row.goal_fraction == pytest.approx((data.targets[a:b] > 0).mean())


@pytest.mark.parametrize("kwargs, message", [
    ({"test_fraction": 0.0}, "test_fraction"),
    ({"test_fraction": 0.1, "n_train_parts": 0}, "n_train_parts"),
    ({"test_fraction": 0.1, "n_train_parts": 2.5}, "n_train_parts"),
    ({"test_fraction": 0.1, "n_train_parts": 1000}, "n_train_parts"),
])
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        isr_error_by_part(_transitions(50), _weights(), **kwargs)


def _table(held_out_shift: float, n_seeds: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(n_seeds):
        level = np.geomspace(2e-3, 2e-4, 9) * rng.uniform(0.8, 1.2)
        for part, mse in enumerate(level, start=1):
            rows.append({"seed": seed, "part": part, "split": "train", "goal_fraction": part / 100, "mse": mse})
        rows.append({"seed": seed, "part": 10, "split": "test", "goal_fraction": 0.1,
                     "mse": level[-1] * (1 + held_out_shift) + rng.normal(0, 1e-6)})
    return pd.DataFrame(rows)


def test_held_out_is_compared_with_the_last_training_part_of_the_same_seed():
    flat = stats.held_out_vs_last_train_part_test(_table(0.0)).iloc[0]
    assert flat["contrast"] == "held out - last train part"
    assert abs(flat["relative_change"]) < 0.05 and flat["n_seeds"] == 6
    memorised = stats.held_out_vs_last_train_part_test(_table(0.5)).iloc[0]
    assert memorised["relative_change"] == pytest.approx(0.5, abs=0.05)
    assert memorised["p_value"] < 0.001


def test_the_page_numbers_come_from_the_summary_and_the_test():
    table = _table(0.5)
    numbers = pages.isr_error_by_part_numbers(table)
    summary = stats.isr_error_by_part_summary(table)
    assert summary["part"].tolist() == list(range(1, 11)) and (summary["n_seeds"] == 6).all()
    assert numbers["first_mse"] == pytest.approx(table[table["part"] == 1]["mse"].mean())
    assert numbers["held_out_mse"] == pytest.approx(table[table["part"] == 10]["mse"].mean())
    assert numbers["first_mse"] > 5 * numbers["last_train_mse"]
    assert numbers["relative"] == pytest.approx(0.5, abs=0.05)
