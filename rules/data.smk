rule pool:
    """Materialise a population's pool (images, labels, source indices) and held-out test images
    once, as one compact file that every later job loads. Every population of an experiment
    draws the same pool (the data settings and the experiment's seed decide it)."""
    output:
        "{population}/pool.npz",
    log:
        "{population}/logs/pool.log",
    benchmark:
        "{population}/benchmarks/pool.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        **NPZ_FILE,
        **CANARIES,
        dataset=setting("data", "dataset"),
        pool_size=setting("data", "pool_size"),
        holdout_size=setting("data", "holdout_size"),
        seed=setting("seed"),
    script:
        "../scripts/pool.py"
