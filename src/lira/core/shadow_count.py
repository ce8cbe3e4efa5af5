"""Attack power against the number of shadow models (numpy only): the paper's shadow-count sweep,
by subsampling the trained models."""

from __future__ import annotations

import numpy as np

from lira.core import attacks
from lira.core.gaussian import ShadowFit, fit_shadow_sums, gaussian_params, leave_pair_out, row_chunks
from lira.core.metrics import auc, roc_curve, tpr_at_fpr

SHADOW_COUNT_VARIANTS = {
    "online, per-example variance": ("online", False),
    "online, global variance": ("online", True),
    "offline, per-example variance": ("offline", False),
    "offline, global variance": ("offline", True),
}


def shadow_counts(n_models: int) -> list[int]:
    """4, 8, 16, ... below N - 2, then N - 2: every model outside the target's pair, the main
    evaluation's shadows (lira.core.splits.held_out). Fewer than 2 shadows per group (IN or OUT)
    leave no variance to estimate, so a count of 2 appears only as the full count of N = 4."""
    if n_models < 4:
        raise ValueError(f"need at least 2 pairs of models for any shadows, got {n_models} models")
    full = n_models - 2
    counts = [4]
    while counts[-1] * 2 < full:
        counts.append(counts[-1] * 2)
    return [count for count in counts if count < full] + [full]


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

    For each count k < N - 2 and each repeat, every target t gets k shadows: k/2 random
    complementary pairs (models 2p and 2p + 1) other than t's own pair, so each example has
    exactly k/2 IN and k/2 OUT shadows. The count N - 2 is the main evaluation's: every model but
    t's pair (lira.core.gaussian.leave_pair_out, from one fit; with N odd the unpaired last model
    too). Scores are pooled over the targets as in the main evaluation. values [N, n, Q]
    (higher = member), keep [N, n].
    Returns one row per (count, repeat, variant) with TPR at max_fpr (NaN if not measurable) and AUC.

    A fit's sums are sums over its models, so each pair's are summed once
    (_PairSums) and the fits of all targets of one (count, repeat) are a product of their choices
    of pairs with those sums: the same fits as refitting each target's models, up to rounding.
    """
    return _sweep(values, keep, n_targets, repeats, seed, max_fpr, lambda target, params: _variant_scores(target, params, offline_test))


def _sweep(values: np.ndarray, keep: np.ndarray, n_targets: int, repeats: int, seed: int, max_fpr: float, score) -> list[dict]:
    """The draws of the shadow-count sweep (attack_power_by_shadow_count's docstring), each scored
    by `score(target_values [..., n, Q], params) -> {variant: scores [..., n]}`: one row per
    (count, repeat, variant). Every attack swept with the same seed sees the same draws."""
    rng = np.random.default_rng([seed, 0xC0])
    n_models = len(values)
    targets = np.asarray(values[:n_targets], dtype=np.float64)  # [T, n, Q]
    target_keep = np.asarray(keep[:n_targets], dtype=bool)  # [T, n]
    pair_sums = None
    rows = []
    counts = shadow_counts(n_models)
    for count in counts:
        full = count == counts[-1]
        for repeat in range(1 if full else repeats):
            if full:
                params = leave_pair_out(fit_shadow_sums(values, keep), values, keep, np.arange(n_targets))
                scores = score(targets, params)  # each [T, n]
            else:
                if pair_sums is None:
                    pair_sums = _PairSums(values, keep)
                fits = pair_sums.fits(_choose_pairs(rng, n_models // 2, n_targets, count // 2))
                # One target at a time from here: gaussian_params' temporaries on [n, Q] stay in
                # the CPU cache, where on the whole [T, n, Q] batch they spill to main memory.
                per_target = [score(target, gaussian_params(fit)) for target, fit in zip(targets, fits)]
                scores = {name: np.stack([s[name] for s in per_target]) for name in per_target[0]}
            for name, variant_scores in scores.items():
                roc = roc_curve(variant_scores, target_keep)  # pooled over the targets
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


def _variant_scores(target_values: np.ndarray, params, offline_test: str) -> dict[str, np.ndarray]:
    """Scores of every SHADOW_COUNT_VARIANTS entry: target_values [..., n, Q] -> each [..., n]."""
    scores = {}
    for name, (kind, global_variance) in SHADOW_COUNT_VARIANTS.items():
        if kind == "online":
            scores[name] = attacks.lira_online(target_values, params, global_variance)
        else:
            scores[name] = attacks.lira_offline(target_values, params, global_variance, offline_test)
    return scores


def _choose_pairs(rng: np.random.Generator, n_pairs: int, n_targets: int, per_target: int) -> np.ndarray:
    """[T, P] of 0/1: for each target t in turn, `per_target` random pairs other than its own
    (t // 2), by one rng.choice each."""
    chosen = np.zeros((n_targets, n_pairs))
    for target in range(n_targets):
        others = np.setdiff1d(np.arange(n_pairs), [target // 2])
        chosen[target, rng.choice(others, size=per_target, replace=False)] = 1.0
    return chosen


class _PairSums:
    """Fits over sets of complementary pairs of models (2p, 2p + 1) of values [N, n, Q] with keep
    [N, n] (with N odd, the last model belongs to no pair), all centred on one shift (model 0's
    values): the sums of lira.core.gaussian.ShadowFit of a set of pairs are the sums
    of each pair's.

    fits() works a chunk of examples at a time: each pair's statistics of the chunk, per example a
    matrix [P, 4 Q + 2] (sum_in, sumsq_in, sum_out and sumsq_out, Q columns each, then count_in and
    count_out, float64, exact), then the fits of T sets of pairs are one product per example,
    chosen [T, P] @ [P, 4 Q + 2]. Each product is tiny, so BLAS runs it in the calling thread, as
    lira.core.gaussian's fit does (one product over every example at once goes to BLAS threads, whose
    busy-waiting costs CPU time that a one-core job does not have). The pairs' statistics of the
    whole pool take twice the memory of the values in float64, so they are kept from call to call
    only up to KEEP_BYTES and otherwise recomputed a chunk at a time in every call (CIFAR's
    256 x 50,000 x 18 would need gigabytes).
    """

    KEEP_BYTES = 1 << 30

    def __init__(self, values: np.ndarray, keep: np.ndarray):
        self.values, self.keep = values, keep
        self.n_pairs = len(values) // 2
        self.shift = np.array(values[0], dtype=np.float64)  # [n, Q]
        n, n_queries = self.shift.shape
        self._chunks = row_chunks(n, 2 * self.n_pairs * n_queries)
        self._kept = None  # [n, P, 4 Q + 2] when small enough
        if n * self.n_pairs * (4 * n_queries + 2) * 8 <= self.KEEP_BYTES:
            self._kept = np.empty((n, self.n_pairs, 4 * n_queries + 2))
            for rows in self._chunks:
                self._kept[rows] = self._chunk_statistics(rows)
        self._buffer = None  # the fits, reused: a fresh [T, n, 4 Q + 2] array would be page-faulted in every time

    def _chunk_statistics(self, rows: slice) -> np.ndarray:
        """Each pair's statistics of examples `rows`: [rows, P, 4 Q + 2]."""
        models = 2 * self.n_pairs
        centred = np.asarray(self.values[:models, rows], dtype=np.float64) - self.shift[rows]  # [2P, rows, Q]
        inside = np.asarray(self.keep[:models, rows], dtype=bool)[..., None]  # [2P, rows, 1]
        in_part = centred * inside  # exact: c * 1 = c, c * 0 = 0
        out_part = centred - in_part  # exact: c - c = 0, c - 0 = c
        per_model = np.concatenate([in_part, in_part * centred, out_part, out_part * centred, inside, ~inside], axis=2)
        pair_sums = per_model.reshape(self.n_pairs, 2, *per_model.shape[1:]).sum(axis=1)  # [P, rows, 4 Q + 2]
        return pair_sums.transpose(1, 0, 2)

    def fits(self, chosen: np.ndarray) -> list[ShadowFit]:
        """The fits of T sets of pairs, chosen [T, P] of 0/1: one ShadowFit per set, of [n, Q] and
        [n] arrays that are views of a buffer the next call overwrites."""
        n, n_queries = self.shift.shape
        shape = (len(chosen), n, 4 * n_queries + 2)
        if self._buffer is None or self._buffer.shape != shape:
            self._buffer = np.empty(shape)
        for rows in self._chunks:
            statistics = self._chunk_statistics(rows) if self._kept is None else self._kept[rows]  # [rows, P, 4 Q + 2]
            # [rows, T, 4 Q + 2] per example, into the [T, rows, 4 Q + 2] part of the buffer.
            np.matmul(chosen, statistics, out=self._buffer[:, rows].transpose(1, 0, 2))
        fits = []
        for columns in self._buffer:  # [n, 4 Q + 2]
            sum_in, sumsq_in, sum_out, sumsq_out = (columns[:, i * n_queries : (i + 1) * n_queries] for i in range(4))
            count_in, count_out = columns[:, 4 * n_queries :].T.astype(np.int64)  # exact: small integers
            fits.append(ShadowFit(self.shift, count_in, sum_in, sumsq_in, count_out, sum_out, sumsq_out))
        return fits



SABLAYROLLES_VARIANT = "Sablayrolles et al. (loss, per-example threshold)"


def sablayrolles_power_by_shadow_count(
    loss_values: np.ndarray, keep: np.ndarray, n_targets: int, repeats: int, seed: int, max_fpr: float = 1e-3
) -> list[dict]:
    """The non-parametric attack of Sablayrolles et al. (lira.core.attacks.sablayrolles: the loss
    against the per-example midpoint (mu_in + mu_out) / 2 of the shadows' losses) with fewer shadow
    models, on exactly the draws of attack_power_by_shadow_count with the same arguments (the same
    generator, drawn in the same order), so that its line and LiRA's share their shadows.

    loss_values [N, n, Q] (the cross-entropy; only query 0 is used, as the catalog's
    `sablayrolles`), keep [N, n]. Rows as attack_power_by_shadow_count's, variant SABLAYROLLES_VARIANT."""
    values = -np.asarray(loss_values[..., :1], dtype=np.float64)  # [N, n, 1], higher = member
    return _sweep(
        values, keep, n_targets, repeats, seed, max_fpr, lambda target, params: {SABLAYROLLES_VARIANT: attacks.sablayrolles(target, params)}
    )


def lira_online_scores_by_count(values: np.ndarray, keep: np.ndarray, n_targets: int, counts, seed: int) -> dict:
    """Online LiRA's scores with `count` shadows per target, per-example and global variance, for
    the ROC curves of the paper's Fig. 17: {count: {"per-example variance": [T, n], "global
    variance": [T, n]}}. One draw per count below N - 2 (random pairs, as attack_power_by_shadow_count
    draws them, from a generator of its own), every model but the target's pair at N - 2.
    values [N, n, Q] (higher = member), keep [N, n]."""
    rng = np.random.default_rng([seed, 0xC17])
    n_models = len(values)
    full = shadow_counts(n_models)[-1]
    targets = np.asarray(values[:n_targets], dtype=np.float64)  # [T, n, Q]
    pair_sums = None
    result = {}
    for count in counts:
        if count == full:
            params = leave_pair_out(fit_shadow_sums(values, keep), values, keep, np.arange(n_targets))
            per_target_params = None
        else:
            if count < 4 or count > full or count % 2:
                raise ValueError(f"shadow count {count}: expected an even count from 4 to {full}")
            if pair_sums is None:
                pair_sums = _PairSums(values, keep)
            fits = pair_sums.fits(_choose_pairs(rng, n_models // 2, n_targets, count // 2))
            per_target_params = [gaussian_params(fit) for fit in fits]
        result[count] = {}
        for name, global_variance in (("per-example variance", False), ("global variance", True)):
            if per_target_params is None:
                result[count][name] = attacks.lira_online(targets, params, global_variance)
            else:
                result[count][name] = np.stack(
                    [attacks.lira_online(target, p, global_variance) for target, p in zip(targets, per_target_params)]
                )
    return result
