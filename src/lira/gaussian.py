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

# Values per pass of the chunked loops here and in lira.attacks: a handful of float64 arrays of
# this many values (256 KiB each) stay in a 2 MiB L2 cache while several passes run over them.
CHUNK_ELEMENTS = 32768


def row_chunks(n_rows: int, n_queries: int, elements: int = CHUNK_ELEMENTS) -> list[slice]:
    """Slices of about `elements` values each over the rows of an [n_rows, n_queries] array."""
    rows = max(1, elements // max(n_queries, 1))
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


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
    """Builds a ShadowFit one model, or one block of models, at a time, so memory stays
    O(block x pool x queries).

    A block phi [B, n, Q] is added a few hundred examples at a time, so that a chunk stays in the
    CPU cache through every step: converted to float64 and centred on the shift, then summed over
    the block's models by matrix products, one per example x,

        [keep_x; 1 - keep_x] [2, B]  @  (phi_x - shift_x) [B, Q]  ->  [sum_in_x; sum_out_x] [2, Q],

    and the same product of the squared centred values for the sums of squares. The products
    mask and sum in one pass at BLAS speed where element-wise numpy needs ten passes over every
    value (benchmarks/, README "Performance"); each is tiny (2 x B x Q), so BLAS runs it in the
    calling thread. The sums are those of adding np.where(keep, phi - shift, 0) model by model,
    up to rounding (the order of summation).
    """

    # Values of one chunk [B, rows, Q]: 1 MiB of float64 stays in a 2 MiB L2 cache.
    CHUNK_VALUES = 131072

    def __init__(self):
        self.n_models = 0

    def add(self, phi: np.ndarray, keep: np.ndarray) -> None:
        """Add one model's statistic phi [n, Q] with its keep mask [n], or a block of models,
        phi [B, n, Q] with keep [B, n]."""
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
            # [sum, sum of squares] x [IN, OUT]: one array, so that a chunk's four sums are added at once.
            self._sums = np.zeros((2, 2, *self.shift.shape))
            self.count_in = np.zeros(phi.shape[1], dtype=np.int64)
        elif phi.shape[1:] != self.shift.shape:
            raise ValueError(f"model {self.n_models}: phi shape {phi.shape[1:]} != first model's {self.shift.shape}")
        n_models, n, n_queries = phi.shape
        inside = np.ascontiguousarray(keep.T)  # [n, B]: each example's weights contiguous
        outside = ~inside
        rows = max(1, self.CHUNK_VALUES // (n_models * max(n_queries, 1)))
        centred_buffer = np.empty((n_models, min(rows, n), n_queries))
        weights_buffer = np.empty((min(rows, n), 2, n_models))
        sums_buffer = np.empty((2, 2, min(rows, n), n_queries))
        for start in range(0, n, rows):
            part = slice(start, min(start + rows, n))
            size = part.stop - start
            centred, weights, sums = centred_buffer[:, :size], weights_buffer[:size], sums_buffer[:, :, :size]
            np.copyto(centred, phi[:, part])  # to float64, exact
            centred -= self.shift[part]
            np.copyto(weights[:, 0], inside[part])
            np.copyto(weights[:, 1], outside[part])
            # Per example: weights [rows, 2, B] @ centred [rows, B, Q] -> [rows, 2, Q], written
            # straight into sums [2, rows, Q] (IN, OUT).
            np.matmul(weights, centred.transpose(1, 0, 2), out=sums[0].transpose(1, 0, 2))
            centred *= centred
            np.matmul(weights, centred.transpose(1, 0, 2), out=sums[1].transpose(1, 0, 2))
            self._sums[:, :, part] += sums
        self.count_in += keep.sum(axis=0)
        self.n_models += n_models

    def result(self) -> ShadowFit:
        if self.n_models == 0:
            raise ValueError("no shadow models to fit")
        count_out = self.n_models - self.count_in
        (sum_in, sum_out), (sumsq_in, sumsq_out) = self._sums
        return ShadowFit(self.shift, self.count_in, sum_in, sumsq_in, count_out, sum_out, sumsq_out)


# Models per block when fitting a whole [N, n, Q] array (in memory or memory-mapped). Larger
# blocks make the per-example products longer but need a larger buffer for the block (benchmarks/
# reads one block at a time), and fresh memory is slow to fault in: 16 and 32 ran equally fast.
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

    The same estimators as _group_moments on the whole [T, n, Q] stack, computed a chunk of
    examples at a time (for every target, both groups), in place, into preallocated outputs: no
    [T, n, Q] temporaries, the working rows stay in the CPU cache, and each chunk of the fit is
    read from memory once for all targets.
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
    # The sums of squared deviations over all examples, until divided by the counts at the end.
    pooled_in, pooled_out = (np.zeros((n_targets, 1, n_queries)) for _ in range(2))
    # Per-example factors as float64 [T, n, 1] up front: mixed-type ufuncs take numpy's slow casting path.
    member = target_keep.astype(np.float64)[..., None]
    groups = [
        (
            fit_sum,
            fit_sumsq,
            np.maximum(count, 1).astype(np.float64)[..., None],  # divisor of the mean
            np.maximum(count - 1, 1).astype(np.float64)[..., None],  # of the unbiased variance
            count.min(axis=1) > 1,  # per target; else every example takes the pooled variance
            mean,
            var,
            pooled,
        )
        for count, fit_sum, fit_sumsq, mean, var, pooled in (
            (count_in, fit.sum_in, fit.sumsq_in, mean_in, var_in, pooled_in),
            (count_out, fit.sum_out, fit.sumsq_out, mean_out, var_out, pooled_out),
        )
    ]
    chunks = row_chunks(n, n_queries)
    buffers = [np.empty((chunks[0].stop if chunks else 0, n_queries)) for _ in range(4)]
    for part in chunks:
        own_in, own_out, total, centred_mean = (buffer[: part.stop - part.start] for buffer in buffers)
        shift = fit.shift[part]
        for t in range(n_targets):
            # The target's own contribution to each group: its centred value where it belongs, else 0.
            centred = np.subtract(target_phi[t, part], shift, out=own_out)
            np.multiply(centred, member[t, part], out=own_in)
            centred -= own_in  # exact: c - c = 0, c - 0 = c
            for own, group in zip((own_in, own_out), groups):
                fit_sum, fit_sumsq, divisor, unbiased, enough, mean, var, pooled = group
                np.subtract(fit_sum[part], own, out=total)
                np.divide(total, divisor[t, part], out=centred_mean)
                np.add(shift, centred_mean, out=mean[t, part])
                total *= centred_mean
                own *= own
                deviations = np.subtract(fit_sumsq[part], own, out=own)  # sum of squared deviations
                deviations -= total
                np.maximum(deviations, 0.0, out=deviations)
                pooled[t, 0] += np.einsum("ij->j", deviations)  # column sums (add.reduce: 3x slower here)
                if enough[t]:
                    np.divide(deviations, unbiased[t, part], out=var[t, part])
                    np.maximum(var[t, part], MIN_VARIANCE, out=var[t, part])
    for count, (*_, enough, mean, var, pooled) in zip((count_in, count_out), groups):
        pooled /= np.maximum(count.sum(axis=1), 1)[:, None, None]
        np.maximum(pooled, MIN_VARIANCE, out=pooled)
        for t in np.flatnonzero(~enough):
            var[t] = pooled[t]
        empty = count == 0
        if empty.any():
            mean[empty] = np.nan
    params = GaussianParams(mean_in, var_in, mean_out, var_out, pooled_in, pooled_out, count_in, count_out)
    if single:
        params = GaussianParams(*(getattr(params, f.name)[0] for f in fields(GaussianParams)))
    return params
