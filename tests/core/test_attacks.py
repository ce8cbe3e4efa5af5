"""lira.core.attacks: on synthetic Gaussian statistics with a known answer, and against direct,
loop-based computations written from each docstring's formula.

The loop-based part uses small synthetic data: N = 8 shadow models with the complementary-pair
splits, n = 12 examples, Q = 3 queries, the first T = 3 models as targets. Every expected value
there is built with explicit Python loops over targets, examples, models and queries, over each
target's shadows: every model outside its complementary pair (2j, 2j + 1), written out here as
`others_of` independently of lira.core.splits."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import norm

from lira.core import attacks, gaussian, metrics, splits
from lira.core.gaussian import GaussianParams

# --- known answers: Gaussian statistics with analytic scores and power --------------------------


def make_params(mean_in, var_in, mean_out, var_out, var_in_global=None, var_out_global=None):
    mean_in, var_in, mean_out, var_out = (np.asarray(a, dtype=np.float64) for a in (mean_in, var_in, mean_out, var_out))
    shape = mean_in.shape
    t, _, q = shape
    return GaussianParams(
        mean_in=mean_in,
        var_in=np.broadcast_to(var_in, shape),
        mean_out=mean_out,
        var_out=np.broadcast_to(var_out, shape),
        var_in_global=np.full((t, 1, q), 1.0) if var_in_global is None else np.asarray(var_in_global, dtype=float),
        var_out_global=np.full((t, 1, q), 1.0) if var_out_global is None else np.asarray(var_out_global, dtype=float),
        count_in=np.zeros(shape[:2], dtype=np.int64),
        count_out=np.zeros(shape[:2], dtype=np.int64),
    )


def test_log_normal_pdf_matches_scipy():
    x = np.linspace(-5, 5, 21)
    np.testing.assert_allclose(attacks.log_normal_pdf(x, 0.7, 2.5), norm.logpdf(x, 0.7, np.sqrt(2.5)), rtol=1e-12)


def test_lira_online_equals_analytic_log_likelihood_ratio():
    rng = np.random.default_rng(0)
    t, n, q = 2, 50, 3
    mean_out = rng.normal(scale=3.0, size=(t, n, q))
    mean_in = mean_out + 2.0
    var_in = rng.uniform(0.1, 1.0, size=(t, n, q))
    var_out = rng.uniform(0.1, 1.0, size=(t, n, q))
    params = make_params(mean_in, var_in, mean_out, var_out)
    phi = mean_out + rng.normal(scale=2.0, size=(t, n, q))
    score = attacks.lira_online(phi, params)
    expected = (
        norm.logpdf(phi, mean_in, np.sqrt(var_in)) - norm.logpdf(phi, mean_out, np.sqrt(var_out))
    ).mean(axis=-1)
    assert score.shape == (t, n)
    np.testing.assert_allclose(score, expected, rtol=1e-12, atol=1e-12)


def test_lira_online_equal_variances_is_linear():
    # IN ~ N(2, 0.5^2), OUT ~ N(0, 0.5^2): the log ratio is ((x)^2 - (x - 2)^2) / (2 * 0.25) = 8x - 8.
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.5]).reshape(1, 6, 1)
    params = make_params(np.full((1, 6, 1), 2.0), 0.25, np.zeros((1, 6, 1)), 0.25)
    np.testing.assert_allclose(attacks.lira_online(x, params)[0], 8 * x.ravel() - 8, rtol=1e-12, atol=1e-12)


def test_lira_online_separates_members_with_the_analytic_auc():
    rng = np.random.default_rng(1)
    n = 20000
    is_member = np.arange(n) % 2 == 0
    centre = rng.normal(scale=5.0, size=(1, n, 1))  # per-example means: a global threshold fails
    phi = centre + 2.0 * is_member[None, :, None] + rng.normal(scale=0.5, size=(1, n, 1))
    params = make_params(centre + 2.0, 0.25, centre, 0.25)
    score = attacks.lira_online(phi, params)[0]
    assert score[is_member].mean() > score[~is_member].mean() + 10
    roc = metrics.roc_curve(score, is_member)
    analytic_auc = norm.cdf(2.0 / (0.5 * np.sqrt(2)))  # P(N(2, .25) > N(0, .25)) = 0.99766
    assert metrics.auc(roc) == pytest.approx(analytic_auc, abs=0.002)
    # TPR at 1% FPR: threshold x > 0.5 * z_0.99 on the OUT side.
    analytic_tpr = norm.sf((0.5 * norm.isf(0.01) - 2.0) / 0.5)  # 0.953
    tpr, fpr = metrics.tpr_at_fpr(roc, 0.01)
    assert tpr == pytest.approx(analytic_tpr, abs=0.01)
    assert fpr <= 0.01
    # The raw statistic with one global threshold is much weaker with these per-example means.
    assert metrics.auc(metrics.roc_curve(phi[0, :, 0], is_member)) < 0.7


def test_lira_end_to_end_from_shadow_models():
    """Shadow fits from a synthetic population of models recover the analytic power."""
    rng = np.random.default_rng(2)
    n_models, n, q = 32, 2000, 2
    keep = splits.keep_matrix(0, n_models, n)
    centre = rng.normal(scale=4.0, size=(1, n, 1))
    phi = centre + 2.0 * keep[..., None] + rng.normal(scale=0.5, size=(n_models, n, q))
    params = gaussian.leave_pair_out(gaussian.fit_shadow_sums(phi, keep), phi, keep, np.arange(4))
    for global_variance in (False, True):
        score = attacks.lira_online(phi[:4], params, global_variance=global_variance)
        roc = metrics.roc_curve(score, keep[:4])
        # With two queries the analytic AUC is Phi(2 / (0.5 * sqrt(2) / sqrt(2))) = Phi(4) ~ 0.99997.
        assert metrics.auc(roc) > 0.995
    offline = attacks.lira_offline(phi[:4], params, global_variance=True)
    assert metrics.auc(metrics.roc_curve(offline, keep[:4])) > 0.99


def test_global_variance_switch_uses_global_fields():
    rng = np.random.default_rng(3)
    t, n, q = 2, 10, 2
    mean_in, mean_out = rng.normal(size=(2, t, n, q))
    var_in, var_out = rng.uniform(0.5, 1.5, size=(2, t, n, q))
    var_in_global = rng.uniform(2.0, 3.0, size=(t, 1, q))
    var_out_global = rng.uniform(0.05, 0.1, size=(t, 1, q))
    params = make_params(mean_in, var_in, mean_out, var_out, var_in_global, var_out_global)
    phi = rng.normal(size=(t, n, q))
    expected = (
        norm.logpdf(phi, mean_in, np.sqrt(var_in_global)) - norm.logpdf(phi, mean_out, np.sqrt(var_out_global))
    ).mean(axis=-1)
    np.testing.assert_allclose(attacks.lira_online(phi, params, global_variance=True), expected, rtol=1e-12)
    assert not np.allclose(attacks.lira_online(phi, params, global_variance=False), expected)
    one_sided = norm.logcdf((phi - mean_out) / np.sqrt(var_out_global)).mean(axis=-1)
    np.testing.assert_allclose(attacks.lira_offline(phi, params, global_variance=True), one_sided, rtol=1e-12)
    two_sided = -norm.logpdf(phi, mean_out, np.sqrt(var_out_global)).mean(axis=-1)
    np.testing.assert_allclose(
        attacks.lira_offline(phi, params, global_variance=True, test="two-sided"), two_sided, rtol=1e-12
    )


def test_lira_offline_one_sided_and_two_sided():
    rng = np.random.default_rng(4)
    t, n, q = 3, 20, 4
    mean_out = rng.normal(size=(t, n, q))
    var_out = rng.uniform(0.2, 2.0, size=(t, n, q))
    params = make_params(mean_out + 1, 1.0, mean_out, var_out)
    phi = mean_out + rng.normal(scale=3.0, size=(t, n, q))
    one_sided = attacks.lira_offline(phi, params)  # the default
    np.testing.assert_allclose(one_sided, norm.logcdf((phi - mean_out) / np.sqrt(var_out)).mean(axis=-1), rtol=1e-12)
    np.testing.assert_allclose(attacks.lira_offline(phi, params, test="one-sided"), one_sided)
    two_sided = attacks.lira_offline(phi, params, test="two-sided")
    np.testing.assert_allclose(two_sided, -norm.logpdf(phi, mean_out, np.sqrt(var_out)).mean(axis=-1), rtol=1e-12)
    assert one_sided.shape == two_sided.shape == (t, n)


def test_offline_one_sided_is_monotone_and_two_sided_flags_low_values():
    params = make_params(np.ones((1, 3, 1)), 1.0, np.zeros((1, 3, 1)), 1.0)
    phi = np.array([-6.0, 0.0, 6.0]).reshape(1, 3, 1)
    one = attacks.lira_offline(phi, params)[0]
    two = attacks.lira_offline(phi, params, test="two-sided")[0]
    assert one[0] < one[1] < one[2]
    assert np.isfinite(one[0]) and one[0] < -20  # log Phi(-6) ~ -20.7, no underflow to -inf
    assert two[0] == pytest.approx(two[2]) and two[0] > two[1]


def test_invalid_offline_test_raises():
    params = make_params(np.ones((1, 2, 1)), 1.0, np.zeros((1, 2, 1)), 1.0)
    with pytest.raises(ValueError, match="offline test"):
        attacks.lira_offline(np.zeros((1, 2, 1)), params, test="both")


def test_global_threshold_is_the_mean_of_s_over_the_queries_it_is_given():
    # The caller orients (s = -loss) and selects queries (Yeom: the identity query only).
    loss = np.array([[[0.5, 9.0, 9.0], [2.0, 0.0, 0.0]], [[0.1, 7.0, 7.0], [3.0, 3.0, 3.0]]])  # [T=2, n=2, Q=3]
    np.testing.assert_array_equal(attacks.global_threshold(-loss[..., :1]), [[-0.5, -2.0], [-0.1, -3.0]])
    np.testing.assert_allclose(attacks.global_threshold(-loss), [[-18.5 / 3, -2 / 3], [-14.1 / 3, -3.0]], rtol=1e-15)
    assert attacks.global_threshold(loss).dtype == np.float64


def test_log_normal_cdf_matches_scipy_log_ndtr_everywhere():
    from scipy.special import log_ndtr

    z = np.concatenate(
        [
            np.linspace(-45, 45, 200_001),
            np.random.default_rng(5).normal(scale=6.0, size=100_000),
            [-40.0, -37.6, -20.0, np.nextafter(-20.0, 0), -5.0, -1e-300, -0.0, 0.0, 1e-300, 5.0, 8.3, 38.0, 40.0],
        ]
    )
    expected = log_ndtr(z)
    ours = attacks.log_normal_cdf(z)
    # A few ulp relative to the value itself, also where log Phi(z) is tiny (z >> 0) or huge (z << 0).
    np.testing.assert_allclose(ours, expected, rtol=4e-15, atol=0)
    assert attacks.log_normal_cdf(np.array([-np.inf]))[0] == -np.inf
    assert attacks.log_normal_cdf(np.array([np.inf]))[0] == 0.0
    assert np.isnan(attacks.log_normal_cdf(np.array([np.nan, 1.0]))[0])
    # In place, with a scratch buffer, and on a 2-D array.
    values = z[:1000].reshape(50, 20).copy()
    result = attacks.log_normal_cdf(values, out=values, scratch=np.empty_like(values))
    assert result is values
    np.testing.assert_allclose(values.ravel(), expected[:1000], rtol=4e-15, atol=0)


@pytest.mark.parametrize("leading", [(3,), ()])
def test_lira_scores_over_several_chunks_equal_the_direct_formulas(leading):
    # More examples than one chunk holds (the scores are computed chunk by chunk, per target) and
    # also without a target axis (as lira.core.shadow_count calls them).
    rng = np.random.default_rng(6)
    n, q = 4000, 18
    shape = (*leading, n, q)
    mean_in, mean_out = rng.normal(size=(2, *shape))
    var_in, var_out = rng.uniform(0.2, 2.0, size=(2, *shape))
    var_in_global, var_out_global = rng.uniform(0.2, 2.0, size=(2, *leading, 1, q))
    params = GaussianParams(
        mean_in, var_in, mean_out, var_out, var_in_global, var_out_global,
        np.zeros(shape[:-1], dtype=np.int64), np.zeros(shape[:-1], dtype=np.int64),
    )  # fmt: skip
    phi = mean_out + rng.normal(scale=3.0, size=shape)
    phi[..., 0, 0] = mean_out[..., 0, 0] - 90.0 * np.sqrt(var_out[..., 0, 0])  # far tail: log_ndtr's own branch
    for global_variance in (False, True):
        v_in, v_out = (var_in_global, var_out_global) if global_variance else (var_in, var_out)
        online = (norm.logpdf(phi, mean_in, np.sqrt(v_in)) - norm.logpdf(phi, mean_out, np.sqrt(v_out))).mean(axis=-1)
        one_sided = norm.logcdf((phi - mean_out) / np.sqrt(v_out)).mean(axis=-1)
        two_sided = -norm.logpdf(phi, mean_out, np.sqrt(v_out)).mean(axis=-1)
        assert online.shape == shape[:-1]
        close = {"rtol": 1e-12, "atol": 1e-12}
        np.testing.assert_allclose(attacks.lira_online(phi, params, global_variance), online, **close)
        np.testing.assert_allclose(attacks.lira_offline(phi, params, global_variance), one_sided, **close)
        np.testing.assert_allclose(attacks.lira_offline(phi, params, global_variance, "two-sided"), two_sided, **close)


# === against direct loop computations ============================================================

N_MODELS, N_EXAMPLES, N_QUERIES, N_TARGETS, N_CLASSES = 8, 12, 3, 3, 3
TARGETS = np.arange(N_TARGETS)


def synthetic(seed=0, n_models=N_MODELS, n=N_EXAMPLES, q=N_QUERIES, gap=1.5):
    """(values [N, n, Q] higher = member, keep [N, n], labels [n]) with per-example offsets."""
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, n)
    offset = rng.normal(scale=2.0, size=(1, n, 1))
    values = offset + gap * keep[..., None] + rng.normal(size=(n_models, n, q))
    labels = np.arange(n) % N_CLASSES
    rng.shuffle(labels)
    return values, keep, labels


def others_of(t, n_models=N_MODELS):
    """Target t's shadows: every model outside its pair (the last model of an odd N has none)."""
    return [m for m in range(n_models) if m // 2 != t // 2]


def loop_means(values, keep, t):
    """Per (example, query) mean of the IN and of the OUT shadows other than t (NaN if none)."""
    n, q = values.shape[1:]
    mean_in, mean_out = np.full((n, q), np.nan), np.full((n, q), np.nan)
    for x in range(n):
        for query in range(q):
            ins = [values[m, x, query] for m in others_of(t, len(values)) if keep[m, x]]
            outs = [values[m, x, query] for m in others_of(t, len(values)) if not keep[m, x]]
            if ins:
                mean_in[x, query] = sum(ins) / len(ins)
            if outs:
                mean_out[x, query] = sum(outs) / len(outs)
    return mean_in, mean_out


def shadow_params(values, keep, targets=TARGETS):
    fit = gaussian.fit_shadow_sums(values, keep)
    return gaussian.leave_pair_out(fit, values, keep, targets)


# --- global threshold, Sablayrolles, Watson --------------------------------------------------------


def test_global_threshold_is_the_mean_over_queries():
    values, _, _ = synthetic(1)
    target = values[:N_TARGETS]
    expected = np.zeros((N_TARGETS, N_EXAMPLES))
    for t in range(N_TARGETS):
        for x in range(N_EXAMPLES):
            expected[t, x] = sum(target[t, x, q] for q in range(N_QUERIES)) / N_QUERIES
    np.testing.assert_allclose(attacks.global_threshold(target), expected, rtol=1e-13)
    # One query: the statistic itself; integer input comes back as float64.
    np.testing.assert_array_equal(attacks.global_threshold(target[..., :1]), target[..., 0])
    assert attacks.global_threshold(np.ones((2, 3, 4), dtype=np.int32)).dtype == np.float64


def test_sablayrolles_and_watson_against_loops():
    values, keep, _ = synthetic(2)
    params = shadow_params(values, keep)
    target = values[:N_TARGETS]
    sablayrolles = attacks.sablayrolles(target, params)
    watson = attacks.watson(target, params)
    assert sablayrolles.shape == watson.shape == (N_TARGETS, N_EXAMPLES)
    for t in range(N_TARGETS):
        mean_in, mean_out = loop_means(values, keep, t)
        for x in range(N_EXAMPLES):
            halfway = [target[t, x, q] - (mean_in[x, q] + mean_out[x, q]) / 2 for q in range(N_QUERIES)]
            calibrated = [target[t, x, q] - mean_out[x, q] for q in range(N_QUERIES)]
            assert sablayrolles[t, x] == pytest.approx(sum(halfway) / N_QUERIES, rel=1e-10, abs=1e-10)
            assert watson[t, x] == pytest.approx(sum(calibrated) / N_QUERIES, rel=1e-10, abs=1e-10)


def test_sablayrolles_and_watson_leave_the_target_and_its_partner_out():
    # Shift one target's own values by 1e4 and its partner's by -1e4: its shadow means must not
    # move, and its scores move by 1e4.
    values, keep, _ = synthetic(3)
    for t in TARGETS:
        spiked = values.copy()
        spiked[t] += 1e4
        spiked[t ^ 1] -= 1e4
        params = shadow_params(spiked, keep, np.array([t]))
        mean_in, mean_out = loop_means(values, keep, t)
        np.testing.assert_allclose(params.mean_in[0], mean_in, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(params.mean_out[0], mean_out, rtol=1e-9, atol=1e-9)
        plain = shadow_params(values, keep, np.array([t]))
        np.testing.assert_allclose(attacks.watson(spiked[[t]], params), attacks.watson(values[[t]], plain) + 1e4, rtol=1e-9)
        np.testing.assert_allclose(
            attacks.sablayrolles(spiked[[t]], params), attacks.sablayrolles(values[[t]], plain) + 1e4, rtol=1e-9
        )


# --- Ye et al. (attack R) --------------------------------------------------------------------------


def loop_ye(target_loss, shadow_loss, keep, targets):
    scores = np.zeros(np.shape(target_loss))
    for row, t in enumerate(targets):
        for x in range(shadow_loss.shape[1]):
            outs = [shadow_loss[m, x] for m in others_of(t, len(shadow_loss)) if not keep[m, x]]
            at_least = sum(1 for value in outs if value >= target_loss[row][x])
            scores[row, x] = at_least / len(outs) if outs else 0.0
    return scores


def test_ye_against_loop():
    values, keep, _ = synthetic(4)
    loss = np.exp(-values[..., 0])  # positive, lower for members
    scores = attacks.ye(loss[:N_TARGETS], loss, keep, TARGETS)
    np.testing.assert_array_equal(scores, loop_ye(loss[:N_TARGETS], loss, keep, TARGETS))
    # Balanced design: with t's pair left out every example has 3 OUT shadows, so scores are k/3.
    np.testing.assert_allclose(scores * 3, np.round(scores * 3), atol=1e-12)
    assert np.all((scores >= 0) & (scores <= 1))


def test_ye_ties_count_as_at_least_and_the_targets_pair_are_not_its_shadows():
    keep = splits.keep_matrix(0, N_MODELS, 5)
    loss = np.full((N_MODELS, 5), 2.0)  # every shadow ties with the target
    scores = attacks.ye(loss[:2], loss, keep, np.arange(2))
    np.testing.assert_array_equal(scores, 1.0)
    # Target loss above every shadow: 0, although the target's own row and its partner's (each
    # OUT for half the examples) tie with it.
    target = np.full((1, 5), 3.0)
    loss_with_target = loss.copy()
    loss_with_target[[0, 1]] = 3.0
    np.testing.assert_array_equal(attacks.ye(target, loss_with_target, keep, np.array([0])), 0.0)


def test_ye_with_no_out_shadow_scores_zero():
    keep = np.array([[True, False], [True, True], [True, False]])  # example 0 is IN everywhere
    loss = np.array([[0.1, 0.5], [0.2, 0.6], [0.3, 0.9]])
    scores = attacks.ye(loss[:1], loss, keep, np.array([0]))
    # Example 1: OUT shadows outside pair (0, 1) = {2} with loss 0.9 >= 0.5.
    np.testing.assert_array_equal(scores, [[0.0, 1.0]])
    assert attacks.ye_resolution(keep, np.array([0])) == 1.0


def test_ye_resolution_is_one_over_the_fewest_out_shadows():
    keep = splits.keep_matrix(0, N_MODELS, N_EXAMPLES)
    fewest = math.inf
    for t in TARGETS:
        for x in range(N_EXAMPLES):
            fewest = min(fewest, sum(1 for m in others_of(t) if not keep[m, x]))
    assert fewest == 3
    assert attacks.ye_resolution(keep, TARGETS) == pytest.approx(1 / fewest)
    # An unbalanced design: example 2 is OUT for only two models outside target 1's pair.
    keep = np.zeros((6, 3), dtype=bool)
    keep[[0, 1, 2, 3], 2] = True  # OUT: models 4, 5
    assert attacks.ye_resolution(keep, np.array([1])) == pytest.approx(1 / 2)
    assert attacks.ye_resolution(keep, np.array([4])) == pytest.approx(1 / 1)  # pair (4, 5) out: none left
    keep[4, 2] = True  # OUT: model 5 alone; outside target 0's pair, one OUT shadow
    assert attacks.ye_resolution(keep, np.array([0])) == pytest.approx(1 / 1)
    assert attacks.ye_resolution(keep, np.array([1, 4])) == pytest.approx(1 / 1)


# --- best threshold and Song & Mittal ---------------------------------------------------------------


def brute_force_threshold(values, is_member):
    """Every candidate threshold (below all, midpoints of consecutive distinct values, above all),
    balanced accuracy of "member iff value < tau" for each; the first (smallest) best one."""
    distinct = sorted(set(values.tolist()))
    candidates = [distinct[0] - 1.0]
    candidates += [(a + b) / 2 for a, b in zip(distinct[:-1], distinct[1:])]
    candidates += [distinct[-1] + 1.0]
    members = [v for v, m in zip(values, is_member) if m]
    non_members = [v for v, m in zip(values, is_member) if not m]
    best, best_accuracy = None, -1.0
    for tau in candidates:
        tpr = sum(1 for v in members if v < tau) / max(len(members), 1)
        fpr = sum(1 for v in non_members if v < tau) / max(len(non_members), 1)
        accuracy = (tpr + 1 - fpr) / 2
        if accuracy > best_accuracy:
            best, best_accuracy = tau, accuracy
    return best, best_accuracy


@pytest.mark.parametrize("seed", range(6))
def test_best_threshold_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    size = 40
    is_member = rng.random(size) < 0.5
    values = np.round(rng.normal(size=size) - 0.8 * is_member, 1)  # rounded: ties across classes
    tau = attacks.best_threshold(values, is_member)
    expected, _ = brute_force_threshold(values, is_member)
    assert tau == pytest.approx(expected, abs=1e-12)


def test_best_threshold_ties_move_together_and_first_best_wins():
    # The three 1.0s cannot be split, although the two members among them are listed first.
    values = np.array([1.0, 1.0, 1.0, 5.0])
    is_member = np.array([True, True, False, False])
    assert attacks.best_threshold(values, is_member) == 3.0
    # Two thresholds reach 3/4 (1.5 and 3.5): the smaller one.
    assert attacks.best_threshold(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False])) == 1.5
    # All members below all non-members: the midpoint of the gap.
    assert attacks.best_threshold(np.array([4.0, 0.0, 1.0, 3.0]), np.array([False, True, True, False])) == 2.0
    # No member-below rule helps (members above): "nobody is a member", below the smallest value.
    assert attacks.best_threshold(np.array([1.0, 2.0]), np.array([False, True])) == 0.0
    # Only members: everyone is a member, above the largest value.
    assert attacks.best_threshold(np.array([1.0, 2.0]), np.array([True, True])) == 3.0


