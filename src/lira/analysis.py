"""Analyses behind the figures (numpy only): attack power against the number of shadow models,
and per-example vulnerability."""

from __future__ import annotations

import numpy as np

from . import attacks
from .gaussian import fit_shadow_statistics, gaussian_params, leave_one_out
from .metrics import auc, roc_curve, tpr_at_fpr

SHADOW_COUNT_VARIANTS = {
    "online, per-example variance": ("online", False),
    "online, global variance": ("online", True),
    "offline, per-example variance": ("offline", False),
    "offline, global variance": ("offline", True),
}


def shadow_counts(n_models: int) -> list[int]:
    """4, 8, 16, ... below N - 1, then N - 1 (every other model). Fewer than 2 shadows per group
    (IN or OUT) leave no variance to estimate, so counts 1 and 2 are left out."""
    counts = [4]
    while counts[-1] * 2 < n_models - 1:
        counts.append(counts[-1] * 2)
    return [count for count in counts if count < n_models - 1] + [n_models - 1]


def attack_power_by_shadow_count(
    values: np.ndarray,
    keep: np.ndarray,
    n_targets: int,
    repeats: int,
    seed: int,
    max_fpr: float = 1e-3,
    offline_test: str = "one-sided",
) -> list[dict]:
    """LiRA's power with fewer shadow models, drawn from the trained ones (no retraining).

    For each count k < N - 1 and each repeat, every target t gets k shadows: k/2 random
    complementary pairs other than t's own pair, so each example has exactly k/2 IN and k/2 OUT
    shadows. The count N - 1 is plain leave-one-out. Scores are pooled over the targets as in the
    main evaluation. values [N, n, Q] (higher = member), keep [N, n]. Returns one row per
    (count, repeat, variant) with TPR at max_fpr (NaN if not measurable) and AUC."""
    rng = np.random.default_rng([seed, 0xC0])
    n_models = len(values)
    everyone = fit_shadow_statistics(values, keep)  # for N - 1: each target left out of one fit
    rows = []
    for count in shadow_counts(n_models):
        for repeat in range(1 if count == n_models - 1 else repeats):
            scores = {name: [] for name in SHADOW_COUNT_VARIANTS}
            for target in range(n_targets):
                target_values = np.asarray(values[target], dtype=np.float64)
                if count == n_models - 1:
                    params = leave_one_out(everyone, target_values, keep[target])
                else:
                    pairs = np.setdiff1d(np.arange(n_models // 2), [target // 2])
                    picked = rng.choice(pairs, size=count // 2, replace=False)
                    chosen = np.sort(np.r_[2 * picked, 2 * picked + 1])
                    params = gaussian_params(fit_shadow_statistics(values[chosen], keep[chosen]))
                for name, (kind, global_variance) in SHADOW_COUNT_VARIANTS.items():
                    if kind == "online":
                        score = attacks.lira_online(target_values, params, global_variance)
                    else:
                        score = attacks.lira_offline(target_values, params, global_variance, offline_test)
                    scores[name].append(score)
            for name, per_target in scores.items():
                roc = roc_curve(np.concatenate(per_target), keep[:n_targets].ravel())
                rows.append(
                    {
                        "shadow_models": count,
                        "repeat": repeat,
                        "variant": name,
                        "tpr": tpr_at_fpr(roc, max_fpr)[0],
                        "auc": auc(roc),
                    }
                )
    return rows


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
