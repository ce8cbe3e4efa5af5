"""Snakemake adapter: LiRA online scores + shadow statistics -> the most exposed examples (CSV),
the score distribution of members and non-members, and IN/OUT histograms of a few examples."""

from lira.reports.examples import write_examples_report
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_examples_report(
    snakemake.input,
    snakemake.output,
    statistic=snakemake.params.statistic,
    seed=snakemake.params.seed,
    experiment=experiment,
    # Which config made the figures (read, not a rule parameter: a label must not rerun anything).
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
