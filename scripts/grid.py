"""Snakemake adapter: every grid point's metrics, scores (of grid.attack) and models ->
results/<experiment>/grid.{csv,md} and grid_roc.{png,pdf} (lira.reports.grid.write_grid_report)."""

from lira.reports.grid import write_grid_report
from lira.workflow.files import job_logger

write_grid_report(
    snakemake.input,
    snakemake.output,
    points=snakemake.params.points,
    caption=snakemake.params.caption,
    experiment=snakemake.params.experiment,
    fprs=snakemake.params.fprs,
    attack=snakemake.params.attack,
    finding=snakemake.params.finding,
    log=job_logger(snakemake.log[0]),
)
