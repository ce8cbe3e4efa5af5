"""Snakemake adapter: logits/<i>.npy -> scores/<i>.npz, each statistic float32 [pool, queries].

The logits are checked first (lira.artifacts): fingerprint of this pool and split design, shape
[pool, queries, classes], finite values."""

import numpy as np

from lira import artifacts, io
from lira.queries import query_set
from lira.statistics import all_statistics

log = io.job_logger(snakemake.log[0])
pool = io.load_arrays(snakemake.input.pool)
labels = pool["y"]  # [pool]
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, snakemake.config["seed"])
q = snakemake.config["queries"]
n_queries = len(query_set(q["mirror"], q["shift"], q["stride"]))
logits, info = artifacts.load_array_with_info(
    snakemake.input.logits, snakemake.input.info, fingerprint, "logits", (len(labels), n_queries, int(pool["num_classes"]))
)
model = int(snakemake.wildcards.model)
if info.get("model") != model:
    raise artifacts.ArtifactError(f"{snakemake.input.info}: describes model {info.get('model')}, not {model}")
computed = all_statistics(logits, labels[:, None])
statistics = {name: computed[name].astype("float32") for name in snakemake.params.statistics}
io.save_arrays(snakemake.output[0], **statistics, fingerprint=np.array(fingerprint), model=np.int64(model))
log.info("statistics %s of shape %s", sorted(statistics), logits.shape[:2])
