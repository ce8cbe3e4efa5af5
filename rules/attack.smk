rule attack:
    """Score every pool example against each of the first T models as the target, its shadows
    being the other N-1 models (leave-one-out): [T, pool] scores, higher = member."""
    input:
        fit=result("fit.npz"),
        targets=model_outputs("scores", range(N_TARGETS)),
    output:
        result("attacks/{attack}.npz"),
    log:
        result("logs/attack/{attack}.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        settings=attack_settings,
    script:
        "../scripts/attack.py"
