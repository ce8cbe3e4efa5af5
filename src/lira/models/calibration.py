"""Measuring this machine for lira.tools.calibrate (torch): a few training steps and inference
batches of the configured model on random images of the dataset's shape."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from lira.core.queries import query_set
from lira.models import devices, training
from lira.models.architectures import build_model, memory_format
from lira.models.images import to_float_images
from lira.models.querying import predict_logits
from lira.workflow.config import pool_examples
from lira.workflow.datasets import input_layout

WARMUP_STEPS = 1


def measure(config: dict, steps: int, log: logging.Logger, started_at: float) -> dict:
    """Seconds per training step and epoch, per logits job's compute, the start-up (process,
    torch import, building the model: from `started_at`, a time.perf_counter() reading taken
    when the process started) and the weights' size, as one JSON-able dict."""
    compute, recipe = config["compute"], config["train"]
    torch.set_num_threads(compute["threads"])
    device = devices.select_device("cpu" if compute["device"] == "cpu" else "auto", log)
    shape, classes = input_layout(config["data"]["dataset"], config["data"].get("file"))
    rng = np.random.default_rng(0)
    batch = min(recipe["batch_size"], pool_examples(config) // 2)

    def images(count):
        return to_float_images(rng.integers(0, 256, (count, *shape), dtype=np.uint8), device)

    def labels(count):
        return torch.from_numpy(rng.integers(0, classes, count)).to(device)

    model = build_model(config["model"], shape, classes, [0.5] * shape[0], [0.25] * shape[0])
    model = model.to(device, memory_format=memory_format(config["model"]))
    weights_bytes = sum(value.numel() * value.element_size() for value in model.state_dict().values())
    startup = time.perf_counter() - started_at

    def seconds_per_step(count):
        one_epoch = {**recipe, "epochs": 1}
        result = training.train(model, images(count * batch), labels(count * batch), one_epoch, seed=0)
        return result.epoch_seconds[0] / count

    seconds_per_step(WARMUP_STEPS)
    step = seconds_per_step(steps)
    steps_per_epoch = math.ceil((pool_examples(config) // 2) / batch)

    queries = query_set(config["queries"]["mirror"], config["queries"]["shift"], config["queries"]["stride"])
    eval_batch = min(compute["eval_batch_size"], pool_examples(config), 512)
    sample = images(eval_batch)
    predict_logits(model, sample, queries[-1:], config["queries"]["padding"], eval_batch)  # warm-up
    begin = time.perf_counter()
    predict_logits(model, sample, queries[-1:], config["queries"]["padding"], eval_batch)
    per_image_query = (time.perf_counter() - begin) / eval_batch
    return {
        "device": str(device),
        "threads": compute["threads"],
        "steps": steps,
        "warmup_steps": WARMUP_STEPS,
        "batch_size": batch,
        "steps_per_epoch": steps_per_epoch,
        "step_seconds": step,
        "epoch_seconds": step * steps_per_epoch,
        "logits_compute_seconds": per_image_query * pool_examples(config) * len(queries),
        "startup_seconds": startup,
        "weights_bytes": weights_bytes,
        "torch": torch.__version__,
    }
