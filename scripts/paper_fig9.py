"""Snakemake adapter: shadows/*.npy, figures/shadow_count.csv and the full count's attacks ->
paper/fig9/ (lira.reports.paper_scores.write_fig9)."""

from lira.reports.paper_scores import write_fig9
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_fig9(
    snakemake.input,
    snakemake.output,
    statistic=snakemake.params.statistic,
    targets=snakemake.params.targets,
    repeats=snakemake.params.repeats,
    resamples=snakemake.params.resamples,
    seed=snakemake.params.seed,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
