# Helpers shared by every rule: config validation, paths, and the values that decide each output.

import argparse
import inspect
import os
import re
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lira.workflow import config as lira_config


def command_line():
    """Snakemake's parsed command line (profiles included), found on the call stack: Snakemake
    picks its executor and targets only after parsing the workflow. None inside a cluster job, or
    when Snakemake is driven through its API."""
    if not workflow.is_main_process:
        return None
    frame = inspect.currentframe()
    while frame is not None:
        args = frame.f_locals.get("args")
        if isinstance(args, argparse.Namespace) and hasattr(args, "executor"):
            return args
        frame = frame.f_back
    return None


def jobs_run_here():
    """Whether this Snakemake process runs its jobs on this machine (local execution, dry runs
    included), so that a GPU device can be checked against this machine's GPUs at parse time.
    Inside a cluster job, or through the API, this says False: each train/logits job checks its
    device when it starts (lira.models.devices.select_device), on the node where it runs.
    """
    args = command_line()
    return args is not None and args.executor in (None, "local", "dryrun", "touch")


def command_line_targets():
    """The targets on Snakemake's command line; None where they cannot be read (a cluster job of
    a study runs the study's rule by name, and must have it)."""
    args = command_line()
    return None if args is None else list(getattr(args, "targets", None) or [])


# Checked at parse time, dry runs included, before any job starts; fills in the schema's defaults.
# One line per problem, naming the key, its value and what is allowed (lira.workflow.config).
# workflow.configfiles: every --configfile, then the Snakefile's `configfile:` (when it exists),
# as Snakemake read them; each is read again to refuse a key given twice (YAML keeps the last).
try:
    lira_config.check(
        config,
        lira_config.load_schema(
            Path(workflow.basedir) / "schemas" / "config.schema.yaml"
        ),
        local_execution=jobs_run_here(),
        configfiles=workflow.configfiles,
    )
except lira_config.ConfigError as error:
    raise WorkflowError(
        "\n".join(f"invalid config: {line}" for line in error.problems)
    ) from None

# The scripts import the `lira` package from src/; put it on the path of every job, whether the
# job runs in the project's virtualenv, a conda env (--sdm conda) or on a cluster node.
# (A variable the workflow sets for its jobs, not one it requires from the user: no `envvars:`.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(
            None, [str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")]
        )
    )
)

EXPERIMENT = config["experiment"]
N_MODELS = config["shadow_models"]
N_TARGETS = config["attack"]["targets"]

# Shadow models are trained and queried in blocks of models_per_job, one job per block
# (lira.core.splits.model_blocks: "0-7", "8-15", ...): one Python start-up and torch import per block.
from lira.core import splits

BLOCKS = splits.model_blocks(N_MODELS, config["models_per_job"])

# Every attack, by name (lira.workflow.catalog: what each is, which table shows it).
from lira.workflow import catalog
from lira.core import logit_statistics

ATTACKS = list(catalog.attacks(config))
# The findings of the paper's experiments run on this experiment (results/<experiment>/paper/<id>/
# finding.json, lira.reports.findings): each rules/*.smk that regenerates one appends its own, and
# the `paper` target gathers them.
PAPER_FINDINGS = []
# The per-example statistics the shadows step stacks (lira.core.logit_statistics).
STACKED = list(logit_statistics.STACKED_STATISTICS)

# The delta of the epsilon an attack's scores prove (evaluate): the recipe's, for DP-SGD
# (train.dp.delta), else lira.workflow.config.EPSILON_DELTA.
EPSILON_DELTA = config["train"].get("dp", {}).get("delta", lira_config.EPSILON_DELTA)

# The GPU resource makes `--resources gpu=K` and SLURM's --gpus see the jobs that need a device.
COMPUTE = config["compute"]
USES_GPU = COMPUTE["device"] != "cpu"


def per_try(setting, rule):
    """A block job's resource, growing with each retry (--retries): try k asks for k times
    compute.<setting>.<rule> (a cluster job that ran out of time or memory gets more); the
    runtime is per model, times the block's models (one model: a single target's job).
    """

    def resource(wildcards, attempt):
        block = getattr(wildcards, "block", None)  # a single target's job has none
        per_model = (
            len(splits.block_models(block))
            if setting == "runtime_minutes" and block
            else 1
        )
        return attempt * per_model * COMPUTE[setting][rule]

    return resource


def result(path):
    """A path inside this experiment's results folder."""
    return f"results/{EXPERIMENT}/{path}"


def setting(*keys):
    """The config value at `keys`, with mapping keys sorted at every level.

    Rules pass exactly the settings that decide their outputs through `params:`, so Snakemake
    reruns a job when (and only when) one of them changes. It compares the values' repr, so the
    sorting keeps a mere reordering of config.yaml from retraining anything. Settings that do not
    change results (device, threads, batch size of inference) are read by the scripts from
    snakemake.config instead and never trigger a rerun.
    """
    value = config
    for key in keys:
        value = value[key]
    return _sorted(value)


