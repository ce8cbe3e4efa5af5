"""lira.core.queries: the configured query set, and the nested subsets of it that Table III uses."""

import pytest

from lira.core.queries import Query, nested_subsets, query_set

# --- the query set --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mirror, shift, stride, count",
    [
        (False, 0, 1, 1), (True, 0, 1, 2), (True, 4, 4, 18), (True, 4, 1, 162),
        (False, 4, 4, 9), (False, 2, 1, 25), (True, 4, 2, 50),
    ],
)
def test_query_counts(mirror, shift, stride, count):
    queries = query_set(mirror, shift, stride)
    assert len(queries) == count == (1 + mirror) * (2 * shift // stride + 1) ** 2
    assert queries[0] == Query(False, 0, 0)
    assert len(set(queries)) == len(queries)
    assert all(abs(q.dx) <= shift and abs(q.dy) <= shift and q.dx % max(stride, 1) == 0 for q in queries)
    assert {q.mirror for q in queries} == ({False, True} if mirror else {False})


def test_query_set_contents_shift_4_stride_4():
    queries = query_set(True, 4, 4)
    expected = {Query(m, dx, dy) for m in (False, True) for dx in (-4, 0, 4) for dy in (-4, 0, 4)}
    assert set(queries) == expected
    assert query_set(True, 4, 4) == queries  # deterministic order


@pytest.mark.parametrize("shift, stride", [(4, 3), (4, 0), (4, -1), (-1, 1), (3, 2)])
def test_bad_query_parameters_raise(shift, stride):
    with pytest.raises(ValueError):
        query_set(True, shift, stride)


# --- nested query subsets -------------------------------------------------------------------------


def test_nested_subsets_point_at_the_right_queries():
    configured = query_set(True, 4, 1)
    subsets = nested_subsets(True, 4, 1)
    assert list(subsets) == [1, 2, 18, 162]
    assert subsets[1] == [0]
    assert configured[0] == Query(False, 0, 0)
    assert [configured[i] for i in subsets[2]] == [Query(False, 0, 0), Query(True, 0, 0)]
    expected_18 = {Query(m, dx, dy) for m in (False, True) for dx in (-4, 0, 4) for dy in (-4, 0, 4)}
    assert {configured[i] for i in subsets[18]} == expected_18
    assert subsets[162] == list(range(162))
    for count, indices in subsets.items():
        assert len(indices) == len(set(indices)) == count
        assert indices == sorted(indices) and indices[0] == 0
    # Nested: each set contains the smaller ones.
    assert set(subsets[1]) < set(subsets[2]) < set(subsets[18]) < set(subsets[162])


def test_nested_subsets_for_shift_4_stride_4_and_small_shifts():
    configured = query_set(True, 4, 4)
    subsets = nested_subsets(True, 4, 4)
    assert subsets == {1: [0], 2: sorted([0, configured.index(Query(True, 0, 0))]), 18: list(range(18))}
    # shift 2, stride 1: the 18-set is mirror x {-2, 0, 2}^2.
    configured = query_set(True, 2, 1)
    subsets = nested_subsets(True, 2, 1)
    assert list(subsets) == [1, 2, 18, 50]
    assert {configured[i] for i in subsets[18]} == {
        Query(m, dx, dy) for m in (False, True) for dx in (-2, 0, 2) for dy in (-2, 0, 2)
    }
    # shift 1: mirror x {-1, 0, 1}^2 is the whole configured set.
    assert nested_subsets(True, 1, 1) == {1: [0], 2: [0, query_set(True, 1, 1).index(Query(True, 0, 0))], 18: list(range(18))}


def test_nested_subsets_without_mirror():
    assert nested_subsets(False, 0, 1) == {1: [0]}
    # No mirror: no 2-set, and the "18"-set shrinks to the 9 shifts {-4, 0, 4}^2.
    configured = query_set(False, 4, 1)
    subsets = nested_subsets(False, 4, 1)
    assert list(subsets) == [1, 9, 81]
    assert {configured[i] for i in subsets[9]} == {Query(False, dx, dy) for dx in (-4, 0, 4) for dy in (-4, 0, 4)}
