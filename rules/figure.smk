rule figure_roc:
    """The paper's Figure 1: log-log ROC of the attacks, with 95 % bootstrap bands for LiRA."""
    input:
        attacks=expand(result("attacks/{attack}.npz"), attack=catalog.FIGURE_1),
        metrics=expand(result("metrics/{attack}.json"), attack=catalog.FIGURE_1),
        pool=result("pool.npz"),
    output:
        png=report(
            result("figures/roc.png"),
            caption="../report/roc.rst",
            category="Figures",
        ),
        pdf=result("figures/roc.pdf"),
    log:
        result("logs/figure_roc.log"),
    benchmark:
        result("benchmarks/figure_roc.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        seed=setting("seed"),
        experiment=EXPERIMENT,
    script:
        "../scripts/figure_roc.py"


rule figure_shadow_count:
    """Attack power against the number of shadow models, by subsampling the trained ones."""
    input:
        **SHADOWS,
        pool=result("pool.npz"),
    output:
        csv=result("figures/shadow_count.csv"),
        png=report(
            result("figures/shadow_count.png"),
            caption="../report/shadow_count.rst",
            category="Figures",
        ),
        pdf=result("figures/shadow_count.pdf"),
    log:
        result("logs/figure_shadow_count.log"),
    benchmark:
        result("benchmarks/figure_shadow_count.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        statistic=setting("attack", "statistic"),
        offline_test=setting("attack", "offline_test"),
        targets=setting("attack", "targets"),
        repeats=setting("evaluate", "shadow_count_repeats"),
        seed=setting("seed"),
        # Which models are a target's shadows (the code's choice, not a setting): recorded so that
        # figures made with another choice rerun.
        shadows=splits.SHADOWS_OF_A_TARGET,
        experiment=EXPERIMENT,
    script:
        "../scripts/figure_shadow_count.py"


rule figure_examples:
    """Per-example vulnerability: the ranked CSV of the most exposed examples, the distribution of
    LiRA scores for members and non-members, and the IN/OUT shadow histograms of a few examples.
    """
    input:
        **SHADOWS,
        attack=result("attacks/lira_online.npz"),
        fit=result("fit.npz"),
        pool=result("pool.npz"),
    output:
        ranking=report(
            result("figures/most_exposed.csv"),
            caption="../report/most_exposed.rst",
            category="Per-example vulnerability",
        ),
        distribution_png=report(
            result("figures/score_distribution.png"),
            caption="../report/score_distribution.rst",
            category="Per-example vulnerability",
        ),
        distribution_pdf=result("figures/score_distribution.pdf"),
        examples_png=report(
            result("figures/examples.png"),
            caption="../report/examples.rst",
            category="Per-example vulnerability",
        ),
        examples_pdf=result("figures/examples.pdf"),
    log:
        result("logs/figure_examples.log"),
    benchmark:
        result("benchmarks/figure_examples.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        statistic=setting("attack", "statistic"),
        seed=setting("seed"),
        shadows=splits.SHADOWS_OF_A_TARGET,
        experiment=EXPERIMENT,
    script:
        "../scripts/figure_examples.py"
