"""Snakemake adapter: the finished experiment -> results/<experiment>/manifest.json, its
provenance (lira.workflow.provenance.write_manifest). Written last: it depends on every table
and figure, and reads the config at run time, so a setting that changes no result reruns nothing."""

from pathlib import Path

from lira.workflow.files import job_logger
from lira.workflow.provenance import write_manifest

write_manifest(
    snakemake.input.pool,
    snakemake.input.models,
    snakemake.input.logits,
    list(snakemake.input),
    snakemake.output[0],
    config=snakemake.config,
    repository=Path(snakemake.scriptdir).parent,
    log=job_logger(snakemake.log[0]),
)
