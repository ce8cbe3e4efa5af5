"""The complementary-pair split design of lira.core.splits."""

import numpy as np
import pytest

from lira.core import splits


@pytest.mark.parametrize("n_models", [2, 4, 8, 16, 64])
@pytest.mark.parametrize("pool_size", [2, 7, 10, 101, 500])
def test_every_example_in_for_exactly_half_of_the_models(n_models, pool_size):
    keep = splits.keep_matrix(3, n_models, pool_size)
    assert keep.shape == (n_models, pool_size)
    assert keep.dtype == bool
    np.testing.assert_array_equal(keep.sum(axis=0), np.full(pool_size, n_models // 2))


@pytest.mark.parametrize("pool_size", [2, 9, 100, 1001])
def test_pairs_are_complementary_and_half_sized(pool_size):
    keep = splits.keep_matrix(11, 12, pool_size)
    for j in range(6):
        first, second = keep[2 * j], keep[2 * j + 1]
        np.testing.assert_array_equal(first, ~second)
        assert first.sum() == pool_size // 2
        assert second.sum() == pool_size - pool_size // 2


def test_rows_are_keep_mask():
    keep = splits.keep_matrix(5, 6, 40)
    for i in range(6):
        np.testing.assert_array_equal(keep[i], splits.keep_mask(5, i, 40))


def test_growing_the_number_of_models_keeps_existing_splits():
    small = splits.keep_matrix(7, 64, 333)
    large = splits.keep_matrix(7, 80, 333)
    np.testing.assert_array_equal(small, large[:64])
    # And the new models are balanced on their own (8 new pairs).
    np.testing.assert_array_equal(large[64:].sum(axis=0), np.full(333, 8))


def test_deterministic_across_calls():
    np.testing.assert_array_equal(splits.keep_matrix(42, 10, 77), splits.keep_matrix(42, 10, 77))
    assert splits.model_seed(42, 3) == splits.model_seed(42, 3)


def test_different_seeds_and_pairs_give_different_splits():
    a = splits.keep_matrix(0, 8, 200)
    b = splits.keep_matrix(1, 8, 200)
    assert not np.array_equal(a, b)
    # Different pairs of the same seed are different halves, too.
    for j in range(1, 4):
        assert not np.array_equal(a[0], a[2 * j])
    # Two independent random halves of 200 overlap in about 50 positions, not 0 or 100.
    overlap = np.count_nonzero(a[0] & b[0])
    assert 25 < overlap < 75


def test_model_seeds_are_distinct_per_seed_and_index():
    seeds = {splits.model_seed(seed, index) for seed in range(5) for index in range(64)}
    assert len(seeds) == 5 * 64
    assert all(isinstance(s, int) and s >= 0 for s in seeds)
    # Pair partners (2j, 2j+1) get different seeds although they share a permutation.
    assert splits.model_seed(0, 0) != splits.model_seed(0, 1)


@pytest.mark.parametrize(
    "args",
    [(0, -1, 10), (0, 0, 1), (0, 0, 0), (0, 3, -5)],
)
def test_bad_inputs_raise(args):
    with pytest.raises(ValueError):
        splits.keep_mask(*args)


def test_keep_matrix_bad_pool_size_raises():
    with pytest.raises(ValueError):
        splits.keep_matrix(0, 4, 1)


@pytest.mark.parametrize(
    "n_models, per_job, blocks",
    [
        (10, 4, ["0-3", "4-7", "8-9"]),
        (8, 4, ["0-3", "4-7"]),
        (3, 1, ["0", "1", "2"]),
        (9, 4, ["0-3", "4-7", "8"]),
        (4, 100, ["0-3"]),
    ],
)
def test_model_blocks_cover_every_model_once_in_order(n_models, per_job, blocks):
    assert splits.model_blocks(n_models, per_job) == blocks
    covered = [model for block in blocks for model in splits.block_models(block)]
    assert covered == list(range(n_models))


def test_growing_the_models_keeps_every_full_block():
    before, after = splits.model_blocks(64, 8), splits.model_blocks(66, 8)
    assert after[: len(before)] == before and after[len(before) :] == ["64-65"]
    # Only a partial last block is renamed (and so redone) when models are added.
    assert splits.model_blocks(68, 8)[:-1] == splits.model_blocks(66, 8)[:-1]


@pytest.mark.parametrize("name", ["", "a-3", "3-1", "1-2-3", "-1"])
def test_bad_block_names_raise(name):
    with pytest.raises(ValueError, match="block"):
        splits.block_models(name)


def test_models_per_job_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        splits.model_blocks(8, 0)


# --- a target's shadows: every model outside its pair ------------------------------------------------


def test_partner_is_the_other_model_of_the_pair_with_the_complementary_split():
    assert [splits.partner(i) for i in range(6)] == [1, 0, 3, 2, 5, 4]
    keep = splits.keep_matrix(4, 10, 31)
    for i in range(10):
        np.testing.assert_array_equal(keep[splits.partner(i)], ~keep[i])
        assert splits.partner(splits.partner(i)) == i
    with pytest.raises(ValueError):
        splits.partner(-1)


@pytest.mark.parametrize("n_models", [4, 6, 7, 16])
def test_held_out_and_shadow_models(n_models):
    for target in range(n_models):
        held = splits.held_out(target, n_models)
        if target == n_models - 1 and n_models % 2:  # the unpaired last model of an odd N
            assert held == [target]
        else:
            assert held == sorted([target, target ^ 1])
        shadows = splits.shadow_models(target, n_models)
        assert shadows.dtype == bool and shadows.shape == (n_models,)
        assert sorted(np.flatnonzero(~shadows).tolist()) == held
    with pytest.raises(ValueError):
        splits.held_out(n_models, n_models)
    with pytest.raises(ValueError):
        splits.held_out(-1, n_models)


@pytest.mark.parametrize("n_models", [4, 6, 8, 16])
def test_shadows_hold_as_many_in_and_out_models_whatever_the_targets_membership(n_models):
    # The point of leaving the pair out: every example has N/2 - 1 IN and N/2 - 1 OUT shadows for
    # every target, members and non-members alike. Leaving out the target alone would not.
    keep = splits.keep_matrix(9, n_models, 57)
    for target in range(n_models):
        shadows = keep[splits.shadow_models(target, n_models)]
        np.testing.assert_array_equal(shadows.sum(axis=0), n_models // 2 - 1)
        np.testing.assert_array_equal((~shadows).sum(axis=0), n_models // 2 - 1)
        others = keep[np.arange(n_models) != target]  # leave-one-out
        np.testing.assert_array_equal(others.sum(axis=0), n_models // 2 - keep[target])
