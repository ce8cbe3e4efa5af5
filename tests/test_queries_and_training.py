"""lira.queries, and the torch side: augmentation, training, prediction, models (devices: test_devices.py)."""

import math

import numpy as np
import pytest

from lira.queries import Query, query_set

torch = pytest.importorskip("torch")

from lira import models, training  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- queries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mirror, shift, stride, count",
    [
        (False, 0, 1, 1), (True, 0, 1, 2), (True, 4, 4, 18), (True, 4, 1, 162),
        (False, 4, 4, 9), (False, 2, 1, 25), (True, 4, 2, 50),
    ],
)
def test_query_counts(mirror, shift, stride, count):
    queries = query_set(mirror, shift, stride)
    assert len(queries) == count == (1 + mirror) * (2 * shift // stride + 1) ** 2
    assert queries[0] == Query(False, 0, 0)
    assert len(set(queries)) == len(queries)
    assert all(abs(q.dx) <= shift and abs(q.dy) <= shift and q.dx % max(stride, 1) == 0 for q in queries)
    assert {q.mirror for q in queries} == ({False, True} if mirror else {False})


def test_query_set_contents_shift_4_stride_4():
    queries = query_set(True, 4, 4)
    expected = {Query(m, dx, dy) for m in (False, True) for dx in (-4, 0, 4) for dy in (-4, 0, 4)}
    assert set(queries) == expected
    assert query_set(True, 4, 4) == queries  # deterministic order


@pytest.mark.parametrize("shift, stride", [(4, 3), (4, 0), (4, -1), (-1, 1), (3, 2)])
def test_bad_query_parameters_raise(shift, stride):
    with pytest.raises(ValueError):
        query_set(True, shift, stride)


# --- augmentation --------------------------------------------------------------------------------


def one_bright_pixel(row=3, col=2, size=8, channels=2):
    image = torch.zeros(1, channels, size, size)
    image[0, :, row, col] = 1.0
    return image


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 1), (2, -1), (-3, 2), (-2, -3)])
def test_apply_query_moves_the_pixel_right_and_down(dx, dy):
    shifted = training.apply_query(one_bright_pixel(3, 4), Query(False, dx, dy), "zeros")
    assert shifted.shape == (1, 2, 8, 8)
    expected = one_bright_pixel(3 + dy, 4 + dx)
    torch.testing.assert_close(shifted, expected, rtol=0, atol=0)


def test_a_pixel_shifted_out_of_the_image_is_gone():
    shifted = training.apply_query(one_bright_pixel(3, 6), Query(False, 2, 0), "zeros")
    assert shifted.abs().sum() == 0


def test_zero_padding_fills_the_border_with_zeros():
    image = torch.ones(1, 1, 5, 5)
    shifted = training.apply_query(image, Query(False, 2, 1), "zeros")[0, 0]
    assert shifted[:, :2].sum() == 0 and shifted[:1, :].sum() == 0  # uncovered left columns, top row
    assert torch.all(shifted[1:, 2:] == 1)


def test_reflect_padding():
    image = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4).contiguous()  # each row 0 1 2 3
    shifted = training.apply_query(image, Query(False, 1, 0), "reflect")
    np.testing.assert_array_equal(shifted[0, 0, 0].numpy(), [1, 0, 1, 2])
    shifted = training.apply_query(image, Query(False, -2, 0), "reflect")
    np.testing.assert_array_equal(shifted[0, 0, 0].numpy(), [2, 3, 2, 1])


def test_mirror_flips_left_right_then_shifts():
    image = one_bright_pixel(row=1, col=0)
    mirrored = training.apply_query(image, Query(True, 0, 0), "zeros")
    torch.testing.assert_close(mirrored, one_bright_pixel(row=1, col=7))
    both = training.apply_query(image, Query(True, -2, 1), "zeros")
    torch.testing.assert_close(both, one_bright_pixel(row=2, col=5))


def test_identity_query_returns_the_images():
    images = torch.rand(3, 1, 6, 6)
    assert torch.equal(training.apply_query(images, Query(False, 0, 0), "reflect"), images)


def test_shift_images_per_image_offsets():
    images = torch.cat([one_bright_pixel(4, 4), one_bright_pixel(4, 4), one_bright_pixel(4, 4)])
    dx, dy = torch.tensor([1, -2, 0]), torch.tensor([0, 2, -1])
    shifted = training.shift_images(images, dx, dy, pad=2, mode="zeros")
    for b, (row, col) in enumerate([(4, 5), (6, 2), (3, 4)]):
        torch.testing.assert_close(shifted[b : b + 1], one_bright_pixel(row, col))


