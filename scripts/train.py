"""Snakemake adapter: pool.npz -> models/<block>.pt and models/<block>.json for one block of
models, trained one after another in this job (lira.models.jobs.train_block)."""

from lira.models.jobs import train_block
from lira.workflow.files import job_logger

log = job_logger(snakemake.log[0])
resources = snakemake.resources
log.info(
    "block %s: %d threads; job asked for gpu=%s, runtime=%s min, mem_mb=%s",
    snakemake.wildcards.block,
    snakemake.threads,
    resources.get("gpu", 0),
    resources.get("runtime"),
    resources.get("mem_mb"),
)
train_block(
    snakemake.input.pool,
    snakemake.output.weights,
    snakemake.output.metrics,
    block=snakemake.wildcards.block,
    seed=snakemake.params.seed,
    model_spec=snakemake.params.model,
    recipe=snakemake.params.recipe,
    compute=snakemake.config["compute"],  # device, checkpoints, batch size: they change no result
    threads=snakemake.threads,
    log=log,
    split=getattr(snakemake.params, "split", None),  # None: the whole pool (config `split`)
)
