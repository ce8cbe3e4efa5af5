"""Checks on artifacts where they are consumed (lira.workflow.artifacts), and that every job writes
its outputs through lira.workflow.files's atomic writers (the weights files: tests/models/test_weights.py;
the provenance helpers: tests/workflow/test_provenance.py)."""

from __future__ import annotations

import ast
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from lira.core import splits
from lira.workflow import artifacts, files
from lira.workflow.artifacts import ArtifactError


def pool_file(tmp_path, seed=0):
    pool = {"x": np.arange(24, dtype=np.uint8).reshape(6, 1, 2, 2), "y": np.array([0, 1, 2, 0, 1, 2])}
    pool["content_hash"] = artifacts.content_hash(pool)
    files.save_arrays(tmp_path / "pool.npz", **pool)
    return tmp_path / "pool.npz", artifacts.fingerprint(pool["content_hash"], seed)


def test_the_fingerprint_depends_on_pool_seed_and_split_design(tmp_path, monkeypatch):
    path, fingerprint = pool_file(tmp_path)
    assert artifacts.expected_fingerprint(path, 0) == fingerprint and len(fingerprint) == 16
    assert artifacts.expected_fingerprint(path, 1) != fingerprint
    other = {"x": np.zeros((6, 1, 2, 2), np.uint8), "y": np.zeros(6, np.int64)}
    assert artifacts.fingerprint(artifacts.content_hash(other), 0) != fingerprint
    monkeypatch.setattr(splits, "DESIGN", "complementary-pairs/2")
    assert artifacts.expected_fingerprint(path, 0) != fingerprint


def test_content_hash_ignores_key_order_but_not_dtype_shape_or_bytes():
    a, b = np.arange(6, dtype=np.int64), np.ones(3, np.float32)
    base = artifacts.content_hash({"a": a, "b": b})
    assert artifacts.content_hash({"b": b, "a": a}) == base
    assert artifacts.content_hash({"a": a.astype(np.int32), "b": b}) != base
    assert artifacts.content_hash({"a": a.reshape(2, 3), "b": b}) != base
    assert artifacts.content_hash({"a": a + 1, "b": b}) != base


