rule figure:
    """Log-log ROC curves of every attack, with the chance diagonal and each AUC in the legend."""
    input:
        attacks=expand(result("attacks/{attack}.npz"), attack=ATTACKS),
    output:
        png=result("figures/roc.png"),
        pdf=result("figures/roc.pdf"),
    log:
        result("logs/figure.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        experiment=EXPERIMENT,
    script:
        "../scripts/figure.py"
