"""Membership-inference attacks on arrays of per-example statistics (numpy/scipy only).

Every attack returns a score per (target, example), [T, n]: higher means "member". Inputs are
the targets' own statistics [T, n, Q] (Q queries; query 0 is the un-augmented example) and
what the attack learns from shadow models: the Gaussian parameters of lira.core.gaussian, or the
models' raw values [N, n, Q] with their keep masks [N, n].

Target t's shadows are every model but t and its complementary partner (lira.core.splits.held_out,
"the pair left out"): then every example has as many IN shadows, and as many OUT shadows, whether
or not it is a member of t, so no attack can read t's membership from the shadows' IN/OUT counts
(docs/method.md). Every attack here that uses shadows takes them so.

Conventions: `s` denotes a statistic oriented so that higher means "more member-like"
(logit-scaled confidence, or minus the loss); `loss` is the cross-entropy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lira.core import splits
from lira.core.gaussian import GaussianParams, fit_shadow_sums, gaussian_params, leave_pair_out, row_chunks

OFFLINE_TESTS = ("one-sided", "two-sided")


def log_normal_pdf(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """log N(x; mean, var), elementwise."""
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


# --- LiRA ----------------------------------------------------------------------------------------
#
# The scores are computed one target and one chunk of examples at a time (gaussian.row_chunks),
# with in-place ufuncs into a few [rows, Q] buffers that stay in the CPU cache: no [T, n, Q]
# temporaries, whose allocation, page faults and trips to main memory would cost more than the
# arithmetic (benchmarks/scoring.py, docs/performance.md).

# Below this z, log_normal_cdf leaves it to scipy's log_ndtr. Down to z = -37.5, erfc(|z| / sqrt 2)
# is still a normal float64 and the fast path agrees with log_ndtr to a few ulp (tests), but far
# tails are rare and the fallback keeps them exactly scipy's.
LOG_NDTR_TAIL = -20.0
_SQRT_HALF = np.sqrt(0.5)
_TINY = np.finfo(np.float64).tiny


def log_normal_cdf(z: np.ndarray, out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
    """log Phi(z), elementwise: scipy.special.log_ndtr's values to a few ulp, in about two thirds
    of its time.

    With p = Phi(-|z|) = erfc(|z| / sqrt 2) / 2, the smaller tail probability (one cephes erfc,
    accurate relative to its value): log Phi(z) = log p for z < 0 and log1p(-p) for z >= 0, each
    accurate relative to its own value too, as log_ndtr's erfcx and log1p(erfc) branches are, but
    without the costlier erfcx. For z < LOG_NDTR_TAIL (and -inf) scipy's log_ndtr is used; NaN
    stays NaN. `out` may be z itself; `scratch`, an array shaped like z, saves an allocation
    (in a loop, large temporaries cost page faults every time)."""
    # Imported here: scipy.special takes a quarter of a second to import, and of the attack jobs
    # only the one-sided offline ones need it.
    from scipy.special import erfc, log_ndtr

    z = np.asarray(z, dtype=np.float64)
    below, above, tail = z < 0, z >= 0, z < LOG_NDTR_TAIL  # NaN: none of them
    tail_values = log_ndtr(z[tail]) if tail.any() else None
    p = np.multiply(z, _SQRT_HALF, out=out)
    np.abs(p, out=p)
    erfc(p, out=p)
    p *= 0.5  # exact
    upper = np.log1p(np.negative(p, out=scratch), out=scratch)  # finite: p <= 1/2
    lower = np.log(np.maximum(p, _TINY, out=p), out=p)  # finite: p underflows to 0 beyond |z| = 37.5
    # The branch by sign as an exact blend (x * 1 + y * 0 = x for finite y): a masked copy or
    # np.where is slower on mixed signs.
    lower *= below
    upper *= above
    result = np.add(lower, upper, out=lower)
    if tail_values is not None:
        result[tail] = tail_values
    return result


def _stack(shape: tuple, array) -> np.ndarray:
    """array [..., rows, Q] (rows = n, or 1 for a pooled variance) broadcast to shape's leading
    axes and flattened to [L, rows, Q] (a view whenever it can be)."""
    array = np.asarray(array, dtype=np.float64)
    array = array.reshape((1,) * (2 - array.ndim) + array.shape)  # a scalar or [Q]: one row
    array = np.broadcast_to(array, shape[:-2] + array.shape[-2:])
    return array.reshape(-1, *array.shape[-2:])


def _lira_scores(per_query, target_phi: np.ndarray, *params: np.ndarray) -> np.ndarray:
    """mean_q per_query(x, *params, out) for every (target, example): [...] -> [..., n].

    target_phi [..., n, Q]; params: means [..., n, Q] and variances [..., n, Q] or [..., 1, Q],
    broadcast against each other. per_query(x, *parts, buffers) gets one target's chunk of rows
    ([rows, Q], a variance's part is [1, Q] when pooled) and three [rows, Q] buffers, and returns
    the per-query values in buffers[0]."""
    target_phi = np.asarray(target_phi, dtype=np.float64)
    shape = np.broadcast_shapes(target_phi.shape, *(np.shape(p) for p in params))
    n, n_queries = shape[-2:]
    x = _stack(shape, target_phi)
    params = [_stack(shape, p) for p in params]
    scores = np.empty(x.shape[:2])
    chunks = row_chunks(n, n_queries)
    buffers = [np.empty((chunks[0].stop if chunks else 0, n_queries)) for _ in range(3)]
    for lead in range(len(x)):
        for part in chunks:
            rows = part.stop - part.start
            parts = [p[lead, part] if p.shape[1] == n else p[lead] for p in params]
            values = per_query(x[lead, part], *parts, [b[:rows] for b in buffers])
            np.einsum("ij->i", values, out=scores[lead, part])  # sum over queries
    scores /= n_queries
    return scores.reshape(shape[:-1])


def _squared_deviation(x, mean, var, out):
    """(x - mean)^2 / var into out."""
    np.subtract(x, mean, out=out)
    np.multiply(out, out, out=out)
    return np.divide(out, var, out=out)


def _online_log_ratio(x, mean_in, var_in, mean_out, var_out, buffers):
    """log N(x; mean_in, var_in) - log N(x; mean_out, var_out)
    = ((x - mean_out)^2 / var_out - (x - mean_in)^2 / var_in + log(var_out / var_in)) / 2."""
    result, inside, ratio = buffers
    _squared_deviation(x, mean_out, var_out, result)
    result -= _squared_deviation(x, mean_in, var_in, inside)
    ratio = np.divide(var_out, var_in, out=ratio[: max(len(var_in), len(var_out))])
    result += np.log(ratio, out=ratio)
    result *= 0.5
    return result


def _one_sided(x, mean_out, var_out, buffers):
    """log Phi((x - mean_out) / sd_out)."""
    result, sd, scratch = buffers
    np.subtract(x, mean_out, out=result)
    result /= np.sqrt(var_out, out=sd[: len(var_out)])
    return log_normal_cdf(result, out=result, scratch=scratch)


def _two_sided(x, mean_out, var_out, buffers):
    """-log N(x; mean_out, var_out) = ((x - mean_out)^2 / var_out + log(2 pi var_out)) / 2."""
    result, log_var = buffers[:2]
    _squared_deviation(x, mean_out, var_out, result)
    log_var = np.multiply(var_out, 2 * np.pi, out=log_var[: len(var_out)])
    result += np.log(log_var, out=log_var)
    result *= 0.5
    return result


def lira_online(target_phi: np.ndarray, params: GaussianParams, global_variance: bool = False) -> np.ndarray:
    """Online LiRA (paper, Algorithm 1), averaged over queries q:

        score = mean_q [ log N(phi_q; mu_in, var_in) - log N(phi_q; mu_out, var_out) ]

    with per-example variances, or with the variances pooled over all examples
    (`global_variance`), which is the better choice below ~64 shadow models.
    target_phi [..., n, Q] -> scores [..., n]."""
    var_in = params.var_in_global if global_variance else params.var_in
    var_out = params.var_out_global if global_variance else params.var_out
    return _lira_scores(_online_log_ratio, target_phi, params.mean_in, var_in, params.mean_out, var_out)


def lira_offline(
    target_phi: np.ndarray,
    params: GaussianParams,
    global_variance: bool = False,
    test: str = "one-sided",
) -> np.ndarray:
    """Offline LiRA: only the OUT shadows are used.

    one-sided (paper, Eq. 4): score = mean_q log Phi((phi_q - mu_out) / sd_out); only unusually
        high confidence counts as evidence of membership.
    two-sided (reference code): score = mean_q -log N(phi_q; mu_out, var_out); any unusual value,
        high or low, counts.
    target_phi [..., n, Q] -> scores [..., n].
    """
    var_out = params.var_out_global if global_variance else params.var_out
    if test not in OFFLINE_TESTS:
        raise ValueError(f"offline test must be one of {OFFLINE_TESTS}, got {test!r}")
    per_query = _one_sided if test == "one-sided" else _two_sided
    return _lira_scores(per_query, target_phi, params.mean_out, var_out)


def pair_out_medians(shadow_values: np.ndarray, keep: np.ndarray, targets: np.ndarray):
    """Per-example medians of the IN and of the OUT shadows of each target (every model but the
    target and its partner, lira.core.splits.shadow_models), the reference code's centre: two
    arrays [T, n, Q] (NaN where a group is empty). shadow_values [N, n, Q], keep [N, n], targets
    [T] model indices."""
    values = np.asarray(shadow_values, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    medians = [group_medians(values[others], keep[others]) for others in
               (splits.shadow_models(int(target), len(values)) for target in targets)]  # fmt: skip
    return np.stack([m[0] for m in medians]), np.stack([m[1] for m in medians])


def group_medians(shadows: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example medians of the IN and of the OUT values among `shadows` [S, n, Q] (keep [S, n]):
    two arrays [n, Q], NaN where a group is empty.

    The values of np.nanmedian over each group, bit for bit (NaN values are left out of their
    group): the group's values sorted over the models, the others set to +inf so that they sort
    after the group's, then the mean of the two middle ones, (a + b) / 2 as np.median takes it (a
    single middle one counts twice); several times faster than np.nanmedian over NaN-masked
    copies."""
    shadows = np.asarray(shadows, dtype=np.float64)
    valid = ~np.isnan(shadows)
    medians = []
    for member in (True, False):
        inside = valid & (keep == member)[..., None]
        count = inside.sum(axis=0)  # [n, Q]
        if not len(shadows):  # no shadows at all
            medians.append(np.full(shadows.shape[1:], np.nan))
            continue
        ordered = np.sort(np.where(inside, shadows, np.inf), axis=0)
        low = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[None], axis=0)[0]
        high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]  # <= count - 1 unless empty
        median = np.add(low, high, out=low)
        median /= 2
        median[count == 0] = np.nan
        medians.append(median)
    return medians[0], medians[1]


