"""ROC analysis for membership scores (numpy only): TPR at low FPR is what matters.

Scores: higher means "member". Labels: True for members.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Roc:
    """ROC curve over every distinct threshold, from (0, 0) to (1, 1); arrays [k]."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray  # a point counts as "member" when its score >= threshold
    n_positive: int
    n_negative: int


def _checked(scores: np.ndarray, is_member: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(scores as float64 [n], is_member as bool [n], members, non-members), flattened; raises
    ValueError on mismatched sizes, non-finite scores, or a missing class."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    is_member = np.asarray(is_member, dtype=bool).ravel()
    if scores.shape != is_member.shape:
        raise ValueError(f"scores {scores.shape} and labels {is_member.shape} differ in size")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(scores))} scores are NaN or infinite")
    n_positive = int(is_member.sum())
    n_negative = int(is_member.size - n_positive)
    if n_positive == 0 or n_negative == 0:
        raise ValueError(f"need members and non-members, got {n_positive} and {n_negative}")
    return scores, is_member, n_positive, n_negative


def roc_curve(scores: np.ndarray, is_member: np.ndarray) -> Roc:
    """ROC of `scores` against boolean `is_member`; tied scores move together (one point)."""
    scores, is_member, n_positive, n_negative = _checked(scores, is_member)
    # The curve is read only at the last of each run of tied scores, where the counts do not
    # depend on the order within the run: no need for a stable sort, which is slower.
    order = np.argsort(-scores)
    sorted_scores = scores[order]
    true_positives = np.cumsum(is_member[order])
    false_positives = np.arange(1, scores.size + 1) - true_positives
    # The last index of each run of equal scores: thresholds between distinct values only.
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), scores.size - 1]
    return Roc(
        fpr=np.r_[0.0, false_positives[last_of_tie] / n_negative],
        tpr=np.r_[0.0, true_positives[last_of_tie] / n_positive],
        thresholds=np.r_[np.inf, sorted_scores[last_of_tie]],
        n_positive=n_positive,
        n_negative=n_negative,
    )


def _check_max_fpr(max_fpr: float) -> None:
    if not 0.0 < max_fpr < 1.0:
        raise ValueError(f"max_fpr must lie in (0, 1), got {max_fpr}")


def tpr_at_fpr(roc: Roc, max_fpr: float) -> tuple[float, float]:
    """(TPR, FPR achieved) of the best threshold whose FPR is <= max_fpr.

    An FPR below one negative (max_fpr < 1 / n_negative) cannot be measured: returns (nan, nan).
    """
    _check_max_fpr(max_fpr)
    if max_fpr * roc.n_negative < 1.0:
        return float("nan"), float("nan")
    allowed = np.flatnonzero(roc.fpr <= max_fpr)
    best = allowed[np.argmax(roc.tpr[allowed])]
    return float(roc.tpr[best]), float(roc.fpr[best])


def auc(roc: Roc) -> float:
    """Area under the ROC curve (trapezoids; ties count one half)."""
    return float(np.trapezoid(roc.tpr, roc.fpr))


def balanced_accuracy(roc: Roc) -> float:
    """max over thresholds of 1 - (FPR + FNR) / 2."""
    return float(np.max(1.0 - (roc.fpr + (1.0 - roc.tpr)) / 2.0))


def fpr_label(fpr: float) -> str:
    """0.001 -> '0.1%'; 1e-05 -> '0.001%'."""
    return f"{fpr * 100:.10g}%"


def summarise(scores: np.ndarray, is_member: np.ndarray, fprs) -> dict:
    """One row of the metrics table for scores pooled over targets (any shape, flattened).

    TPR and achieved FPR are NaN at an FPR below one negative ("not measurable")."""
    roc = roc_curve(scores, is_member)
    row = {
        "auc": auc(roc),
        "balanced_accuracy": balanced_accuracy(roc),
        "members": roc.n_positive,
        "non_members": roc.n_negative,
    }
    for fpr in fprs:
        tpr, achieved = tpr_at_fpr(roc, fpr)
        row[f"tpr@{fpr_label(fpr)}"] = tpr
        row[f"fpr_achieved@{fpr_label(fpr)}"] = achieved
    return row


def tpr_at_fprs_on_grid(roc: Roc, grid: np.ndarray) -> np.ndarray:
    """TPR at every FPR of `grid` (the largest TPR with FPR <= each), for ROC bands; [len(grid)]."""
    best_so_far = np.maximum.accumulate(roc.tpr)  # fpr is non-decreasing along the curve
    position = np.searchsorted(roc.fpr, grid, side="right") - 1
    return best_so_far[np.maximum(position, 0)]


# Draws per batch of bootstrap resamples: a batch's arrays [resamples, n] of int64 stay within
# 1 MiB. Larger ones go back to the operating system when freed and are page-faulted in again for
# every batch, which costs more than the smaller batches' extra Python overhead.
BOOTSTRAP_BATCH_DRAWS = 1 << 17