def loop_song_mittal(target_mentr, shadow_mentr, keep, labels, targets):
    scores = np.zeros(np.shape(target_mentr))
    for row, t in enumerate(targets):
        for label in sorted(set(labels.tolist())):
            pooled, membership = [], []
            for m in others_of(t, len(keep)):
                for x in range(len(labels)):
                    if labels[x] == label:
                        pooled.append(shadow_mentr[m, x])
                        membership.append(bool(keep[m, x]))
            tau, _ = brute_force_threshold(np.array(pooled), np.array(membership))
            for x in range(len(labels)):
                if labels[x] == label:
                    scores[row, x] = tau - target_mentr[row, x]
    return scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_song_mittal_against_loop(seed):
    values, keep, labels = synthetic(seed)
    mentr = np.exp(-values[..., 0])  # positive, low for members, like Mentr
    scores = attacks.song_mittal(mentr[:N_TARGETS], mentr, keep, labels, TARGETS)
    expected = loop_song_mittal(mentr[:N_TARGETS], mentr, keep, labels, TARGETS)
    np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=1e-12)


def test_song_mittal_thresholds_exclude_the_targets_pair():
    # Mentr depends only on membership (0.1 IN, 0.9 OUT): every per-class threshold is 0.5. Then
    # model 0's members get 0.8 and its non-members 0.95: the thresholds of targets 0 and 1 (from
    # models 2-5) stay 0.5, those of targets 2 and 4 (from models 0, 1 and another pair) move up
    # to 0.85 where model 0 has a member.
    keep = splits.keep_matrix(0, 6, 6)
    labels = np.array([0, 0, 0, 1, 1, 1])
    targets = np.array([0, 1, 2, 4])
    mentr = np.where(keep, 0.1, 0.9)
    base = attacks.song_mittal(mentr[targets], mentr, keep, labels, targets)
    np.testing.assert_allclose(base, 0.5 - mentr[targets])
    changed = mentr.copy()
    changed[0] = np.where(keep[0], 0.8, 0.95)
    scores = attacks.song_mittal(changed[targets], changed, keep, labels, targets)
    np.testing.assert_allclose(scores[:2], 0.5 - changed[:2])  # pair (0, 1)'s tau: from models 2-5 only
    np.testing.assert_allclose(scores, loop_song_mittal(changed[targets], changed, keep, labels, targets))
    for row in (2, 3):
        for label in (0, 1):
            of_class = labels == label
            tau = 0.85 if keep[0, of_class].any() else 0.5
            np.testing.assert_allclose(scores[row, of_class], tau - changed[targets[row], of_class], rtol=1e-12)
        assert not np.allclose(scores[row], base[row])


