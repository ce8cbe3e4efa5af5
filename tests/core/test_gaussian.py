"""lira.core.gaussian: per-example sums and exact leave-one-out, against direct computation."""

import numpy as np
import pytest

from lira.core import gaussian, splits
from lira.core.gaussian import MIN_VARIANCE


def direct_params(phi, keep, t):
    """Moments over every model except t (an index, or a list of the models to leave out),
    computed directly with numpy, per lira.core.gaussian's contract:

    - mean: per example; NaN when the group is empty;
    - var_*_global: sum over examples and the group's models of (phi - mu(x))^2 / the group's total count;
    - var: per example, unbiased (ddof=1) when every example's group holds >= 2 values, else the
      pooled variance for all examples (a member of the target has one IN shadow fewer, so both a
      biased estimator and a per-example fallback would leak membership);
    all variances floored at MIN_VARIANCE.
    """
    others = ~np.isin(np.arange(phi.shape[0]), t)
    phi, keep = phi[others], keep[others]
    n, q = phi.shape[1:]
    result = {}
    for group, mask in (("in", keep), ("out", ~keep)):
        mean = np.full((n, q), np.nan)
        var = np.full((n, q), np.nan)
        squared = np.zeros(q)
        total = 0
        for x in range(n):
            values = phi[mask[:, x], x]  # [count, Q]
            if len(values):
                mean[x] = values.mean(axis=0)
                if len(values) >= 2:
                    var[x] = values.var(axis=0, ddof=1)
                squared += ((values - mean[x]) ** 2).sum(axis=0)
                total += len(values)
        result[f"mean_{group}"] = mean
        pooled = np.maximum(squared / total, MIN_VARIANCE)
        result[f"var_{group}"] = np.maximum(np.where(np.isnan(var).any(), pooled, var), MIN_VARIANCE)
        result[f"var_{group}_global"] = pooled
        result[f"count_{group}"] = mask.sum(axis=0)
    return result


