"""Snakemake adapter: models/<block>.pt -> logits/<block>.npy, float32 [models, pool, queries,
classes], and its sidecar logits/<block>.json (lira.models.jobs.query_block)."""

from lira.models.jobs import query_block
from lira.workflow.files import job_logger

query_block(
    snakemake.input.pool,
    snakemake.input.weights,
    snakemake.input.metrics,
    snakemake.output.logits,
    snakemake.output.info,
    block=snakemake.wildcards.block,
    seed=snakemake.params.seed,
    model_spec=snakemake.params.model,
    query_settings=snakemake.params.queries,
    compute=snakemake.config["compute"],  # device and batch size: they change no result
    threads=snakemake.threads,
    log=job_logger(snakemake.log[0]),
    split=getattr(snakemake.params, "split", None),  # None: the whole pool (config `split`)
)
