rule fit:
    """Per-example IN/OUT sums (counts, sums, sums of squares) over all N shadow models, from
    which the Gaussians of any target over the models outside its pair follow without refitting.
    """
    input:
        **SHADOWS,
        pool=result("pool.npz"),
    output:
        result("fit.npz"),
    log:
        result("logs/fit.log"),
    benchmark:
        result("benchmarks/fit.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        seed=setting("seed"),
    script:
        "../scripts/fit.py"
