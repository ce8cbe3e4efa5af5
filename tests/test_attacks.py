"""lira.attacks on synthetic Gaussian statistics with a known answer."""

import numpy as np
import pytest
from scipy.stats import norm

from lira import attacks, gaussian, metrics, splits
from lira.gaussian import GaussianParams


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
    params = gaussian.leave_one_out(gaussian.fit_shadow_statistics(phi, keep), phi[:4], keep[:4])
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
    # also without a target axis (as lira.analysis calls them).
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
