"""The real workflow, run by real snakemake on a tiny config in a temporary directory.

One end-to-end run (the session fixture tiny_run, conftest.py), then dry runs that show which
jobs a change invalidates.
"""

from __future__ import annotations

import base64
import copy
import csv
import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, planned_jobs, snakemake, tiny_config, write_config

from lira.core import logit_statistics
from lira.workflow import catalog

pytestmark = pytest.mark.workflow
# Rules downstream of the stacked statistics: what an attack or evaluation setting may rerun.
ANALYSIS_RULES = {"attack", "evaluate", "tables", "figure_roc", "figure_shadow_count", "figure_examples", "manifest", "all"}


def attack_names(config):
    return set(catalog.attacks(config))


def changed_attacks(config, changed):
    """Attacks whose recorded settings differ between two configs."""
    return {name for name in catalog.attacks(changed) if catalog.settings(name, changed) != catalog.settings(name, config)}


def dry_run(workdir, config, name):
    """Jobs a dry run plans for `config` against the finished tiny run."""
    return planned_jobs(snakemake(workdir, "--dry-run", configfile=write_config(workdir / f"{name}.yaml", config)))


def test_end_to_end_outputs(tiny_run):
    workdir, config = tiny_run
    results = workdir / "results" / "tiny"
    pool = np.load(results / "pool.npz")
    assert pool["x"].shape == (240, 1, 28, 28) and pool["x"].dtype == np.uint8
    assert pool["y"].shape == (240,) and len(pool["holdout_y"]) == 50

    # Blocks of 4 models a job: models 0-3 and 4-5.
    logits = np.load(results / "logits" / "4-5.npy")
    assert logits.shape == (2, 240, 18, 10) and logits.dtype == np.float32  # mirror x 3 x 3 shifts
    assert not np.array_equal(logits[0], logits[1])  # two different models

    state = torch.load(results / "models" / "0-3.pt", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    assert {key.split("/")[0] for key in state} == {"0", "1", "2", "3"}
    shadows = np.load(results / "shadows" / "logit_scaled_confidence.npy")
    assert shadows.shape == (6, 240, 18) and shadows.dtype == np.float32
    phi = logit_statistics.logit_scaled_confidence(logits, pool["y"][None, :, None])
    np.testing.assert_array_equal(shadows[4:], phi.astype(np.float32))  # block 4-5's logits, in model order
    assert json.loads((results / "shadows" / "info.json").read_text())["statistics"] == list(logit_statistics.STACKED_STATISTICS)

    attack = np.load(results / "attacks" / "lira_online.npz")
    assert attack["scores"].shape == (4, 240) and np.isfinite(attack["scores"]).all()
    # Complementary pairs: models 0 and 1 never share an example.
    assert not (attack["is_member"][0] & attack["is_member"][1]).any()
    assert attack["is_member"].sum(axis=1).tolist() == [120] * 4

    with open(results / "metrics.csv") as handle:
        rows = {row["attack"]: row for row in csv.DictReader(handle)}
    assert set(rows) == attack_names(config)
    assert {"lira_online_queries_1", "lira_online_queries_2", "lira_online_queries_18"} <= set(rows)
    for name, row in rows.items():
        assert int(row["non_members"]) == 4 * 120 and 0.0 <= float(row["auc"]) <= 1.0
        assert row["tpr@0.001%"] == ""  # 1e-5 * 480 < 1 negative: not measurable (empty in CSV)
        if name != "ye":  # Ye's attack R cannot resolve FPRs below 1 / OUT shadows
            assert 0.0 <= float(row["tpr@10%"]) <= 1.0 and float(row["fpr_achieved@10%"]) <= 0.1
        assert float(row["auc_ci_low"]) <= float(row["auc"]) <= float(row["auc_ci_high"])
        assert catalog.settings(name, config)["family"] in row["settings"]
    markdown = (results / "metrics.md").read_text()
    assert "not measurable" in markdown and "[lira_online]" in markdown

    tables = results / "tables"
    for table in ("table1", "table2", "table3"):
        assert (tables / f"{table}.md").read_text().count("\n|") >= 3
        assert "\\toprule" in (tables / f"{table}.tex").read_text()
    table1 = (tables / "table1.md").read_text()
    assert "LiRA online" in table1 and "Ye et al." in table1 and "paper" not in table1  # not a paper dataset
    with open(tables / "table3.csv") as handle:
        assert [row["queries"] for row in csv.DictReader(handle)] == ["1", "2", "18"]

    figures = results / "figures"
    for figure in ("roc", "shadow_count", "score_distribution", "examples"):
        assert (figures / f"{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
        assert (figures / f"{figure}.pdf").read_bytes()[:5] == b"%PDF-", figure
    with open(figures / "shadow_count.csv") as handle:
        assert {row["shadow_models"] for row in csv.DictReader(handle)} == {"4"}  # N - 2 = 4 shadows per target, leaving the pair out
    with open(figures / "most_exposed.csv") as handle:
        ranked = list(csv.DictReader(handle))
    assert len(ranked) == 240 and float(ranked[0]["exposure"]) >= float(ranked[100]["exposure"])
    for rule in ("pool", "train/0-3", "logits/4-5", "shadows", "fit", "attack/lira_online", "evaluate/ye", "tables"):
        assert (results / "logs" / f"{rule}.log").stat().st_size > 0, rule


def test_nothing_to_do_after_a_run(tiny_run):
    workdir, config = tiny_run
    assert dry_run(workdir, config, "same") == {}


def test_settings_that_do_not_change_results_rerun_nothing(tiny_run):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["compute"].update(threads=2, eval_batch_size=64)
    changed["train"] = dict(reversed(list(changed["train"].items())))  # key order is not a setting
    assert dry_run(workdir, changed, "compute") == {}


@pytest.mark.parametrize(
    "key, value",
    [("offline_test", "two-sided"), ("statistic", "hinge"), ("centre", "median"), ("rmia", {"population_size": 50, "gamma": 2.0, "offline_a": 0.5})],
)
def test_attack_setting_reruns_only_the_attacks_that_use_it(tiny_run, key, value):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["attack"][key] = value
    jobs = dry_run(workdir, changed, f"attack_{key}")
    expected = changed_attacks(config, changed)
    assert expected and set(jobs) <= ANALYSIS_RULES  # no pool, train, logits, shadows, fit
    assert jobs["attack"] == len(expected) and jobs["evaluate"] == len(expected) and jobs["tables"] == 1


def test_evaluate_setting_reruns_only_evaluation(tiny_run):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["evaluate"]["fprs"] = [0.00001, 0.001, 0.05]
    jobs = dry_run(workdir, changed, "fprs")
    assert jobs == {"evaluate": len(attack_names(config)), "tables": 1, "figure_roc": 1, "manifest": 1, "all": 1}


def test_more_shadow_models_train_only_the_new_ones(tiny_run):
    """6 -> 12 models in blocks of 4: the full block 0-3 is kept; the partial block 4-5 becomes 4-7
    (its two models are redone with the two new ones) and 8-11 is new."""
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["shadow_models"] = 12
    process = snakemake(workdir, "--dry-run", configfile=write_config(workdir / "more_models.yaml", changed))
    jobs = planned_jobs(process)
    assert jobs["train"] == 2 and jobs["logits"] == 2
    assert "models/4-7.pt" in process.stdout and "models/8-11.pt" in process.stdout
    assert "models/0-3.pt" not in process.stdout.split("Job stats")[0].replace("input: ", "")
    assert jobs["shadows"] == 1 and jobs["fit"] == 1 and jobs["attack"] == len(attack_names(config))
    assert "pool" not in jobs


def test_more_targets_reruns_attacks_not_models(tiny_run):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["attack"]["targets"] = 6
    jobs = dry_run(workdir, changed, "targets")
    assert set(jobs) == ANALYSIS_RULES and jobs["attack"] == len(attack_names(config))


def test_training_recipe_change_retrains_every_model(tiny_run):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["train"]["epochs"] = 4
    jobs = dry_run(workdir, changed, "recipe")
    assert jobs["train"] == 2 and jobs["logits"] == 2 and jobs["shadows"] == 1 and "pool" not in jobs  # both blocks


def test_query_change_reruns_logits_not_training(tiny_run):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["queries"]["shift"] = 0
    jobs = dry_run(workdir, changed, "queries")
    assert "train" not in jobs and jobs["logits"] == 2 and jobs["shadows"] == 1


def test_a_new_statistic_reruns_the_shadows_step_not_the_logits(tiny_run, tmp_path):
    """The stacked statistics are a parameter of the shadows step: where the run was made with one
    statistic fewer (its recorded parameters say so), the shadows step and what follows rerun from
    the cached logits, and no model is queried or trained again."""
    workdir, config = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns("report.html", "*.yaml"))
    shutil.copy2(workdir / "config.yaml", copy / "config.yaml")
    current, fewer = repr(list(logit_statistics.STACKED_STATISTICS)), repr(list(logit_statistics.STACKED_STATISTICS[:-1]))
    edited = 0
    for record in (copy / ".snakemake" / "metadata").iterdir():  # Snakemake's record of each output
        output = base64.urlsafe_b64decode(record.name).decode()
        if output.startswith("results/tiny/shadows/"):
            metadata = json.loads(record.read_text())
            assert current in metadata["params"], (output, metadata["params"])
            metadata["params"] = [fewer if param == current else param for param in metadata["params"]]
            record.write_text(json.dumps(metadata))
            edited += 1
    assert edited == len(logit_statistics.STACKED_STATISTICS) + 2  # every stack, keep.npy and info.json
    process = snakemake(copy, "--dry-run")
    jobs = planned_jobs(process)
    assert jobs["shadows"] == 1 and jobs["fit"] == 1 and jobs["attack"] == len(attack_names(config))
    assert not {"pool", "train", "logits"} & set(jobs), jobs
    assert "params" in process.stdout.split("rule shadows:")[1].split("\nrule ")[0]  # the reason given


def test_gpu_device_tags_train_and_logits_with_a_gpu_resource(tiny_run):
    workdir, config = tiny_run
    changed = copy.deepcopy(config)
    changed["compute"]["device"] = "cuda"
    changed["train"]["epochs"] = 5
    # Planned for SLURM: locally, a GPU device on a machine without one stops the workflow at parse
    # time (tests/workflow/test_config.py); a cluster's jobs run on its GPU nodes.
    gpu_config = write_config(workdir / "gpu.yaml", changed)
    process = snakemake(workdir, "--dry-run", "--executor", "slurm", "--jobs", "20", configfile=gpu_config)
    text = process.stdout + process.stderr
    jobs = text.split("\nrule ")[1:]  # one chunk per planned job, starting with its rule name
    gpu_jobs = [job for job in jobs if job.startswith(("train:", "logits:"))]
    assert len(gpu_jobs) == 4 and all("gpu=1" in job.split("Job stats")[0] for job in gpu_jobs)  # 2 blocks
    assert not any("gpu=1" in job for job in jobs if job.startswith(("shadows:", "fit:", "attack:")))


def test_default_config_dry_run_and_lint(tmp_path):
    """The shipped config plans its 64 trainings (8 jobs of 8) without any data present, and lints clean."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    process = snakemake(tmp_path, "--dry-run")
    jobs = planned_jobs(process)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert jobs["pool"] == 1 and jobs["train"] == 8 and jobs["logits"] == 8 and jobs["shadows"] == 1
    assert jobs["attack"] == len(attack_names(config)) and jobs["tables"] == 1 and jobs["manifest"] == 1
    # Every file any job writes (outputs, logs, benchmarks) lies inside results/<experiment>/.
    written = [
        path.strip()
        for line in process.stdout.splitlines()
        if line.strip().startswith(("output:", "log:", "benchmark:"))
        for path in line.split(":", 1)[1].split(",")
    ]
    assert len(written) > 3 * 8 and all(path.startswith("results/fmnist-cnn/") for path in written), written
    lint = snakemake(tmp_path, "--lint", check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr


def test_cifar10_with_a_wide_resnet_end_to_end(tmp_path, cifar10_dir):
    """The paper's path on tiny files: CIFAR-10 python batches, a WRN, 18 queries of shift 4."""
    config = tiny_config(cifar10_dir, experiment="tiny-cifar", shadow_models=4)
    config["data"].update(dataset="cifar10", pool_size=64, holdout_size=20)
    config["model"] = {"arch": "wrn", "depth": 10, "width": 1}
    config["train"].update(epochs=1, augment={"mirror": True, "shift": 4, "padding": "reflect"})
    config["queries"].update(shift=4, stride=4)
    config["attack"]["targets"] = 2
    write_config(tmp_path / "config.yaml", config)
    snakemake(tmp_path)
    results = tmp_path / "results" / "tiny-cifar"
    assert np.load(results / "pool.npz")["x"].shape == (64, 3, 32, 32)
    assert np.load(results / "logits" / "0-3.npy").shape == (4, 64, 18, 10)
    with open(results / "metrics.csv") as handle:
        assert {row["attack"] for row in csv.DictReader(handle)} == attack_names(config)


def test_report_gathers_every_table_and_figure(tiny_run):
    workdir, config = tiny_run
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(errors="replace")
    for name in ("roc.png", "shadow_count.png", "examples.png", "score_distribution.png", "metrics.csv", "most_exposed.csv"):
        assert name in html, name
