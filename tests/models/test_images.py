"""lira.models.images: the fixed mirror and shift of each query, the per-image shifts of training's
augmentation, and uint8 images as float tensors."""

import numpy as np
import pytest

from lira.core.queries import Query

torch = pytest.importorskip("torch")

from lira.models.images import apply_query, shift_images, to_float_images  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def one_bright_pixel(row=3, col=2, size=8, channels=2):
    image = torch.zeros(1, channels, size, size)
    image[0, :, row, col] = 1.0
    return image


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 1), (2, -1), (-3, 2), (-2, -3)])
def test_apply_query_moves_the_pixel_right_and_down(dx, dy):
    shifted = apply_query(one_bright_pixel(3, 4), Query(False, dx, dy), "zeros")
    assert shifted.shape == (1, 2, 8, 8)
    expected = one_bright_pixel(3 + dy, 4 + dx)
    torch.testing.assert_close(shifted, expected, rtol=0, atol=0)


def test_a_pixel_shifted_out_of_the_image_is_gone():
    shifted = apply_query(one_bright_pixel(3, 6), Query(False, 2, 0), "zeros")
    assert shifted.abs().sum() == 0


def test_zero_padding_fills_the_border_with_zeros():
    image = torch.ones(1, 1, 5, 5)
    shifted = apply_query(image, Query(False, 2, 1), "zeros")[0, 0]
    assert shifted[:, :2].sum() == 0 and shifted[:1, :].sum() == 0  # uncovered left columns, top row
    assert torch.all(shifted[1:, 2:] == 1)


def test_reflect_padding():
    image = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4).contiguous()  # each row 0 1 2 3
    shifted = apply_query(image, Query(False, 1, 0), "reflect")
    np.testing.assert_array_equal(shifted[0, 0, 0].numpy(), [1, 0, 1, 2])
    shifted = apply_query(image, Query(False, -2, 0), "reflect")
    np.testing.assert_array_equal(shifted[0, 0, 0].numpy(), [2, 3, 2, 1])


def test_mirror_flips_left_right_then_shifts():
    image = one_bright_pixel(row=1, col=0)
    mirrored = apply_query(image, Query(True, 0, 0), "zeros")
    torch.testing.assert_close(mirrored, one_bright_pixel(row=1, col=7))
    both = apply_query(image, Query(True, -2, 1), "zeros")
    torch.testing.assert_close(both, one_bright_pixel(row=2, col=5))


def test_identity_query_returns_the_images():
    images = torch.rand(3, 1, 6, 6)
    assert torch.equal(apply_query(images, Query(False, 0, 0), "reflect"), images)


def test_shift_images_per_image_offsets():
    images = torch.cat([one_bright_pixel(4, 4), one_bright_pixel(4, 4), one_bright_pixel(4, 4)])
    dx, dy = torch.tensor([1, -2, 0]), torch.tensor([0, 2, -1])
    shifted = shift_images(images, dx, dy, pad=2, mode="zeros")
    for b, (row, col) in enumerate([(4, 5), (6, 2), (3, 4)]):
        torch.testing.assert_close(shifted[b : b + 1], one_bright_pixel(row, col))


def test_to_float_images():
    raw = np.array([0, 51, 255], dtype=np.uint8).reshape(1, 3, 1, 1)
    images = to_float_images(raw, torch.device("cpu"))
    assert images.dtype == torch.float32
    np.testing.assert_allclose(images.numpy().ravel(), [0.0, 0.2, 1.0], rtol=1e-6)


def test_the_distribution_shift_is_contrast_about_each_image_s_mean_then_a_gaussian_blur():
    from scipy import ndimage

    from lira.models.images import shift_distribution

    rng = np.random.default_rng(0)
    pixels = rng.random((3, 2, 9, 9)).astype(np.float32)  # [N, C, H, W]
    shifted = shift_distribution(torch.from_numpy(pixels), {"contrast": 0.5, "blur": 1.0}).numpy()
    mean = pixels.mean(axis=(2, 3), keepdims=True)
    contrasted = mean + 0.5 * (pixels - mean)
    # torch's "reflect" padding is scipy's "mirror"; radius 3 sigma on both sides.
    expected = ndimage.gaussian_filter(contrasted, sigma=(0, 0, 1.0, 1.0), mode="mirror", truncate=3.0)
    np.testing.assert_allclose(shifted, expected, atol=1e-5)
    unblurred = shift_distribution(torch.from_numpy(pixels), {"contrast": 1.0, "blur": 0}).numpy()
    np.testing.assert_allclose(unblurred, pixels, atol=1e-6)
