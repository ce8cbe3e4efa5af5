"""The paper's Fig. 13 through the real workflow: a tiny population trained on a pool with
canaries, and the fig13 outputs (per-example privacy scores, the table by group, the histogram,
the finding); and the plan of config/paper/canaries.yaml."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, snakemake, tiny_config, write_config

from lira.reports.findings import VERDICTS

pytestmark = pytest.mark.workflow


def test_a_population_with_canaries_gives_the_fig13_outputs(tmp_path, fashion_mnist_dir):
    canaries = {"mislabeled": 8, "ood": 8, "noise": 8}
    config = tiny_config(
        fashion_mnist_dir,
        shadow_models=4,
        **{"data.canaries": canaries, "train.epochs": 2, "attack.targets": 4, "evaluate.bootstrap": 20},
    )
    write_config(tmp_path / "config.yaml", config)
    snakemake(tmp_path)  # rule all asks for fig13 when the config has canaries
    results = tmp_path / "results" / "tiny"
    pool = np.load(results / "pool.npz")
    assert len(pool["y"]) == 240 + 24 and np.bincount(pool["group"]).tolist() == [240, 8, 8, 8]
    assert np.load(results / "shadows" / "keep.npy").shape == (4, 264)

    fig13 = results / "paper" / "fig13"
    scores = pd.read_csv(fig13 / "privacy_scores.csv")
    assert len(scores) == 264 and scores["group"].value_counts().to_dict() == {"ordinary": 240, **canaries}
    direct = (scores["mean_in"] - scores["mean_out"]).abs() / (scores["sd_in"] + scores["sd_out"])
    assert np.allclose(scores["privacy_score"], direct, rtol=1e-3, atol=1e-4)  # CSV: 6 digits
    table = pd.read_csv(fig13 / "groups.csv")
    assert table["group"].tolist() == ["ordinary", "mislabeled", "ood", "noise"]
    assert table["examples"].tolist() == [240, 8, 8, 8]
    for group, rows in scores.groupby("group"):
        assert np.isclose(table.set_index("group").loc[group, "median_d"], rows["privacy_score"].median(), rtol=1e-4)
    finding = json.loads((fig13 / "finding.json").read_text())
    assert finding["figure"] == "Fig. 13" and finding["verdict"] in VERDICTS
    assert (fig13 / "finding.md").exists() and (fig13 / "groups.md").exists()
    assert (fig13 / "privacy_score.png").stat().st_size > 0 and (fig13 / "privacy_score.pdf").stat().st_size > 0


def test_the_canary_config_plans_its_population_and_fig13(tmp_path):
    """config/paper/canaries.yaml over config.yaml, dry: one pool, the blocks of 32 models, and fig13 in `all`."""
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")  # the workflow reads it from its directory
    process = subprocess.run(
        [sys.executable, "-m", "lira.tools.plan", "--directory", str(tmp_path), "--configfile",
         str(REPO / "config" / "paper" / "canaries.yaml"), "--no-calibrate"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    rows = {line.split()[0]: line.split()[1:] for line in process.stdout.splitlines() if line.strip()}
    assert rows["pool"][:3] == ["1", "0", "1"] and rows["fig13"][:3] == ["1", "0", "1"]
    assert rows["train"][:3] == ["4", "0", "4"]
    assert "on 1400 fashion_mnist images each" in process.stdout  # (2,500 + 300) / 2: canaries counted
