rule train:
    """Train the shadow models of block {block} one after another in one job, each on its half
    of the pool (complementary-pair split)."""
    input:
        pool=result("pool.npz"),
    output:
        weights=result("models/{block}.pt"),
        metrics=result("models/{block}.json"),
    log:
        result("logs/train/{block}.log"),
    benchmark:
        result("benchmarks/train/{block}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "train"),
        mem_mb=per_try("mem_mb", "train"),
    params:
        # Only what decides the weights: changing N or any attack setting retrains nothing.
        seed=setting("seed"),
        model=setting("model"),
        recipe=setting("train"),
    script:
        "../scripts/train.py"
