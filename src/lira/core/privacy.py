"""Empirical privacy: the epsilon an attack's scores prove, as a lower bound (numpy/scipy only).

An (epsilon, delta)-DP training algorithm bounds every membership test on its models: at any
threshold, TPR <= e^epsilon FPR + delta and 1 - FPR <= e^epsilon (1 - TPR) + delta. So a test
that reaches some (TPR, FPR) proves

    epsilon >= max( log((TPR - delta) / FPR), log((1 - delta - FPR) / (1 - TPR)) ).

With finitely many trials the rates are estimates: the bound uses a Clopper-Pearson lower bound on
the TPR and upper bound on the FPR, each one-sided at (1 - confidence) / 2, so that both hold
together with probability `confidence`. The threshold is chosen on one half of the (score,
membership) pairs and the bound computed on the other half, so that choosing the best of many
thresholds does not inflate it.

The Gaussian-DP estimate beside it (Nasr et al., USENIX Security 2023) assumes more and so says
more: if the training is mu-GDP, as DP-SGD nearly is, a test at (TPR, FPR) shows mu >=
Phi^-1(TPR) - Phi^-1(FPR) (with the same Clopper-Pearson rates), and that mu gives an epsilon at
delta through the Gaussian trade-off curve. It is an estimate under that assumption, not a bound.

What it is and is not: a lower bound on the epsilon of the training recipe *for this attack on
these data*, not an audit of the mechanism (a stronger attack, or worst-case data, may prove more).
It treats every (model, example) pair as an independent trial of the membership test; the pairs
of one model share its training run, so the confidence is nominal (docs/method.md).
"""

from __future__ import annotations

import numpy as np

# Candidate thresholds on the selection half: at most this many quantiles of its scores.
MAX_CANDIDATES = 4096


