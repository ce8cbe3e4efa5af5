"""lira.core.metrics: ROC with ties, TPR at low FPR, AUC and balanced accuracy against brute force,
and per-example vulnerability against a loop."""

import math

import numpy as np
import pytest

from lira.core import metrics


def brute_force_auc(scores, labels):
    positive, negative = scores[labels], scores[~labels]
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return (greater + 0.5 * ties) / (positive.size * negative.size)


def brute_force_rates(scores, labels):
    """(fpr, tpr) of every threshold 'score >= t', including 'nothing is a member'."""
    thresholds = np.r_[np.inf, np.unique(scores)[::-1]]  # descending, like the ROC
    tpr = np.array([(scores[labels] >= t).mean() for t in thresholds])
    fpr = np.array([(scores[~labels] >= t).mean() for t in thresholds])
    return fpr, tpr


def brute_force_tpr_at(scores, labels, alpha):
    fpr, tpr = brute_force_rates(scores, labels)
    allowed = fpr <= alpha
    return tpr[allowed].max()


def test_hand_computed_small_example():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    labels = np.array([1, 0, 1, 0, 0], dtype=bool)
    roc = metrics.roc_curve(scores, labels)
    np.testing.assert_allclose(roc.fpr, [0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(roc.tpr, [0, 0.5, 0.5, 1, 1, 1])
    np.testing.assert_array_equal(roc.thresholds, [np.inf, 5, 4, 3, 2, 1])
    assert (roc.n_positive, roc.n_negative) == (2, 3)
    # Below one negative (1/3): not measurable.
    assert all(math.isnan(v) for v in metrics.tpr_at_fpr(roc, 0.3))
    assert metrics.tpr_at_fpr(roc, 0.34) == pytest.approx((1.0, 1 / 3))
    assert metrics.tpr_at_fpr(roc, 0.5) == pytest.approx((1.0, 1 / 3))
    assert metrics.tpr_at_fpr(roc, 0.99) == pytest.approx((1.0, 1 / 3))  # the first point reaching TPR 1
    assert metrics.auc(roc) == pytest.approx(5 / 6)  # 5 of 6 (member, non-member) pairs ordered right
    assert metrics.balanced_accuracy(roc) == pytest.approx(1 - (1 / 3) / 2)


def test_tpr_at_exactly_one_negative():
    scores = np.array([9.0, 8.0, 7.0, 1.0, 0.5, 0.4])
    labels = np.array([1, 0, 1, 0, 1, 0], dtype=bool)
    roc = metrics.roc_curve(scores, labels)
    assert metrics.tpr_at_fpr(roc, 1 / 3) == pytest.approx((2 / 3, 1 / 3))
    tpr, fpr = metrics.tpr_at_fpr(roc, 0.3333)  # just below one negative
    assert math.isnan(tpr) and math.isnan(fpr)


def test_tie_group_straddling_the_limit_is_not_split():
    # Four negatives. The tie group at 5.0 holds a member (listed first) and two non-members.
    scores = np.array([10.0, 5.0, 5.0, 5.0, 1.0, 0.0])
    labels = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    roc = metrics.roc_curve(scores, labels)
    np.testing.assert_allclose(roc.fpr, [0, 0, 0.5, 0.75, 1])
    np.testing.assert_allclose(roc.tpr, [0, 0.5, 1, 1, 1])
    # FPR <= 25 %: taking "5.0" as member costs 50 % FPR, so only the threshold 10 qualifies,
    # although the member in the tie comes first in input order.
    assert metrics.tpr_at_fpr(roc, 0.25) == pytest.approx((0.5, 0.0))
    assert metrics.tpr_at_fpr(roc, 0.5) == pytest.approx((1.0, 0.5))
    # Reversing the input order changes nothing.
    reversed_roc = metrics.roc_curve(scores[::-1], labels[::-1])
    np.testing.assert_array_equal(reversed_roc.fpr, roc.fpr)
    np.testing.assert_array_equal(reversed_roc.tpr, roc.tpr)


def test_all_equal_scores_give_two_points():
    roc = metrics.roc_curve(np.full(10, 0.3), np.arange(10) < 4)
    np.testing.assert_array_equal(roc.fpr, [0.0, 1.0])
    np.testing.assert_array_equal(roc.tpr, [0.0, 1.0])
    assert metrics.auc(roc) == pytest.approx(0.5)
    assert metrics.balanced_accuracy(roc) == pytest.approx(0.5)
    assert metrics.tpr_at_fpr(roc, 0.5) == (0.0, 0.0)


def test_tied_scores_make_one_roc_point_each():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=200).astype(float)
    labels = rng.random(200) < 0.4
    roc = metrics.roc_curve(scores, labels)
    assert len(roc.fpr) == len(np.unique(scores)) + 1
    fpr, tpr = brute_force_rates(scores, labels)
    np.testing.assert_allclose(roc.fpr, fpr)
    np.testing.assert_allclose(roc.tpr, tpr)
    assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)


