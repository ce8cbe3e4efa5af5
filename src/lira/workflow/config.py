"""Checking an experiment's config before any job runs: the JSON schema (schemas/config.schema.yaml)
and the checks across keys that a schema cannot express. Every problem becomes one line naming the
key, the value found and what is allowed, e.g.

    shadow_models=5: must be a multiple of 2 (N, even (complementary pairs); ...)
    attack.targets=8: must be at most shadow_models (6): targets are shadow models held out in turn

Pure Python (no numpy, no torch): the Snakefile calls check() at parse time, dry runs included,
and it fills in the schema's defaults as snakemake.utils.validate does. check() needs jsonschema
and yaml (Snakemake's own dependencies), imported when called, so that jobs in the analysis
environment (envs/analysis.yaml, without them) can import config_hash.

Also here: config_hash(), the short hash of the settings that decide results, which the
manifest, tables and figures print to say which config produced them.
"""

from __future__ import annotations

import copy
import difflib
import functools
import glob
import hashlib
import json
import os
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"

# What the datasets' files hold (checked against lira.workflow.datasets by the tests): image side in
# pixels, and the sizes of the training and test splits.
DATASETS = {
    "fashion_mnist": {"image_size": 28, "train": 60000, "test": 10000},
    "cifar10": {"image_size": 32, "train": 50000, "test": 10000},
    "cifar100": {"image_size": 32, "train": 50000, "test": 10000},
}

# Settings that never change a result (where a job runs, how fast, where the data files are):
# left out of config_hash, so moving the data or changing threads keeps the hash.
NOT_RESULTS = {"compute": None, "data": ("directory", "download")}


class ConfigError(ValueError):
    """The config is invalid; the message has one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def load_schema(path=SCHEMA) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def load_config(directory: Path, configfiles: list[Path], schema: Path | None = SCHEMA) -> dict:
    """The config Snakemake would see when run in `directory`: <directory>/config.yaml updated by
    each --configfile in turn, with the schema's defaults filled in (not checked: see check())."""
    import yaml

    config: dict = {}
    for path in [Path(directory) / "config.yaml", *map(Path, configfiles)]:
        if path.exists():
            _update(config, yaml.safe_load(path.read_text()) or {})
        elif path != Path(directory) / "config.yaml":
            raise FileNotFoundError(path)
    if schema is not None and Path(schema).exists():
        _fill_defaults(config, load_schema(schema))
    return config


