rule scores:
    """Per-example statistics of model {model}: logit-scaled confidence, hinge and loss, each
    float32 [pool, queries]."""
    input:
        pool=result("pool.npz"),
        logits=result("logits/{model}.npy"),
        info=result("logits/{model}.json"),
    output:
        result("scores/{model}.npz"),
    log:
        result("logs/scores/{model}.log"),
    benchmark:
        result("benchmarks/scores/{model}.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        # The set of statistics stored: adding one recomputes the (cheap) scores, not the logits.
        statistics=list(catalog.SCORE_STATISTICS),
    script:
        "../scripts/scores.py"
