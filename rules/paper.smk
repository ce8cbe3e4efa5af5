# The paper's experiments (docs/paper-experiments.md): `snakemake paper` builds this experiment's
# own (every figure of rules/paper_*.smk, whitebox.smk) and the studies of paper.studies, each
# config a whole experiment or grid of its own, imported here as a module whose rules are named
# <study>_<rule> (procedures_sgd_train, ...); then one page of the paper's findings beside ours.

from lira.workflow import studies

# Only the experiment Snakemake was started with imports its studies: a study is this workflow
# again (a module), and its own copy of this file must not import the studies once more.
# (Snakemake's module machinery sets a namespace on the workflow while it reads a module.)
# A study given as --configfile is that experiment itself, not a study of it.
IS_MODULE = workflow.modifier.namespace is not None
try:
    STUDIES = (
        []
        if IS_MODULE
        else studies.load(
            config["paper"]["studies"],
            Path(workflow.basedir),
            lira_config.load_schema(
                Path(workflow.basedir) / "schemas" / "config.schema.yaml"
            ),
            top_experiment=EXPERIMENT,
            exclude=workflow.configfiles,
        )
    )
except studies.StudyError as error:
    raise WorkflowError(
        "\n".join(f"invalid config: {line}" for line in error.problems)
    ) from None


# Importing the studies' rules costs seconds at every start (each is a whole workflow, a grid one
# per point), so only a run that may need them imports them: `paper`, a study's rule or file, or
# a process whose targets cannot be read (a cluster job of a study runs its rule by name).
IMPORTED_STUDIES = studies.needed(STUDIES, command_line_targets())


for study in IMPORTED_STUDIES:
    study_module = study.module
    study_rules = study.rule_prefix

    module:
        name: study_module
        snakefile:
            "../Snakefile"
        config:
            study.config

    use rule * from study_module as study_rules*


rule paper:
    """This experiment's paper figures and every study's outputs, and the page of the paper's
    findings beside ours (results/<experiment>/paper/findings.{md,csv})."""
    input:
        experiment=rules.all.input,
        findings=PAPER_FINDINGS,
        # Every output of every study (its `all`, findings included): a function, as the
        # modules that define those rules are imported above this rule but read lazily.
        studies=lambda wildcards: [
            path
            for study in IMPORTED_STUDIES
            for path in getattr(rules, f"{study.rule_prefix}all").input
        ],
    output:
        markdown=report(
            result("paper/findings.md"),
            caption="../report/findings.rst",
            category="Paper experiments",
        ),
        csv=result("paper/findings.csv"),
    log:
        result("logs/paper.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        experiment=EXPERIMENT,
        studies=[study.name for study in IMPORTED_STUDIES],
    script:
        "../scripts/paper.py"
