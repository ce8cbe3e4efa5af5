"""Snakemake adapter: logits/<block>.npy of every block of models -> shadows/<statistic>.npy
[N, pool, queries] float32 for each statistic of params.statistics, shadows/keep.npy bool
[N, pool], and shadows/info.json (fingerprint, shapes).

Each block's logits are checked first (lira.artifacts.load_logits): fingerprint of this pool and
split design, the block's models, shape [models, pool, queries, classes], finite values. Its
statistics then go straight into the memory-mapped stacks (lira.statistics), so memory holds one
block's logits, whatever N."""

import numpy as np

from lira import artifacts, io, splits
from lira.queries import query_set
from lira.statistics import write_stacked_statistics

log = io.job_logger(snakemake.log[0])
blocks = [splits.block_models(block) for block in snakemake.params.blocks]  # the files' models, in order
n_models = sum(len(models) for models in blocks)
seed = snakemake.params.seed
names = list(snakemake.params.statistics)
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
pool = io.load_arrays(snakemake.input.pool)
labels = pool["y"]  # [pool]
q = snakemake.config["queries"]
n_queries = len(query_set(q["mirror"], q["shift"], q["stride"]))
n_classes = int(pool["num_classes"])

paths = {name: snakemake.output[name] for name in names}
with io.atomic_memmaps(paths, np.float32, (n_models, len(labels), n_queries)) as stacks:
    for models, path, info_path in zip(blocks, snakemake.input.logits, snakemake.input.logits_info, strict=True):
        shape = (len(models), len(labels), n_queries, n_classes)
        logits, _ = artifacts.load_logits(path, info_path, fingerprint, models, shape)
        rows = slice(models.start, models.stop)
        write_stacked_statistics(stacks, rows, logits, labels)
        for name in names:  # finite logits can still give statistics beyond float32's range
            artifacts.check_array(path, name, stacks[name][rows])
io.save_array(snakemake.output.keep, splits.keep_matrix(seed, n_models, len(labels)))
io.write_json(
    snakemake.output.info,
    {"fingerprint": fingerprint, "models": n_models, "pool_size": len(labels), "queries": n_queries, "statistics": names},
)
log.info(
    "stacked %s of %d models (%d blocks), pool %d, %d queries", names, n_models, len(blocks), len(labels), n_queries
)
