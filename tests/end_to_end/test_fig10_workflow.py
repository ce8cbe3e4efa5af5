"""The paper's Fig. 10 through the real workflow: a tiny grid (grid.compare: fig10) of three
points auditing one target population on part a of the pool, with shadows on part a
(overlapping), on part b (disjoint) and on part b with shifted images. Each point's own
evaluation runs on the part its shadows train on; the audit scores part a only, offline attacks
only where the shadows never train on it; then the Fig. 10 table, figure and finding."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config

from lira.core import splits
from lira.reports.findings import VERDICTS
from lira.workflow import catalog

pytestmark = pytest.mark.workflow

POOL = 120


@pytest.fixture(scope="module")
def fig10_grid(tmp_path_factory, fashion_mnist_dir):
    workdir = tmp_path_factory.mktemp("fig10")
    config = tiny_config(fashion_mnist_dir, shadow_models=4, **{"attack.targets": 4})
    config["data"]["pool_size"] = POOL
    config["target"] = {"name": "fig10", "population": {"models": 2, "seed": 1, "part": "a"}}
    config["grid"] = {
        "attack": "lira_offline",
        "compare": "fig10",
        "points": [
            {"name": "overlapping", "set": {"split": {"part": "a"}}},
            {"name": "disjoint", "set": {"split": {"part": "b"}}},
            {"name": "shift", "set": {"split": {"part": "b", "shift": {"contrast": 0.5, "blur": 1.0}}}},
        ],
    }
    write_config(workdir / "config.yaml", config)
    planned = snakemake(workdir, "-n")
    snakemake(workdir)
    return workdir, planned


def test_the_grid_builds_fig10_and_trains_the_target_population_once(fig10_grid):
    workdir, planned = fig10_grid
    jobs = planned_jobs(planned)
    assert jobs["fig10"] == 1
    assert sum(count for rule, count in jobs.items() if rule.endswith("_train")) == 3 * 1 + 1  # a block each, one population
    assert jobs["overlapping_audit_attack"] == len(catalog.AUDIT)
    assert jobs["disjoint_audit_attack"] == jobs["shift_audit_attack"] == len(catalog.audit_attacks(False)) == 4
    folder = workdir / "results/tiny/paper/fig10"
    table = pd.read_csv(folder / "fig10.csv")
    assert list(table["case"]) == ["overlapping", "disjoint", "shift"]
    assert (table["members"] + table["non-members"] == 2 * POOL // 2).all()  # 2 targets x part a
    finding = json.loads((folder / "finding.json").read_text())
    assert finding["figure"] == "Fig. 10" and finding["verdict"] in VERDICTS
    assert (folder / "finding.md").exists() and (folder / "roc.png").stat().st_size > 0
    assert planned_jobs(snakemake(workdir, "-n")) == {}  # nothing left to run


def test_each_point_evaluates_the_part_its_shadows_train_on(fig10_grid):
    workdir, _ = fig10_grid
    part_a = splits.part_mask({"part": "a", "partition_seed": 0}, POOL)
    for point, part in (("overlapping", part_a), ("disjoint", ~part_a)):
        attack = np.load(workdir / f"results/tiny-{point}/attacks/lira_online.npz")
        keep = np.load(workdir / f"results/tiny-{point}/shadows/keep.npy")
        np.testing.assert_array_equal(attack["candidates"], np.flatnonzero(part))
        np.testing.assert_array_equal(attack["is_member"], keep[:4][:, part])
        assert attack["scores"].shape == (4, part.sum()) and np.isfinite(attack["scores"]).all()


def test_the_audit_scores_the_targets_part_only(fig10_grid):
    workdir, _ = fig10_grid
    part_a = np.flatnonzero(splits.part_mask({"part": "a", "partition_seed": 0}, POOL))
    members = splits.keep_matrix(1, 2, POOL, {"part": "a", "partition_seed": 0})
    scores = {}
    for point in ("overlapping", "disjoint", "shift"):
        audit = workdir / f"results/tiny-{point}/audits/fig10"
        attack = np.load(audit / "attacks/lira_offline.npz")
        np.testing.assert_array_equal(attack["candidates"], part_a)
        np.testing.assert_array_equal(attack["is_member"], members[:, part_a])
        scores[point] = attack["scores"]
        assert not (audit / "attacks/lira_online.npz").exists() or point == "overlapping"
        assert (audit / "report.md").exists()
    assert not np.array_equal(scores["disjoint"], scores["shift"])  # the shift changed the shadows
