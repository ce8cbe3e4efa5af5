"""Snakemake adapter: pool.npz -> models/<block>.pt and models/<block>.json for one block of shadow
models (lira.splits.model_blocks), trained one after another in this one process, so the Python
start-up and torch import are paid once per block, not once per model.

models/<block>.pt holds every model's state dict (lira.artifacts.block_state); models/<block>.json
holds the fingerprint and each model's metrics (loss and seconds per epoch, device, and accuracy
on the data.holdout_size test images if any).

Each training checkpoints to results/<experiment>/checkpoints/<i>.pt every compute.checkpoint_every
epochs and after its last one (not a declared output: Snakemake deletes a failed job's outputs,
and the checkpoints must outlive a failure), and resumes from it: a rerun after a kill skips the
block's finished models and continues the interrupted one. The checkpoints are deleted once the
block's files are written.
"""

import io as bytes_io
import time
from pathlib import Path

import numpy as np
import torch

from lira import artifacts, devices, io, splits, training
from lira.models import build_model, memory_format

log = io.job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
block = snakemake.wildcards.block
models = splits.block_models(block)
seed = snakemake.params.seed
compute = snakemake.config["compute"]
device = devices.select_device(compute["device"], log)
resources = snakemake.resources
log.info(
    "block %s (models %d-%d): %d threads; job asked for gpu=%s, runtime=%s min, mem_mb=%s",
    block,
    models[0],
    models[-1],
    snakemake.threads,
    resources.get("gpu", 0),
    resources.get("runtime"),
    resources.get("mem_mb"),
)

pool = io.load_arrays(snakemake.input.pool)
# Recorded with the weights; the logits job refuses weights of another pool, seed or split design.
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
all_images = training.to_float_images(pool["x"], device)  # [pool, C, H, W], once for the block
all_labels = torch.from_numpy(pool["y"]).to(device)
holdout_images = training.to_float_images(pool["holdout_x"], device)
holdout_labels = torch.from_numpy(pool["holdout_y"]).to(device)
checkpoints = Path(snakemake.output.weights).parent.parent / "checkpoints"
batch = compute["eval_batch_size"]

states, metrics, finished = {}, [], []  # finished: each model's Checkpoint, removed at the end
for model_index in models:
    keep = splits.keep_mask(seed, model_index, len(pool["y"]))  # bool [pool]
    members = np.flatnonzero(keep)
    images, labels = all_images[members], all_labels[members]
    model_seed = splits.model_seed(seed, model_index)
    torch.manual_seed(model_seed)
    model = build_model(snakemake.params.model, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
    model = model.to(device, memory_format=memory_format(snakemake.params.model))
    log.info("model %d: %d training examples on %s", model_index, len(members), device)
    settings = {
        "model_seed": model_seed,
        "model": snakemake.params.model,
        "recipe": snakemake.params.recipe,
        "device": device.type,  # a generator's state only restores on its own kind of device
    }
    checkpoint = training.Checkpoint(
        path=checkpoints / f"{model_index}.pt",
        every=compute["checkpoint_every"],
        key=training.checkpoint_key(settings, pool["x"][members], pool["y"][members], pool["mean"], pool["std"]),
    )
    finished.append(checkpoint)
    start = time.perf_counter()
    result = training.train(model, images, labels, snakemake.params.recipe, seed=model_seed, checkpoint=checkpoint, log=log)
    seconds = time.perf_counter() - start
    metrics.append(
        {
            "model": model_index,
            "train_examples": len(members),
            # Accuracy on the data.holdout_size test images, when there are any. (The accuracies on
            # the pool's members and non-members come from the logits job's identity query.)
            "holdout_accuracy": training.accuracy(model, holdout_images, holdout_labels, batch) if len(holdout_labels) else None,
            "epoch_loss": result.epoch_loss,
            "epoch_seconds": result.epoch_seconds,
            "resumed_from_epoch": result.resumed_from_epoch,
            "train_seconds": seconds,
            "device": str(device),
            "threads": snakemake.threads,
            # What the timings depend on, for `lira.plan` to use them only for the same settings.
            "settings": {"model": snakemake.params.model, "train": snakemake.params.recipe},
        }
    )
    states[model_index] = {k: v.cpu() for k, v in model.state_dict().items()}
    log.info("model %d: trained in %.1f s, test-set accuracy %s", model_index, seconds, metrics[-1]["holdout_accuracy"])

buffer = bytes_io.BytesIO()
torch.save(artifacts.block_state(states), buffer)  # tensors only: weights_only-loadable
with io.atomic_path(snakemake.output.weights) as temporary:
    temporary.write_bytes(buffer.getvalue())
io.write_json(snakemake.output.metrics, {"fingerprint": fingerprint, "block": block, "models": metrics})
for checkpoint in finished:
    checkpoint.remove()
