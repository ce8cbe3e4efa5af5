"""lira.models.training: the SGD and cosine schedule against torch.optim, determinism, bfloat16,
divergence, and checkpoints: a training interrupted after a checkpoint and resumed ends with the
same weights, bit for bit, as an uninterrupted one (the real workflow's kill and resume:
tests/end_to_end/test_resume.py)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lira.models import architectures, querying, training  # noqa: E402
from lira.models.images import to_float_images  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- training -------------------------------------------------------------------------------------


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
    images = to_float_images(rng.integers(0, 256, size=(n, 1, 8, 8), dtype=np.uint8), torch.device("cpu"))
    return images, torch.from_numpy(rng.integers(0, 4, size=n))


def trained_cnn(seed, init_seed=0):
    images, labels = random_data()
    torch.manual_seed(init_seed)
    model = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    result = training.train(model, images, labels, RECIPE, seed=seed)
    return model, result


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_nesterov_sgd_matches_torch_optim(momentum):
    """lira.models.training's own SGD and cosine schedule make torch.optim.SGD's updates (Nesterov when
    there is momentum) under a LambdaLR cosine schedule, step for step."""
    torch.manual_seed(0)
    ours = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    theirs = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
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
    untrained = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    assert not torch.equal(untrained.state_dict()["1.0.weight"], state_a["1.0.weight"])


def test_bfloat16_training_autocasts_and_keeps_float32_weights():
    images, labels = random_data()
    runs = []
    for precision in ("bfloat16", "bfloat16", "float32"):
        torch.manual_seed(0)
        model = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
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
    images = to_float_images(pixels.astype(np.uint8), torch.device("cpu"))
    labels = torch.from_numpy(labels)
    torch.manual_seed(0)
    model = architectures.build_model({"arch": "mlp", "width": 16}, (1, 8, 8), 2, [0.5], [0.3])
    recipe = dict(RECIPE, epochs=8, lr=0.02, augment={"mirror": False, "shift": 0, "padding": "zeros"})
    result = training.train(model, images, labels, recipe, seed=0)
    assert result.epoch_loss[-1] < 0.3 * result.epoch_loss[0]
    assert all(np.isfinite(result.epoch_loss))
    assert querying.accuracy(model, images, labels, batch_size=10) == 1.0


def test_diverging_training_raises():
    images, labels = random_data(n=16)
    torch.manual_seed(0)
    model = architectures.build_model({"arch": "mlp", "width": 8}, (1, 8, 8), 4, [0.5], [0.3])
    recipe = dict(RECIPE, lr=1e30, epochs=3)
    with pytest.raises(FloatingPointError, match="diverged"):
        training.train(model, images, labels, recipe, seed=0)


# --- checkpoints and resume -----------------------------------------------------------------------


RESUME_RECIPE = {
    "epochs": 5,
    "batch_size": 16,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0005,
    "augment": {"mirror": True, "shift": 2, "padding": "reflect"},
}


class Interrupted(Exception):
    pass


class InterruptingCheckpoint(training.Checkpoint):
    """Saves like the real one, then stops the training, as a kill right after a save would."""

    def save(self, state):
        super().save(state)
        raise Interrupted


def data():
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.random((40, 3, 12, 12), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, 4, 40))
    return images, labels


def fresh_model(spec):
    torch.manual_seed(7)
    return architectures.build_model(spec, (3, 12, 12), 4, [0.5] * 3, [0.25] * 3)


def trained(spec, checkpoint=None):
    images, labels = data()
    model = fresh_model(spec)
    result = training.train(model, images, labels, RESUME_RECIPE, seed=3, checkpoint=checkpoint)
    return model, result


# A WRN has batch-norm buffers and the shift augmentation draws from the generator: all must resume.
@pytest.mark.parametrize("spec", [{"arch": "wrn", "depth": 10, "width": 1}, {"arch": "mlp", "width": 16}])
def test_resumed_training_equals_an_uninterrupted_one(tmp_path, spec):
    reference, reference_result = trained(spec)

    path = tmp_path / "checkpoints" / "0.pt"
    with pytest.raises(Interrupted):
        trained(spec, InterruptingCheckpoint(path, every=2, key="k"))
    saved = torch.load(path, weights_only=True)  # tensors and plain containers only
    assert saved["key"] == "k" and len(saved["epoch_loss"]) == 2

    model, result = trained(spec, training.Checkpoint(path, every=2, key="k"))
    assert result.resumed_from_epoch == 2 and reference_result.resumed_from_epoch == 0
    assert result.epoch_loss == reference_result.epoch_loss
    assert len(result.epoch_seconds) == RESUME_RECIPE["epochs"]
    expected = reference.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in model.state_dict().items())
    # The last epoch's checkpoint replaced the epoch-2 one (epochs 4 and 5 were saved).
    assert len(torch.load(path, weights_only=True)["epoch_loss"]) == RESUME_RECIPE["epochs"] == 5
    # Resuming from it trains nothing more: the model comes back as it ended.
    again, result = trained(spec, training.Checkpoint(path, every=2, key="k"))
    assert result.resumed_from_epoch == 5 and result.epoch_loss == reference_result.epoch_loss
    assert all(torch.equal(value, expected[name]) for name, value in again.state_dict().items())


def test_a_checkpoint_of_other_settings_is_ignored(tmp_path):
    spec = {"arch": "mlp", "width": 16}
    path = tmp_path / "0.pt"
    with pytest.raises(Interrupted):
        trained(spec, InterruptingCheckpoint(path, every=1, key="old recipe"))
    reference, _ = trained(spec)
    model, result = trained(spec, training.Checkpoint(path, every=0, key="new recipe"))
    assert result.resumed_from_epoch == 0
    expected = reference.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in model.state_dict().items())


def test_an_unreadable_checkpoint_is_ignored(tmp_path):
    path = tmp_path / "0.pt"
    path.write_bytes(b"not a checkpoint")
    _, result = trained({"arch": "mlp", "width": 16}, training.Checkpoint(path, every=0, key="k"))
    assert result.resumed_from_epoch == 0 and len(result.epoch_loss) == RESUME_RECIPE["epochs"]


def test_checkpoint_key_depends_on_settings_and_data():
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    key = training.checkpoint_key({"lr": 0.1, "epochs": 3}, x)
    assert key == training.checkpoint_key({"epochs": 3, "lr": 0.1}, x.copy())  # key order is no setting
    assert key != training.checkpoint_key({"lr": 0.2, "epochs": 3}, x)
    changed = x.copy()
    changed[0, 0] += 1
    assert key != training.checkpoint_key({"lr": 0.1, "epochs": 3}, changed)
    assert key != training.checkpoint_key({"lr": 0.1, "epochs": 3}, x.reshape(4, 3))


def test_adam_matches_torch_optim():
    """lira.models.training's own Adam (L2 weight decay, cosine schedule) makes torch.optim.Adam's
    updates step for step."""
    torch.manual_seed(0)
    ours = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    theirs = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    theirs.load_state_dict(ours.state_dict())
    optimizer = training.Adam(ours.parameters(), weight_decay=5e-4)
    reference = torch.optim.Adam(theirs.parameters(), lr=0.002, weight_decay=5e-4)
    total = 7
    schedule = torch.optim.lr_scheduler.LambdaLR(reference, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    images, labels = random_data()
    for step in range(total):
        batch = slice(8 * step, 8 * step + 8)
        for model in (ours, theirs):
            torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
        optimizer.step(training.cosine_lr(0.002, step, total))
        reference.step()
        schedule.step()
        optimizer.zero_grad()
        reference.zero_grad(set_to_none=True)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_adam_trains_and_resumes_from_its_checkpoint(tmp_path):
    """A recipe with optimizer adam lowers the loss, and a run resumed from its checkpoint ends
    with the same weights as an uninterrupted one (Adam's moments and step count are saved)."""
    images, labels = data()
    recipe = {**RESUME_RECIPE, "optimizer": "adam", "lr": 0.005}
    spec = {"arch": "mlp", "width": 16}

    def run(checkpoint=None):
        model = fresh_model(spec)
        return model, training.train(model, images, labels, recipe, seed=3, checkpoint=checkpoint)

    reference, reference_result = run()
    assert reference_result.epoch_loss[-1] < reference_result.epoch_loss[0]
    path = tmp_path / "0.pt"
    with pytest.raises(Interrupted):
        run(InterruptingCheckpoint(path, every=2, key="k"))
    model, result = run(training.Checkpoint(path, every=2, key="k"))
    assert result.resumed_from_epoch == 2 and result.epoch_loss == reference_result.epoch_loss
    expected = reference.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in model.state_dict().items())
    assert isinstance(training.make_optimizer(model, recipe), training.Adam)
    assert isinstance(training.make_optimizer(model, RECIPE), training.NesterovSGD)
