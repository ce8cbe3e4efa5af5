"""The candidate inputs of LiRA (the paper's Figure 8), against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

from lira.core import logit_statistics
from lira.core.logit_statistics import LOG_EPSILON, input_statistics, stacked_input_statistics


@pytest.fixture
def logits_and_labels():
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=4.0, size=(5, 7, 4)).astype(np.float32)  # [models, examples, classes]
    labels = rng.integers(0, 4, 7)
    logits[0, 0, labels[0]] += 40.0  # f_y rounds to 1 in float32 (and in float64): the unstable logit saturates
    logits[1, 1, labels[1]] += 20.0  # f_y rounds to 1 in float32 only
    return logits, labels


def direct(z: np.ndarray, y: int) -> dict[str, float]:
    """One example's statistics by the obvious formulas: f from scipy in float32, the rest in
    float64 Python floats."""
    f = scipy_softmax(z.astype(np.float32))
    f_y = float(f[y])
    z = [float(v) for v in z]
    others = [v for c, v in enumerate(z) if c != y]
    return {
        "confidence": f_y,
        "log_confidence": math.log(f_y + LOG_EPSILON),
        "unstable_logit": math.log(f_y + LOG_EPSILON) - math.log(float(np.float32(1) - f[y]) + LOG_EPSILON),
        "logit_scaled_confidence": z[y] - math.log(sum(math.exp(v) for v in others)),
        "logit": z[y],
        "hinge": z[y] - max(others),
    }


def test_each_statistic_equals_a_direct_computation(logits_and_labels):
    logits, labels = logits_and_labels
    values = input_statistics(logits, labels[None])
    assert list(values) == list(logit_statistics.INPUT_STATISTICS)
    for m in range(logits.shape[0]):
        for x in range(logits.shape[1]):
            expected = direct(logits[m, x], labels[x])
            for name, value in expected.items():
                assert values[name][m, x] == pytest.approx(value, rel=2e-6, abs=1e-6), (name, m, x)


def test_the_unstable_logit_saturates_where_the_stable_one_does_not(logits_and_labels):
    logits, labels = logits_and_labels
    values = input_statistics(logits, labels[None])
    for m, x in ((0, 0), (1, 1)):
        assert values["confidence"][m, x] == 1.0
        assert values["unstable_logit"][m, x] == pytest.approx(-math.log(LOG_EPSILON))  # 103.6: log f_y = 0
        assert values["logit_scaled_confidence"][m, x] < 60.0  # finite, the true margin
    assert values["logit_scaled_confidence"][1, 1] != pytest.approx(values["logit_scaled_confidence"][0, 0], abs=5)


def test_the_stacked_stable_statistics_equal_the_shadows_stacks_bit_for_bit(logits_and_labels):
    logits, labels = logits_and_labels
    block = logits.reshape(5, 7, 1, 4)  # [models, pool, queries, classes]
    ours = stacked_input_statistics(block, labels, values_per_chunk=10)  # several chunks
    shadows = logit_statistics.stacked_statistics(block, labels[None, :, None], ["logit_scaled_confidence", "hinge"])
    for name in ("logit_scaled_confidence", "hinge"):
        assert ours[name].dtype == np.float32 and np.array_equal(ours[name], shadows[name])
    whole = input_statistics(block, labels[None, :, None])
    for name in logit_statistics.INPUT_STATISTICS:
        assert np.array_equal(ours[name], whole[name].astype(np.float32)), name


def test_unknown_statistic_is_refused(logits_and_labels):
    logits, labels = logits_and_labels
    with pytest.raises(ValueError, match="unknown statistics"):
        input_statistics(logits, labels[None], ["entropy"])
