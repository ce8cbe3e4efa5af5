"""The white-box rules (rules/whitebox.smk) on the tiny config: planned as expected, leaving the
default run's outputs alone, and run for real to the paper's Fig. 15 and Table I baselines."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import planned_jobs, snakemake

from lira.reports.findings import VERDICTS, read_finding

pytestmark = pytest.mark.workflow


def test_whitebox_rules_plan_and_run_on_the_tiny_config(tiny_run, tmp_path):
    source, config = tiny_run
    workdir = tmp_path / "copy"
    shutil.copytree(source, workdir, copy_function=shutil.copy2, symlinks=True)  # mtimes kept
    results = workdir / "results" / config["experiment"]
    assert planned_jobs(snakemake(workdir, "--dry-run")) == {}  # the default run is untouched
    paper = [f"results/{config['experiment']}/paper/{name}/finding.json" for name in ("fig15", "baselines")]
    plan = planned_jobs(snakemake(workdir, "--dry-run", *paper))
    # Blocks 0-3 and 4-5; only 0-3 holds targets (0..3); the noise is chosen on model 5.
    assert plan == {
        "gradient_norms": 2,
        "merlin_noise": 1,
        "merlin": 1,
        "paper_fig15": 1,
        "paper_baselines": 1,
    }
    snakemake(workdir, *paper)
    norms = np.load(results / "whitebox" / "gradient_norms" / "4-5.npy")
    assert norms.shape == (2, config["data"]["pool_size"]) and norms.dtype == np.float32 and np.all(norms >= 0)
    merlin = np.load(results / "whitebox" / "merlin" / "0-3.npy")
    assert merlin.shape == (4, config["data"]["pool_size"]) and np.all((merlin >= 0) & (merlin <= 1))
    noise = json.loads((results / "whitebox" / "merlin" / "noise.json").read_text())
    assert noise["chosen_on"]["model"] == 5 and str(noise["noise_scale"]) in noise["candidates"]
    for name in ("fig15", "baselines"):
        finding = read_finding(results / "paper" / name / "finding.json")
        assert finding.verdict in VERDICTS and (results / "paper" / name / "table.md").exists()
    assert (results / "paper" / "fig15" / "roc.png").stat().st_size > 0
    assert "Long et al." in (results / "paper" / "baselines" / "table.md").read_text()
    assert planned_jobs(snakemake(workdir, "--dry-run", *paper)) == {}  # nothing left to do