def test_an_artifact_of_another_pool_or_without_fingerprint_is_refused(tmp_path):
    _, fingerprint = pool_file(tmp_path)
    artifacts.save_npz(tmp_path / "good.npz", v=np.ones(3), fingerprint=np.array(fingerprint))
    assert artifacts.load_npz(tmp_path / "good.npz", fingerprint)["v"].tolist() == [1, 1, 1]
    artifacts.save_npz(tmp_path / "other.npz", v=np.ones(3), fingerprint=np.array("0" * 16))
    with pytest.raises(ArtifactError, match=r"other\.npz: made from another pool or split design \(fingerprint 0{16}"):
        artifacts.load_npz(tmp_path / "other.npz", fingerprint)
    artifacts.save_npz(tmp_path / "old.npz", v=np.ones(3))
    with pytest.raises(ArtifactError, match=r"old\.npz: carries no fingerprint"):
        artifacts.load_npz(tmp_path / "old.npz", fingerprint)
    files.write_json(tmp_path / "m.json", {"fingerprint": "f" * 16})
    with pytest.raises(ArtifactError, match=r"m\.json: made from another pool"):
        artifacts.load_json(tmp_path / "m.json", fingerprint)
    (tmp_path / "cut.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:50])
    with pytest.raises(ArtifactError, match=r"cut\.npz: unreadable"):
        artifacts.load_npz(tmp_path / "cut.npz", fingerprint)


def test_wrong_shapes_and_non_finite_values_are_refused_with_the_file_named():
    values = np.zeros((4, 3, 2), np.float32)
    assert artifacts.check_array("f.npy", "logits", values, (4, None, 2)) is values
    with pytest.raises(ArtifactError, match=r"f\.npy: logits has shape \[4, 3, 2\], expected \[5, \*, 2\]"):
        artifacts.check_array("f.npy", "logits", values, (5, None, 2))
    with pytest.raises(ArtifactError, match=r"expected \[4, 3\]"):
        artifacts.check_array("f.npy", "logits", values, (4, 3))
    values[1, 2, 0], values[3, 0, 1], values[0, 0, 0] = np.nan, -np.inf, np.nan
    with pytest.raises(ArtifactError, match=r"f\.npy: logits holds 2 NaN and 1 infinite values \(the first at index \[0, 0, 0\]\)"):
        artifacts.check_array("f.npy", "logits", values)
    artifacts.check_array("f.npy", "logits", values, finite=False)


def test_an_array_and_its_sidecar_must_match(tmp_path):
    logits = np.random.default_rng(0).normal(size=(6, 2, 3)).astype(np.float32)
    npy, info = tmp_path / "0.npy", tmp_path / "0.json"
    artifacts.write_array_with_info(npy, info, logits, fingerprint="a" * 16, model=0)
    loaded, sidecar = artifacts.load_array_with_info(npy, info, "a" * 16, "logits", (6, 2, 3))
    assert np.array_equal(loaded, logits) and sidecar["model"] == 0 and sidecar["shape"] == [6, 2, 3]
    with pytest.raises(ArtifactError, match="made from another pool"):
        artifacts.load_array_with_info(npy, info, "b" * 16, "logits")
    files.save_array(npy, logits[:, :1])  # the .npy replaced behind its sidecar's back
    with pytest.raises(ArtifactError, match=r"0\.npy: content does not match the sha256 recorded in .*0\.json by the job that wrote it"):
        artifacts.load_array_with_info(npy, info, "a" * 16, "logits")


def test_a_blocks_logits_must_be_of_its_models(tmp_path):
    logits = np.zeros((2, 3, 4, 5), np.float32)
    npy, info = tmp_path / "4-5.npy", tmp_path / "4-5.json"
    artifacts.write_array_with_info(npy, info, logits, fingerprint="a" * 16, models=[4, 5])
    loaded, sidecar = artifacts.load_logits(npy, info, "a" * 16, range(4, 6), (2, 3, 4, 5))
    assert np.array_equal(loaded, logits) and sidecar["models"] == [4, 5]
    with pytest.raises(ArtifactError, match=r"4-5\.json: describes models \[4, 5\], not \[0, 1\]"):
        artifacts.load_logits(npy, info, "a" * 16, range(2), (2, 3, 4, 5))
    with pytest.raises(ArtifactError, match=r"4-5\.npy: logits has shape \[2, 3, 4, 5\], expected \[2, 3, 6, 5\]"):
        artifacts.load_logits(npy, info, "a" * 16, range(4, 6), (2, 3, 6, 5))


def test_keep_masks_must_be_the_split_designs(tmp_path):
    keep = splits.keep_matrix(3, 4, 10)
    assert artifacts.check_keep("keep.npy", keep, 3, 4, 10) is keep
    with pytest.raises(ArtifactError, match=r"keep\.npy: keep masks differ from the split design complementary-pairs/1 for seed 4"):
        artifacts.check_keep("keep.npy", keep, 4, 4, 10)
    with pytest.raises(ArtifactError, match=r"keep has shape \[4, 10\], expected \[6, 10\]"):
        artifacts.check_keep("keep.npy", keep, 3, 6, 10)


# --- every output is written atomically -----------------------------------------------------------


WRITERS = {"savefig", "to_csv", "save", "savez", "savez_compressed", "write_text", "write_bytes", "dump", "to_json"}


def unsafe_writes(source: str) -> list[str]:
    """Calls in `source` that write a file other than a temporary path of `with files.atomic_path(...)
    as name` (the destination argument: torch.save's second, every other writer's first)."""
    tree = ast.parse(source)
    temporaries = {
        item.optional_vars.id
        for node in ast.walk(tree)
        if isinstance(node, ast.With)
        for item in node.items
        if isinstance(item.context_expr, ast.Call)
        and getattr(item.context_expr.func, "attr", getattr(item.context_expr.func, "id", None)) == "atomic_path"
        and isinstance(item.optional_vars, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITERS:
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("files", "plots", "artifacts"):
                continue  # lira's own writers are atomic
            if isinstance(owner, ast.Name) and owner.id in temporaries:
                continue  # temporary.write_bytes(...)
            target_index = 1 if (isinstance(owner, ast.Name) and owner.id == "torch") else 0
            target = node.args[target_index] if len(node.args) > target_index else None
            if isinstance(target, ast.Name) and (target.id in temporaries or target.id == "buffer"):
                continue
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open" and len(node.args) > 1:
            mode = node.args[1]
            if isinstance(mode, ast.Constant) and any(flag in str(mode.value) for flag in "wax"):
                target = node.args[0]
                if not (isinstance(target, ast.Name) and target.id in temporaries):
                    found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


# Modules of lira that write no job's output through a destination path, or are the atomic writers
# themselves; every other module, and every script, is checked.
NOT_CHECKED = {
    "workflow/files.py": "the atomic writers themselves",
    "models/devices.py": "lock files of GPU claims, no outputs",
    "models/training.py": "checkpoint.save is Checkpoint.save, which writes through files.atomic_path",
    "tools/plan.py": "a calibration the user asked to keep (unreadable: ignored, measured again)",
}
WRITING_CODE = [f"scripts/{p.name}" for p in sorted((REPO / "scripts").glob("*.py"))] + [
    f"src/lira/{name}"
    for name in sorted(p.relative_to(REPO / "src" / "lira").as_posix() for p in (REPO / "src" / "lira").rglob("*.py"))
    if name not in NOT_CHECKED
]


@pytest.mark.parametrize("path", WRITING_CODE)
def test_every_script_and_module_writes_its_outputs_atomically(path):
    assert unsafe_writes((REPO / path).read_text()) == []


def test_the_atomic_write_check_finds_direct_writes():
    source = (
        "import numpy as np\nfrom lira.workflow import files\n"
        "np.save(snakemake.output[0], x)\n"
        "figure.savefig(snakemake.output.png)\n"
        "with open(path, 'w') as handle:\n    pass\n"
        "with files.atomic_path(path) as temporary:\n    frame.to_csv(temporary)\n"
        "files.save_array(path, x)\n"
    )
    assert [line.split(":")[0] for line in unsafe_writes(source)] == ["line 3", "line 4", "line 5"]


# --- the analysis jobs' environment ---------------------------------------------------------------


def test_analysis_side_modules_of_this_issue_need_neither_torch_nor_jsonschema():
    """The analysis jobs' environment (envs/analysis.yaml) has numpy, scipy, pandas, matplotlib and
    seaborn only: what they import of lira.workflow.config, lira.workflow.artifacts and
    lira.workflow.provenance must do."""
    code = (
        "import sys, lira.workflow.artifacts, lira.workflow.config, lira.workflow.provenance\n"
        "lira.workflow.config.config_hash({'seed': 0})\n"
        "assert not {'torch', 'jsonschema', 'yaml'} & set(sys.modules), sorted(sys.modules)\n"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr


# --- content hashes ---------------------------------------------------------------------------------


def test_a_hashed_json_survives_writing_and_reading_and_refuses_any_change(tmp_path):
    value = {"fingerprint": "a" * 16, "pooled": {"auc": 0.1 + 0.2, "tpr@0.001%": None, "tiny": 1e-300},
             "per_target": {"auc": [0.5, -0.0, 1 / 3]}, "by_count": {2: "x", 10: "y"}, "text": "é"}  # fmt: skip
    path = tmp_path / "metrics" / "m.json"
    artifacts.write_hashed_json(path, value)
    loaded = artifacts.load_json(path, "a" * 16, hashed=True)
    assert loaded["content_hash"] == artifacts.json_hash(value) == artifacts.json_hash(loaded)
    for change in (lambda v: v["pooled"].update(auc=0.3), lambda v: v["per_target"]["auc"].append(1.0), lambda v: v.pop("text")):
        edited = files.read_json(path)
        change(edited)
        files.write_json(path, edited)
        with pytest.raises(ArtifactError, match=r"m\.json: content does not match the content_hash recorded in it .* delete it so that rule evaluate remakes it"):
            artifacts.load_json(path, "a" * 16, hashed=True)
        artifacts.write_hashed_json(path, value)


def test_a_stack_is_checked_block_by_block_to_its_last_value(tmp_path, monkeypatch):
    """check_stack reads SCAN_BYTES at a time: a NaN in the last, partial block is found, and the
    bytes after the header count in the hash as the file's sha256 does."""
    monkeypatch.setattr(artifacts, "SCAN_BYTES", 64)
    values = np.arange(3 * 5 * 7, dtype=np.float32).reshape(3, 5, 7)
    path = tmp_path / "s.npy"
    files.save_array(path, values)
    stack = np.load(path, mmap_mode="r")
    artifacts.check_stack(path, stack, "s", artifacts.file_sha256(path), "info.json")
    values[2, 4, 6] = np.inf
    files.save_array(path, values)
    stack = np.load(path, mmap_mode="r")
    with pytest.raises(ArtifactError, match=r"s\.npy: s holds 0 NaN and 1 infinite values \(the first at index \[2, 4, 6\]\)"):
        artifacts.check_stack(path, stack, "s", artifacts.file_sha256(path), "info.json")
    with pytest.raises(ArtifactError, match=r"s\.npy: content does not match the sha256 recorded in info\.json"):
        artifacts.check_stack(path, stack, "s", "0" * 64, "info.json")
    with pytest.raises(ArtifactError, match=r"info\.json: records no sha256 of .*s\.npy \(written by an older version"):
        artifacts.check_stack(path, stack, "s", None, "info.json")


def test_the_pool_hash_is_recomputed_once_per_version_of_the_file(tmp_path, monkeypatch):
    path, fingerprint = pool_file(tmp_path)
    calls = []
    monkeypatch.setattr(artifacts, "content_hash", lambda arrays, real=artifacts.content_hash: calls.append(1) or real(arrays))
    assert artifacts.expected_fingerprint(path, 0) == fingerprint
    assert artifacts.expected_fingerprint(path, 0) == fingerprint and len(calls) == 1
    arrays = files.load_arrays(path)
    arrays["y"] = arrays["y"][::-1].copy()
    files.save_arrays(path, **arrays)  # relabelled, its stored hash kept: another file now
    with pytest.raises(ArtifactError, match=r"pool\.npz: content does not match the content_hash recorded in it"):
        artifacts.expected_fingerprint(path, 0)
