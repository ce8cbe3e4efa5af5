"""Snakemake adapter: models/<block>.pt -> logits/<block>.npy, float32 [models, pool, queries,
classes] for the block's models in order, with its sidecar logits/<block>.json (fingerprint,
models, shape, sha256; lira.artifacts), each model's inference seconds, and its accuracy on the
pool's examples it trained on and on those it did not (the identity query: for free)."""

import time

import numpy as np
import torch

from lira import artifacts, devices, io, splits, training
from lira.models import build_model, memory_format
from lira.queries import query_set

log = io.job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
device = devices.select_device(snakemake.config["compute"]["device"], log)
pool = io.load_arrays(snakemake.input.pool)
block = snakemake.wildcards.block
models = splits.block_models(block)
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, snakemake.config["seed"])
trained = artifacts.load_json(snakemake.input.metrics, fingerprint)  # weights of this pool and split design
described = [m.get("model") for m in trained.get("models", [])]
if described != list(models):
    raise artifacts.ArtifactError(f"{snakemake.input.metrics}: describes models {described}, not {list(models)}")
# Weights only: a file with any other pickled object (which could run code) is refused, unrun.
states = artifacts.model_states(snakemake.input.weights, artifacts.load_weights(snakemake.input.weights), models)

settings = snakemake.params.queries
queries = query_set(settings["mirror"], settings["shift"], settings["stride"])
images = training.to_float_images(pool["x"], device)
logits = []  # per model: float32 [pool, queries, classes]
inference_seconds = []  # the forward passes alone, per model (benchmarks/: pipeline overhead)
train_accuracy, nonmember_accuracy = [], []
for model_index in models:
    model = build_model(snakemake.params.model, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
    model.load_state_dict(states[model_index])
    model = model.to(device, memory_format=memory_format(snakemake.params.model))
    start = time.perf_counter()
    logits.append(
        training.predict_logits(model, images, queries, settings["padding"], snakemake.config["compute"]["eval_batch_size"])
    )
    inference_seconds.append(time.perf_counter() - start)
    members = splits.keep_mask(snakemake.config["seed"], model_index, len(pool["y"]))
    correct = logits[-1][:, 0].argmax(axis=-1) == pool["y"]  # query 0: the images as they are
    train_accuracy.append(float(correct[members].mean()))
    nonmember_accuracy.append(float(correct[~members].mean()))
logits = np.stack(logits)  # [models, pool, queries, classes]
artifacts.write_array_with_info(
    snakemake.output[0],
    snakemake.output.info,
    logits,
    fingerprint=fingerprint,
    models=list(models),
    queries=len(queries),
    inference_seconds=inference_seconds,
    train_accuracy=train_accuracy,
    nonmember_accuracy=nonmember_accuracy,
)
log.info("logits %s of models %s for %d queries %s", logits.shape, list(models), len(queries), queries)
