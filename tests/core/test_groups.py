"""lira.core.gaussian.privacy_score and lira.core.groups against direct computations."""

from __future__ import annotations

import numpy as np

from lira.core import groups
from lira.core.gaussian import fit_shadow_sums, gaussian_params, privacy_score


def test_privacy_score_is_the_distance_of_the_in_and_out_gaussians_in_units_of_their_spreads():
    rng = np.random.default_rng(0)
    n_models, n, n_queries = 12, 7, 3
    phi = rng.normal(size=(n_models, n, n_queries)) + rng.normal(size=(1, n, n_queries)) * 3
    keep = rng.random((n_models, n)) < 0.5
    keep[0], keep[1] = True, False  # at least two IN and two OUT models per example
    keep[2], keep[3] = True, False
    d = privacy_score(gaussian_params(fit_shadow_sums(phi, keep)))
    assert d.shape == (n, n_queries)
    for x in range(n):
        for q in range(n_queries):
            inside, outside = phi[keep[:, x], x, q], phi[~keep[:, x], x, q]
            expected = abs(inside.mean() - outside.mean()) / (inside.std(ddof=1) + outside.std(ddof=1))
            assert np.isclose(d[x, q], expected, rtol=1e-9)


def test_median_and_rate_intervals_are_bootstraps_over_examples():
    rng = np.random.default_rng(1)
    values = rng.exponential(size=50)
    median, low, high = groups.median_interval(values, 300, seed=5)
    assert median == np.median(values) and low <= median <= high
    draws = np.random.default_rng(5).integers(0, 50, (300, 50))
    assert np.allclose((low, high), np.percentile(np.median(values[draws], axis=1), [2.5, 97.5]))
    assert np.isnan(groups.median_interval(np.array([np.nan]), 10, 0)[0])

    hits, trials = rng.integers(0, 4, 40), np.full(40, 4)
    rate, low, high = groups.rate_interval(hits, trials, 300, seed=2)
    assert rate == hits.sum() / 160 and low <= rate <= high
    draws = np.random.default_rng(2).integers(0, 40, (300, 40))
    assert np.allclose((low, high), np.percentile(hits[draws].sum(axis=1) / 160, [2.5, 97.5]))


def test_hits_at_the_pooled_threshold_count_per_example_over_the_targets():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(4, 600))
    is_member = rng.random((4, 600)) < 0.5
    scores[is_member] += 1.0
    threshold, counts = groups.hits_at_pooled_threshold(scores, is_member, 0.01)
    negatives = np.sort(scores[~is_member])[::-1]
    assert threshold == negatives[int(np.floor(0.01 * len(negatives)))]  # the (k + 1)-th largest
    for x in range(600):  # a slow loop over targets
        found = sum(bool(is_member[t, x] and scores[t, x] > threshold) for t in range(4))
        flagged = sum(bool(not is_member[t, x] and scores[t, x] > threshold) for t in range(4))
        assert counts["members_found"][x] == found and counts["non_members_flagged"][x] == flagged
        assert counts["members"][x] + counts["non_members"][x] == 4
    assert counts["non_members_flagged"].sum() / (~is_member).sum() <= 0.01


def test_intervals_overlap():
    assert groups.intervals_overlap((1, 0, 2), (3, 1.5, 4))
    assert not groups.intervals_overlap((1, 0, 2), (3, 2.5, 4))
    assert groups.intervals_overlap((1, np.nan, 2), (3, 2.5, 4))
