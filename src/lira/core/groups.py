"""Attack results by group of pool examples (numpy only): ordinary examples against the canaries
appended to the pool (data.canaries, the paper's Fig. 13), each group's privacy scores and the
share of its members an attack finds at a threshold calibrated on the whole pool.

Intervals are 95 % percentile bootstraps over the group's examples (an example's targets are
resampled together: its scores under different targets are not independent draws).
"""

from __future__ import annotations

import numpy as np

from lira.core.metrics import calibrated_threshold


def _draws(count: int, resamples: int, seed: int) -> np.ndarray:
    """Indices [resamples, count] drawn with replacement from 0..count-1."""
    return np.random.default_rng(seed).integers(0, count, (resamples, count))


def median_interval(values: np.ndarray, resamples: int, seed: int) -> tuple[float, float, float]:
    """(median, 2.5 % and 97.5 % percentiles of the median over `resamples` bootstrap resamples)
    of the finite values of `values` [n]; NaN for none (the interval NaN without resamples)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan"), float("nan")
    median = float(np.median(values))
    if resamples < 1:
        return median, float("nan"), float("nan")
    medians = np.median(values[_draws(len(values), resamples, seed)], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return median, float(low), float(high)


def rate_interval(hits: np.ndarray, trials: np.ndarray, resamples: int, seed: int) -> tuple[float, float, float]:
    """(sum(hits) / sum(trials), and its 95 % bootstrap interval over the examples) of per-example
    counts hits, trials [n]: resampling examples keeps each one's trials together. NaN without trials."""
    hits, trials = np.asarray(hits, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    if trials.sum() == 0:
        return float("nan"), float("nan"), float("nan")
    rate = float(hits.sum() / trials.sum())
    if resamples < 1:
        return rate, float("nan"), float("nan")
    draws = _draws(len(trials), resamples, seed)
    drawn_trials = trials[draws].sum(axis=1)
    rates = hits[draws].sum(axis=1)[drawn_trials > 0] / drawn_trials[drawn_trials > 0]
    low, high = np.percentile(rates, [2.5, 97.5])
    return rate, float(low), float(high)


def hits_at_pooled_threshold(scores: np.ndarray, is_member: np.ndarray, max_fpr: float):
    """The threshold at which at most `max_fpr` of all non-member scores lie above it
    (lira.core.metrics.calibrated_threshold, pooled over every target and example), and per example
    [n] its members found (score > threshold), members, non-members flagged and non-members, each
    counted over the targets (scores, is_member: [T, n]). The threshold is None, and nothing is
    flagged, when there are fewer than 1 / max_fpr non-members."""
    scores, is_member = np.asarray(scores, dtype=np.float64), np.asarray(is_member, dtype=bool)
    threshold, _ = calibrated_threshold(scores[~is_member], max_fpr)
    above = scores > threshold if threshold is not None else np.zeros(scores.shape, bool)
    return threshold, {
        "members_found": (above & is_member).sum(axis=0),
        "members": is_member.sum(axis=0),
        "non_members_flagged": (above & ~is_member).sum(axis=0),
        "non_members": (~is_member).sum(axis=0),
    }


def intervals_overlap(first: tuple, second: tuple) -> bool:
    """Whether two (value, low, high) intervals share a point (NaN bounds: taken as overlapping)."""
    (_, low_a, high_a), (_, low_b, high_b) = first, second
    if not all(np.isfinite([low_a, high_a, low_b, high_b])):
        return True
    return not (high_a < low_b or high_b < low_a)
