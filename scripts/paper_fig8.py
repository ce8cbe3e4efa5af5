"""Snakemake adapter: logits/<block>.npy + shadows/keep.npy -> paper/fig8/ (ROC, table, finding)
(lira.reports.paper_statistics.write_input_statistics_report)."""

from lira.reports.paper_statistics import write_input_statistics_report
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_input_statistics_report(
    snakemake.input,
    snakemake.output,
    settings=snakemake.params.attack,
    query_settings=snakemake.params.queries,
    blocks=snakemake.params.blocks,
    fprs=snakemake.params.fprs,
    resamples=snakemake.params.bootstrap,
    seed=snakemake.params.seed,
    experiment=experiment,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
