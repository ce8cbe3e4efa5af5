"""Snakemake adapter: models/<i>.pt -> logits/<i>.npy, float32 [pool, queries, classes], with its
sidecar logits/<i>.json (fingerprint, shape, sha256; lira.artifacts)."""

import torch

from lira import artifacts, devices, io, training
from lira.models import build_model
from lira.queries import query_set

log = io.job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
device = devices.select_device(snakemake.config["compute"]["device"], log)
pool = io.load_arrays(snakemake.input.pool)
model_index = int(snakemake.wildcards.model)
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, snakemake.config["seed"])
trained = artifacts.load_json(snakemake.input.metrics, fingerprint)  # weights of this pool and split design
if trained.get("model") != model_index:
    raise artifacts.ArtifactError(f"{snakemake.input.metrics}: describes model {trained.get('model')}, not {model_index}")
model = build_model(snakemake.params.model, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
# Weights only: a file with any other pickled object (which could run code) is refused, unrun.
model.load_state_dict(artifacts.load_weights(snakemake.input.weights))
model = model.to(device, memory_format=torch.channels_last)

settings = snakemake.params.queries
queries = query_set(settings["mirror"], settings["shift"], settings["stride"])
logits = training.predict_logits(
    model, training.to_float_images(pool["x"], device), queries, settings["padding"], snakemake.config["compute"]["eval_batch_size"]
)
artifacts.write_array_with_info(
    snakemake.output[0], snakemake.output.info, logits, fingerprint=fingerprint, model=model_index, queries=len(queries)
)
log.info("logits %s for %d queries %s", logits.shape, len(queries), queries)