@pytest.mark.parametrize("n_models, n_examples, n_queries", [(8, 13, 3), (16, 40, 1), (4, 9, 2)])
def test_leave_one_out_matches_direct_computation(n_models, n_examples, n_queries):
    rng = np.random.default_rng(n_models)
    keep = splits.keep_matrix(1, n_models, n_examples)
    # Per-example offsets and an IN/OUT shift, like real statistics.
    centre = rng.normal(size=(1, n_examples, n_queries)) * 3
    phi = centre + 2.0 * keep[..., None] + rng.normal(size=(n_models, n_examples, n_queries))
    fit = gaussian.fit_shadow_sums(phi, keep)
    params = gaussian.leave_one_out(fit, phi, keep)
    assert params.mean_in.shape == (n_models, n_examples, n_queries)
    assert params.var_in_global.shape == (n_models, 1, n_queries)
    for t in range(n_models):
        expected = direct_params(phi, keep, t)
        for name in ("mean_in", "mean_out", "var_in", "var_out"):
            np.testing.assert_allclose(getattr(params, name)[t], expected[name], rtol=1e-9, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(params.var_in_global[t, 0], expected["var_in_global"], rtol=1e-9)
        np.testing.assert_allclose(params.var_out_global[t, 0], expected["var_out_global"], rtol=1e-9)
        np.testing.assert_array_equal(params.count_in[t], expected["count_in"])
        np.testing.assert_array_equal(params.count_out[t], expected["count_out"])
    # Balanced design: each example is IN for N/2 models, so N/2 - 1 or N/2 remain after leaving one out.
    np.testing.assert_array_equal(params.count_in + params.count_out, n_models - 1)
    np.testing.assert_array_equal(params.count_in, n_models // 2 - keep)


def test_leave_one_out_for_a_subset_of_targets_and_without_target_axis():
    rng = np.random.default_rng(7)
    keep = splits.keep_matrix(2, 10, 15)
    phi = rng.normal(size=(10, 15, 2))
    fit = gaussian.fit_shadow_sums(phi, keep)
    everything = gaussian.leave_one_out(fit, phi, keep)
    subset = gaussian.leave_one_out(fit, phi[[3, 6]], keep[[3, 6]])
    single = gaussian.leave_one_out(fit, phi[6], keep[6])
    for name in ("mean_in", "var_in", "mean_out", "var_out", "var_in_global", "var_out_global"):
        np.testing.assert_allclose(getattr(subset, name), getattr(everything, name)[[3, 6]], rtol=1e-12)
        expected = np.squeeze(getattr(everything, name)[6])
        np.testing.assert_allclose(np.squeeze(getattr(single, name)), expected, rtol=1e-12)
    assert single.mean_in.shape == (15, 2)


def test_empty_group_gives_nan_mean_and_floored_variance():
    # Two models: leaving one out leaves exactly one model, so one group per example is empty.
    rng = np.random.default_rng(8)
    keep = splits.keep_matrix(0, 2, 6)
    phi = rng.normal(size=(2, 6, 1))
    params = gaussian.leave_one_out(gaussian.fit_shadow_sums(phi, keep), phi, keep)
    for t in range(2):
        other = 1 - t
        in_other = keep[other]
        np.testing.assert_array_equal(np.isnan(params.mean_in[t, :, 0]), ~in_other)
        np.testing.assert_array_equal(np.isnan(params.mean_out[t, :, 0]), in_other)
        np.testing.assert_allclose(params.mean_in[t, in_other, 0], phi[other, in_other, 0], rtol=1e-12)
        np.testing.assert_allclose(params.mean_out[t, ~in_other, 0], phi[other, ~in_other, 0], rtol=1e-12)
        # One value (or none) per group: the variance is the floor, never 0 or NaN.
        np.testing.assert_array_equal(params.var_in[t], MIN_VARIANCE)
        np.testing.assert_array_equal(params.var_out[t], MIN_VARIANCE)
        np.testing.assert_array_equal(params.var_in_global[t], MIN_VARIANCE)


class ExampleRangeReader:
    """Reads phi[:, a:b] only (as a stack on disk is read), counting the reads."""

    def __init__(self, phi):
        self.phi, self.shape, self.reads = phi, phi.shape, []

    def __getitem__(self, key):
        models, examples = key
        assert models == slice(None) and examples.step is None
        self.reads.append((examples.start, min(examples.stop, self.shape[1])))
        return self.phi[:, examples].copy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_sums_equal_masked_sums_over_several_reads_and_chunks(dtype, monkeypatch):
    # More examples than one read and one chunk hold, arbitrary (not paired) masks: the matrix
    # products give the sums of the straightforward masked formulas, read a range at a time.
    rng = np.random.default_rng(14)
    n_models, n, q = 37, 3000, 5
    keep = rng.random((n_models, n)) < 0.4
    phi = (rng.normal(size=(1, n, q)) * 3 + rng.normal(size=(n_models, n, q))).astype(dtype)
    monkeypatch.setattr(gaussian, "READ_VALUES", n_models * q * 700)  # 700 examples per read
    reader = ExampleRangeReader(phi)
    fit = gaussian.fit_shadow_sums(reader, keep)
    assert reader.reads == [(0, 700), (700, 1400), (1400, 2100), (2100, 2800), (2800, 3000)]
    assert 700 > gaussian.FIT_CHUNK_VALUES // (n_models * q)  # several chunks per read
    centred = phi.astype(np.float64) - phi[0].astype(np.float64)
    inside = keep[..., None]
    expected = {
        "sum_in": np.where(inside, centred, 0).sum(axis=0),
        "sum_out": np.where(inside, 0, centred).sum(axis=0),
        "sumsq_in": np.where(inside, centred**2, 0).sum(axis=0),
        "sumsq_out": np.where(inside, 0, centred**2).sum(axis=0),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(fit, name), value, rtol=1e-12, atol=1e-11, err_msg=name)
        assert getattr(fit, name).flags.c_contiguous
    np.testing.assert_array_equal(fit.count_in, keep.sum(axis=0))
    np.testing.assert_array_equal(fit.count_out, n_models - keep.sum(axis=0))
    np.testing.assert_array_equal(fit.shift, phi[0].astype(np.float64))
    assert fit.shift.dtype == np.float64 and fit.sum_in.dtype == np.float64
    # The same fit from the array in memory (one read), and from lists with 0/1 masks.
    whole = gaussian.fit_shadow_sums(phi, keep)
    listed = gaussian.fit_shadow_sums(phi.tolist(), keep.astype(int))
    for name, value in fit.to_arrays().items():
        np.testing.assert_array_equal(getattr(whole, name), value, err_msg=name)
        np.testing.assert_array_equal(getattr(listed, name), value, err_msg=name)


def test_leave_one_out_over_several_chunks_matches_direct_computation():
    rng = np.random.default_rng(15)
    n_models, n, q = 8, 2000, 18  # rows of two chunks
    keep = splits.keep_matrix(6, n_models, n)
    phi = rng.normal(size=(1, n, q)) * 3 + 2.0 * keep[..., None] + rng.normal(size=(n_models, n, q))
    assert len(gaussian.row_chunks(n, q)) > 1
    params = gaussian.leave_one_out(gaussian.fit_shadow_sums(phi, keep), phi[[2, 5]], keep[[2, 5]])
    for row, t in enumerate((2, 5)):
        expected = direct_params(phi, keep, t)
        for name in ("mean_in", "mean_out", "var_in", "var_out"):
            np.testing.assert_allclose(getattr(params, name)[row], expected[name], rtol=1e-9, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(params.var_in_global[row, 0], expected["var_in_global"], rtol=1e-9)
        np.testing.assert_allclose(params.var_out_global[row, 0], expected["var_out_global"], rtol=1e-9)


def test_row_chunks_cover_the_rows_once():
    for n, q in ((0, 3), (1, 1), (40000, 3), (1820, 18), (1821, 18), (7, 40000)):
        chunks = gaussian.row_chunks(n, q)
        assert [i for part in chunks for i in range(part.start, part.stop)] == list(range(n))
        assert all(part.stop > part.start for part in chunks)


def test_large_offset_keeps_variances_accurate():
    rng = np.random.default_rng(10)
    n_models, n, q = 16, 30, 2
    keep = splits.keep_matrix(5, n_models, n)
    noise = rng.normal(scale=1e-3, size=(n_models, n, q)) + 1e-3 * keep[..., None]
    phi = 1e6 + noise
    params = gaussian.leave_one_out(gaussian.fit_shadow_sums(phi, keep), phi, keep)
    for t in (0, 5, 15):
        # The reference computed on the noise alone (exactly representable offset removed).
        expected = direct_params(noise, keep, t)
        np.testing.assert_allclose(params.var_in[t], expected["var_in"], rtol=1e-5)
        np.testing.assert_allclose(params.var_out[t], expected["var_out"], rtol=1e-5)
        np.testing.assert_allclose(params.var_in_global[t, 0], expected["var_in_global"], rtol=1e-5)
        np.testing.assert_allclose(params.var_out_global[t, 0], expected["var_out_global"], rtol=1e-5)
        np.testing.assert_allclose(params.mean_in[t] - 1e6, expected["mean_in"], atol=1e-9)
        assert np.all(params.var_in[t] > 1e-8)  # not lost to cancellation


def test_to_arrays_from_arrays_round_trip_with_prefix(tmp_path):
    from lira.workflow import files

    rng = np.random.default_rng(11)
    keep = splits.keep_matrix(0, 4, 5)
    fit = gaussian.fit_shadow_sums(rng.normal(size=(4, 5, 2)), keep)
    arrays = fit.to_arrays(prefix="phi/")
    assert set(arrays) == {
        "phi/shift", "phi/count_in", "phi/sum_in", "phi/sumsq_in", "phi/count_out", "phi/sum_out", "phi/sumsq_out"
    }
    files.save_arrays(tmp_path / "fit.npz", **arrays, **fit.to_arrays(prefix="loss/"))
    loaded = gaussian.ShadowFit.from_arrays(files.load_arrays(tmp_path / "fit.npz"), prefix="phi/")
    for name, value in fit.to_arrays().items():
        np.testing.assert_array_equal(getattr(loaded, name), value)
        assert getattr(loaded, name).dtype == value.dtype
    with pytest.raises(KeyError):
        gaussian.ShadowFit.from_arrays(arrays, prefix="other/")


def test_shape_mismatch_errors():
    with pytest.raises(ValueError, match="no shadow models"):
        gaussian.fit_shadow_sums(np.zeros((0, 5, 2)), np.zeros((0, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"phi \[N, n, Q\]"):
        gaussian.fit_shadow_sums(np.zeros((3, 5)), np.zeros((3, 5), dtype=bool))  # no query axis
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        gaussian.fit_shadow_sums(np.zeros((3, 5, 2)), np.zeros((2, 5), dtype=bool))  # N differs
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        gaussian.fit_shadow_sums(np.zeros((3, 5, 2)), np.zeros((3, 4), dtype=bool))  # n differs


def test_groups_with_one_value_take_the_pooled_variance():
    # Four models: after leaving target t out, an example that t trained on has one IN shadow, so
    # every example takes the pooled variance (else membership would choose the estimator).
    rng = np.random.default_rng(12)
    keep = splits.keep_matrix(3, 4, 10)
    phi = rng.normal(size=(4, 10, 2))
    params = gaussian.leave_one_out(gaussian.fit_shadow_sums(phi, keep), phi, keep)
    for t in range(4):
        members = keep[t]
        np.testing.assert_array_equal(params.count_in[t], np.where(members, 1, 2))
        np.testing.assert_array_equal(params.count_out[t], np.where(members, 2, 1))
        np.testing.assert_allclose(params.var_in[t], np.broadcast_to(params.var_in_global[t], (10, 2)))
        np.testing.assert_allclose(params.var_out[t], np.broadcast_to(params.var_out_global[t], (10, 2)))
        assert np.all(params.var_in_global[t] > 1e-3)  # a real spread, not the floor


def test_per_example_variance_is_unbiased_when_every_group_has_two_values():
    rng = np.random.default_rng(13)
    keep = splits.keep_matrix(3, 6, 10)
    phi = rng.normal(size=(6, 10, 2))
    params = gaussian.leave_one_out(gaussian.fit_shadow_sums(phi, keep), phi, keep)
    others = [m for m in range(6) if m != 0]
    for x in np.flatnonzero(~keep[0]):  # a non-member of target 0 has 3 IN shadows
        values = np.array([phi[m, x] for m in others if keep[m, x]])
        np.testing.assert_allclose(params.var_in[0, x], values.var(axis=0, ddof=1), rtol=1e-10)


# --- each target's pair left out: the workflow's protocol ----------------------------------------


def pair_of(t, n_models):
    """Target t and its complementary partner (2j <-> 2j + 1), written out here independently of
    lira.core.splits; with N odd the last model has none."""
    return [m for m in range(n_models) if m // 2 == t // 2]


def assert_params_match(params, row, expected, rtol=1e-9):
    for name in ("mean_in", "mean_out", "var_in", "var_out"):
        np.testing.assert_allclose(getattr(params, name)[row], expected[name], rtol=rtol, atol=rtol, err_msg=name)
    np.testing.assert_allclose(params.var_in_global[row, 0], expected["var_in_global"], rtol=rtol)
    np.testing.assert_allclose(params.var_out_global[row, 0], expected["var_out_global"], rtol=rtol)
    np.testing.assert_array_equal(params.count_in[row], expected["count_in"])
    np.testing.assert_array_equal(params.count_out[row], expected["count_out"])


@pytest.mark.parametrize("n_models, n_examples, n_queries", [(8, 13, 3), (16, 40, 1), (6, 9, 2), (7, 11, 2), (4, 9, 2)])
def test_leave_pair_out_matches_direct_computation(n_models, n_examples, n_queries):
    rng = np.random.default_rng(n_models + 100)
    keep = splits.keep_matrix(3, n_models, n_examples)
    centre = rng.normal(size=(1, n_examples, n_queries)) * 3
    phi = centre + 2.0 * keep[..., None] + rng.normal(size=(n_models, n_examples, n_queries))
    fit = gaussian.fit_shadow_sums(phi, keep)
    params = gaussian.leave_pair_out(fit, phi, keep, np.arange(n_models))
    assert params.mean_in.shape == (n_models, n_examples, n_queries)
    assert params.var_in_global.shape == (n_models, 1, n_queries)
    for t in range(n_models):
        assert_params_match(params, t, direct_params(phi, keep, pair_of(t, n_models)))
    if n_models % 2 == 0:
        # Every example keeps N/2 - 1 IN and N/2 - 1 OUT shadows, member of the target or not.
        np.testing.assert_array_equal(params.count_in, n_models // 2 - 1)
        np.testing.assert_array_equal(params.count_out, n_models // 2 - 1)
    if n_models == 4:
        # One IN and one OUT shadow: no spread to estimate, every variance is the floor.
        np.testing.assert_array_equal(params.var_in, MIN_VARIANCE)
        np.testing.assert_array_equal(params.var_out_global, MIN_VARIANCE)


def test_leave_pair_out_over_several_chunks_from_a_float32_memory_map(tmp_path):
    # As the attack jobs read it: the stack is float32 on disk, the fit of those very values, the
    # pair's values read a chunk of examples at a time.
    rng = np.random.default_rng(16)
    n_models, n, q = 8, 2000, 18
    keep = splits.keep_matrix(6, n_models, n)
    phi = rng.normal(size=(1, n, q)) * 3 + 2.0 * keep[..., None] + rng.normal(size=(n_models, n, q))
    phi = phi.astype(np.float32)
    np.save(tmp_path / "phi.npy", phi)
    stack = np.load(tmp_path / "phi.npy", mmap_mode="r")
    assert len(gaussian.row_chunks(n, q)) > 1
    fit = gaussian.fit_shadow_sums(stack, keep)
    params = gaussian.leave_pair_out(fit, stack, keep, [2, 5, 0])
    for row, t in enumerate((2, 5, 0)):
        assert_params_match(params, row, direct_params(phi.astype(np.float64), keep, pair_of(t, n_models)))
    single = gaussian.leave_pair_out(fit, stack, keep, 5)  # one index: no target axis
    assert single.mean_in.shape == (n, q) and single.count_in.shape == (n,) and single.var_in_global.shape == (1, q)
    for name in ("mean_in", "var_in", "mean_out", "var_out", "var_in_global", "var_out_global", "count_in"):
        np.testing.assert_array_equal(getattr(single, name), getattr(params, name)[1], err_msg=name)


def test_partners_share_their_shadows_and_neither_ones_values_matter():
    rng = np.random.default_rng(17)
    keep = splits.keep_matrix(2, 10, 25)
    phi = rng.normal(size=(10, 25, 3)) + keep[..., None]
    fit = gaussian.fit_shadow_sums(phi, keep)
    params = gaussian.leave_pair_out(fit, phi, keep, np.arange(10))
    for name in ("mean_in", "var_in", "mean_out", "var_out", "var_in_global", "var_out_global"):
        value = getattr(params, name)
        np.testing.assert_array_equal(value[0::2], value[1::2], err_msg=name)  # bit for bit
    # Wild values of pair (4, 5) move neither target 4's nor target 5's Gaussians (beyond rounding).
    wild = phi.copy()
    wild[4:6] += 1e3 * rng.normal(size=(2, 25, 3))
    moved = gaussian.leave_pair_out(gaussian.fit_shadow_sums(wild, keep), wild, keep, [4, 5])
    for name in ("mean_in", "var_in", "mean_out", "var_out", "var_in_global", "var_out_global"):
        np.testing.assert_allclose(getattr(moved, name), getattr(params, name)[4:6], rtol=1e-8, atol=1e-8, err_msg=name)


def test_leave_out_any_set_of_models():
    rng = np.random.default_rng(18)
    keep = rng.random((9, 14)) < 0.5  # not paired
    phi = rng.normal(size=(9, 14, 2)) * 2 + keep[..., None]
    fit = gaussian.fit_shadow_sums(phi, keep)
    sets = [[3], [0, 7, 8], [], [8, 1]]
    params = gaussian.leave_out(fit, phi, keep, sets)
    for row, left in enumerate(sets):
        assert_params_match(params, row, direct_params(phi, keep, left))
    # Nothing left out: gaussian_params of the whole fit; the target alone: leave_one_out.
    whole = gaussian.gaussian_params(fit)
    for name in ("mean_in", "var_in", "mean_out", "var_out", "var_in_global", "var_out_global"):
        np.testing.assert_allclose(getattr(params, name)[2], getattr(whole, name), rtol=1e-12, err_msg=name)
        alone = getattr(gaussian.leave_one_out(fit, phi[3], keep[3]), name)
        np.testing.assert_allclose(getattr(params, name)[0], alone, rtol=1e-12, err_msg=name)
    for bad in ([[9]], [[2, 2]], [[-1]]):
        with pytest.raises(ValueError, match="left_out"):
            gaussian.leave_out(fit, phi, keep, bad)
    with pytest.raises(ValueError, match="do not match"):
        gaussian.leave_out(fit, phi[:, :10], keep[:, :10], [[0]])


def test_leave_pair_out_with_no_shadows_left():
    # Two models, one pair: nothing is left, every mean is NaN and every variance the floor.
    rng = np.random.default_rng(19)
    keep = splits.keep_matrix(0, 2, 6)
    phi = rng.normal(size=(2, 6, 1))
    params = gaussian.leave_pair_out(gaussian.fit_shadow_sums(phi, keep), phi, keep, [0, 1])
    assert np.all(np.isnan(params.mean_in)) and np.all(np.isnan(params.mean_out))
    np.testing.assert_array_equal(params.var_in, MIN_VARIANCE)
    np.testing.assert_array_equal(params.count_in + params.count_out, 0)
