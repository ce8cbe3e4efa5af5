"""Model architectures (torch). Every model takes float images in [0, 1], [B, C, H, W], and
normalises them itself: a built-in one with the pool's per-channel mean and std, stored as buffers
so that a saved state dict is a complete model.

model.arch is a built-in name (ARCHITECTURES) or the import path "package.module:function" of a
user's architecture, e.g. "my_models:resnet" for a file my_models.py in the Snakemake working
directory: function(in_shape, num_classes) -> torch.nn.Module (user_architecture, build_model).
"""

from __future__ import annotations

import importlib
import os
import re
import sys

import torch
from torch import nn

from lira.workflow.files import ReportedError

ARCHITECTURES = ("mlp", "cnn", "patch_cnn", "wrn")

# "package.module:function": dotted Python identifiers, a colon, one identifier.
_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


class ArchitectureError(ReportedError, ValueError):
    """model.arch names no architecture, or a user's architecture cannot be imported or does not
    build a torch.nn.Module. Its message is one line naming model.arch and what was expected."""


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


def is_user_architecture(arch) -> bool:
    """Whether model.arch `arch` is the import path "package.module:function" of a user's
    architecture (the text alone: nothing is imported)."""
    return isinstance(arch, str) and _IMPORT_PATH.match(arch) is not None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def user_architecture(arch: str):
    """The function a user's model.arch "package.module:function" names, imported with the
    working directory (Snakemake's, where a user keeps e.g. my_models.py) on sys.path."""
    if not is_user_architecture(arch):
        raise ArchitectureError(
            f"model.arch {arch!r}: expected one of {', '.join(ARCHITECTURES)} "
            "or an import path 'package.module:function'"
        )
    module_name, _, function_name = arch.partition(":")
    where = os.getcwd()
    if not sys.path or sys.path[0] != where:  # first: before an installed package of the same name
        sys.path.insert(0, where)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not (module_name + ".").startswith(error.name + "."):
            # The module was found, but one it imports was not.
            raise ArchitectureError(
                f"model.arch {arch!r}: importing module {module_name} raised {_first_line(error)}"
            ) from error
        raise ArchitectureError(
            f"model.arch {arch!r}: cannot import module {module_name} ({_first_line(error).partition(': ')[2]}); "
            "it must be importable from the working directory or an installed package"
        ) from None
    except Exception as error:  # the module's own code failed: one line, its traceback kept for the job's log
        raise ArchitectureError(
            f"model.arch {arch!r}: importing module {module_name} raised {_first_line(error)}"
        ) from error
    # The file, as another module of the same name (installed, or earlier on sys.path) may be the one imported.
    origin = f" ({module.__file__})" if getattr(module, "__file__", None) else ""
    if not hasattr(module, function_name):
        raise ArchitectureError(f"model.arch {arch!r}: module {module_name}{origin} has no attribute {function_name}")
    function = getattr(module, function_name)
    if not callable(function):
        raise ArchitectureError(
            f"model.arch {arch!r}: {module_name}.{function_name} is not callable (a {type(function).__name__}), "
            "expected a function (in_shape, num_classes) -> torch.nn.Module"
        )
    return function


def _build_user_model(arch: str, in_shape, num_classes: int) -> nn.Module:
    function = user_architecture(arch)
    call = f"{arch.partition(':')[2]}({in_shape}, {num_classes})"
    try:
        model = function(in_shape, num_classes)
    except Exception as error:  # the user's code failed: one line, its traceback kept for the job's log
        raise ArchitectureError(f"model.arch {arch!r}: {call} raised {_first_line(error)}") from error
    if not isinstance(model, nn.Module):
        found = "None" if model is None else f"a {type(model).__name__}"
        raise ArchitectureError(f"model.arch {arch!r}: {call} returned {found}, expected a torch.nn.Module")
    return model


def memory_format(spec: dict) -> torch.memory_format:
    """The layout a model of `spec` trains fastest in on a CPU (measured by the benchmark suite,
    docs/performance.md): channels_last for `cnn` and `wrn`, whose 3x3 convolutions slide over
    every pixel; the default NCHW for `patch_cnn` (its layers are plain matrix products either
    way), `mlp` (no convolutions) and a user's architecture (whose layers are unknown)."""
    return torch.channels_last if spec["arch"] in ("cnn", "wrn") else torch.contiguous_format


def build_model(spec: dict, in_shape, num_classes: int, mean, std) -> nn.Module:
    """Model from the config's `model` section, e.g. {arch: patch_cnn, width: 64, patch: 4} or
    {arch: wrn, depth: 28, width: 2}, with input normalisation (`mean`, `std`: per channel, [C])
    in front. It maps float images in [0, 1], [B, C, H, W] (in_shape = (C, H, W)), to logits
    [B, num_classes].

    A user's architecture, {arch: "package.module:function"}, is function(in_shape, num_classes)
    with in_shape a tuple (C, H, W), and its module is returned as it is: no normalisation in
    front. It receives the same float images in [0, 1], [B, C, H, W], and normalises them itself
    if it needs to; its other keys in `spec` are not passed to it."""
    arch = spec["arch"]
    if is_user_architecture(arch):
        return _build_user_model(arch, tuple(int(size) for size in in_shape), int(num_classes))
    if arch == "mlp":
        body = mlp(in_shape, num_classes, spec["width"])
    elif arch == "cnn":
        body = cnn(in_shape, num_classes, spec["width"])
    elif arch == "patch_cnn":
        body = patch_cnn(in_shape, num_classes, spec["width"], spec["patch"])
    elif arch == "wrn":
        body = wide_resnet(in_shape, num_classes, spec["depth"], spec["width"])
    else:
        raise ArchitectureError(
            f"model.arch must be one of {ARCHITECTURES} or an import path 'package.module:function', got {arch!r}"
        )
    return nn.Sequential(Normalize(mean, std), body)
