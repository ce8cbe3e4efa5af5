"""Images as float tensors and their augmentations (torch): the random mirror and pad-and-crop
shift of training, and the fixed mirror/shift of each query (lira.core.queries).

Data stays resident as one float tensor in [0, 1]; batches are augmented on the tensor's device,
which is faster than a DataLoader for data this size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from lira.core.queries import Query


def to_float_images(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """A pool's inputs as the float32 [N, C, H, W] tensor the models take, on `device`, channels_last
    (faster convs on CPU): uint8 images [N, C, H, W] become pixels / 255 in [0, 1]; float32 inputs
    (a user's features as [N, D, 1, 1], lira.workflow.datasets) are already on the user's scale and
    are copied as they are. Any other dtype is a TypeError: guessing its scale would train on garbage."""
    if images.dtype == np.uint8:
        tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
        return (tensor.float() / 255.0).contiguous(memory_format=torch.channels_last)
    if images.dtype == np.float32:
        # A copy even on the CPU: training must never write into the caller's array (the pool).
        tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device, copy=True)
        return tensor.contiguous(memory_format=torch.channels_last)
    raise TypeError(f"to_float_images: expected uint8 images or float32 inputs, got {images.dtype}")


def shift_images(images: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, pad: int, mode: str) -> torch.Tensor:
    """Shift each image b of [B, C, H, W] by (dx[b], dy[b]) pixels (right, down) with pad-and-crop;
    |dx|, |dy| <= pad. mode: 'reflect' or 'zeros'."""
    if pad == 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (pad,) * 4, mode="reflect" if mode == "reflect" else "constant")
    rows = (pad - dy)[:, None] + torch.arange(height, device=images.device)  # [B, H]
    cols = (pad - dx)[:, None] + torch.arange(width, device=images.device)  # [B, W]
    batch_index = torch.arange(batch, device=images.device)[:, None, None]
    crops = padded.permute(0, 2, 3, 1)[batch_index, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return crops.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def apply_query(images: torch.Tensor, query: Query, pad_mode: str) -> torch.Tensor:
    """The same augmentation for every image of the batch."""
    if query.mirror:
        images = images.flip(-1)
    if query.dx == 0 and query.dy == 0:
        return images
    batch = images.shape[0]
    pad = max(abs(query.dx), abs(query.dy))
    full = lambda value: torch.full((batch,), value, dtype=torch.long, device=images.device)  # noqa: E731
    return shift_images(images, full(query.dx), full(query.dy), pad, pad_mode)


def random_augment(images: torch.Tensor, mirror: bool, shift: int, pad_mode: str, generator: torch.Generator):
    """Training augmentation: mirror with probability 1/2, shift uniformly in [-shift, shift]^2."""
    batch = images.shape[0]
    if mirror:
        flip = torch.rand(batch, generator=generator, device=generator.device) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    if shift:
        dx, dy = torch.randint(-shift, shift + 1, (2, batch), generator=generator, device=generator.device)
        images = shift_images(images, dx, dy, shift, pad_mode)
    return images


def shift_distribution(images: torch.Tensor, shift: dict) -> torch.Tensor:
    """A fixed distribution shift of training images (config split.shift; the paper's Fig. 10
    trains shadows on another distribution than the target's): each image's contrast scaled by
    shift["contrast"] about its own mean (per channel), then a Gaussian blur of standard deviation
    shift["blur"] pixels (reflect-padded, radius 3 sigma; 0: none). Deterministic; float
    [N, C, H, W] in, same shape and memory format out, values kept within the input's range."""
    mean = images.mean(dim=(2, 3), keepdim=True)  # [N, C, 1, 1]
    shifted = mean + shift["contrast"] * (images - mean)
    sigma = float(shift["blur"])
    if sigma > 0:
        radius = max(1, int(np.ceil(3 * sigma)))
        offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        kernel = kernel / kernel.sum()  # [2 radius + 1]
        channels = images.shape[1]
        # Separable: rows, then columns, each channel on its own (groups=channels).
        horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
        vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
        shifted = F.conv2d(F.pad(shifted, (radius, radius, 0, 0), mode="reflect"), horizontal, groups=channels)
        shifted = F.conv2d(F.pad(shifted, (0, 0, radius, radius), mode="reflect"), vertical, groups=channels)
    return shifted.contiguous(memory_format=torch.channels_last)