# --- logistic regression and Shokri ----------------------------------------------------------------


def regularised_objective(features, is_member, l2):
    x = np.c_[features, np.ones(len(features))]
    y = is_member.astype(float)
    strength = l2 * len(x)

    def value(w):
        z = x @ w
        return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * strength * np.sum(w[:-1] ** 2)

    def gradient(w):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        return x.T @ (p - y) + strength * np.r_[w[:-1], 0.0]

    return value, gradient


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_logistic_regression_minimises_the_regularised_log_loss(l2):
    rng = np.random.default_rng(5)
    features = rng.normal(size=(200, 3))
    is_member = rng.random(200) < 1 / (1 + np.exp(-(features @ [1.5, -2.0, 0.5] + 0.3)))
    w = attacks.logistic_regression(features, is_member, l2=l2)
    value, gradient = regularised_objective(features, is_member, l2)
    reference = minimize(value, np.zeros(4), jac=gradient, method="BFGS", options={"gtol": 1e-11, "maxiter": 1000})
    assert w.shape == (4,)
    np.testing.assert_allclose(w, reference.x, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(gradient(w))) < 1e-6
    assert value(w) <= reference.fun + 1e-9


def test_logistic_regression_stays_finite_on_separable_data():
    features = np.r_[np.linspace(-3, -1, 20), np.linspace(1, 3, 20)][:, None]
    is_member = np.arange(40) >= 20
    w = attacks.logistic_regression(features, is_member)
    assert np.all(np.isfinite(w)) and np.abs(w).max() < 1e3
    logits = np.c_[features, np.ones(40)] @ w
    np.testing.assert_array_equal(logits > 0, is_member)
    value, gradient = regularised_objective(features, is_member, 1e-3)
    assert np.max(np.abs(gradient(w))) < 1e-6  # the ridge keeps a finite optimum; Newton reached it


