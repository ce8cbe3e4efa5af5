"""Sablayrolles et al. by shadow count (lira.core.shadow_count) against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from lira.core import attacks, shadow_count, splits
from lira.core.gaussian import fit_shadow_sums, leave_pair_out
from lira.core.metrics import auc, roc_curve, tpr_at_fpr


def models(n_models=10, n=300, queries=2, seed=0):
    """Losses [N, n, Q] lower when the example is in the model's half; keep [N, n] in pairs."""
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, n)
    difficulty = rng.gamma(2.0, size=n)
    loss = difficulty[None, :, None] * (1.0 - 0.5 * keep[..., None]) + 0.3 * rng.random((n_models, n, queries))
    return loss, keep


def test_first_draw_matches_a_direct_computation():
    loss, keep = models()
    n_targets, seed, max_fpr = 4, 3, 0.01
    rows = shadow_count.sablayrolles_power_by_shadow_count(loss, keep, n_targets, repeats=2, seed=seed, max_fpr=max_fpr)
    first = rows[0]
    assert (first["shadow_models"], first["repeat"]) == (4, 0)
    # The draw of attack_power_by_shadow_count's first (count 4, repeat 0) subsample.
    chosen = shadow_count._choose_pairs(np.random.default_rng([seed, 0xC0]), len(loss) // 2, n_targets, 2)
    scores = np.empty((n_targets, loss.shape[1]))
    for t in range(n_targets):
        shadows = [m for p in np.flatnonzero(chosen[t]) for m in (2 * p, 2 * p + 1)]
        assert t not in shadows and splits.partner(t) not in shadows
        for i in range(loss.shape[1]):
            inside = [-loss[m, i, 0] for m in shadows if keep[m, i]]
            outside = [-loss[m, i, 0] for m in shadows if not keep[m, i]]
            scores[t, i] = -loss[t, i, 0] - (np.mean(inside) + np.mean(outside)) / 2
    roc = roc_curve(scores, keep[:n_targets])
    assert first["tpr"] == pytest.approx(tpr_at_fpr(roc, max_fpr)[0])
    assert first["auc"] == pytest.approx(auc(roc))
    assert first["variant"] == shadow_count.SABLAYROLLES_VARIANT


def test_full_count_is_the_catalog_attack():
    loss, keep = models()
    rows = shadow_count.sablayrolles_power_by_shadow_count(loss, keep, 4, repeats=1, seed=0, max_fpr=0.01)
    full = rows[-1]
    assert full["shadow_models"] == len(loss) - 2
    values = -loss[..., :1]
    params = leave_pair_out(fit_shadow_sums(values, keep), values, keep, np.arange(4))
    roc = roc_curve(attacks.sablayrolles(values[:4], params), keep[:4])
    assert full["auc"] == pytest.approx(auc(roc))


def test_same_counts_as_the_lira_sweep():
    loss, keep = models()
    lira = shadow_count.attack_power_by_shadow_count(-loss, keep, 4, 2, 0, max_fpr=0.01)
    ours = shadow_count.sablayrolles_power_by_shadow_count(loss, keep, 4, 2, 0, max_fpr=0.01)
    assert sorted({(r["shadow_models"], r["repeat"]) for r in lira}) == sorted((r["shadow_models"], r["repeat"]) for r in ours)


def test_lira_online_scores_by_count_full_is_the_main_evaluation():
    loss, keep = models()
    values = -loss
    scores = shadow_count.lira_online_scores_by_count(values, keep, 4, [4, 8], seed=0)
    params = leave_pair_out(fit_shadow_sums(values, keep), values, keep, np.arange(4))
    np.testing.assert_allclose(scores[8]["global variance"], attacks.lira_online(values[:4], params, True))
    assert scores[4]["per-example variance"].shape == (4, loss.shape[1])
    with pytest.raises(ValueError, match="shadow count 5"):
        shadow_count.lira_online_scores_by_count(values, keep, 4, [5], seed=0)
