"""Snakemake adapter: the audit's scores (+ metrics), and the shadows' own leave-pair-out scores
and metrics -> audits/<name>/report.md, summary.csv, most_exposed.csv, scores.{png,pdf}
(lira.reports.audit.write_audit_report)."""

from lira.reports.audit import write_audit_report
from lira.workflow.config import config_hash
from lira.workflow.files import job_logger

experiment = snakemake.params.experiment
write_audit_report(
    snakemake.input,
    snakemake.output,
    name=snakemake.params.name,
    experiment=experiment,
    fprs=snakemake.params.fprs,
    seed=snakemake.params.seed,
    # Which config made the report (read, not a rule parameter: a label must not rerun anything).
    label=f"experiment {experiment}, config {config_hash(snakemake.config)}",
    log=job_logger(snakemake.log[0]),
)
