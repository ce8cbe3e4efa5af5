"""lira.workflow.datasets: tiny files in the real on-disk formats, read through the real loaders."""

import gzip
import io
import struct
import zipfile

import numpy as np
import pytest
from formats import CodeRunningPickle, cifar_batch, idx_bytes, write_batch, write_cifar10

from lira.workflow import datasets, files
from lira.workflow.datasets import DatasetError

# --- Fashion-MNIST (IDX) -------------------------------------------------------------------------


def fashion_arrays(seed=0, n_train=7, n_test=4):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }


def write_fashion(folder, arrays, gzipped):
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        data = idx_bytes(array)
        if gzipped:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


def test_idx_magic_numbers_are_the_published_ones():
    arrays = fashion_arrays()
    assert idx_bytes(arrays["train-images-idx3-ubyte"])[:4] == b"\x00\x00\x08\x03"
    assert idx_bytes(arrays["train-labels-idx1-ubyte"])[:4] == b"\x00\x00\x08\x01"


@pytest.mark.parametrize("layout", ["debian-gzipped", "torchvision-raw"])
def test_load_fashion_mnist(tmp_path, layout):
    arrays = fashion_arrays()
    if layout == "debian-gzipped":
        write_fashion(tmp_path, arrays, gzipped=True)
    else:
        write_fashion(tmp_path / "FashionMNIST" / "raw", arrays, gzipped=False)
    dataset = datasets.load_dataset("fashion_mnist", tmp_path)
    assert dataset.name == "fashion_mnist" and dataset.num_classes == 10
    assert dataset.train.images.shape == (7, 1, 28, 28) and dataset.train.images.dtype == np.uint8
    assert dataset.test.images.shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(dataset.train.images[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(dataset.test.images[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(dataset.train.labels, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(dataset.test.labels, arrays["t10k-labels-idx1-ubyte"])
    assert dataset.train.labels.dtype == np.int64


def test_read_idx_other_dtypes(tmp_path):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(">i4")
    (tmp_path / "x.idx").write_bytes(struct.pack(">I", 0x0C03) + struct.pack(">3I", 2, 3, 4) + array.tobytes())
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "x.idx"), array)


def test_truncated_idx_names_the_file(tmp_path):
    write_fashion(tmp_path, fashion_arrays(), gzipped=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte") as error:
        datasets.load_fashion_mnist(tmp_path)
    assert "header declares" in str(error.value)


def test_truncated_header_names_the_file(tmp_path):
    write_fashion(tmp_path, fashion_arrays(), gzipped=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00")
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        datasets.load_fashion_mnist(tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_fashion(tmp_path, fashion_arrays(), gzipped=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz"):
        datasets.load_fashion_mnist(tmp_path)


def test_corrupt_gzip_names_the_file(tmp_path):
    write_fashion(tmp_path, fashion_arrays(), gzipped=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[12:40] = b"\xff" * 28  # garbage in the deflate stream
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz"):
        datasets.load_fashion_mnist(tmp_path)


def test_wrong_magic_number_names_the_file(tmp_path):
    write_fashion(tmp_path, fashion_arrays(), gzipped=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[0:4] = b"\x12\x34\x08\x03"
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte") as error:
        datasets.load_fashion_mnist(tmp_path)
    assert "magic" in str(error.value)


def test_images_with_wrong_shape_are_refused(tmp_path):
    arrays = fashion_arrays()
    arrays["train-images-idx3-ubyte"] = np.zeros((7, 28, 27), dtype=np.uint8)
    write_fashion(tmp_path, arrays, gzipped=False)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte"):
        datasets.load_fashion_mnist(tmp_path)


def test_image_label_count_mismatch_names_the_files(tmp_path):
    arrays = fashion_arrays()
    arrays["t10k-labels-idx1-ubyte"] = arrays["t10k-labels-idx1-ubyte"][:3]
    write_fashion(tmp_path, arrays, gzipped=True)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte") as error:
        datasets.load_fashion_mnist(tmp_path)
    assert "4 images but 3 labels" in str(error.value)


def test_labels_out_of_range_name_the_file(tmp_path):
    arrays = fashion_arrays()
    arrays["train-labels-idx1-ubyte"][2] = 10
    write_fashion(tmp_path, arrays, gzipped=True)
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte") as error:
        datasets.load_fashion_mnist(tmp_path)
    assert "[0, 10)" in str(error.value)


def test_missing_file_is_named(tmp_path):
    write_fashion(tmp_path, fashion_arrays(), gzipped=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        datasets.load_fashion_mnist(tmp_path)


# --- CIFAR (python batches) ----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["protocol2", "python2"])
def test_load_cifar10(tmp_path, style):
    folder, batches = write_cifar10(tmp_path, style)
    # A recognisable image: channel c of image 0 of data_batch_1 is constant 10 * (c + 1),
    # except one pixel per channel at (row 2, column 5).
    data = batches["data_batch_1"]["data"]
    data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 10, 20, 30
    data[0, 2 * 32 + 5], data[0, 1024 + 2 * 32 + 5], data[0, 2048 + 2 * 32 + 5] = 200, 201, 202
    write_batch(folder / "data_batch_1", batches["data_batch_1"], style)

    dataset = datasets.load_dataset("cifar10", tmp_path)
    assert dataset.num_classes == 10
    assert dataset.train.images.shape == (12, 3, 32, 32) and dataset.train.images.dtype == np.uint8
    assert dataset.test.images.shape == (5, 3, 32, 32)
    image = dataset.train.images[0]
    assert image[0, 0, 0] == 10 and image[1, 31, 31] == 20 and image[2, 7, 3] == 30
    assert (image[0, 2, 5], image[1, 2, 5], image[2, 2, 5]) == (200, 201, 202)
    # Every row: 1024 red, then 1024 green, then 1024 blue, each row-major 32 x 32.
    train_rows = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    for i in range(12):
        for c in range(3):
            channel = train_rows[i, 1024 * c : 1024 * (c + 1)].reshape(32, 32)
            np.testing.assert_array_equal(dataset.train.images[i, c], channel)
    train_labels = [label for i in range(1, 6) for label in batches[f"data_batch_{i}"]["labels"]]
    np.testing.assert_array_equal(dataset.train.labels, train_labels)
    np.testing.assert_array_equal(dataset.test.labels, batches["test_batch"]["labels"])
    np.testing.assert_array_equal(dataset.test.images.reshape(5, 3072), batches["test_batch"]["data"])
    assert dataset.train.labels.dtype == np.int64


@pytest.mark.parametrize("style", ["protocol2", "python2"])
def test_load_cifar100_uses_fine_labels(tmp_path, style):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    train, test = cifar_batch(rng, 6, "fine_labels", 100), cifar_batch(rng, 3, "fine_labels", 100)
    train["fine_labels"][0] = 99
    write_batch(folder / "train", train, style)
    write_batch(folder / "test", test, style)
    dataset = datasets.load_dataset("cifar100", tmp_path)
    assert dataset.num_classes == 100
    assert dataset.train.images.shape == (6, 3, 32, 32) and dataset.test.images.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(dataset.train.labels, train["fine_labels"])
    np.testing.assert_array_equal(dataset.test.labels, test["fine_labels"])
    assert not np.array_equal(dataset.train.labels, train["coarse_labels"])
    np.testing.assert_array_equal(dataset.train.images.reshape(6, 3072), train["data"])


def test_cifar_pickle_with_code_is_refused_without_running_it(tmp_path):
    folder, batches = write_cifar10(tmp_path)
    marker = tmp_path / "exploited"
    batch = dict(batches["data_batch_3"], labels=CodeRunningPickle(marker))
    write_batch(folder / "data_batch_3", batch, "protocol2")
    with pytest.raises(DatasetError, match="data_batch_3") as error:
        datasets.load_dataset("cifar10", tmp_path)
    assert "system" in str(error.value)
    assert not marker.exists()


def test_cifar_missing_batch_is_named(tmp_path):
    folder, _ = write_cifar10(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match="data_batch_4"):
        datasets.load_dataset("cifar10", tmp_path)


def test_cifar_truncated_batch_is_named(tmp_path):
    folder, _ = write_cifar10(tmp_path)
    path = folder / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match="test_batch"):
        datasets.load_dataset("cifar10", tmp_path)


def test_cifar_wrong_data_shape_is_named(tmp_path):
    folder, batches = write_cifar10(tmp_path)
    batch = dict(batches["data_batch_2"], data=np.zeros((2, 3 * 32 * 31), dtype=np.uint8))
    write_batch(folder / "data_batch_2", batch, "protocol2")
    with pytest.raises(DatasetError, match="data_batch_2"):
        datasets.load_dataset("cifar10", tmp_path)


def test_cifar_count_mismatch_in_one_batch_is_named(tmp_path):
    # Batch 1 has one label too many and batch 2 one too few: the totals agree, the pairs do not.
    folder, batches = write_cifar10(tmp_path)
    one, two = batches["data_batch_1"], batches["data_batch_2"]
    write_batch(folder / "data_batch_1", dict(one, labels=one["labels"] + [0]), "protocol2")
    write_batch(folder / "data_batch_2", dict(two, labels=two["labels"][:-1]), "protocol2")
    with pytest.raises(DatasetError, match="data_batch_1") as error:
        datasets.load_dataset("cifar10", tmp_path)
    assert "3 images but 4 labels" in str(error.value)


def test_cifar_labels_out_of_range_are_named(tmp_path):
    folder, batches = write_cifar10(tmp_path)
    batch = batches["data_batch_5"]
    write_batch(folder / "data_batch_5", dict(batch, labels=[10] * len(batch["labels"])), "protocol2")
    with pytest.raises(DatasetError, match="data_batch_5") as error:
        datasets.load_dataset("cifar10", tmp_path)
    assert "[0, 10)" in str(error.value)


def test_cifar_batch_without_labels_is_named(tmp_path):
    folder, batches = write_cifar10(tmp_path)
    batch = {k: v for k, v in batches["test_batch"].items() if k != "labels"}
    write_batch(folder / "test_batch", batch, "protocol2")
    with pytest.raises(DatasetError, match="test_batch"):
        datasets.load_dataset("cifar10", tmp_path)


def test_load_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset"):
        datasets.load_dataset("mnist", tmp_path)
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        datasets.load_dataset("cifar10", None)


# --- make_pool -----------------------------------------------------------------------------------


def small_dataset(n_train=50, n_test=20, channels=3):
    rng = np.random.default_rng(5)

    def split(n):
        return datasets.Split(rng.integers(0, 256, size=(n, channels, 4, 4), dtype=np.uint8), rng.integers(0, 10, n))

    return datasets.Dataset("cifar10", split(n_train), split(n_test))


def test_make_pool_sizes_and_contents():
    dataset = small_dataset()
    pool = datasets.make_pool(dataset, pool_size=30, holdout_size=8, seed=3)
    assert pool["x"].shape == (30, 3, 4, 4) and pool["x"].dtype == np.uint8
    assert pool["y"].shape == (30,) and pool["source_index"].shape == (30,)
    assert pool["holdout_x"].shape == (8, 3, 4, 4) and pool["holdout_y"].shape == (8,)
    index = pool["source_index"]
    assert index.dtype == np.int64
    assert np.all(np.diff(index) > 0)  # sorted, no duplicates
    assert index.min() >= 0 and index.max() < 50
    np.testing.assert_array_equal(pool["x"], dataset.train.images[index])
    np.testing.assert_array_equal(pool["y"], dataset.train.labels[index])
    assert int(pool["num_classes"]) == 10
    assert pool["mean"].shape == (3,) and pool["std"].shape == (3,) and pool["mean"].dtype == np.float32
    x = pool["x"].astype(np.float64) / 255
    np.testing.assert_allclose(pool["mean"], x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(pool["std"], x.std(axis=(0, 2, 3)), rtol=1e-6)
    # Holdout images come from the test split.
    test_rows = {row.tobytes() for row in dataset.test.images}
    assert all(row.tobytes() in test_rows for row in pool["holdout_x"])


def test_make_pool_is_deterministic_and_seeded():
    dataset = small_dataset()
    a = datasets.make_pool(dataset, 20, 5, seed=1)
    b = datasets.make_pool(dataset, 20, 5, seed=1)
    c = datasets.make_pool(dataset, 20, 5, seed=2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["source_index"], c["source_index"])


def test_make_pool_whole_split_and_one_channel():
    dataset = small_dataset(n_train=12, channels=1)
    pool = datasets.make_pool(dataset, 12, 0, seed=0)
    np.testing.assert_array_equal(pool["source_index"], np.arange(12))
    assert pool["mean"].shape == (1,) and pool["holdout_x"].shape == (0, 1, 4, 4)


@pytest.mark.parametrize("pool_size, holdout_size", [(51, 5), (1, 5), (10, 21), (10, -1)])
def test_make_pool_bad_sizes_raise(pool_size, holdout_size):
    with pytest.raises(DatasetError, match="size"):
        datasets.make_pool(small_dataset(), pool_size, holdout_size, seed=0)


def test_make_pool_std_of_a_constant_channel_is_one():
    dataset = small_dataset(channels=2)
    dataset.train.images[:, 1] = 7
    pool = datasets.make_pool(dataset, 20, 5, seed=0)
    assert pool["std"][1] == 1 and pool["std"][0] > 0
    np.testing.assert_allclose(pool["mean"][1], 7 / 255, rtol=1e-6)


def make_pool_before_npz(dataset, pool_size, holdout_size, seed):
    """make_pool as it was before float inputs came: the reference that uint8 pools must still match."""
    train, test = dataset.train, dataset.test
    rng = np.random.default_rng([seed, 0x9001])
    source_index = np.sort(rng.permutation(len(train.labels))[:pool_size])
    holdout_index = np.sort(rng.permutation(len(test.labels))[:holdout_size])
    x = train.images[source_index]
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


@pytest.mark.parametrize("source", ["fashion_mnist", "cifar10"])
def test_uint8_pool_file_is_byte_identical_to_before(tmp_path, source):
    if source == "fashion_mnist":
        write_fashion(tmp_path / "data", fashion_arrays(n_train=60, n_test=20), gzipped=True)
    else:
        write_cifar10(tmp_path / "data")
    dataset = datasets.load_dataset(source, tmp_path / "data")
    pool_size = min(40, len(dataset.train.labels))
    new = datasets.make_pool(dataset, pool_size, 2, seed=11)
    old = make_pool_before_npz(dataset, pool_size, 2, seed=11)
    assert list(new) == list(old)
    files.save_arrays(tmp_path / "new.npz", **new)
    files.save_arrays(tmp_path / "old.npz", **old)
    assert (tmp_path / "new.npz").read_bytes() == (tmp_path / "old.npz").read_bytes()


def test_dataset_num_classes_is_data():
    split = datasets.Split(np.zeros((2, 1, 2, 2), np.uint8), np.array([0, 1]))
    assert datasets.Dataset("cifar100", split, split).num_classes == 100  # the named dataset's, by default
    assert datasets.Dataset("npz", split, split, 7).num_classes == 7


# --- A user's own data: one .npz file ------------------------------------------------------------


def write_npz(path, compressed=False, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def image_arrays(seed=0, n=12, n_test=5, shape=(6, 5), classes=4):
    rng = np.random.default_rng(seed)
    return {
        "images": rng.integers(0, 256, (n, *shape), dtype=np.uint8),
        "labels": np.arange(n) % classes,
        "test_images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "test_labels": np.arange(n_test) % classes,
    }


def feature_arrays(seed=0, n=12, n_test=5, width=7, classes=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {
        "features": (rng.normal(size=(n, width)) * 10 + 3).astype(dtype),
        "labels": np.arange(n) % classes,
        "test_features": rng.normal(size=(n_test, width)).astype(dtype),
        "test_labels": np.arange(n_test) % classes,
    }


def refusal(path, call, *fragments) -> str:
    """The refusal's message: one line, naming the file and every fragment (a key, what was expected)."""
    with pytest.raises(DatasetError) as error:
        call(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_npz_images_without_channel_axis_gain_one(tmp_path):
    arrays = image_arrays()
    del arrays["test_images"], arrays["test_labels"]
    dataset = datasets.load_npz_dataset(write_npz(tmp_path / "mine.npz", **arrays))
    assert dataset.name == "npz" and dataset.num_classes == 4  # max(labels) + 1
    assert dataset.train.images.shape == (12, 1, 6, 5) and dataset.train.images.dtype == np.uint8
    np.testing.assert_array_equal(dataset.train.images[:, 0], arrays["images"])
    np.testing.assert_array_equal(dataset.train.labels, arrays["labels"])
    assert dataset.train.labels.dtype == np.int64
    # No test arrays: an empty test split of the same layout.
    assert dataset.test.images.shape == (0, 1, 6, 5) and dataset.test.images.dtype == np.uint8
    assert dataset.test.labels.shape == (0,) and dataset.test.labels.dtype == np.int64


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_channels_first_images_with_test_split_and_num_classes(tmp_path, compressed):
    arrays = image_arrays(shape=(3, 8, 8))
    arrays["labels"] = arrays["labels"].astype(np.uint8)
    arrays["test_labels"] = arrays["test_labels"].astype(">i4")
    path = write_npz(tmp_path / "mine.npz", compressed, num_classes=np.int64(10), **arrays)
    dataset = datasets.load_dataset("npz", None, file=path)
    assert dataset.num_classes == 10
    np.testing.assert_array_equal(dataset.train.images, arrays["images"])
    np.testing.assert_array_equal(dataset.test.images, arrays["test_images"])
    np.testing.assert_array_equal(dataset.test.labels, arrays["test_labels"])
    assert dataset.train.labels.dtype == dataset.test.labels.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npz_features_become_float32_channels_of_one_pixel(tmp_path, dtype):
    arrays = feature_arrays(dtype=dtype)
    dataset = datasets.load_npz_dataset(write_npz(tmp_path / "mine.npz", **arrays))
    assert dataset.num_classes == 3
    assert dataset.train.images.shape == (12, 7, 1, 1) and dataset.train.images.dtype == np.float32
    assert dataset.test.images.shape == (5, 7, 1, 1) and dataset.test.images.dtype == np.float32
    np.testing.assert_array_equal(dataset.train.images[:, :, 0, 0], arrays["features"].astype(np.float32))
    np.testing.assert_array_equal(dataset.test.images[:, :, 0, 0], arrays["test_features"].astype(np.float32))


def test_npz_default_num_classes_counts_the_test_labels(tmp_path):
    arrays = image_arrays(classes=3)
    arrays["test_labels"][0] = 5
    dataset = datasets.load_npz_dataset(write_npz(tmp_path / "mine.npz", **arrays))
    assert dataset.num_classes == 6


def test_load_dataset_npz_needs_data_file(tmp_path):
    with pytest.raises(DatasetError, match="data.file") as error:
        datasets.load_dataset("npz", None)
    assert "\n" not in str(error.value)
    missing = tmp_path / "absent.npz"
    with pytest.raises(DatasetError, match="data.file") as error:
        datasets.load_dataset("npz", None, file=missing)
    assert str(missing) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DatasetError, match="data.file: .*: not a file"):
        datasets.load_dataset("npz", None, file=tmp_path)


def without(arrays, *keys):
    return {key: value for key, value in arrays.items() if key not in keys}


def _images(**changes):
    return {**image_arrays(), **changes}


def _features(**changes):
    return {**feature_arrays(), **changes}


def _nan_at_row_3():
    features = feature_arrays()["features"]
    features[3, 2] = np.nan
    return _features(features=features)


def _inf_in_test_row_1():
    test = feature_arrays()["test_features"]
    test[1, 0] = -np.inf
    return _features(test_features=test)


def _beyond_float32_at_row_4():
    features = feature_arrays()["features"]
    features[4, 1] = 1e300
    return _features(features=features)


# Each case: the arrays of a bad file, the key its refusal must name, and what else it must say.
NPZ_REFUSALS = {
    "no labels": (without(image_arrays(), "labels"), "labels", "missing"),
    "both inputs": ({**image_arrays(), "features": np.zeros((12, 3))}, "features", "exactly one"),
    "no inputs": (without(image_arrays(), "images"), "images", "features"),
    "float images": (_images(images=np.zeros((12, 6, 5), np.float32)), "images", "astype(np.uint8)"),
    "int16 images": (_images(images=np.zeros((12, 6, 5), np.int16)), "images", "uint8"),
    "integer features": (_features(features=np.zeros((12, 7), np.int64)), "features", "float32"),
    "float16 features": (_features(features=np.zeros((12, 7), np.float16)), "features", "float32"),
    "images [N, W]": (_images(images=np.zeros((12, 6), np.uint8)), "images", "[N, H, W]"),
    "images 5-d": (_images(images=np.zeros((12, 1, 1, 6, 5), np.uint8)), "images", "[N, C, H, W]"),
    "features 3-d": (_features(features=np.zeros((12, 7, 1))), "features", "[N, D]"),
    "channels last": (
        {
            **image_arrays(),
            "images": np.zeros((12, 8, 8, 3), np.uint8),
            "test_images": np.zeros((5, 8, 8, 3), np.uint8),
        },
        "images",
        "transpose(0, 3, 1, 2)",
    ),
    "labels 2-d": (_images(labels=np.zeros((12, 1), np.int64)), "labels", "[N]"),
    "float labels": (_images(labels=np.arange(12) % 4.0), "labels", "integer"),
    "bool labels": (_images(labels=np.arange(12) % 2 == 0), "labels", "integer"),
    "fewer labels": (_images(labels=np.arange(11) % 4), "labels", "11 labels but 12 rows of images"),
    "fewer test labels": (_images(test_labels=np.arange(6) % 4), "test_labels", "6 labels but 5"),
    "negative label": (_images(labels=np.array([0, 1, 2, -1] * 3)), "labels", "row 3 is -1"),
    "label too large": ({**image_arrays(), "num_classes": np.int64(3)}, "labels", "row 3 is 3"),
    "test label too large": (
        {**image_arrays(), "num_classes": np.int64(4), "test_labels": np.array([0, 4, 0, 1, 2])},
        "test_labels",
        "row 1 is 4",
    ),
    "one class": (_images(labels=np.full(12, 2)), "labels", "at least 2 classes"),
    "num_classes 1": ({**image_arrays(), "num_classes": np.int64(1)}, "num_classes", "at least 2"),
    "num_classes float": ({**image_arrays(), "num_classes": np.float64(10)}, "num_classes", "integer scalar"),
    "num_classes array": ({**image_arrays(), "num_classes": np.array([10])}, "num_classes", "integer scalar"),
    "NaN feature": (_nan_at_row_3(), "features", "row 3"),
    "infinite test feature": (_inf_in_test_row_1(), "test_features", "row 1"),
    "beyond float32": (_beyond_float32_at_row_4(), "features", "row 4"),
    "no rows": (_images(images=np.zeros((0, 6, 5), np.uint8), labels=np.zeros(0, np.int64)), "images", "empty"),
    "no features": (_features(features=np.zeros((12, 0))), "features", "empty"),
    "empty test": (
        _images(test_images=np.zeros((0, 6, 5), np.uint8), test_labels=np.zeros(0, int)),
        "test_images",
        "omit",
    ),
    "test inputs alone": (without(image_arrays(), "test_labels"), "test_labels", "missing"),
    "test labels alone": (without(image_arrays(), "test_images"), "test_images", "missing"),
    "test features with images": (
        {**without(image_arrays(), "test_images"), "test_features": np.zeros((5, 30))},
        "test_features",
        "test_images",
    ),
    "test images of another size": (_images(test_images=np.zeros((5, 6, 6), np.uint8)), "test_images", "[1, 6, 5]"),
    "test images of another dtype": (_images(test_images=np.zeros((5, 6, 5), np.int8)), "test_images", "uint8"),
    "unexpected key": ({**image_arrays(), "test_label": np.zeros(5, int)}, "test_label", "unexpected"),
}


@pytest.mark.parametrize("case", sorted(NPZ_REFUSALS))
def test_npz_refusals_are_one_line_naming_file_and_key(tmp_path, case):
    arrays, key, fragment = NPZ_REFUSALS[case]
    path = write_npz(tmp_path / "mine.npz", **arrays)
    refusal(path, datasets.load_npz_dataset, key, fragment)
    refusal(path, lambda path: datasets.load_dataset("npz", None, file=path), key, fragment)


def test_npz_object_array_is_refused(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, allow_pickle=True, **{**image_arrays(), "labels": np.array([1, "a"] * 6, dtype=object)})
    refusal(path, datasets.describe_npz, "labels", "objects")
    refusal(path, datasets.load_npz_dataset, "labels", "objects")


def test_files_that_are_not_npz_are_refused(tmp_path):
    (tmp_path / "text.npz").write_text("images,labels\n1,2\n")
    refusal(tmp_path / "text.npz", datasets.load_npz_dataset, "not an .npz")
    np.save(tmp_path / "one.npy", np.zeros((3, 4), np.uint8))
    refusal(tmp_path / "one.npy", datasets.describe_npz, "np.savez")
    refusal(tmp_path / "absent.npz", datasets.load_npz_dataset, "no such file")
    refusal(tmp_path, datasets.describe_npz, "cannot read")
    whole = write_npz(tmp_path / "whole.npz", **image_arrays()).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])  # the zip's directory, at the end, is gone
    refusal(tmp_path / "cut.npz", datasets.load_npz_dataset, "not an .npz")


def test_a_member_that_is_not_npy_is_refused(tmp_path):
    path = write_npz(tmp_path / "mine.npz", **image_arrays())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("num_classes.npy", b"not an array at all")
    refusal(path, datasets.describe_npz, "num_classes", "not a readable .npy array")


def npy_member(shape, dtype, data=b"") -> bytes:
    """A .npy member's bytes: a real header (which may declare more than `data` holds)."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


def test_a_huge_declared_array_is_refused_from_its_header(tmp_path):
    # 10^12 images of 28x28 declared, none present: refused as truncated, nothing allocated.
    path = tmp_path / "mine.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", npy_member((10**12, 28, 28), np.uint8, b"\0" * 100))
        archive.writestr("labels.npy", npy_member((10**12,), np.int64))
    message = refusal(path, datasets.describe_npz, "images", "truncated")
    assert "[1000000000000, 28, 28]" in message
    refusal(path, datasets.load_npz_dataset, "images", "truncated")


@pytest.mark.parametrize("compressed", [False, True])
def test_describe_npz_reads_headers_only(tmp_path, monkeypatch, compressed):
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (4000, 3, 16, 16), dtype=np.uint8), "labels": np.arange(4000) % 10}
    path = write_npz(tmp_path / "mine.npz", compressed, **arrays)
    read = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    facts = datasets.describe_npz(path)
    assert facts["shape"] == [4000, 3, 16, 16]
    assert 0 < sum(read) < 1000  # of 3 MB of images and 32 kB of labels


def test_describe_npz_ignores_the_data_load_refuses_corrupt_data(tmp_path):
    arrays = image_arrays(n=200, shape=(20, 20))
    path = write_npz(tmp_path / "mine.npz", **arrays)
    raw = bytearray(path.read_bytes())
    middle = raw.find(arrays["images"][100].tobytes())
    raw[middle : middle + 64] = bytes(255 - b for b in raw[middle : middle + 64])  # the zip's CRC no longer matches
    path.write_bytes(bytes(raw))
    assert datasets.describe_npz(path)["shape"] == [200, 1, 20, 20]
    refusal(path, datasets.load_npz_dataset, "images", "cannot read")


@pytest.mark.parametrize(
    "arrays",
    [
        without(image_arrays(), "test_images", "test_labels"),
        {**image_arrays(shape=(2, 4, 4)), "num_classes": np.int32(9)},
        feature_arrays(dtype=np.float32),
        without(feature_arrays(), "test_features", "test_labels"),
    ],
    ids=["images", "channels-first", "features", "features-no-test"],
)
def test_describe_npz_agrees_with_load(tmp_path, arrays):
    path = write_npz(tmp_path / "mine.npz", **arrays)
    facts, dataset = datasets.describe_npz(path), datasets.load_npz_dataset(path)
    assert facts["kind"] == ("images" if "images" in arrays else "features")
    assert facts["shape"] == list(dataset.train.images.shape)
    assert facts["dtype"] == str(dataset.train.images.dtype)
    assert facts["test"] == ("test_labels" in arrays)
    assert facts["test_count"] == len(dataset.test.labels)
    assert facts["keys"] == list(arrays)
    assert facts["num_classes"] == (int(arrays["num_classes"]) if "num_classes" in arrays else None)
    if facts["num_classes"] is not None:
        assert facts["num_classes"] == dataset.num_classes


def test_make_pool_on_features_normalises_on_their_own_scale(tmp_path):
    arrays = feature_arrays(n=40, width=5)
    arrays["features"][:, 4] = -2.5  # a constant feature
    dataset = datasets.load_npz_dataset(write_npz(tmp_path / "mine.npz", **arrays))
    pool = datasets.make_pool(dataset, 30, 5, seed=2)
    assert pool["x"].shape == (30, 5, 1, 1) and pool["x"].dtype == np.float32
    assert pool["holdout_x"].shape == (5, 5, 1, 1) and pool["holdout_x"].dtype == np.float32
    assert int(pool["num_classes"]) == 3
    values = pool["x"][:, :, 0, 0].astype(np.float64)
    np.testing.assert_allclose(pool["mean"], values.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(pool["std"][:4], values[:, :4].std(axis=0), rtol=1e-6)
    assert pool["mean"][4] == -2.5 and pool["std"][4] == 1  # constant: normalised to 0, not divided by 0
    np.testing.assert_array_equal(pool["x"], dataset.train.images[pool["source_index"]])
