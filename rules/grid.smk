# A grid of experiments (config `grid`, docs/grids.md): the experiment of rules/experiment.smk
# imported once per point as a Snakemake module, each with the base config updated by the point's
# `set`, in results/<experiment>-<point>/; its rules are named <point>_<rule> (<point>_train, ...).
# Then the table and the figure across the points, in results/<experiment>/.

import sys

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lira.workflow import grids

try:
    GRID = grids.points(config)
    # grid.compare: fig10 (rules/fig10.smk): its three points, checked; else none.
    FIG10_CASES = (
        grids.fig10_cases(GRID) if config["grid"].get("compare") == "fig10" else []
    )
except grids.GridError as error:
    raise WorkflowError(
        "\n".join(f"invalid config: {line}" for line in error.problems)
    ) from None


GRID_ATTACK = grids.attack(config)
GRID_FOLDER = f"results/{config['experiment']}"
# The outputs of grid.compare (rules/fig10.smk), part of the grid's `all`.
GRID_COMPARISONS = []


rule grid:
    """The table and the figure across the grid's points: per point its settings, the models'
    accuracy, the epsilon the recipe guarantees, the attack's TPR at the FPRs and AUC with
    intervals (grid.attack, online LiRA by default), and the epsilon its scores prove; one ROC
    per point, in panels."""
    input:
        # Every point's whole experiment (tables, figures); a function: the modules come after.
        # Every output of every point's experiment (its `all`): a function, as the modules that
        # define those rules are imported after this rule.
        experiments=lambda wildcards: [
            path
            for point in GRID
            for path in getattr(rules, f"{point.rule_prefix}all").input
        ],
        metrics=[f"{point.folder}/metrics/{GRID_ATTACK}.json" for point in GRID],
        attacks=[f"{point.folder}/attacks/{GRID_ATTACK}.npz" for point in GRID],
        models=[point.models for point in GRID],
        pools=[f"{point.folder}/pool.npz" for point in GRID],
    output:
        csv=f"{GRID_FOLDER}/grid.csv",
        markdown=report(
            f"{GRID_FOLDER}/grid.md",
            caption="../report/grid.rst",
            category="Grid",
        ),
        png=report(
            f"{GRID_FOLDER}/grid_roc.png",
            caption="../report/grid_roc.rst",
            category="Grid",
        ),
        pdf=f"{GRID_FOLDER}/grid_roc.pdf",
    log:
        f"{GRID_FOLDER}/logs/grid.log",
    conda:
        "../envs/analysis.yaml"
    params:
        points=[point.describe() for point in GRID],
        caption=config["grid"].get("caption", ""),
        experiment=config["experiment"],
        fprs=GRID[0].config["evaluate"]["fprs"],
        attack=GRID_ATTACK,
    script:
        "../scripts/grid.py"


if FIG10_CASES:

    include: "fig10.smk"



for point in GRID:
    point_module = point.module
    point_rules = point.rule_prefix

    module:
        name: point_module
        snakefile:
            "../Snakefile"
        config:
            point.config

    use rule * from point_module as point_rules*
