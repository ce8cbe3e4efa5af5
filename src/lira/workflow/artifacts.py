"""Checks on artifacts where they are consumed: their content hashes, and the fingerprint every
artifact carries.

Content. Every artifact a job consumes is checked against a sha256 that the job that made it
recorded, so that a file changed since (a flipped byte, an edited value) is refused, with one line
naming the file and what to delete or rerun (ArtifactError):

- pool.npz: `content_hash`, over its arrays (content_hash()), recomputed by every job that
  reads the pool (load_pool, expected_fingerprint);
- models/<block>.pt: its file's sha256 in models/<block>.json (`sha256`), checked by the
  logits job before the weights are unpickled;
- logits/<block>.npy: its file's sha256 in logits/<block>.json (`sha256`), checked by the shadows
  job;
- shadows/<statistic>.npy and keep.npy: each file's sha256 in shadows/info.json (`sha256`, by
  name), checked in full, with the values' finiteness, the first time a job reads a stack
  (Shadows: the fit reads every stack, an attack or figure the stacks it uses);
- fit.npz, attacks/<attack>.npz: `content_hash` over their other arrays, checked by every reader
  (they read the whole file anyway);
- metrics/<attack>.json: `content_hash` over its canonical JSON (json_hash()), checked by the tables
  and the ROC figure.

A file and the record of its hash are outputs of the same job, so a rerun writes both. Results of
an older version of the workflow, without the hashes, are refused with the rule to rerun.

The fingerprint names the pool and the split design an artifact was made from: 16 hex digits of
sha256 over the pool's content hash, the seed (which, with the design, decides every model's split
and initialisation) and lira.core.splits.DESIGN (the split design's name and version). Every
artifact records it (models/<block>.json, logits/<block>.json beside the .npy,
shadows/info.json, fit.npz, attacks/<attack>.npz, metrics/<attack>.json) and every
consumer recomputes the expected value from the pool it is given and refuses a mismatch, so logits
of a model trained on another pool, or with another split design, never enter an attack.

Consumers also check shapes and refuse NaN or infinite values, with errors naming the file.
numpy only (model weights are read by lira.models.weights).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lira.core import splits
from lira.workflow import files


class ArtifactError(files.ReportedError, ValueError):
    """An artifact is missing its fingerprint or content hash, was changed since the job that
    made it wrote it, was made from another pool or split, or holds values of the wrong shape or
    non-finite values. Its message is one line naming the file and what to do."""


# The errors reading a damaged file can raise (numpy, zipfile, the OS).
READ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, IndexError, TypeError, RuntimeError)

# Which rule makes each artifact: by file name, else by folder.
_PRODUCERS = {"pool.npz": "pool", "fit.npz": "fit", "models": "train", "logits": "logits", "shadows": "shadows",
              "attacks": "attack", "metrics": "evaluate"}  # fmt: skip


def producer(path) -> str | None:
    """The rule that writes `path` (None if not one of the workflow's artifacts)."""
    path = Path(path)
    return _PRODUCERS.get(path.name) or _PRODUCERS.get(path.parent.name)


def rerun_hint(path) -> str:
    rule = producer(path)
    return f"rerun its rule: snakemake --forcerun {rule}" if rule else "remake it"


def remake_hint(path) -> str:
    """What to do about one changed file: delete it, and its rule remakes it."""
    rule = producer(path)
    return f"delete it so that rule {rule} remakes it" if rule else "delete it and remake it"


# --- content hashes --------------------------------------------------------------------------------


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes (key order does not matter)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(json.dumps([name, array.dtype.str, list(array.shape)]).encode())
        digest.update(array.data)
    return digest.hexdigest()


def with_content_hash(arrays: dict) -> dict:
    """`arrays` and their content_hash, as an .npz artifact stores them."""
    arrays = {name: value for name, value in arrays.items() if name != "content_hash"}
    return {**arrays, "content_hash": np.array(content_hash(arrays))}


def _check_stored_hash(path, stored, compute, remedy: str, missing_remedy: str) -> str:
    """The content_hash `stored` in the artifact `path` (None: it has none) must equal
    compute(), the hash of its content recomputed; returns it."""
    if stored is None:
        raise ArtifactError(f"{path}: carries no content hash (written by an older version of the workflow); {missing_remedy}")
    found = compute()
    if str(stored) != found:
        raise ArtifactError(
            f"{path}: content does not match the content_hash recorded in it by the job that wrote it "
            f"(changed since?); {remedy}"
        )
    return found


def check_content_hash(path, arrays: dict, remedy: str | None = None) -> str:
    """The arrays of the .npz `path` must hash to the content_hash stored among them; returns it."""
    return _check_stored_hash(
        path,
        arrays.get("content_hash"),
        lambda: content_hash({name: value for name, value in arrays.items() if name != "content_hash"}),
        remedy or remake_hint(path),
        rerun_hint(path),
    )


def save_npz(path, **arrays) -> None:
    """An .npz artifact: the arrays and their content_hash (load_npz checks it)."""
    files.save_arrays(path, **with_content_hash(arrays))


def json_hash(value: dict) -> str:
    """sha256 of a JSON object's canonical text (sorted keys, no spaces), without its content_hash;
    computed on the value as JSON gives it back, so a written and a read value hash alike."""
    value = json.loads(json.dumps({key: item for key, item in value.items() if key != "content_hash"}))
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_hashed_json(path, value: dict) -> None:
    """A JSON artifact with its content_hash (load_json(..., hashed=True) checks it)."""
    files.write_json(path, {**value, "content_hash": json_hash(value)})


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded(path, record_path, recorded) -> str:
    if not isinstance(recorded, str) or len(recorded) != 64:
        raise ArtifactError(
            f"{record_path}: records no sha256 of {path} (written by an older version of the workflow); "
            f"{rerun_hint(path)}"
        )
    return recorded


def _mismatch(path, record_path, remedy: str) -> ArtifactError:
    return ArtifactError(
        f"{path}: content does not match the sha256 recorded in {record_path} by the job that wrote it "
        f"(changed since?); {remedy}"
    )


def check_file_sha256(path, recorded, record_path, remedy: str) -> None:
    """The file `path` must have the sha256 `recorded` (read from `record_path`)."""
    recorded = _recorded(path, record_path, recorded)
    try:
        found = file_sha256(path)
    except OSError as error:
        raise ArtifactError(f"{path}: unreadable ({error.strerror or error}); {remedy}") from None
    if found != recorded:
        raise _mismatch(path, record_path, remedy)


def read_checked_bytes(path, recorded, record_path, remedy: str) -> bytes:
    """The bytes of `path`, read once, after checking them against the sha256 `recorded`."""
    recorded = _recorded(path, record_path, recorded)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ArtifactError(f"{path}: unreadable ({error.strerror or error}); {remedy}") from None
    if hashlib.sha256(data).hexdigest() != recorded:
        raise _mismatch(path, record_path, remedy)
    return data


# --- the pool and the fingerprint ------------------------------------------------------------------


_POOL_REMEDY = "delete it to remake the pool (every model made from it then retrains)"
# Pools whose content hash this process has recomputed: (path, inode, size, mtime) -> hash.
_checked_pools: dict[tuple, str] = {}


def _pool_key(path) -> tuple:
    status = os.stat(path)
    return (str(Path(path).resolve()), status.st_ino, status.st_size, status.st_mtime_ns)


def load_pool(path) -> dict[str, np.ndarray]:
    """The pool's arrays, after recomputing their content hash and comparing it with the stored
    content_hash, which every fingerprint derives from: a pool changed since it was made (labels
    edited and the hash kept) is refused."""
    try:
        key = _pool_key(path)
        arrays = files.load_arrays(path)
    except READ_ERRORS as error:
        raise ArtifactError(f"{path}: unreadable ({error}); {_POOL_REMEDY}") from None
    _checked_pools[key] = check_content_hash(path, arrays, _POOL_REMEDY)
    return arrays


def pool_content_hash(path) -> str:
    """The pool's content hash, recomputed (once per process and version of the file)."""
    try:
        key = _pool_key(path)
    except OSError as error:
        raise ArtifactError(f"{path}: unreadable ({error.strerror or error}); {_POOL_REMEDY}") from None
    if key not in _checked_pools:
        load_pool(path)
    return _checked_pools[key]


def fingerprint(pool_content_hash: str, seed: int) -> str:
    """The fingerprint of artifacts made from a pool with this content hash under this seed and
    the current split design."""
    text = json.dumps({"pool": pool_content_hash, "seed": int(seed), "split_design": splits.DESIGN}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]



def expected_fingerprint(pool_path, seed: int) -> str:
    """The fingerprint every artifact made from the pool in `pool_path` under `seed` must carry
    (the pool's content hash recomputed, load_pool)."""
    return fingerprint(pool_content_hash(pool_path), seed)


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


def check_array(
    path, name: str, array: np.ndarray, shape: tuple | None = None, finite: bool = True, remedy: str = ""
) -> np.ndarray:
    """Refuse `array` (entry `name` of file `path`) when its shape differs from `shape` (None in
    `shape`: any size) or, with finite=True, when it holds NaN or infinite values. `remedy`, if
    given, ends the message ("; delete it ...")."""
    end = f"; {remedy}" if remedy else ""
    if shape is not None:
        if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape)):
            wanted = "[" + ", ".join("*" if want is None else str(want) for want in shape) + "]"
            raise ArtifactError(f"{path}: {name} has shape {list(array.shape)}, expected {wanted}{end}")
    if finite and array.dtype.kind in "fc":
        bad = ~np.isfinite(array)
        if bad.any():
            nans = int(np.isnan(array).sum())
            raise ArtifactError(
                f"{path}: {name} holds {nans} NaN and {int(bad.sum()) - nans} infinite values "
                f"(the first at index {[int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape)]}){end}"
            )
    return array


