rule evaluate:
    """One ROC per attack pooled over the targets: AUC, balanced accuracy and TPR at each FPR of
    evaluate.fprs, as CSV and Markdown."""
    input:
        attacks=expand(result("attacks/{attack}.npz"), attack=ATTACKS),
    output:
        csv=result("metrics.csv"),
        markdown=result("metrics.md"),
    log:
        result("logs/evaluate.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        fprs=setting("evaluate", "fprs"),
        experiment=EXPERIMENT,
    script:
        "../scripts/evaluate.py"
