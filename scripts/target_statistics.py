"""Snakemake adapter: the target's logits (+ membership) -> audits/<name>/targets.npz, its
statistics [T, pool, queries] and membership [T, pool] (lira.workflow.targets.target_statistics)."""

from lira.workflow.targets import target_statistics
from lira.workflow.files import job_logger

target_statistics(
    snakemake.input,
    snakemake.output[0],
    form=snakemake.params.form,
    seed=snakemake.params.seed,
    target=snakemake.params.target,
    log=job_logger(snakemake.log[0]),
)
