"""Snakemake adapter: logits/<block>.npy -> scores/<block>.npz, each statistic float32 [models,
pool, queries] for the block's models in order, with `models` (their indices).

The logits are checked first (lira.artifacts): fingerprint of this pool and split design, the
block's models, shape [models, pool, queries, classes], finite values."""

import numpy as np

from lira import artifacts, io, splits
from lira.queries import query_set
from lira.statistics import all_statistics

log = io.job_logger(snakemake.log[0])
pool = io.load_arrays(snakemake.input.pool)
labels = pool["y"]  # [pool]
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, snakemake.config["seed"])
models = list(splits.block_models(snakemake.wildcards.block))
q = snakemake.config["queries"]
n_queries = len(query_set(q["mirror"], q["shift"], q["stride"]))
logits, info = artifacts.load_array_with_info(
    snakemake.input.logits,
    snakemake.input.info,
    fingerprint,
    "logits",
    (len(models), len(labels), n_queries, int(pool["num_classes"])),
)
if info.get("models") != models:
    raise artifacts.ArtifactError(f"{snakemake.input.info}: describes models {info.get('models')}, not {models}")
computed = all_statistics(logits, labels[None, :, None])
statistics = {name: computed[name].astype("float32") for name in snakemake.params.statistics}
io.save_arrays(snakemake.output[0], **statistics, fingerprint=np.array(fingerprint), models=np.array(models, dtype=np.int64))
log.info("statistics %s of shape %s", sorted(statistics), logits.shape[:3])
