"""Snakemake adapter: shadows/*.npy -> fit.npz, the per-example IN/OUT sums of every statistic
(lira.workflow.steps.fit_shadows)."""

from lira.workflow.files import job_logger
from lira.workflow.steps import fit_shadows

fit_shadows(snakemake.input, snakemake.output[0], seed=snakemake.params.seed, log=job_logger(snakemake.log[0]))
