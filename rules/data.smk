rule pool:
    """Materialise the experiment's pool (images, labels, source indices) and held-out test
    images once, as one compact file that every later job loads."""
    output:
        result("pool.npz"),
    log:
        result("logs/pool.log"),
    benchmark:
        result("benchmarks/pool.tsv")
    conda:
        "../envs/torch.yaml"
    params:
        dataset=setting("data", "dataset"),
        pool_size=setting("data", "pool_size"),
        holdout_size=setting("data", "holdout_size"),
        seed=setting("seed"),
    script:
        "../scripts/pool.py"
