"""Snakemake adapter: target.logits (computed elsewhere) -> audits/<name>/logits/target.npy, checked
(lira.workflow.targets.import_target_logits)."""

from lira.workflow.targets import import_target_logits
from lira.workflow.files import job_logger

import_target_logits(
    snakemake.input.pool,
    snakemake.input.logits,
    snakemake.output.logits,
    snakemake.output.info,
    seed=snakemake.params.seed,
    query_settings=snakemake.params.queries,
    log=job_logger(snakemake.log[0]),
)
