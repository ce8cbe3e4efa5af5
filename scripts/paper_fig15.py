"""Snakemake adapter: whitebox/gradient_norms/*.npy + shadows -> paper/fig15/ (roc, table,
finding): the paper's Fig. 15, gradient norm vs logits (lira.reports.whitebox_findings.write_fig15)."""

from lira.reports.whitebox_findings import write_fig15
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_fig15(
    snakemake.input,
    snakemake.output,
    seed=snakemake.params.seed,
    n_targets=snakemake.params.targets,
    fprs=snakemake.params.fprs,
    resamples=snakemake.params.resamples,
    experiment=experiment,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
