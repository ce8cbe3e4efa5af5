"""Snakemake adapter: metrics/*.json -> metrics.csv/.md and tables/table{1,2,3}.{csv,md,tex}
(lira.reports.tables.write_tables)."""

from lira.reports.tables import write_tables
from lira.workflow.files import job_logger

write_tables(
    snakemake.input,
    snakemake.output,
    config=snakemake.config,  # names the attacks and labels the tables: no rerun when it changes alone
    dataset=snakemake.params.dataset,
    experiment=snakemake.params.experiment,
    fprs=snakemake.params.fprs,
    seed=snakemake.params.seed,
    log=job_logger(snakemake.log[0]),
)