def loop_shokri(target_features, shadow_features, keep, labels, targets):
    scores = np.zeros(target_features.shape[:2])
    for row, t in enumerate(targets):
        for label in sorted(set(labels.tolist())):
            rows, membership = [], []
            for m in others_of(t, len(keep)):
                for x in range(len(labels)):
                    if labels[x] == label:
                        rows.append(shadow_features[m, x])
                        membership.append(bool(keep[m, x]))
            rows = np.array(rows)
            mean, std = rows.mean(axis=0), rows.std(axis=0) + 1e-12
            w = attacks.logistic_regression((rows - mean) / std, np.array(membership))
            for x in range(len(labels)):
                if labels[x] == label:
                    standardised = (target_features[row, x] - mean) / std
                    scores[row, x] = sum(standardised[d] * w[d] for d in range(len(mean))) + w[-1]
    return scores


def shokri_data(seed=6):
    values, keep, labels = synthetic(seed, q=3)  # three features per example
    return values, keep, labels


def test_shokri_against_loop_without_subsampling():
    features, keep, labels = shokri_data()
    scores = attacks.shokri(features[:N_TARGETS], features, keep, labels, TARGETS, max_train=10**6)
    expected = loop_shokri(features[:N_TARGETS], features, keep, labels, TARGETS)
    np.testing.assert_allclose(scores, expected, rtol=1e-8, atol=1e-8)
    # Without subsampling the seed does not matter.
    other_seed = attacks.shokri(features[:N_TARGETS], features, keep, labels, TARGETS, max_train=10**6, seed=9)
    np.testing.assert_array_equal(other_seed, scores)


