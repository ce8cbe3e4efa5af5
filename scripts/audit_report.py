"""Snakemake adapter: the audit's scores (+ metrics), and the shadows' own leave-pair-out scores
and metrics -> audits/<name>/report.md, summary.csv, most_exposed.csv
(lira.reports.audit.write_audit_report)."""

from lira.reports.audit import write_audit_report
from lira.workflow.files import job_logger

write_audit_report(
    snakemake.input,
    snakemake.output,
    name=snakemake.params.name,
    experiment=snakemake.params.experiment,
    fprs=snakemake.params.fprs,
    seed=snakemake.params.seed,
    log=job_logger(snakemake.log[0]),
)
