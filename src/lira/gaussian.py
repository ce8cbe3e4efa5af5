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
    """Builds a ShadowFit one model at a time, so memory stays O(pool x queries)."""

    def __init__(self):
        self.n_models = 0

    def add(self, phi: np.ndarray, keep: np.ndarray) -> None:
        """Add one model's statistic phi [n, Q] and keep mask [n]."""
        phi = np.asarray(phi, dtype=np.float64)
        keep = np.asarray(keep, dtype=bool)
        if phi.ndim != 2 or keep.shape != phi.shape[:1]:
            raise ValueError(f"expected phi [n, Q] and keep [n], got {phi.shape} and {keep.shape}")
        if self.n_models == 0:
            self.shift = phi.copy()
            self.sum_in, self.sumsq_in, self.sum_out, self.sumsq_out = (np.zeros_like(phi) for _ in range(4))
            self.count_in = np.zeros(phi.shape[0], dtype=np.int64)
        elif phi.shape != self.shift.shape:
            raise ValueError(f"model {self.n_models}: phi shape {phi.shape} != first model's {self.shift.shape}")
        centred = phi - self.shift
        inside = keep[:, None]
        self.sum_in += np.where(inside, centred, 0.0)
        self.sumsq_in += np.where(inside, centred**2, 0.0)
        self.sum_out += np.where(inside, 0.0, centred)
        self.sumsq_out += np.where(inside, 0.0, centred**2)
        self.count_in += keep
        self.n_models += 1

    def result(self) -> ShadowFit:
        if self.n_models == 0:
            raise ValueError("no shadow models to fit")
        count_out = self.n_models - self.count_in
        return ShadowFit(
            self.shift, self.count_in, self.sum_in, self.sumsq_in, count_out, self.sum_out, self.sumsq_out
        )


def fit_shadow_statistics(phi: np.ndarray, keep: np.ndarray) -> ShadowFit:
    """ShadowFit of phi [N, n, Q] with keep masks [N, n], all in memory."""
    accumulator = ShadowFitAccumulator()
    for model_phi, model_keep in zip(phi, keep, strict=True):
        accumulator.add(model_phi, model_keep)
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
    """
    target_phi = np.asarray(target_phi, dtype=np.float64)
    target_keep = np.asarray(target_keep, dtype=bool)
    centred = target_phi - fit.shift
    inside = target_keep[..., None]
    count_in = fit.count_in - target_keep
    count_out = fit.count_out - ~target_keep
    mean_in, var_in, pooled_in = _group_moments(
        count_in,
        fit.sum_in - np.where(inside, centred, 0.0),
        fit.sumsq_in - np.where(inside, centred**2, 0.0),
        fit.shift,
    )
    mean_out, var_out, pooled_out = _group_moments(
        count_out,
        fit.sum_out - np.where(inside, 0.0, centred),
        fit.sumsq_out - np.where(inside, 0.0, centred**2),
        fit.shift,
    )
    return GaussianParams(mean_in, var_in, mean_out, var_out, pooled_in, pooled_out, count_in, count_out)
