"""Snakemake adapter: attacks/<attack>.npz -> metrics/<attack>.json, the pooled ROC with
bootstrap intervals, the spread across targets, ROC bands and the epsilon the scores prove (lira.workflow.steps.evaluate_attack)."""

from lira.workflow.files import job_logger
from lira.workflow.steps import evaluate_attack

evaluate_attack(
    snakemake.input.attack,
    snakemake.input.pool,
    snakemake.output[0],
    name=snakemake.wildcards.attack,
    fprs=snakemake.params.fprs,
    resamples=snakemake.params.bootstrap,
    seed=snakemake.params.seed,
    delta=snakemake.params.delta,
    log=job_logger(snakemake.log[0]),
)
