"""lira.workflow.files: atomic writes of files, arrays, memory maps, JSON and text."""

import numpy as np
import pytest

from lira.workflow import files


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


def test_atomic_path_writes_and_leaves_no_part_file(tmp_path):
    destination = tmp_path / "sub" / "dir" / "out.txt"  # parents are created
    with files.atomic_path(destination) as temporary:
        assert temporary.parent == destination.parent
        assert temporary != destination and temporary.name.endswith(".part")
        temporary.write_text("done")
        assert not destination.exists()  # nothing visible before the block completes
    assert destination.read_text() == "done"
    assert leftovers(destination.parent) == []


def test_exception_inside_atomic_path_keeps_the_old_content(tmp_path):
    destination = tmp_path / "result.npz"
    destination.write_text("previous")
    with pytest.raises(RuntimeError, match="killed"):
        with files.atomic_path(destination) as temporary:
            temporary.write_text("half-written")
            raise RuntimeError("killed")
    assert destination.read_text() == "previous"
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["result.npz"]


def test_exception_before_anything_is_written_leaves_no_destination(tmp_path):
    destination = tmp_path / "new.json"
    with pytest.raises(KeyError):
        with files.atomic_path(destination):
            raise KeyError("x")
    assert list(tmp_path.iterdir()) == []


def test_save_arrays_round_trip(tmp_path):
    arrays = {
        "phi": np.random.default_rng(0).normal(size=(3, 4, 2)),
        "keep": np.array([[True, False], [False, True]]),
        "labels": np.arange(5, dtype=np.int64),
        "logits": np.ones((2, 3), dtype=np.float32),
        "scalar": np.int64(7),
    }
    path = tmp_path / "arrays.npz"
    files.save_arrays(path, **arrays)
    loaded = files.load_arrays(path)
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == np.asarray(value).dtype
        assert loaded[key].shape == np.asarray(value).shape
    assert leftovers(tmp_path) == []
    # Overwriting replaces the whole file.
    files.save_arrays(path, only=np.zeros(2))
    assert set(files.load_arrays(path)) == {"only"}


def test_load_arrays_refuses_pickled_objects(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        files.load_arrays(path)


def test_save_array_round_trip(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    files.save_array(tmp_path / "a.npy", array)
    loaded = files.load_array(tmp_path / "a.npy")
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype == np.float32
    with pytest.raises(ValueError):
        files.save_array(tmp_path / "b.npy", np.array([None, 1], dtype=object))  # no pickles
    assert not (tmp_path / "b.npy").exists() and leftovers(tmp_path) == []


def test_atomic_memmaps_appear_only_when_complete(tmp_path):
    paths = {"a": tmp_path / "out" / "a.npy", "b": tmp_path / "out" / "b.npy"}
    with files.atomic_memmaps(paths, np.float32, (3, 2)) as maps:
        maps["a"][:] = 1.5
        maps["b"][1] = [2, 3]
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.npy.part.npy", "b.npy.part.npy"]
    np.testing.assert_array_equal(np.load(paths["a"]), np.full((3, 2), 1.5, np.float32))
    np.testing.assert_array_equal(np.load(paths["b"]), [[0, 0], [2, 3], [0, 0]])
    assert np.load(paths["b"]).dtype == np.float32
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.npy", "b.npy"]


def test_atomic_memmaps_leave_nothing_of_a_failed_write(tmp_path):
    paths = {"a": tmp_path / "a.npy", "b": tmp_path / "b.npy"}
    paths["b"].write_text("previous")
    with pytest.raises(RuntimeError, match="killed"):
        with files.atomic_memmaps(paths, np.float32, (3, 2)) as maps:
            maps["a"][:] = 1.0
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npy"] and paths["b"].read_text() == "previous"


def test_json_and_text(tmp_path):
    value = {"b": [1, 2.5, None], "a": {"nested": "x"}}
    files.write_json(tmp_path / "v.json", value)
    assert files.read_json(tmp_path / "v.json") == value
    text = (tmp_path / "v.json").read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')  # sorted keys
    files.write_text(tmp_path / "t.txt", "hello\n")
    assert (tmp_path / "t.txt").read_text() == "hello\n"
    assert leftovers(tmp_path) == []
