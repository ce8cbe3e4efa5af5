"""Per-example normality tests and their summary (the paper's Figure 4), against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lira.core import normality, splits


@pytest.fixture
def sample():
    rng = np.random.default_rng(5)
    keep = splits.keep_matrix(0, 16, 12)  # [N, n]
    values = rng.normal(size=(16, 12))
    values[:, :6] = rng.exponential(size=(16, 6)) ** 2  # half the examples skewed
    return values, keep


def test_per_example_tests_equal_scipy(sample):
    values, keep = sample
    tests = normality.per_example(values, keep)
    for x in range(values.shape[1]):
        for group, member in (("in", True), ("out", False)):
            part = values[keep[:, x] == member, x]
            assert tests[f"p_{group}"][x] == pytest.approx(stats.shapiro(part).pvalue, rel=1e-12)
            assert tests[f"skew_{group}"][x] == pytest.approx(stats.skew(part), rel=1e-10)


def test_summary_equals_the_direct_shares_and_medians(sample):
    values, keep = sample
    tests = normality.per_example(values, keep)
    summary = normality.summarise(tests, alpha=0.05, resamples=50, seed=1)
    both_p = np.r_[tests["p_in"], tests["p_out"]]
    both_skew = np.r_[tests["skew_in"], tests["skew_out"]]
    assert summary["examples"] == values.shape[1]
    assert summary["in"]["rejected"] == np.mean(tests["p_in"] < 0.05)
    assert summary["all"]["rejected"] == np.mean(both_p < 0.05)
    assert summary["all"]["median_abs_skew"] == np.median(np.abs(both_skew))
    for group in ("in", "out", "all"):
        row = summary[group]
        assert row["rejected_low"] <= row["rejected"] <= row["rejected_high"]
        assert row["median_abs_skew_low"] <= row["median_abs_skew_high"]


def test_a_constant_group_counts_as_rejected_and_a_tiny_one_as_untested():
    assert normality.shapiro_p_values([np.ones(8), np.array([1.0, 2.0])]).tolist()[0] == 0.0
    assert np.isnan(normality.shapiro_p_values([np.array([1.0, 2.0])])[0])
    assert normality.skewness([np.ones(5)])[0] == 0.0
