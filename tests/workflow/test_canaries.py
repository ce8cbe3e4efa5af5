"""Canaries appended to the pool (data.canaries, lira.workflow.datasets.make_canaries): groups,
labels, sources, seeding, the config's checks, and pools without canaries exactly as before."""

from __future__ import annotations

import numpy as np
import pytest

from lira.workflow import artifacts, datasets
from lira.workflow import config as lira_config


def small_dataset(seed: int = 7, dtype=np.uint8) -> datasets.Dataset:
    rng = np.random.default_rng(seed)

    def split(n):
        images = rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8)
        return datasets.Split(images if dtype == np.uint8 else images.astype(dtype), rng.integers(0, 10, n).astype(np.int64))

    return datasets.Dataset("fashion_mnist", split(200), split(80))


# make_pool(small_dataset(), 120, 30, 3)'s content hash, computed with make_pool as it was before
# canaries existed: a pool without canaries must stay byte for byte what it was (no model retrains).
POOL_HASH_BEFORE_CANARIES = "558a83aeb4fbe0d91bff4294017c342a990a2d5c48a1135307186efd5f67584f"


@pytest.mark.parametrize("canaries", [None, {}, {"mislabeled": 0, "ood": 0, "noise": 0}])
def test_a_pool_without_canaries_is_unchanged(canaries):
    pool = datasets.make_pool(small_dataset(), 120, 30, 3, canaries)
    assert artifacts.content_hash(pool) == POOL_HASH_BEFORE_CANARIES
    assert "group" not in pool


def test_canaries_are_appended_with_their_groups_labels_and_sources():
    dataset = small_dataset()
    counts = {"mislabeled": 10, "ood": 6, "noise": 5}
    plain = datasets.make_pool(dataset, 120, 30, 3)
    pool = datasets.make_pool(dataset, 120, 30, 3, counts)
    assert len(pool["y"]) == len(pool["x"]) == 141 and pool["x"].dtype == np.uint8
    for key in ("x", "y", "source_index"):  # the ordinary examples first, as without canaries
        assert np.array_equal(pool[key][:120], plain[key])
    assert np.array_equal(pool["holdout_y"], plain["holdout_y"])
    assert list(pool["group_names"]) == ["ordinary", "mislabeled", "ood", "noise"]
    assert np.array_equal(pool["group"], np.repeat([0, 1, 2, 3], [120, 10, 6, 5]))
    assert (pool["source_index"][120:] == -1).all() and (pool["test_index"][:120] == -1).all()

    test = dataset.test
    mislabeled, ood, noise = (pool["group"] == g for g in (1, 2, 3))
    rows = pool["test_index"][mislabeled | ood]
    assert len(set(rows)) == 16 and (rows >= 0).all()  # distinct test images
    # Never a held-out test image (the holdout measures accuracy on unseen data).
    holdout_rows = [np.flatnonzero((test.images == image).all(axis=(1, 2, 3)))[0] for image in pool["holdout_x"]]
    assert not set(rows) & set(holdout_rows)
    for x in np.flatnonzero(mislabeled):
        row = pool["test_index"][x]
        assert np.array_equal(pool["x"][x], test.images[row]) and pool["y"][x] != test.labels[row]
    for x in np.flatnonzero(ood):
        row = pool["test_index"][x]
        assert np.array_equal(pool["x"][x], 255 - test.images[row]) and pool["y"][x] == test.labels[row]
    assert (pool["test_index"][noise] == -1).all()
    assert ((pool["y"] >= 0) & (pool["y"] < 10)).all()
    # Mean and std over every example the models train on, canaries included.
    assert np.isclose(pool["mean"][0], pool["x"].mean() / 255, rtol=1e-5)

    again = datasets.make_pool(dataset, 120, 30, 3, counts)
    assert all(np.array_equal(pool[key], again[key]) for key in pool)
    other = datasets.make_pool(dataset, 120, 30, 4, counts)
    assert not np.array_equal(pool["test_index"], other["test_index"])


def test_feature_canaries_negate_and_draw_noise_within_the_features_range():
    dataset = small_dataset(dtype=np.float32)
    pool = datasets.make_pool(dataset, 120, 0, 3, {"ood": 4, "noise": 20})
    ood, noise = pool["group"] == 2, pool["group"] == 3
    assert np.array_equal(pool["x"][ood], -dataset.test.images[pool["test_index"][ood]])
    ordinary = pool["x"][:120]
    assert (pool["x"][noise] >= ordinary.min(axis=0)).all() and (pool["x"][noise] <= ordinary.max(axis=0)).all()


def test_too_many_canaries_are_refused():
    with pytest.raises(datasets.DatasetError, match="data.canaries"):
        datasets.make_pool(small_dataset(), 120, 30, 3, {"mislabeled": 40, "ood": 20})
    with pytest.raises(datasets.DatasetError, match="unknown kind"):
        datasets.make_pool(small_dataset(), 120, 30, 3, {"outliers": 2})


def base_config(**data) -> dict:
    return {
        "experiment": "x", "seed": 0, "shadow_models": 4,
        "data": {"dataset": "fashion_mnist", "pool_size": 100, "holdout_size": 1000, **data},
        "model": {"arch": "mlp", "width": 8},
        "train": {"epochs": 1, "batch_size": 8, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0,
                  "augment": {"mirror": False, "shift": 0}},
        "queries": {"mirror": False, "shift": 0, "stride": 1},
        "attack": {"targets": 2},
    }  # fmt: skip


@pytest.mark.parametrize(
    "canaries, problem",
    [
        ({"mislabeled": 5000, "ood": 4500}, ("data.canaries: mislabeled + ood = 9500 test images, but fashion_mnist's "
         "test split has 9000 beyond data.holdout_size (1000)")),
        ({"outliers": 3}, "data.canaries"),
        ({"noise": -1}, "data.canaries.noise"),
    ],
)  # fmt: skip
def test_the_config_refuses_bad_canaries_in_one_line(canaries, problem):
    with pytest.raises(lira_config.ConfigError) as raised:
        lira_config.check(base_config(canaries=canaries))
    assert len(raised.value.problems) == 1 and raised.value.problems[0].startswith(problem)


def test_the_pool_counts_its_canaries():
    checked = lira_config.check(base_config(canaries={"noise": 7, "ood": 3}))
    assert checked["data"]["canaries"] == {"mislabeled": 0, "ood": 3, "noise": 7}
    assert lira_config.pool_examples(checked) == 110
    assert lira_config.pool_examples(lira_config.check(base_config())) == 100
