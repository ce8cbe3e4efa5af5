"""Empirical epsilon lower bounds (lira.core.privacy) against scipy and hand computations."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from lira.core import privacy


@pytest.mark.parametrize("successes, trials", [(0, 10), (3, 10), (10, 10), (17, 5000), (4990, 5000), (1, 1)])
def test_clopper_pearson_equals_scipys_exact_interval(successes, trials):
    alpha = 0.025
    lower, upper = privacy.clopper_pearson(successes, trials, alpha)
    interval = binomtest(successes, trials).proportion_ci(confidence_level=1 - 2 * alpha, method="exact")
    assert lower == pytest.approx(interval.low, abs=1e-12)
    assert upper == pytest.approx(interval.high, abs=1e-12)


def test_epsilon_from_rates_by_hand():
    # TPR 0.5 at FPR 0.01, delta 0: log(50); the other side, log(0.99 / 0.5), is smaller.
    assert privacy.epsilon_from_rates(0.5, 0.01, 0.0) == pytest.approx(math.log(50))
    assert privacy.epsilon_from_rates(0.5, 0.01, 1e-5) == pytest.approx(math.log((0.5 - 1e-5) / 0.01))
    # The complement's side: FPR 0.5, TPR 0.99 -> log(0.5 / 0.01).
    assert privacy.epsilon_from_rates(0.99, 0.5, 0.0) == pytest.approx(math.log(50))
    assert privacy.epsilon_from_rates(0.3, 0.3, 0.0) == 0.0  # chance proves nothing
    assert privacy.epsilon_from_rates(0.1, 0.5, 0.0) == 0.0  # worse than chance: nothing either
    assert privacy.epsilon_from_rates(0.5, 0.0, 0.0) == np.inf  # no false positive at all, exact rates


def test_random_scores_prove_almost_nothing_and_separated_scores_a_lot():
    rng = np.random.default_rng(0)
    is_member = rng.random((8, 2000)) < 0.5
    chance = privacy.epsilon_lower_bound(rng.normal(size=is_member.shape), is_member, delta=1e-5)
    assert chance["epsilon"] < 0.15
    separated = privacy.epsilon_lower_bound(is_member + 0.01 * rng.normal(size=is_member.shape), is_member, delta=1e-5)
    # 4 x 2000 evaluation pairs, perfectly separated: the bound is limited by the counts alone,
    # log of (lower bound on TPR ~ 1) / (upper bound on an FPR of 0 out of ~4000) = log(4000 / 3.7).
    assert 6.0 < separated["epsilon"] < math.log(separated["non_members"])
    assert separated["tp"] >= 0.99 * separated["members"] and separated["fp"] == 0


def test_the_bound_uses_the_evaluation_half_and_its_counts():
    rng = np.random.default_rng(1)
    is_member = rng.random((6, 3000)) < 0.5
    scores = rng.normal(size=is_member.shape) + 1.0 * is_member
    result = privacy.epsilon_lower_bound(scores, is_member, delta=1e-5)
    evaluate_scores, evaluate_member = scores[1::2], is_member[1::2]
    above = evaluate_scores > result["threshold"]
    assert result["tp"] == int((above & evaluate_member).sum()) and result["fp"] == int((above & ~evaluate_member).sum())
    assert result["members"] == int(evaluate_member.sum())
    tpr_low, _ = privacy.clopper_pearson(result["tp"], result["members"], 0.025)
    _, fpr_high = privacy.clopper_pearson(result["fp"], result["non_members"], 0.025)
    assert result["epsilon"] == pytest.approx(float(privacy.epsilon_from_rates(tpr_low, fpr_high, 1e-5)))
    # A Gaussian shift of 1 is 1-GDP-like: a valid bound lies well below that mechanism's epsilon
    # at delta 1e-5 (about 4.4), and above 0.
    assert 0.0 < result["epsilon"] < 4.4


def test_one_target_splits_its_examples_and_bad_arguments_are_refused():
    rng = np.random.default_rng(2)
    is_member = rng.random(4000) < 0.5
    result = privacy.epsilon_lower_bound(rng.normal(size=4000) + 2 * is_member, is_member, delta=0.0)
    assert result["members"] + result["non_members"] == 2000 and result["epsilon"] > 0.5
    with pytest.raises(ValueError, match="delta"):
        privacy.epsilon_lower_bound(np.zeros(4), np.array([1, 0, 1, 0], bool), delta=1.0)
    with pytest.raises(ValueError, match="members and non-members"):
        privacy.epsilon_lower_bound(np.zeros((2, 4)), np.array([[1, 1, 1, 1], [0, 1, 0, 1]], bool), delta=0.0)


def test_the_gaussian_dp_curve_and_its_epsilon():
    # mu-GDP's delta(epsilon) solved back: the epsilon returned has exactly the delta asked for.
    for mu in (0.5, 1.0, 3.0):
        epsilon = privacy.gdp_epsilon(mu, 1e-5)
        assert privacy.gdp_delta(epsilon, mu) == pytest.approx(1e-5, rel=1e-6)
    assert privacy.gdp_epsilon(1.0, 1e-5) < privacy.gdp_epsilon(2.0, 1e-5)  # more mu, more epsilon
    assert privacy.gdp_epsilon(0.0, 1e-5) == 0.0 and privacy.gdp_epsilon(1e-3, 0.5) == 0.0
    # mu = 1 at delta 1e-5 is epsilon ~ 4.4 (Dong, Roth and Su's Gaussian DP).
    assert 4.0 < privacy.gdp_epsilon(1.0, 1e-5) < 4.8
    assert privacy.gdp_mu(0.5, 0.5) == 0.0 and privacy.gdp_mu(0.1, 0.5) == 0.0
    assert privacy.gdp_mu(norm_cdf(1.0), 0.5) == pytest.approx(1.0)


def norm_cdf(x):
    from scipy.stats import norm

    return norm.cdf(x)


def test_the_gaussian_dp_estimate_recovers_a_gaussian_shift_from_below():
    rng = np.random.default_rng(3)
    is_member = rng.random((8, 20000)) < 0.5
    scores = rng.normal(size=is_member.shape) + 1.0 * is_member  # a 1-GDP test, exactly
    result = privacy.epsilon_lower_bound(scores, is_member, delta=1e-5)
    gdp = result["gdp"]
    assert 0.8 < gdp["mu"] <= 1.05  # Clopper-Pearson keeps it at or below the truth
    assert gdp["epsilon"] == pytest.approx(privacy.gdp_epsilon(gdp["mu"], 1e-5))
    assert gdp["epsilon"] > result["epsilon"]  # it assumes more, and says more