def load_npz(path, expected: str) -> dict[str, np.ndarray]:
    """An .npz artifact's arrays (fit.npz, attacks/<attack>.npz), after checking their content
    hash and their fingerprint against `expected`."""
    try:
        arrays = files.load_arrays(path)
    except READ_ERRORS as error:
        raise ArtifactError(f"{path}: unreadable ({error}); {remake_hint(path)}") from None
    check_content_hash(path, arrays)
    check_fingerprint(path, arrays.get("fingerprint"), expected)
    return arrays


def load_json(path, expected: str, hashed: bool = False) -> dict:
    """A JSON artifact, after checking its fingerprint against `expected` and, with hashed=True
    (metrics/<attack>.json), its content_hash (write_hashed_json)."""
    try:
        value = files.read_json(path)
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path}: unreadable ({error}); {remake_hint(path)}") from None
    if hashed:
        stored = value.get("content_hash") if isinstance(value, dict) else None
        _check_stored_hash(path, stored, lambda: json_hash(value), remake_hint(path), rerun_hint(path))
    check_fingerprint(path, value.get("fingerprint") if isinstance(value, dict) else None, expected)
    return value


def write_array_with_info(path, info_path, array: np.ndarray, **info) -> None:
    """Save `array` as .npy and, beside it, a JSON sidecar with its shape, dtype, sha256 and `info`
    (the fingerprint among it); load_array_with_info checks the pair."""
    files.save_array(path, array)
    files.write_json(info_path, {**info, "shape": list(array.shape), "dtype": array.dtype.str, "sha256": file_sha256(path)})


