"""Snakemake adapter: each Fig. 10 case's audit of offline LiRA (metrics, scores, pool) ->
results/<experiment>/paper/fig10/{fig10.csv, fig10.md, roc.png, roc.pdf, finding.json}
(lira.reports.fig10.write_fig10_report)."""

from lira.reports.fig10 import write_fig10_report
from lira.workflow.files import job_logger

write_fig10_report(
    snakemake.input,
    snakemake.output,
    cases=snakemake.params.cases,
    label=f"grid {snakemake.params.experiment} (grid.compare: fig10)",
    log=job_logger(snakemake.log[0]),
)
