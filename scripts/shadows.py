"""Snakemake adapter: scores/<0..N-1>.npz -> shadows/<statistic>.npy [N, pool, queries] float32,
and shadows/keep.npy bool [N, pool]."""

import numpy as np

from lira import io, splits

log = io.job_logger(snakemake.log[0])
paths = snakemake.input.scores
first = io.load_arrays(paths[0])
pool_size, n_queries = first["loss"].shape
names = [name for name in snakemake.output.keys() if name != "keep"]
# Written through memory maps, one model at a time: memory stays O(pool x queries).
stacks = {
    name: np.lib.format.open_memmap(f"{snakemake.output[name]}.part.npy", "w+", np.float32, (len(paths), pool_size, n_queries))
    for name in names
}
for index, path in enumerate(paths):
    scores = first if index == 0 else io.load_arrays(path)
    if scores["loss"].shape != (pool_size, n_queries):
        raise ValueError(f"{path}: statistics of shape {scores['loss'].shape}, expected {(pool_size, n_queries)} like {paths[0]}")
    scores["probability"] = np.exp(-scores["loss"].astype(np.float64))  # p_y, for RMIA
    for name in names:
        stacks[name][index] = scores[name]
for name, stack in stacks.items():
    stack.flush()
    del stack
    io.atomic_rename(f"{snakemake.output[name]}.part.npy", snakemake.output[name])
io.save_array(snakemake.output.keep, splits.keep_matrix(snakemake.params.seed, len(paths), pool_size))
log.info("stacked %s of %d models, pool %d, %d queries", names, len(paths), pool_size, n_queries)
