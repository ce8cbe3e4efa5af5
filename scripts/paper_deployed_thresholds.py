"""Snakemake adapter: attacks/{lira_online,lira_offline,global_threshold}.npz -> paper/deployed-thresholds/
(lira.reports.paper_scores.write_deployed_thresholds)."""

from lira.reports.paper_scores import write_deployed_thresholds
from lira.workflow import catalog
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_deployed_thresholds(
    snakemake.input,
    snakemake.output,
    # Labels only: read from the config, not rule parameters, so they rerun nothing.
    labels={name: attack.label for name, attack in catalog.attacks(snakemake.config).items()},
    fprs=snakemake.params.fprs,
    resamples=snakemake.params.resamples,
    seed=snakemake.params.seed,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