def test_shokri_subsampling_is_deterministic_for_a_seed():
    features, keep, labels = shokri_data()
    # 6 shadows x 4 examples per class = 24 pairs per class; keep 12 of them.
    first = attacks.shokri(features[:N_TARGETS], features, keep, labels, TARGETS, max_train=12, seed=3)
    again = attacks.shokri(features[:N_TARGETS], features, keep, labels, TARGETS, max_train=12, seed=3)
    np.testing.assert_array_equal(first, again)
    other = attacks.shokri(features[:N_TARGETS], features, keep, labels, TARGETS, max_train=12, seed=4)
    full = attacks.shokri(features[:N_TARGETS], features, keep, labels, TARGETS, max_train=24)
    assert not np.allclose(first, other)
    assert not np.allclose(first, full)
    np.testing.assert_allclose(full, loop_shokri(features[:N_TARGETS], features, keep, labels, TARGETS), rtol=1e-8)
    assert np.all(np.isfinite(first))


# --- medians and LiRA ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_models", [8, 10])
def test_pair_out_medians_against_np_median_of_explicit_lists(n_models):
    # 8 models: 3 IN and 3 OUT shadows per example (odd: the middle value); 10 models: 4 and 4.
    values, keep, _ = synthetic(7, n_models=n_models)
    medians_in, medians_out = attacks.pair_out_medians(values, keep, TARGETS)
    assert medians_in.shape == medians_out.shape == (N_TARGETS, N_EXAMPLES, N_QUERIES)
    for row, t in enumerate(TARGETS):
        for x in range(N_EXAMPLES):
            for q in range(N_QUERIES):
                ins = [values[m, x, q] for m in others_of(t, n_models) if keep[m, x]]
                outs = [values[m, x, q] for m in others_of(t, n_models) if not keep[m, x]]
                assert len(ins) == len(outs) == n_models // 2 - 1
                assert medians_in[row, x, q] == np.median(ins)
                assert medians_out[row, x, q] == np.median(outs)


