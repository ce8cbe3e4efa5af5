"""Snakemake adapter: whitebox/merlin/*.npy, logits, shadows and the LOSS and LiRA online attacks ->
paper/baselines/ (table, finding): Table I's Long et al. and MERLIN
(lira.reports.whitebox_findings.write_baselines)."""

from lira.reports.whitebox_findings import write_baselines
from lira.workflow.files import job_logger

write_baselines(
    snakemake.input,
    snakemake.output,
    seed=snakemake.params.seed,
    n_targets=snakemake.params.targets,
    fprs=snakemake.params.fprs,
    resamples=snakemake.params.resamples,
    dataset=snakemake.params.dataset,
    query_settings=snakemake.params.queries,
    log=job_logger(snakemake.log[0]),
)
