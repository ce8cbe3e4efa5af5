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


def roc_curve(scores: np.ndarray, is_member: np.ndarray) -> Roc:
    """ROC of `scores` against boolean `is_member`; tied scores move together (one point)."""
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
    order = np.argsort(-scores, kind="stable")
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


def tpr_at_fpr(roc: Roc, max_fpr: float) -> tuple[float, float]:
    """(TPR, FPR achieved) of the best threshold whose FPR is <= max_fpr.

    An FPR below one negative (max_fpr < 1 / n_negative) cannot be measured: returns (nan, nan).
    """
    if not 0.0 < max_fpr < 1.0:
        raise ValueError(f"max_fpr must lie in (0, 1), got {max_fpr}")
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


def bootstrap(scores: np.ndarray, is_member: np.ndarray, fprs, resamples: int, seed: int, grid: np.ndarray):
    """95 % percentile intervals from resampling the pooled (score, membership) pairs.

    Returns ({"auc": (lo, hi), "tpr@<fpr>": (lo, hi), ...}, band [2, len(grid)] of TPR on `grid`).
    Resamples are drawn in full; each interval comes from the resamples where the value is
    measurable.

    The scores are sorted once: a resample is how often it drew each point, and its ROC is the
    running sums of those counts down the sorted order (a threshold the resample did not draw
    repeats the previous point, which changes no TPR, FPR or area). The same curves as sorting
    every resample, bit for bit, in O(n) instead of O(n log n) per resample.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    is_member = np.asarray(is_member, dtype=bool).ravel()
    full = roc_curve(scores, is_member)  # checks the inputs
    n = scores.size
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)  # each point's place in the sorted order
    member_sorted = is_member[order].astype(np.int64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores[order])), n - 1]
    rng = np.random.default_rng([seed, 0xB007])
    values = {"auc": []} | {f"tpr@{fpr_label(f)}": [] for f in fprs}
    curves = []
    for _ in range(resamples):
        counts = np.bincount(rank[rng.integers(0, n, n)], minlength=n)  # [n] in sorted order
        drawn = np.cumsum(counts)[last_of_tie]
        true_positives = np.cumsum(counts * member_sorted)[last_of_tie]
        n_positive, n_negative = int(true_positives[-1]), int(drawn[-1] - true_positives[-1])
        if n_positive == 0 or n_negative == 0:
            raise ValueError(f"a resample drew {n_positive} members and {n_negative} non-members")
        roc = Roc(
            fpr=np.r_[0.0, (drawn - true_positives) / n_negative],
            tpr=np.r_[0.0, true_positives / n_positive],
            thresholds=full.thresholds,
            n_positive=n_positive,
            n_negative=n_negative,
        )
        values["auc"].append(auc(roc))
        for fpr in fprs:
            values[f"tpr@{fpr_label(fpr)}"].append(tpr_at_fpr(roc, fpr)[0])
        curves.append(tpr_at_fprs_on_grid(roc, grid))
    intervals = {}
    for key, samples in values.items():
        samples = np.asarray(samples)
        samples = samples[~np.isnan(samples)]
        intervals[key] = tuple(np.percentile(samples, [2.5, 97.5]).tolist()) if samples.size else (np.nan, np.nan)
    band = np.percentile(np.stack(curves), [2.5, 97.5], axis=0) if curves else np.full((2, len(grid)), np.nan)
    return intervals, band


def per_target(scores: np.ndarray, is_member: np.ndarray, fprs) -> dict[str, list[float]]:
    """AUC and TPR at each FPR of every target on its own ([T] lists): the spread across targets."""
    rows = [summarise(s, m, fprs) for s, m in zip(scores, is_member)]
    keys = ["auc"] + [f"tpr@{fpr_label(f)}" for f in fprs]
    return {key: [row[key] for row in rows] for key in keys}
