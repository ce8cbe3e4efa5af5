"""A hostile user's configs: every value that would pass a naive check but fail (or silently
mislead) later in a job is refused by lira.workflow.config.check with exactly one line naming the
key, the value and what is allowed; duplicated YAML keys are named with their file and lines; and
through real `snakemake --dry-run` no job runs (nothing under results/)."""

from __future__ import annotations

import copy
import datetime
import math

import pytest
import yaml
from conftest import REPO, snakemake, tiny_config, write_config

from lira.workflow import config as lira_config

NAN, INF = math.nan, math.inf


@pytest.fixture
def good(tmp_path):
    return tiny_config(tmp_path)


def problems_of(config, **options) -> list[str]:
    with pytest.raises(lira_config.ConfigError) as raised:
        lira_config.check(config, **options)
    return raised.value.problems


def with_value(config, dotted, value):
    config = copy.deepcopy(config)
    *parents, last = dotted.split(".")
    section = config
    for key in parents:
        section = section[key]
    section[last] = copy.deepcopy(value)
    return config


N_DESCRIPTION = "(N: even, 4 to 1024 (complementary pairs; at least 2, as a target's pair is left out; 1024 is 4x the paper's 256))"
POOL_DESCRIPTION = (
    "(at least 32, at most the dataset's training split (the bootstrap resamples the pooled scores of T >= 2 "
    "targets; with fewer than 64 a resample can draw no member or no non-member, and evaluate fails))"
)
TARGETS_DESCRIPTION = (
    "(T: 2 to shadow_models; models 0 and 1 are complementary, so only with both is every example a member of "
    "one target and a non-member of another (the per-example figures need that))"
)
NAME_RULE = (
    "must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$ (a folder name under results/, of letters, digits, '_', '.', '-', "
    "starting with a letter or digit; no paths, no whitespace)"
)
FPRS_MISSING = "Tables I-III report the TPR at 0.001 % and 0.1 % FPR"

