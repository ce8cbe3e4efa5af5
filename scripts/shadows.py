"""Snakemake adapter: logits/<block>.npy of every block -> shadows/<statistic>.npy [N, pool,
queries] float32 for each statistic, shadows/keep.npy bool [N, pool] and shadows/info.json
(lira.workflow.steps.stack_shadows)."""

from lira.workflow.files import job_logger
from lira.workflow.steps import stack_shadows

stack_shadows(
    snakemake.input,
    snakemake.output,
    blocks=snakemake.params.blocks,
    seed=snakemake.params.seed,
    query_settings=snakemake.params.queries,
    statistics=snakemake.params.statistics,
    log=job_logger(snakemake.log[0]),
    split=getattr(snakemake.params, "split", None),  # None: the whole pool (config `split`)
)
