# The paper's experiments that need no new model: computed from the cached scores
# (attacks/<name>.npz) and shadow statistics (lira.reports.paper_scores). Each writes
# results/<experiment>/paper/<id>/ and its finding.json, which the `paper` target gathers.


rule paper_fig2:
    """Fig. 2: the LOSS attack's ROC on linear and log-log axes (LiRA online for contrast), its
    AUC, balanced accuracy, TPR at 0.1 % FPR and the purity of its most confident 1 %.
    """
    input:
        loss=result("attacks/global_threshold.npz"),
        online=result("attacks/lira_online.npz"),
        pool=result("pool.npz"),
    output:
        csv=result("paper/fig2/fig2.csv"),
        png=report(
            result("paper/fig2/fig2.png"),
            caption="../report/paper_fig2.rst",
            category="Paper experiments",
        ),
        pdf=result("paper/fig2/fig2.pdf"),
        finding=result("paper/fig2/finding.json"),
    log:
        result("logs/paper_fig2.log"),
    benchmark:
        result("benchmarks/paper_fig2.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        resamples=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_fig2.py"


rule paper_fig6:
    """Fig. 6: offline vs online LiRA from the same shadows, with a paired bootstrap of their gap."""
    input:
        offline=result("attacks/lira_offline.npz"),
        online=result("attacks/lira_online.npz"),
        pool=result("pool.npz"),
    output:
        csv=result("paper/fig6/fig6.csv"),
        png=report(
            result("paper/fig6/fig6.png"),
            caption="../report/paper_fig6.rst",
            category="Paper experiments",
        ),
        pdf=result("paper/fig6/fig6.pdf"),
        finding=result("paper/fig6/finding.json"),
    log:
        result("logs/paper_fig6.log"),
    benchmark:
        result("benchmarks/paper_fig6.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        resamples=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_fig6.py"


rule paper_fig9:
    """Figs. 9 and 17: online LiRA (per-example and global variance, from figure_shadow_count) and
    Sablayrolles et al. against the number of shadow models, and ROC curves by count."""
    input:
        **SHADOWS,
        shadow_count=result("figures/shadow_count.csv"),
        online=result("attacks/lira_online.npz"),
        online_global=result("attacks/lira_online_global_variance.npz"),
        sablayrolles=result("attacks/sablayrolles.npz"),
        pool=result("pool.npz"),
    output:
        csv=result("paper/fig9/fig9.csv"),
        png=report(
            result("paper/fig9/fig9.png"),
            caption="../report/paper_fig9.rst",
            category="Paper experiments",
        ),
        pdf=result("paper/fig9/fig9.pdf"),
        finding=result("paper/fig9/finding.json"),
    log:
        result("logs/paper_fig9.log"),
    benchmark:
        result("benchmarks/paper_fig9.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        statistic=setting("attack", "statistic"),
        targets=setting("attack", "targets"),
        repeats=setting("evaluate", "shadow_count_repeats"),
        resamples=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
        shadows=splits.SHADOWS_OF_A_TARGET,
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_fig9.py"


rule paper_precision:
    """Precision of LiRA's and LOSS's member decisions when only 1-10 % of the examples are members."""
    input:
        lira_online=result("attacks/lira_online.npz"),
        lira_offline=result("attacks/lira_offline.npz"),
        global_threshold=result("attacks/global_threshold.npz"),
        pool=result("pool.npz"),
    output:
        csv=result("paper/precision/precision.csv"),
        md=result("paper/precision/precision.md"),
        png=report(
            result("paper/precision/precision.png"),
            caption="../report/paper_precision.rst",
            category="Paper experiments",
        ),
        pdf=result("paper/precision/precision.pdf"),
        finding=result("paper/precision/finding.json"),
    log:
        result("logs/paper_precision.log"),
    benchmark:
        result("benchmarks/paper_precision.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        resamples=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_precision.py"


rule paper_deployed_thresholds:
    """Thresholds calibrated on the other targets (shadows only), applied to each target: the FPR
    they achieve and their TPR, beside the ROC's oracle threshold."""
    input:
        lira_online=result("attacks/lira_online.npz"),
        lira_offline=result("attacks/lira_offline.npz"),
        global_threshold=result("attacks/global_threshold.npz"),
        pool=result("pool.npz"),
    output:
        csv=result("paper/deployed-thresholds/deployed-thresholds.csv"),
        md=result("paper/deployed-thresholds/deployed-thresholds.md"),
        png=report(
            result("paper/deployed-thresholds/deployed-thresholds.png"),
            caption="../report/paper_deployed_thresholds.rst",
            category="Paper experiments",
        ),
        pdf=result("paper/deployed-thresholds/deployed-thresholds.pdf"),
        finding=result("paper/deployed-thresholds/finding.json"),
    log:
        result("logs/paper_deployed_thresholds.log"),
    benchmark:
        result("benchmarks/paper_deployed_thresholds.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        fprs=setting("evaluate", "fprs"),
        resamples=setting("evaluate", "bootstrap"),
        seed=setting("seed"),
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_deployed_thresholds.py"


PAPER_FINDINGS.extend(
    result(f"paper/{id}/finding.json")
    for id in ("fig2", "fig6", "fig9", "precision", "deployed-thresholds")
)
