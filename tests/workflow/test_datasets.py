"""lira.workflow.datasets: tiny files in the real on-disk formats, read through the real loaders."""

import gzip
import struct

import numpy as np
import pytest
from formats import CodeRunningPickle, cifar_batch, idx_bytes, write_batch, write_cifar10

from lira.workflow import datasets
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
    train_labels = sum((batches[f"data_batch_{i}"]["labels"] for i in range(1, 6)), [])
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