# (key, value, the one line check() must give)
HOSTILE = [
    # NaN and infinity: every comparison with NaN is false, so no bound caught it.
    ("attack.rmia.gamma", NAN, "attack.rmia.gamma=nan: must be a finite number > 0 and <= 1000 (not NaN or infinite)"),
    ("attack.rmia.gamma", INF, "attack.rmia.gamma=inf: must be a finite number > 0 and <= 1000 (not NaN or infinite)"),
    ("attack.rmia.offline_a", NAN, "attack.rmia.offline_a=nan: must be a finite number >= 0 and <= 1 (not NaN or infinite)"),
    ("train.lr", NAN, "train.lr=nan: must be a finite number > 0 (not NaN or infinite)"),
    ("train.lr", INF, "train.lr=inf: must be a finite number > 0 (not NaN or infinite)"),
    ("train.weight_decay", NAN, "train.weight_decay=nan: must be a finite number >= 0 (not NaN or infinite)"),
    ("train.momentum", NAN, "train.momentum=nan: must be a finite number >= 0 and < 1 (not NaN or infinite)"),
    ("train.momentum", -INF, "train.momentum=-inf: must be a finite number >= 0 and < 1 (not NaN or infinite)"),
    ("evaluate.fprs", [0.00001, 0.001, NAN], "evaluate.fprs.2=nan: must be a finite number > 0 and < 1 (not NaN or infinite)"),
    ("seed", NAN, "seed=nan: must be of type integer (a seed numpy and torch can hold)"),
    ("shadow_models", INF, f"shadow_models=inf: must be of type integer {N_DESCRIPTION}"),
    # Whole-number floats: not integers (they reached range() and file names as floats).
    ("shadow_models", 6.0, f"shadow_models=6.0: must be an integer, written without a decimal point (6, not 6.0) {N_DESCRIPTION}"),
    ("data.pool_size", 240.0, f"data.pool_size=240.0: must be an integer, written without a decimal point (240, not 240.0) {POOL_DESCRIPTION}"),
    ("attack.targets", 4.0, f"attack.targets=4.0: must be an integer, written without a decimal point (4, not 4.0) {TARGETS_DESCRIPTION}"),
    ("train.epochs", 3.0, "train.epochs=3.0: must be an integer, written without a decimal point (3, not 3.0) (at most 10x the paper's 100)"),
    ("models_per_job", 4.0, ("models_per_job=4.0: must be an integer, written without a decimal point (4, not 4.0) "
     "(shadow models trained (and queried, and scored) one after another in one job; at most 1024, the most shadow models)")),
    ("queries.shift", 1.0, "queries.shift=1.0: must be an integer, written without a decimal point (1, not 1.0)"),
    # The FPRs the tables need.
    ("evaluate.fprs", [0.01, 0.1], f"evaluate.fprs=[0.01, 0.1]: must include 1e-05 and 0.001 (missing 1e-05, 0.001): {FPRS_MISSING}"),
    ("evaluate.fprs", [0.00001, 0.01], f"evaluate.fprs=[1e-05, 0.01]: must include 1e-05 and 0.001 (missing 0.001): {FPRS_MISSING}"),
    ("evaluate.fprs", [0.00001, 0.001, 0.001], ("evaluate.fprs=[1e-05, 0.001, 0.001]: must not repeat a value (distinct FPRs in "
     "(0, 1), at most 20, including 0.00001 and 0.001 (Tables I-III report the TPR at 0.001 % and 0.1 %))")),
    # Values the checks across keys divide by, or index with: refused by the schema, never a crash.
    ("queries.stride", 0, "queries.stride=0: must be >= 1 (divides shift; at most 256 queries in all (checked with mirror and shift))"),
    ("model", {"arch": "patch_cnn", "width": 8, "patch": 0},
     "model.patch=0: must be >= 1 (patch_cnn only: side of the square patches its first layer maps to channels)"),
    ("model", {"arch": "wrn", "width": 2, "depth": "28"}, "model.depth='28': must be of type integer (wrn only: 6k + 4, the paper's is 28)"),
    ("data.dataset", "imagenet", "data.dataset='imagenet': must be one of fashion_mnist, cifar10, cifar100, npz"),
    ("queries", None, "queries=null: must be of type object"),
    ("train.augment", [], "train.augment=[]: must be of type object"),
    # Upper bounds.
    ("shadow_models", 100000, f"shadow_models=100000: must be <= 1024 {N_DESCRIPTION}"),
    ("models_per_job", 5000, "models_per_job=5000: must be <= 1024 (shadow models trained (and queried, and scored) one after another in one job; at most 1024, the most shadow models)"),
    ("train.epochs", 5000, "train.epochs=5000: must be <= 1000 (at most 10x the paper's 100)"),
    ("evaluate.bootstrap", 100000, ("evaluate.bootstrap=100000: must be <= 10000 (resamples: 95 % intervals settle within a few "
     "thousand, and each is a pass over every pooled score)")),
    ("evaluate.shadow_count_repeats", 1000, "evaluate.shadow_count_repeats=1000: must be <= 100 (draws per shadow count, each a refit of the whole sweep)"),
    ("queries", {"mirror": True, "shift": 8, "stride": 1},
     ("queries.stride=1: with shift 8 and mirror that is 578 queries per example; at most 256 are allowed (the paper's largest "
     "set is 162: shift 4, stride 1, mirror; logits and stacks grow with the count): raise the stride")),
    ("model", {"arch": "wrn", "width": 40},
     "model.width=40: must be at most 16 for wrn (the widest per architecture: mlp 16384, cnn 512, patch_cnn 2048, wrn 16)"),
    ("model", {"arch": "cnn", "width": 4096},
     "model.width=4096: must be at most 512 for cnn (the widest per architecture: mlp 16384, cnn 512, patch_cnn 2048, wrn 16)"),
    ("model", {"arch": "wrn", "width": 2, "depth": 106}, "model.depth=106: must be <= 100 (wrn only: 6k + 4, the paper's is 28)"),
    ("experiment", "x" * 129, ("experiment='xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: must have at most 128 characters "
     "(a folder name under results/, of letters, digits, '_', '.', '-', starting with a letter or digit; no paths, no whitespace)")),
    # What the attack protocol and the evaluation need.
    ("attack.targets", 1, f"attack.targets=1: must be >= 2 {TARGETS_DESCRIPTION}"),
    ("attack.targets", 8, "attack.targets=8: must be at most shadow_models (6): targets are shadow models held out in turn"),
    ("shadow_models", 3, f"shadow_models=3: must be >= 4; must be a multiple of 2 {N_DESCRIPTION}"),
    ("data.pool_size", 31, f"data.pool_size=31: must be >= 32 {POOL_DESCRIPTION}"),
    # Names and strings: a trailing newline no longer slips past the pattern's `$`.
    ("experiment", "tiny\n", f"experiment='tiny\\n': {NAME_RULE}"),
    ("compute.device", "cuda\n", "compute.device='cuda\\n': must match ^(cpu|auto|cuda(:[0-9]+)?)$ (cpu, auto, cuda or cuda:K)"),
    ("data.directory", "", ("data.directory='': must have at least 1 character(s) (the folder that holds the dataset's files; "
     "null: fashion_mnist's default)")),
]


