"""Snakemake adapter: every grid point's metrics and models' accuracies -> gap.{csv,png,pdf} (the
paper's Figs. 7 and 16) and, for a cross grid, their findings (lira.reports.cross.write_gap_report)."""

from lira.reports.cross import write_gap_report
from lira.workflow.files import job_logger

write_gap_report(
    snakemake.input,
    snakemake.output,
    points=snakemake.params.points,
    attack=snakemake.params.attack,
    experiment=snakemake.params.experiment,
    log=job_logger(snakemake.log[0]),
)
