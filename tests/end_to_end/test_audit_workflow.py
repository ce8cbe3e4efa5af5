"""The audit of a target outside the shadow population (config `target`, docs/audit.md) through
the real workflow, on tiny configs in temporary directories.

Run A trains 8 shadow models (blocks of 2). Model 6, taken out of it as a file (its weights, or
its logits), is then audited against models 0-5 alone (shadow_models: 6, same workdir, no model
retrained): its audit scores are A's leave-pair-out scores of model 6, whose shadows were models
0-5 too. A target population of a user architecture trained with another recipe is audited and
shared between experiments; and the files a user gives are refused in one line each, leaving
A's results as they were.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import planned_jobs, snakemake, tiny_config, write_config
from formats import CodeRunningPickle, snapshot
from safetensors.torch import save_file

from lira.core import splits
from lira.models.architectures import build_model
from lira.workflow import catalog

pytestmark = pytest.mark.workflow

RESULTS = Path("results/tiny")
TARGET = 6  # the model of run A audited as a target from outside
EXACT = (
    "lira_online",
    "lira_offline",
    "lira_online_global_variance",
    "lira_offline_global_variance",
    "global_threshold",
)
RMIA = ("rmia_online", "rmia_offline")
TINY_NETS = '''"""A user architecture for the tests (model.arch: "tiny_nets:small_mlp")."""

from torch import nn


def small_mlp(input_shape, num_classes):
    channels, height, width = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, 16), nn.ReLU(), nn.Linear(16, num_classes))
'''


def refusals(text: str) -> list[str]:
    """The one-line refusals a job prints for a file the user gave (lira.workflow.files.ReportedError)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith(("TargetError: ", "ArtifactError: ", "ArchitectureError: "))
    ]


def job_outputs(text: str, rule: str) -> list[str]:
    """The output paths a dry run lists for the jobs of `rule`."""
    outputs, current = [], None
    for line in text.splitlines():
        found = re.match(r"(?:local)?rule (\w+):", line)
        if found:
            current = found.group(1)
        elif current == rule and line.strip().startswith("output:"):
            outputs += [path.strip() for path in line.split(":", 1)[1].split(",")]
    return outputs


def save_safetensors(path: Path, state: dict) -> Path:
    save_file({name: tensor.contiguous() for name, tensor in state.items()}, path)
    return path


def audit_config(config: dict, **target) -> dict:
    """Run A's config with models 0-5 as the shadows (and the attack's targets), auditing `target`."""
    changed = copy.deepcopy(config)
    changed["shadow_models"] = TARGET
    changed["attack"]["targets"] = TARGET
    changed["target"] = target
    return changed


# --- run A, and model 6 taken out of it -------------------------------------------------------------


@pytest.fixture(scope="module")
def run_a(tmp_path_factory, fashion_mnist_dir):
    """Run A (8 models in blocks of 2, every one a target), model 6's weights, logits and members
    written outside it, A's leave-pair-out scores of model 6 and A's results, byte for byte."""
    workdir = tmp_path_factory.mktemp("run-a")
    config = tiny_config(fashion_mnist_dir, shadow_models=8, models_per_job=2, **{"attack.targets": 8})
    write_config(workdir / "config.yaml", config)
    snakemake(workdir)
    results = workdir / RESULTS

    outside = tmp_path_factory.mktemp("outside")
    block = torch.load(results / "models" / "6-7.pt", weights_only=True)  # {"<model>/<tensor>": tensor}
    state = {key.partition("/")[2]: tensor for key, tensor in block.items() if key.partition("/")[0] == str(TARGET)}
    assert state and len(state) * 2 == len(block)
    weights = save_safetensors(outside / "model6.safetensors", state)
    logits = outside / "logits6.npy"
    np.save(logits, np.load(results / "logits" / "6-7.npy")[0])  # [pool, queries, classes]
    pool = np.load(results / "pool.npz")
    is_member = splits.keep_mask(config["seed"], TARGET, len(pool["y"]))
    members = outside / "members6.txt"
    members.write_text("".join(f"{index}\n" for index in pool["source_index"][is_member]))
    scores = {name: np.load(results / "attacks" / f"{name}.npz")["scores"][TARGET] for name in catalog.AUDIT}
    return SimpleNamespace(
        workdir=workdir,
        config=config,
        outside=outside,
        weights=weights,
        logits=logits,
        members=members,
        pool=pool,
        is_member=is_member,
        scores=scores,
        results=snapshot(results),
    )


