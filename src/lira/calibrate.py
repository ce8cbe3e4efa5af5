"""A short calibration for lira.plan: how long one epoch of the configured model takes here, and one
logits job, measured on random images of the dataset's shape (no data needed). Prints one JSON line.

    python -m lira.calibrate --configfile config/cifar10.yaml [--steps 10]

A few training steps with the config's batch size, augmentation and model (after an untimed
warm-up step: allocation, cuDNN autotuning) give the seconds per step, times the steps of an
epoch; one inference batch (after a warm-up one) gives the seconds per image and query, times the
pool and the queries.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from . import devices, training  # noqa: E402
from .datasets import IMAGE_SHAPE, NUM_CLASSES  # noqa: E402
from .models import build_model, memory_format  # noqa: E402
from .plan import load_config  # noqa: E402
from .queries import query_set  # noqa: E402

WARMUP_STEPS = 1


def measure(config: dict, steps: int, log: logging.Logger) -> dict:
    compute, recipe = config["compute"], config["train"]
    torch.set_num_threads(compute["threads"])
    device = devices.select_device("cpu" if compute["device"] == "cpu" else "auto", log)
    shape, classes = IMAGE_SHAPE[config["data"]["dataset"]], NUM_CLASSES[config["data"]["dataset"]]
    rng = np.random.default_rng(0)
    batch = min(recipe["batch_size"], config["data"]["pool_size"] // 2)

    def images(count):
        return training.to_float_images(rng.integers(0, 256, (count, *shape), dtype=np.uint8), device)

    def labels(count):
        return torch.from_numpy(rng.integers(0, classes, count)).to(device)

    model = build_model(config["model"], shape, classes, [0.5] * shape[0], [0.25] * shape[0])
    model = model.to(device, memory_format=memory_format(config["model"]))
    weights_bytes = sum(value.numel() * value.element_size() for value in model.state_dict().values())
    startup = time.perf_counter() - START

    def seconds_per_step(count):
        one_epoch = {**recipe, "epochs": 1}
        result = training.train(model, images(count * batch), labels(count * batch), one_epoch, seed=0)
        return result.epoch_seconds[0] / count

    seconds_per_step(WARMUP_STEPS)
    step = seconds_per_step(steps)
    steps_per_epoch = math.ceil((config["data"]["pool_size"] // 2) / batch)

    queries = query_set(config["queries"]["mirror"], config["queries"]["shift"], config["queries"]["stride"])
    eval_batch = min(compute["eval_batch_size"], config["data"]["pool_size"], 512)
    sample = images(eval_batch)
    training.predict_logits(model, sample, queries[-1:], config["queries"]["padding"], eval_batch)  # warm-up
    begin = time.perf_counter()
    training.predict_logits(model, sample, queries[-1:], config["queries"]["padding"], eval_batch)
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
        "logits_compute_seconds": per_image_query * config["data"]["pool_size"] * len(queries),
        "startup_seconds": startup,
        "weights_bytes": weights_bytes,
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lira.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", type=Path, action="append", default=[])
    parser.add_argument("--directory", type=Path, default=Path("."))
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    log = logging.getLogger("lira.calibrate")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    print(json.dumps(measure(load_config(args.directory, args.configfile), args.steps, log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
