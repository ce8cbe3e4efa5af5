# LiRA, the Likelihood Ratio Attack (Carlini et al., IEEE S&P 2022), as a Snakemake workflow.
#
#   pool -> train (one job per shadow model) -> logits -> scores -> fit -> attack -> evaluate, figure
#
# Every output lives under results/<experiment>/; config.yaml explains every setting.


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/logits.smk"
include: "rules/scores.smk"
include: "rules/fit.smk"
include: "rules/attack.smk"
include: "rules/evaluate.smk"
include: "rules/figure.smk"


rule all:
    default_target: True
    input:
        result("metrics.csv"),
        result("metrics.md"),
        result("figures/roc.png"),
        result("figures/roc.pdf"),
