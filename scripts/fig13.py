"""Snakemake adapter: pool.npz (with canaries) + fit.npz + attacks/lira_online.npz ->
paper/fig13/: per-example privacy scores, the table and histogram by group, the finding
(lira.reports.canaries.write_canary_report)."""

from lira.reports.canaries import write_canary_report
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

params = snakemake.params
write_canary_report(
    snakemake.input,
    snakemake.output,
    statistic=params.statistic,
    max_fpr=params.max_fpr,
    resamples=params.resamples,
    seed=params.seed,
    experiment=params.experiment,
    label=f"experiment {params.experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
