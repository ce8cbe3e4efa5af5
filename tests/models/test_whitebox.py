"""White-box signals against direct computations: per-example gradient norms against one
loss.backward() per example, MERLIN's scores against a loop over examples and noisy copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lira.models.architectures import build_model
from lira.models.whitebox import gradient_norms, merlin_noise, merlin_scores, stable_loss


def tiny_model(arch="cnn"):
    torch.manual_seed(0)
    spec = {"arch": arch, "width": 4} if arch != "patch_cnn" else {"arch": arch, "width": 8, "patch": 4}
    return build_model(spec, (1, 8, 8), 3, np.array([0.5]), np.array([0.25])).eval()


def data(n=7):
    generator = torch.Generator().manual_seed(1)
    return torch.rand((n, 1, 8, 8), generator=generator), torch.randint(0, 3, (n,), generator=generator)


@pytest.mark.parametrize("arch", ["cnn", "mlp", "patch_cnn"])
def test_gradient_norms_match_a_backward_pass_per_example(arch, one_torch_thread):
    model = tiny_model(arch)
    inputs, labels = data()
    expected = []
    for x, y in zip(inputs, labels):
        model.zero_grad()
        F.cross_entropy(model(x[None]), y[None]).backward()
        expected.append(torch.sqrt(sum(p.grad.square().sum() for p in model.parameters())).item())
    norms = gradient_norms(model, inputs, labels, batch_size=3)
    assert norms.dtype == np.float32 and norms.shape == (7,)
    np.testing.assert_allclose(norms, expected, rtol=1e-4)


def test_stable_loss_is_the_cross_entropy_and_stays_positive_when_confident():
    logits = torch.tensor([[1.0, 2.0, 0.5], [40.0, 0.0, 0.0]])
    labels = torch.tensor([1, 0])
    loss = stable_loss(logits, labels)
    assert loss[0].item() == pytest.approx(F.cross_entropy(logits[:1].double(), labels[:1]).item(), rel=1e-12)
    assert loss[1].item() == pytest.approx(2 * np.exp(-40.0), rel=1e-9)  # float32 cross-entropy: 0


def test_merlin_scores_match_a_loop_over_examples_and_noisy_copies(one_torch_thread):
    model = tiny_model()
    inputs, labels = data()
    examples = np.arange(10, 17)  # pool indices: they seed the noise
    scores = merlin_scores(model, inputs, labels, examples, 0.05, draws=6, seed=3, model_index=2, batch_size=13)
    expected = []
    with torch.no_grad():
        for x, y, example in zip(inputs, labels, examples):
            noise = merlin_noise(3, 2, int(example), 6, x.shape)
            clean = F.cross_entropy(model(x[None]).double(), y[None]).item()
            exceeding = [F.cross_entropy(model((x + 0.05 * e)[None]).double(), y[None]).item() > clean for e in noise]
            expected.append(np.mean(exceeding))
    np.testing.assert_allclose(scores, expected)
    # The draws depend on (seed, model, example) only: another batching gives the same scores.
    again = merlin_scores(model, inputs[2:], labels[2:], examples[2:], 0.05, 6, 3, 2, batch_size=6)
    np.testing.assert_array_equal(again, scores[2:])
    assert not np.array_equal(merlin_noise(3, 2, 10, 6, (1, 8, 8)), merlin_noise(3, 3, 10, 6, (1, 8, 8)))
