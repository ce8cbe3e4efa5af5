"""Snakemake adapter: models/<block>.pt -> whitebox/merlin/<block>.npy, float64 [target models of
the block, pool], MERLIN scores (lira.models.whitebox.merlin_block)."""

from lira.models.whitebox import merlin_block
from lira.workflow.files import job_logger

merlin_block(
    snakemake.input.pool,
    snakemake.input.weights,
    snakemake.input.metrics,
    snakemake.input.noise,
    snakemake.output.scores,
    snakemake.output.info,
    block=snakemake.wildcards.block,
    targets=snakemake.params.targets,
    seed=snakemake.params.seed,
    model_spec=snakemake.params.model,
    draws=snakemake.params.draws,
    compute=snakemake.config["compute"],  # device and batch size: they change no result
    threads=snakemake.threads,
    log=job_logger(snakemake.log[0]),
)
