"""Findings a grid decides from its points' numbers (lira.reports.grid_findings)."""

import pytest

from lira.reports.grid_findings import PointSummary, dp_sgd


def point(name, tpr, accuracy, sigma=None, clip=None, epsilon=None):
    settings = {} if sigma is None else {"train.dp.noise_multiplier": sigma, "train.dp.max_grad_norm": clip}
    return PointSummary(name, settings, accuracy, tpr, (0.55, 0.54, 0.56), epsilon)


# The DP grid's numbers of docs/privacy.md's run of record (TPR @ 0.1 %: value, interval).
RECORD = [
    point("sgd", (0.0131, 0.0111, 0.0167), 0.838),
    point("s0_c10", (0.0055, 0.0039, 0.0076), 0.802, 0.0, 10.0),
    point("s0_c1", (0.0015, 0.0009, 0.0027), 0.685, 0.0, 1.0),
    point("s02_c10", (0.0044, 0.0028, 0.0059), 0.785, 0.2, 10.0, 495.0),
    point("s08_c10", (0.0010, 0.0004, 0.0017), 0.623, 0.8, 10.0, 17.6),
]


def test_the_run_of_record_partly_agrees_small_noise_does_not_reach_chance():
    finding = dp_sgd(RECORD)
    assert finding.verdict == "partly agrees"
    assert "clipping alone cuts the attack" in finding.why and "not to chance" in finding.why
    assert "1.31 %" in finding.ours and "σ = 0.2 with C = 10 (ε = 495)" in finding.ours


def test_all_three_claims_hold_agrees():
    points = list(RECORD)
    points[3] = point("s02_c10", (0.0012, 0.0006, 0.0019), 0.785, 0.2, 10.0, 495.0)
    assert dp_sgd(points).verdict == "agrees"


def test_clipping_that_does_not_lower_the_attack_differs():
    points = [RECORD[0], point("s0_c10", (0.0125, 0.0100, 0.0150), 0.80, 0.0, 10.0), RECORD[2]]
    points.append(point("s02_c10", (0.0130, 0.0110, 0.0150), 0.78, 0.2, 10.0, 495.0))
    assert dp_sgd(points).verdict == "differs"


def test_a_grid_without_a_plain_point_is_refused():
    with pytest.raises(ValueError, match="without DP-SGD"):
        dp_sgd(RECORD[1:])
