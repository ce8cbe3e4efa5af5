rule logits:
    """Query model {model} on every pool example under every augmentation of the query set:
    float32 [pool, queries, classes]."""
    input:
        pool=result("pool.npz"),
        weights=result("models/{model}.pt"),
        metrics=result("models/{model}.json"),
    output:
        result("logits/{model}.npy"),
        info=result("logits/{model}.json"),
    log:
        result("logs/logits/{model}.log"),
    benchmark:
        result("benchmarks/logits/{model}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "logits"),
        mem_mb=per_try("mem_mb", "logits"),
    params:
        model=setting("model"),
        queries=setting("queries"),
    script:
        "../scripts/logits.py"