def clopper_pearson(successes, trials, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact binomial bounds at level 1 - alpha, elementwise: (lower, upper) with
    P(p >= lower) >= 1 - alpha and P(p <= upper) >= 1 - alpha. lower is 0 at 0 successes, upper
    is 1 at `trials` successes."""
    from scipy.stats import beta

    successes = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(successes > 0, beta.ppf(alpha, successes, trials - successes + 1), 0.0)
        upper = np.where(successes < trials, beta.ppf(1 - alpha, successes + 1, trials - successes), 1.0)
    return lower, upper


def epsilon_from_rates(tpr, fpr, delta: float) -> np.ndarray:
    """The epsilon that rates (TPR, FPR) prove under (epsilon, delta)-DP, elementwise (0 where
    they prove nothing): max of log((TPR - delta) / FPR) and log((1 - delta - FPR) / (1 - TPR))."""
    tpr = np.asarray(tpr, dtype=np.float64)
    fpr = np.asarray(fpr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.log(np.maximum(tpr - delta, 0.0) / fpr)
        second = np.log(np.maximum(1.0 - delta - fpr, 0.0) / (1.0 - tpr))
    bound = np.fmax(np.where(np.isnan(first), -np.inf, first), np.where(np.isnan(second), -np.inf, second))
    return np.maximum(bound, 0.0)


def gdp_mu(tpr, fpr) -> np.ndarray:
    """The mu of Gaussian DP that rates (TPR, FPR) show: Phi^-1(TPR) - Phi^-1(FPR), at least 0."""
    from scipy.special import ndtri

    with np.errstate(divide="ignore", invalid="ignore"):
        mu = ndtri(np.asarray(tpr, dtype=np.float64)) - ndtri(np.asarray(fpr, dtype=np.float64))
    return np.maximum(np.where(np.isnan(mu), 0.0, mu), 0.0)


def gdp_delta(epsilon: float, mu: float) -> float:
    """delta(epsilon) of a mu-GDP mechanism: Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)
    (Dong, Roth and Su 2022), the second term in log space (e^eps overflows before it vanishes)."""
    from scipy.special import log_ndtr, ndtr

    return float(ndtr(-epsilon / mu + mu / 2) - np.exp(epsilon + log_ndtr(-epsilon / mu - mu / 2)))


def gdp_epsilon(mu: float, delta: float) -> float:
    """The epsilon at `delta` of a mu-GDP mechanism (0 for mu <= 0; infinite for an infinite mu)."""
    from scipy.optimize import brentq

    if not mu > 0:
        return 0.0
    if not np.isfinite(mu):
        return float("inf")
    if gdp_delta(0.0, mu) <= delta:
        return 0.0
    high = 1.0
    while gdp_delta(high, mu) > delta:  # delta(epsilon) falls as epsilon grows
        high *= 2
    return float(brentq(gdp_delta_minus, 0.0, high, args=(mu, delta), xtol=1e-10))


def gdp_delta_minus(epsilon: float, mu: float, delta: float) -> float:
    return gdp_delta(epsilon, mu) - delta


def _counts_above(scores: np.ndarray, is_member: np.ndarray, thresholds: np.ndarray):
    """For each threshold: members and non-members scoring strictly above it."""
    members = np.sort(scores[is_member])
    non_members = np.sort(scores[~is_member])
    tp = len(members) - np.searchsorted(members, thresholds, side="right")
    fp = len(non_members) - np.searchsorted(non_members, thresholds, side="right")
    return tp, fp


def _bounds(scores, is_member, thresholds, delta, alpha):
    tp, fp = _counts_above(scores, is_member, thresholds)
    positives, negatives = int(is_member.sum()), int((~is_member).sum())
    tpr_low, _ = clopper_pearson(tp, positives, alpha)
    _, fpr_high = clopper_pearson(fp, negatives, alpha)
    return epsilon_from_rates(tpr_low, fpr_high, delta), tp, fp, tpr_low, fpr_high


def epsilon_lower_bound(
    scores: np.ndarray, is_member: np.ndarray, delta: float, confidence: float = 0.95, seed: int = 0
) -> dict:
    """The epsilon the attack's scores prove with `confidence` (module docstring).

    scores, is_member: [T, n] (targets x examples) or [n]. With two or more targets the threshold
    is chosen on the even-numbered targets and the bound computed on the odd-numbered ones; with
    one, on a seeded random half of the examples each. Returns epsilon (0.0 when nothing is
    proved), the threshold ("member" = score above it), the evaluation half's counts (tp, fp,
    members, non_members), the Clopper-Pearson tpr_low and fpr_high behind it, delta and
    confidence."""
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"delta must lie in [0, 1), got {delta}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    if scores.shape != is_member.shape:
        raise ValueError(f"scores {scores.shape} and is_member {is_member.shape} differ in shape")
    if scores.ndim == 2 and len(scores) >= 2:
        select, evaluate = (scores[0::2], is_member[0::2]), (scores[1::2], is_member[1::2])
    else:
        flat, member = scores.ravel(), is_member.ravel()
        half = np.zeros(len(flat), dtype=bool)
        half[np.random.default_rng([seed, 0xE95]).permutation(len(flat))[: len(flat) // 2]] = True
        select, evaluate = (flat[half], member[half]), (flat[~half], member[~half])
    select = (select[0].ravel(), select[1].ravel())
    evaluate = (evaluate[0].ravel(), evaluate[1].ravel())
    alpha = (1.0 - confidence) / 2
    for part in (select, evaluate):
        if part[1].all() or not part[1].any():
            raise ValueError("each half of the pairs needs members and non-members")

    # The threshold whose bound is largest on the selection half (itself a valid bound there, but
    # chosen as the best of many, so only the evaluation half's bound is reported).
    # The Gaussian-DP estimate's threshold is the one whose mu is largest, from the same rates.
    candidates = np.unique(np.quantile(select[0], np.linspace(0, 1, MAX_CANDIDATES)))
    bounds, _, _, tpr_lows, fpr_highs = _bounds(*select, candidates, delta, alpha)
    chosen = float(candidates[int(np.argmax(bounds))])
    chosen_gdp = float(candidates[int(np.argmax(gdp_mu(tpr_lows, fpr_highs)))])
    epsilon, tp, fp, tpr_low, fpr_high = _bounds(*evaluate, np.array([chosen, chosen_gdp]), delta, alpha)
    mu = float(gdp_mu(tpr_low[1], fpr_high[1]))
    gdp = {"mu": mu, "epsilon": gdp_epsilon(mu, delta), "threshold": chosen_gdp}
    return {
        "epsilon": float(epsilon[0]),
        "threshold": chosen,
        "tp": int(tp[0]),
        "fp": int(fp[0]),
        "members": int(evaluate[1].sum()),
        "non_members": int((~evaluate[1]).sum()),
        "tpr_low": float(tpr_low[0]),
        "fpr_high": float(fpr_high[0]),
        "delta": delta,
        "confidence": confidence,
        "gdp": gdp,
    }

