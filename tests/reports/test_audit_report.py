"""The audit's report (lira.reports.audit): thresholds calibrated on the shadows' own scores, what
they say about the target's examples, and the ranking of the most exposed ones."""

import numpy as np
import pytest

from lira.core import metrics
from lira.reports import audit

MATCHED = {"pooled": {"auc": 0.7, "tpr@0.1%": 0.05, "tpr@1%": 0.1}}


def shadows(seed=0, n=20000):
    rng = np.random.default_rng(seed)
    is_member = rng.random((4, n // 4)) < 0.5
    return rng.normal(size=is_member.shape) + 1.5 * is_member, is_member


def test_a_target_like_its_shadows_comes_out_near_the_calibrated_fpr():
    shadow = shadows(0)
    target = shadows(1)  # drawn like the shadows: its FPR at the threshold is the calibrated one
    rows = audit.calibration_rows("lira_online", shadow, target, [0.001, 0.01], MATCHED, None)
    for row in rows:
        threshold, achieved = metrics.calibrated_threshold(shadow[0][~shadow[1]], row["fpr"])
        assert row["threshold"] == threshold and row["shadow_fpr"] == achieved
        assert row["shadow_tpr"] == np.mean(shadow[0][shadow[1]] > threshold)
        scores, is_member = target
        assert row["beyond_threshold"] == int((scores > threshold).sum())
        assert row["expected_by_chance"] == pytest.approx(row["fpr"] * (~is_member).sum())
        assert row["target_fpr"] == pytest.approx(row["fpr"], rel=0.5)  # 10,000 non-members: near, not exact
        assert row["target_tpr"] > row["target_fpr"]
        assert row["matched_tpr_at_fpr"] == MATCHED["pooled"][f"tpr@{metrics.fpr_label(row['fpr'])}"]


def test_without_membership_chance_is_bounded_by_every_example():
    shadow = shadows(0)
    scores = shadows(1)[0]
    (row,) = audit.calibration_rows("lira_online", shadow, (scores, None), [0.01], MATCHED, None)
    assert row["expected_by_chance"] == pytest.approx(0.01 * scores.size)
    assert "target_fpr" not in row and "target_tpr" not in row


def test_an_fpr_below_one_shadow_non_member_is_not_calibrated():
    shadow = shadows(0, n=400)
    (row,) = audit.calibration_rows("lira_online", shadow, shadow, [0.001], MATCHED, None)
    assert row["threshold"] is None and "beyond_threshold" not in row
    assert "not calibrated" in audit.headline([row], {}, True)[0]


def test_the_ranking_puts_the_most_exposed_first_with_their_rows_in_the_dataset():
    scores = np.array([[0.1, 3.0, -1.0], [2.0, 0.5, 5.0]])
    pool = {"source_index": np.array([10, 20, 30]), "y": np.array([1, 2, 0])}
    ranked = audit.ranking(scores, np.array([[True, False, False], [False, True, True]]), pool, {"1%": 1.0})
    assert ranked["score"].tolist() == [5.0, 3.0, 2.0, 0.5, 0.1, -1.0]
    assert ranked.iloc[0][["rank", "target", "pool_index", "source_index", "label"]].tolist() == [1, 1, 2, 30, 0]
    assert ranked["beyond_fpr_1%"].tolist() == [True, True, True, False, False, False]
    assert ranked["member"].tolist() == [True, False, False, True, True, False]
