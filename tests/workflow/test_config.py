"""The config check (lira.workflow.config): every bad value gives one line naming the key, the value and
what is allowed, before any job runs; the shipped configs pass; defaults are filled in."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO, snakemake, tiny_config, write_config

from lira.workflow import config as lira_config
from lira.workflow import datasets


@pytest.fixture
def good(tmp_path):
    return tiny_config(tmp_path)


def problems_of(config, local_execution=True) -> list[str]:
    with pytest.raises(lira_config.ConfigError) as raised:
        lira_config.check(config, local_execution=local_execution)
    return raised.value.problems


def set_key(config, dotted, value):
    *parents, last = dotted.split(".")
    section = config
    for key in parents:
        section = section[key]
    if value is DELETE:
        del section[last]
    else:
        section[last] = value


DELETE = object()

# (key to set, value, what the line must name besides the key: the value as shown and what is allowed)
BAD = [
    ("shadow_model", 8, ["shadow_model: unknown key", "did you mean 'shadow_models'"]),
    ("train.learning_rate", 0.1, ["train.learning_rate: unknown key", "allowed here: augment, batch_size, dp, epochs, lr"]),
    ("shadow_models", 7, ["shadow_models=7", "must be a multiple of 2"]),
    ("shadow_models", 2, ["shadow_models=2", "must be >= 4"]),
    ("shadow_models", "8", ["shadow_models='8'", "must be of type integer"]),
    ("attack.targets", 8, ["attack.targets=8", "must be at most shadow_models (6)"]),
    ("train.lr", -0.1, ["train.lr=-0.1", "must be > 0"]),
    ("train.momentum", 1.0, ["train.momentum=1.0", "must be < 1"]),
    ("data.dataset", "mnist", ["data.dataset='mnist'", "must be one of fashion_mnist, cifar10, cifar100"]),
    ("model.arch", "resnet", ["model.arch='resnet'", "must be one of mlp, cnn, patch_cnn, wrn"]),
    ("attack.offline_test", "both", ["attack.offline_test='both'", "must be one of one-sided, two-sided"]),
    ("attack.statistic", "confidence", ["attack.statistic='confidence'", "must be one of logit_scaled_confidence, hinge"]),
    ("evaluate.fprs", [0.001, 1.5], ["evaluate.fprs.1=1.5", "must be < 1"]),
    ("evaluate.fprs", [0.0], ["evaluate.fprs.0=0.0", "must be > 0"]),
    ("queries.shift", 28, ["queries.shift=28", "less than the image size of fashion_mnist (28 pixels)"]),
    ("train.augment.shift", 30, ["train.augment.shift=30", "less than the image size of fashion_mnist (28 pixels)"]),
    ("queries.stride", 2, ["queries.stride=2", "must divide queries.shift (1)"]),
    ("data.pool_size", 70000, ["data.pool_size=70000", "at most the size of fashion_mnist's train split (60000)"]),
    ("data.holdout_size", 20000, ["data.holdout_size=20000", "at most the size of fashion_mnist's test split (10000)"]),
    ("experiment", "../elsewhere", ["experiment='../elsewhere'", "must match", "no paths"]),
    ("compute.device", "gpu", ["compute.device='gpu'", "cpu, auto, cuda or cuda:K"]),
    ("compute.threads", 0, ["compute.threads=0", "must be >= 1"]),
    ("seed", DELETE, ["seed: missing (required)"]),
    ("seed", -1, ["seed=-1", "must be >= 0"]),
    ("model", {"arch": "wrn", "width": 1, "depth": 27}, ["model.depth=27", "6k + 4"]),
    ("model", {"arch": "patch_cnn", "width": 8, "patch": 5}, ["model.patch=5", "must divide fashion_mnist's image size (28)"]),
    ("model", {"arch": "patch_cnn", "width": 8}, ["model.patch: missing", "divisor of the image size (28)"]),
    ("data.download", True, ["data.download=true", "needs data.directory"]),
    ("train.optimizer", "rmsprop", ["train.optimizer='rmsprop'", "must be one of sgd, adam"]),
]


@pytest.mark.parametrize("key, value, expected", BAD, ids=[f"{key}={value!r}" for key, value, _ in BAD])
def test_a_bad_value_gives_one_line_naming_key_value_and_what_is_allowed(good, key, value, expected):
    config = copy.deepcopy(good)
    set_key(config, key, value)
    if key == "data.download":
        config["data"]["directory"] = None
    if (key, value) == ("shadow_models", 2):
        config["attack"]["targets"] = 2  # else a second problem: more targets than models
    problems = problems_of(config)
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    for part in expected:
        assert part in problems[0], problems[0]


def test_every_problem_is_reported_at_once(good):
    config = copy.deepcopy(good)
    config["shadow_models"] = 5
    config["train"]["lr"] = 0
    config["queries"]["stride"] = 2
    config["data"]["colour"] = True
    problems = problems_of(config)
    assert len(problems) == 4, problems
    assert [p.split(":")[0].split("=")[0] for p in problems] == ["data.colour", "shadow_models", "train.lr", "queries.stride"]


def test_a_check_across_keys_reads_only_values_that_passed_the_schema(good):
    """attack.targets is compared with shadow_models only once shadow_models itself is valid: an
    invalid value may be of any type (the check must not fail on it), and it is reported already."""
    config = copy.deepcopy(good)
    config.update(shadow_models=5)
    config["attack"]["targets"] = 9
    (problem,) = problems_of(config)
    assert problem.startswith("shadow_models=5: must be a multiple of 2")


def test_cifar_needs_its_directory(good):
    config = copy.deepcopy(good)
    config["data"].update(dataset="cifar10", directory=None)
    (problem,) = problems_of(config)
    assert problem.startswith("data.directory=null: cifar10 needs the folder")


@pytest.mark.parametrize("name", ["..", "../x", "/tmp/x", "a/b", ".hidden", "-x", "a b", ""])
def test_the_experiment_name_cannot_point_outside_results(good, name):
    config = copy.deepcopy(good)
    config["experiment"] = name
    (problem,) = problems_of(config)
    assert problem.startswith(f"experiment={name!r}: must match")


def test_a_gpu_device_on_a_machine_without_one(good, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # what a machine without GPUs looks like to jobs
    assert lira_config.no_gpu_here()
    for device in ("cuda", "cuda:1"):
        config = copy.deepcopy(good)
        config["compute"]["device"] = device
        (problem,) = problems_of(config)
        assert problem.startswith(f"compute.device={device!r}: this machine has no GPU") and "'auto'" in problem
        # Jobs that run elsewhere (a cluster's GPU nodes) check their device when they start.
        assert lira_config.check(copy.deepcopy(config), local_execution=False)["compute"]["device"] == device
    config = copy.deepcopy(good)
    config["compute"]["device"] = "auto"  # falls back to the CPU: fine anywhere
    lira_config.check(config)


@pytest.mark.parametrize("requested, visible, message", [
    ("cuda", False, "compute.device='cuda' but torch sees no GPU"),
    ("cuda:0", False, "compute.device='cuda:0' but torch sees no GPU on this machine"),
    ("cuda:3", True, "compute.device='cuda:3' but torch sees 2 GPU(s) here"),
])
def test_a_job_fails_at_start_with_one_line_when_its_gpu_is_missing(tmp_path, monkeypatch, requested, visible, message):
    """Where the parse-time check cannot decide (a cluster's jobs), each train/logits job checks
    compute.device when it starts (lira.models.devices.select_device)."""
    import logging

    torch = pytest.importorskip("torch")
    from lira.models import devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: visible)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2 if visible else 0)
    with pytest.raises(RuntimeError) as raised:
        devices.select_device(requested, logging.getLogger("test"), tmp_path)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_defaults_are_filled_in(good):
    config = copy.deepcopy(good)
    del config["compute"], config["evaluate"], config["attack"]["rmia"], config["queries"]["padding"]
    checked = lira_config.check(config)
    assert checked is config
    assert config["compute"]["device"] == "cpu" and config["compute"]["runtime_minutes"] == {"train": 30, "logits": 10}
    assert config["evaluate"]["fprs"] == [0.00001, 0.001, 0.01] and config["attack"]["rmia"]["gamma"] == 1.0
    assert config["queries"]["padding"] == "reflect"


@pytest.mark.parametrize("path", ["config.yaml", "config/cifar10.yaml", "config/cifar100.yaml"])
def test_the_shipped_configs_pass(path):
    lira_config.check(yaml.safe_load((REPO / path).read_text()), local_execution=False)


def test_the_dataset_facts_agree_with_the_loaders():
    assert set(lira_config.DATASETS) == set(datasets.IMAGE_SHAPE)
    for name, facts in lira_config.DATASETS.items():
        assert datasets.IMAGE_SHAPE[name][1:] == (facts["image_size"], facts["image_size"])


def test_config_hash_covers_results_settings_only(good):
    checked = lira_config.check(copy.deepcopy(good))
    same = copy.deepcopy(checked)
    same["compute"].update(threads=4, device="auto")
    same["data"]["directory"] = "/somewhere/else"
    same["train"] = dict(reversed(list(same["train"].items())))
    assert lira_config.config_hash(same) == lira_config.config_hash(checked)
    for key, value in (("seed", 1), ("train.epochs", 4), ("attack.centre", "median"), ("evaluate.bootstrap", 3)):
        changed = copy.deepcopy(checked)
        set_key(changed, key, value)
        assert lira_config.config_hash(changed) != lira_config.config_hash(checked), key


# --- through Snakemake: the check runs at parse time, dry runs included -------------------------


@pytest.mark.workflow
def test_snakemake_stops_before_any_job_with_one_line_per_problem(tmp_path, fashion_mnist_dir, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    config = tiny_config(fashion_mnist_dir, shadow_models=7, **{"train.lr": -0.5, "compute.device": "cuda"})
    write_config(tmp_path / "config.yaml", config)
    process = snakemake(tmp_path, "--dry-run", check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0
    lines = [line for line in text.splitlines() if line.startswith("invalid config: ")]
    assert lines == [
        ("invalid config: shadow_models=7: must be a multiple of 2 (N: even, 4 to 1024 (complementary pairs; "
        "at least 2, as a target's pair is left out; 1024 is 4x the paper's 256))"),
        "invalid config: train.lr=-0.5: must be > 0",
        ("invalid config: compute.device='cuda': this machine has no GPU (no /dev/nvidia*, or CUDA_VISIBLE_DEVICES "
        "hides them); use 'cpu', or 'auto' (a GPU where there is one, else the CPU)"),
    ], text
    assert "Traceback" not in text and not (tmp_path / "results").exists()

    # For a cluster (SLURM executor) the GPU is the compute nodes' business: the plan goes through.
    config.update(shadow_models=6)
    config["train"]["lr"] = 0.05
    write_config(tmp_path / "config.yaml", config)
    process = snakemake(tmp_path, "--dry-run", "--executor", "slurm", "--jobs", "8", check=False)
    assert process.returncode == 0, process.stdout + process.stderr
    assert "invalid config" not in process.stdout + process.stderr


@pytest.mark.parametrize(
    "dp, expected",
    [
        ({"noise_multiplier": -0.5, "max_grad_norm": 1.0, "delta": 1e-5}, "train.dp.noise_multiplier=-0.5: must be >= 0"),
        ({"noise_multiplier": 0.8, "max_grad_norm": 0, "delta": 1e-5}, "train.dp.max_grad_norm=0: must be > 0"),
        ({"noise_multiplier": 0.8, "max_grad_norm": 1.0, "delta": 1.0}, "train.dp.delta=1.0: must be < 1"),
        ({"noise_multiplier": 0.8, "max_grad_norm": 1.0, "delta": 0}, "train.dp.delta=0: must be > 0"),
        ({"noise_multiplier": 0.8, "max_grad_norm": 1.0}, "train.dp.delta: missing"),
    ],
)
def test_bad_dp_settings_get_one_line_each(tmp_path, dp, expected):
    config = tiny_config(tmp_path)
    config["train"]["dp"] = dp
    with pytest.raises(lira_config.ConfigError) as error:
        lira_config.check(config)
    assert len(error.value.problems) == 1 and error.value.problems[0].startswith(expected), error.value.problems


def test_the_optimizer_is_absent_unless_set_so_existing_recipes_keep_their_files(good):
    """train.optimizer has no default filled in: a config without it keeps the recipe (the train
    rule's params, the target population's key) it had before the setting existed."""
    checked = lira_config.check(copy.deepcopy(good))
    assert "optimizer" not in checked["train"]
    adam = copy.deepcopy(good)
    adam["train"]["optimizer"] = "adam"
    lira_config.check(adam)
    adam["train"]["dp"] = {"noise_multiplier": 0.8, "max_grad_norm": 1.0, "delta": 1e-5}
    assert problems_of(adam) == ["train.optimizer=adam: DP-SGD trains with SGD; remove train.dp or the optimizer"]


def test_split_settings_are_checked_and_absent_ones_change_nothing(good):
    assert lira_config.shadow_split(good) is None  # no `split`: no parameter, nothing reruns
    bad = copy.deepcopy(good)
    bad["split"] = {"part": "c"}
    [line] = problems_of(bad)
    assert "split.part" in line and "'c'" in line and "all" in line
    bad["split"] = {"shift": {"contrast": 0, "blur": 1}}
    [line] = problems_of(bad)
    assert "split.shift.contrast" in line
    fine = copy.deepcopy(good)
    fine["split"] = {"part": "b", "shift": {"contrast": 0.5, "blur": 1.0}}
    lira_config.check(fine)
    assert lira_config.shadow_split(fine) == {
        "part": "b", "partition_seed": fine["seed"], "shift": {"contrast": 0.5, "blur": 1.0}
    }


def test_a_population_s_key_changes_only_when_it_names_a_part(good):
    config = copy.deepcopy(good)
    config["target"] = {"name": "t", "population": {"models": 2, "seed": 9}}
    lira_config.check(config)
    key = lira_config.population_key(config)
    # The key as it was computed before parts existed, written out.
    import hashlib
    import json

    data = {name: config["data"].get(name) for name in ("dataset", "file", "pool_size", "holdout_size")}
    decided = {"pool": {**data, "seed": config["seed"]}, "seed": 9, "model": config["model"], "train": config["train"]}
    assert key == hashlib.sha256(json.dumps(decided, sort_keys=True).encode()).hexdigest()[:12]
    assert lira_config.population_split(config["target"], config["seed"]) is None
    config["target"]["population"]["part"] = "a"
    lira_config.check(config)
    assert lira_config.population_key(config) != key
    assert lira_config.population_split(config["target"], config["seed"]) == {"part": "a", "partition_seed": config["seed"]}
    config["target"]["population"]["part"] = "z"
    [line] = problems_of(config)
    assert "target.population.part" in line