def block_remedy(path) -> str:
    """What to do about a block's changed file (models/<block>.pt, logits/<block>.npy): delete it
    and its JSON record, so that its rule remakes the block."""
    block = Path(path).stem
    if producer(path) == "train":
        return f"delete both files to retrain block {block}"
    return f"delete both files to rerun rule {producer(path) or 'its rule'} for block {block}"


def load_array_with_info(path, info_path, expected: str, name: str, shape: tuple | None = None) -> tuple[np.ndarray, dict]:
    """An .npy artifact (`name`: what it holds, for errors) and its sidecar: the fingerprint, that
    the sidecar describes this very file (sha256), the shape, and finite values."""
    info = load_json(info_path, expected)
    remedy = block_remedy(path)
    check_file_sha256(path, info.get("sha256"), info_path, remedy)
    try:
        array = files.load_array(path)
    except READ_ERRORS as error:
        raise ArtifactError(f"{path}: unreadable ({error}); {remedy}") from None
    return check_array(path, name, array, shape), info


def load_logits(path, info_path, expected: str, models, shape: tuple) -> tuple[np.ndarray, dict]:
    """A block's logits [models, pool, queries, classes] and their sidecar, checked as
    load_array_with_info does, and that the sidecar describes exactly the block's `models`."""
    logits, info = load_array_with_info(path, info_path, expected, "logits", shape)
    if info.get("models") != list(models):
        raise ArtifactError(f"{info_path}: describes models {info.get('models')}, not {list(models)}")
    return logits, info


