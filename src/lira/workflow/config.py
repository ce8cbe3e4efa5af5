"""Checking an experiment's config before any job runs: the JSON schema (schemas/config.schema.yaml)
and the checks across keys that a schema cannot express. Every problem becomes one line naming the
key, the value found and what is allowed, e.g.

    shadow_models=5: must be a multiple of 2 (N: even, 4 to 1024 (...))
    attack.targets=8: must be at most shadow_models (6): targets are shadow models held out in turn
    attack.rmia.gamma=nan: must be a finite number > 0 and <= 1000 (not NaN or infinite)
    train.lr: duplicate key in config.yaml, line 52 (first at line 40): give each key once (...)

The check itself never fails: values a check across keys would divide by or index with are
checked by the schema first, and such a check runs only on keys that passed it.

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
import math
import os
import re
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"

# What the datasets' files hold (checked against lira.workflow.datasets by the tests): image side in
# pixels, and the sizes of the training and test splits.
DATASETS = {
    "fashion_mnist": {"image_size": 28, "train": 60000, "test": 10000},
    "cifar10": {"image_size": 32, "train": 50000, "test": 10000},
    "cifar100": {"image_size": 32, "train": 50000, "test": 10000},
}

# The delta at which the evaluation reports the epsilon an attack's scores prove, for a recipe
# without DP-SGD (with it: train.dp.delta). 1e-5 is below 1 / the examples of every pool here.
EPSILON_DELTA = 1e-5

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


def check(
    config: dict,
    schema: dict | None = None,
    local_execution: bool = True,
    configfiles=(),
) -> dict:
    """Validate `config` in place (filling in the schema's defaults) and return it; raise
    ConfigError listing every problem, one line each.

    configfiles: the files the config was read from (Snakemake's workflow.configfiles): each is
    read again to refuse a key given twice in one mapping, which YAML (and Snakemake) would
    silently resolve to the last value (duplicate_key_problems).

    local_execution: whether the jobs run on this machine. Only then is a GPU device checked
    against this machine's devices (see no_gpu_here); jobs on a cluster run on other nodes, and
    each train/logits job checks its device when it starts (lira.models.devices.select_device).

    Beyond JSON Schema: an integer key takes no float (6.0), a number key no NaN or infinity, a
    pattern's `$` no trailing newline; and the checks across keys (cross_field_problems) run only
    on keys that passed these, each guarded, so that the check itself never fails."""
    schema = load_schema() if schema is None else schema
    problems = duplicate_key_problems(configfiles)
    not_finite = dict(_non_finite_numbers(config, schema))  # path -> line
    validator = _validator_class()(schema)
    found = [(path, "finite", line) for path, line in not_finite.items()]
    invalid = set(not_finite)  # paths whose values the checks across keys must not read
    by_value: dict[tuple, list] = {}  # path -> the schema's errors about the value there
    for error in validator.iter_errors(config):
        path = tuple(error.absolute_path)
        if error.validator in ("additionalProperties", "required"):
            found += [(path, error.validator, line) for line in _describe(error)]
            if error.validator == "required":  # an unknown key leaves the known ones valid
                invalid.update((*path, name) for name in error.validator_value if name not in error.instance)
        elif path not in not_finite:  # NaN or infinity: one line already, not another about its bounds
            by_value.setdefault(path, []).append(error)
            invalid.add(path)
    found += [(path, errors[0].validator, _describe_value(errors)) for path, errors in by_value.items()]
    found.sort(key=lambda item: (tuple(str(part) for part in item[0]), item[1]))
    problems += list(dict.fromkeys(line for _, _, line in found))  # jsonschema: one "required" error per missing key
    problems += cross_field_problems(config, local_execution, invalid)
    if problems:
        raise ConfigError(problems)
    return config


# --- checks across keys ---------------------------------------------------------------------------

# FPRs that the tables always report (lira.reports.tables: Table I at 0.001 % and 0.1 %, Tables
# II and III at 0.1 %), so evaluate.fprs must include them.
REQUIRED_FPRS = (0.00001, 0.001)
# Queries per example: the paper's largest set is 162 (shift 4, stride 1, mirror); logits
# [models, pool, queries, classes] and the stacks [N, pool, queries] grow with the count.
MAX_QUERIES = 256
# The widest model of each architecture (model.width): generous caps, 8x or more the widths this
# workflow uses (mlp 32 in the tests, cnn 8, patch_cnn 64, WRN-28-2) and beyond the widest common
# wide ResNet (WRN-28-10), so that a slip such as an extra digit is refused before N oversized
# models start training (and run out of memory or time, one job after another).
MAX_WIDTH = {"mlp": 16384, "cnn": 512, "patch_cnn": 2048, "wrn": 16}
# The check of each key's value in `config`: (keys read, function(config, local_execution) -> lines).
_CROSS_FIELD: list = []


def _reads(*keys: str):
    """Register a check across keys, run only when every key it reads passed the schema."""

    def register(function):
        _CROSS_FIELD.append((tuple(tuple(key.split(".")) for key in keys), function))
        return function

    return register


def cross_field_problems(config: dict, local_execution: bool = True, invalid=()) -> list[str]:
    """What the schema cannot check: values that must agree with each other or with the data.

    invalid: paths (tuples of keys) already reported; a check reading a key at, under or above
    one of them is skipped (its values may be of any type). A check that fails anyway (a bug
    here) gives one line naming its keys rather than a traceback."""
    problems = []
    invalid = [tuple(path) for path in invalid]
    for keys, function in _CROSS_FIELD:
        if any(_overlaps(key, path) for key in keys for path in invalid):
            continue
        try:
            problems += function(config, local_execution)
        except Exception as error:  # noqa: BLE001 - one line, never a traceback at parse time
            names = ", ".join(".".join(key) for key in keys)
            problems.append(f"{names}: could not be checked together ({type(error).__name__}: {error})")
    return problems


def _overlaps(key: tuple, path: tuple) -> bool:
    """Whether one of two paths is a prefix of the other (the same value, or one inside the other)."""
    return key[: len(path)] == path[: len(key)]


@_reads("shadow_models", "attack.targets")
def _targets(config, _):
    n_models, targets = config["shadow_models"], config["attack"]["targets"]
    if targets > n_models:
        return [f"attack.targets={targets}: must be at most shadow_models ({n_models}): targets are shadow models held out in turn"]
    return []


def dataset_facts(data: dict) -> dict:
    """What the dataset holds: image side in pixels (the smaller side; 1 for features), sizes of
    the training and test splits, and its kind (images or features). For the built-in datasets
    from DATASETS; for data.dataset npz read from the .npz file's array headers (no data is read:
    lira.workflow.datasets.describe_npz, which refuses a file that is not one in one line)."""
    if data["dataset"] != "npz":
        return {**DATASETS[data["dataset"]], "kind": "images"}
    from lira.workflow.datasets import describe_npz  # numpy: only for this dataset

    try:
        return _npz_facts(str(data["file"]), describe_npz)
    except (KeyError, ValueError):  # no file, or not one: _data_directory says so, once; nothing to check against
        return {"image_size": math.inf, "train": math.inf, "test": math.inf, "kind": "images"}


@functools.lru_cache(maxsize=8)
def _npz_facts(path: str, describe) -> dict:
    layout = describe(path)
    shape = layout["shape"]
    side = 1 if layout["kind"] == "features" else min(shape[-2:])
    return {"image_size": side, "train": shape[0], "test": layout["test_count"], "kind": layout["kind"]}


@_reads("data.dataset", "queries.shift", "train.augment.shift")
def _shifts(config, _):
    dataset = config["data"]["dataset"]
    side = dataset_facts(config["data"])["image_size"]
    return [
        f"{key}.shift={section['shift']}: must be less than the image size of {dataset} ({side} pixels)"
        for key, section in (("queries", config["queries"]), ("train.augment", config["train"]["augment"]))
        if section["shift"] >= side
    ]


@_reads("data.dataset", "queries.mirror", "queries.shift", "queries.stride")
def _queries(config, _):
    queries = config["queries"]
    mirror, shift, stride = queries["mirror"], queries["shift"], queries["stride"]
    if shift > 0 and shift % stride:
        return [f"queries.stride={stride}: must divide queries.shift ({shift})"]
    if shift >= dataset_facts(config["data"])["image_size"]:
        return []  # the shift itself is refused (_shifts)
    count = (1 + mirror) * (2 * (shift // stride) + 1) ** 2  # lira.core.queries.query_set's count
    if count > MAX_QUERIES:
        return [
            (f"queries.stride={stride}: with shift {shift}{' and mirror' if mirror else ''} that is {count} queries "
            f"per example; at most {MAX_QUERIES} are allowed (the paper's largest set is 162: shift 4, stride 1, "
            "mirror; logits and stacks grow with the count): raise the stride")
        ]
    return []


@_reads("data.dataset", "data.pool_size", "data.holdout_size")
def _data_sizes(config, _):
    data = config["data"]
    facts = dataset_facts(data)
    return [
        f"data.{key}={data[key]}: must be at most the size of {data['dataset']}'s {split} split ({facts[split]})"
        for key, split in (("pool_size", "train"), ("holdout_size", "test"))
        if data[key] > facts[split]
    ]


@_reads("data.dataset", "data.holdout_size", "data.canaries")
def _canaries(config, _):
    data = config["data"]
    counts = data.get("canaries", {})
    needed = counts.get("mislabeled", 0) + counts.get("ood", 0)
    available = dataset_facts(data)["test"] - data["holdout_size"]
    if needed > max(available, 0):
        return [
            (
                f"data.canaries: mislabeled + ood = {needed} test images, but {data['dataset']}'s test split has "
                f"{max(available, 0)} beyond data.holdout_size ({data['holdout_size']}); lower them (noise needs none)"
            )
        ]
    return []


def pool_examples(config: dict) -> int:
    """The examples of the experiment's pool: data.pool_size ordinary ones and the canaries
    appended to them (data.canaries), what the shadow models split between them."""
    return config["data"]["pool_size"] + sum(config["data"].get("canaries", {}).values())


@_reads("data.dataset", "data.directory", "data.download", "data.file")
def _data_directory(config, _):
    data = config["data"]
    problems = []
    if data["dataset"] == "npz":
        if not data.get("file"):
            return ["data.file: missing; dataset npz needs the .npz file that holds your data (docs/datasets.md)"]
        if data.get("download"):
            return ["data.download=true: only the built-in datasets can be downloaded, not npz"]
        from lira.workflow.datasets import describe_npz

        try:
            _npz_facts(str(data["file"]), describe_npz)
        except ValueError as error:  # DatasetError: one line naming the file
            return [f"data.file={_value(data['file'])}: {error}"]
        return []
    if data.get("file"):
        problems.append(f"data.file={_value(data['file'])}: only dataset npz reads a file; {data['dataset']} reads data.directory")
    if data["dataset"] != "fashion_mnist" and not data.get("directory"):
        problems.append(
            f"data.directory={_value(data.get('directory'))}: {data['dataset']} needs the folder that holds its files "
            f"(torchvision's layout); only fashion_mnist has a default (Debian's package)"
        )
    if data.get("download") and not data.get("directory"):
        problems.append("data.download=true: needs data.directory, the folder to download into")
    return problems


def is_user_architecture(arch: str) -> bool:
    """Whether model.arch names the user's own architecture, 'package.module:function'."""
    return ":" in arch


def model_problems(model: dict, key: str, data: dict) -> list[str]:
    """What is wrong with a `model` section (the shadows' `model`, or `target.model`) beyond the
    schema: a built-in architecture's width and depth; a user architecture's module must be found
    (not imported here: it may import torch)."""
    arch = model["arch"]
    if is_user_architecture(arch):
        module = arch.partition(":")[0]
        if _module_missing(module):
            return [
                f"{key}.arch={arch!r}: module {module} not found; it must be importable from the working directory "
                "or an installed package"
            ]
        return []
    if "width" not in model:
        return [f"{key}.width: missing; {arch} needs its width (hidden units, channels or widening factor)"]
    problems = []
    width = model["width"]
    if width > MAX_WIDTH[arch]:
        widest = ", ".join(f"{name} {most}" for name, most in MAX_WIDTH.items())
        problems.append(
            f"{key}.width={width}: must be at most {MAX_WIDTH[arch]} for {arch} (the widest per architecture: {widest})"
        )
    if arch == "wrn" and (model["depth"] - 4) % 6:
        problems.append(f"{key}.depth={model['depth']}: a wide ResNet's depth must be 6k + 4 (10, 16, 22, 28, ...)")
    if dataset_facts(data)["kind"] == "features" and arch != "mlp":
        problems.append(f"{key}.arch={arch}: data of features (not images) needs mlp or your own architecture")
    return problems


def _module_missing(module: str) -> bool:
    """Whether `module` cannot be found from the working directory or the installed packages."""
    import importlib.util
    import sys

    # First on the path, as the job that imports it puts it (lira.models.architectures): a package
    # of the working directory is found before an installed one of the same name.
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a parent package missing
        return True
    finally:
        sys.path.pop(0)


@_reads("model", "data")
def _model(config, _):
    return model_problems(config["model"], "model", config["data"])


@_reads("data", "queries", "train.augment")
def _features(config, _):
    """Features have no pixels to mirror or shift (docs/datasets.md)."""
    if dataset_facts(config["data"])["kind"] != "features":
        return []
    return [
        f"{key}.mirror=true: data of features (not images) cannot be mirrored; set it to false"
        for key, section in (("queries", config["queries"]), ("train.augment", config["train"]["augment"]))
        if section["mirror"]
    ]


@_reads("train", "model", "target")
def _dp(config, _):
    """DP-SGD trains with per-example gradients, in float32, without BatchNorm (docs/privacy.md)."""
    problems = []
    target = config.get("target") or {}
    for key, recipe, model in (("train", config["train"], config["model"]),
                               ("target.train", target.get("train"), target.get("model", config["model"]))):  # fmt: skip
        if not recipe or "dp" not in recipe:
            continue
        if recipe.get("precision", "float32") != "float32":
            problems.append(f"{key}.precision={recipe['precision']}: DP-SGD trains in float32; remove {key}.dp or the precision")
        if recipe.get("optimizer", "sgd") != "sgd":
            problems.append(f"{key}.optimizer={recipe['optimizer']}: DP-SGD trains with SGD; remove {key}.dp or the optimizer")
        if model["arch"] == "wrn":
            problems.append(
                f"{key}.dp: model.arch wrn has BatchNorm, whose statistics mix the examples of a batch, which DP-SGD "
                "cannot clip per example; use mlp, cnn, patch_cnn, or your own architecture without BatchNorm"
            )
    return problems


# The target's differences from its shadows that a config may declare (target.mismatch).
MISMATCHES = ("model", "train")


@_reads("target", "model", "train", "seed", "data")
def _target(config, _):
    """One form of target; its files exist; a target population is not the shadows again; and
    any difference from the shadows' model or recipe is declared (target.mismatch)."""
    target = config.get("target")
    if target is None:
        return []
    forms = [form for form in ("population", "weights", "logits") if form in target]
    if len(forms) != 1:
        found = f"found {', '.join('target.' + form for form in forms)}" if forms else "found none"
        return [f"target: give exactly one of target.population, target.weights, target.logits ({found})"]
    form, problems = forms[0], []
    files = [key for key in ("weights", "logits", "membership") if target.get(key)]
    for key in files:
        if not Path(target[key]).is_file():
            problems.append(f"target.{key}={_value(target[key])}: no such file")
    if form == "logits" and not str(target["logits"]).endswith(".npy"):
        problems.append(f"target.logits={_value(target['logits'])}: expected a .npy file, float [pool, queries, classes]")
    if form == "population":
        if target.get("membership"):
            problems.append(
                "target.membership: a target population's members are known from its splits; remove target.membership"
            )
        if target["population"]["seed"] == config["seed"]:
            problems.append(
                f"target.population.seed={config['seed']}: equals the shadows' seed, which would make every target the "
                "same split as a shadow model (and with the same model and recipe, its copy); use another seed"
            )
    if "model" in target:
        problems += model_problems(target["model"], "target.model", config["data"])
    declared = set(target["mismatch"])
    for key in MISMATCHES:
        difference = _first_difference(config[key], target.get(key, config[key]), key)
        if difference and key not in declared:
            problems.append(
                f"target.{difference}: the shadows must be trained like the target; declare the difference with "
                f"target.mismatch: [{key}] to audit it anyway (docs/audit.md)"
            )
    return problems


def _first_difference(shadows, target, key: str) -> str:
    """'key.sub=value: the shadows' ... is other' for the first key whose value differs, or ''."""
    if isinstance(shadows, dict) and isinstance(target, dict):
        for name in sorted(set(shadows) | set(target)):
            difference = _first_difference(shadows.get(name), target.get(name), f"{key}.{name}")
            if difference:
                return difference
        return ""
    if shadows != target:
        return f"{key}={_value(target)}: the shadows' {key} is {_value(shadows)}"
    return ""


@_reads("data.dataset", "model.arch", "model.patch")
def _patch(config, _):
    model, dataset = config["model"], config["data"]["dataset"]
    if model["arch"] != "patch_cnn":
        return []
    size = dataset_facts(config["data"])["image_size"]
    if math.isinf(size):  # an npz file not read (refused on its own line)
        return []
    if "patch" not in model:
        return [f"model.patch: missing; patch_cnn needs the patch size, a divisor of the image size ({size})"]
    if size % model["patch"]:
        return [f"model.patch={model['patch']}: must divide {dataset}'s image size ({size})"]
    return []


@_reads("evaluate.fprs")
def _fprs(config, _):
    fprs = config["evaluate"]["fprs"]
    labels = {fpr_label(fpr) for fpr in fprs}
    missing = [fpr for fpr in REQUIRED_FPRS if fpr_label(fpr) not in labels]
    if missing:
        return [
            (f"evaluate.fprs={_value(fprs)}: must include {' and '.join(map(str, REQUIRED_FPRS))} "
            f"(missing {', '.join(map(str, missing))}): Tables I-III report the TPR at 0.001 % and 0.1 % FPR")
        ]
    return []


@_reads("compute.device")
def _device(config, local_execution):
    device = config["compute"]["device"]
    if local_execution and device.startswith("cuda") and no_gpu_here():
        return [
            (f"compute.device={device!r}: this machine has no GPU (no /dev/nvidia*, or CUDA_VISIBLE_DEVICES hides them); "
            "use 'cpu', or 'auto' (a GPU where there is one, else the CPU)")
        ]
    return []


def fpr_label(fpr: float) -> str:
    """How the metrics name an FPR: 0.001 -> '0.1%' (lira.core.metrics.fpr_label, which needs numpy)."""
    return f"{fpr * 100:.10g}%"


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


# --- keys given twice ------------------------------------------------------------------------------


def duplicate_key_problems(configfiles) -> list[str]:
    """One line per key given twice in one mapping of any of `configfiles`, naming the key, the
    file and both lines. YAML loaders (Snakemake's too) keep the last value silently; this reads
    each file again, in order, and compares keys as YAML would construct them (1 and 01 are the
    same key). A file that cannot be read or parsed is skipped: Snakemake has reported it. A yte
    template (`__use_yte__: true`), whose `?if` keys may repeat, is skipped too."""
    problems, seen = [], set()
    for path in configfiles:
        resolved = os.path.realpath(path)
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        problems += _duplicate_keys(text, str(path))
    return problems


def _duplicate_keys(text: str, name: str) -> list[str]:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        loader.dispose()
        return []
    problems = []

    def key_of(node):
        try:
            key = loader.construct_object(node, deep=True)
        except Exception:  # noqa: BLE001 - a key YAML cannot construct: compare its nodes
            return repr(node)
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key: compare it as Python shows it
            return repr(key)
        return key

    def walk(node, path, visiting):
        if node is None or id(node) in visiting:  # an alias may refer to a node being walked
            return
        visiting = visiting | {id(node)}
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`
                    continue
                key = key_of(key_node)
                line = key_node.start_mark.line + 1
                if key in first:
                    problems.append(
                        f"{_key([*path, key])}: duplicate key in {name}, line {line} (first at line {first[key]}): "
                        "give each key once (YAML would silently keep the last value)"
                    )
                else:
                    first[key] = line
                walk(value_node, [*path, key], visiting)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, [*path, index], visiting)

    try:
        if isinstance(root, yaml.MappingNode) and any(
            getattr(key, "value", None) == "__use_yte__" for key, _ in root.value
        ):
            return []
        walk(root, [], frozenset())
    except RecursionError:  # nested beyond Python's stack: Snakemake's loader has the same limit
        return problems
    finally:
        loader.dispose()
    return problems


# --- numbers that are not finite --------------------------------------------------------------------


def _non_finite_numbers(instance, schema: dict, path=()):
    """(path, line) for every NaN or infinite value where the schema asks for a number: every
    comparison with NaN is false, so no minimum or maximum catches it, and infinity passes every
    lower bound. Where the schema asks for another type (an integer, a string), its type check
    reports the value instead."""
    if isinstance(instance, float) and not math.isfinite(instance):
        types = schema.get("type")
        if "number" in (types if isinstance(types, list) else [types]):
            yield path, f"{_key(path)}={_value(instance)}: must be a finite number{_bounds(schema)} (not NaN or infinite)"
    elif isinstance(instance, dict):
        for key, value in instance.items():
            rule = schema.get("properties", {}).get(key)
            if isinstance(rule, dict):
                yield from _non_finite_numbers(value, rule, (*path, key))
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(instance):
            yield from _non_finite_numbers(value, schema["items"], (*path, index))


def _bounds(schema: dict) -> str:
    """' > 0 and <= 10': a number rule's bounds, as the lines say them."""
    words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    parts = [f"{sign} {schema[rule]}" for rule, sign in words.items() if rule in schema]
    return " " + " and ".join(parts) if parts else ""


# --- turning jsonschema's errors into one line each ----------------------------------------------


@functools.cache
def _validator_class():
    """jsonschema's draft 2020-12 validator that fills in each property's `default` before
    validating it (what snakemake.utils.validate does with set_default=True): nested defaults
    follow, since a filled section is then validated, and filled, in turn.

    Two rules stricter than JSON Schema's: an integer is an int, not a float with no fraction
    (a whole-number float such as 6.0 would reach range(), slicing and file names as a float),
    and a pattern's closing `$` matches only at the very end of the string (Python's `$` also
    matches before a final newline, which would let 'name\n' through as a folder name)."""
    import jsonschema

    validator_class = jsonschema.Draft202012Validator
    validate_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, schema_properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in schema_properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, schema_properties, instance, schema)

    def pattern(validator, expression, instance, schema):
        if validator.is_type(instance, "string") and not re.search(_strict_end(expression), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {expression!r}")

    def is_integer(checker, instance):
        return isinstance(instance, int) and not isinstance(instance, bool)

    type_checker = validator_class.TYPE_CHECKER.redefine("integer", is_integer)
    return jsonschema.validators.extend(
        validator_class, {"properties": properties, "pattern": pattern}, type_checker=type_checker
    )


def _strict_end(expression: str) -> str:
    """The pattern with a closing `$` (not an escaped one) replaced by `\\Z`, the very end."""
    if expression.endswith("$") and not expression.endswith("\\$"):
        return expression[:-1] + r"\Z"
    return expression


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "config"


def _value(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf, -inf
    try:
        text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    except (TypeError, ValueError):  # YAML dates, keys of mixed types: as Python shows them
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error) -> list[str]:
    """An unknown key or missing keys: one line per key."""
    schema = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed), key=str)
        lines = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{_key([*error.absolute_path, name])}: unknown key{hint}; allowed here: {', '.join(allowed)}")
        return lines
    missing = [name for name in error.validator_value if name not in error.instance]
    return [f"{_key([*error.absolute_path, name])}: missing (required)" for name in missing]


def _describe_value(errors) -> str:
    """One line for every error about one value: key=value: what is allowed (description). A
    value of the wrong type gets that alone: its bounds mean nothing."""
    first = errors[0]
    wrong_type = [error for error in errors if error.validator == "type"]
    errors = wrong_type or errors
    parts = []
    for error in errors:
        text = _rule_text(error)
        if text not in parts:
            parts.append(text)
    description = first.schema.get("description")
    return f"{_key(first.absolute_path)}={_value(first.instance)}: {'; '.join(parts)}" + (
        f" ({description})" if description else ""
    )


def _rule_text(error) -> str:
    """What one schema rule allows, as the lines say it."""
    limit = error.validator_value
    text = {
        "type": lambda: _type_rule(limit, error.instance),
        "enum": lambda: f"must be one of {', '.join(map(str, limit))}",
        "minimum": lambda: f"must be >= {limit}",
        "maximum": lambda: f"must be <= {limit}",
        "exclusiveMinimum": lambda: f"must be > {limit}",
        "exclusiveMaximum": lambda: f"must be < {limit}",
        "multipleOf": lambda: f"must be a multiple of {limit}",
        "minItems": lambda: f"must have at least {limit} item(s)",
        "maxItems": lambda: f"must have at most {limit} item(s)",
        "uniqueItems": lambda: "must not repeat a value",
        "minLength": lambda: f"must have at least {limit} character(s)",
        "maxLength": lambda: f"must have at most {limit} characters",
        # patternMeans (this schema's own keyword): the pattern in words, for patterns no one reads
        "pattern": lambda: f"must be {error.schema['patternMeans']}" if "patternMeans" in error.schema else f"must match {limit}",
    }.get(error.validator)
    return text() if text else error.message


def _type_rule(expected, instance) -> str:
    names = expected if isinstance(expected, list) else [expected]
    if "integer" in names and isinstance(instance, float) and instance.is_integer():
        return f"must be an integer, written without a decimal point ({int(instance)}, not {instance})"
    return f"must be of type {' or '.join(names)}"


# --- the target of an audit ------------------------------------------------------------------------


def target_form(config: dict) -> str | None:
    """Where the audited target comes from: population, weights, logits, or None (no target)."""
    target = config.get("target")
    if target is None:
        return None
    return next(form for form in ("population", "weights", "logits") if form in target)


def completed_target(config: dict) -> dict:
    """The config's target section with its model and recipe filled in (the shadows' where it
    names none) and its declared mismatches sorted: what decides the audit's outputs."""
    target = copy.deepcopy(config["target"])
    target.setdefault("model", config["model"])
    target.setdefault("train", config["train"])
    target["mismatch"] = sorted(target.get("mismatch", []))
    return target


def shadow_split(config: dict) -> dict | None:
    """The part of the pool the shadows train on, and the distribution shift of their training
    images, as lira.core.splits.keep_mask and lira.models.jobs.train_block take it: None without
    a `split` section (every config made before it existed: nothing of theirs changes), else
    {"part", "partition_seed": the experiment's seed, "shift" where given}."""
    if "split" not in config:
        return None
    return {**config["split"], "part": config["split"].get("part", "all"), "partition_seed": config["seed"]}


def population_split(target: dict, seed: int) -> dict | None:
    """The part of the pool a target population trains on (target.population.part), partitioned
    by the experiment's `seed` as the shadows' part is: None when not given (the whole pool)."""
    part = target["population"].get("part")
    return None if part is None else {"part": part, "partition_seed": seed}


def population_key(config: dict) -> str:
    """12 hex digits of sha256 over everything that decides a target population's models: the
    pool (data settings and the experiment's seed, from which it is drawn), the population's
    seed, model and recipe. Its files live in results/populations/<key>/, so that every config
    naming the same population shares them, and any change makes another folder, never
    overwriting models another config uses."""
    target = completed_target(config)
    # Not data.directory: moving the data keeps the population (a pool of other content is refused
    # by its fingerprint where the population's files are read).
    data = {key: config["data"].get(key) for key in ("dataset", "file", "pool_size", "holdout_size")}
    if any(config["data"].get("canaries", {}).values()):  # only then: other keys stay as they were
        data["canaries"] = config["data"]["canaries"]
    decided = {
        "pool": {**data, "seed": config["seed"]},
        "seed": target["population"]["seed"],
        "model": target["model"],
        "train": target["train"],
    }
    if "part" in target["population"]:  # only when set: every population made before keeps its key
        decided["part"] = target["population"]["part"]
    return hashlib.sha256(json.dumps(decided, sort_keys=True).encode()).hexdigest()[:12]
