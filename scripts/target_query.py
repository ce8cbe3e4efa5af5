"""Snakemake adapter: target.weights (a model trained elsewhere) -> audits/<name>/logits/target.npy,
float32 [1, pool, queries, classes], and its sidecar (lira.models.jobs.query_target)."""

from lira.models.jobs import query_target
from lira.workflow.files import job_logger

query_target(
    snakemake.input.pool,
    snakemake.input.weights,
    snakemake.output.logits,
    snakemake.output.info,
    seed=snakemake.params.seed,
    model_spec=snakemake.params.model,
    query_settings=snakemake.params.queries,
    compute=snakemake.config["compute"],  # device and batch size: they change no result
    threads=snakemake.threads,
    log=job_logger(snakemake.log[0]),
)