@pytest.mark.parametrize("key, value, line", HOSTILE, ids=[f"{key}={value!r}"[:60] for key, value, _ in HOSTILE])
def test_a_hostile_value_gives_exactly_one_line(good, key, value, line):
    assert problems_of(with_value(good, key, value)) == [line]


@pytest.mark.parametrize("name", ["tiny\n", "tiny ", " tiny", "ti ny", "tiny\t", "\ntiny", ".tiny", "tiny/x", "tiny\r\n", "tïny"])
def test_an_experiment_name_is_a_safe_path_component(good, name):
    assert problems_of(with_value(good, "experiment", name)) == [f"experiment={name!r}: {NAME_RULE}"]


@pytest.mark.parametrize("name", ["tiny", "cifar10-wrn28-2", "a.b_c-1", "A", "x" * 128])
def test_plain_names_pass(good, name):
    lira_config.check(with_value(good, "experiment", name))


def test_the_smallest_and_largest_settings_allowed_pass(good):
    """The bounds' edges: 2 pairs of models, 2 targets, the smallest pool, only the FPRs the tables
    need (the smallest of these ran end to end when the bounds were chosen), and the largest."""
    smallest = copy.deepcopy(good)
    smallest.update(shadow_models=4, models_per_job=1)
    smallest["attack"]["targets"] = 2
    smallest["data"]["pool_size"] = 33  # odd: model 2j + 1 trains on one example more
    smallest["evaluate"].update(fprs=[0.001, 0.00001], bootstrap=0, shadow_count_repeats=1)
    lira_config.check(smallest)
    largest = copy.deepcopy(good)
    largest.update(shadow_models=1024, models_per_job=1024, seed=2**63 - 1)
    largest["attack"]["targets"] = 1024
    largest["data"].update(pool_size=60000, holdout_size=10000)
    largest["queries"].update(mirror=True, shift=5, stride=1)  # 242 queries
    largest["train"].update(epochs=1000, batch_size=65536)
    largest["model"] = {"arch": "wrn", "width": 16, "depth": 100}
    largest["evaluate"].update(bootstrap=10000, shadow_count_repeats=100)
    largest["attack"]["rmia"].update(gamma=1000, population_size=60000)
    lira_config.check(largest)


def test_the_paper_settings_are_inside_every_bound():
    """config/cifar10.yaml: 256 WRN-28-2 on 50,000 CIFAR-10 examples, 18 queries, 100 epochs."""
    config = yaml.safe_load((REPO / "config" / "cifar10.yaml").read_text())
    checked = lira_config.check(config, local_execution=False)
    assert checked["shadow_models"] == 256 and checked["data"]["pool_size"] == 50000