def check_keep(path, keep: np.ndarray, seed: int, n_models: int, pool_size: int, split=None) -> np.ndarray:
    """keep [N, pool] must be exactly the split design's masks for this seed (and split: the part
    of the pool the shadows train on, as shadows/info.json records it)."""
    check_array(path, "keep", keep, (n_models, pool_size), finite=False)
    if not np.array_equal(keep, splits.keep_matrix(seed, n_models, pool_size, split)):
        raise ArtifactError(
            f"{path}: keep masks differ from the split design {splits.DESIGN} for seed {seed}; {remake_hint(path)}"
        )
    return keep


# One read of a stack while checking it: 16 MiB.
SCAN_BYTES = 1 << 24


def check_stack(path, stack: np.memmap, name: str, recorded, record_path) -> None:
    """One pass over the .npy file `path` (memory-mapped as `stack`): its sha256 must be
    `recorded` (from `record_path`) and its values finite. Memory: one read of SCAN_BYTES."""
    recorded = _recorded(path, record_path, recorded)
    digest = hashlib.sha256()
    dtype, finite = stack.dtype, True
    data_end = stack.offset + stack.nbytes
    try:
        with open(path, "rb") as handle:
            digest.update(handle.read(stack.offset))
            position = stack.offset
            while block := handle.read(SCAN_BYTES):
                digest.update(block)
                values = min(len(block), max(data_end - position, 0)) // dtype.itemsize
                if finite and dtype.kind in "fc" and values:
                    finite = bool(np.isfinite(np.frombuffer(block, dtype, values)).all())
                position += len(block)
    except OSError as error:
        raise ArtifactError(f"{path}: unreadable ({error.strerror or error}); {remake_hint(path)}") from None
    if digest.hexdigest() != recorded:
        raise _mismatch(path, record_path, remake_hint(path))
    if not finite:  # the sha256 recorded is of non-finite values: say where they are
        check_array(path, name, stack, remedy=remake_hint(path))


class Shadows(Mapping):
    """The shadows step's stacks by statistic, [N, pool, queries] each, memory-mapped read-only.
    A stack is checked the first time it is read: its shape, the sha256 that shadows/info.json
    records of its file and its values' finiteness, in one pass over the file (check_stack). So a
    job pays for the stacks it uses: the fit for all of them, an attack for its statistic."""

    def __init__(self, paths, info: dict, info_path, names, shape: tuple):
        self._paths, self._info, self._info_path = paths, info, info_path
        self._names, self._shape = list(names), shape
        self._checked: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._checked:
            path = self._paths[name]
            try:
                stack = np.load(path, mmap_mode="r", allow_pickle=False)
            except READ_ERRORS as error:
                raise ArtifactError(f"{path}: unreadable ({error}); {remake_hint(path)}") from None
            check_array(path, name, stack, self._shape, finite=False, remedy=remake_hint(path))
            check_stack(path, stack, name, self._info["sha256"].get(name), self._info_path)
            self._checked[name] = stack
        return self._checked[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def load_shadows(paths: dict, expected: str, seed: int, statistics=None) -> tuple[Shadows, np.ndarray, dict]:
    """The shadows step's outputs, checked: `paths` maps each statistic, "keep" and "info" to its
    file (the rules pass them as named inputs). Returns the stacks [N, pool, queries] (Shadows:
    memory-mapped, read-only, each checked against its recorded sha256 when first read), the keep
    masks [N, pool] (checked against their sha256, and the split design's for this seed) and
    the info."""
    info_path = paths["info"]
    info = load_json(info_path, expected)
    names = info["statistics"] if statistics is None else list(statistics)
    recorded = info.get("sha256")
    if not isinstance(recorded, dict) or any(name not in recorded for name in [*names, "keep"]):
        raise ArtifactError(
            f"{info_path}: records no sha256 of the stacks (written by an older version of the workflow); "
            f"{rerun_hint(info_path)}"
        )
    shape = (info["models"], info["pool_size"], info["queries"])
    keep_path = paths["keep"]
    check_file_sha256(keep_path, recorded["keep"], info_path, remake_hint(keep_path))
    try:
        keep = files.load_array(keep_path)
    except READ_ERRORS as error:
        raise ArtifactError(f"{keep_path}: unreadable ({error}); {remake_hint(keep_path)}") from None
    check_keep(keep_path, keep, seed, *shape[:2], info.get("split"))
    return Shadows(paths, info, info_path, names, shape), keep, info
