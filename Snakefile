# LiRA, the Likelihood Ratio Attack (Carlini et al., IEEE S&P 2022), as a Snakemake workflow.
#
#   pool -> train (one job per block of shadow models) -> logits -> shadows -> fit -> attack
#        -> evaluate -> tables; figures
#   target (population, weights or logits) -> target_statistics -> audit_attack -> audit_report
#
# Every output lives under results/<experiment>/; config.yaml explains every setting.
# `snakemake --report report.html` gathers every table and figure, captioned.


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/logits.smk"
include: "rules/shadows.smk"
include: "rules/fit.smk"
include: "rules/attack.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/figure.smk"
include: "rules/manifest.smk"
include: "rules/audit.smk"


rule all:
    """Tables I-III, every figure, the metrics of every attack, the manifest, the query list, and
    the audit of the target if the config names one."""
    default_target: True
    input:
        rules.tables.output,
        rules.figure_roc.output,
        rules.figure_shadow_count.output,
        rules.figure_examples.output,
        rules.manifest.output,
        rules.queries.output,
        rules.audit_report.output if TARGET_FORM else [],