def test_the_fpr_labels_are_the_metrics_labels():
    """The check compares FPRs as the tables look them up (lira.core.metrics.fpr_label)."""
    from lira.core.metrics import fpr_label

    for fpr in (0.00001, 1e-5, 0.001, 0.01, 0.1, 0.5, 1.5e-4):
        assert lira_config.fpr_label(fpr) == fpr_label(fpr)


FUZZ_VALUES = [
    None, "x", "", "x\n", -1, 0, 6.0, 0.5, NAN, INF, -INF, True, [], {}, [NAN], 10**30, "8",
    datetime.date(2024, 1, 1),  # YAML reads 2024-01-01 as a date
    {1: "a", "b": 2},  # keys of mixed types
]


def _leaves(config, path=()):
    for key, value in config.items():
        yield (*path, key)
        if isinstance(value, dict):
            yield from _leaves(value, (*path, key))


@pytest.mark.parametrize("value", FUZZ_VALUES, ids=repr)
def test_any_value_anywhere_gives_lines_naming_its_key_never_a_crash(good, value):
    """Every key of the tiny config set to each hostile value: the check passes or raises
    ConfigError whose lines each name that key (a section left empty names each missing key
    inside it), one line per key; it never raises anything else."""
    schema = lira_config.load_schema()  # once: the check fills in defaults, never changes the schema
    for path in _leaves(good):
        key = ".".join(path)
        config = with_value(good, key, value)
        try:
            lira_config.check(config, schema)
        except lira_config.ConfigError as error:
            problems = error.problems
        else:
            continue
        assert problems, key
        assert all("\n" not in line and line.startswith(key) for line in problems), (key, value, problems)
        if value != {} and not isinstance(value, dict):
            assert len(problems) == 1, (key, value, problems)


def test_a_failing_check_across_keys_gives_one_line_not_a_traceback(good, monkeypatch):
    """Should a check across keys itself fail (a bug), the run still stops with one line naming its keys."""
    def broken(config, local_execution):
        raise ZeroDivisionError("integer modulo by zero")

    keys = (("queries", "shift"), ("queries", "stride"))
    monkeypatch.setattr(lira_config, "_CROSS_FIELD", [(keys, broken)])
    assert problems_of(copy.deepcopy(good)) == [
        "queries.shift, queries.stride: could not be checked together (ZeroDivisionError: integer modulo by zero)"
    ]


# --- keys given twice ---------------------------------------------------------------------------

DUPLICATES = """\
experiment: tiny
seed: 0
train:
  lr: 0.05
  momentum: 0.9
  lr: 0.5
seed: 1
attack:
  rmia: {gamma: 1.0, gamma: 2.0}
"""


