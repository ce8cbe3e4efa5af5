rule logits:
    """Query the models of block {block} on every pool example under every augmentation of the
    query set: float32 [models, pool, queries, classes]."""
    input:
        pool=result("pool.npz"),
        weights=result("models/{block}.pt"),
        metrics=result("models/{block}.json"),
    output:
        logits=result("logits/{block}.npy"),
        info=result("logits/{block}.json"),
    log:
        result("logs/logits/{block}.log"),
    benchmark:
        result("benchmarks/logits/{block}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "logits"),
        mem_mb=per_try("mem_mb", "logits"),
    params:
        **SHADOW_SPLIT_PARAM,
        seed=setting("seed"),
        model=setting("model"),
        queries=setting("queries"),
        # The part of the pool the shadows trained on, for their accuracies (only when set).
    script:
        "../scripts/logits.py"
