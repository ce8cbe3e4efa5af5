"""Snakemake adapter: every grid point's shadows and its own attack -> results/<experiment>/cross.npz,
each point's models attacked with each point's of its panel (lira.workflow.cross_attack.score_cross)."""

from lira.workflow.cross_attack import score_cross
from lira.workflow.files import job_logger

score_cross(
    snakemake.output.scores,
    points=snakemake.params.points,
    pairs=snakemake.params.pairs,
    settings=snakemake.params.settings,
    query_settings=snakemake.params.queries,
    attack=snakemake.params.attack,
    log=job_logger(snakemake.log[0]),
)
