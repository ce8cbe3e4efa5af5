"""Snakemake adapter: scores/<0..N-1>.npz -> fit.npz (sufficient statistics per statistic)."""

import numpy as np

from lira import io, splits
from lira.gaussian import ShadowFitAccumulator
from lira.statistics import STATISTICS

log = io.job_logger(snakemake.log[0])
accumulators = {name: ShadowFitAccumulator() for name in STATISTICS}
keep_rows = []
for model_index, path in enumerate(snakemake.input.scores):
    scores = io.load_arrays(path)
    keep_rows.append(splits.keep_mask(snakemake.params.seed, model_index, len(scores[STATISTICS[0]])))
    for name, accumulator in accumulators.items():
        accumulator.add(scores[name], keep_rows[-1])

arrays = {"keep": np.stack(keep_rows)}  # bool [N, pool]: keep[i, x] when model i trained on x
for name, accumulator in accumulators.items():
    arrays.update(accumulator.result().to_arrays(prefix=f"{name}."))
io.save_arrays(snakemake.output[0], **arrays)
log.info("fitted %s over %d shadow models", list(STATISTICS), len(snakemake.input.scores))
