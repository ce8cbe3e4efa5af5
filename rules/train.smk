rule train:
    """Train the models of block {block} of a population (the shadows, or a target population)
    one after another in one job, each on its half of the pool (complementary-pair split).
    """
    input:
        pool="{population}/pool.npz",
    output:
        weights="{population}/models/{block}.pt",
        metrics="{population}/models/{block}.json",
    log:
        "{population}/logs/train/{block}.log",
    benchmark:
        "{population}/benchmarks/train/{block}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "train"),
        mem_mb=per_try("mem_mb", "train"),
    params:
        **TRAIN_SPLIT,
        # Only what decides the weights: changing N or any attack setting retrains nothing.
        seed=population_setting("seed"),
        model=population_setting("model"),
        recipe=population_setting("train"),
        # The population's part of the pool and shift (config `split`), only when one is set.
    script:
        "../scripts/train.py"
