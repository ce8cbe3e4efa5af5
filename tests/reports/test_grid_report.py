"""A grid's table rows (lira.reports.grid): settings, accuracy, both epsilons, the attack's power;
and the refusal of a point whose attack proves more than its recipe guarantees."""

import pytest

from lira.reports import grid

RESULT = {
    "pooled": {"auc": 0.61234, "tpr@0.1%": 0.0123, "tpr@1%": 0.05},
    "bootstrap_95": {"auc": [0.6, 0.62], "tpr@0.1%": [0.01, 0.015], "tpr@1%": [0.04, 0.06]},
    "epsilon_lower_bound": {"epsilon": 0.4567, "delta": 1e-5},
}
POINT = {"name": "s08_c1", "set": {"train.dp.noise_multiplier": 0.8}, "paper": {"test_accuracy": 61.3}}
PRIVACY = {"noise_multiplier": 0.8, "max_grad_norm": 1.0, "delta": 1e-5, "epsilon": 8.123}


def test_a_row_has_the_settings_accuracy_both_epsilons_power_and_the_papers_number():
    models = [{"holdout_accuracy": 0.70, "privacy": PRIVACY}, {"holdout_accuracy": 0.72, "privacy": PRIVACY}]
    row = grid.point_row(POINT, RESULT, models, [0.001, 0.01], "lira_online")
    assert row["point"] == "s08_c1" and row["train.dp.noise_multiplier"] == 0.8
    assert row["test accuracy %"] == "71.0" and row["ε guaranteed"] == "8.12" and row["ε proved"] == "0.46"
    assert row["TPR @ 0.1% FPR"] == "1.23 [1.00, 1.50]" and row["AUC"] == "0.6123 [0.6000, 0.6200]"
    assert row["paper: test accuracy"] == "61.3"
    plain = grid.point_row({"name": "sgd", "set": {}}, RESULT, [{"holdout_accuracy": None}], [0.001], "lira_online")
    assert plain["ε guaranteed"] == "∞ (no DP-SGD)" and plain["test accuracy %"] == "no test set"
    noiseless = grid.point_row(POINT, RESULT, [{"holdout_accuracy": 0.8, "privacy": {**PRIVACY, "epsilon": None}}], [0.001], "lira_online")
    assert noiseless["ε guaranteed"] == "∞ (no noise)"


def test_an_attack_proving_more_than_the_guarantee_is_refused():
    models = [{"privacy": PRIVACY}]
    grid.check_consistent(POINT, RESULT, models, "lira_online")
    proving_too_much = {**RESULT, "epsilon_lower_bound": {"epsilon": 9.0, "delta": 1e-5}}
    with pytest.raises(grid.GridError, match="prove epsilon >= 9 at delta 1e-05, more than the recipe guarantees") as error:
        grid.check_consistent(POINT, proving_too_much, models, "lira_online")
    assert "\n" not in str(error.value)
    grid.check_consistent(POINT, proving_too_much, [{"privacy": {**PRIVACY, "epsilon": None}}], "lira_online")  # no bound to break
