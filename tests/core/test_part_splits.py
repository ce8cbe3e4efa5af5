"""The pool's partition into parts a and b and the keep masks of a population trained on one part
(lira.core.splits.partition, part_mask, keep_mask with a split): checked against direct
computation, and the masks of the whole pool (every existing config) unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from lira.core import splits


def test_the_partition_halves_the_pool_and_is_drawn_from_the_seed_alone():
    part_a = splits.partition(3, 101)
    assert part_a.dtype == bool and part_a.shape == (101,)
    assert part_a.sum() == 50  # pool_size // 2; part b gets the odd example
    np.testing.assert_array_equal(part_a, splits.partition(3, 101))
    assert not np.array_equal(part_a, splits.partition(4, 101))
    permutation = np.random.default_rng([3, splits.PARTITION_KEY]).permutation(101)
    np.testing.assert_array_equal(np.flatnonzero(part_a), np.sort(permutation[:50]))


@pytest.mark.parametrize("part", ["a", "b"])
def test_a_part_s_models_train_on_complementary_halves_of_that_part_only(part):
    pool_size, n_models = 200, 6
    split = {"part": part, "partition_seed": 7}
    in_part = splits.partition(7, pool_size) if part == "a" else ~splits.partition(7, pool_size)
    keep = splits.keep_matrix(11, n_models, pool_size, split)  # [N, pool]
    assert keep.shape == (n_models, pool_size)
    assert not keep[:, ~in_part].any()  # never the other part
    assert (keep.sum(axis=1) == 50).all()  # half of the part: a quarter of the pool
    # Each pair covers the part exactly once: every example of the part IN for N/2 models.
    np.testing.assert_array_equal(keep[0::2] ^ keep[1::2], np.broadcast_to(in_part, (n_models // 2, pool_size)))
    np.testing.assert_array_equal(keep[:, in_part].sum(axis=0), np.full(in_part.sum(), n_models // 2))
    # Direct computation: the whole-pool split of the part's examples, mapped back to the pool.
    rows = np.flatnonzero(in_part)
    for model in range(n_models):
        expected = np.zeros(pool_size, dtype=bool)
        expected[rows[splits.keep_mask(11, model, len(rows))]] = True
        np.testing.assert_array_equal(keep[model], expected)
    np.testing.assert_array_equal(keep, splits.keep_matrix(11, n_models, pool_size, split))  # deterministic


def test_parts_a_and_b_never_share_a_training_example():
    target = splits.keep_matrix(1, 8, 300, {"part": "a", "partition_seed": 0})
    shadows = splits.keep_matrix(0, 8, 300, {"part": "b", "partition_seed": 0})
    assert not (target.any(axis=0) & shadows.any(axis=0)).any()
    assert target.sum(axis=1).tolist() == shadows.sum(axis=1).tolist() == [75] * 8


@pytest.mark.parametrize("split", [None, {"part": "all", "partition_seed": 5}])
def test_the_whole_pool_keeps_the_masks_every_existing_config_made(split):
    # The masks before splits had parts, written out: model 2j the first half of permutation j.
    for model in range(5):
        permutation = np.random.default_rng([2, model // 2]).permutation(51)
        expected = np.zeros(51, dtype=bool)
        expected[permutation[:25]] = True
        expected = ~expected if model % 2 else expected
        np.testing.assert_array_equal(splits.keep_mask(2, model, 51, split), expected)


def test_an_unknown_part_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^split.part must be one of all, a, b, got 'c'$"):
        splits.keep_mask(0, 0, 10, {"part": "c", "partition_seed": 0})
