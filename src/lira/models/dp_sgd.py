"""DP-SGD (Abadi et al., CCS 2016) for lira.models.training.train, with Opacus.

The recipe's `train.dp` {noise_multiplier, max_grad_norm, delta} turns training into DP-SGD: each
step draws a Poisson sample of the examples (each independently with probability
batch_size / n), computes every example's gradient (Opacus's GradSampleModule), clips each to
L2 norm max_grad_norm, sums them, adds Gaussian noise of standard deviation
noise_multiplier * max_grad_norm, and divides by the expected batch size (Opacus's DPOptimizer);
the momentum, weight decay and learning-rate schedule then act on that noisy gradient as in the
non-private recipe. The epsilon the recipe guarantees at `delta` comes from Opacus's RDP
accountant over (noise_multiplier, sample rate, steps): the sampling is the one the accountant
assumes, so the guarantee holds for the training as run. noise_multiplier 0 clips without noise
and guarantees nothing (epsilon infinite, recorded as None).

Why Opacus: it is the PyTorch ecosystem's maintained DP-SGD library, its per-example gradients
and clipping are tested against many layer types, and its accountant is the one users report ε
with; this module only adapts it to the workflow's resident-tensor training loop (Poisson
sampling with the loop's seeded generator, a seeded noise generator that checkpoints resume).
"""

from __future__ import annotations

import warnings

import torch
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant
from opacus.optimizers import DPOptimizer
from opacus.validators import ModuleValidator
from torch import nn
from torch.nn import functional as F

from lira.models.architectures import ArchitectureError


def sample_rate(recipe: dict, n: int) -> float:
    """The Poisson sampling rate: the expected batch is the recipe's batch size (at most n)."""
    return min(recipe["batch_size"], n) / n


def guaranteed_epsilon(noise_multiplier: float, rate: float, steps: int, delta: float) -> float | None:
    """The epsilon at `delta` that `steps` DP-SGD steps with Poisson rate `rate` and this noise
    multiplier guarantee (Opacus's RDP accountant); None (infinite) without noise."""
    if noise_multiplier == 0:
        return None
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, rate, steps)]
    return float(accountant.get_epsilon(delta))


class DPSGD:
    """One model's DP-SGD: its per-example-gradient wrapper, its DP optimizer and noise generator.

    `model` trains in place (GradSampleModule hooks its layers until close()); momentum and weight
    decay as the non-private recipe (torch.optim.SGD, Nesterov when there is momentum)."""

    def __init__(self, model: nn.Module, recipe: dict, n: int, noise_seed: int, device: torch.device):
        dp = recipe["dp"]
        problems = ModuleValidator.validate(model, strict=False)
        if problems:
            names = sorted({type(error).__name__ for error in problems})
            raise ArchitectureError(
                f"train.dp: the model has layers DP-SGD cannot train per example ({', '.join(names)}: "
                f"{str(problems[0]).splitlines()[0]}); use mlp, cnn, patch_cnn, or an architecture without BatchNorm"
            )
        for module in model.modules():  # Opacus's backward hooks forbid in-place ops on a hooked layer's output
            if hasattr(module, "inplace"):
                module.inplace = False  # the same values, and no parameter: the state dict is unchanged
        self.rate = sample_rate(recipe, n)
        self.expected_batch = min(recipe["batch_size"], n)
        # loss_reduction "sum": the per-example gradients are the examples' own, and an empty
        # Poisson sample has a loss of 0 (a mean would be NaN) and still gets its noise.
        self.module = GradSampleModule(model, loss_reduction="sum")
        momentum = recipe["momentum"]
        sgd = torch.optim.SGD(
            model.parameters(), lr=recipe["lr"], momentum=momentum, nesterov=momentum > 0,
            weight_decay=recipe["weight_decay"],
        )  # fmt: skip
        self.noise = torch.Generator(device=device).manual_seed(noise_seed)
        self.optimizer = DPOptimizer(
            sgd,
            noise_multiplier=dp["noise_multiplier"],
            max_grad_norm=dp["max_grad_norm"],
            expected_batch_size=self.expected_batch,
            loss_reduction="mean",  # divides the noisy sum by the expected batch size
            generator=self.noise,
        )

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """A Poisson sample: indices of the examples drawn this step (possibly none)."""
        return torch.nonzero(torch.rand(n, generator=generator, device=generator.device) < self.rate).squeeze(1)

    def step(self, inputs: torch.Tensor, labels: torch.Tensor, lr: float) -> torch.Tensor:
        """One DP-SGD step on the batch; returns the batch's summed loss (detached)."""
        loss = F.cross_entropy(self.module(inputs), labels, reduction="sum")
        self.optimizer.zero_grad(set_to_none=True)
        with warnings.catch_warnings():
            # The first layer's hook fires without an input gradient (images need none): expected.
            warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
            loss.backward()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return loss.detach()

    def guarantee(self, steps: int, dp: dict) -> dict:
        """What the training guaranteed: the dp settings, sample rate, steps, and the epsilon at
        dp["delta"] (None: infinite, no noise) with the accountant that gave it."""
        epsilon = guaranteed_epsilon(dp["noise_multiplier"], self.rate, steps, dp["delta"])
        return {**dp, "sample_rate": self.rate, "steps": steps, "epsilon": epsilon, "accountant": "Opacus RDP"}

    def state(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "noise_generator": self.noise.get_state()}

    def load(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.noise.set_state(state["noise_generator"])

    def close(self) -> None:
        """Remove the per-example-gradient hooks: the model is a plain module again."""
        self.module._close()
