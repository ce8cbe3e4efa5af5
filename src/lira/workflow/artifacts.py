"""Checks on artifacts where they are consumed, and the fingerprint every artifact carries.

The fingerprint names the pool and the split design an artifact was made from: 16 hex digits of
sha256 over the pool's content hash (stored in pool.npz), the seed (which, with the design,
decides every model's split and initialisation) and lira.core.splits.DESIGN (the split design's name and
version). Every artifact records it (models/<block>.json, logits/<block>.json beside the .npy,
shadows/info.json, fit.npz, attacks/<attack>.npz, metrics/<attack>.json) and every
consumer recomputes the expected value from the pool it is given and refuses a mismatch, so logits
of a model trained on another pool, or with another split design, never enter an attack.

Consumers also check shapes and refuse NaN or infinite values, with errors naming the file.
numpy only (model weights are read by lira.models.weights).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from lira.core import splits
from lira.workflow import files


class ArtifactError(ValueError):
    """An artifact is missing its fingerprint, was made from another pool or split, or holds
    values of the wrong shape or non-finite values."""


# --- the fingerprint -------------------------------------------------------------------------------


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes (key order does not matter)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(json.dumps([name, array.dtype.str, list(array.shape)]).encode())
        digest.update(array.data)
    return digest.hexdigest()


def fingerprint(pool_content_hash: str, seed: int) -> str:
    """The fingerprint of artifacts made from a pool with this content hash under this seed and
    the current split design."""
    text = json.dumps({"pool": pool_content_hash, "seed": int(seed), "split_design": splits.DESIGN}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_npz_entry(path, key: str):
    """One entry of an .npz, without reading the others; None when it has no such entry."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return data[key] if key in data.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ArtifactError(f"{path}: unreadable ({error})") from error


def expected_fingerprint(pool_path, seed: int) -> str:
    """The fingerprint every artifact made from the pool in `pool_path` under `seed` must carry."""
    stored = read_npz_entry(pool_path, "content_hash")
    if stored is None:
        raise ArtifactError(f"{pool_path}: no content_hash (made by an older version of the workflow); delete it to rebuild")
    return fingerprint(str(stored), seed)


def check_fingerprint(path, found, expected: str) -> None:
    if found is None:
        raise ArtifactError(
            f"{path}: carries no fingerprint of its pool and split (made by an older version of the "
            "workflow?); delete it so that its rule reruns"
        )
    found = str(found.item() if isinstance(found, np.ndarray) else found)
    if found != expected:
        raise ArtifactError(
            f"{path}: made from another pool or split design (fingerprint {found}, this pool and seed "
            f"give {expected}); delete it so that its rule reruns"
        )


# --- loading with checks ---------------------------------------------------------------------------


def check_array(path, name: str, array: np.ndarray, shape: tuple | None = None, finite: bool = True) -> np.ndarray:
    """Refuse `array` (entry `name` of file `path`) when its shape differs from `shape` (None in
    `shape`: any size) or, with finite=True, when it holds NaN or infinite values."""
    if shape is not None:
        if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape)):
            wanted = "[" + ", ".join("*" if want is None else str(want) for want in shape) + "]"
            raise ArtifactError(f"{path}: {name} has shape {list(array.shape)}, expected {wanted}")
    if finite and array.dtype.kind in "fc":
        bad = ~np.isfinite(array)
        if bad.any():
            nans = int(np.isnan(array).sum())
            raise ArtifactError(
                f"{path}: {name} holds {nans} NaN and {int(bad.sum()) - nans} infinite values "
                f"(the first at index {[int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape)]})"
            )
    return array


def load_npz(path, expected: str) -> dict[str, np.ndarray]:
    """An .npz artifact's arrays, after checking its fingerprint against `expected`."""
    try:
        arrays = files.load_arrays(path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ArtifactError(f"{path}: unreadable ({error})") from error
    check_fingerprint(path, arrays.get("fingerprint"), expected)
    return arrays


def load_json(path, expected: str) -> dict:
    """A JSON artifact, after checking its fingerprint against `expected`."""
    try:
        value = files.read_json(path)
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path}: unreadable ({error})") from error
    check_fingerprint(path, value.get("fingerprint") if isinstance(value, dict) else None, expected)
    return value


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_array_with_info(path, info_path, array: np.ndarray, **info) -> None:
    """Save `array` as .npy and, beside it, a JSON sidecar with its shape, dtype, sha256 and `info`
    (the fingerprint among it); load_array_with_info checks the pair."""
    files.save_array(path, array)
    files.write_json(info_path, {**info, "shape": list(array.shape), "dtype": array.dtype.str, "sha256": file_sha256(path)})


def load_array_with_info(path, info_path, expected: str, name: str, shape: tuple | None = None) -> tuple[np.ndarray, dict]:
    """An .npy artifact (`name`: what it holds, for errors) and its sidecar: the fingerprint, that
    the sidecar describes this very file (sha256), the shape, and finite values."""
    info = load_json(info_path, expected)
    if info.get("sha256") != file_sha256(path):
        raise ArtifactError(f"{path}: its content does not match {info_path} (sha256 differs): written by another job?")
    try:
        array = files.load_array(path)
    except (OSError, ValueError, EOFError) as error:
        raise ArtifactError(f"{path}: unreadable ({error})") from error
    return check_array(path, name, array, shape), info


def load_logits(path, info_path, expected: str, models, shape: tuple) -> tuple[np.ndarray, dict]:
    """A block's logits [models, pool, queries, classes] and their sidecar, checked as
    load_array_with_info does, and that the sidecar describes exactly the block's `models`."""
    logits, info = load_array_with_info(path, info_path, expected, "logits", shape)
    if info.get("models") != list(models):
        raise ArtifactError(f"{info_path}: describes models {info.get('models')}, not {list(models)}")
    return logits, info


def check_keep(path, keep: np.ndarray, seed: int, n_models: int, pool_size: int) -> np.ndarray:
    """keep [N, pool] must be exactly the split design's masks for this seed."""
    check_array(path, "keep", keep, (n_models, pool_size), finite=False)
    if not np.array_equal(keep, splits.keep_matrix(seed, n_models, pool_size)):
        raise ArtifactError(f"{path}: keep masks differ from the split design {splits.DESIGN} for seed {seed}")
    return keep


def load_shadows(paths: dict, expected: str, seed: int, statistics=None) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """The shadows step's outputs, checked: `paths` maps each statistic, "keep" and "info" to its
    file (the rules pass them as named inputs). Returns the stacks [N, pool, queries], memory-mapped
    (read-only), the keep masks [N, pool] (the split design's, for this seed) and the info."""
    info = load_json(paths["info"], expected)
    shape = (info["models"], info["pool_size"], info["queries"])
    stacks = {}
    for name in info["statistics"] if statistics is None else statistics:
        try:
            stacks[name] = np.load(paths[name], mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise ArtifactError(f"{paths[name]}: unreadable ({error})") from error
        check_array(paths[name], name, stacks[name], shape, finite=False)  # values checked when stacked
    keep = check_keep(paths["keep"], files.load_array(paths["keep"]), seed, *shape[:2])
    return stacks, keep, info

