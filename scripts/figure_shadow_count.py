"""Snakemake adapter: shadows/*.npy -> figures/shadow_count.{csv,png,pdf}
(lira.reports.figures.write_shadow_count_figure)."""

from lira.reports.figures import write_shadow_count_figure
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_shadow_count_figure(
    snakemake.input,
    snakemake.output,
    statistic=snakemake.params.statistic,
    targets=snakemake.params.targets,
    repeats=snakemake.params.repeats,
    offline_test=snakemake.params.offline_test,
    seed=snakemake.params.seed,
    experiment=experiment,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
