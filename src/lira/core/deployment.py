"""What an attacker can use in practice, from cached scores (numpy only): the purity of an attack's
most confident decisions, the precision when members are rare, thresholds chosen on shadow models
only, and paired bootstrap intervals for comparing two attacks on the same (target, example) pairs.

Scores are [T, n] (targets, pool examples), higher means "member"; is_member [T, n] bool. Pooled
means flattened over the targets, the paper's protocol (lira.core.metrics).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lira.core import splits
from lira.core.metrics import calibrated_threshold, roc_curve, tpr_at_fpr


def percentile_interval(samples) -> tuple[float, float]:
    """The 95 % percentile interval of bootstrap `samples`, NaNs (not measurable) left out."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[~np.isnan(samples)]
    if not samples.size:
        return (float("nan"), float("nan"))
    low, high = np.percentile(samples, [2.5, 97.5])
    return (float(low), float(high))


def paired_bootstrap(
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    scores: np.ndarray,
    is_member: np.ndarray,
    resamples: int,
    seed: int,
    stream: tuple = (0xDE,),
) -> np.ndarray:
    """statistic(scores_drawn [A, m], is_member_drawn [m]) -> values [k], over `resamples` resamples
    of the pooled pairs: each draws m of the m pooled (target, example) pairs with replacement, the
    SAME pairs for every attack a of scores [A, T, n] (a paired bootstrap: the attacks' difference
    keeps only the noise that is not shared). Returns [resamples, k]. `stream` names the draws
    (numpy's seed [seed, *stream]): callers that must not share draws pass their own."""
    scores = np.asarray(scores, dtype=np.float64).reshape(len(scores), -1)  # [A, m]
    is_member = np.asarray(is_member, dtype=bool).ravel()  # [m]
    rng = np.random.default_rng([seed, *stream])
    values = []
    for _ in range(resamples):
        drawn = rng.integers(0, is_member.size, is_member.size)  # [m]
        values.append(np.atleast_1d(statistic(scores[:, drawn], is_member[drawn])))
    return np.array(values, dtype=np.float64).reshape(resamples, -1)


def tail_shares(scores: np.ndarray, is_member: np.ndarray, share: float = 0.01) -> tuple[float, float]:
    """(members among the `share` of pooled pairs with the HIGHEST scores, non-members among the
    `share` with the LOWEST scores). For the LOSS attack (score = -loss) these are the lowest-loss
    and the highest-loss 1 % of the paper's Fig. 2. The share counts k = max(1, floor(share x m))
    pairs; ties are broken by the order of a stable sort (pairs in the order given)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    is_member = np.asarray(is_member, dtype=bool).ravel()
    if not 0.0 < share < 0.5:
        raise ValueError(f"share must lie in (0, 0.5), got {share}")
    k = max(1, int(np.floor(share * scores.size)))
    order = np.argsort(scores, kind="stable")  # ascending
    lowest, highest = order[:k], order[-k:]
    return float(is_member[highest].mean()), float(1.0 - is_member[lowest].mean())


def precision(member_share: float, tpr: float, fpr: float) -> float:
    """Precision of "member" decisions made at (tpr, fpr) when a share `member_share` of the
    examples attacked are members: pi TPR / (pi TPR + (1 - pi) FPR); NaN when nothing is flagged."""
    flagged = member_share * tpr + (1.0 - member_share) * fpr
    return float(member_share * tpr / flagged) if flagged > 0 else float("nan")


def precision_at(scores: np.ndarray, is_member: np.ndarray, member_shares, fprs) -> dict[tuple[float, float], float]:
    """{(member share, FPR): precision} of the pooled ROC's best threshold at FPR <= each FPR (its
    TPR and the FPR it achieves, lira.core.metrics.tpr_at_fpr); NaN where the FPR is not measurable."""
    roc = roc_curve(scores, is_member)
    result = {}
    for fpr in fprs:
        tpr, achieved = tpr_at_fpr(roc, fpr)
        for share in member_shares:
            result[(share, fpr)] = float("nan") if np.isnan(tpr) else precision(share, tpr, achieved)
    return result


def deployed_thresholds(scores: np.ndarray, is_member: np.ndarray, targets: np.ndarray, max_fpr: float) -> dict:
    """Thresholds an attacker could deploy: for each target t, the threshold calibrated at `max_fpr`
    (lira.core.metrics.calibrated_threshold: "member" = score > threshold) on the non-member
    scores of every OTHER target but t's complementary partner (lira.core.splits.partner), whose
    membership the attacker knows because it trained them; applied to t's own scores.

    scores, is_member [T, n]; targets [T] the model index of each row. Returns arrays [T]:
    "threshold" (NaN where no threshold is calibrated: too few non-members for max_fpr),
    "false_positives", "non_members", "true_positives", "members"."""
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    targets = np.asarray(targets)
    n_targets = len(scores)
    out = {key: np.zeros(n_targets) for key in ("threshold", "false_positives", "non_members", "true_positives", "members")}
    for row, target in enumerate(targets):
        others = (targets != target) & (targets != splits.partner(int(target)))  # [T]
        threshold, _ = calibrated_threshold(scores[others][~is_member[others]], max_fpr)
        flagged = scores[row] > (np.inf if threshold is None else threshold)  # [n]
        out["threshold"][row] = np.nan if threshold is None else threshold
        out["false_positives"][row] = np.count_nonzero(flagged & ~is_member[row])
        out["non_members"][row] = np.count_nonzero(~is_member[row])
        out["true_positives"][row] = np.count_nonzero(flagged & is_member[row])
        out["members"][row] = np.count_nonzero(is_member[row])
    return out


def pooled_rates_by_target_bootstrap(per_target: dict, resamples: int, seed: int) -> dict:
    """Pooled achieved FPR and TPR of deployed_thresholds' per-target counts, with 95 % intervals
    from resampling the targets (each keeps its own threshold): {"fpr": value, "fpr_95": (lo, hi),
    "tpr": ..., "tpr_95": ...}."""
    fp, neg, tp, pos = (np.asarray(per_target[key]) for key in ("false_positives", "non_members", "true_positives", "members"))
    rng = np.random.default_rng([seed, 0xD1])
    drawn = rng.integers(0, len(fp), (resamples, len(fp)))  # [resamples, T]
    return {
        "fpr": float(fp.sum() / neg.sum()),
        "fpr_95": percentile_interval(fp[drawn].sum(1) / neg[drawn].sum(1)),
        "tpr": float(tp.sum() / pos.sum()),
        "tpr_95": percentile_interval(tp[drawn].sum(1) / pos[drawn].sum(1)),
    }