def test_pair_out_medians_empty_group_is_nan():
    # Three models: pair (0, 1) and the unpaired model 2. Targets 0 and 1 keep model 2 alone, so
    # for each example one group is empty; target 2 keeps the pair, one IN and one OUT.
    values, keep, _ = synthetic(8, n_models=3, n=6, q=2)
    medians_in, medians_out = attacks.pair_out_medians(values, keep, np.arange(3))
    for t in range(2):
        for x in range(6):
            if keep[2, x]:
                np.testing.assert_array_equal(medians_in[t, x], values[2, x])
                assert np.all(np.isnan(medians_out[t, x]))
            else:
                np.testing.assert_array_equal(medians_out[t, x], values[2, x])
                assert np.all(np.isnan(medians_in[t, x]))
    inside = keep[0][:, None]
    np.testing.assert_array_equal(medians_in[2], np.where(inside, values[0], values[1]))
    np.testing.assert_array_equal(medians_out[2], np.where(inside, values[1], values[0]))


# --- RMIA -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [1.0, 2.0, 0.5])
def test_rmia_against_brute_force(gamma):
    rng = np.random.default_rng(9)
    target_p = rng.uniform(0.01, 1.0, size=(N_TARGETS, 30))
    reference = rng.uniform(0.05, 1.0, size=(N_TARGETS, 30))
    population = np.array([0, 3, 4, 7, 11, 12, 20, 29])
    scores = attacks.rmia(target_p, reference, population, gamma)
    for t in range(N_TARGETS):
        for x in range(30):
            likelihood_x = target_p[t, x] / reference[t, x]
            beaten = sum(1 for z in population if likelihood_x / (target_p[t, z] / reference[t, z]) >= gamma)
            assert scores[t, x] == pytest.approx(beaten / len(population), abs=1e-15), (t, x)
    assert np.all((scores >= 0) & (scores <= 1))
    if gamma == 1.0:  # a population point beats itself exactly: at least 1 / |Z|
        assert np.all(scores[:, population] >= 1 / len(population))


