"""Snakemake adapter: cross.npz -> cross.{csv,md,png,pdf}, cross_roc.{png,pdf} (the paper's Fig. 11
and Figs. 22-24) and paper/fig11/finding.json (lira.reports.cross.write_cross_report)."""

from lira.reports.cross import write_cross_report
from lira.workflow.files import job_logger

write_cross_report(
    snakemake.input.scores,
    snakemake.input.pool,
    snakemake.output,
    points=snakemake.params.points,
    pairs=snakemake.params.pairs,
    resamples=snakemake.params.resamples,
    attack=snakemake.params.attack,
    experiment=snakemake.params.experiment,
    log=job_logger(snakemake.log[0]),
)
