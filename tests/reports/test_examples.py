"""lira.reports.examples: the pool ranked by exposure, and what a target sees of the most exposed,
a typical and the least exposed example, on small synthetic arrays with known answers."""

import math
import warnings

import numpy as np
import pytest

from lira.core import gaussian
from lira.core.gaussian import GaussianParams
from lira.reports.examples import example_views, exposure_ranking

# LiRA scores of T = 4 targets on a pool of 6 examples, and which target trained on which example.
# Per example: mean score as a member, as a non-member, and the exposure (their difference):
#   0: members 3, 5 -> 4; non-members 1, 1 -> 1;  exposure 3
#   1: a member of every target: no non-member mean, exposure NaN
#   2: members 2, 2 -> 2; non-members 0, 0 -> 0;  exposure 2
#   3: members 1, 1 -> 1; non-members 2, 4 -> 3;  exposure -2
#   4: a member of no target: no member mean, exposure NaN
#   5: members 6, 6 -> 6; non-members 1, 0 -> 0.5; exposure 5.5
IS_MEMBER = np.array(
    [
        [1, 1, 0, 1, 0, 1],
        [0, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 1],
        [0, 1, 1, 1, 0, 0],
    ],
    dtype=bool,
)
SCORES = np.array(
    [
        [3.0, 9.0, 0.0, 1.0, 7.0, 6.0],
        [1.0, 9.0, 2.0, 2.0, 7.0, 1.0],
        [5.0, 9.0, 0.0, 4.0, 7.0, 6.0],
        [1.0, 9.0, 2.0, 1.0, 7.0, 0.0],
    ]
)
SOURCE_INDEX = np.array([70, 31, 92, 13, 54, 25])
LABELS = np.array([0, 1, 2, 0, 1, 2])

# The shadows' statistic: N = 6 models (three complementary pairs), the pool of 6, Q = 2 queries;
# values[m, x, q] = 12 m + 2 x + q, so every value names its model, example and query.
KEEP = np.array(
    [
        [1, 0, 1, 0, 1, 0],
        [0, 1, 0, 1, 0, 1],
        [1, 1, 0, 0, 1, 1],
        [0, 0, 1, 1, 0, 0],
        [0, 1, 1, 0, 1, 0],
        [1, 0, 0, 1, 0, 1],
    ],
    dtype=bool,
)
VALUES = np.arange(6 * 6 * 2, dtype=np.float64).reshape(6, 6, 2)


def ranking():
    with warnings.catch_warnings():  # examples 1 and 4 leave one mean empty: NaN, as intended
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return exposure_ranking(SCORES, IS_MEMBER, SOURCE_INDEX, LABELS)


def test_the_ranking_puts_the_most_exposed_first_and_the_unmeasured_last():
    rows = ranking()
    assert list(rows.columns) == [
        "pool_index", "source_index", "label", "mean_score_member", "mean_score_non_member", "exposure",
    ]  # fmt: skip
    assert rows["pool_index"].tolist()[:4] == [5, 0, 2, 3]
    assert set(rows["pool_index"].tolist()[4:]) == {1, 4}
    measured = rows.iloc[:4]
    assert measured["exposure"].tolist() == [5.5, 3.0, 2.0, -2.0]
    assert measured["mean_score_member"].tolist() == [6.0, 4.0, 2.0, 1.0]
    assert measured["mean_score_non_member"].tolist() == [0.5, 1.0, 0.0, 3.0]
    assert rows["exposure"].iloc[4:].isna().all()
    # Each row keeps its own example's source index and label.
    for row in rows.itertuples():
        assert row.source_index == SOURCE_INDEX[row.pool_index] and row.label == LABELS[row.pool_index]
    by_index = rows.set_index("pool_index")
    assert math.isnan(by_index.loc[1, "mean_score_non_member"]) and by_index.loc[1, "mean_score_member"] == 9.0
    assert math.isnan(by_index.loc[4, "mean_score_member"]) and by_index.loc[4, "mean_score_non_member"] == 7.0


def explicit_params():
    """Per example x and query q: IN ~ N(100 + 10 x + q, 2^2), OUT ~ N(-(100 + 10 x + q), (x + 1)^2)."""
    centre = 100.0 + 10.0 * np.arange(6)[:, None] + np.arange(2)[None, :]
    var_out = np.broadcast_to(((np.arange(6) + 1.0) ** 2)[:, None], (6, 2))
    counts = np.zeros(6, dtype=np.int64)
    ones = np.ones((1, 2))
    return GaussianParams(centre, np.full((6, 2), 4.0), -centre, var_out, ones, ones, counts, counts)


def test_the_three_examples_and_what_target_0_sees_of_them():
    views = example_views(VALUES, KEEP, explicit_params(), ranking(), LABELS)
    assert [view["title"] for view in views] == [
        "most exposed: example 5 (class 2)",
        "typical: example 2 (class 2)",  # the middle one of the 4 measured examples (index 4 // 2)
        "least exposed: example 3 (class 0)",
    ]
    # Target 0's shadows are the models outside its pair (0, 1): 2, 3, 4, 5, split into IN and OUT
    # by their keep masks; identity query (q = 0). Model 1, its partner, is never shown.
    most, typical, least = views
    # keep[2:, x] of examples 5, 2, 3: 1 0 0 1, 0 1 1 0, 0 1 0 1.
    assert most["values_in"].tolist() == [34.0, 70.0] and most["values_out"].tolist() == [46.0, 58.0]
    assert typical["values_in"].tolist() == [40.0, 52.0] and typical["values_out"].tolist() == [28.0, 64.0]
    assert least["values_in"].tolist() == [42.0, 66.0] and least["values_out"].tolist() == [30.0, 54.0]
    # The target's own value and membership.
    assert [view["target_value"] for view in views] == [10.0, 4.0, 6.0]
    assert [view["target_is_member"] for view in views] == [False, True, False]
    # The fitted Gaussians of that example and the identity query.
    for view, index in zip(views, (5, 2, 3)):
        assert view["mean_in"] == 100 + 10 * index and view["sd_in"] == 2.0
        assert view["mean_out"] == -(100 + 10 * index) and view["sd_out"] == index + 1


def test_another_target_leaves_its_pair_out_and_its_fit_matches_the_values():
    # The figure's Gaussians are those the attack fits (leave_pair_out) on the very values shown.
    target = 3
    params = gaussian.leave_pair_out(gaussian.fit_shadow_sums(VALUES, KEEP), VALUES, KEEP, target)
    views = example_views(VALUES, KEEP, params, ranking(), LABELS, target=target)
    most = views[0]  # example 5: models 0, 1, 4, 5 (outside pair (2, 3)) are OUT, IN, OUT, IN
    assert most["values_in"].tolist() == [22.0, 70.0] and most["values_out"].tolist() == [10.0, 58.0]
    assert most["target_value"] == 46.0 and most["target_is_member"] is False
    for view in views:
        assert len(view["values_in"]) == len(view["values_out"]) == 2  # N/2 - 1 each
        assert view["mean_in"] == pytest.approx(view["values_in"].mean())
        assert view["mean_out"] == pytest.approx(view["values_out"].mean())
        assert view["sd_in"] == pytest.approx(view["values_in"].std(ddof=1))
        assert view["sd_out"] == pytest.approx(view["values_out"].std(ddof=1))
