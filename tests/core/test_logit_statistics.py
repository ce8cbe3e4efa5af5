"""lira.core.logit_statistics: logit-scaled confidence, hinge and loss, computed from logits."""

import numpy as np
import pytest
from scipy.special import logsumexp

from lira.core import logit_statistics


def naive_phi(logits, labels):
    """log(p_y / (1 - p_y)) with p = softmax(z), in float64, the textbook way."""
    z = np.asarray(logits, dtype=np.float64)
    labels = np.broadcast_to(labels, z.shape[:-1])
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        p_y = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
        return np.log(p_y / (1 - p_y))


@pytest.mark.parametrize(
    "logit_shape, label_shape",
    [((50, 10), (50,)), ((20, 7, 10), (20, 1)), ((20, 7, 10), (20, 7)), ((4, 3, 5, 2), (4, 3, 5))],
)
def test_logit_scaled_confidence_matches_naive_formula(logit_shape, label_shape):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=logit_shape).astype(np.float32)
    labels = rng.integers(0, logit_shape[-1], size=label_shape)
    phi = logit_statistics.logit_scaled_confidence(logits, labels)
    expected = naive_phi(logits, labels)
    assert phi.shape == logit_shape[:-1]
    assert phi.dtype == np.float64
    assert np.all(np.isfinite(expected))
    np.testing.assert_allclose(phi, expected, rtol=1e-9, atol=1e-9)


def test_labels_broadcast_over_queries():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 4, 5))
    labels = rng.integers(0, 5, size=(6, 1))
    phi = logit_statistics.logit_scaled_confidence(logits, labels)
    for q in range(4):
        one_query = logit_statistics.logit_scaled_confidence(logits[:, q], labels[:, 0])
        np.testing.assert_allclose(phi[:, q], one_query, rtol=1e-12)


def test_logit_scaled_confidence_finite_where_naive_overflows():
    logits = np.array([[1000.0, 0.0, 0.0], [40.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [-800.0, 0.0, 5.0]])
    labels = np.array([0, 0, 0, 0])
    naive = naive_phi(logits, labels)
    assert not np.isfinite(naive[0]) and not np.isfinite(naive[1])  # p_y rounds to 1
    phi = logit_statistics.logit_scaled_confidence(logits, labels)
    assert np.all(np.isfinite(phi))
    np.testing.assert_allclose(phi[0], 1000 - np.log(2), rtol=1e-15)
    np.testing.assert_allclose(phi[1], 40 - np.log(2), rtol=1e-15)
    np.testing.assert_allclose(phi[2], -1000.0, rtol=1e-15)  # 0 - logsumexp(1000, 0)
    np.testing.assert_allclose(phi[3], -800 - logsumexp([0.0, 5.0]), rtol=1e-15)


def test_logit_scaled_confidence_is_z_y_minus_logsumexp_of_others():
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=200.0, size=(30, 10))
    labels = rng.integers(0, 10, size=30)
    phi = logit_statistics.logit_scaled_confidence(logits, labels)
    for i in range(30):
        others = np.delete(logits[i], labels[i])
        assert phi[i] == pytest.approx(logits[i, labels[i]] - logsumexp(others), rel=1e-12, abs=1e-9)


def test_hinge():
    logits = np.array([[3.0, 1.0, 2.5], [3.0, 1.0, 2.5], [0.0, 7.0, 7.0], [-1.0, -2.0, -3.0]])
    labels = np.array([0, 1, 1, 2])
    np.testing.assert_allclose(logit_statistics.hinge(logits, labels), [0.5, -2.0, 0.0, -2.0])
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 3, 8))
    labels = rng.integers(0, 8, size=(5, 1))
    got = logit_statistics.hinge(logits, labels)
    for i in range(5):
        for q in range(3):
            others = np.delete(logits[i, q], labels[i, 0])
            assert got[i, q] == pytest.approx(logits[i, q, labels[i, 0]] - others.max(), abs=1e-12)


def test_cross_entropy_against_direct_formula():
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=2.0, size=(40, 6))
    labels = rng.integers(0, 6, size=40)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(p[np.arange(40), labels])
    np.testing.assert_allclose(logit_statistics.cross_entropy(logits, labels), expected, rtol=1e-12)
    # Large logits: exact values without overflow.
    big = np.array([[1000.0, 0.0, 0.0], [1000.0, 0.0, 0.0]])
    np.testing.assert_allclose(logit_statistics.cross_entropy(big, np.array([1, 0])), [1000.0, 0.0], atol=1e-12)


def test_all_statistics_keys_and_consistency():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(7, 2, 4))
    labels = rng.integers(0, 4, size=(7, 1))
    values = logit_statistics.all_statistics(logits, labels)
    assert set(values) == {"logit_scaled_confidence", "hinge", "loss", "modified_entropy"}
    np.testing.assert_array_equal(values["modified_entropy"], logit_statistics.modified_entropy(logits, labels))
    # phi = log p - log(1 - p) with log p = -loss.
    p = np.exp(-values["loss"])
    np.testing.assert_allclose(values["logit_scaled_confidence"], np.log(p / (1 - p)), rtol=1e-9)


@pytest.mark.parametrize("function", [logit_statistics.logit_scaled_confidence, logit_statistics.hinge, logit_statistics.cross_entropy])
@pytest.mark.parametrize("bad_label", [-1, 3, 10])
def test_label_out_of_range_raises(function, bad_label):
    logits = np.zeros((4, 3))
    labels = np.array([0, 1, bad_label, 2])
    with pytest.raises(ValueError, match="labels"):
        function(logits, labels)


