# One experiment: its shadow models, their attacks, tables and figures, and the audit of its
# target if it names one. The Snakefile includes it, or, for a grid of experiments, rules/grid.smk
# imports it once per point as a module.


report: "../report/workflow.rst"


include: "common.smk"
include: "data.smk"
include: "train.smk"
include: "logits.smk"
include: "shadows.smk"
include: "fit.smk"
include: "attack.smk"
include: "evaluate.smk"
include: "tables.smk"
include: "figure.smk"
include: "paper_statistics.smk"
include: "paper_scores.smk"
include: "whitebox.smk"
include: "manifest.smk"
include: "audit.smk"
include: "canaries.smk"
