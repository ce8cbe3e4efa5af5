"""Snakemake adapter: shadows/*.npy + fit.npz -> attacks/<attack>.npz, scores [T, pool] of every
target with the N-2 models outside its pair as its shadows (lira.workflow.steps.score_attack)."""

from lira.workflow.files import job_logger
from lira.workflow.steps import score_attack

score_attack(
    snakemake.input,
    snakemake.output[0],
    name=snakemake.wildcards.attack,
    settings=snakemake.params.settings,
    seed=snakemake.params.seed,
    query_settings=snakemake.params.queries,
    log=job_logger(snakemake.log[0]),
)
