# Helpers shared by every rule: config validation, paths, and the values that decide each output.

import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# Checked at parse time, dry runs included, before any job starts; fills in the schema's defaults.
validate(config, workflow.source_path("../schemas/config.schema.yaml"))

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
if N_TARGETS > N_MODELS:
    raise ValueError(
        f"attack.targets={N_TARGETS}: cannot exceed shadow_models={N_MODELS} (targets are shadows held out in turn)"
    )

# Every attack, by name (lira.catalog: what each is, which table shows it).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lira import catalog

ATTACKS = list(catalog.attacks(config))
STACKED = [
    "logit_scaled_confidence",
    "hinge",
    "loss",
    "modified_entropy",
    "probability",
]

# The GPU resource makes `--resources gpu=K` and SLURM's --gpus see the jobs that need a device.
COMPUTE = config["compute"]
USES_GPU = COMPUTE["device"] != "cpu"


def per_try(setting, rule):
    """A job resource that grows with each retry (--retries): try k asks for k times
    compute.<setting>.<rule> (a cluster job that ran out of time or memory gets more).
    """
    return lambda wildcards, attempt: attempt * COMPUTE[setting][rule]


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
    """Exactly the settings that decide attack {attack}'s output (lira.catalog.settings), so a
    changed setting reruns only the attacks that use it."""
    return _sorted(catalog.settings(wildcards.attack, config))


def model_outputs(kind, models):
    return [result(f"{kind}/{model}.npz") for model in models]


SHADOWS = {name: result(f"shadows/{name}.npy") for name in STACKED + ["keep"]}


wildcard_constraints:
    model=r"\d+",
    attack="|".join(ATTACKS),
