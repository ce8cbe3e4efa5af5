"""lira.models.architectures: every architecture's output shape, normalisation, bad specs and memory format."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lira.models import architectures  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    "spec, in_shape",
    [
        ({"arch": "mlp", "width": 16}, (1, 8, 8)),
        ({"arch": "cnn", "width": 4}, (1, 8, 8)),
        ({"arch": "cnn", "width": 4}, (3, 12, 12)),
        ({"arch": "patch_cnn", "width": 8, "patch": 4}, (1, 28, 28)),
        ({"arch": "patch_cnn", "width": 8, "patch": 4}, (3, 32, 32)),
        ({"arch": "patch_cnn", "width": 8, "patch": 2}, (1, 8, 8)),
        ({"arch": "wrn", "depth": 10, "width": 1}, (3, 32, 32)),
    ],
)
def test_build_model_output_shape(spec, in_shape):
    torch.manual_seed(0)
    channels = in_shape[0]
    model = architectures.build_model(spec, in_shape, 7, [0.5] * channels, [0.25] * channels)
    out = model(torch.rand(3, *in_shape))
    assert out.shape == (3, 7)
    assert out.dtype == torch.float32 and torch.all(torch.isfinite(out))
    state = model.state_dict()
    assert torch.equal(state["0.mean"].ravel(), torch.full((channels,), 0.5))  # normalisation is saved


def test_normalize():
    layer = architectures.Normalize([0.5, 0.0], [0.25, 2.0])
    x = torch.ones(1, 2, 1, 1)
    np.testing.assert_allclose(layer(x).numpy().ravel(), [2.0, 0.5])


@pytest.mark.parametrize("depth", [12, 9, 27])
def test_wrn_bad_depth_raises(depth):
    with pytest.raises(ValueError, match="6k \\+ 4"):
        architectures.build_model({"arch": "wrn", "depth": depth, "width": 1}, (3, 32, 32), 10, [0.5] * 3, [0.2] * 3)


def test_patch_cnn_needs_images_divisible_by_the_patch():
    with pytest.raises(ValueError, match="patch 4 .* 30 x 30"):
        architectures.build_model({"arch": "patch_cnn", "width": 8, "patch": 4}, (1, 30, 30), 10, [0.5], [0.2])


def test_unknown_architecture_raises():
    with pytest.raises(ValueError, match="model.arch"):
        architectures.build_model({"arch": "vit"}, (3, 32, 32), 10, [0.5] * 3, [0.2] * 3)


def test_memory_format_per_architecture():
    assert architectures.memory_format({"arch": "cnn", "width": 8}) == torch.channels_last
    assert architectures.memory_format({"arch": "wrn", "depth": 28, "width": 2}) == torch.channels_last
    assert architectures.memory_format({"arch": "patch_cnn", "width": 64, "patch": 4}) == torch.contiguous_format
    assert architectures.memory_format({"arch": "mlp", "width": 64}) == torch.contiguous_format
