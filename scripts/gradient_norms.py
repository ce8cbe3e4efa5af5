"""Snakemake adapter: models/<block>.pt -> whitebox/gradient_norms/<block>.npy, float32 [models,
pool], per-example gradient norms of the loss (lira.models.whitebox.gradient_norm_block)."""

from lira.models.whitebox import gradient_norm_block
from lira.workflow.files import job_logger

compute = snakemake.config["compute"]  # device and batch size: they change no result
gradient_norm_block(
    snakemake.input.pool,
    snakemake.input.weights,
    snakemake.input.metrics,
    snakemake.output.norms,
    snakemake.output.info,
    block=snakemake.wildcards.block,
    seed=snakemake.params.seed,
    model_spec=snakemake.params.model,
    compute=compute,
    threads=snakemake.threads,
    # Per-example gradients of a batch are held at once: [batch, parameters].
    batch_size=min(compute["eval_batch_size"], 128),
    log=job_logger(snakemake.log[0]),
)
