"""Snakemake adapter: shadows/*.npy -> fit.npz (sufficient statistics per statistic)."""

import numpy as np

from lira import artifacts, io
from lira.gaussian import fit_shadow_statistics

log = io.job_logger(snakemake.log[0])
seed = snakemake.config["seed"]
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
stacks, keep, info = artifacts.load_shadows(snakemake.input, fingerprint, seed)  # [N, pool, Q] each, keep [N, pool]
arrays = {"keep": keep, "fingerprint": np.array(fingerprint)}
for name, values in stacks.items():  # streamed from the memory map, a block of models at a time
    arrays.update(fit_shadow_statistics(values, keep).to_arrays(prefix=f"{name}."))
io.save_arrays(snakemake.output[0], **arrays)
log.info("fitted %d statistics over %d shadow models", len(stacks), len(keep))
