rule evaluate:
    """ROC of attack {attack} pooled over the targets: AUC, balanced accuracy, TPR at each FPR with
    the FPR achieved, 95 % bootstrap intervals, the spread across targets, and ROC bands.
    """
    input:
        result("attacks/{attack}.npz"),
    output:
        result("metrics/{attack}.json"),
    log:
        result("logs/evaluate/{attack}.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        fprs=setting("evaluate", "fprs"),
        bootstrap=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
    script:
        "../scripts/evaluate.py"


rule tables:
    """All metrics (metrics.csv/.md) and the paper's Tables I-III as CSV, Markdown and LaTeX."""
    input:
        expand(result("metrics/{attack}.json"), attack=ATTACKS),
    output:
        csv=report(
            result("metrics.csv"),
            caption="../report/metrics.rst",
            category="Tables",
            labels={"table": "all attacks"},
        ),
        markdown=result("metrics.md"),
        table1=multiext(result("tables/table1"), ".csv", ".md", ".tex"),
        table2=multiext(result("tables/table2"), ".csv", ".md", ".tex"),
        table3=multiext(result("tables/table3"), ".csv", ".md", ".tex"),
        settings=result("tables/settings.json"),
    log:
        result("logs/tables.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=setting("data", "dataset"),
        experiment=EXPERIMENT,
    script:
        "../scripts/tables.py"
