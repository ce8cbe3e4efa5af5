# The paper's Fig. 10 across a grid's three points (config grid.compare: fig10,
# config/paper/overlap.yaml): one target population audited by offline LiRA with shadows that
# overlap its data, avoid it, or avoid it on shifted images. rules/grid.smk includes this file.

FIG10_FOLDER = f"{GRID_FOLDER}/paper/fig10"
# Each case's audit folder: results/<experiment>-<point>/audits/<target.name>/.
FIG10_AUDITS = [
    f"{case.folder}/audits/{case.config['target']['name']}" for case in FIG10_CASES
]


rule fig10:
    """Fig. 10: per case the audit's offline LiRA TPR at 0.1 % FPR and AUC with intervals, the
    three log-log ROCs, and the finding (do overlapping and disjoint agree? does the shift lower
    the TPR, raise the AUC?)."""
    input:
        metrics=[f"{audit}/metrics/lira_offline.json" for audit in FIG10_AUDITS],
        attacks=[f"{audit}/attacks/lira_offline.npz" for audit in FIG10_AUDITS],
        pools=[f"{case.folder}/pool.npz" for case in FIG10_CASES],
    output:
        csv=f"{FIG10_FOLDER}/fig10.csv",
        markdown=f"{FIG10_FOLDER}/fig10.md",
        png=report(
            f"{FIG10_FOLDER}/roc.png",
            caption="../report/fig10.rst",
            category="Paper experiments",
        ),
        pdf=f"{FIG10_FOLDER}/roc.pdf",
        finding=f"{FIG10_FOLDER}/finding.json",
    log:
        f"{GRID_FOLDER}/logs/fig10.log",
    conda:
        "../envs/analysis.yaml"
    params:
        cases=[
            {
                "name": case.name,
                "experiment": case.config["experiment"],
                "seed": case.config["seed"],
                "shadow_models": case.config["shadow_models"],
            }
            for case in FIG10_CASES
        ],
        experiment=config["experiment"],
    script:
        "../scripts/fig10.py"


GRID_COMPARISONS.extend(rules.fig10.output)


# The three points share one target population (results/populations/<key>): each point's module
# has rules that make its files; the first point's make them (the others' would make the same).
for shared_rule in ("pool", "train"):
    workflow.ruleorder(*[f"{case.rule_prefix}{shared_rule}" for case in FIG10_CASES])