def _sorted(value):
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def attack_settings(wildcards):
    """Exactly the settings that decide attack {attack}'s output (lira.workflow.catalog.settings), so a
    changed setting reruns only the attacks that use it."""
    return _sorted(catalog.settings(wildcards.attack, config))


def block_outputs(kind, suffix):
    """One file per block of models, in model order: result("<kind>/<block><suffix>")."""
    return [result(f"{kind}/{block}{suffix}") for block in BLOCKS]


# The pool's data file, a parameter of the pool only for data of your own (data.dataset npz): a
# parameter added for the built-in datasets would rerun their pools, and so every model, made
# before it existed.
NPZ_FILE = (
    {"file": setting("data", "file")} if config["data"]["dataset"] == "npz" else {}
)

# The canaries appended to the pool (data.canaries, the paper's Fig. 13: rules/canaries.smk), a
# parameter of the pool only when there are some, so that every other pool and model stays as made.
HAS_CANARIES = any(config["data"].get("canaries", {}).values())
CANARIES = {"canaries": setting("data", "canaries")} if HAS_CANARIES else {}

SHADOWS = {
    **{name: result(f"shadows/{name}.npy") for name in STACKED + ["keep"]},
    "info": result("shadows/info.json"),
}

# The audited target, if the config names one (docs/audit.md): None, "population", "weights" or
# "logits"; its outputs live in results/<experiment>/audits/<target.name>/.
TARGET_FORM = lira_config.target_form(config)
TARGET = lira_config.completed_target(config) if TARGET_FORM else None
HAS_MEMBERSHIP = TARGET_FORM == "population" or bool(TARGET and TARGET["membership"])

# Populations of models the workflow trains, by folder: the shadows in the experiment's folder,
# and a target population in results/populations/<key>, keyed by what decides its models
# (lira.workflow.config.population_key), so that configs naming the same population share it.
POPULATIONS = {
    f"results/{EXPERIMENT}": {
        "seed": config["seed"],
        "model": config["model"],
        "train": config["train"],
        "blocks": BLOCKS,
    }
}
if TARGET_FORM == "population":
    TARGET_POPULATION = f"results/populations/{lira_config.population_key(config)}"
    POPULATIONS[TARGET_POPULATION] = {
        "seed": TARGET["population"]["seed"],
        "model": TARGET["model"],
        "train": TARGET["train"],
        "blocks": splits.model_blocks(
            TARGET["population"]["models"], config["models_per_job"]
        ),
    }


def population_setting(key):
    """A setting of the population whose folder is the job's {population} wildcard, mapping keys
    sorted (as `setting` sorts them)."""
    return lambda wildcards: _sorted(POPULATIONS[wildcards.population][key])


# The part of the pool each population trains on and the shift of the shadows' training images
# (config `split`, `target.population.part`; lira.core.splits.part_mask): None for the whole pool.
# A parameter of the train, logits and shadows jobs only when some population has one: a
# parameter added for every config would rerun the models made before it existed.
SHADOW_SPLIT = lira_config.shadow_split(config)
POPULATIONS[f"results/{EXPERIMENT}"]["split"] = SHADOW_SPLIT
if TARGET_FORM == "population":
    POPULATIONS[TARGET_POPULATION]["split"] = lira_config.population_split(
        TARGET, config["seed"]
    )
SPLITS_SET = any(population["split"] for population in POPULATIONS.values())
TRAIN_SPLIT = {"split": population_setting("split")} if SPLITS_SET else {}
SHADOW_SPLIT_PARAM = {"split": _sorted(SHADOW_SPLIT)} if SHADOW_SPLIT else {}
# The audit's attacks: the online ones need shadows that train on the examples audited, so with
# shadows on one part of the pool and a target on another (or on the whole pool) only the offline
# ones run (lira.workflow.catalog.audit_attacks).
SHADOW_PART = (SHADOW_SPLIT or {}).get("part", "all")
TARGET_PART = (
    (TARGET["population"].get("part") or "all")
    if TARGET_FORM == "population"
    else "all"
)
AUDIT_ATTACKS = catalog.audit_attacks(SHADOW_PART in ("all", TARGET_PART))


def audit(path):
    """A path inside the audit's folder, results/<experiment>/audits/<target.name>/."""
    return result(f"audits/{TARGET['name']}/{path}")


def audit_logits(suffix):
    """The target's logits files: one per block of a target population, else one."""
    if TARGET_FORM == "population":
        blocks = POPULATIONS[TARGET_POPULATION]["blocks"]
        return [audit(f"logits/{block}{suffix}") for block in blocks]
    return [audit(f"logits/target{suffix}")]


wildcard_constraints:
    block=r"\d+(-\d+)?",
    attack="|".join(ATTACKS),
    population="|".join(re.escape(folder) for folder in POPULATIONS),
