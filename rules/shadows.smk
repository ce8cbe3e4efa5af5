rule shadows:
    """Every model's per-example statistics (logit-scaled confidence, hinge, loss, modified
    entropy, probability of the label), computed from each block's logits and stacked into one
    array per statistic, [N, pool, queries] float32, with keep.npy, bool [N, pool]: what model i
    trained on. Attacks memory-map these."""
    input:
        logits=block_outputs("logits", ".npy"),
        logits_info=block_outputs("logits", ".json"),
        pool=result("pool.npz"),
    output:
        **SHADOWS,
    log:
        result("logs/shadows.log"),
    benchmark:
        result("benchmarks/shadows.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        **SHADOW_SPLIT_PARAM,
        seed=setting("seed"),
        queries=setting("queries"),
        blocks=BLOCKS,
        # Computed here from the cached logits, so adding a statistic reruns this job, never the
        # models' inference.
        statistics=STACKED,
        # The part of the pool the shadows trained on (keep.npy), only when set.
    script:
        "../scripts/shadows.py"