def test_rmia_reference_online_is_the_mean_over_every_other_reference_model():
    rng = np.random.default_rng(10)
    keep = splits.keep_matrix(0, N_MODELS, N_EXAMPLES)
    probability = rng.uniform(0.05, 0.99, size=(N_MODELS, N_EXAMPLES, N_QUERIES))
    params = shadow_params(probability, keep)
    online = attacks.rmia_reference(params)
    assert online.shape == (N_TARGETS, N_EXAMPLES)
    for t in range(N_TARGETS):
        for x in range(N_EXAMPLES):
            per_query = [np.mean([probability[m, x, q] for m in others_of(t)]) for q in range(N_QUERIES)]
            assert online[t, x] == pytest.approx(sum(per_query) / N_QUERIES, rel=1e-10)


@pytest.mark.parametrize("a", [0.0, 0.3, 1.0])
def test_rmia_reference_offline_is_the_linear_approximation(a):
    rng = np.random.default_rng(11)
    keep = splits.keep_matrix(0, N_MODELS, N_EXAMPLES)
    probability = rng.uniform(0.05, 0.99, size=(N_MODELS, N_EXAMPLES, N_QUERIES))
    offline = attacks.rmia_reference(shadow_params(probability, keep), offline_a=a)
    for t in range(N_TARGETS):
        for x in range(N_EXAMPLES):
            per_query = []
            for q in range(N_QUERIES):
                outs = [probability[m, x, q] for m in others_of(t) if not keep[m, x]]
                per_query.append(((1 + a) * (sum(outs) / len(outs)) + (1 - a)) / 2)
            assert offline[t, x] == pytest.approx(sum(per_query) / N_QUERIES, rel=1e-10)


