"""Snakemake adapter: models/<i>.pt -> logits/<i>.npy, float32 [pool, queries, classes]."""

import torch

from lira import devices, io, training
from lira.models import build_model
from lira.queries import query_set

log = io.job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
device = devices.select_device(snakemake.config["compute"]["device"], log)
pool = io.load_arrays(snakemake.input.pool)
model = build_model(snakemake.params.model, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
# weights_only refuses any pickled object that is not a tensor or plain container.
model.load_state_dict(torch.load(snakemake.input.weights, map_location="cpu", weights_only=True))
model = model.to(device, memory_format=torch.channels_last)

settings = snakemake.params.queries
queries = query_set(settings["mirror"], settings["shift"], settings["stride"])
logits = training.predict_logits(
    model, training.to_float_images(pool["x"], device), queries, settings["padding"], snakemake.config["compute"]["eval_batch_size"]
)
io.save_array(snakemake.output[0], logits)
log.info("logits %s for %d queries %s", logits.shape, len(queries), queries)