@pytest.fixture(scope="module")
def round_trip(run_a, tmp_path_factory):
    """A copy of run A, rerun with models 0-5 as the shadows auditing model 6: B1 from its weights
    file, then B2 from its logits file. Returns (workdir, B1's dry run's job counts)."""
    workdir = tmp_path_factory.mktemp("round-trip") / "run"
    shutil.copytree(run_a.workdir, workdir)
    b1 = audit_config(run_a.config, name="weights6", weights=str(run_a.weights), membership=str(run_a.members))
    write_config(workdir / "config.yaml", b1)
    planned = planned_jobs(snakemake(workdir, "--dry-run"))
    snakemake(workdir)
    b2 = audit_config(run_a.config, name="logits6", logits=str(run_a.logits), membership=str(run_a.members))
    write_config(workdir / "config.yaml", b2)
    snakemake(workdir)
    return workdir, planned


def test_fewer_shadows_reuse_every_block_of_models(round_trip):
    _, planned = round_trip
    assert not {"pool", "train", "logits"} & set(planned), planned  # blocks 0-1, 2-3, 4-5 as they are
    assert planned["target_logits"] == 1 and planned["shadows"] == 1
    assert planned["audit_attack"] == planned["audit_evaluate"] == len(catalog.AUDIT)


@pytest.mark.parametrize("name, source", [("weights6", "weights"), ("logits6", "logits")])
def test_a_model_audited_from_outside_scores_as_it_did_among_the_shadows(run_a, round_trip, name, source):
    """Model 6's audit against models 0-5 is its leave-pair-out attack in run A (whose shadows for
    model 6 were models 0-5): the same scores, and its membership read back from the file."""
    workdir, _ = round_trip
    audit = workdir / RESULTS / "audits" / name
    population_size = run_a.config["attack"]["rmia"]["population_size"]
    for attack in catalog.AUDIT:
        arrays = np.load(audit / "attacks" / f"{attack}.npz")
        scores, expected = arrays["scores"], run_a.scores[attack]
        assert scores.shape == (1, len(run_a.pool["y"])), attack
        if attack in RMIA:  # fractions of a population: a tie may flip one step
            np.testing.assert_allclose(scores[0], expected, rtol=0, atol=1 / population_size, err_msg=attack)
            assert np.mean(scores[0] == expected) >= 0.99, attack
        else:
            assert attack in EXACT
            np.testing.assert_allclose(scores[0], expected, rtol=1e-9, atol=1e-9, err_msg=attack)
        np.testing.assert_array_equal(arrays["is_member"][0], run_a.is_member, err_msg=attack)
        assert (audit / "metrics" / f"{attack}.json").is_file(), attack
    report = (audit / "report.md").read_text()
    assert str(getattr(run_a, source)) in report and "membership known" in report


# --- a target population of a user architecture, trained with another recipe -----------------------


def recipe_config(data_directory: Path, **target) -> dict:
    config = tiny_config(
        data_directory,
        shadow_models=4,
        models_per_job=4,
        **{"attack.targets": 4, "model": {"arch": "tiny_nets:small_mlp"}},
    )
    config["target"] = {
        "name": "recipe",
        "population": {"models": 2, "seed": 1},
        "train": {**config["train"], "epochs": 2},
        **target,
    }
    return config


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, fashion_mnist_dir):
    """Shadows and a target population of the user's architecture, the targets trained 2 epochs
    instead of 3, the difference declared: (workdir, config)."""
    workdir = tmp_path_factory.mktemp("recipe")
    (workdir / "tiny_nets.py").write_text(TINY_NETS)
    config = recipe_config(fashion_mnist_dir, mismatch=["train"])
    write_config(workdir / "config.yaml", config)
    snakemake(workdir)
    return workdir, config


def test_a_user_architecture_population_is_trained_queried_and_audited(recipe_run):
    workdir, _ = recipe_run
    populations = list((workdir / "results" / "populations").glob("*/models/0-1.pt"))
    assert len(populations) == 1, populations  # models 0 and 1 of the population, in one block
    audit = workdir / RESULTS / "audits" / "recipe"
    pool_size = len(np.load(workdir / RESULTS / "pool.npz")["y"])

    targets = np.load(audit / "targets.npz")
    description = json.loads(str(targets["description"]))
    assert description["form"] == "population" and description["models"] == 2 and description["seed"] == 1
    assert description["model"]["arch"] == "tiny_nets:small_mlp" and description["train"]["epochs"] == 2
    assert description["mismatch_declared"] == ["train"]
    np.testing.assert_array_equal(targets["is_member"], splits.keep_matrix(1, 2, pool_size))  # its own splits

    # The attack's power on the mismatched targets, next to the matched case (the shadows' own).
    summary = pd.read_csv(audit / "summary.csv")
    assert {"target_tpr_at_fpr", "matched_tpr_at_fpr"} <= set(summary.columns)
    row = summary[(summary["attack"] == "lira_online") & np.isclose(summary["fpr"], 0.1)]
    assert len(row) == 1
    assert np.isfinite(row[["target_tpr_at_fpr", "matched_tpr_at_fpr"]].to_numpy(dtype=float)).all()

    ranked = pd.read_csv(audit / "most_exposed.csv")
    assert len(ranked) == 2 * pool_size
    assert ranked["rank"].tolist() == list(range(1, 2 * pool_size + 1))
    assert (np.diff(ranked["score"].to_numpy()) <= 0).all()  # most exposed first


