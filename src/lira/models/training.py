"""Training one model (torch): the recipe's SGD, cosine schedule and augmentation, with checkpoints.

Training saves a checkpoint every few epochs (model, optimizer, schedule, random generator and
the epochs done) so that a preempted or killed job resumes where it stopped, and the resumed run
ends with the same weights, bit for bit, as an uninterrupted one.

The optimizer (SGD with Nesterov momentum and weight decay) and its cosine schedule are written
here, a dozen lines, rather than taken from torch.optim: the first use of a torch.optim optimizer
imports torch._dynamo, which takes longer than a whole small model's compute on some machines
(docs/performance.md). The update is torch.optim.SGD's, value for value
(tests/models/test_training.py compares them).
"""

from __future__ import annotations

import hashlib
import io
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

from lira.models.images import random_augment
from lira.workflow import files


@dataclass
class TrainResult:
    epoch_loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    epoch_seconds: list[float] = field(default_factory=list)
    resumed_from_epoch: int = 0  # epochs restored from a checkpoint (0: trained from scratch)
    # DP-SGD only (lira.models.dp_sgd): its settings, sample rate, steps and guaranteed epsilon.
    privacy: dict | None = None


# Version of the saved state's layout: a checkpoint of another layout is ignored, not misread.
# 3: with the sha256 of its content (state_sha256).
CHECKPOINT_FORMAT = 3
# What train() resumes from: a saved state without any of these is ignored.
STATE_KEYS = ("model", "optimizer", "generator", "epoch_loss", "epoch_seconds")


