# LiRA, the Likelihood Ratio Attack (Carlini et al., IEEE S&P 2022), as a Snakemake workflow.
#
#   pool -> train (one job per block of shadow models) -> logits -> shadows -> fit -> attack
#        -> evaluate -> tables; figures
#   target (population, weights or logits) -> target_statistics -> audit_attack -> audit_report
#
# Every output lives under results/<experiment>/; config.yaml explains every setting.
# `snakemake --report report.html` gathers every table and figure, captioned.


configfile: "config.yaml"


# A grid of experiments (config `grid`, docs/grids.md): one instance of the experiment per
# point, and the table and figure across them. Otherwise, one experiment.
if "grid" in config:

    include: "rules/grid.smk"

    rule all:
        """The table and figures across the grid's points (the cross attack's too, grid.cross),
        every point's whole experiment, and the findings of the paper's figures it regenerates.
        """
        default_target: True
        input:
            rules.grid.output,
            rules.grid_gap.output,
            rules.grid_cross_report.output if GRID_CROSS else [],
            GRID_COMPARISONS,

else:

    include: "rules/experiment.smk"

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
            rules.fig13.output if HAS_CANARIES else [],

    # `snakemake paper`: the paper's other experiments and their findings (paper.studies).
    include: "rules/paper.smk"
