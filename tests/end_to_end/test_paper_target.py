"""`snakemake paper` (rules/paper.smk): this experiment's paper figures, its studies imported as
modules of the workflow (each a whole experiment or grid, rules <study>_<rule>), and one page of
findings."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def paper_workdir(tmp_path_factory, fashion_mnist_dir):
    workdir = tmp_path_factory.mktemp("paper")
    config = tiny_config(fashion_mnist_dir)
    config["paper"] = {"studies": ["studies/epochs.yaml"]}
    write_config(workdir / "config.yaml", config)
    (workdir / "studies").mkdir()
    study = {
        "experiment": "epochs",
        "grid": {"points": [{"name": "short", "set": {"train": {"epochs": 2}}}, {"name": "long", "set": {}}]},
    }
    write_config(workdir / "studies" / "epochs.yaml", study)
    return workdir


def test_paper_plans_the_experiment_its_studies_and_the_findings_page(paper_workdir):
    jobs = planned_jobs(snakemake(paper_workdir, "-n", "paper"))
    assert jobs["paper"] == 1
    assert jobs["train"] == 2  # this experiment's two blocks of models
    assert jobs["epochs_short_train"] == jobs["epochs_long_train"] == 2  # each point's own, as a module
    assert jobs["epochs_grid"] == 1
    # The default target is unchanged: no study, no paper figures.
    default = planned_jobs(snakemake(paper_workdir, "-n"))
    assert "paper" not in default and not any(rule.startswith("epochs_") for rule in default)


def test_a_study_run_alone_plans_the_same_jobs_without_the_prefix(paper_workdir):
    alone = planned_jobs(snakemake(paper_workdir, "-n", configfile=paper_workdir / "studies" / "epochs.yaml"))
    within = planned_jobs(snakemake(paper_workdir, "-n", "paper"))
    assert {rule: count for rule, count in within.items() if rule.startswith("epochs_")} == {
        f"epochs_{rule}": count for rule, count in alone.items() if rule != "all"
    }


def test_a_missing_study_is_refused_before_anything_runs(paper_workdir, tmp_path):
    config = tiny_config(paper_workdir)
    config["paper"] = {"studies": ["studies/nope.yaml"]}
    write_config(tmp_path / "config.yaml", config)
    process = snakemake(tmp_path, "-n", check=False)
    assert process.returncode != 0
    assert "invalid config: paper.studies: studies/nope.yaml: no such file" in process.stdout + process.stderr


def test_plan_plans_the_paper_target_study_by_study(paper_workdir):
    process = subprocess.run(
        [sys.executable, "-m", "lira.tools.plan", "--target", "paper", "--directory", str(paper_workdir), "--no-calibrate"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    text = process.stdout
    assert "== this experiment, tiny ==" in text and "== study epochs (studies/epochs.yaml) ==" in text
    assert "== grid point short ==" in text and "Plan for experiment epochs-short" in text
    assert "== the paper target (1 studies) ==" in text
    # Each point's own jobs, without the study's and the point's prefixes.
    short = text.split("== grid point short ==")[1].split("==")[0]
    assert [line.split() for line in short.splitlines() if line.startswith("train ")] == [["train", "2", "0", "2"]]
