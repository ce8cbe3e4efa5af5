"""DP-SGD (lira.models.dp_sgd) against a direct computation: per-example gradients clipped to C,
summed, Gaussian noise of std sigma * C, divided by the expected batch; the accountant's epsilon
against the closed form of the Gaussian mechanism; training with DP resumes to the same weights."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lira.models import dp_sgd, training
from lira.models.architectures import build_model

RECIPE = {"epochs": 1, "batch_size": 6, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
          "augment": {"mirror": False, "shift": 0, "padding": "reflect"}}  # fmt: skip


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3))


def data(seed=0, n=6):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 2, 4, generator=generator) * 3, torch.randint(0, 3, (n,), generator=generator)


def clipped_sum(model, inputs, labels, clip):
    """sum_i g_i * min(1, C / |g_i|), each example's gradient computed on its own."""
    total = [torch.zeros_like(p) for p in model.parameters()]
    for x, y in zip(inputs, labels):
        model.zero_grad()
        F.cross_entropy(model(x[None]), y[None], reduction="sum").backward()
        grads = [p.grad.clone() for p in model.parameters()]
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        factor = min(1.0, clip / (float(norm) + 1e-6))
        total = [t + factor * g for t, g in zip(total, grads)]
    return total


@pytest.mark.parametrize("clip", [0.05, 1.0, 100.0])
def test_a_noiseless_step_is_sgd_on_the_mean_of_clipped_per_example_gradients(clip):
    inputs, labels = data()
    reference = tiny_model()
    expected = [p.detach() - RECIPE["lr"] * g / 6 for p, g in zip(reference.parameters(), clipped_sum(reference, inputs, labels, clip))]
    model = tiny_model()
    recipe = {**RECIPE, "dp": {"noise_multiplier": 0.0, "max_grad_norm": clip, "delta": 1e-5}}
    step = dp_sgd.DPSGD(model, recipe, n=6, noise_seed=0, device=torch.device("cpu"))
    step.step(inputs, labels, RECIPE["lr"])
    for parameter, value in zip(model.parameters(), expected):
        torch.testing.assert_close(parameter.detach(), value, rtol=1e-5, atol=1e-6)


def test_the_noise_is_gaussian_of_std_sigma_times_c_from_the_seeded_generator():
    inputs, labels = data(1)
    sigma, clip = 0.7, 0.5
    reference = tiny_model()
    sums = clipped_sum(reference, inputs, labels, clip)
    noise = torch.Generator().manual_seed(11)
    expected = [
        p.detach() - RECIPE["lr"] * (g + torch.normal(0, sigma * clip, size=p.shape, generator=noise)) / 6
        for p, g in zip(reference.parameters(), sums)
    ]
    model = tiny_model()
    recipe = {**RECIPE, "dp": {"noise_multiplier": sigma, "max_grad_norm": clip, "delta": 1e-5}}
    dp_sgd.DPSGD(model, recipe, n=6, noise_seed=11, device=torch.device("cpu")).step(inputs, labels, RECIPE["lr"])
    for parameter, value in zip(model.parameters(), expected):
        torch.testing.assert_close(parameter.detach(), value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sigma, steps", [(1.0, 1), (2.0, 10), (5.0, 100)])
def test_the_accountant_at_sample_rate_one_is_the_composed_gaussian_mechanism(sigma, steps):
    """With every example in every step, T steps are the Gaussian mechanism composed T times:
    RDP of order a is T a / (2 sigma^2), converted to (epsilon, delta) by Balle et al. (2020)."""
    delta = 1e-5
    orders = np.array([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))
    rdp = steps * orders / (2 * sigma**2)
    epsilon = np.min(rdp - (np.log(delta) + np.log(orders)) / (orders - 1) + np.log((orders - 1) / orders))
    assert dp_sgd.guaranteed_epsilon(sigma, 1.0, steps, delta) == pytest.approx(epsilon, rel=1e-9)
    assert dp_sgd.guaranteed_epsilon(0.0, 1.0, steps, delta) is None  # no noise: no guarantee


def test_subsampling_and_fewer_steps_give_a_smaller_epsilon():
    many = dp_sgd.guaranteed_epsilon(1.0, 0.1, 1000, 1e-5)
    assert dp_sgd.guaranteed_epsilon(1.0, 0.01, 1000, 1e-5) < many
    assert dp_sgd.guaranteed_epsilon(1.0, 0.1, 100, 1e-5) < many
    assert dp_sgd.guaranteed_epsilon(4.0, 0.1, 1000, 1e-5) < many


def dp_recipe(sigma=0.8, epochs=4, batch_size=32):
    return {"epochs": epochs, "batch_size": batch_size, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
            "augment": {"mirror": True, "shift": 1, "padding": "reflect"},
            "dp": {"noise_multiplier": sigma, "max_grad_norm": 1.0, "delta": 1e-5}}  # fmt: skip


def images(n=120, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=generator), torch.randint(0, 3, (n,), generator=generator)


def small(seed=0):
    torch.manual_seed(seed)
    return build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 3, [0.5], [0.25])