def bootstrap(scores: np.ndarray, is_member: np.ndarray, fprs, resamples: int, seed: int, grid: np.ndarray):
    """95 % percentile intervals from resampling the pooled (score, membership) pairs.

    Returns ({"auc": (lo, hi), "tpr@<fpr>": (lo, hi), ...}, band [2, len(grid)] of TPR on `grid`).
    Each resample draws n of the n points with replacement; its values are those of roc_curve on
    the drawn points (auc, tpr_at_fpr, tpr_at_fprs_on_grid), and each interval comes from the
    resamples where the value is measurable (tpr_at_fpr's rule). fprs lie in (0, 1), grid in [0, 1].

    The draws: resample r takes the next n values of rng.integers(0, n), drawn as a [batch, n]
    block at a time (the same stream as one resample after another); value i picks point i.

    How, sorting nothing per resample: the points fall into bins, one per distinct score of each
    class: the members' by descending score, then the non-members'. A resample is a count per bin
    (one bincount for a batch), and the running sums of the counts (one cumsum) say how many drawn
    members score above any non-member bin and how many drawn non-members score at least as high.
    From those, in integers:
      AUC   sum over drawn non-members of (2 x drawn members above + drawn members tied with it),
            / (2 x drawn members x drawn non-members): the area of roc_curve's trapezoids;
      TPR   at FPR <= f: with c the most false positives that FPR <= f allows, the thresholds
            allowed are those above the first non-member bin where the running count of drawn
            non-members exceeds c; the best of them catches every drawn member above that bin.
    """
    scores, is_member, _, _ = _checked(scores, is_member)
    fprs = [float(fpr) for fpr in fprs]
    for fpr in fprs:
        _check_max_fpr(fpr)
    grid = np.asarray(grid, dtype=np.float64)
    if np.any((grid < 0.0) | (grid > 1.0)):
        raise ValueError("grid FPRs must lie in [0, 1]")
    n = scores.size
    # Each class's distinct scores, descending (as ascending negated scores), and each point's bin.
    member_levels, member_bins = np.unique(-scores[is_member], return_inverse=True)
    non_member_levels, non_member_bins = np.unique(-scores[~is_member], return_inverse=True)
    n_member_bins, n_bins = member_levels.size, member_levels.size + non_member_levels.size
    bin_of_point = np.empty(n, dtype=np.int64)
    bin_of_point[is_member] = member_bins
    bin_of_point[~is_member] = n_member_bins + non_member_bins
    # Per non-member bin: how many member bins score strictly higher, and how many at least as high.
    above = np.searchsorted(member_levels, non_member_levels, side="left")
    at_least = np.searchsorted(member_levels, non_member_levels, side="right")
    tied = np.flatnonzero(at_least > above)  # non-member bins tied with a member bin
    above_or_all = np.r_[above, n_member_bins]  # past the last non-member bin: every member is above
    limits = np.r_[fprs, grid]  # [m]: every lookup at once
    rng = np.random.default_rng([seed, 0xB007])
    areas = np.empty(resamples)
    tprs = np.empty((resamples, limits.size))
    batch = max(1, BOOTSTRAP_BATCH_DRAWS // n)
    for start in range(0, resamples, batch):
        done = slice(start, min(start + batch, resamples))
        rows = np.arange(done.stop - start)[:, None]  # [size, 1]
        bins = rng.integers(0, n, (len(rows), n))  # the drawn points
        # Their bins, in place: the indices are always in range, and mode="clip" lets np.take
        # write into its own input unbuffered (faster than filling a fresh array).
        np.take(bin_of_point, bins, out=bins, mode="clip")
        # Row r counts bin b into r (n_bins + 1) + 1 + b: one bincount for the batch. Slot 0 of
        # each row stays empty, so that running[:, b] counts the draws of the bins before b: the
        # drawn members above non-member bin a are running[:, above[a]].
        bins += rows * (n_bins + 1) + 1
        counts = np.bincount(bins.ravel(), minlength=len(rows) * (n_bins + 1)).reshape(len(rows), n_bins + 1)
        running = np.cumsum(counts, axis=1)  # [size, n_bins + 1]
        drawn_members = running[:, n_member_bins]  # [size]
        drawn_non_members = n - drawn_members
        lacking = np.flatnonzero((drawn_members == 0) | (drawn_non_members == 0))
        if lacking.size:
            r = lacking[0]
            raise ValueError(f"a resample drew {drawn_members[r]} members and {drawn_non_members[r]} non-members")
        non_member_counts = counts[:, n_member_bins + 1 :]  # [size, non-member bins]
        # Integers below 2^53 (np.take: faster than fancy indexing), so the
        # area's only rounding is the final division.
        doubled_area = 2 * np.einsum("ra,ra->r", non_member_counts, np.take(running, above, axis=1))
        tied_members = np.take(running, at_least[tied], axis=1) - np.take(running, above[tied], axis=1)
        doubled_area += np.einsum("ra,ra->r", non_member_counts[:, tied], tied_members)
        areas[done] = doubled_area / (2 * drawn_members * drawn_non_members)
        # Per row and limit, the first non-member bin whose running count of drawn non-members
        # exceeds the allowed false positives: one searchsorted over the batch, with row r moved
        # to [r (n + 1), r (n + 1) + n] (its running counts lie in [0, n]; at the non-member bins
        # they are the drawn members plus the drawn non-members so far).
        allowed = np.minimum(_largest_count(limits, drawn_non_members), drawn_non_members[:, None])
        moved = running[:, n_member_bins + 1 :] + rows * (n + 1)
        targets = allowed + drawn_members[:, None] + rows * (n + 1)
        first_over = np.searchsorted(moved.ravel(), targets.ravel(), side="right").reshape(targets.shape)
        first_over -= rows * (n_bins - n_member_bins)
        true_positives = np.take_along_axis(running, above_or_all[first_over], axis=1)
        tprs[done] = true_positives / drawn_members[:, None]
        # As tpr_at_fpr: an FPR below one non-member is not measurable (the grid is read anyway).
        tprs[done, : len(fprs)][np.asarray(fprs) * drawn_non_members[:, None] < 1.0] = np.nan
    values = {"auc": areas} | {f"tpr@{fpr_label(fpr)}": tprs[:, i] for i, fpr in enumerate(fprs)}
    intervals = {}
    for key, samples in values.items():
        samples = samples[~np.isnan(samples)]
        intervals[key] = tuple(np.percentile(samples, [2.5, 97.5]).tolist()) if samples.size else (np.nan, np.nan)
    curves = tprs[:, len(fprs) :]  # [resamples, len(grid)]
    band = np.percentile(curves, [2.5, 97.5], axis=0) if resamples else np.full((2, len(grid)), np.nan)
    return intervals, band


def _largest_count(max_fprs: np.ndarray, n_negative: np.ndarray) -> np.ndarray:
    """[R, m]: for n_negative [R] and max_fprs [m], the largest integer c with c / n_negative <=
    max_fpr in float64, the comparison roc_curve's FPRs (false positives / n_negative) meet: "at
    most c false positives" picks exactly the thresholds with FPR <= max_fpr."""
    n_negative = n_negative[:, None]
    count = np.floor(max_fprs * n_negative).astype(np.int64)
    # The product and the quotients each round by half an ulp, so the floor is within one of c.
    count += (count + 1) / n_negative <= max_fprs
    count -= count / n_negative > max_fprs
    return count


def per_target(scores: np.ndarray, is_member: np.ndarray, fprs) -> dict[str, list[float]]:
    """AUC and TPR at each FPR of every target on its own ([T] lists): the spread across targets."""
    rows = [summarise(s, m, fprs) for s, m in zip(scores, is_member)]
    keys = ["auc"] + [f"tpr@{fpr_label(f)}" for f in fprs]
    return {key: [row[key] for row in rows] for key in keys}


def vulnerability(scores: np.ndarray, is_member: np.ndarray) -> dict[str, np.ndarray]:
    """Per example, over the targets: mean score when a member, mean score when not, and their
    difference, the exposure (high: membership of this example is easy to tell). Arrays [n]."""
    member_mean = np.nanmean(np.where(is_member, scores, np.nan), axis=0)
    non_member_mean = np.nanmean(np.where(is_member, np.nan, scores), axis=0)
    return {
        "mean_score_member": member_mean,
        "mean_score_non_member": non_member_mean,
        "exposure": member_mean - non_member_mean,
    }


def calibrated_threshold(negative_scores: np.ndarray, max_fpr: float) -> tuple[float | None, float]:
    """The score threshold tau at which at most a `max_fpr` fraction of `negative_scores` (scores
    of known non-members, any shape) lie strictly above it, and the fraction that does: the
    (k + 1)-th largest score with k = floor(max_fpr * count). "Member" means score > tau, so ties
    at tau count as non-members. (None, 0.0) when max_fpr * count < 1: with fewer non-members
    than 1 / max_fpr no threshold is calibrated at that FPR."""
    _check_max_fpr(max_fpr)
    negatives = np.sort(np.asarray(negative_scores, dtype=np.float64).ravel())[::-1]
    allowed = int(np.floor(max_fpr * len(negatives) + 1e-9))  # + 1e-9: 0.001 * 1000 is 0.99999...
    if allowed < 1 or allowed >= len(negatives):
        return None, 0.0
    threshold = float(negatives[allowed])
    return threshold, float(np.count_nonzero(negatives > threshold) / len(negatives))
