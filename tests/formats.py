"""Writers for tiny dataset files in the real on-disk formats, shared by the tests."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dimensions, raw data."""
    assert array.dtype == np.uint8
    return struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_fashion_mnist(directory: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """Random 28x28 images with random labels, as the four gzipped IDX files Debian ships."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return directory


class _Python2Pickler(pickle._Pickler):
    """Writes bytes and str the way Python 2's cPickle did (STRING opcodes), as in the real
    cifar-10-python.tar.gz; Python 3 reads them back as str with encoding='latin1'."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_string
    dispatch[str] = _save_py2_string


def python2_pickle(value) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(value)
    # numpy 1.x (and Python 2) named the reconstructor numpy.core.multiarray.
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_batch(rng, n, label_key, num_classes):
    batch = {
        "batch_label": "training batch 1 of 5",
        "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key: [int(v) for v in rng.integers(0, num_classes, size=n)],
        "filenames": [f"image_{i}.png" for i in range(n)],
    }
    if label_key == "fine_labels":
        batch["coarse_labels"] = [int(v) for v in rng.integers(0, 20, size=n)]
    return batch


def write_batch(path, batch, style):
    path.parent.mkdir(parents=True, exist_ok=True)
    if style == "python2":
        path.write_bytes(python2_pickle(batch))
    else:
        with open(path, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)


def write_cifar10(root, style="protocol2", seed=0, sizes=(3, 2, 4, 1, 2, 5)):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    batches = {}
    for name, n in zip([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], sizes):
        batches[name] = cifar_batch(rng, n, "labels", 10)
        write_batch(folder / name, batches[name], style)
    return folder, batches


class CodeRunningPickle:
    """Unpickling this runs `touch marker`: what a planted (malicious) pickle would do. The tests
    plant it in weights and dataset files and check the marker never appears."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` and its bytes, by relative path: to assert what a step left alone."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def flip_inside_a_tensor(path: Path, count: int = 64) -> None:
    """Invert `count` bytes inside the largest tensor's data of a torch zip file: the file stays
    loadable (torch.load does not check the zip's CRCs), the weights are silently damaged."""
    with zipfile.ZipFile(path) as archive:
        entry = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[entry.header_offset + 26 : entry.header_offset + 30])
    start = entry.header_offset + 30 + name_length + extra_length + entry.file_size // 4
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))