def test_dp_training_records_its_guarantee_and_leaves_a_plain_model():
    x, y = images()
    model = small()
    result = training.train(model, x, y, dp_recipe(), seed=3)
    privacy = result.privacy
    assert privacy["sample_rate"] == 32 / 120 and privacy["steps"] == 4 * 4
    assert privacy["epsilon"] == pytest.approx(dp_sgd.guaranteed_epsilon(0.8, 32 / 120, 16, 1e-5))
    assert privacy["noise_multiplier"] == 0.8 and privacy["delta"] == 1e-5
    assert all(not module._forward_hooks and not module._backward_hooks for module in model.modules())
    assert list(model.state_dict()) == list(small().state_dict())  # a plain state dict, loadable as any model's
    assert training.train(small(), x, y, dp_recipe(sigma=0.0), seed=3).privacy["epsilon"] is None
    without_dp = {key: value for key, value in dp_recipe().items() if key != "dp"}
    assert training.train(small(), x, y, without_dp, seed=3).privacy is None


def test_dp_training_is_deterministic_and_resumes_to_the_same_weights(tmp_path):
    x, y = images()
    whole = small()
    training.train(whole, x, y, dp_recipe(), seed=3)
    again = small()
    training.train(again, x, y, dp_recipe(), seed=3)
    for a, b in zip(whole.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    checkpoint = training.Checkpoint(path=tmp_path / "0.pt", every=2, key="k")
    saves = []
    original = checkpoint.save

    def save_then_stop(state):
        original(state)
        saves.append(1)
        raise KeyboardInterrupt  # killed right after the checkpoint of epoch 2

    checkpoint.save = save_then_stop
    with pytest.raises(KeyboardInterrupt):
        training.train(small(), x, y, dp_recipe(), seed=3, checkpoint=checkpoint)
    checkpoint.save = original
    resumed = small()
    result = training.train(resumed, x, y, dp_recipe(), seed=3, checkpoint=checkpoint)
    assert result.resumed_from_epoch == 2 and saves == [1]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_empty_poisson_samples_still_get_their_noise():
    x, y = images(n=200)
    model = small()
    before = [p.detach().clone() for p in model.parameters()]
    result = training.train(model, x, y, dp_recipe(epochs=1, batch_size=1), seed=0)  # rate 1/200: most steps empty
    assert math.isfinite(result.epoch_loss[0])
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_batchnorm_is_refused_in_one_line():
    model = build_model({"arch": "wrn", "depth": 10, "width": 1}, (3, 8, 8), 3, [0.5] * 3, [0.25] * 3)
    with pytest.raises(Exception, match="train.dp: the model has layers DP-SGD cannot train") as error:
        dp_sgd.DPSGD(model, dp_recipe(), n=100, noise_seed=0, device=torch.device("cpu"))
    assert "\n" not in str(error.value)
