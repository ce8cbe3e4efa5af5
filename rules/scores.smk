rule scores:
    """Per-example statistics of the models of block {block}: logit-scaled confidence, hinge,
    loss and modified entropy, each float32 [models, pool, queries]."""
    input:
        pool=result("pool.npz"),
        logits=result("logits/{block}.npy"),
        info=result("logits/{block}.json"),
    output:
        result("scores/{block}.npz"),
    log:
        result("logs/scores/{block}.log"),
    benchmark:
        result("benchmarks/scores/{block}.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        # The set of statistics stored: adding one recomputes the (cheap) scores, not the logits.
        statistics=list(catalog.SCORE_STATISTICS),
    script:
        "../scripts/scores.py"
