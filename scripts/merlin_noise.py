"""Snakemake adapter: a shadow model that is no target -> whitebox/merlin/noise.json, MERLIN's
noise scale chosen by AUC among the candidates (lira.models.whitebox.merlin_noise_choice)."""

from lira.models.whitebox import merlin_noise_choice
from lira.workflow.files import job_logger

merlin = snakemake.params.merlin
merlin_noise_choice(
    snakemake.input.pool,
    snakemake.input.weights,
    snakemake.input.metrics,
    snakemake.output[0],
    block=snakemake.params.block,
    model_index=snakemake.params.tuning_model,
    seed=snakemake.params.seed,
    model_spec=snakemake.params.model,
    candidates=merlin["noise_candidates"],
    default=merlin["default_noise"],
    draws=merlin["draws"],
    examples=merlin["tuning_examples"],
    compute=snakemake.config["compute"],  # device and batch size: they change no result
    threads=snakemake.threads,
    log=job_logger(snakemake.log[0]),
)