def test_rmia_reference_online_with_an_empty_group_uses_the_other():
    # Three models: targets 0 and 1 have the unpaired model 2 as their one reference.
    rng = np.random.default_rng(12)
    keep = splits.keep_matrix(0, 3, 5)
    probability = rng.uniform(0.1, 0.9, size=(3, 5, 2))
    params = shadow_params(probability, keep, np.arange(2))
    online = attacks.rmia_reference(params)
    np.testing.assert_allclose(online, np.broadcast_to(probability[2].mean(axis=-1), (2, 5)), rtol=1e-12)
    assert np.all(np.isfinite(online))
    # The floor keeps the ratio finite when every reference gives probability 0.
    zero = shadow_params(np.zeros((3, 5, 2)), keep, np.arange(2))
    np.testing.assert_array_equal(attacks.rmia_reference(zero), 1e-30)


# --- LiRA with explicit variances --------------------------------------------------------------------


def loop_lira(values, keep, target_values, targets, centre="mean", variance="per-example", kind="online", test="one-sided"):
    """LiRA scores by loops: centre (mean or median) and variances over the shadows other than t.

    Per-example variance: unbiased over the group (every group has >= 2 values here). Global
    variance: squared deviations from each example's group mean, pooled over examples."""
    n, q = values.shape[1:]
    scores = np.zeros((len(targets), n))
    for row, t in enumerate(targets):
        groups = {}
        for group, member in (("in", True), ("out", False)):
            centres = np.zeros((n, q))
            variances = np.zeros((n, q))
            pooled_sq, pooled_count = np.zeros(q), 0
            for x in range(n):
                shadow = [m for m in others_of(t, len(values)) if bool(keep[m, x]) == member]
                for query in range(q):
                    sample = [values[m, x, query] for m in shadow]
                    mean = sum(sample) / len(sample)
                    centres[x, query] = mean if centre == "mean" else np.median(sample)
                    variances[x, query] = sum((v - mean) ** 2 for v in sample) / (len(sample) - 1)
                    pooled_sq[query] += sum((v - mean) ** 2 for v in sample)
                pooled_count += len(shadow)
            if variance == "global":
                variances = np.broadcast_to(pooled_sq / pooled_count, (n, q))
            groups[group] = (centres, variances)
        for x in range(n):
            total = 0.0
            for query in range(q):
                value = target_values[row, x, query]
                mu_in, var_in = groups["in"][0][x, query], groups["in"][1][x, query]
                mu_out, var_out = groups["out"][0][x, query], groups["out"][1][x, query]
                if kind == "online":
                    total += norm.logpdf(value, mu_in, math.sqrt(var_in)) - norm.logpdf(value, mu_out, math.sqrt(var_out))
                elif test == "one-sided":
                    total += norm.logcdf((value - mu_out) / math.sqrt(var_out))
                else:
                    total += -norm.logpdf(value, mu_out, math.sqrt(var_out))
            scores[row, x] = total / q
    return scores


@pytest.mark.parametrize("variance", ["per-example", "global"])
def test_lira_online_and_offline_with_loo_params_against_loops(variance):
    values, keep, _ = synthetic(13)
    params = shadow_params(values, keep)
    target = values[:N_TARGETS]
    global_variance = variance == "global"
    np.testing.assert_allclose(
        attacks.lira_online(target, params, global_variance),
        loop_lira(values, keep, target, TARGETS, variance=variance),
        rtol=1e-9, atol=1e-9,
    )  # fmt: skip
    for test in ("one-sided", "two-sided"):
        np.testing.assert_allclose(
            attacks.lira_offline(target, params, global_variance, test),
            loop_lira(values, keep, target, TARGETS, variance=variance, kind="offline", test=test),
            rtol=1e-9, atol=1e-9,
        )  # fmt: skip


def test_pair_out_medians_equal_nanmedian_bit_for_bit_with_ties_nans_and_uneven_groups():
    import warnings

    rng = np.random.default_rng(20)
    n_models, n, q = 11, 300, 4
    keep = rng.random((n_models, n)) < 0.5  # uneven groups: any count from 0 to 9
    keep[:, 0], keep[:, 1] = True, False  # every OUT group of example 0 and IN group of example 1 empty
    values = np.round(rng.normal(size=(n_models, n, q)) * 1e3, 0) / 7  # ties, inexact halves
    values[rng.random(values.shape) < 0.05] = np.nan  # left out of their group, as by np.nanmedian
    targets = np.arange(n_models)
    medians_in, medians_out = attacks.pair_out_medians(values, keep, targets)
    for row, t in enumerate(targets):
        others = [m for m in range(n_models) if m // 2 != t // 2]
        inside = keep[others][..., None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # empty groups
            expected_in = np.nanmedian(np.where(inside, values[others], np.nan), axis=0)
            expected_out = np.nanmedian(np.where(inside, np.nan, values[others]), axis=0)
        np.testing.assert_array_equal(medians_in[row], expected_in)
        np.testing.assert_array_equal(medians_out[row], expected_out)
    assert np.isnan(medians_out[:, 0]).all() and np.isnan(medians_in[:, 1]).all()
    # Two models, one pair: no shadows at all.
    both = attacks.pair_out_medians(values[:2], keep[:2], np.arange(2))
    assert all(np.isnan(medians).all() and medians.shape == (2, n, q) for medians in both)
