# A grid of experiments (config `grid`, docs/grids.md): the experiment of rules/experiment.smk
# imported once per point as a Snakemake module, each with the base config updated by the point's
# `set`, in results/<experiment>-<point>/; its rules are named <point>_<rule> (<point>_train, ...).
# Then the table and the figure across the points, in results/<experiment>/.

import sys

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lira.workflow import catalog, cross_attack, grids

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
GRID_CROSS = grids.cross(config)
GRID_FOLDER = f"results/{config['experiment']}"
# The paper's finding the grid checks on its points (grid.finding), if it names one.
GRID_FINDING = grids.finding_file(config)
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
        finding=[GRID_FINDING] if GRID_FINDING else [],
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
        finding=config["grid"].get("finding"),
    script:
        "../scripts/grid.py"


rule grid_gap:
    """The paper's Figs. 7 and 16 across the grid's points: each point's attack (grid.attack) TPR
    at 0.1 % FPR against its models' train-test accuracy gap and their test accuracy (the
    holdout's, else the pool non-members'); for a cross grid, the findings too."""
    input:
        metrics=[f"{point.folder}/metrics/{GRID_ATTACK}.json" for point in GRID],
        models=[point.models for point in GRID],
        logits=[point.logits_infos for point in GRID],
        pools=[f"{point.folder}/pool.npz" for point in GRID],
    output:
        **(
            {
                "fig7": f"{GRID_FOLDER}/paper/fig7/finding.json",
                "fig16": f"{GRID_FOLDER}/paper/fig16/finding.json",
            }
            if GRID_CROSS
            else {}
        ),
        csv=f"{GRID_FOLDER}/gap.csv",
        png=report(
            f"{GRID_FOLDER}/gap.png",
            caption="../report/grid_gap.rst",
            category="Paper experiments",
        ),
        pdf=f"{GRID_FOLDER}/gap.pdf",
    log:
        f"{GRID_FOLDER}/logs/grid_gap.log",
    conda:
        "../envs/analysis.yaml"
    params:
        points=[point.describe() for point in GRID],
        experiment=config["experiment"],
        attack=GRID_ATTACK,
    script:
        "../scripts/grid_gap.py"


if GRID_CROSS:

    rule grid_cross:
        """The cross attack (grid.cross): each point's first attack.targets models attacked with
        every point's models of its panel as shadows, each target's pair left out; the matched
        pairs are the points' own attacks."""
        input:
            pools=[f"{point.folder}/pool.npz" for point in GRID],
            shadows=[
                path
                for point in GRID
                for path in cross_attack.shadow_paths(point.describe()).values()
            ],
            attacks=[f"{point.folder}/attacks/{GRID_ATTACK}.npz" for point in GRID],
        output:
            scores=f"{GRID_FOLDER}/cross.npz",
        log:
            f"{GRID_FOLDER}/logs/grid_cross.log",
        conda:
            "../envs/analysis.yaml"
        params:
            points=[point.describe() for point in GRID],
            pairs=grids.cross_pairs(GRID),
            settings={
                point.name: catalog.audit_settings(GRID_ATTACK, point.config)
                for point in GRID
            },
            queries=GRID[0].config["queries"],
            attack=GRID_ATTACK,
        script:
            "../scripts/grid_cross.py"

    rule grid_cross_report:
        """The paper's Fig. 11 (TPR at 0.1 % FPR per target and shadow configuration) and Figs.
        22-24 (their ROCs), the matrix table and the finding."""
        input:
            scores=rules.grid_cross.output.scores,
            pool=f"{GRID[0].folder}/pool.npz",
        output:
            csv=f"{GRID_FOLDER}/cross.csv",
            markdown=report(
                f"{GRID_FOLDER}/cross.md",
                caption="../report/grid_cross.rst",
                category="Paper experiments",
            ),
            png=report(
                f"{GRID_FOLDER}/cross.png",
                caption="../report/grid_cross.rst",
                category="Paper experiments",
            ),
            pdf=f"{GRID_FOLDER}/cross.pdf",
            roc_png=report(
                f"{GRID_FOLDER}/cross_roc.png",
                caption="../report/grid_cross_roc.rst",
                category="Paper experiments",
            ),
            roc_pdf=f"{GRID_FOLDER}/cross_roc.pdf",
            finding=f"{GRID_FOLDER}/paper/fig11/finding.json",
        log:
            f"{GRID_FOLDER}/logs/grid_cross_report.log",
        conda:
            "../envs/analysis.yaml"
        params:
            points=[point.describe() for point in GRID],
            pairs=grids.cross_pairs(GRID),
            resamples=GRID[0].config["evaluate"]["bootstrap"],
            attack=GRID_ATTACK,
            experiment=config["experiment"],
        script:
            "../scripts/grid_cross_report.py"


# The findings of the paper's experiments this grid regenerates (results/<experiment>/paper/<id>/).
GRID_FINDINGS = (
    [
        rules.grid_cross_report.output.finding,
        rules.grid_gap.output.fig7,
        rules.grid_gap.output.fig16,
    ]
    if GRID_CROSS
    else []
)

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
