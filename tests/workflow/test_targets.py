"""The target's own files (lira.workflow.targets): logits and membership computed outside the
workflow are refused in one line naming the config key and the file when they are not what the
pool and the queries need; the query list says how to compute them."""

import json

import numpy as np
import pytest

from lira.core.queries import query_set
from lira.workflow import targets

POOL = {"source_index": np.array([3, 8, 10, 14, 20, 21]), "y": np.array([0, 1, 2, 0, 1, 2])}


def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_logits_of_the_pool_and_queries_are_read_as_float32_with_a_target_axis(tmp_path):
    logits = np.random.default_rng(0).normal(size=(6, 2, 3))
    np.save(tmp_path / "a.npy", logits)
    np.save(tmp_path / "b.npy", logits[None].astype(np.float16))
    for name in ("a.npy", "b.npy"):
        read = targets.read_target_logits(tmp_path / name, 6, 2, 3)
        assert read.shape == (1, 6, 2, 3) and read.dtype == np.float32
    np.testing.assert_array_equal(targets.read_target_logits(tmp_path / "a.npy", 6, 2, 3)[0], logits.astype(np.float32))


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.zeros((6, 1, 3)), r"shape \[6, 1, 3\], expected \[6, 2, 3\]"),
        (np.zeros((5, 2, 3)), r"shape \[5, 2, 3\]"),
        (np.zeros((2, 6, 2, 3)), r"shape \[2, 6, 2, 3\]"),
        (np.zeros((6, 2, 3), dtype=np.int64), "expected floating-point logits"),
        (np.where(np.arange(36).reshape(6, 2, 3) == 20, np.nan, 0.0), r"1 NaN or infinite values \(the first at \[example, query, class\] \[3, 0, 2\]\)"),
        (np.full((6, 2, 3), np.inf), "36 NaN or infinite"),
        (np.full((6, 2, 3), 1e300), "beyond float32"),
    ],
)
def test_bad_logits_are_refused_in_one_line_naming_the_key_and_file(tmp_path, array, expected):
    path = tmp_path / "logits.npy"
    np.save(path, array)
    with pytest.raises(targets.TargetError, match=expected) as error:
        targets.read_target_logits(path, 6, 2, 3)
    assert one_line(error).startswith(f"target.logits='{path}'")


def test_a_pickled_logits_file_is_refused_unrun(tmp_path):
    from formats import CodeRunningPickle

    marker = tmp_path / "ran"
    path = tmp_path / "logits.npy"
    np.save(path, np.array([CodeRunningPickle(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(targets.TargetError, match="not a readable .npy array") as error:
        targets.read_target_logits(path, 6, 2, 3)
    one_line(error)
    assert not marker.exists()


def test_membership_as_dataset_indices_in_text_or_npy_or_as_a_pool_mask(tmp_path):
    (tmp_path / "members.txt").write_text("8\n20\n3\n")
    (tmp_path / "members.csv").write_text("8,20,3\n")
    np.save(tmp_path / "members.npy", np.array([20, 3, 8]))
    np.save(tmp_path / "mask.npy", np.array([True, True, False, False, True, False]))
    expected = np.array([True, True, False, False, True, False])
    for name in ("members.txt", "members.csv", "members.npy", "mask.npy"):
        np.testing.assert_array_equal(targets.read_membership(tmp_path / name, POOL), expected)


@pytest.mark.parametrize(
    "content, expected",
    [
        (np.array([True, False, True]), "a mask of 3 values, expected one per pool example \\(6"),
        (np.array([3, 8, 9]), "names 1 examples outside the pool \\(e.g. index 9\\)"),
        (np.array([3, -1]), "outside the pool \\(e.g. index -1\\)"),
        (np.array([3, 3, 8]), "index 3 is listed 2 times"),
        (np.array([3, 8, 10, 14, 20, 21]), "every pool example is a member"),
        (np.zeros(6, dtype=bool), "no pool example is a member"),
        (np.array([0.5, 3.0]), "expected integer indices or a bool mask"),
        ("3\nabc\n", "unreadable"),
    ],
)
def test_bad_membership_is_refused_in_one_line_naming_the_key_and_file(tmp_path, content, expected):
    if isinstance(content, str):
        path = tmp_path / "members.txt"
        path.write_text(content)
    else:
        path = tmp_path / "members.npy"
        np.save(path, content)
    with pytest.raises(targets.TargetError, match=expected) as error:
        targets.read_membership(path, POOL)
    assert one_line(error).startswith(f"target.membership='{path}'")


def test_the_query_list_follows_the_logits_query_axis(tmp_path):
    settings = {"mirror": True, "shift": 1, "stride": 1, "padding": "reflect"}
    targets.write_query_list(tmp_path / "queries.json", settings)
    listed = json.loads((tmp_path / "queries.json").read_text())
    queries = query_set(True, 1, 1)
    assert [(q["mirror"], q["dx"], q["dy"]) for q in listed["queries"]] == [tuple(q) for q in queries]
    assert listed["queries"][0] == {"index": 0, "mirror": False, "dx": 0, "dy": 0}
    assert listed["padding"] == "reflect"


def test_recorded_differences_are_refused_unless_declared():
    shadows = {"model": {"arch": "mlp", "width": 8}, "train": {"epochs": 4}}
    targets.check_declared(shadows, {"model": {"arch": "mlp", "width": 8}}, [], "here")
    with pytest.raises(targets.TargetError, match="target.mismatch: \\[train\\]") as error:
        targets.check_declared(shadows, {"train": {"epochs": 8}}, ["model"], "here")
    assert one_line(error).startswith("here: the target's train")
    targets.check_declared(shadows, {"train": {"epochs": 8}}, ["train"], "here")
