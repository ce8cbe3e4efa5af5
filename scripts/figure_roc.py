"""Snakemake adapter: attacks/*.npz + metrics/*.json -> figures/roc.{png,pdf}
(lira.reports.figures.write_roc_figure)."""

from lira.reports.figures import write_roc_figure
from lira.workflow import catalog
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_roc_figure(
    snakemake.input,
    snakemake.output,
    # Names and labels only: read from the config, not rule parameters, so they rerun nothing.
    labels={name: attack.label for name, attack in catalog.attacks(snakemake.config).items()},
    experiment=experiment,
    seed=snakemake.params.seed,
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
