"""Snakemake adapter: attacks/{lira_online,lira_offline,global_threshold}.npz -> paper/precision/ (lira.reports.paper_scores.write_precision)."""

from lira.reports.paper_scores import write_precision
from lira.workflow import catalog
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_precision(
    snakemake.input,
    snakemake.output,
    # Labels only: read from the config, not rule parameters, so they rerun nothing.
    labels={name: attack.label for name, attack in catalog.attacks(snakemake.config).items()},
    resamples=snakemake.params.resamples,
    seed=snakemake.params.seed,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
