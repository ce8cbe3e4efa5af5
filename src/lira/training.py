"""Training a shadow model and querying it (torch).

Data stays resident as one float tensor in [0, 1]; batches are augmented on the tensor's device
(random mirror and pad-and-crop shift), which is faster than a DataLoader for data this size.

Training saves a checkpoint every few epochs (model, optimizer, schedule, random generator and
the epochs done) so that a preempted or killed job resumes where it stopped, and the resumed run
ends with the same weights, bit for bit, as an uninterrupted one.

The optimizer (SGD with Nesterov momentum and weight decay) and its cosine schedule are written
here, a dozen lines, rather than taken from torch.optim: the first use of a torch.optim optimizer
imports torch._dynamo, about 2 s per training job (benchmarks/, "Pipeline overhead"), more than a
whole small model's compute on some machines. The update is torch.optim.SGD's, value for value
(tests/test_queries_and_training.py compares them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import io
from .queries import Query


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
    resumed_from_epoch: int = 0  # epochs restored from a checkpoint (0: trained from scratch)


# Version of the saved state's layout: a checkpoint of another layout is ignored, not misread.
CHECKPOINT_FORMAT = 2


@dataclass
class Checkpoint:
    """Where train() keeps its state, how often (every `every` epochs; 0: never), and the key a
    saved state must carry to be resumed: a hash of everything that decides the weights
    (checkpoint_key), so a changed recipe, split or pool never resumes from a stale state."""

    path: Path
    every: int
    key: str

    def save(self, state: dict) -> None:
        """Write atomically: a job killed while saving leaves the previous checkpoint intact."""
        with io.atomic_path(self.path) as temporary:
            torch.save({"key": self.key, "format": CHECKPOINT_FORMAT, **state}, temporary)

    def load(self, log: logging.Logger | None = None) -> dict | None:
        """The saved state (tensors on the CPU), or None when there is none or it is stale."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # an unreadable file is only a lost shortcut: train from scratch
            _log(log, "ignoring unreadable checkpoint %s: %s", self.path, error)
            return None
        if state.get("key") != self.key:
            _log(log, "ignoring checkpoint %s: saved for other settings", self.path)
            return None
        if state.get("format") != CHECKPOINT_FORMAT:
            _log(log, "ignoring checkpoint %s: saved by an older version of lira.training", self.path)
            return None
        return state

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class NesterovSGD:
    """SGD with Nesterov momentum and L2 weight decay, as torch.optim.SGD(nesterov=True) computes it:

        g = grad + weight_decay * p;  v = momentum * v + g;  p -= lr * (g + momentum * v)

    (v starts at 0, so the first step's v is g, as in torch). `lr` is set before each step."""

    def __init__(self, parameters, momentum: float, weight_decay: float):
        self.parameters = [p for p in parameters if p.requires_grad]
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.velocity = [torch.zeros_like(p) for p in self.parameters]

    @torch.no_grad()
    def step(self, lr: float) -> None:
        for parameter, velocity in zip(self.parameters, self.velocity):
            if parameter.grad is None:
                continue
            gradient = parameter.grad.add(parameter, alpha=self.weight_decay)
            if self.momentum:
                velocity.mul_(self.momentum).add_(gradient)
                gradient = gradient.add(velocity, alpha=self.momentum)
            parameter.add_(gradient, alpha=-lr)

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    def state_dict(self) -> dict:
        return {"velocity": [v.cpu() for v in self.velocity]}

    def load_state_dict(self, state: dict) -> None:
        for velocity, saved in zip(self.velocity, state["velocity"], strict=True):
            velocity.copy_(saved)


def cosine_lr(base_lr: float, step: int, total_steps: int) -> float:
    """The learning rate of step `step` (0-based) of a cosine decay from base_lr to 0."""
    return base_lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


def checkpoint_key(settings: dict, *arrays: np.ndarray) -> str:
    """sha256 of the settings (any JSON-able value) and the bytes of the arrays."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for array in arrays:
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _log(log: logging.Logger | None, message: str, *args) -> None:
    if log is not None:
        log.info(message, *args)


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: dict,
    seed: int,
    checkpoint: Checkpoint | None = None,
    log: logging.Logger | None = None,
) -> TrainResult:
    """SGD with momentum, weight decay and a cosine learning-rate decay to 0, per the config's
    `train` section: epochs, batch_size, lr, momentum, weight_decay, augment {mirror, shift, padding},
    precision (float32, or bfloat16 autocast of the forward pass and loss).
    Deterministic on CPU for a fixed seed and thread count, with or without a resume from
    `checkpoint`. The checkpoint is left in place: remove it once the weights are saved."""
    device = images.device
    generator = torch.Generator(device=device).manual_seed(seed)
    # Nesterov momentum whenever there is momentum (the paper's recipe); plain SGD without.
    optimizer = NesterovSGD(model.parameters(), momentum=recipe["momentum"], weight_decay=recipe["weight_decay"])
    n = images.shape[0]
    batch_size = min(recipe["batch_size"], n)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = recipe["epochs"] * steps_per_epoch
    augment = recipe["augment"]
    precision = recipe.get("precision", "float32")
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"train.precision must be float32 or bfloat16, got {precision!r}")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    result = TrainResult()
    state = checkpoint.load(log) if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        result.epoch_loss = state["epoch_loss"].tolist()
        result.epoch_seconds = state["epoch_seconds"].tolist()
        result.resumed_from_epoch = len(result.epoch_loss)
        _log(log, "resumed from checkpoint %s after epoch %d of %d", checkpoint.path, result.resumed_from_epoch, recipe["epochs"])
    model.train()
    for epoch in range(result.resumed_from_epoch + 1, recipe["epochs"] + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=device)
        total_loss = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            batch = order[step * batch_size : (step + 1) * batch_size]
            inputs = random_augment(images[batch], augment["mirror"], augment["shift"], augment["padding"], generator)
            with autocast:
                loss = F.cross_entropy(model(inputs), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(cosine_lr(recipe["lr"], (epoch - 1) * steps_per_epoch + step, total_steps))
            total_loss += loss.detach() * batch.numel()
        result.epoch_loss.append(float(total_loss) / n)
        result.epoch_seconds.append(time.perf_counter() - start)
        _log(log, "epoch %d loss %.4f (%.2f s)", epoch, result.epoch_loss[-1], result.epoch_seconds[-1])
        if not math.isfinite(result.epoch_loss[-1]):
            raise FloatingPointError(f"training diverged: loss per epoch {result.epoch_loss}")
        # The last epoch is saved too: a job that trains a block of models and is killed on a
        # later model then skips this one when it reruns.
        if checkpoint is not None and checkpoint.every and (epoch % checkpoint.every == 0 or epoch == recipe["epochs"]):
            checkpoint.save(
                {
                    "model": {k: v.cpu() for k, v in model.state_dict().items()},
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "epoch_loss": torch.tensor(result.epoch_loss, dtype=torch.float64),
                    "epoch_seconds": torch.tensor(result.epoch_seconds, dtype=torch.float64),
                }
            )
            _log(log, "checkpoint after epoch %d: %s", epoch, checkpoint.path)
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
