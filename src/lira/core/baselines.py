"""The paper's white-box comparison (Fig. 15) and two Table I baselines beyond the catalog's
(numpy only): LiRA online on any per-example statistic with each target's pair left out, Long et
al.'s outlier attack, and a paired bootstrap of the metrics of several attacks on the same points.

Shapes: N models, n pool examples, T targets (models 0..T-1), Q queries.
"""

from __future__ import annotations

import numpy as np

from lira.core import attacks, deployment, metrics, splits
from lira.core.gaussian import fit_shadow_sums, leave_pair_out

# Long et al. keep this fraction of the examples, those farthest from their nearest neighbour.
LONG_OUTLIER_FRACTION = 0.1
# The score of an example Long et al. do not attack: below every outlier's (whose lowest is
# -log(1) = 0), so that no threshold calls a non-outlier a member before every outlier.
NOT_AN_OUTLIER = -1.0


def lira_online_pair_out(values, keep: np.ndarray, n_targets: int) -> np.ndarray:
    """Online LiRA (per-example Gaussians, lira.core.attacks.lira_online) on the statistic `values`
    [N, n, Q] (higher = more member-like), target t in 0..n_targets-1 attacked by every model
    outside its pair: scores float64 [T, n]."""
    values = np.asarray(values, dtype=np.float64)
    targets = np.arange(n_targets)
    fit = fit_shadow_sums(values, keep)
    params = leave_pair_out(fit, values, keep, targets)
    return attacks.lira_online(values[:n_targets], params)


def negative_log_norm(norms: np.ndarray) -> np.ndarray:
    """-log(gradient norm), the statistic members make large (their gradients are small); a norm
    of exactly 0 (the loss flat to float32 precision) is taken as float32's smallest normal."""
    norms = np.asarray(norms, dtype=np.float64)
    return -np.log(np.maximum(norms, np.finfo(np.float32).tiny))


def long_outliers(features: np.ndarray, fraction: float = LONG_OUTLIER_FRACTION) -> np.ndarray:
    """Long et al.'s outliers: bool [n], the ceil(fraction * n) examples whose largest cosine
    similarity to any other example is lowest (farthest from their nearest neighbour), ties by
    index. features [n, d]."""
    features = np.asarray(features, dtype=np.float64)
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-300)
    similarity = unit @ unit.T  # [n, n]
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.max(axis=1)
    chosen = np.argsort(nearest, kind="stable")[: int(np.ceil(fraction * len(features)))]
    outliers = np.zeros(len(features), dtype=bool)
    outliers[chosen] = True
    return outliers


def long_scores(
    target_loss: np.ndarray,
    shadow_loss: np.ndarray,
    shadow_logits: np.ndarray,
    keep: np.ndarray,
    n_targets: int,
    fraction: float = LONG_OUTLIER_FRACTION,
) -> tuple[np.ndarray, np.ndarray]:
    """Long et al. ("A pragmatic approach to membership inferences on machine learning models"):
    attack only the outliers, with a per-example test against the OUT shadows' losses.

    For target t (its shadows: every model outside its pair, lira.core.splits.shadow_models):
    features z(x) = the mean logits [classes] of its shadows on x; outliers = long_outliers(z);
    for an outlier, p = (1 + #{OUT shadows with loss <= the target's loss}) / (1 + #OUT shadows),
    the smoothed empirical chance of a loss as low under "x is OUT", and score = -log p; every
    other example scores NOT_AN_OUTLIER (no confident guess). The paper fits the OUT losses' tails
    with cubic splines to reach below 1 / #OUT; splines fitted to a few dozen losses overfit the
    tails (and so overstate low-FPR power), hence the plain smoothed count here.

    target_loss [T, n], shadow_loss [N, n], shadow_logits [N, n, classes], keep [N, n]. Returns
    (scores float64 [T, n], outliers bool [T, n])."""
    shadow_loss = np.asarray(shadow_loss, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    scores = np.full((n_targets, shadow_loss.shape[1]), NOT_AN_OUTLIER)
    outliers = np.zeros(scores.shape, dtype=bool)
    for target in range(n_targets):
        shadows = splits.shadow_models(target, len(keep))
        outliers[target] = long_outliers(np.asarray(shadow_logits[shadows], dtype=np.float64).mean(axis=0), fraction)
        chosen = np.flatnonzero(outliers[target])
        out = ~keep[:, chosen] & shadows[:, None]  # [N, outliers]
        as_low = (shadow_loss[:, chosen] <= target_loss[target, chosen]) & out
        chance = (1.0 + as_low.sum(axis=0)) / (1.0 + out.sum(axis=0))
        scores[target, chosen] = -np.log(chance)
    return scores, outliers


def paired_bootstrap(scores: dict, is_member: np.ndarray, fprs, resamples: int, seed: int):
    """Metrics of several attacks scored on the same points, each resample drawing the same points
    for every attack (so differences between attacks get intervals of their own).

    scores: name -> [...] (flattened; the same shape as is_member). Returns (rows, samples):
    rows[name] = metrics.summarise's row plus "<metric>_95": [lo, hi] for auc, balanced_accuracy
    and each tpr@<fpr> (from the resamples where it is measurable); samples[name][metric] =
    float [resamples], NaN where not measurable."""
    is_member = np.asarray(is_member, dtype=bool).ravel()
    flat = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in scores.items()}
    keys = ["auc", "balanced_accuracy"] + [f"tpr@{metrics.fpr_label(fpr)}" for fpr in fprs]

    def measured(drawn_scores: np.ndarray, drawn_member: np.ndarray) -> list[float]:
        """[attacks x keys]: each attack's metrics on one resample."""
        values = []
        for attack_scores in drawn_scores:
            roc = metrics.roc_curve(attack_scores, drawn_member)
            values += [metrics.auc(roc), metrics.balanced_accuracy(roc)]
            values += [metrics.tpr_at_fpr(roc, fpr)[0] for fpr in fprs]
        return values

    stacked = np.stack(list(flat.values()))  # [A, m]
    drawn = deployment.paired_bootstrap(measured, stacked, is_member, resamples, seed, stream=(0xB007, 2))
    drawn = drawn.reshape(resamples, len(flat), len(keys))  # [resamples, A, keys]
    samples = {name: {key: drawn[:, a, k] for k, key in enumerate(keys)} for a, name in enumerate(flat)}
    rows = {}
    for name, values in flat.items():
        row = metrics.summarise(values, is_member, fprs)
        for key in keys:
            row[f"{key}_95"] = interval(samples[name][key])
        rows[name] = row
    return rows, samples


def interval(samples: np.ndarray) -> list[float]:
    """The 95 % percentile interval of the measurable (non-NaN) samples; [nan, nan] if none."""
    return list(deployment.percentile_interval(samples))
