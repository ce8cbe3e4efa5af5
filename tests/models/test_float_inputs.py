"""Float inputs (a user's features, lira.workflow.datasets' "npz") through the torch side:
to_float_images passes float32 through as it is and scales uint8 exactly as before."""

import numpy as np
import pytest

from lira.workflow import datasets

torch = pytest.importorskip("torch")
# Imported through importorskip, after torch: the analysis-only environment has no torch.
build_model = pytest.importorskip("lira.models.architectures").build_model
to_float_images = pytest.importorskip("lira.models.images").to_float_images

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")


def test_float32_inputs_pass_through_unchanged():
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(6, 9, 1, 1)) * 1000).astype(np.float32)  # far outside [0, 1]
    features[0, 0] = -0.0
    tensor = to_float_images(features, CPU)
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (6, 9, 1, 1)
    assert tensor.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(tensor.numpy(), features)
    assert np.signbit(tensor.numpy()[0, 0, 0, 0])


def test_float32_inputs_are_copied():
    features = np.ones((3, 4, 1, 1), np.float32)
    tensor = to_float_images(features, CPU)
    tensor.mul_(5)  # whatever a caller does to the tensor leaves the pool's array alone
    np.testing.assert_array_equal(features, 1)


def test_float32_images_with_pixels_pass_through_channels_last():
    images = np.random.default_rng(1).random((2, 3, 5, 4), dtype=np.float32)
    tensor = to_float_images(images, CPU)
    assert tensor.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(tensor.numpy(), images)


def test_uint8_images_are_scaled_as_before():
    images = np.random.default_rng(2).integers(0, 256, (4, 3, 7, 6), dtype=np.uint8)
    images[0, 0, 0, :2] = (0, 255)
    tensor = to_float_images(images, CPU)
    before = torch.from_numpy(images).float() / 255.0  # the old body of to_float_images
    assert tensor.dtype == torch.float32 and tensor.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(tensor, before)
    assert tensor[0, 0, 0, 0] == 0 and tensor[0, 0, 0, 1] == 1


def test_non_contiguous_uint8_view_gives_the_same_values():
    images = np.random.default_rng(3).integers(0, 256, (4, 2, 6, 6), dtype=np.uint8)
    view = images[::2, :, 1:, ::-1]
    np.testing.assert_array_equal(to_float_images(view, CPU).numpy(), view.astype(np.float32) / np.float32(255))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int64, np.int8, np.uint16, np.bool_])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        to_float_images(np.zeros((2, 3, 1, 1), dtype), CPU)


def test_a_features_pool_trains_an_mlp_on_its_own_scale(tmp_path):
    """From an .npz of features to a model's logits: the pool's normalisation puts features of any
    scale (and a constant one) around 0, and the model's output is finite."""
    rng = np.random.default_rng(4)
    features = rng.normal(size=(60, 5)) * np.array([1e-3, 1.0, 50.0, 1e4, 0.0]) + np.array([0, 0, 100, -7e4, 3])
    labels = (features[:, 2] > 100).astype(np.int64)
    np.savez(tmp_path / "mine.npz", features=features, labels=labels)
    dataset = datasets.load_dataset("npz", None, file=tmp_path / "mine.npz")
    pool = datasets.make_pool(dataset, 50, 0, seed=0)
    inputs = to_float_images(pool["x"], CPU)
    model = build_model(
        {"arch": "mlp", "width": 8}, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"]
    )
    normalised = model[0](inputs)
    assert torch.isfinite(normalised).all()
    np.testing.assert_allclose(normalised.mean(dim=0).flatten().numpy(), 0, atol=1e-3)
    np.testing.assert_allclose(normalised.std(dim=0, unbiased=False).flatten().numpy()[:4], 1, rtol=1e-3)
    assert torch.equal(normalised[:, 4], torch.zeros_like(normalised[:, 4]))  # the constant feature
    logits = model(inputs)
    assert tuple(logits.shape) == (50, 2) and torch.isfinite(logits).all()