def _update(config: dict, changes: dict) -> None:
    """Merge `changes` into `config` as Snakemake merges config files: mappings key by key."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            _update(config[key], value)
        else:
            config[key] = value


def _fill_defaults(instance: dict, schema: dict) -> None:
    for key, rule in schema.get("properties", {}).items():
        if key not in instance and "default" in rule:
            instance[key] = json.loads(json.dumps(rule["default"]))
        if isinstance(instance.get(key), dict):
            _fill_defaults(instance[key], rule)


def check(config: dict, schema: dict | None = None, local_execution: bool = True) -> dict:
    """Validate `config` in place (filling in the schema's defaults) and return it; raise
    ConfigError listing every problem, one line each.

    local_execution: whether the jobs run on this machine. Only then is a GPU device checked
    against this machine's devices (see no_gpu_here); jobs on a cluster run on other nodes, and
    each train/logits job checks its device when it starts (lira.models.devices.select_device)."""
    schema = load_schema() if schema is None else schema
    validator = _validator_class()(schema)
    errors = sorted(validator.iter_errors(config), key=_error_order)
    problems = [line for error in errors for line in _describe(error)]
    try:
        problems += cross_field_problems(config, local_execution)
    except (KeyError, TypeError, AttributeError):
        pass  # a value of the wrong type or a missing key: already reported above
    if problems:
        raise ConfigError(problems)
    return config


def cross_field_problems(config: dict, local_execution: bool = True) -> list[str]:
    """What the schema cannot check: values that must agree with each other or with the data."""
    problems = []
    n_models, targets = config["shadow_models"], config["attack"]["targets"]
    if targets > n_models:
        problems.append(
            f"attack.targets={targets}: must be at most shadow_models ({n_models}): targets are shadow models held out in turn"
        )
    data = config["data"]
    facts = DATASETS[data["dataset"]]
    side = facts["image_size"]
    for key, section in (("queries", config["queries"]), ("train.augment", config["train"]["augment"])):
        if section["shift"] >= side:
            problems.append(
                f"{key}.shift={section['shift']}: must be less than the image size of {data['dataset']} ({side} pixels)"
            )
    queries = config["queries"]
    if queries["shift"] > 0 and queries["shift"] % queries["stride"]:
        problems.append(f"queries.stride={queries['stride']}: must divide queries.shift ({queries['shift']})")
    for key, split in (("pool_size", "train"), ("holdout_size", "test")):
        if data[key] > facts[split]:
            problems.append(
                f"data.{key}={data[key]}: must be at most the size of {data['dataset']}'s {split} split ({facts[split]})"
            )
    if data["dataset"] != "fashion_mnist" and not data.get("directory"):
        problems.append(
            f"data.directory=null: {data['dataset']} needs the folder that holds its files "
            f"(torchvision's layout); only fashion_mnist has a default (Debian's package)"
        )
    if data.get("download") and not data.get("directory"):
        problems.append("data.download=true: needs data.directory, the folder to download into")
    model = config["model"]
    if model["arch"] == "wrn" and (model["depth"] - 4) % 6:
        problems.append(f"model.depth={model['depth']}: a wide ResNet's depth must be 6k + 4 (10, 16, 22, 28, ...)")
    if model["arch"] == "patch_cnn":
        size = facts["image_size"]
        if "patch" not in model:
            problems.append(f"model.patch: missing; patch_cnn needs the patch size, a divisor of the image size ({size})")
        elif size % model["patch"]:
            problems.append(f"model.patch={model['patch']}: must divide {data['dataset']}'s image size ({size})")
    device = config["compute"]["device"]
    if local_execution and device.startswith("cuda") and no_gpu_here():
        problems.append(
            f"compute.device={device!r}: this machine has no GPU (no /dev/nvidia*, or CUDA_VISIBLE_DEVICES hides them); "
            "use 'cpu', or 'auto' (a GPU where there is one, else the CPU)"
        )
    return problems


def no_gpu_here() -> bool:
    """True when this machine certainly has no GPU a job could use: CUDA_VISIBLE_DEVICES is empty
    or -1, or there is no GPU device file (NVIDIA /dev/nvidia<k>, AMD /dev/kfd, WSL /dev/dxg).
    Decided without torch (parsing stays fast); when in doubt it says False, and each job's own
    check at start (lira.models.devices.select_device, with torch) is the final word."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return True
    device_files = glob.glob("/dev/nvidia[0-9]*") + glob.glob("/dev/kfd") + glob.glob("/dev/dxg")
    return not device_files


def config_hash(config: dict) -> str:
    """12 hex digits of sha256 over the settings that decide results (all but compute.* and
    data.directory/download), independent of key order."""
    kept = copy.deepcopy(config)
    for section, keys in NOT_RESULTS.items():
        if keys is None:
            kept.pop(section, None)
        else:
            for key in keys:
                kept.get(section, {}).pop(key, None)
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]


# --- turning jsonschema's errors into one line each ----------------------------------------------


@functools.cache
def _validator_class():
    """jsonschema's draft 2020-12 validator that fills in each property's `default` before
    validating it (what snakemake.utils.validate does with set_default=True): nested defaults
    follow, since a filled section is then validated, and filled, in turn."""
    import jsonschema

    validator_class = jsonschema.Draft202012Validator
    validate_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, schema_properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in schema_properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, schema_properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def _error_order(error) -> tuple:
    return (tuple(str(part) for part in error.absolute_path), error.validator)


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "config"


def _value(value) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error) -> list[str]:
    """One line per problem (an unknown key each): key=value: what is allowed."""
    key, schema, rule = _key(error.absolute_path), error.schema, error.validator
    if rule == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        lines = []
        for name in unknown:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{_key([*error.absolute_path, name])}: unknown key{hint}; allowed here: {', '.join(allowed)}")
        return lines
    if rule == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [f"{_key([*error.absolute_path, name])}: missing (required)" for name in missing]
    found = f"{key}={_value(error.instance)}"
    limit = error.validator_value
    allowed = {
        "type": lambda: f"must be of type {' or '.join(limit) if isinstance(limit, list) else limit}",
        "enum": lambda: f"must be one of {', '.join(map(str, limit))}",
        "minimum": lambda: f"must be >= {limit}",
        "maximum": lambda: f"must be <= {limit}",
        "exclusiveMinimum": lambda: f"must be > {limit}",
        "exclusiveMaximum": lambda: f"must be < {limit}",
        "multipleOf": lambda: f"must be a multiple of {limit}",
        "minItems": lambda: f"must have at least {limit} item(s)",
        "pattern": lambda: f"must match {limit}",
    }.get(rule, lambda: error.message)()
    description = schema.get("description")
    return [f"{found}: {allowed}" + (f" ({description})" if description else "")]
