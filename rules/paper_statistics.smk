# The paper's Figures 4 and 8 from the shadow models' cached logits (lira.reports.paper_statistics):
# they compute their own statistics, so the shadows step, the attacks and their tables stay as
# they are.

from lira.core import normality

PAPER_LOGITS = {
    "logits": block_outputs("logits", ".npy"),
    "logits_info": block_outputs("logits", ".json"),
    "pool": result("pool.npz"),
    "keep": result("shadows/keep.npy"),
}


rule paper_fig8:
    """The paper's Figure 8: online LiRA with each of six statistics as its input (confidence,
    log-confidence, the unstable and the stable logit, the raw logit, the hinge), scored as the
    lira_online attack is; log-log ROC, TPR and AUC with bootstrap intervals, and the finding.
    """
    input:
        **PAPER_LOGITS,
    output:
        roc_png=report(
            result("paper/fig8/roc.png"),
            caption="../report/paper_fig8.rst",
            category="Paper experiments",
        ),
        roc_pdf=result("paper/fig8/roc.pdf"),
        table_csv=result("paper/fig8/table.csv"),
        table_md=result("paper/fig8/table.md"),
        finding=result("paper/fig8/finding.json"),
        finding_md=result("paper/fig8/finding.md"),
    log:
        result("logs/paper_fig8.log"),
    benchmark:
        result("benchmarks/paper_fig8.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        seed=setting("seed"),
        queries=setting("queries"),
        blocks=BLOCKS,
        attack=catalog.settings("lira_online", config),
        fprs=setting("evaluate", "fprs"),
        bootstrap=setting("evaluate", "bootstrap"),
        statistics=list(logit_statistics.INPUT_STATISTICS),
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_fig8.py"


rule paper_fig4:
    """The paper's Figure 4: the IN and OUT distributions across models of the confidence, the
    loss and the logit-scaled confidence for three examples, and over every example the share
    whose normality a Shapiro-Wilk test rejects, with the median |skewness|, and the finding.
    """
    input:
        **PAPER_LOGITS,
    output:
        histograms_png=report(
            result("paper/fig4/histograms.png"),
            caption="../report/paper_fig4.rst",
            category="Paper experiments",
        ),
        histograms_pdf=result("paper/fig4/histograms.pdf"),
        per_example=result("paper/fig4/per_example.csv"),
        normality_csv=result("paper/fig4/normality.csv"),
        normality_md=result("paper/fig4/normality.md"),
        finding=result("paper/fig4/finding.json"),
        finding_md=result("paper/fig4/finding.md"),
    log:
        result("logs/paper_fig4.log"),
    benchmark:
        result("benchmarks/paper_fig4.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        seed=setting("seed"),
        queries=setting("queries"),
        blocks=BLOCKS,
        bootstrap=setting("evaluate", "bootstrap"),
        # The code's choices, recorded so that results made with other ones rerun.
        test=normality.TEST,
        alpha=normality.ALPHA,
        experiment=EXPERIMENT,
    script:
        "../scripts/paper_fig4.py"


PAPER_FINDINGS.append(result("paper/fig8/finding.json"))
PAPER_FINDINGS.append(result("paper/fig4/finding.json"))
