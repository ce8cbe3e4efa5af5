"""Per-example IN/OUT Gaussians of the shadow models, with each target's pair left out exactly.

The fit keeps sums (counts, sums and sums of squares) instead of means and variances, so the
statistics "over the shadows of target t" (every model but t and its complementary partner,
lira.core.splits.held_out) follow by subtracting those two models' contributions
(leave_pair_out): no refit per target, and the fit streams over the examples a chunk at a time.

Shapes: N models, n pool examples, Q queries. Sums are taken of (phi - shift), where `shift` is the
first model's value of each (example, query): any value close to the data keeps the sums of squares
well conditioned, and the first model's is at hand in every chunk of examples.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lira.core import splits

# Guards the division by a standard deviation when a group holds one value (or identical values);
# far below any spread a trained model shows, so it never changes a non-degenerate score.
MIN_VARIANCE = 1e-12

# Values per pass of the chunked loops here and in lira.core.attacks: a handful of float64 arrays of
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


# Values of one read of the fit, [N, rows, Q] float32 (16 MiB): a memory-mapped or on-disk stack is
# read in pieces this large, for every model at once.
READ_VALUES = 1 << 22
# Values of one chunk of the fit's arithmetic, [N, rows, Q] float64 (512 KiB): it stays in the L2
# cache through the conversion, centring and both products.
FIT_CHUNK_VALUES = 65536


def fit_shadow_sums(phi, keep) -> ShadowFit:
    """ShadowFit of phi [N, n, Q] with keep masks [N, n].

    phi may be an array, a memory map or anything that reads phi[:, a:b] (every model's values
    of examples a..b-1) as an array: it is read READ_VALUES at a time, so memory stays
    O(N x rows x Q) beside the O(n x Q) result. Each chunk is converted to float64, centred on
    the first model's values, and summed over the N models by one matrix product per example x,

        [keep_x; 1 - keep_x] [2, N]  @  (phi_x - shift_x) [N, Q]  ->  [sum_in_x; sum_out_x] [2, Q],

    and the same product of the squared centred values for the sums of squares. The products
    mask and sum in one pass at BLAS speed where element-wise numpy needs several passes over
    every value (benchmarks/, docs/performance.md). The sums equal those of
    np.where(keep, phi - shift, 0).sum(axis=0) up to rounding (the order of summation).
    """
    keep = np.asarray(keep, dtype=bool)
    phi = phi if hasattr(phi, "shape") else np.asarray(phi)  # nested lists: as an array
    shape = tuple(phi.shape)
    if len(shape) != 3 or keep.shape != shape[:2]:
        raise ValueError(f"expected phi [N, n, Q] and keep [N, n], got {shape} and {keep.shape}")
    n_models, n, n_queries = shape
    if n_models == 0:
        raise ValueError("no shadow models to fit")
    shift = np.empty((n, n_queries))
    # [sum, sum of squares] x example x [IN, OUT] x query: one product writes a chunk's IN and OUT sums.
    sums = np.empty((2, n, 2, n_queries))
    values_per_example = n_models * max(n_queries, 1)
    read_rows = max(1, READ_VALUES // values_per_example)
    rows = max(1, FIT_CHUNK_VALUES // values_per_example)
    centred_buffer = np.empty((n_models, min(rows, n), n_queries))
    weights_buffer = np.empty((min(rows, n), 2, n_models))
    for read_start in range(0, n, read_rows):
        block = np.asarray(phi[:, read_start : read_start + read_rows])  # [N, read rows, Q]
        block_keep = np.ascontiguousarray(keep[:, read_start : read_start + len(block[0])].T)  # [read rows, N]
        for start in range(0, block.shape[1], rows):
            part = slice(start, min(start + rows, block.shape[1]))
            examples = slice(read_start + part.start, read_start + part.stop)
            centred, weights = centred_buffer[:, : part.stop - start], weights_buffer[: part.stop - start]
            np.copyto(centred, block[:, part])  # to float64, exact
            np.copyto(shift[examples], centred[0])
            centred -= shift[examples]
            np.copyto(weights[:, 0], block_keep[part])
            np.subtract(1.0, weights[:, 0], out=weights[:, 1])
            # Per example: weights [rows, 2, N] @ centred [rows, N, Q] -> [rows, 2, Q] (IN, OUT).
            np.matmul(weights, centred.transpose(1, 0, 2), out=sums[0, examples])
            centred *= centred
            np.matmul(weights, centred.transpose(1, 0, 2), out=sums[1, examples])
    count_in = keep.sum(axis=0)
    (sum_in, sum_out), (sumsq_in, sumsq_out) = (np.moveaxis(part, 1, 0) for part in sums)
    return ShadowFit(
        shift,
        count_in,
        np.ascontiguousarray(sum_in),
        np.ascontiguousarray(sumsq_in),
        n_models - count_in,
        np.ascontiguousarray(sum_out),
        np.ascontiguousarray(sumsq_out),
    )


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

    Per example the variance is the unbiased one (ddof=1). The choice between per-example and
    pooled variance does not depend on the example: when any example has fewer than 2 values in
    the group, every example takes the pooled variance, so that where counts differ between
    examples (leave_one_out: a member of the target has one IN shadow fewer than a non-member)
    the choice carries no membership signal. With a target's pair left out that happens only for
    N = 4, one value per group, where the pooled variance is 0 and so the floor. The pooled
    variance is the mean squared deviation from each example's own mean over all (example, model)
    pairs of the group: the reference code's "fixed variance" (docs/method.md).
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


def leave_pair_out(fit: ShadowFit, values, keep, targets) -> GaussianParams:
    """Gaussian parameters of each target over its shadows: every model of the fit but the target
    and its complementary partner (lira.core.splits.held_out), the workflow's protocol.

    values [N, n, Q]: the very values the fit accumulated (an array, a memory map or anything
    that reads values[m, a:b]); keep [N, n]; targets: model indices [T], or one index (then the
    results have no leading T axis). For N even every example keeps (N - 2) / 2 IN and as many
    OUT shadows whatever the target's membership, so that count carries no membership signal
    (leave_one_out's does: docs/method.md). Each target's parameters are the fit's sums less the
    held-out models' contributions (leave_out): no refit.
    """
    keep = np.asarray(keep, dtype=bool)
    single = np.ndim(targets) == 0
    held_out = [splits.held_out(int(t), len(keep)) for t in np.atleast_1d(targets)]
    params = leave_out(fit, values, keep, held_out)
    return _first(params) if single else params


def leave_out(fit: ShadowFit, values, keep, left_out) -> GaussianParams:
    """Gaussian parameters over the fit's models less, for target t, the models left_out[t].

    values [N, n, Q]: the very values the fit accumulated (an array, a memory map or anything that
    reads values[m, a:b]), read a chunk of examples of one model at a time; keep [N, n];
    left_out: T sequences of distinct model indices (any number each). Results [T, n, Q] (see
    _subtract_models).
    """
    keep = np.asarray(keep, dtype=bool)
    left_out = [[int(m) for m in models] for models in left_out]
    if keep.ndim != 2 or tuple(values.shape) != (len(keep), *fit.shift.shape) or keep.shape[1] != len(fit.shift):
        raise ValueError(f"values {tuple(values.shape)} and keep {keep.shape} do not match the fit's {fit.shift.shape}")
    if any(len(set(models)) != len(models) or not all(0 <= m < len(keep) for m in models) for models in left_out):
        raise ValueError(f"left_out must name distinct models among 0..{len(keep) - 1}, got {left_out}")
    return _subtract_models(fit, [keep[models] for models in left_out], lambda t, i, rows: values[left_out[t][i], rows])


def leave_one_out(fit: ShadowFit, target_phi: np.ndarray, target_keep: np.ndarray) -> GaussianParams:
    """Gaussian parameters over all models of the fit except each target (the target alone: its
    partner stays, so its IN/OUT counts depend on the target's membership; the attacks use
    leave_pair_out).

    target_phi [T, n, Q] must be the very values the fit accumulated for those targets and
    target_keep [T, n] their keep masks (also accepted without the leading T axis).
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
    params = _subtract_models(fit, list(target_keep[:, None]), lambda t, i, rows: target_phi[t, rows])
    return _first(params) if single else params


def _first(params: GaussianParams) -> GaussianParams:
    """The parameters of the first target, without the leading T axis."""
    return GaussianParams(*(getattr(params, f.name)[0] for f in fields(GaussianParams)))


def _subtract_models(fit: ShadowFit, left_keep: list, read) -> GaussianParams:
    """The estimators of _group_moments over the fit's models less some models per target.

    left_keep: per target t a bool [M_t, n], the keep masks of its M_t left-out models;
    read(t, i, rows): the values [rows, Q] of target t's i-th left-out model on examples `rows`.

    Computed a chunk of examples at a time (for every target, both groups), in place, into
    preallocated outputs: no [T, n, Q] temporaries, the working rows stay in the CPU cache, and
    each chunk of the fit is read from memory once for all targets. Per target and chunk the
    left-out models' contributions to each group (their centred values where they belong, else 0,
    and the squares) are summed and subtracted from the fit's sums.
    """
    n, n_queries = fit.shift.shape
    n_targets = len(left_keep)
    count_in = np.stack([fit.count_in - k.sum(axis=0) for k in left_keep]) if n_targets else np.zeros((0, n), np.int64)
    count_out = np.stack([fit.count_out - (~k).sum(axis=0) for k in left_keep]) if n_targets else count_in.copy()
    mean_in, var_in, mean_out, var_out = (np.empty((n_targets, n, n_queries)) for _ in range(4))
    # The sums of squared deviations over all examples, until divided by the counts at the end.
    pooled_in, pooled_out = (np.zeros((n_targets, 1, n_queries)) for _ in range(2))
    # Per-example factors as float64 [.., n, 1] up front: mixed-type ufuncs take numpy's slow casting path.
    member = [k.astype(np.float64)[..., None] for k in left_keep]  # each [M_t, n, 1]
    groups = [
        (
            fit_sum,
            fit_sumsq,
            np.maximum(count, 1).astype(np.float64)[..., None],  # divisor of the mean
            np.maximum(count - 1, 1).astype(np.float64)[..., None],  # of the unbiased variance
            count.min(axis=1, initial=np.iinfo(np.int64).max) > 1,  # per target; else the pooled variance
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
    buffers = [np.empty((chunks[0].stop if chunks else 0, n_queries)) for _ in range(8)]
    for part in chunks:
        rows = part.stop - part.start
        sum_in, sumsq_in, sum_out, sumsq_out, centred, inside, total, centred_mean = (b[:rows] for b in buffers)
        shift = fit.shift[part]
        for t in range(n_targets):
            for i in range(len(member[t])):
                # Model i's contribution to each group: its centred value where it belongs, else 0.
                np.copyto(centred, read(t, i, part))  # to float64, exact
                centred -= shift
                np.multiply(centred, member[t][i, part], out=inside)
                centred -= inside  # exact: c - c = 0, c - 0 = c
                if i == 0:
                    np.copyto(sum_in, inside)
                    np.copyto(sum_out, centred)
                    np.multiply(inside, inside, out=sumsq_in)
                    np.multiply(centred, centred, out=sumsq_out)
                else:
                    sum_in += inside
                    sum_out += centred
                    inside *= inside
                    sumsq_in += inside
                    centred *= centred
                    sumsq_out += centred
            if not len(member[t]):
                for buffer in (sum_in, sumsq_in, sum_out, sumsq_out):
                    buffer.fill(0.0)
            for own, own_sq, group in zip((sum_in, sum_out), (sumsq_in, sumsq_out), groups):
                fit_sum, fit_sumsq, divisor, unbiased, enough, mean, var, pooled = group
                np.subtract(fit_sum[part], own, out=total)
                np.divide(total, divisor[t, part], out=centred_mean)
                np.add(shift, centred_mean, out=mean[t, part])
                total *= centred_mean
                deviations = np.subtract(fit_sumsq[part], own_sq, out=own_sq)  # sum of squared deviations
                deviations -= total
                np.maximum(deviations, 0.0, out=deviations)
                pooled[t, 0] += np.einsum("ij->j", deviations)  # column sums (faster than add.reduce here)
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
    return GaussianParams(mean_in, var_in, mean_out, var_out, pooled_in, pooled_out, count_in, count_out)


def privacy_score(params: GaussianParams) -> np.ndarray:
    """The paper's per-example privacy score (Fig. 13), d = |mu_in - mu_out| / (sigma_in + sigma_out):
    how far apart the IN and OUT Gaussians of an example lie in units of their spreads (0: its
    membership leaves no trace in the statistic). Same shape as params.mean_in ([n, Q], or [T, n, Q]
    for per-target parameters); NaN where a group has no model."""
    spread = np.sqrt(params.var_in) + np.sqrt(params.var_out)  # > 0: variances are floored at MIN_VARIANCE
    return np.abs(params.mean_in - params.mean_out) / spread
