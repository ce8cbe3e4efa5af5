"""Training a shadow model and querying it (torch).

Data stays resident as one float tensor in [0, 1]; batches are augmented on the tensor's device
(random mirror and pad-and-crop shift), which is faster than a DataLoader for data this size.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .queries import Query


def pick_device(requested: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:K' or 'auto' (the first GPU when there is one, else the CPU)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={requested!r} but torch sees no GPU on this machine; use 'cpu' or 'auto'")
    return device


def to_float_images(images_uint8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float32 [N, C, H, W] in [0, 1], channels_last (faster convs on CPU)."""
    images = torch.from_numpy(np.ascontiguousarray(images_uint8)).to(device)
    return (images.float() / 255.0).contiguous(memory_format=torch.channels_last)


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


@dataclass
class TrainResult:
    epoch_loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    epoch_seconds: list[float] = field(default_factory=list)


def train(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: dict, seed: int) -> TrainResult:
    """SGD with momentum, weight decay and a cosine learning-rate decay to 0, per the config's
    `train` section: epochs, batch_size, lr, momentum, weight_decay, augment {mirror, shift, padding}.
    Deterministic on CPU for a fixed seed and thread count."""
    device = images.device
    generator = torch.Generator(device=device).manual_seed(seed)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
        nesterov=recipe["momentum"] > 0,
    )
    n = images.shape[0]
    batch_size = min(recipe["batch_size"], n)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = recipe["epochs"] * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps)))
    augment = recipe["augment"]
    result = TrainResult()
    model.train()
    for _ in range(recipe["epochs"]):
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=device)
        total_loss = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            batch = order[step * batch_size : (step + 1) * batch_size]
            inputs = random_augment(images[batch], augment["mirror"], augment["shift"], augment["padding"], generator)
            loss = F.cross_entropy(model(inputs), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.detach() * batch.numel()
        result.epoch_loss.append(float(total_loss) / n)
        result.epoch_seconds.append(time.perf_counter() - start)
        if not math.isfinite(result.epoch_loss[-1]):
            raise FloatingPointError(f"training diverged: loss per epoch {result.epoch_loss}")
    return result


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, queries: list[Query], pad_mode: str, batch_size: int) -> np.ndarray:
    """Logits of every example under every query, float32 [N, Q, classes], model in eval mode."""
    model.eval()
    per_query = []
    for query in queries:
        chunks = [model(apply_query(images[i : i + batch_size], query, pad_mode)) for i in range(0, images.shape[0], batch_size)]
        per_query.append(torch.cat(chunks).float().cpu())
    return torch.stack(per_query, dim=1).numpy()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    model.eval()
    correct = sum(
        int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
        for i in range(0, images.shape[0], batch_size)
    )
    return correct / max(images.shape[0], 1)