def test_to_float_images():
    raw = np.array([0, 51, 255], dtype=np.uint8).reshape(1, 3, 1, 1)
    images = training.to_float_images(raw, torch.device("cpu"))
    assert images.dtype == torch.float32
    np.testing.assert_allclose(images.numpy().ravel(), [0.0, 0.2, 1.0], rtol=1e-6)


# --- models --------------------------------------------------------------------------------------


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
    model = models.build_model(spec, in_shape, 7, [0.5] * channels, [0.25] * channels)
    out = model(torch.rand(3, *in_shape))
    assert out.shape == (3, 7)
    assert out.dtype == torch.float32 and torch.all(torch.isfinite(out))
    state = model.state_dict()
    assert torch.equal(state["0.mean"].ravel(), torch.full((channels,), 0.5))  # normalisation is saved


def test_normalize():
    layer = models.Normalize([0.5, 0.0], [0.25, 2.0])
    x = torch.ones(1, 2, 1, 1)
    np.testing.assert_allclose(layer(x).numpy().ravel(), [2.0, 0.5])


@pytest.mark.parametrize("depth", [12, 9, 27])
def test_wrn_bad_depth_raises(depth):
    with pytest.raises(ValueError, match="6k \\+ 4"):
        models.build_model({"arch": "wrn", "depth": depth, "width": 1}, (3, 32, 32), 10, [0.5] * 3, [0.2] * 3)


def test_patch_cnn_needs_images_divisible_by_the_patch():
    with pytest.raises(ValueError, match="patch 4 .* 30 x 30"):
        models.build_model({"arch": "patch_cnn", "width": 8, "patch": 4}, (1, 30, 30), 10, [0.5], [0.2])


def test_unknown_architecture_raises():
    with pytest.raises(ValueError, match="model.arch"):
        models.build_model({"arch": "vit"}, (3, 32, 32), 10, [0.5] * 3, [0.2] * 3)


# --- training and prediction ---------------------------------------------------------------------

RECIPE = {
    "epochs": 2,
    "batch_size": 16,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "augment": {"mirror": True, "shift": 1, "padding": "reflect"},
}


def random_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    images = training.to_float_images(rng.integers(0, 256, size=(n, 1, 8, 8), dtype=np.uint8), torch.device("cpu"))
    return images, torch.from_numpy(rng.integers(0, 4, size=n))


