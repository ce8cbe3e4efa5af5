"""Long et al., LiRA online on any statistic and the paired bootstrap (lira.core.baselines) against
direct computations: slow loops over targets and examples, scipy's normal density."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from lira.core import baselines, metrics, splits


def synthetic(n_models=8, n=30, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, n)
    loss = rng.gamma(2.0, 1.0, (n_models, n)) * np.where(keep, 0.5, 1.0)
    logits = rng.normal(size=(n_models, n, classes)) + rng.normal(size=(1, n, classes)) * 3
    return keep, loss, logits


def test_long_scores_match_a_direct_computation():
    keep, loss, logits = synthetic()
    scores, outliers = baselines.long_scores(loss[:4], loss, logits, keep, 4, fraction=0.2)
    for target in range(4):
        shadows = [m for m in range(8) if m not in (target, target ^ 1)]
        features = logits[shadows].mean(axis=0)  # [n, classes]
        nearest = []
        for i in range(30):
            similarities = [
                features[i] @ features[j] / np.linalg.norm(features[i]) / np.linalg.norm(features[j])
                for j in range(30)
                if j != i
            ]
            nearest.append(max(similarities))
        expected_outliers = set(np.argsort(nearest, kind="stable")[:6])
        assert set(np.flatnonzero(outliers[target])) == expected_outliers
        for i in range(30):
            if i in expected_outliers:
                out_losses = [loss[m, i] for m in shadows if not keep[m, i]]
                as_low = sum(value <= loss[target, i] for value in out_losses)
                expected = -np.log((1 + as_low) / (1 + len(out_losses)))
            else:
                expected = baselines.NOT_AN_OUTLIER
            assert np.isclose(scores[target, i], expected)


def test_lira_online_pair_out_matches_per_example_gaussians():
    keep, loss, _ = synthetic(n_models=10, n=12)
    values = -np.log(loss)[..., None]  # [N, n, 1]
    scores = baselines.lira_online_pair_out(values, keep, 3)
    for target in range(3):
        shadows = [m for m in range(10) if m not in (target, target ^ 1)]
        for i in range(12):
            inside = [values[m, i, 0] for m in shadows if keep[m, i]]
            outside = [values[m, i, 0] for m in shadows if not keep[m, i]]
            x = values[target, i, 0]
            expected = norm.logpdf(x, np.mean(inside), np.std(inside, ddof=1)) - norm.logpdf(
                x, np.mean(outside), np.std(outside, ddof=1)
            )
            assert np.isclose(scores[target, i], expected)


def test_negative_log_norm_is_finite_at_zero():
    values = baselines.negative_log_norm(np.array([0.0, 1.0, np.e], dtype=np.float32))
    assert np.all(np.isfinite(values)) and values[1] == 0.0 and np.isclose(values[2], -1.0)
    assert values[0] > values[1]


def test_paired_bootstrap_rows_and_intervals():
    rng = np.random.default_rng(1)
    is_member = rng.random(4000) < 0.5
    good = rng.normal(size=4000) + is_member
    scores = {"good": good, "same": good.copy(), "noise": rng.normal(size=4000)}
    rows, samples = baselines.paired_bootstrap(scores, is_member, [0.01], resamples=30, seed=0)
    direct = metrics.summarise(good, is_member, [0.01])
    assert rows["good"]["auc"] == direct["auc"] and rows["good"]["tpr@1%"] == direct["tpr@1%"]
    low, high = rows["good"]["auc_95"]
    assert low <= direct["auc"] <= high
    assert baselines.interval(samples["good"]["auc"] - samples["same"]["auc"]) == [0.0, 0.0]  # paired
    assert baselines.interval(samples["good"]["auc"] - samples["noise"]["auc"])[0] > 0.1