def state_sha256(state) -> str:
    """sha256 over a saved state: its keys, and every tensor's dtype, shape and bytes, in order
    (nested dicts by sorted key, lists in order; any other value by its repr)."""
    digest = hashlib.sha256()

    def add(value):
        if isinstance(value, dict):
            digest.update(b"{%d" % len(value))
            for key in sorted(value, key=repr):
                digest.update(repr(key).encode())
                add(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(b"[%d" % len(value))
            for item in value:
                add(item)
        elif isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            digest.update(repr((str(tensor.dtype), tuple(tensor.shape))).encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
        else:
            digest.update(repr(value).encode())

    add(state)
    return digest.hexdigest()


@dataclass
class Checkpoint:
    """Where train() keeps its state, how often (every `every` epochs; 0: never), and the key a
    saved state must carry to be resumed: a hash of everything that decides the weights
    (checkpoint_key), so a changed recipe, split or pool never resumes from a stale state.

    A saved state also carries the sha256 of its content (state_sha256): a checkpoint changed
    since it was saved, or that is not a saved state at all (unreadable, not a dict, missing a
    part), is ignored with a warning naming it, and the model trains from scratch (to the same
    weights: training is deterministic)."""

    path: Path
    every: int
    key: str

    def save(self, state: dict) -> None:
        """Write atomically: a job killed while saving leaves the previous checkpoint intact.
        (Serialised in memory first, so that a full disk is an OSError, files.DiskFullError.)"""
        state = {"key": self.key, "format": CHECKPOINT_FORMAT, **state}
        buffer = io.BytesIO()
        torch.save({**state, "sha256": state_sha256(state)}, buffer)
        with files.atomic_path(self.path) as temporary:
            temporary.write_bytes(buffer.getvalue())

    def load(self, log: logging.Logger | None = None) -> dict | None:
        """The saved state (tensors on the CPU), or None when there is none or it is stale or
        damaged."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # an unreadable file is only a lost shortcut: train from scratch
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            _warn(log, "ignoring checkpoint %s: unreadable (%s); training from scratch", self.path, first)
            return None
        if not isinstance(state, dict):
            kind = type(state).__name__
            _warn(log, "ignoring checkpoint %s: holds a %s, not a saved training state; training from scratch", self.path, kind)
            return None
        if state.get("key") != self.key:
            _log(log, "ignoring checkpoint %s: saved for other settings", self.path)
            return None
        if state.get("format") != CHECKPOINT_FORMAT:
            _log(log, "ignoring checkpoint %s: saved by an older version of lira.models.training", self.path)
            return None
        recorded = state.pop("sha256", None)
        if recorded != state_sha256(state):
            _warn(
                log,
                "ignoring checkpoint %s: content does not match the sha256 recorded in it (changed since it was saved?); "
                "training from scratch",
                self.path,
            )
            return None
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            _warn(log, "ignoring checkpoint %s: no %s in it; training from scratch", self.path, ", ".join(missing))
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


class Adam:
    """Adam with L2 weight decay, as torch.optim.Adam(weight_decay=...) computes it (written here
    for the reason NesterovSGD is: torch.optim's first use imports torch._dynamo):

        g = grad + weight_decay * p;  m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2
        p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    at step t = 1, 2, ... `lr` is set before each step (the cosine schedule)."""

    def __init__(self, parameters, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.parameters = [p for p in parameters if p.requires_grad]
        self.weight_decay = weight_decay
        self.betas = betas
        self.eps = eps
        self.steps = 0
        self.first = [torch.zeros_like(p) for p in self.parameters]
        self.second = [torch.zeros_like(p) for p in self.parameters]

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        first_correction = 1 - beta1**self.steps
        root_second_correction = math.sqrt(1 - beta2**self.steps)
        for parameter, first, second in zip(self.parameters, self.first, self.second):
            if parameter.grad is None:
                continue
            gradient = parameter.grad.add(parameter, alpha=self.weight_decay)
            first.lerp_(gradient, 1 - beta1)
            second.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
            denominator = (second.sqrt() / root_second_correction).add_(self.eps)
            parameter.addcdiv_(first, denominator, value=-lr / first_correction)

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    def state_dict(self) -> dict:
        return {"steps": torch.tensor(self.steps), "first": [m.cpu() for m in self.first], "second": [v.cpu() for v in self.second]}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        for mine, saved in zip(self.first + self.second, state["first"] + state["second"], strict=True):
            mine.copy_(saved)


# train.optimizer: absent means sgd (NesterovSGD), so that configs written before the setting
# existed keep their recipes, and with them their models' files and population keys.
DEFAULT_OPTIMIZER = "sgd"


def make_optimizer(model: nn.Module, recipe: dict):
    """The recipe's optimizer: sgd (Nesterov momentum whenever there is momentum, the paper's
    recipe; plain SGD without) or adam (train.momentum unused)."""
    name = recipe.get("optimizer", DEFAULT_OPTIMIZER)
    if name == "sgd":
        return NesterovSGD(model.parameters(), momentum=recipe["momentum"], weight_decay=recipe["weight_decay"])
    if name == "adam":
        return Adam(model.parameters(), weight_decay=recipe["weight_decay"])
    raise ValueError(f"train.optimizer={name!r}: expected sgd or adam")


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


def _warn(log: logging.Logger | None, message: str, *args) -> None:
    """A warning: shown in the terminal too (lira.workflow.files.job_logger), one line."""
    if log is not None:
        log.warning(message, *args)


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: dict,
    seed: int,
    checkpoint: Checkpoint | None = None,
    log: logging.Logger | None = None,
) -> TrainResult:
    """SGD with momentum (or Adam: optimizer adam), weight decay and a cosine learning-rate decay
    to 0, per the config's `train` section: epochs, batch_size, lr, momentum, weight_decay, augment {mirror, shift, padding},
    precision (float32, or bfloat16 autocast of the forward pass and loss).
    Deterministic on CPU for a fixed seed and thread count, with or without a resume from
    `checkpoint`. The checkpoint is left in place: remove it once the weights are saved."""
    device = images.device
    generator = torch.Generator(device=device).manual_seed(seed)
    n = images.shape[0]
    batch_size = min(recipe["batch_size"], n)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = recipe["epochs"] * steps_per_epoch
    augment = recipe["augment"]
    precision = recipe.get("precision", "float32")
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"train.precision must be float32 or bfloat16, got {precision!r}")
    dp_sgd = None
    if recipe.get("dp"):
        from lira.models.dp_sgd import DPSGD  # Opacus: only for DP recipes

        # Its noise has a seed of its own, derived from the model's.
        dp_sgd = DPSGD(model, recipe, n, noise_seed=seed ^ 0xD9, device=device)
    else:
        optimizer = make_optimizer(model, recipe)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    result = TrainResult()
    state = checkpoint.load(log) if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        if dp_sgd is None:
            optimizer.load_state_dict(state["optimizer"])
        else:
            dp_sgd.load(state)  # its optimizer's state and its noise generator's
        generator.set_state(state["generator"])
        result.epoch_loss = state["epoch_loss"].tolist()
        result.epoch_seconds = state["epoch_seconds"].tolist()
        result.resumed_from_epoch = len(result.epoch_loss)
        _log(log, "resumed from checkpoint %s after epoch %d of %d", checkpoint.path, result.resumed_from_epoch, recipe["epochs"])
    model.train()
    for epoch in range(result.resumed_from_epoch + 1, recipe["epochs"] + 1):
        start = time.perf_counter()
        total_loss = torch.zeros((), device=device)
        if dp_sgd is not None:
            for step in range(steps_per_epoch):
                batch = dp_sgd.sample(n, generator)  # Poisson: the sampling the accountant assumes
                inputs = random_augment(images[batch], augment["mirror"], augment["shift"], augment["padding"], generator)
                lr = cosine_lr(recipe["lr"], (epoch - 1) * steps_per_epoch + step, total_steps)
                total_loss += dp_sgd.step(inputs, labels[batch], lr)
            # Each example is drawn once per epoch on average: the summed losses over n estimate the mean.
        else:
            order = torch.randperm(n, generator=generator, device=device)
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
                    **({"optimizer": optimizer.state_dict()} if dp_sgd is None else dp_sgd.state()),
                    "generator": generator.get_state(),
                    "epoch_loss": torch.tensor(result.epoch_loss, dtype=torch.float64),
                    "epoch_seconds": torch.tensor(result.epoch_seconds, dtype=torch.float64),
                }
            )
            _log(log, "checkpoint after epoch %d: %s", epoch, checkpoint.path)
    if dp_sgd is not None:
        dp_sgd.close()
        result.privacy = dp_sgd.guarantee(recipe["epochs"] * steps_per_epoch, recipe["dp"])
    return result