def test_another_experiment_shares_the_target_population(recipe_run):
    """Another experiment naming the same population plans its own shadows only: the population's
    models are already in results/populations/<key>/."""
    workdir, config = recipe_run
    other = copy.deepcopy(config)
    other["experiment"] = "tiny-other"
    process = snakemake(workdir, "--dry-run", configfile=write_config(workdir / "other.yaml", other))
    text = process.stdout + process.stderr
    assert planned_jobs(process)["train"] == 1, text[-3000:]  # tiny-other's block 0-3
    outputs = job_outputs(text, "train")
    assert outputs and all(path.startswith("results/tiny-other/") for path in outputs), outputs
    assert not any("results/populations/" in path for path in outputs)


def test_an_undeclared_recipe_difference_is_refused_at_parse_time(tmp_path, fashion_mnist_dir):
    (tmp_path / "tiny_nets.py").write_text(TINY_NETS)
    write_config(tmp_path / "config.yaml", recipe_config(fashion_mnist_dir))  # no target.mismatch
    process = snakemake(tmp_path, "--dry-run", check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0
    lines = [line for line in text.splitlines() if "target.train.epochs" in line and "target.mismatch" in line]
    assert len(lines) == 1, text[-3000:]


# --- a user's files refused through the workflow, on copies of run A --------------------------------


def pickled_code(outside: Path, run_a) -> dict:
    path = outside / "code.pt"
    torch.save({"w": CodeRunningPickle(outside / "marker")}, path)
    return {"weights": str(path), "membership": str(run_a.members)}


def narrower_model(outside: Path, run_a) -> dict:
    model = build_model({"arch": "mlp", "width": 16}, (1, 28, 28), 10, [0.5], [0.5])  # A's models: width 32
    return {"weights": str(save_safetensors(outside / "narrow.safetensors", model.state_dict()))}


def one_query(outside: Path, run_a) -> dict:
    np.save(outside / "one-query.npy", np.load(run_a.logits)[:, :1])  # [pool, 1, classes]
    return {"logits": str(outside / "one-query.npy")}


def a_nan(outside: Path, run_a) -> dict:
    logits = np.load(run_a.logits)
    logits[3, 2, 1] = np.nan
    np.save(outside / "nan.npy", logits)
    return {"logits": str(outside / "nan.npy")}


def outside_the_pool(outside: Path, run_a) -> dict:
    index = min(set(range(300)) - set(run_a.pool["source_index"].tolist()))  # 300 training images
    path = outside / "members.txt"
    path.write_text(run_a.members.read_text() + f"{index}\n")
    return {"logits": str(run_a.logits), "membership": str(path)}


def short_mask(outside: Path, run_a) -> dict:
    mask = run_a.is_member[:-1]
    np.save(outside / "mask.npy", mask)
    return {"logits": str(run_a.logits), "membership": str(outside / "mask.npy")}


@pytest.mark.parametrize(
    "make, key, words",
    [
        (pickled_code, "weights", ["refused", "weights-only"]),
        (narrower_model, "weights", ["do not fit"]),
        (one_query, "logits", ["shape"]),
        (a_nan, "logits", ["NaN"]),
        (outside_the_pool, "membership", ["outside the pool"]),
        (short_mask, "membership", ["mask of"]),
    ],
    ids=["pickled-code", "narrower-model", "one-query", "nan", "outside-the-pool", "short-mask"],
)
def test_a_bad_target_file_is_refused_in_one_line(run_a, tmp_path, make, key, words):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = make(outside, run_a)
    workdir = tmp_path / "copy"
    shutil.copytree(run_a.workdir, workdir)
    config = copy.deepcopy(run_a.config)
    config["target"] = {"name": "refused", **target}
    write_config(workdir / "config.yaml", config)

    process = snakemake(workdir, check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0
    lines = refusals(process.stderr)
    assert len(lines) == 1, text[-3000:]
    assert target[key] in lines[0] and all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in process.stderr
    assert not (outside / "marker").exists()  # the pickle was never unpickled
    after = snapshot(workdir / RESULTS)
    assert {name: data for name, data in after.items() if not name.startswith("audits/")} == run_a.results