# --- Baselines of the paper's Table I -------------------------------------------------------------


def global_threshold(target_s: np.ndarray) -> np.ndarray:
    """Yeom et al. (LOSS) and its Table II variants: one threshold shared by all examples.

        score = mean_q s_q

    With s = -loss on the identity query this is Yeom's attack; with s = logit-scaled confidence
    it is "+ logit scaling"; over all queries "+ queries". Needs no shadow models."""
    return np.asarray(target_s, dtype=np.float64).mean(axis=-1)


def sablayrolles(target_s: np.ndarray, params: GaussianParams) -> np.ndarray:
    """Sablayrolles et al.: a per-example threshold halfway between the shadows' IN and OUT means,

        score = mean_q [ s_q - (mu_in + mu_out) / 2 ]."""
    return (target_s - (params.mean_in + params.mean_out) / 2).mean(axis=-1)


def watson(target_s: np.ndarray, params: GaussianParams) -> np.ndarray:
    """Watson et al. (difficulty calibration, offline): score = mean_q [ s_q - mu_out ]."""
    return (target_s - params.mean_out).mean(axis=-1)


def ye(target_loss: np.ndarray, shadow_loss: np.ndarray, keep: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Ye et al.'s attack R: a per-example non-parametric one-sided test,

        score = fraction of the target's OUT shadows whose loss is >= the target's loss.

    target_loss [T, n], shadow_loss [N, n], keep [N, n]; the shadows of target t are
    lira.core.splits.shadow_models(t). The score moves in steps of 1 / (number of OUT shadows),
    so no FPR below that can be reached (see `ye_resolution`)."""
    shadow_loss = np.asarray(shadow_loss, dtype=np.float64)
    scores = np.empty(np.shape(target_loss), dtype=np.float64)
    for row, target in enumerate(targets):
        out = ~keep & splits.shadow_models(int(target), len(keep))[:, None]  # [N, n]
        at_least = (shadow_loss >= target_loss[row]) & out
        scores[row] = at_least.sum(axis=0) / np.maximum(out.sum(axis=0), 1)
    return scores


def ye_resolution(keep: np.ndarray, targets: np.ndarray) -> float:
    """The smallest FPR attack R can resolve: 1 / the fewest OUT shadows any example has."""
    fewest = min(int((~keep & splits.shadow_models(int(t), len(keep))[:, None]).sum(axis=0).min()) for t in targets)
    return 1.0 / max(fewest, 1)


def best_threshold(values: np.ndarray, is_member: np.ndarray) -> float:
    """The threshold tau maximising balanced accuracy of the rule "member iff value < tau" (ties
    count together); tau is the midpoint between consecutive distinct values."""
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_members = values[order], is_member[order]
    n_members = max(int(is_member.sum()), 1)
    n_non = max(int((~is_member).sum()), 1)
    # Predicting "member" for the first k sorted values, for every k at a change of value.
    true_positive = np.r_[0, np.cumsum(sorted_members)]
    false_positive = np.r_[0, np.cumsum(~sorted_members)]
    cut = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1, len(values)]
    accuracy = (true_positive[cut] / n_members + 1 - false_positive[cut] / n_non) / 2
    k = cut[int(np.argmax(accuracy))]
    if k == 0:
        return float(sorted_values[0]) - 1.0
    if k == len(values):
        return float(sorted_values[-1]) + 1.0
    return float((sorted_values[k - 1] + sorted_values[k]) / 2)


def song_mittal(
    target_mentr: np.ndarray, shadow_mentr: np.ndarray, keep: np.ndarray, labels: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Song & Mittal: modified entropy Mentr (lira.core.logit_statistics.modified_entropy) compared with a
    threshold per class, learned from the target's shadows (lira.core.splits.shadow_models) to
    maximise balanced accuracy:

        score = tau_{y(x)} - Mentr(f(x), y(x))

    target_mentr [T, n], shadow_mentr [N, n], keep [N, n], labels [n]."""
    scores = np.empty(np.shape(target_mentr), dtype=np.float64)
    for row, target in enumerate(targets):
        others = splits.shadow_models(int(target), len(keep))
        for label in np.unique(labels):
            of_class = labels == label
            tau = best_threshold(shadow_mentr[others][:, of_class].ravel(), keep[others][:, of_class].ravel())
            scores[row, of_class] = tau - target_mentr[row, of_class]
    return scores


def logistic_regression(features: np.ndarray, is_member: np.ndarray, l2: float = 1e-3, iterations: int = 50):
    """Weights w [d + 1] (last: bias) of L2-regularised logistic regression, by Newton's method.
    Convex, so deterministic; the small ridge keeps separable classes finite."""
    x = np.c_[features, np.ones(len(features))]
    y = is_member.astype(np.float64)
    w = np.zeros(x.shape[1])
    ridge = l2 * len(x) * np.eye(x.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w


def shokri(
    target_features: np.ndarray,
    shadow_features: np.ndarray,
    keep: np.ndarray,
    labels: np.ndarray,
    targets: np.ndarray,
    max_train: int = 20000,
    seed: int = 0,
) -> np.ndarray:
    """Shokri et al.: an attack classifier per class, trained on the shadows' (output, IN/OUT)
    pairs (the target's shadows, lira.core.splits.shadow_models), applied to the target's output:

        score = w_y . standardise(features(x)) + b_y   (the classifier's log-odds of "member")

    Classifier: logistic regression on per-example features of the model's output (here the
    logit-scaled confidence, hinge and modified entropy of the identity query), one per class.
    The original uses small neural networks on the probability vector; these three features
    summarise it, and a convex linear model is deterministic and cannot overfit the few thousand
    shadow examples per class. At most `max_train` shadow pairs per class (seeded subsample).

    target_features [T, n, d], shadow_features [N, n, d], keep [N, n], labels [n]."""
    rng = np.random.default_rng(seed)
    scores = np.empty(np.shape(target_features)[:2], dtype=np.float64)
    for row, target in enumerate(targets):
        others = splits.shadow_models(int(target), len(keep))
        for label in np.unique(labels):
            of_class = labels == label
            x = shadow_features[others][:, of_class].reshape(-1, shadow_features.shape[-1])
            y = keep[others][:, of_class].ravel()
            if len(x) > max_train:
                chosen = rng.choice(len(x), max_train, replace=False)
                x, y = x[chosen], y[chosen]
            mean, std = x.mean(axis=0), x.std(axis=0) + 1e-12
            w = logistic_regression((x - mean) / std, y)
            scores[row, of_class] = ((target_features[row, of_class] - mean) / std) @ w[:-1] + w[-1]
    return scores


# --- Beyond the paper -----------------------------------------------------------------------------


def rmia(
    target_probability: np.ndarray,
    reference_probability: np.ndarray,
    population: np.ndarray,
    gamma: float = 1.0,
) -> np.ndarray:
    """RMIA (Zarifzadeh et al., ICML 2024): how often x's likelihood ratio beats population points',

        LR(x) = Pr(x | theta) / Pr(x),   score(x) = fraction of z in Z with LR(x) / LR(z) >= gamma,

    where Pr(x | theta) is the target's probability of the true label (mean over queries) and
    Pr(x) its expectation over reference models (see `rmia_reference`). target_probability and
    reference_probability [T, n]; population: pool indices of Z (their own LRs come from the same
    arrays). The score moves in steps of 1 / |Z|."""
    ratio = target_probability / reference_probability  # [T, n]
    scores = np.empty_like(ratio)
    for row in range(len(ratio)):
        population_ratio = np.sort(ratio[row, population])
        # number of z with LR(z) <= LR(x) / gamma
        scores[row] = np.searchsorted(population_ratio, ratio[row] / gamma, side="right") / len(population)
    return scores


def rmia_reference(params: GaussianParams, offline_a: float | None = None) -> np.ndarray:
    """Pr(x) from reference models' probabilities (params fitted to the probability p_y, mean over
    queries taken here): online, the mean over all references (IN and OUT; with each target's
    pair left out, as many IN as OUT);
    offline, the paper's linear approximation from OUT references only,
    Pr(x) = ((1 + a) * mean_out + (1 - a)) / 2."""
    if offline_a is None:
        count_in = params.count_in[..., None]
        count_out = params.count_out[..., None]
        mean = (count_in * np.nan_to_num(params.mean_in) + count_out * np.nan_to_num(params.mean_out)) / (
            count_in + count_out
        )
    else:
        mean = ((1 + offline_a) * params.mean_out + (1 - offline_a)) / 2
    return np.maximum(mean.mean(axis=-1), 1e-30)


# --- Running an attack by its settings (lira.workflow.catalog) ---------------------------------------------


def _select_queries(params: GaussianParams, queries) -> GaussianParams:
    fields = ("mean_in", "var_in", "mean_out", "var_out", "var_in_global", "var_out_global")
    selected = {name: getattr(params, name)[..., queries] for name in fields}
    return GaussianParams(**selected, count_in=params.count_in, count_out=params.count_out)


def _negated(params: GaussianParams) -> GaussianParams:
    """Parameters of -x from those of x (for s = -loss)."""
    return GaussianParams(
        -params.mean_in, params.var_in, -params.mean_out, params.var_out,
        params.var_in_global, params.var_out_global, params.count_in, params.count_out,
    )  # fmt: skip


@dataclass
class AttackInputs:
    """What every attack family draws from: its settings (lira.workflow.catalog.settings), the
    models' per-example statistics, splits and fits.

    shadows: statistic name -> [N, n, Q] values of every model; keep [N, n]; labels [n]; fits:
    statistic name -> lira.core.gaussian.ShadowFit over all N models; queries: the query indices
    the attack uses (a list, or slice(None) for all).

    The targets are either shadow models 0..T-1 (T = settings["targets"]; target t's shadows are
    every model but t and its partner, lira.core.splits.held_out), or, given `external`
    (statistic name -> [T, n, Q]), models that are not among the shadows: a model audited against
    every shadow model."""

    settings: dict
    shadows: dict
    keep: np.ndarray
    labels: np.ndarray
    fits: dict
    queries: object
    external: dict | None = None

    @property
    def targets(self) -> np.ndarray:
        if self.external is not None:
            return np.arange(len(next(iter(self.external.values()))))
        return np.arange(self.settings["targets"])

    def held_out(self, target: int) -> list[int]:
        """The shadow models left out for `target`: its pair, or none for an external target."""
        return [] if self.external is not None else splits.held_out(int(target), len(self.keep))

    @property
    def statistic(self) -> str:
        return self.settings["statistic"]

    @property
    def sign(self) -> float:
        """Orients the statistic so that higher means "member"."""
        return -1.0 if self.statistic == "loss" else 1.0

    def target_values(self, name: str, rows=slice(None)) -> np.ndarray:
        """The targets' values [T, n, Q], or one target's [n, Q] (rows = its index), in float64."""
        if self.external is not None:
            return np.asarray(self.external[name][rows], dtype=np.float64)
        return np.asarray(self.shadows[name][: self.settings["targets"]][rows], dtype=np.float64)

    def gaussians(self, name: str, rows=slice(None)) -> GaussianParams:
        """Gaussians of the targets' shadows, all queries: of every target [T, n, Q] or of one
        target [n, Q] (rows = its index), each target's pair left out; for external targets those
        of every shadow model, [n, Q] (the same for every target)."""
        if self.external is not None:
            params = gaussian_params(self.fits[name])
        else:
            params = leave_pair_out(self.fits[name], self.shadows[name], self.keep, self.targets[rows])
        return _negated(params) if name == "loss" else params

    def first_query(self, name: str) -> np.ndarray:
        """Every model's values of `name` under the identity query, [N, n] float64."""
        return np.asarray(self.shadows[name][..., 0], dtype=np.float64)


def _run_threshold(inputs: AttackInputs):
    return global_threshold(inputs.sign * inputs.target_values(inputs.statistic)[..., inputs.queries]), 0.0


def _run_sablayrolles(inputs: AttackInputs):
    params = _select_queries(inputs.gaussians(inputs.statistic), inputs.queries)
    return sablayrolles(inputs.sign * inputs.target_values(inputs.statistic)[..., inputs.queries], params), 0.0


def _run_watson(inputs: AttackInputs):
    params = _select_queries(inputs.gaussians(inputs.statistic), inputs.queries)
    return watson(inputs.sign * inputs.target_values(inputs.statistic)[..., inputs.queries], params), 0.0


def _shadow_models_only(inputs: AttackInputs) -> None:
    if inputs.external is not None:
        raise ValueError(f"attack family {inputs.settings['family']} scores only targets among the shadow models")


def _run_ye(inputs: AttackInputs):
    _shadow_models_only(inputs)
    loss = inputs.first_query("loss")
    targets = inputs.targets
    return ye(loss[: len(targets)], loss, inputs.keep, targets), ye_resolution(inputs.keep, targets)


def _run_song_mittal(inputs: AttackInputs):
    _shadow_models_only(inputs)
    mentr = inputs.first_query("modified_entropy")
    targets = inputs.targets
    return song_mittal(mentr[: len(targets)], mentr, inputs.keep, inputs.labels, targets), 0.0


def _run_shokri(inputs: AttackInputs):
    _shadow_models_only(inputs)
    names = ("logit_scaled_confidence", "hinge", "modified_entropy")
    features = np.stack([inputs.first_query(name) for name in names], axis=-1)
    targets = inputs.targets
    return shokri(features[: len(targets)], features, inputs.keep, inputs.labels, targets, seed=inputs.settings["seed"]), 0.0


def _run_lira(inputs: AttackInputs):
    """Online or offline LiRA, one target at a time: the job's memory stays O(pool x queries) and
    is reused from target to target, rather than holding every target's [T, n, Q] parameters.
    The two models of a pair have the same shadows (every other pair), so when a target follows
    its partner (targets 2j, 2j + 1) it takes the partner's parameters: the very same values."""
    settings, statistic, sign, queries = inputs.settings, inputs.statistic, inputs.sign, inputs.queries
    if settings["centre"] == "median":
        values = sign * np.asarray(inputs.shadows[statistic], dtype=np.float64)
    global_variance = settings["variance"] == "global"
    scores = np.empty((len(inputs.targets), inputs.keep.shape[1]))
    held_out, params = None, None
    for t in inputs.targets:
        if inputs.held_out(t) != held_out or params is None:
            held_out = inputs.held_out(t)
            params = inputs.gaussians(statistic, t)
            if settings["centre"] == "median":
                others = np.ones(len(inputs.keep), dtype=bool)
                others[held_out] = False
                params.mean_in, params.mean_out = group_medians(values[others], inputs.keep[others])
            params = _select_queries(params, queries)
        s = sign * inputs.target_values(statistic, t)[..., queries]
        if settings["family"] == "lira_online":
            scores[t] = lira_online(s, params, global_variance)
        else:
            scores[t] = lira_offline(s, params, global_variance, settings["offline_test"])
    return scores, 0.0


def _run_rmia(inputs: AttackInputs):
    settings = inputs.settings
    params = _select_queries(inputs.gaussians("probability"), inputs.queries)
    reference = rmia_reference(params, settings.get("offline_a"))
    target_probability = inputs.target_values("probability")[..., inputs.queries].mean(axis=-1)
    n = target_probability.shape[1]
    population = np.random.default_rng([settings["seed"], 0x5EED]).choice(
        n, size=min(settings["population_size"], n), replace=False
    )
    return rmia(target_probability, reference, population, settings["gamma"]), 0.0


# Attack family (lira.workflow.catalog.FAMILIES) -> the function that scores it from AttackInputs.
RUNNERS = {
    "threshold": _run_threshold,
    "sablayrolles": _run_sablayrolles,
    "watson": _run_watson,
    "ye": _run_ye,
    "song_mittal": _run_song_mittal,
    "shokri": _run_shokri,
    "lira_online": _run_lira,
    "lira_offline": _run_lira,
    "rmia_online": _run_rmia,
    "rmia_offline": _run_rmia,
}


def run(
    settings: dict,
    shadows: dict,
    keep: np.ndarray,
    labels: np.ndarray,
    fits: dict,
    queries,
    external: dict | None = None,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Scores [T, n] of the attack `settings` describes (lira.workflow.catalog.settings), and the
    smallest FPR it can resolve (0 when any). The arguments are those of AttackInputs; with
    `candidates` (int pool indices [C]) the attack sees those examples only (restrict) and the
    scores are [T, C]."""
    runner = RUNNERS.get(settings["family"])
    if runner is None:
        raise ValueError(f"unknown attack family {settings['family']!r}; known: {', '.join(RUNNERS)}")
    if candidates is not None:
        shadows, keep, labels, fits, external = restrict(candidates, shadows, keep, labels, fits, external)
    return runner(AttackInputs(settings, shadows, keep, labels, fits, queries, external))


def cross_scores(settings: dict, target_values: dict, shadows: dict, keep: np.ndarray, labels: np.ndarray, queries) -> np.ndarray:
    """Scores [T, n] of T models of one population (target_values: statistic name -> [T, n, Q],
    models 0..T-1 of a population drawn with the same seed as the shadows, so that target t has
    the split of shadow model t) against the shadows of another (shadows: name -> [N, n, Q], keep
    [N, n]): the attack of a grid's cross pair (lira.workflow.grids.cross_pairs).

    As in the leave-pair-out evaluation, target t's shadows are the N - 2 models outside its
    pair (splits.held_out), which also keeps the shadow model trained on exactly t's split out:
    the matched pair then scores exactly as the leave-pair-out attack does (tests/core), and a
    mismatched pair differs from it only by the shadows' recipe. Each target is scored as an
    external target (AttackInputs.external) of its N - 2 shadows, fitted afresh."""
    names = list(target_values)
    n_targets = len(target_values[names[0]])
    n_models = len(keep)
    scores = np.empty((n_targets, keep.shape[1]))  # [T, n]
    held_out, subset, fits, kept = None, None, None, None
    for t in range(n_targets):
        if splits.held_out(t, n_models) != held_out:  # partners 2j, 2j + 1 share their shadows
            held_out = splits.held_out(t, n_models)
            others = np.setdiff1d(np.arange(n_models), held_out)
            kept = keep[others]
            subset = {name: np.asarray(shadows[name][others]) for name in names}  # [N - 2, n, Q]
            fits = {name: fit_shadow_sums(subset[name], kept) for name in names}
        external = {name: np.asarray(target_values[name][t : t + 1]) for name in names}  # [1, n, Q]
        scores[t] = run(settings, subset, kept, labels, fits, queries, external)[0][0]
    return scores


class _Columns(Mapping):
    """The stacks [N, n, Q] of `shadows` at the example columns `candidates`, each read (and
    copied into memory, [N, C, Q]) only when an attack first asks for it."""

    def __init__(self, shadows, candidates: np.ndarray):
        self._shadows, self._candidates, self._read = shadows, candidates, {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._read:
            self._read[name] = np.asarray(self._shadows[name][:, self._candidates])
        return self._read[name]

    def __iter__(self):
        return iter(self._shadows)

    def __len__(self) -> int:
        return len(self._shadows)


# Attack families that need IN shadows of every example they score (online): undefined for an
# example no shadow trains on (config `split`: shadows on one part of the pool).
ONLINE_FAMILIES = ("sablayrolles", "watson", "ye", "song_mittal", "shokri", "lira_online", "rmia_online")


def eligible(keep: np.ndarray) -> np.ndarray:
    """Boolean [n]: the examples some shadow trains on and some does not (keep [N, n]), the only
    ones an attack on targets among the shadows can measure (both IN and OUT models exist)."""
    keep = np.asarray(keep, dtype=bool)
    return keep.any(axis=0) & (~keep).any(axis=0)


def restrict(candidates: np.ndarray, shadows: dict, keep: np.ndarray, labels: np.ndarray, fits: dict, external=None):
    """The attack's inputs on the examples `candidates` (int indices [C]) only, in their order:
    stacks [N, C, Q] (read into memory), keep [N, C], labels [C], every fit's per-example arrays
    [C, ...] and the external targets' values [T, C, Q]. Scoring these equals scoring the whole pool
    and keeping the candidates' columns, except where an attack mixes examples (RMIA's population
    is then drawn from the candidates), and no never-IN example enters any statistic."""
    candidates = np.asarray(candidates, dtype=np.int64)
    shadows = _Columns(shadows, candidates)
    fits = {
        name: type(fit)(**{f.name: np.asarray(getattr(fit, f.name))[candidates] for f in dataclasses.fields(fit)})
        for name, fit in fits.items()
    }
    if external is not None:
        external = {name: np.asarray(values)[:, candidates] for name, values in external.items()}
    return shadows, np.asarray(keep)[:, candidates], np.asarray(labels)[candidates], fits, external
