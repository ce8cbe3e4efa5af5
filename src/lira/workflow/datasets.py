"""Reading image datasets from their standard on-disk formats into numpy (no torch).

- Fashion-MNIST: the four IDX files (gzipped or not), as published and as Debian's
  dataset-fashion-mnist package installs them; also torchvision's ROOT/FashionMNIST/raw layout.
- CIFAR-10 / CIFAR-100: the "python version" batches in torchvision's layout,
  ROOT/cifar-10-batches-py/{data_batch_1..5,test_batch} and ROOT/cifar-100-python/{train,test}.

Every loader returns a Dataset with images uint8 [N, C, H, W] and labels int64 [N], and refuses
files that are truncated, have a wrong magic number, or disagree with each other, naming the file.
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lira.workflow.files import ReportedError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
NUM_CLASSES = {"fashion_mnist": 10, "cifar10": 10, "cifar100": 100}
IMAGE_SHAPE = {"fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32), "cifar100": (3, 32, 32)}
CIFAR_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


class DatasetError(ReportedError, ValueError):
    """A dataset file is missing, truncated or inconsistent (one line naming the file)."""


@dataclass
class Split:
    images: np.ndarray  # uint8 [N, C, H, W]
    labels: np.ndarray  # int64 [N]


@dataclass
class Dataset:
    name: str
    train: Split
    test: Split

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES[self.name]


# IDX type codes (third byte of the magic number) that the datasets use.
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array of the shape its header declares."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: cannot read ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(
            f"{path}: header declares shape {shape} ({expected} bytes of data), file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _check_split(images: np.ndarray, labels: np.ndarray, num_classes: int, source: str) -> Split:
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{source}: {images.shape[0]} images but {labels.shape[0]} labels")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(f"{source}: labels must lie in [0, {num_classes}), found {labels.min()}..{labels.max()}")
    return Split(np.ascontiguousarray(images, dtype=np.uint8), labels)


def _find(directory: Path, stem: str) -> Path:
    for folder in (directory, directory / "FashionMNIST" / "raw"):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
    raise DatasetError(f"{directory}: no {stem}[.gz] (looked in it and in FashionMNIST/raw/)")


def load_fashion_mnist(directory: Path) -> Dataset:
    directory = Path(directory)
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        image_file = _find(directory, f"{prefix}-images-idx3-ubyte")
        label_file = _find(directory, f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DatasetError(f"{image_file}: expected uint8 images [N, 28, 28], got {images.dtype} {images.shape}")
        if labels.ndim != 1:
            raise DatasetError(f"{label_file}: expected labels [N], got shape {labels.shape}")
        splits[split] = _check_split(images[:, None], labels, 10, f"{image_file} / {label_file}")
    return Dataset("fashion_mnist", splits["train"], splits["test"])


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """How Python 3 pickles bytes at protocol <= 2: _codecs.encode(str, 'latin1'). Nothing else."""
    if encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """CIFAR's batches are pickles of dicts of lists, bytes and numpy arrays; refuse anything else,
    so a planted file cannot run code. Reads Python 2's pickles (the published files) and Python 3's
    protocol-2 pickles of the same dicts (which spell bytes as _codecs.encode(str, 'latin1'))."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_cifar_batch(path: Path, label_key: str, num_classes: int) -> Split:
    try:
        batch = _ArraysOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except FileNotFoundError as error:
        raise DatasetError(f"{path}: missing (expected torchvision's CIFAR layout)") from error
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise DatasetError(f"{path}: not a readable CIFAR batch ({error})") from error
    if not isinstance(batch, dict) or "data" not in batch or label_key not in batch:
        raise DatasetError(f"{path}: expected a dict with 'data' and '{label_key}'")
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{path}: expected uint8 data [N, 3072], got {data.dtype} {data.shape}")
    # Checked per batch: counts that only agree in total would pair images with wrong labels.
    return _check_split(data.reshape(-1, 3, 32, 32), np.asarray(batch[label_key]), num_classes, str(path))


def load_cifar(directory: Path, name: str) -> Dataset:
    folder = Path(directory) / CIFAR_FOLDER[name]
    if name == "cifar10":
        files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
        label_key = "labels"
    else:
        files = {"train": ["train"], "test": ["test"]}
        label_key = "fine_labels"
    splits = {}
    for split, names in files.items():
        parts = [_read_cifar_batch(folder / file, label_key, NUM_CLASSES[name]) for file in names]
        images = np.concatenate([p.images for p in parts])
        labels = np.concatenate([p.labels for p in parts])
        splits[split] = _check_split(images, labels, NUM_CLASSES[name], f"{folder} ({split})")
    return Dataset(name, splits["train"], splits["test"])


def load_dataset(name: str, directory: Path | None) -> Dataset:
    """Load `name` from `directory` (Fashion-MNIST falls back to Debian's package location)."""
    if name == "fashion_mnist":
        return load_fashion_mnist(Path(directory) if directory else DEBIAN_FASHION_MNIST)
    if name in CIFAR_FOLDER:
        if not directory:
            raise DatasetError(f"dataset {name}: set data.directory to the folder holding {CIFAR_FOLDER[name]}/")
        return load_cifar(Path(directory), name)
    raise DatasetError(f"unknown dataset {name!r}; known: {sorted(NUM_CLASSES)}")


def make_pool(dataset: Dataset, pool_size: int, holdout_size: int, seed: int) -> dict[str, np.ndarray]:
    """The experiment's pool: a seeded subset of the training split that shadow models split
    between them, plus held-out test images for measuring accuracy.

    Returns x uint8 [pool_size, C, H, W], y int64 [pool_size], source_index int64 [pool_size]
    (positions in the training split), holdout_x, holdout_y, and the pool's per-channel
    mean and std (float32 [C], on the 0..1 scale) for input normalisation.
    """
    train, test = dataset.train, dataset.test
    if not 2 <= pool_size <= len(train.labels):
        raise DatasetError(f"data.pool_size={pool_size}: the {dataset.name} training split has {len(train.labels)} images")
    if not 0 <= holdout_size <= len(test.labels):
        raise DatasetError(f"data.holdout_size={holdout_size}: the {dataset.name} test split has {len(test.labels)} images")
    rng = np.random.default_rng([seed, 0x9001])
    source_index = np.sort(rng.permutation(len(train.labels))[:pool_size])
    holdout_index = np.sort(rng.permutation(len(test.labels))[:holdout_size])
    x = train.images[source_index]
    # One channel at a time keeps the float64 copy small for 50k CIFAR images.
    channels = [x[:, c].astype(np.float64) / 255.0 for c in range(x.shape[1])]
    return {
        "x": x,
        "y": train.labels[source_index],
        "source_index": source_index.astype(np.int64),
        "holdout_x": test.images[holdout_index],
        "holdout_y": test.labels[holdout_index],
        "mean": np.array([c.mean() for c in channels], dtype=np.float32),
        "std": np.array([c.std() for c in channels], dtype=np.float32),
        "num_classes": np.int64(dataset.num_classes),
    }
