"""Snakemake adapter: shadows/*.npy -> fit.npz (sufficient statistics per statistic)."""

import numpy as np

from lira import io
from lira.gaussian import ShadowFitAccumulator

log = io.job_logger(snakemake.log[0])
keep = io.load_array(snakemake.input.keep)  # bool [N, pool]
arrays = {"keep": keep}
for name, path in snakemake.input.items():
    if name == "keep":
        continue
    values = np.load(path, mmap_mode="r")  # [N, pool, queries]; streamed one model at a time
    accumulator = ShadowFitAccumulator()
    for model_values, model_keep in zip(values, keep, strict=True):
        accumulator.add(model_values, model_keep)
    arrays.update(accumulator.result().to_arrays(prefix=f"{name}."))
io.save_arrays(snakemake.output[0], **arrays)
log.info("fitted %d statistics over %d shadow models", len(snakemake.input) - 1, len(keep))
