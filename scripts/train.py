"""Snakemake adapter: pool.npz -> models/<i>.pt (state dict) and models/<i>.json (metrics)."""

import io as bytes_io
import time

import numpy as np
import torch

from lira import io, splits, training
from lira.models import build_model

log = io.job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
model_index = int(snakemake.wildcards.model)
seed = snakemake.params.seed
device = training.pick_device(snakemake.config["compute"]["device"])

pool = io.load_arrays(snakemake.input.pool)
keep = splits.keep_mask(seed, model_index, len(pool["y"]))  # bool [pool]
members = np.flatnonzero(keep)
images = training.to_float_images(pool["x"][members], device)
labels = torch.from_numpy(pool["y"][members]).to(device)

torch.manual_seed(splits.model_seed(seed, model_index))
model = build_model(snakemake.params.model, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
model = model.to(device, memory_format=torch.channels_last)
log.info("model %d: %d training examples on %s, %d threads", model_index, len(members), device, snakemake.threads)

start = time.perf_counter()
result = training.train(model, images, labels, snakemake.params.recipe, seed=splits.model_seed(seed, model_index))
seconds = time.perf_counter() - start
for epoch, loss in enumerate(result.epoch_loss, 1):
    log.info("epoch %d loss %.4f", epoch, loss)

batch = snakemake.config["compute"]["eval_batch_size"]
holdout_images = training.to_float_images(pool["holdout_x"], device)
holdout_labels = torch.from_numpy(pool["holdout_y"]).to(device)
metrics = {
    "model": model_index,
    "train_examples": len(members),
    "train_accuracy": training.accuracy(model, images, labels, batch),
    "holdout_accuracy": training.accuracy(model, holdout_images, holdout_labels, batch),
    "epoch_loss": result.epoch_loss,
    "epoch_seconds": result.epoch_seconds,
    "train_seconds": seconds,
    "device": str(device),
    "threads": snakemake.threads,
}
log.info("train accuracy %.4f, held-out accuracy %.4f, %.1f s", metrics["train_accuracy"], metrics["holdout_accuracy"], seconds)

buffer = bytes_io.BytesIO()
torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buffer)  # tensors only: weights_only-loadable
with io.atomic_path(snakemake.output.weights) as temporary:
    temporary.write_bytes(buffer.getvalue())
io.write_json(snakemake.output.metrics, metrics)
