# The paper's white-box experiment (Fig. 15: LiRA and a global threshold on the gradient norm
# against the same on the logits) and the two Table I baselines that need more than the cached
# logits (Long et al.; Jayaraman et al.'s MERLIN), on this experiment's trained models. Separate
# rules, not catalog attacks: the default run's tables stay as they are.

# MERLIN's settings (paper: 100 noisy copies). It attacks the first min(attack.targets, targets)
# targets only: 100 noisy queries per example cost 100 times a model's logits job, and the
# baselines table compares all its attacks on those targets. The noise scale is chosen among the candidates by
# the AUC on a shadow model that is no target (the last model), never on the targets; with every
# model a target, the default (images in [0, 1]) is used unchosen.
MERLIN = {
    "draws": 100,
    "noise_candidates": [0.001, 0.003, 0.01, 0.03, 0.1],
    "default_noise": 0.01,
    "tuning_examples": 500,
    "targets": 16,
}
MERLIN_TARGETS = min(N_TARGETS, MERLIN["targets"])
# Targets are models 0..T-1: MERLIN queries only the blocks that hold one.
TARGET_BLOCKS = [
    block for block in BLOCKS if splits.block_models(block).start < MERLIN_TARGETS
]
MERLIN_TUNING_MODEL = N_MODELS - 1 if N_MODELS - 1 >= MERLIN_TARGETS else None
MERLIN_TUNING_BLOCK = BLOCKS[-1]


rule gradient_norms:
    """Per model of block {block} and pool example (identity query), the L2 norm of the gradient
    of the cross-entropy loss with respect to every parameter: float32 [models, pool].
    """
    input:
        pool=result("pool.npz"),
        weights=result("models/{block}.pt"),
        metrics=result("models/{block}.json"),
    output:
        norms=result("whitebox/gradient_norms/{block}.npy"),
        info=result("whitebox/gradient_norms/{block}.json"),
    log:
        result("logs/gradient_norms/{block}.log"),
    benchmark:
        result("benchmarks/gradient_norms/{block}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "logits"),
        mem_mb=per_try("mem_mb", "logits"),
    params:
        seed=setting("seed"),
        model=setting("model"),
    script:
        "../scripts/gradient_norms.py"


rule merlin_noise:
    """MERLIN's noise scale, chosen on a shadow model that is no target (merlin/noise.json)."""
    input:
        pool=result("pool.npz"),
        weights=result(f"models/{MERLIN_TUNING_BLOCK}.pt"),
        metrics=result(f"models/{MERLIN_TUNING_BLOCK}.json"),
    output:
        result("whitebox/merlin/noise.json"),
    log:
        result("logs/merlin/noise.log"),
    benchmark:
        result("benchmarks/merlin/noise.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "logits"),
        mem_mb=per_try("mem_mb", "logits"),
    params:
        seed=setting("seed"),
        model=setting("model"),
        merlin={
            key: MERLIN[key]
            for key in (
                "draws",
                "noise_candidates",
                "default_noise",
                "tuning_examples",
            )
        },
        block=MERLIN_TUNING_BLOCK,
        tuning_model=MERLIN_TUNING_MODEL,
    script:
        "../scripts/merlin_noise.py"


rule merlin:
    """MERLIN scores of the target models of block {block}: per example, the fraction of noisy
    copies whose loss exceeds the loss at the example, float64 [target models of the block, pool].
    """
    input:
        pool=result("pool.npz"),
        weights=result("models/{block}.pt"),
        metrics=result("models/{block}.json"),
        noise=result("whitebox/merlin/noise.json"),
    output:
        scores=result("whitebox/merlin/{block}.npy"),
        info=result("whitebox/merlin/{block}.json"),
    log:
        result("logs/merlin/{block}.log"),
    benchmark:
        result("benchmarks/merlin/{block}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=1 if USES_GPU else 0,
        runtime=per_try("runtime_minutes", "logits"),
        mem_mb=per_try("mem_mb", "logits"),
    params:
        seed=setting("seed"),
        model=setting("model"),
        targets=MERLIN_TARGETS,
        draws=MERLIN["draws"],
    script:
        "../scripts/merlin.py"


rule paper_fig15:
    """Fig. 15: LiRA online and a global threshold on the gradient norm against the same on the
    logit-scaled confidence and the loss (identity query): log-log ROC, table, finding.
    """
    input:
        **SHADOWS,
        norms=expand(result("whitebox/gradient_norms/{block}.npy"), block=BLOCKS),
        norms_info=expand(result("whitebox/gradient_norms/{block}.json"), block=BLOCKS),
        pool=result("pool.npz"),
    output:
        png=report(
            result("paper/fig15/roc.png"),
            caption="../report/fig15.rst",
            category="Paper experiments",
        ),
        pdf=result("paper/fig15/roc.pdf"),
        csv=result("paper/fig15/table.csv"),
        markdown=result("paper/fig15/table.md"),
        finding=result("paper/fig15/finding.json"),
    log:
        result("logs/paper/fig15.log"),
    benchmark:
        result("benchmarks/paper/fig15.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        seed=setting("seed"),
        targets=setting("attack", "targets"),
        fprs=setting("evaluate", "fprs"),
        resamples=setting("evaluate", "bootstrap"),
        shadows=splits.SHADOWS_OF_A_TARGET,
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_fig15.py"


rule paper_baselines:
    """Table I's Long et al. and MERLIN beside LOSS and LiRA online: table and finding."""
    input:
        **SHADOWS,
        merlin=expand(result("whitebox/merlin/{block}.npy"), block=TARGET_BLOCKS),
        merlin_info=expand(result("whitebox/merlin/{block}.json"), block=TARGET_BLOCKS),
        noise=result("whitebox/merlin/noise.json"),
        logits=block_outputs("logits", ".npy"),
        logits_info=block_outputs("logits", ".json"),
        loss_attack=result("attacks/global_threshold.npz"),
        lira_attack=result("attacks/lira_online.npz"),
        pool=result("pool.npz"),
    output:
        csv=report(
            result("paper/baselines/table.csv"),
            caption="../report/baselines.rst",
            category="Paper experiments",
        ),
        markdown=result("paper/baselines/table.md"),
        finding=result("paper/baselines/finding.json"),
    log:
        result("logs/paper/baselines.log"),
    benchmark:
        result("benchmarks/paper/baselines.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        seed=setting("seed"),
        targets=MERLIN_TARGETS,  # every attack of the table on MERLIN's targets
        fprs=setting("evaluate", "fprs"),
        resamples=setting("evaluate", "bootstrap"),
        dataset=setting("data", "dataset"),
        queries=setting("queries"),
        shadows=splits.SHADOWS_OF_A_TARGET,
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_baselines.py"


PAPER_FINDINGS.append(result("paper/fig15/finding.json"))
PAPER_FINDINGS.append(result("paper/baselines/finding.json"))
