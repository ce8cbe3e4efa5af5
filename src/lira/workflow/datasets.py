"""Reading datasets from their on-disk formats into numpy (no torch).

- Fashion-MNIST: the four IDX files (gzipped or not), as published and as Debian's
  dataset-fashion-mnist package installs them; also torchvision's ROOT/FashionMNIST/raw layout.
- CIFAR-10 / CIFAR-100: the "python version" batches in torchvision's layout,
  ROOT/cifar-10-batches-py/{data_batch_1..5,test_batch} and ROOT/cifar-100-python/{train,test}.
- "npz": a user's own data as one .npz file of named arrays (np.savez), images or features with
  labels; docs/datasets.md describes it. describe_npz checks one from its headers alone.

Every loader returns a Dataset whose splits hold inputs [N, C, H, W] (uint8 images, or float32
features as [N, D, 1, 1]) and labels int64 [N], and refuses files that are truncated, have a wrong
magic number, or disagree with each other, in one line naming the file (and the array inside it).
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import struct
import zipfile
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
    images: np.ndarray  # uint8 [N, C, H, W], or float32 [N, D, 1, 1] for features
    labels: np.ndarray  # int64 [N]


@dataclass
class Dataset:
    """A training and a test split, and how many classes the labels may take (labels lie in
    0..num_classes-1; a class need not occur). num_classes defaults to the named dataset's."""

    name: str
    train: Split
    test: Split
    num_classes: int | None = None

    def __post_init__(self):
        if self.num_classes is None:
            self.num_classes = NUM_CLASSES[self.name]


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
    return Dataset("fashion_mnist", splits["train"], splits["test"], NUM_CLASSES["fashion_mnist"])


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """How Python 3 pickles bytes at protocol <= 2: _codecs.encode(str, 'latin1'). Nothing else."""
    if encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """CIFAR's batches are pickles of dicts of lists, bytes and numpy arrays; refuse anything else,
    so a planted file cannot run code. Reads Python 2's pickles (the published files) and Python 3's
    protocol-2 pickles of the same dicts (which spell bytes as _codecs.encode(str, 'latin1'))."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

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
    return Dataset(name, splits["train"], splits["test"], NUM_CLASSES[name])


# --- A user's own data: one .npz file -------------------------------------------------------------

NPZ = "npz"  # the dataset name that reads data.file
INPUT_KINDS = ("images", "features")  # the two keys an .npz dataset holds its inputs under (exactly one)
NPZ_KEYS = ("images", "features", "labels", "test_images", "test_features", "test_labels", "num_classes")
_NPZ_LAYOUT = (
    "an .npz dataset holds 'images' or 'features', 'labels', optionally 'test_images' or 'test_features' "
    "with 'test_labels', and optionally 'num_classes' (docs/datasets.md)"
)
_TO_UINT8 = (
    "e.g. np.clip(np.round(x * 255), 0, 255).astype(np.uint8) for values in [0, 1], x.astype(np.uint8) for integers "
    "in 0..255, or store other data as features [N, D]"
)


def _refused(path, key: str | None, message: str) -> DatasetError:
    where = f"{path}: {key}" if key else f"{path}"
    return DatasetError(f"{where}: {message}")


def _one_line(error: BaseException) -> str:
    """numpy's and zipfile's messages sometimes span lines; a refusal is one line."""
    return " ".join(str(error).split()) or type(error).__name__


def _shape(shape) -> str:
    return "[" + ", ".join(str(size) for size in shape) + "]"


@dataclass(frozen=True)
class _Header:
    shape: tuple[int, ...]
    dtype: np.dtype


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, key: str) -> _Header:
    """The shape and dtype of one member from its .npy header: its first bytes, never its data."""
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:  # numpy writes 3.0 only for structured dtypes with non-latin-1 field names
                raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
            data_offset = member.tell()
    except (ValueError, OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as error:
        raise _refused(path, key, f"not a readable .npy array ({_one_line(error)})") from error
    if dtype.hasobject:
        raise _refused(path, key, f"holds Python objects (dtype {dtype}), which are not loaded; store numbers")
    # The central directory gives each member's size: a truncated member shows without reading it.
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if info.file_size - data_offset < needed:
        raise _refused(
            path,
            key,
            f"truncated: its header declares {dtype} {_shape(shape)} ({needed} bytes), "
            f"it holds {info.file_size - data_offset} bytes of data",
        )
    return _Header(tuple(int(size) for size in shape), dtype)


def _read_headers(path: Path) -> tuple[dict[str, _Header], dict[str, int]]:
    """Every member's header, by key (the member's name without .npy), and the num_classes value
    (a scalar: reading it is reading a few bytes) if there is one."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as error:
        raise _refused(path, None, "no such file") from error
    except zipfile.BadZipFile as error:
        try:
            with open(path, "rb") as handle:
                start = handle.read(6)
        except OSError:
            start = b""
        if start == b"\x93NUMPY":
            raise _refused(path, None, "is one array (.npy), not an .npz of named arrays; write it with np.savez")
        raise _refused(path, None, "not an .npz file (not a zip archive)") from error
    except (OSError, ValueError, EOFError) as error:
        raise _refused(path, None, f"cannot read ({_one_line(error)})") from error
    with archive:
        headers, scalars = {}, {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            key = info.filename.removesuffix(".npy")
            if key not in NPZ_KEYS:
                raise _refused(path, key, f"unexpected key; {_NPZ_LAYOUT}")
            headers[key] = _read_header(archive, info, path, key)
            if key == "num_classes":
                header = headers[key]
                if header.shape != () or header.dtype.kind not in "iu":
                    raise _refused(path, key, f"expected an integer scalar, got {header.dtype} {_shape(header.shape)}")
                try:
                    with archive.open(info) as member:
                        scalars[key] = int(np.lib.format.read_array(member, allow_pickle=False))
                except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
                    raise _refused(path, key, f"cannot read ({_one_line(error)})") from error
    return headers, scalars


def _check_inputs_header(path: Path, key: str, header: _Header) -> tuple[int, ...]:
    """The per-example shape [C, H, W] the pipeline sees for this images/features array."""
    shape, dtype = header.shape, header.dtype
    images = key.endswith("images")
    if images and not (dtype.kind == "u" and dtype.itemsize == 1):
        raise _refused(path, key, f"expected uint8 pixels 0..255, got {dtype}; convert, {_TO_UINT8}")
    if not images and not (dtype.kind == "f" and dtype.itemsize in (4, 8)):
        raise _refused(path, key, f"expected float32 or float64, got {dtype}; convert with x.astype(np.float32)")
    if images and len(shape) not in (3, 4):
        raise _refused(path, key, f"expected [N, H, W] or [N, C, H, W], got {_shape(shape)}")
    if not images and len(shape) != 2:
        raise _refused(path, key, f"expected [N, D] (one row of D features per example), got {_shape(shape)}")
    if 0 in shape:
        hint = "; omit test_* for no test split" if key.startswith("test_") else ""
        raise _refused(path, key, f"is empty (shape {_shape(shape)}){hint}")
    # A channels-last array ([N, H, W, C], as most image libraries give) would train without error
    # on garbage: C <= 4 next to a larger "channel" count gives it away.
    if images and len(shape) == 4 and shape[3] <= 4 < shape[1]:
        raise _refused(
            path, key, f"{_shape(shape)} looks channels-last; store [N, C, H, W], e.g. x.transpose(0, 3, 1, 2)"
        )
    if images:
        return (1, *shape[1:]) if len(shape) == 3 else shape[1:]
    return (shape[1], 1, 1)


def _check_labels_header(path: Path, key: str, header: _Header, count: int, inputs_key: str) -> None:
    if header.dtype.kind not in "iu":
        raise _refused(path, key, f"expected integer class labels, got {header.dtype}")
    if len(header.shape) != 1:
        raise _refused(path, key, f"expected [N], got {_shape(header.shape)}")
    if header.shape[0] != count:
        raise _refused(path, key, f"{header.shape[0]} labels but {count} rows of {inputs_key}")


def describe_npz(path) -> dict:
    """What an .npz dataset holds, from the headers of its arrays alone (no data is read, so this
    is cheap whatever the file's size): every check of load_npz_dataset that needs no values.

    Returns {"kind": "images" | "features", "shape": [N, C, H, W] as loaded (features: [N, D, 1, 1]),
    "dtype": "uint8" | "float32" as loaded, "test": whether it has a test split, "test_count": rows
    of the test split (0 without one), "keys": the keys it holds (in the file's order),
    "num_classes": the num_classes key's value, or None (then max(labels) + 1, known on loading)}.
    Raises DatasetError (one line naming the file and key) for a file load_npz_dataset refuses
    from its headers."""
    path = Path(path)
    headers, scalars = _read_headers(path)
    kinds = [kind for kind in INPUT_KINDS if kind in headers]
    if len(kinds) == 2:
        raise _refused(path, "images, features", "holds both; keep exactly one ('images' or 'features')")
    if not kinds:
        raise _refused(path, "images", f"missing, and no 'features' either (keys: {list(headers)}); {_NPZ_LAYOUT}")
    kind = kinds[0]
    example_shape = _check_inputs_header(path, kind, headers[kind])
    count = headers[kind].shape[0]
    if "labels" not in headers:
        raise _refused(path, "labels", f"missing (integer class labels [N], one per row of {kind})")
    _check_labels_header(path, "labels", headers["labels"], count, kind)

    test_key, other_test = f"test_{kind}", f"test_{INPUT_KINDS[1 - INPUT_KINDS.index(kind)]}"
    if other_test in headers:
        raise _refused(path, other_test, f"does not go with '{kind}'; the test split's inputs are '{test_key}'")
    test = test_key in headers or "test_labels" in headers
    test_count = 0
    if test:
        for needed, partner in ((test_key, "test_labels"), ("test_labels", test_key)):
            if needed not in headers:
                raise _refused(path, needed, f"missing, but '{partner}' is there (a test split needs both)")
        test_shape = _check_inputs_header(path, test_key, headers[test_key])
        if test_shape != example_shape:
            raise _refused(
                path,
                test_key,
                f"examples are {_shape(test_shape)} but those of '{kind}' are {_shape(example_shape)} (as loaded)",
            )
        test_count = headers[test_key].shape[0]
        _check_labels_header(path, "test_labels", headers["test_labels"], test_count, test_key)

    num_classes = scalars.get("num_classes")
    if num_classes is not None and num_classes < 2:
        raise _refused(path, "num_classes", f"must be at least 2, got {num_classes}")
    return {
        "kind": kind,
        "shape": [count, *example_shape],
        "dtype": "uint8" if kind == "images" else "float32",
        "test": test,
        "test_count": test_count,
        "keys": list(headers),
        "num_classes": num_classes,
    }


def _read_array(archive, path: Path, key: str) -> np.ndarray:
    try:
        return archive[key]
    except (ValueError, OSError, EOFError, MemoryError, zipfile.BadZipFile, zlib.error) as error:
        raise _refused(path, key, f"cannot read ({_one_line(error)})") from error


def _as_inputs(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """images -> uint8 [N, C, H, W] (a channel axis added to [N, H, W]); features -> float32 [N, D, 1, 1]."""
    if key.endswith("images"):
        return np.ascontiguousarray(array[:, None] if array.ndim == 3 else array, dtype=np.uint8)
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise _refused(path, key, f"row {row} holds NaN or infinity; features must be finite numbers")
    if array.dtype.itemsize == 8:
        # Cast first: float64 beyond float32's range casts to infinity (numpy warns; the check reports).
        with np.errstate(over="ignore"):
            cast = array.astype(np.float32)
        fits = np.isfinite(cast).all(axis=1)
        if not fits.all():
            row = int(np.argmin(fits))
            limit = float(np.finfo(np.float32).max)
            raise _refused(path, key, f"row {row} holds a value beyond float32's range (+-{limit:.4g}); rescale it")
        array = cast
    return np.ascontiguousarray(array, dtype=np.float32).reshape(*array.shape, 1, 1)


def _check_label_values(path: Path, key: str, labels: np.ndarray, num_classes: int, given: bool) -> np.ndarray:
    """labels as int64 [N], each in 0..num_classes-1 (num_classes from the file if `given`)."""
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        row = int(np.argmax(bad))
        why = f" (the file's num_classes is {num_classes})" if given else ""
        raise _refused(path, key, f"row {row} is {labels[row]}; labels must lie in 0..{num_classes - 1}{why}")
    return labels.astype(np.int64)


def load_npz_dataset(path) -> Dataset:
    """A user's dataset from one .npz file (docs/datasets.md), named "npz".

    The file holds `images` uint8 [N, H, W] or [N, C, H, W], or `features` float32/float64 [N, D];
    `labels` integer [N]; optionally `test_images`/`test_features` and `test_labels` (without them
    the test split is empty); optionally `num_classes` (integer scalar, default max(labels) + 1).
    Returns splits of uint8 [N, C, H, W] images or float32 [N, D, 1, 1] features (D channels of
    1x1, so that the pipeline's [N, C, H, W] arrays hold either), with int64 labels [N]. Anything
    else is refused in one line naming the file and key (DatasetError)."""
    path = Path(path)
    facts = describe_npz(path)  # every check the headers allow, before any data is read
    kind = facts["kind"]
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise _refused(path, None, f"cannot read ({_one_line(error)})") from error
    with archive:
        inputs = _as_inputs(path, kind, _read_array(archive, path, kind))
        labels = _read_array(archive, path, "labels")
        if facts["test"]:
            test_inputs = _as_inputs(path, f"test_{kind}", _read_array(archive, path, f"test_{kind}"))
            test_labels = _read_array(archive, path, "test_labels")
        else:
            test_inputs, test_labels = np.zeros((0, *inputs.shape[1:]), inputs.dtype), np.zeros(0, np.int64)

    num_classes, given = facts["num_classes"], facts["num_classes"] is not None
    if not given:  # every label of either split names a class
        largest = max(int(labels.max()), int(test_labels.max()) if len(test_labels) else 0)
        num_classes = largest + 1
    train = Split(inputs, _check_label_values(path, "labels", labels, num_classes, given))
    test = Split(test_inputs, _check_label_values(path, "test_labels", test_labels, num_classes, given))
    present = np.unique(train.labels)
    if len(present) < 2:
        raise _refused(path, "labels", f"every label is {present[0]}; a classifier needs at least 2 classes")
    return Dataset(NPZ, train, test, num_classes)


def load_dataset(name: str, directory: Path | None, file: Path | None = None) -> Dataset:
    """Load `name` from `directory` (Fashion-MNIST falls back to Debian's package location), or
    "npz" from `file` (the config's data.file)."""
    if name == NPZ:
        if not file:
            raise DatasetError(f"dataset {NPZ}: set data.file to the .npz file that holds the data (docs/datasets.md)")
        if not Path(file).is_file():
            raise DatasetError(f"data.file: {file}: {'not a file' if Path(file).exists() else 'no such file'}")
        return load_npz_dataset(Path(file))
    if name == "fashion_mnist":
        return load_fashion_mnist(Path(directory) if directory else DEBIAN_FASHION_MNIST)
    if name in CIFAR_FOLDER:
        if not directory:
            raise DatasetError(f"dataset {name}: set data.directory to the folder holding {CIFAR_FOLDER[name]}/")
        return load_cifar(Path(directory), name)
    raise DatasetError(f"unknown dataset {name!r}; known: {sorted([*NUM_CLASSES, NPZ])}")


def make_pool(
    dataset: Dataset, pool_size: int, holdout_size: int, seed: int, canaries: dict | None = None
) -> dict[str, np.ndarray]:
    """The experiment's pool: a seeded subset of the training split that shadow models split
    between them, plus held-out test examples for measuring accuracy.

    Returns x [pool_size, C, H, W] in the dataset's dtype (uint8 images, or float32 features as
    [pool_size, D, 1, 1]), y int64 [pool_size], source_index int64 [pool_size] (positions in the
    training split), holdout_x, holdout_y, num_classes int64, and the pool's per-channel mean and
    std (float32 [C]) for input normalisation: on the 0..1 scale for uint8 images (the models see
    pixels / 255), on the values' own scale for float inputs (the models see them as they are).

    canaries (data.canaries): {kind: count} of CANARY_KINDS appended after the pool_size ordinary
    examples (make_canaries), ordinary pool examples from then on; the pool then has
    pool_size + sum(counts) examples, its mean and std are over all of them, and it also holds
    group int64 [pool] (0 for the ordinary examples, else 1 + the kind's position in
    CANARY_KINDS), group_names str [1 + len(CANARY_KINDS)] and test_index int64 [pool] (the
    canary's row in the test split, -1 for ordinary and noise examples); a canary's source_index
    is -1 (it is no row of the training split). Without canaries (None, or every count 0) the
    pool is exactly what it was before canaries existed: same keys, same bytes.
    """
    train, test = dataset.train, dataset.test
    if not 2 <= pool_size <= len(train.labels):
        raise DatasetError(
            f"data.pool_size={pool_size}: the {dataset.name} training split has {len(train.labels)} examples"
        )
    if not 0 <= holdout_size <= len(test.labels):
        raise DatasetError(
            f"data.holdout_size={holdout_size}: the {dataset.name} test split has {len(test.labels)} examples"
        )
    rng = np.random.default_rng([seed, 0x9001])
    source_index = np.sort(rng.permutation(len(train.labels))[:pool_size])
    holdout_index = np.sort(rng.permutation(len(test.labels))[:holdout_size])
    x = train.images[source_index]
    y = train.labels[source_index]
    extra = {}
    if canaries and any(canaries.values()):
        canary = make_canaries(dataset, canaries, holdout_index, x, seed)
        x = np.concatenate([x, canary["x"]])
        y = np.concatenate([y, canary["y"]])
        source_index = np.concatenate([source_index, np.full(len(canary["y"]), -1)])
        extra = {
            "group": np.concatenate([np.zeros(pool_size, np.int64), canary["group"]]),
            "group_names": np.array(GROUP_NAMES),
            "test_index": np.concatenate([np.full(pool_size, -1, np.int64), canary["test_index"]]),
        }
    scale = 255.0 if x.dtype == np.uint8 else 1.0  # the scale lira.models.images.to_float_images divides by
    # One channel at a time keeps the float64 copy small for 50k CIFAR images.
    channels = [x[:, c].astype(np.float64) / scale for c in range(x.shape[1])]
    # A constant channel (common among tabular features) has a std of 0, or of rounding error, that
    # the models' normalisation would divide by; with std 1 the channel becomes a constant 0 instead.
    std = np.array([1.0 if c.min() == c.max() else c.std() for c in channels], dtype=np.float32)
    return {
        "x": x,
        "y": y,
        "source_index": source_index.astype(np.int64),
        "holdout_x": test.images[holdout_index],
        "holdout_y": test.labels[holdout_index],
        "mean": np.array([c.mean() for c in channels], dtype=np.float32),
        "std": std,
        "num_classes": np.int64(dataset.num_classes),
        **extra,
    }


# Examples added to the pool to measure how exposed atypical examples are (the paper's Fig. 13),
# data.canaries. Each is an ordinary pool example once added (IN for half the shadow models).
#   mislabeled: test images of the dataset with a random wrong label (in distribution, wrong label);
#   ood: test images inverted (uint8: 255 - x; features: -x), correctly labelled: out of
#        distribution yet recognisable. Inversion rather than a 90-degree rotation: it applies to
#        every input, non-square images and feature vectors included, keeps the object's shape (and
#        so the label) intact, and puts the image where no training image lies (Fashion-MNIST's
#        dark background turns white), as ImageNet images are to CIFAR-10 in the paper (CINIC-10);
#   noise: uniform noise (uint8: 0..255; features: each channel between its min and max over the
#        ordinary pool) with a random label: far out of distribution and without a true label.
CANARY_KINDS = ("mislabeled", "ood", "noise")
GROUP_NAMES = ("ordinary", *CANARY_KINDS)


def make_canaries(dataset: Dataset, counts: dict, holdout_index: np.ndarray, pool_x: np.ndarray, seed: int) -> dict:
    """The canaries of `counts` ({kind: count}, kinds of CANARY_KINDS), kind after kind in
    CANARY_KINDS' order, seeded from the experiment's `seed`: x [K, C, H, W] in the dataset's
    dtype, y int64 [K], group int64 [K] (1 + the kind's position in CANARY_KINDS), test_index int64
    [K] (row of the test split, -1 for noise). Test images come from the test split's rows outside
    the held-out ones (holdout_index), each used at most once: never a training image."""
    unknown = sorted(set(counts) - set(CANARY_KINDS))
    if unknown:
        raise DatasetError(f"data.canaries: unknown kind(s) {unknown}; known: {list(CANARY_KINDS)}")
    test, classes = dataset.test, dataset.num_classes
    rng = np.random.default_rng([seed, 0xCA9A])
    needed = counts.get("mislabeled", 0) + counts.get("ood", 0)
    available = np.setdiff1d(np.arange(len(test.labels)), holdout_index)
    if needed > len(available):
        raise DatasetError(
            f"data.canaries: mislabeled + ood = {needed} test images, but the {dataset.name} test split has "
            f"{len(available)} outside the {len(holdout_index)} held out"
        )
    rows = rng.permutation(available)[:needed]  # [mislabeled + ood] distinct test rows
    parts = []
    for group, kind in enumerate(CANARY_KINDS, start=1):
        count = counts.get(kind, 0)
        if kind == "noise":
            if np.issubdtype(pool_x.dtype, np.integer):
                x = rng.integers(0, 256, (count, *pool_x.shape[1:]), dtype=np.uint8)
            else:  # per channel, between the ordinary pool's extremes
                low, high = pool_x.min(axis=0), pool_x.max(axis=0)
                x = (low + (high - low) * rng.random((count, *pool_x.shape[1:]))).astype(pool_x.dtype)
            y, index = rng.integers(0, classes, count), np.full(count, -1)
        else:
            index, rows = rows[:count], rows[count:]
            x, y = test.images[index], test.labels[index]
            if kind == "mislabeled":  # a shift of 1..classes-1: uniform over the wrong classes
                y = (y + rng.integers(1, classes, count)) % classes
            else:
                x = 255 - x if x.dtype == np.uint8 else -x
        parts.append((x, y, np.full(count, group), index))
    x, y, group, index = (np.concatenate(part) for part in zip(*parts))
    return {
        "x": x.astype(pool_x.dtype),
        "y": y.astype(np.int64),
        "group": group.astype(np.int64),
        "test_index": index.astype(np.int64),
    }


def input_layout(dataset: str, file=None) -> tuple[tuple[int, ...], int]:
    """The shape of one example, (C, H, W), and the number of classes of a dataset, without loading
    its inputs (for planning and calibrating). For an npz file without a num_classes key its
    labels are read (max + 1)."""
    if dataset != NPZ:
        return IMAGE_SHAPE[dataset], NUM_CLASSES[dataset]
    layout = describe_npz(file)
    classes = layout["num_classes"]
    if classes is None:
        with np.load(file, allow_pickle=False) as arrays:
            classes = int(max(arrays[key].max() for key in ("labels", "test_labels") if key in arrays.files)) + 1
    return tuple(layout["shape"][1:]), int(classes)