def test_a_key_given_twice_is_named_with_its_file_and_lines(good, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(DUPLICATES)
    assert problems_of(copy.deepcopy(good), configfiles=[path]) == [
        f"train.lr: duplicate key in {path}, line 6 (first at line 4): give each key once (YAML would silently keep the last value)",
        f"seed: duplicate key in {path}, line 7 (first at line 2): give each key once (YAML would silently keep the last value)",
        f"attack.rmia.gamma: duplicate key in {path}, line 9 (first at line 9): give each key once (YAML would silently keep the last value)",
    ]


def test_keys_are_compared_as_yaml_reads_them_and_each_file_on_its_own(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("seed: 0\nshadow_models: 8\n")
    second.write_text("seed: 1\n8: x\n010: y\n0o10: z\n")  # YAML 1.1 (PyYAML): 010 is octal 8; 0o10 is text
    problems = lira_config.duplicate_key_problems([first, second, first, tmp_path / "missing.yaml"])
    assert problems == [f"8: duplicate key in {second}, line 3 (first at line 2): give each key once (YAML would silently keep the last value)"]


def test_a_merge_key_and_a_file_without_duplicates_pass(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("base: &base {lr: 0.1}\ntrain:\n  <<: *base\n  momentum: 0.9\nlist: [{a: 1}, {a: 2}]\n")
    assert lira_config.duplicate_key_problems([path]) == []
    complex_keys = tmp_path / "complex.yaml"
    complex_keys.write_text("? [a, b]\n: 1\n? [a, b]\n: 2\n")  # keys YAML cannot hash: compared as written
    assert lira_config.duplicate_key_problems([complex_keys]) == [
        f"['a', 'b']: duplicate key in {complex_keys}, line 3 (first at line 1): give each key once (YAML would silently keep the last value)"
    ]
    (tmp_path / "broken.yaml").write_text("a: [\n")  # Snakemake reports what it cannot parse
    assert lira_config.duplicate_key_problems([tmp_path / "broken.yaml"]) == []


# --- through Snakemake: the check runs at parse time, dry runs included -------------------------


def _hostile_config(fashion_mnist_dir) -> dict:
    return tiny_config(
        fashion_mnist_dir,
        experiment="tiny\n",
        shadow_models=6.0,
        **{"attack.rmia.gamma": NAN, "queries.stride": 0, "evaluate.fprs": [0.01, 0.1]},
    )


@pytest.mark.workflow
def test_snakemake_refuses_hostile_values_before_any_job(tmp_path, fashion_mnist_dir):
    write_config(tmp_path / "config.yaml", _hostile_config(fashion_mnist_dir))
    assert "gamma: .nan" in (tmp_path / "config.yaml").read_text()  # YAML's NaN, as a user would write it
    process = snakemake(tmp_path, "--dry-run", check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0
    lines = [line for line in text.splitlines() if line.startswith("invalid config: ")]
    assert lines == [
        "invalid config: attack.rmia.gamma=nan: must be a finite number > 0 and <= 1000 (not NaN or infinite)",
        f"invalid config: experiment='tiny\\n': {NAME_RULE}",
        "invalid config: queries.stride=0: must be >= 1 (divides shift; at most 256 queries in all (checked with mirror and shift))",
        f"invalid config: shadow_models=6.0: must be an integer, written without a decimal point (6, not 6.0) {N_DESCRIPTION}",
        f"invalid config: evaluate.fprs=[0.01, 0.1]: must include 1e-05 and 0.001 (missing 1e-05, 0.001): {FPRS_MISSING}",
    ], text
    assert "Traceback" not in text and not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_snakemake_names_keys_given_twice_in_every_config_file(tmp_path, fashion_mnist_dir):
    """The Snakefile's config.yaml and a --configfile, each read again: a key given twice in one
    file is refused with its file and lines; a key that a later file overrides is not a duplicate."""
    text = yaml.safe_dump(tiny_config(fashion_mnist_dir), sort_keys=False)
    (tmp_path / "config.yaml").write_text(text + "seed: 7\n")
    seed_line = text.splitlines().index("seed: 0") + 1
    last_line = len(text.splitlines()) + 1
    override = tmp_path / "override.yaml"
    override.write_text("seed: 3\ntrain:\n  lr: 0.1\n  epochs: 2\n  lr: 0.2\n")
    process = snakemake(tmp_path, "--dry-run", configfile=override, check=False)
    output = process.stdout + process.stderr
    assert process.returncode != 0
    lines = [line for line in output.splitlines() if line.startswith("invalid config: ")]
    assert sorted(lines) == sorted([
        (f"invalid config: train.lr: duplicate key in {override}, line 5 (first at line 3): give each key once "
        "(YAML would silently keep the last value)"),
        (f"invalid config: seed: duplicate key in config.yaml, line {last_line} (first at line {seed_line}): give each key "
        "once (YAML would silently keep the last value)"),
    ]), output
    assert "Traceback" not in output and not (tmp_path / "results").exists()

    # Without the duplicates the same two files plan the run.
    (tmp_path / "config.yaml").write_text(text)
    override.write_text("seed: 3\ntrain:\n  lr: 0.1\n  epochs: 2\n")
    process = snakemake(tmp_path, "--dry-run", configfile=override, check=False)
    assert process.returncode == 0, process.stdout + process.stderr
    assert not (tmp_path / "results").exists()
