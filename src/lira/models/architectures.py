"""Model architectures (torch). Every model takes float images in [0, 1], [B, C, H, W], and
normalises them itself with the pool's per-channel mean and std, stored as buffers so that a saved
state dict is a complete model."""

from __future__ import annotations

import torch
from torch import nn

ARCHITECTURES = ("mlp", "cnn", "patch_cnn", "wrn")


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def mlp(in_shape, num_classes, width):
    """One hidden layer of `width` units."""
    channels, height, breadth = in_shape
    return nn.Sequential(
        nn.Flatten(), nn.Linear(channels * height * breadth, width), nn.ReLU(), nn.Linear(width, num_classes)
    )


def cnn(in_shape, num_classes, width):
    """Two 3x3 conv blocks (width, 2*width channels), each ReLU + 2x2 max-pool, then a linear head:
    small enough to train 64 copies on a laptop CPU, deep enough to memorise.

    Each block pools before the ReLU: max-pool and ReLU commute (both monotone), so the outputs
    and the gradients are exactly those of ReLU-then-pool, but the ReLU and its backward touch a
    quarter of the values (a faster training step on CPU: docs/performance.md). The modules' order
    holds no parameters, so state dicts are unchanged."""
    channels, height, breadth = in_shape
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1),
        nn.MaxPool2d(2),
        nn.ReLU(inplace=True),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.MaxPool2d(2),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(2 * width * (height // 4) * (breadth // 4), num_classes),
    )


def patch_cnn(in_shape, num_classes, width, patch):
    """A CNN whose every layer is a large matrix product, the default's model on CPU:

        patch x patch convolution with stride patch (each image cut into non-overlapping patches,
        each mapped linearly to `width` channels, as in ViT or ConvMixer), ReLU,
        3x3 convolution width -> width on the grid of patches, ReLU, linear head.

    On 28x28 images with patch 4 and width 64 it trains as fast as `cnn` with width 8, to the same
    accuracy on the default experiment, while running near the CPU's matrix-multiply rate (about
    half of it, against 1/7 for `cnn`): `cnn`'s 8- and 16-channel layers and its max-pools move
    more memory than they compute (benchmarks/, docs/performance.md)."""
    channels, height, breadth = in_shape
    if height % patch or breadth % patch:
        raise ValueError(f"model.patch {patch} must divide the image size, got {height} x {breadth} images")
    grid = (height // patch) * (breadth // patch)
    return nn.Sequential(
        nn.Conv2d(channels, width, patch, stride=patch),
        nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(width * grid, num_classes),
    )


class _WideBlock(nn.Module):
    """Pre-activation residual block of a wide ResNet (Zagoruyko & Komodakis, 2016)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        return out + (x if self.shortcut is None else self.shortcut(pre))


def wide_resnet(in_shape, num_classes, depth, width):
    """WRN-depth-width; the paper's CIFAR models are WRN-28-2."""
    if (depth - 4) % 6:
        raise ValueError(f"wide ResNet depth must be 6k + 4 (e.g. 16, 22, 28), got {depth}")
    blocks = (depth - 4) // 6
    stages = [16, 16 * width, 32 * width, 64 * width]
    layers = [nn.Conv2d(in_shape[0], stages[0], 3, 1, 1, bias=False)]
    for stage in range(3):
        for block in range(blocks):
            in_channels = stages[stage] if block == 0 else stages[stage + 1]
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(_WideBlock(in_channels, stages[stage + 1], stride))
    layers += [nn.BatchNorm2d(stages[3]), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    layers.append(nn.Linear(stages[3], num_classes))
    return nn.Sequential(*layers)


def memory_format(spec: dict) -> torch.memory_format:
    """The layout a model of `spec` trains fastest in on a CPU (measured by the benchmark suite,
    docs/performance.md): channels_last for `cnn` and `wrn`, whose 3x3 convolutions slide over
    every pixel; the default NCHW for `patch_cnn` (its layers are plain matrix products either
    way) and `mlp` (no convolutions)."""
    return torch.channels_last if spec["arch"] in ("cnn", "wrn") else torch.contiguous_format


def build_model(spec: dict, in_shape, num_classes: int, mean, std) -> nn.Module:
    """Model from the config's `model` section, e.g. {arch: patch_cnn, width: 64, patch: 4} or
    {arch: wrn, depth: 28, width: 2}, with input normalisation in front."""
    arch = spec["arch"]
    if arch == "mlp":
        body = mlp(in_shape, num_classes, spec["width"])
    elif arch == "cnn":
        body = cnn(in_shape, num_classes, spec["width"])
    elif arch == "patch_cnn":
        body = patch_cnn(in_shape, num_classes, spec["width"], spec["patch"])
    elif arch == "wrn":
        body = wide_resnet(in_shape, num_classes, spec["depth"], spec["width"])
    else:
        raise ValueError(f"model.arch must be one of {ARCHITECTURES}, got {arch!r}")
    return nn.Sequential(Normalize(mean, std), body)
