"""lira.core.deployment against direct computations: precision by subsampling members, deployed
thresholds by a slow loop, tail shares by sorting, and the paired bootstrap's shared draws."""

from __future__ import annotations

import numpy as np
import pytest

from lira.core import deployment, splits
from lira.core.metrics import roc_curve, tpr_at_fpr


def scores_and_members(n_targets=8, n=600, seed=0):
    """Complementary pairs of targets (rows 2j, 2j + 1 with complementary membership), members
    scoring higher on average: scores float [T, n], is_member bool [T, n]."""
    rng = np.random.default_rng(seed)
    first = rng.random((n_targets // 2, n)) < 0.5
    is_member = np.empty((n_targets, n), dtype=bool)
    is_member[0::2], is_member[1::2] = first, ~first
    scores = rng.normal(size=(n_targets, n)) + 0.8 * is_member
    return scores, is_member


def test_precision_matches_a_direct_subsampling_of_members():
    scores, is_member = scores_and_members()
    flat_scores, flat_members = scores.ravel(), is_member.ravel()
    roc = roc_curve(flat_scores, flat_members)
    rng = np.random.default_rng(1)
    for share in (0.02, 0.1):
        for fpr in (0.01, 0.05):
            formula = deployment.precision_at(scores, is_member, [share], [fpr])[(share, fpr)]
            # The ROC's threshold at this FPR, applied to data where members are a share `share`:
            # every non-member, and just enough members drawn without replacement.
            tpr, _ = tpr_at_fpr(roc, fpr)
            threshold = roc.thresholds[np.flatnonzero((roc.fpr <= fpr) & (roc.tpr == tpr))[0]]
            negatives = flat_scores[~flat_members]
            n_members = round(share / (1 - share) * negatives.size)
            direct = []
            for _ in range(400):
                members = rng.choice(flat_scores[flat_members], n_members, replace=False)
                true_positives = np.count_nonzero(members >= threshold)
                false_positives = np.count_nonzero(negatives >= threshold)
                direct.append(true_positives / (true_positives + false_positives))
            assert np.mean(direct) == pytest.approx(formula, abs=0.02)


def test_precision_formula_edges():
    assert deployment.precision(0.5, 0.3, 0.3) == pytest.approx(0.5)
    assert deployment.precision(0.01, 1.0, 0.0) == 1.0
    assert np.isnan(deployment.precision(0.1, 0.0, 0.0))


def test_deployed_thresholds_match_a_slow_loop():
    scores, is_member = scores_and_members(n_targets=8, n=500)
    targets = np.arange(8)
    for max_fpr in (0.01, 0.05):
        fast = deployment.deployed_thresholds(scores, is_member, targets, max_fpr)
        for t in range(8):
            negatives = [
                scores[u, i] for u in range(8) if u not in (t, splits.partner(t)) for i in range(500) if not is_member[u, i]
            ]
            negatives = sorted(negatives, reverse=True)
            threshold = negatives[int(np.floor(max_fpr * len(negatives) + 1e-9))]
            fp = sum(1 for i in range(500) if scores[t, i] > threshold and not is_member[t, i])
            tp = sum(1 for i in range(500) if scores[t, i] > threshold and is_member[t, i])
            assert fast["threshold"][t] == threshold
            assert (fast["false_positives"][t], fast["true_positives"][t]) == (fp, tp)
            assert fast["non_members"][t] == np.count_nonzero(~is_member[t])
        pooled = deployment.pooled_rates_by_target_bootstrap(fast, resamples=200, seed=0)
        assert pooled["fpr"] == fast["false_positives"].sum() / fast["non_members"].sum()
        assert pooled["fpr_95"][0] <= pooled["fpr"] <= pooled["fpr_95"][1]


def test_deployed_thresholds_leave_no_threshold_below_one_non_member():
    scores, is_member = scores_and_members(n_targets=4, n=20)
    result = deployment.deployed_thresholds(scores, is_member, np.arange(4), 0.01)
    assert np.isnan(result["threshold"]).all() and result["false_positives"].sum() == 0


def test_tail_shares_by_sorting():
    scores, is_member = scores_and_members()
    top, bottom = deployment.tail_shares(scores, is_member, 0.01)
    flat, members = scores.ravel(), is_member.ravel()
    k = int(0.01 * flat.size)
    ranked = sorted(range(flat.size), key=lambda i: flat[i])
    assert top == pytest.approx(np.mean([members[i] for i in ranked[-k:]]))
    assert bottom == pytest.approx(np.mean([not members[i] for i in ranked[:k]]))


def test_paired_bootstrap_draws_the_same_pairs_for_every_attack():
    scores, is_member = scores_and_members(n_targets=2, n=100)
    stacked = np.stack([scores, scores + 1.0])  # the second attack: the first shifted
    samples = deployment.paired_bootstrap(lambda s, m: [s[0].sum(), s[1].sum(), m.sum()], stacked, is_member, 20, 0)
    assert samples.shape == (20, 3)
    np.testing.assert_allclose(samples[:, 1] - samples[:, 0], is_member.size)  # same draws: shift x m
    low, high = deployment.percentile_interval(samples[:, 2])
    assert low <= np.median(samples[:, 2]) <= high
