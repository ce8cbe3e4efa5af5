"""lira.io (atomic writes, arrays), lira.tables (Markdown), and the torch-free analysis side."""

import math
import subprocess
import sys

import numpy as np
import pytest

from lira import io, metrics, tables


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


# --- io ------------------------------------------------------------------------------------------


def test_atomic_path_writes_and_leaves_no_part_file(tmp_path):
    destination = tmp_path / "sub" / "dir" / "out.txt"  # parents are created
    with io.atomic_path(destination) as temporary:
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
        with io.atomic_path(destination) as temporary:
            temporary.write_text("half-written")
            raise RuntimeError("killed")
    assert destination.read_text() == "previous"
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["result.npz"]


def test_exception_before_anything_is_written_leaves_no_destination(tmp_path):
    destination = tmp_path / "new.json"
    with pytest.raises(KeyError):
        with io.atomic_path(destination):
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
    io.save_arrays(path, **arrays)
    loaded = io.load_arrays(path)
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == np.asarray(value).dtype
        assert loaded[key].shape == np.asarray(value).shape
    assert leftovers(tmp_path) == []
    # Overwriting replaces the whole file.
    io.save_arrays(path, only=np.zeros(2))
    assert set(io.load_arrays(path)) == {"only"}


def test_load_arrays_refuses_pickled_objects(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        io.load_arrays(path)


def test_save_array_round_trip(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    io.save_array(tmp_path / "a.npy", array)
    loaded = io.load_array(tmp_path / "a.npy")
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype == np.float32
    with pytest.raises(ValueError):
        io.save_array(tmp_path / "b.npy", np.array([None, 1], dtype=object))  # no pickles
    assert not (tmp_path / "b.npy").exists() and leftovers(tmp_path) == []


def test_json_and_text(tmp_path):
    value = {"b": [1, 2.5, None], "a": {"nested": "x"}}
    io.write_json(tmp_path / "v.json", value)
    assert io.read_json(tmp_path / "v.json") == value
    text = (tmp_path / "v.json").read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')  # sorted keys
    io.write_text(tmp_path / "t.txt", "hello\n")
    assert (tmp_path / "t.txt").read_text() == "hello\n"
    assert leftovers(tmp_path) == []


# --- tables --------------------------------------------------------------------------------------

FPRS = [1e-5, 1e-3, 1e-2]


def example_rows():
    rng = np.random.default_rng(0)
    labels = np.arange(2000) < 1000
    return {
        "lira_online": metrics.summarise(rng.normal(size=2000) + 2 * labels, labels, FPRS),
        "global_threshold": metrics.summarise(rng.normal(size=2000), labels, FPRS),
    }


def test_markdown_shows_not_measurable_and_percentages():
    rows = example_rows()
    frame = tables.metrics_frame(rows)
    assert list(frame.index) == ["lira_online", "global_threshold"] and frame.index.name == "attack"
    text = tables.markdown(frame, FPRS, caption="Fashion-MNIST, 16 shadows")
    lines = text.strip().split("\n")
    assert lines[0] == "Fashion-MNIST, 16 shadows" and lines[1] == ""
    header, rule, first, second = lines[2:]
    assert header.split(" | ")[1:4] == ["TPR @ 0.001% FPR", "TPR @ 0.1% FPR", "TPR @ 1% FPR"]
    assert header.count("|") == rule.count("|")
    cells = [c.strip() for c in first.strip("|").split("|")]
    online = rows["lira_online"]
    assert cells[0] == "`lira_online`"
    # 1000 non-members: 0.001 % is below one negative.
    assert cells[1] == tables.NOT_MEASURABLE == "not measurable"
    assert math.isnan(online["tpr@0.001%"])
    assert cells[2] == f"{100 * online['tpr@0.1%']:.2f}% (at {100 * online['fpr_achieved@0.1%']:.3g}%)"
    assert cells[3].startswith(f"{100 * online['tpr@1%']:.2f}%")
    assert cells[4] == f"{online['auc']:.4f}"
    assert cells[5] == f"{100 * online['balanced_accuracy']:.2f}%"
    assert cells[6:] == ["1000", "1000"]
    assert "nan" not in text.lower()
    assert second.startswith("| `global_threshold` | not measurable |")


def test_tpr_cell_and_percent():
    assert tables.tpr_cell(float("nan"), float("nan")) == "not measurable"
    assert tables.tpr_cell(0.1234, 0.0009) == "12.34% (at 0.09%)"
    assert tables.tpr_cell(0.0, 0.0) == "0.00% (at 0%)"
    assert tables.percent(0.5) == "50.00%"


# --- the analysis side needs no torch ------------------------------------------------------------


def test_analysis_modules_do_not_import_torch():
    modules = [
        "lira.statistics", "lira.gaussian", "lira.attacks", "lira.metrics", "lira.tables",
        "lira.plots", "lira.io", "lira.splits", "lira.datasets", "lira.queries",
    ]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
    code += "print('TORCH:', loaded)\nassert not loaded, loaded\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "TORCH: []" in result.stdout
