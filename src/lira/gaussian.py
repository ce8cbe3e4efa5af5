"""Per-example IN/OUT Gaussian statistics of the shadow models, with exact leave-one-out.

The fit keeps sufficient statistics (counts, sums and sums of squares) instead of means and
variances, so the statistics "over every shadow except target t" follow by subtracting t's own
contribution: no refit per target, and the fit can stream over models one at a time.

Shapes: N models, n pool examples, Q queries. Sums are taken of (phi - shift), where `shift` is the
first model's value of each (example, query): any value close to the data keeps the sums of squares
well conditioned, and the first model's is at hand when streaming.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import numpy as np

# Guards the division by a standard deviation when a group holds one value (or identical values);
# far below any spread a trained model shows, so it never changes a non-degenerate score.
MIN_VARIANCE = 1e-12


@dataclass
class ShadowFit:
    """Sufficient statistics of one statistic over N shadow models (all arrays float64 or int64)."""

    shift: np.ndarray  # [n, Q]
    count_in: np.ndarray  # int64 [n]
    sum_in: np.ndarray  # [n, Q]: sum over IN models of (phi - shift)
    sumsq_in: np.ndarray  # [n, Q]: sum over IN models of (phi - shift)^2
    count_out: np.ndarray  # int64 [n]
    sum_out: np.ndarray  # [n, Q]
    sumsq_out: np.ndarray  # [n, Q]

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "") -> "ShadowFit":
        return cls(**{f.name: np.asarray(arrays[prefix + f.name]) for f in fields(cls)})


class ShadowFitAccumulator:
    """Builds a ShadowFit one model (or one block of models) at a time, so memory stays
    O(pool x queries).

    The sums equal those of adding np.where(keep, phi - shift, 0) model after model, bit for bit,
    with about half the passes over memory: the mask is applied by multiplying with the 0/1 keep
    mask (exact for finite phi: c * 1 = c, c * 0 = 0), and a block of models is added a few
    thousand examples at a time, so that the accumulators' rows stay in the CPU cache while every
    model of the block is added (benchmarks/, README "Performance").
    """

    # Values per pass: the 7 float64 arrays of one chunk (256 KiB each) fit a 2 MiB L2 cache.
    CHUNK_ELEMENTS = 32768

    def __init__(self):
        self.n_models = 0

    def add(self, phi: np.ndarray, keep: np.ndarray) -> None:
        """Add one model's statistic phi [n, Q] with its keep mask [n], or a block of models,
        phi [B, n, Q] with keep [B, n] (the same, bit for bit, as adding them one by one)."""
        phi = np.asarray(phi)
        keep = np.asarray(keep, dtype=bool)
        if phi.ndim == 2 and keep.shape == phi.shape[:1]:
            phi, keep = phi[None], keep[None]
        if phi.ndim != 3 or keep.shape != phi.shape[:2]:
            raise ValueError(f"expected phi [n, Q] and keep [n] (or [B, n, Q] and [B, n]), got {phi.shape} and {keep.shape}")
        if len(phi) == 0:
            return
        if self.n_models == 0:
            self.shift = np.array(phi[0], dtype=np.float64)
            self.sum_in, self.sumsq_in, self.sum_out, self.sumsq_out = (np.zeros_like(self.shift) for _ in range(4))
            self.count_in = np.zeros(phi.shape[1], dtype=np.int64)
        elif phi.shape[1:] != self.shift.shape:
            raise ValueError(f"model {self.n_models}: phi shape {phi.shape[1:]} != first model's {self.shift.shape}")
        n, n_queries = self.shift.shape
        weight = keep[..., None].astype(np.float64)  # [B, n, 1]: 1 IN, 0 OUT
        rows = max(1, self.CHUNK_ELEMENTS // max(n_queries, 1))
        centred_buffer = np.empty((min(rows, n), n_queries))
        masked_buffer = np.empty_like(centred_buffer)
        for start in range(0, n, rows):
            part = slice(start, min(start + rows, n))
            centred = centred_buffer[: part.stop - start]
            masked = masked_buffer[: part.stop - start]
            shift = self.shift[part]
            sum_in, sumsq_in = self.sum_in[part], self.sumsq_in[part]
            sum_out, sumsq_out = self.sum_out[part], self.sumsq_out[part]
            for model in range(len(phi)):
                centred[...] = phi[model, part]  # to float64, exact
                centred -= shift
                np.multiply(centred, weight[model, part], out=masked)  # IN: c, OUT: 0
                sum_in += masked
                centred -= masked  # IN: 0, OUT: c
                sum_out += centred
                masked *= masked
                sumsq_in += masked
                centred *= centred
                sumsq_out += centred
        self.count_in += keep.sum(axis=0)
        self.n_models += len(phi)

    def result(self) -> ShadowFit:
        if self.n_models == 0:
            raise ValueError("no shadow models to fit")
        count_out = self.n_models - self.count_in
        return ShadowFit(
            self.shift, self.count_in, self.sum_in, self.sumsq_in, count_out, self.sum_out, self.sumsq_out
        )


# Models per block when fitting a whole [N, n, Q] array (in memory or memory-mapped).
FIT_BLOCK = 16


def fit_shadow_statistics(phi: np.ndarray, keep: np.ndarray) -> ShadowFit:
    """ShadowFit of phi [N, n, Q] with keep masks [N, n], added FIT_BLOCK models at a time."""
    keep = np.asarray(keep)
    if np.ndim(phi) != 3 or keep.shape != np.shape(phi)[:2]:
        raise ValueError(f"expected phi [N, n, Q] and keep [N, n], got {np.shape(phi)} and {keep.shape}")
    accumulator = ShadowFitAccumulator()
    for start in range(0, len(phi), FIT_BLOCK):
        accumulator.add(phi[start : start + FIT_BLOCK], keep[start : start + FIT_BLOCK])
    return accumulator.result()


@dataclass
class GaussianParams:
    """Per-example Gaussian parameters for a set of targets, each [T, n, Q]: means, unbiased
    per-example variances (floored at MIN_VARIANCE).

    `var_*_global` pool the squared deviations from each example's own mean over all examples
    (per query): var = sum_x sum_{models} (phi - mu(x))^2 / sum_x count(x). Shape [T, 1, Q].
    """

    mean_in: np.ndarray
    var_in: np.ndarray
    mean_out: np.ndarray
    var_out: np.ndarray
    var_in_global: np.ndarray
    var_out_global: np.ndarray
    count_in: np.ndarray  # int64 [T, n]
    count_out: np.ndarray  # int64 [T, n]


def _group_moments(count, total, total_sq, shift):
    """Mean, per-example variance and pooled variance of one group, from its sums.

    Per example the variance is the unbiased one (ddof=1): under leave-one-out a member of the
    target has one IN shadow fewer than a non-member, and a biased estimator would turn that count
    into a membership signal. For the same reason the choice between per-example and pooled
    variance must not depend on the example: when any example has fewer than 2 values in the
    group (only with 4 shadow models or fewer), every example takes the pooled variance. The
    pooled variance is the mean squared deviation from each example's own mean over all
    (example, model) pairs of the group (LIRA.md, "fixed variance").
    """
    count = count[..., None]
    centred_mean = total / np.maximum(count, 1)
    within = np.maximum(total_sq - total * centred_mean, 0.0)  # sum of squared deviations
    mean = np.where(count > 0, shift + centred_mean, np.nan)
    pooled = within.sum(axis=-2, keepdims=True) / np.maximum(count.sum(axis=-2, keepdims=True), 1)
    pooled = np.maximum(pooled, MIN_VARIANCE)
    enough = count.min(axis=-2, keepdims=True) > 1  # per target
    var = np.where(enough, within / np.maximum(count - 1, 1), pooled)
    return mean, np.maximum(var, MIN_VARIANCE), pooled


def gaussian_params(fit: ShadowFit) -> GaussianParams:
    """Gaussian parameters over every model of the fit (no target left out), each [n, Q]."""
    mean_in, var_in, pooled_in = _group_moments(fit.count_in, fit.sum_in, fit.sumsq_in, fit.shift)
    mean_out, var_out, pooled_out = _group_moments(fit.count_out, fit.sum_out, fit.sumsq_out, fit.shift)
    return GaussianParams(mean_in, var_in, mean_out, var_out, pooled_in, pooled_out, fit.count_in, fit.count_out)


def leave_one_out(fit: ShadowFit, target_phi: np.ndarray, target_keep: np.ndarray) -> GaussianParams:
    """Gaussian parameters over all shadows except each target.

    target_phi [T, n, Q] must be the very values the fit accumulated for those targets and
    target_keep [T, n] their keep masks (also accepted without the leading T axis).

    The same numbers as _group_moments on the whole [T, n, Q] stack, bit for bit, computed one
    target and a few thousand examples at a time, in place, into preallocated outputs: no
    [T, n, Q] temporaries, and the working rows stay in the CPU cache.
    """
    target_phi = np.asarray(target_phi, dtype=np.float64)
    target_keep = np.asarray(target_keep, dtype=bool)
    single = target_phi.ndim == 2
    if single:
        target_phi, target_keep = target_phi[None], target_keep[None]
    if target_phi.shape[1:] != fit.shift.shape or target_keep.shape != target_phi.shape[:2]:
        raise ValueError(
            f"targets: phi {target_phi.shape} and keep {target_keep.shape} do not match the fit's {fit.shift.shape}"
        )
    n_targets, n, n_queries = target_phi.shape
    count_in = fit.count_in - target_keep  # [T, n]
    count_out = fit.count_out - ~target_keep
    mean_in, var_in, mean_out, var_out = (np.empty((n_targets, n, n_queries)) for _ in range(4))
    pooled_in, pooled_out = (np.empty((n_targets, 1, n_queries)) for _ in range(2))
    within = np.empty((n, n_queries))  # one group's sums of squared deviations, for the pooled variance
    rows = max(1, ShadowFitAccumulator.CHUNK_ELEMENTS // max(n_queries, 1))
    centred_buffer, own_buffer, total_buffer = (np.empty((min(rows, n), n_queries)) for _ in range(3))
    groups = (
        (True, count_in, fit.sum_in, fit.sumsq_in, mean_in, var_in, pooled_in),
        (False, count_out, fit.sum_out, fit.sumsq_out, mean_out, var_out, pooled_out),
    )
    for t in range(n_targets):
        for is_in, count, fit_sum, fit_sumsq, mean, var, pooled in groups:
            counts = count[t][:, None]  # [n, 1]
            enough = counts.min() > 1  # else every example takes the pooled variance
            # Float64 operands up front: mixed-type ufuncs take numpy's slow casting path.
            member = (target_keep[t] if is_in else ~target_keep[t]).astype(np.float64)[:, None]
            divisor = np.maximum(counts, 1).astype(np.float64)
            unbiased_divisor = np.maximum(counts - 1, 1).astype(np.float64)
            for start in range(0, n, rows):
                part = slice(start, min(start + rows, n))
                size = part.stop - start
                centred, own, total = centred_buffer[:size], own_buffer[:size], total_buffer[:size]
                np.subtract(target_phi[t, part], fit.shift[part], out=centred)
                # The target's own contribution to this group: its value where it belongs, else 0.
                np.multiply(centred, member[part], out=own)
                np.subtract(fit_sum[part], own, out=total)
                centred_mean = np.divide(total, divisor[part], out=mean[t, part])
                np.multiply(total, centred_mean, out=total)
                np.multiply(own, own, out=own)
                deviations = np.subtract(fit_sumsq[part], own, out=within[part])
                np.subtract(deviations, total, out=deviations)
                np.maximum(deviations, 0.0, out=deviations)
                if enough:
                    np.divide(deviations, unbiased_divisor[part], out=var[t, part])
                    np.maximum(var[t, part], MIN_VARIANCE, out=var[t, part])
                np.add(fit.shift[part], centred_mean, out=mean[t, part])
            pooled[t] = within.sum(axis=0, keepdims=True) / np.maximum(counts.sum(), 1)
            np.maximum(pooled[t], MIN_VARIANCE, out=pooled[t])
            if not enough:
                var[t] = pooled[t]
            empty = counts[:, 0] == 0
            if empty.any():
                mean[t, empty] = np.nan
    params = GaussianParams(mean_in, var_in, mean_out, var_out, pooled_in, pooled_out, count_in, count_out)
    if single:
        params = GaussianParams(*(getattr(params, f.name)[0] for f in fields(GaussianParams)))
    return params
