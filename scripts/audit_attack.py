"""Snakemake adapter: shadows/*.npy + fit.npz + audits/<name>/targets.npz ->
audits/<name>/attacks/<attack>.npz, scores [T, pool] of the target(s) against every shadow model
(lira.workflow.targets.score_target)."""

from lira.workflow.targets import score_target
from lira.workflow.files import job_logger

score_target(
    snakemake.input,
    snakemake.output[0],
    name=snakemake.wildcards.attack,
    settings=snakemake.params.settings,
    seed=snakemake.params.seed,
    query_settings=snakemake.params.queries,
    log=job_logger(snakemake.log[0]),
)
