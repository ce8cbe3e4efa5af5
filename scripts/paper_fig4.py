"""Snakemake adapter: logits/<block>.npy + shadows/keep.npy -> paper/fig4/ (histograms, normality
summary, finding) (lira.reports.paper_statistics.write_shape_report)."""

from lira.reports.paper_statistics import write_shape_report
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_shape_report(
    snakemake.input,
    snakemake.output,
    query_settings=snakemake.params.queries,
    blocks=snakemake.params.blocks,
    resamples=snakemake.params.bootstrap,
    seed=snakemake.params.seed,
    experiment=experiment,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
