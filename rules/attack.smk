rule attack:
    """Score every pool example against each of the first T models as the target, its shadows
    being the N-2 models outside its complementary pair: [T, pool] scores, higher = member.
    """
    input:
        **SHADOWS,
        fit=result("fit.npz"),
        pool=result("pool.npz"),
    output:
        result("attacks/{attack}.npz"),
    log:
        result("logs/attack/{attack}.log"),
    benchmark:
        result("benchmarks/attack/{attack}.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        settings=attack_settings,
        seed=setting("seed"),
        queries=setting("queries"),
    script:
        "../scripts/attack.py"
