"""Snakemake adapter: every finding.json of this experiment's paper figures and of its studies
-> results/<experiment>/paper/findings.{md,csv} (lira.reports.findings.write_findings_page)."""

from lira.reports.findings import write_findings_page
from lira.workflow.files import job_logger

log = job_logger(snakemake.log[0])
# The studies' findings are among each study's outputs: every file named finding.json.
paths = list(snakemake.input.findings) + [path for path in snakemake.input.studies if path.endswith("/finding.json")]
found = write_findings_page(
    paths,
    snakemake.output.markdown,
    snakemake.output.csv,
    heading=f"The paper's findings beside ours: {snakemake.params.experiment}"
    + (f" and the studies {', '.join(snakemake.params.studies)}" if snakemake.params.studies else ""),
)
for finding in found:
    log.info("%s (%s): %s", finding.figure, finding.title, finding.verdict)
