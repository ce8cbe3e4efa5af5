rule fit:
    """Per-example IN/OUT sufficient statistics over all N shadow models, from which the
    leave-one-out Gaussians of any target follow without refitting."""
    input:
        scores=model_outputs("scores", range(N_MODELS)),
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