@pytest.mark.parametrize("seed", range(5))
def test_auc_balanced_accuracy_and_tpr_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 300
    labels = rng.random(n) < 0.5
    # Rounded scores: many ties across the two classes.
    scores = np.round(rng.normal(size=n) + 0.8 * labels, 1)
    roc = metrics.roc_curve(scores, labels)
    assert metrics.auc(roc) == pytest.approx(brute_force_auc(scores, labels), abs=1e-12)
    fpr, tpr = brute_force_rates(scores, labels)
    assert metrics.balanced_accuracy(roc) == pytest.approx(np.max(1 - (fpr + 1 - tpr) / 2), abs=1e-12)
    n_negative = (~labels).sum()
    for alpha in (0.01, 0.05, 0.1, 0.3):
        tpr_alpha, fpr_alpha = metrics.tpr_at_fpr(roc, alpha)
        if alpha * n_negative < 1:
            assert math.isnan(tpr_alpha)
            continue
        assert tpr_alpha == pytest.approx(brute_force_tpr_at(scores, labels, alpha))
        assert fpr_alpha <= alpha
        # The achieved FPR is that of a real threshold with that TPR.
        assert any(np.isclose(f, fpr_alpha) and np.isclose(t, tpr_alpha) for f, t in zip(fpr, tpr))


def test_perfect_and_inverted_scores():
    labels = np.array([1, 1, 0, 0, 0], dtype=bool)
    roc = metrics.roc_curve(np.array([5.0, 4, 3, 2, 1]), labels)
    assert metrics.auc(roc) == 1.0 and metrics.balanced_accuracy(roc) == 1.0
    roc = metrics.roc_curve(np.array([1.0, 2, 3, 4, 5]), labels)
    assert metrics.auc(roc) == 0.0
    assert metrics.balanced_accuracy(roc) == 0.5  # the trivial thresholds
    assert metrics.tpr_at_fpr(roc, 0.5) == (0.0, 0.0)


def test_scores_of_any_shape_are_flattened():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(3, 40))
    labels = rng.random((3, 40)) < 0.5
    a = metrics.roc_curve(scores, labels)
    b = metrics.roc_curve(scores.ravel(), labels.ravel())
    np.testing.assert_array_equal(a.fpr, b.fpr)
    np.testing.assert_array_equal(a.tpr, b.tpr)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_raise(bad):
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.roc_curve(np.array([1.0, bad, 0.0]), np.array([1, 0, 0], dtype=bool))


def test_missing_class_raises():
    with pytest.raises(ValueError, match="members and non-members"):
        metrics.roc_curve(np.array([1.0, 2.0]), np.array([True, True]))
    with pytest.raises(ValueError, match="members and non-members"):
        metrics.roc_curve(np.array([1.0, 2.0]), np.array([False, False]))


def test_size_mismatch_raises():
    with pytest.raises(ValueError, match="differ in size"):
        metrics.roc_curve(np.zeros(3), np.array([True, False]))


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5])
def test_tpr_at_fpr_bad_alpha_raises(alpha):
    roc = metrics.roc_curve(np.array([1.0, 0.0]), np.array([True, False]))
    with pytest.raises(ValueError):
        metrics.tpr_at_fpr(roc, alpha)


def test_fpr_label():
    assert metrics.fpr_label(0.001) == "0.1%"
    assert metrics.fpr_label(1e-5) == "0.001%"
    assert metrics.fpr_label(0.01) == "1%"
    assert metrics.fpr_label(0.1) == "10%"
    assert metrics.fpr_label(0.0001) == "0.01%"


