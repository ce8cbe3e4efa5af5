rule evaluate:
    """ROC of attack {attack} pooled over the targets: AUC, balanced accuracy, TPR at each FPR with
    the FPR achieved, 95 % bootstrap intervals, the spread across targets, and ROC bands.
    """
    input:
        attack=result("attacks/{attack}.npz"),
        pool=result("pool.npz"),
    output:
        result("metrics/{attack}.json"),
    log:
        result("logs/evaluate/{attack}.log"),
    benchmark:
        result("benchmarks/evaluate/{attack}.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        fprs=setting("evaluate", "fprs"),
        bootstrap=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
        delta=EPSILON_DELTA,
    script:
        "../scripts/evaluate.py"