def trained_cnn(seed, init_seed=0):
    images, labels = random_data()
    torch.manual_seed(init_seed)
    model = models.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    result = training.train(model, images, labels, RECIPE, seed=seed)
    return model, result


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_nesterov_sgd_matches_torch_optim(momentum):
    """lira.training's own SGD and cosine schedule make torch.optim.SGD's updates (Nesterov when
    there is momentum) under a LambdaLR cosine schedule, step for step."""
    torch.manual_seed(0)
    ours = models.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    theirs = models.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    theirs.load_state_dict(ours.state_dict())
    initial = {name: value.clone() for name, value in ours.state_dict().items()}
    optimizer = training.NesterovSGD(ours.parameters(), momentum=momentum, weight_decay=5e-4)
    reference = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=momentum, weight_decay=5e-4, nesterov=momentum > 0)
    total = 7
    schedule = torch.optim.lr_scheduler.LambdaLR(reference, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    images, labels = random_data()
    for step in range(total):
        batch = slice(8 * step, 8 * step + 8)
        for model in (ours, theirs):
            torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
        assert training.cosine_lr(0.05, step, total) == pytest.approx(reference.param_groups[0]["lr"], rel=1e-12)
        optimizer.step(training.cosine_lr(0.05, step, total))
        reference.step()
        schedule.step()
        optimizer.zero_grad()
        reference.zero_grad(set_to_none=True)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch.equal(ours.state_dict()["1.0.weight"], initial["1.0.weight"])  # it did train


def test_training_is_deterministic_for_a_fixed_seed():
    model_a, result_a = trained_cnn(seed=1)
    model_b, result_b = trained_cnn(seed=1)
    assert result_a.epoch_loss == result_b.epoch_loss
    assert len(result_a.epoch_loss) == 2 and len(result_a.epoch_seconds) == 2
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    # The seed matters (data order and augmentation), and training changed the weights.
    model_c, _ = trained_cnn(seed=2)
    assert not torch.equal(model_c.state_dict()["1.0.weight"], state_a["1.0.weight"])
    torch.manual_seed(0)
    untrained = models.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    assert not torch.equal(untrained.state_dict()["1.0.weight"], state_a["1.0.weight"])


def test_bfloat16_training_autocasts_and_keeps_float32_weights():
    images, labels = random_data()
    runs = []
    for precision in ("bfloat16", "bfloat16", "float32"):
        torch.manual_seed(0)
        model = models.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
        result = training.train(model, images, labels, {**RECIPE, "precision": precision}, seed=1)
        runs.append((model.state_dict(), result.epoch_loss))
    (bf16, loss), (again, loss_again), (fp32, loss_fp32) = runs
    assert all(value.dtype == torch.float32 for value in bf16.values())  # autocast: weights stay float32
    assert loss == loss_again and all(torch.equal(bf16[k], again[k]) for k in bf16)  # deterministic
    assert loss != loss_fp32 and not torch.equal(bf16["1.0.weight"], fp32["1.0.weight"])  # and really bf16
    assert abs(loss[-1] - loss_fp32[-1]) < 0.05 * loss_fp32[-1]  # but the same training
    with pytest.raises(ValueError, match="train.precision"):
        training.train(model, images, labels, {**RECIPE, "precision": "float16"}, seed=1)


def test_mlp_learns_an_easy_task():
    rng = np.random.default_rng(3)
    n = 64
    labels = np.arange(n) % 2
    # Class 0 dark, class 1 bright: separable by mean brightness.
    bright, dark = rng.integers(160, 256, (n, 1, 8, 8)), rng.integers(0, 96, (n, 1, 8, 8))
    pixels = np.where(labels[:, None, None, None] == 1, bright, dark)
    images = training.to_float_images(pixels.astype(np.uint8), torch.device("cpu"))
    labels = torch.from_numpy(labels)
    torch.manual_seed(0)
    model = models.build_model({"arch": "mlp", "width": 16}, (1, 8, 8), 2, [0.5], [0.3])
    recipe = dict(RECIPE, epochs=8, lr=0.02, augment={"mirror": False, "shift": 0, "padding": "zeros"})
    result = training.train(model, images, labels, recipe, seed=0)
    assert result.epoch_loss[-1] < 0.3 * result.epoch_loss[0]
    assert all(np.isfinite(result.epoch_loss))
    assert training.accuracy(model, images, labels, batch_size=10) == 1.0


def test_diverging_training_raises():
    images, labels = random_data(n=16)
    torch.manual_seed(0)
    model = models.build_model({"arch": "mlp", "width": 8}, (1, 8, 8), 4, [0.5], [0.3])
    recipe = dict(RECIPE, lr=1e30, epochs=3)
    with pytest.raises(FloatingPointError, match="diverged"):
        training.train(model, images, labels, recipe, seed=0)


def test_predict_logits():
    model, _ = trained_cnn(seed=1)
    images, _ = random_data(n=10, seed=5)
    queries = query_set(True, 1, 1)  # 18 queries
    logits = training.predict_logits(model, images, queries, "reflect", batch_size=4)
    assert isinstance(logits, np.ndarray)
    assert logits.dtype == np.float32 and logits.shape == (10, 18, 4)
    assert not model.training  # queried in eval mode
    with torch.no_grad():
        plain = model(images).numpy()
        mirrored = model(images.flip(-1)).numpy()
    np.testing.assert_allclose(logits[:, 0], plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits[:, queries.index(Query(True, 0, 0))], mirrored, rtol=1e-5, atol=1e-6)
    # Different queries really are different inputs.
    assert not np.allclose(logits[:, 0], logits[:, 1])


def test_accuracy_counts_correct_predictions():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity())  # logits = the pixels
    images = torch.eye(4).view(4, 1, 1, 4)
    assert training.accuracy(model, images, torch.tensor([0, 1, 2, 0]), batch_size=3) == 0.75



def test_memory_format_per_architecture():
    assert models.memory_format({"arch": "cnn", "width": 8}) == torch.channels_last
    assert models.memory_format({"arch": "wrn", "depth": 28, "width": 2}) == torch.channels_last
    assert models.memory_format({"arch": "patch_cnn", "width": 64, "patch": 4}) == torch.contiguous_format
    assert models.memory_format({"arch": "mlp", "width": 64}) == torch.contiguous_format