def test_summarise_row():
    rng = np.random.default_rng(2)
    labels = np.arange(2000) < 1000  # 1000 non-members
    scores = rng.normal(size=2000) + 1.0 * labels
    row = metrics.summarise(scores, labels, [1e-5, 1e-3, 1e-2])
    assert set(row) == {
        "auc", "balanced_accuracy", "members", "non_members",
        "tpr@0.001%", "fpr_achieved@0.001%", "tpr@0.1%", "fpr_achieved@0.1%", "tpr@1%", "fpr_achieved@1%",
    }
    assert (row["members"], row["non_members"]) == (1000, 1000)
    assert math.isnan(row["tpr@0.001%"]) and math.isnan(row["fpr_achieved@0.001%"])  # < 1 negative
    roc = metrics.roc_curve(scores, labels)
    assert row["tpr@0.1%"] == pytest.approx(brute_force_tpr_at(scores, labels, 1e-3))
    assert row["fpr_achieved@0.1%"] <= 1e-3
    assert row["tpr@1%"] == pytest.approx(brute_force_tpr_at(scores, labels, 1e-2))
    assert row["auc"] == pytest.approx(brute_force_auc(scores, labels))
    assert row["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy(roc))
    assert 0.7 < row["auc"] < 0.8  # Phi(1 / sqrt 2) = 0.76


# --- ROC bands, bootstrap, per target ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_tpr_on_grid_equals_tpr_at_fpr(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(400) < 0.5
    scores = np.round(rng.normal(size=400) + labels, 1)  # ties
    roc = metrics.roc_curve(scores, labels)
    n_negative = roc.n_negative
    # Every measurable FPR: one negative upwards, including the curve's own FPRs.
    logarithmic = np.logspace(np.log10(1.0001 / n_negative), 0, 50)[:-1]
    grid = np.unique(np.r_[logarithmic, roc.fpr[(roc.fpr >= 1 / n_negative) & (roc.fpr < 1)]])
    on_grid = metrics.tpr_at_fprs_on_grid(roc, grid)
    assert on_grid.shape == grid.shape
    expected = [metrics.tpr_at_fpr(roc, fpr)[0] for fpr in grid]
    np.testing.assert_array_equal(on_grid, expected)
    expected_brute = [brute_force_tpr_at(scores, labels, fpr) for fpr in grid]
    np.testing.assert_allclose(on_grid, expected_brute)
    assert np.all(np.diff(on_grid) >= 0)
    # At FPR 1 every example is a member.
    assert metrics.tpr_at_fprs_on_grid(roc, np.array([1.0]))[0] == 1.0


def test_tpr_on_grid_below_one_negative_is_the_zero_fpr_tpr():
    # tpr_at_fpr says "not measurable" there; the band reads the curve at FPR 0 instead.
    scores = np.array([9.0, 8.0, 7.0, 1.0])
    labels = np.array([True, True, False, False])
    roc = metrics.roc_curve(scores, labels)
    np.testing.assert_array_equal(metrics.tpr_at_fprs_on_grid(roc, np.array([0.0, 0.1, 0.49, 0.5, 1.0])), [1, 1, 1, 1, 1])
    roc = metrics.roc_curve(np.array([9.0, 8.0, 7.0, 1.0]), np.array([False, True, True, False]))
    np.testing.assert_array_equal(metrics.tpr_at_fprs_on_grid(roc, np.array([0.1, 0.5, 1.0])), [0.0, 1.0, 1.0])


def easy_sample(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2 == 0
    return rng.normal(size=n) + 2.0 * labels, labels


def test_bootstrap_is_deterministic_for_a_seed():
    scores, labels = easy_sample(600)
    grid = np.logspace(-2, 0, 20)
    fprs = [0.01, 0.1]
    first = metrics.bootstrap(scores, labels, fprs, resamples=30, seed=1, grid=grid)
    again = metrics.bootstrap(scores, labels, fprs, resamples=30, seed=1, grid=grid)
    other = metrics.bootstrap(scores, labels, fprs, resamples=30, seed=2, grid=grid)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0] != other[0]
    assert set(first[0]) == {"auc", "tpr@1%", "tpr@10%"}


def test_bootstrap_intervals_contain_the_point_estimate():
    scores, labels = easy_sample()
    fprs = [1e-5, 0.01, 0.1]
    grid = np.logspace(np.log10(1 / 2000), 0, 40)
    intervals, band = metrics.bootstrap(scores, labels, fprs, resamples=100, seed=0, grid=grid)
    row = metrics.summarise(scores, labels, fprs)
    for key in ("auc", "tpr@1%", "tpr@10%"):
        low, high = intervals[key]
        assert low <= row[key] <= high, key
        assert 0 < high - low < 0.2, key  # a real, bounded interval on 4000 points
    # 2000 non-members: 0.001 % is never measurable, in any resample.
    assert all(math.isnan(v) for v in intervals["tpr@0.001%"])
    assert band.shape == (2, len(grid))
    assert np.all(band[0] <= band[1])
    assert np.all(np.diff(band[0]) >= 0) and np.all(np.diff(band[1]) >= 0)
    roc = metrics.roc_curve(scores, labels)
    point = metrics.tpr_at_fprs_on_grid(roc, grid)
    inside = (band[0] <= point) & (point <= band[1])
    assert inside.mean() > 0.9
    assert intervals["auc"][0] > 0.9


def test_per_target_lists():
    rng = np.random.default_rng(3)
    labels = rng.random((4, 300)) < 0.5
    scores = rng.normal(size=(4, 300)) + labels * np.arange(4)[:, None]  # target t: separation t
    fprs = [1e-5, 0.1]
    spread = metrics.per_target(scores, labels, fprs)
    assert set(spread) == {"auc", "tpr@0.001%", "tpr@10%"}
    assert all(len(values) == 4 for values in spread.values())
    for t in range(4):
        assert spread["auc"][t] == pytest.approx(brute_force_auc(scores[t], labels[t]))
        assert spread["tpr@10%"][t] == pytest.approx(brute_force_tpr_at(scores[t], labels[t], 0.1))
        assert math.isnan(spread["tpr@0.001%"][t])
    assert spread["auc"] == sorted(spread["auc"])  # more separation, higher AUC


def naive_bootstrap(scores, labels, fprs, resamples, seed, grid):
    """The percentile bootstrap the straightforward way: draw each resample's points, compute its
    ROC from scratch with roc_curve, read off its values, and take percentiles of the measurable
    ones."""
    draws = np.random.default_rng([seed, 0xB007])
    values = {"auc": []} | {f"tpr@{metrics.fpr_label(f)}": [] for f in fprs}
    curves = []
    for _ in range(resamples):
        sample = draws.integers(0, scores.size, scores.size)
        roc = metrics.roc_curve(scores[sample], labels[sample])
        values["auc"].append(metrics.auc(roc))
        for fpr in fprs:
            values[f"tpr@{metrics.fpr_label(fpr)}"].append(metrics.tpr_at_fpr(roc, fpr)[0])
        curves.append(metrics.tpr_at_fprs_on_grid(roc, grid))
    intervals = {}
    for key, samples in values.items():
        samples = np.asarray(samples)
        samples = samples[~np.isnan(samples)]
        intervals[key] = tuple(np.percentile(samples, [2.5, 97.5])) if samples.size else (np.nan, np.nan)
    return intervals, np.percentile(np.stack(curves), [2.5, 97.5], axis=0)


@pytest.mark.parametrize(
    "n, ties, fprs",
    [
        (3000, False, [0.001, 0.01, 0.1]),
        (3000, True, [0.001, 0.01, 0.1]),
        # 112 non-members: 0.9 % is measurable only in resamples drawing at least 112 of them.
        (200, False, [0.009, 0.1]),
        (200, True, [0.009, 0.1]),
    ],
)
def test_bootstrap_equals_sorting_every_resample(n, ties, fprs):
    """The count-based bootstrap gives the intervals and band of drawing each resample and
    computing its ROC from scratch (ties included), to rounding of the AUC."""
    rng = np.random.default_rng(4)
    labels = rng.random(n) < 0.5
    scores = rng.normal(size=n) + labels
    if ties:
        scores = np.round(scores, 1)  # many tied scores across members and non-members
    n_negative = int((~labels).sum())
    # Grid points exactly at k false positives of the full data, and 0 and 1: FPR comparisons
    # at equality must go the same way.
    grid = np.unique(np.r_[0.0, np.arange(1, 20) / n_negative, np.logspace(-3, 0, 25)])
    intervals, band = metrics.bootstrap(scores, labels, fprs, resamples=40, seed=9, grid=grid)
    expected, expected_band = naive_bootstrap(scores, labels, fprs, 40, 9, grid)
    assert intervals.keys() == expected.keys()
    for key, interval in expected.items():
        np.testing.assert_allclose(intervals[key], interval, rtol=0, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(band, expected_band, rtol=0, atol=1e-12)
    if n == 200:  # some resamples could not measure 0.9 %, some could
        assert not any(math.isnan(v) for v in intervals["tpr@0.9%"])


def test_bootstrap_batches_do_not_change_the_result(monkeypatch):
    scores, labels = easy_sample(500)
    fprs, grid = [0.01, 0.1], np.logspace(-2, 0, 30)
    whole = metrics.bootstrap(scores, labels, fprs, resamples=40, seed=3, grid=grid)
    assert metrics.BOOTSTRAP_BATCH_DRAWS >= 40 * 500  # one batch
    monkeypatch.setattr(metrics, "BOOTSTRAP_BATCH_DRAWS", 3 * 500)  # 13 batches of 3 and one of 1
    batched = metrics.bootstrap(scores, labels, fprs, resamples=40, seed=3, grid=grid)
    assert batched[0] == whole[0]
    np.testing.assert_array_equal(batched[1], whole[1])


def test_bootstrap_raises_when_a_resample_lacks_a_class():
    with pytest.raises(ValueError, match="a resample drew"):
        metrics.bootstrap(np.array([1.0, 0.0]), np.array([True, False]), [0.1], 50, 0, np.array([0.5]))


@pytest.mark.parametrize("fprs, grid", [([0.0], [0.5]), ([1.0], [0.5]), ([0.1], [-0.1, 0.5]), ([0.1], [0.5, 1.5])])
def test_bootstrap_rejects_fprs_outside_the_unit_interval(fprs, grid):
    scores, labels = easy_sample(100)
    with pytest.raises(ValueError):
        metrics.bootstrap(scores, labels, fprs, 5, 0, np.array(grid))


def test_largest_count_against_brute_force():
    rng = np.random.default_rng(5)
    n_negative = np.array([1, 3, 7, 10, 99, 1000, 39999, 40000, 40001])
    # Exact multiples k / N of every N (where the rounding of k / N decides), their neighbours,
    # and random FPRs.
    exact = np.array([k / m for m in n_negative for k in (1, 2, m // 3, m - 1, m) if k > 0])
    max_fprs = np.r_[0.0, 1.0, exact, np.nextafter(exact, 0), np.nextafter(exact, 1), rng.random(50)]
    counts = metrics._largest_count(max_fprs, n_negative)
    for row, m in enumerate(n_negative):
        fpr = np.arange(-1, 2 * m + 2) / m  # FPRs as roc_curve computes them
        for column, limit in enumerate(max_fprs):
            assert counts[row, column] == np.flatnonzero(fpr <= limit)[-1] - 1, (m, limit)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_vulnerability_against_loop():
    rng = np.random.default_rng(6)
    is_member = rng.random((5, 9)) < 0.5
    is_member[:, 0] = True  # example 0 is never a non-member: its non-member mean is NaN
    scores = rng.normal(size=(5, 9)) + 2 * is_member
    result = metrics.vulnerability(scores, is_member)
    assert set(result) == {"mean_score_member", "mean_score_non_member", "exposure"}
    for x in range(9):
        member = [scores[t, x] for t in range(5) if is_member[t, x]]
        non_member = [scores[t, x] for t in range(5) if not is_member[t, x]]
        member_mean = sum(member) / len(member) if member else math.nan
        non_member_mean = sum(non_member) / len(non_member) if non_member else math.nan
        np.testing.assert_allclose(result["mean_score_member"][x], member_mean, rtol=1e-12)
        np.testing.assert_allclose(result["mean_score_non_member"][x], non_member_mean, rtol=1e-12)
        np.testing.assert_allclose(result["exposure"][x], member_mean - non_member_mean, rtol=1e-12)
    assert math.isnan(result["exposure"][0])
    assert np.nanmean(result["exposure"]) > 1


def test_calibrated_threshold_lets_at_most_the_fpr_of_negatives_above_it():
    negatives = np.arange(1000, dtype=float)  # 0..999
    threshold, achieved = metrics.calibrated_threshold(negatives, 0.01)
    assert threshold == 989.0 and achieved == 0.01  # 990..999 lie above: 10 of 1000
    threshold, achieved = metrics.calibrated_threshold(np.r_[negatives, [998.0] * 5], 0.01)
    assert achieved <= 0.01 and np.mean(np.r_[negatives, [998.0] * 5] > threshold) == achieved  # ties count as below
    assert metrics.calibrated_threshold(negatives, 0.0005) == (None, 0.0)  # fewer than 1 / FPR negatives
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, 5000))
    for fpr in (0.001, 0.01, 0.1):
        threshold, achieved = metrics.calibrated_threshold(scores, fpr)
        assert achieved == pytest.approx(fpr, abs=1 / scores.size) and achieved <= fpr