def test_single_class_raises():
    with pytest.raises(ValueError, match="2 classes"):
        logit_statistics.logit_scaled_confidence(np.zeros((4, 1)), np.zeros(4, dtype=int))


# --- modified entropy (Song & Mittal) ------------------------------------------------------------


def naive_modified_entropy(logits, label):
    """-(1 - p_y) log p_y - sum_{y' != y} p_y' log(1 - p_y'), one example, from softmax probabilities."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    total = -(1 - p[label]) * np.log(p[label])
    for k in range(len(z)):
        if k != label:
            total -= p[k] * np.log(1 - p[k])
    return total


def test_modified_entropy_matches_naive_formula():
    rng = np.random.default_rng(6)
    logits = rng.normal(scale=3.0, size=(60, 5))
    logits[:10, 0] += 8.0  # some confident predictions, right and wrong
    labels = rng.integers(0, 5, size=60)
    got = logit_statistics.modified_entropy(logits, labels)
    assert got.shape == (60,) and got.dtype == np.float64
    for i in range(60):
        expected = naive_modified_entropy(logits[i], labels[i])
        assert np.isfinite(expected)
        assert got[i] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_modified_entropy_with_query_axis_and_known_values():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(4, 3, 6))
    labels = rng.integers(0, 6, size=(4, 1))
    got = logit_statistics.modified_entropy(logits, labels)
    for i in range(4):
        for q in range(3):
            assert got[i, q] == pytest.approx(naive_modified_entropy(logits[i, q], labels[i, 0]), rel=1e-10)
    # Uniform over C classes: -(1 - 1/C) log(1/C) - (C - 1)(1/C) log(1 - 1/C).
    c = 4
    uniform = logit_statistics.modified_entropy(np.zeros((1, c)), np.array([2]))[0]
    assert uniform == pytest.approx(-(1 - 1 / c) * np.log(1 / c) - (c - 1) / c * np.log(1 - 1 / c), rel=1e-12)


def test_modified_entropy_finite_for_extreme_logits():
    logits = np.array([[1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [40.0, 0.0, 0.0], [-800.0, 0.0, 5.0], [0.0, 0.0, 800.0]])
    labels = np.array([0, 0, 0, 0, 1])
    got = logit_statistics.modified_entropy(logits, labels)
    assert np.all(np.isfinite(got))
    # Confidently right: ~0 (true value 6 e^-80 for margin 40, 0 to double precision at 1000).
    assert got[0] == 0.0
    assert 0.0 <= got[2] < 1e-30
    # Confidently wrong (p_y -> 0, a wrong class p_k -> 1): -log p_y plus -log(1 - p_k), each
    # about the margin: 1000 + (1000 - log 2), and 800 + (800 - log 2).
    assert got[1] == pytest.approx(2000.0 - np.log(2), rel=1e-12)
    assert got[4] == pytest.approx(1600.0 - np.log(2), rel=1e-12)
    # The naive formula breaks there (log 0): the stable one still orders them.
    with np.errstate(divide="ignore", invalid="ignore"):
        assert not np.isfinite(naive_modified_entropy(logits[1], 0))
    assert got[0] < got[3] < got[1]


def test_stacked_statistics_are_float32_of_all_statistics_and_the_label_probability():
    rng = np.random.default_rng(6)
    logits = rng.normal(scale=4.0, size=(3, 5, 2, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=(1, 5, 1))
    names = ["probability", "hinge", "loss", "logit_scaled_confidence", "modified_entropy"]
    stacked = logit_statistics.stacked_statistics(logits, labels, names)
    assert list(stacked) == names and all(value.dtype == np.float32 for value in stacked.values())
    for name, value in logit_statistics.all_statistics(logits, labels).items():
        np.testing.assert_array_equal(stacked[name], value.astype(np.float32))
    p = np.exp(logits - logsumexp(logits, axis=-1, keepdims=True))
    np.testing.assert_allclose(stacked["probability"], np.take_along_axis(p, labels[..., None], -1)[..., 0], rtol=1e-6)
    # p_y is exp(-loss) of the stacked (float32) loss itself: the two stacks agree to the bit.
    from_loss = np.exp(-stacked["loss"].astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(stacked["probability"], from_loss)
    with pytest.raises(ValueError, match=r"unknown statistics \['entropy'\]"):
        logit_statistics.stacked_statistics(logits, labels, ["loss", "entropy"])


@pytest.mark.parametrize("values_per_chunk", [1, 7 * 24, 1 << 17])  # 1, 7 (the last 2) or all 23 examples a chunk
def test_write_stacked_statistics_fills_the_blocks_rows_whatever_the_chunks(values_per_chunk):
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3.0, size=(2, 23, 3, 4)).astype(np.float32)  # models 3 and 4 of 6
    labels = rng.integers(0, 4, size=23)
    names = ["logit_scaled_confidence", "loss", "probability"]
    stacks = {name: np.full((6, 23, 3), np.nan, np.float32) for name in names}
    logit_statistics.write_stacked_statistics(stacks, slice(3, 5), logits, labels, values_per_chunk=values_per_chunk)
    expected = logit_statistics.stacked_statistics(logits, labels[None, :, None], names)
    for name in names:
        np.testing.assert_array_equal(stacks[name][3:5], expected[name])  # the same bits as one call
        assert np.isnan(stacks[name][:3]).all() and np.isnan(stacks[name][5:]).all()  # other rows untouched
