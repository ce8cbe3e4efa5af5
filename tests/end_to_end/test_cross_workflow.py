"""A cross grid through the real workflow (grid.cross, lira.workflow.cross_attack): two training recipes
over one tiny pool, each point's models attacked with the other's as shadows, then the paper's
Figs. 11, 22-24, 7 and 16 and their findings. The cross scores are checked against the audit's
external scoring of the same files, and the matched pairs against each point's own attack."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config

from lira.core import attacks, gaussian, metrics, splits
from lira.reports.findings import VERDICTS, read_finding
from lira.workflow import catalog, files

pytestmark = pytest.mark.workflow

ATTACK = "lira_online_global_variance"


@pytest.fixture(scope="module")
def cross_grid(tmp_path_factory, fashion_mnist_dir):
    workdir = tmp_path_factory.mktemp("cross")
    config = tiny_config(fashion_mnist_dir, shadow_models=8, models_per_job=8, **{"attack.targets": 8})
    config["data"].update(pool_size=300, holdout_size=0)  # 8 targets x 150 non-members: 0.1 % FPR is measurable
    config["train"].update(epochs=8, batch_size=50, lr=0.1, augment={"mirror": False, "shift": 0, "padding": "reflect"})
    config["model"] = {"arch": "mlp", "width": 64}
    config["evaluate"].update(shadow_count_repeats=1)
    config["grid"] = {
        "attack": ATTACK,
        "cross": True,
        "points": [
            {"name": "sgd", "panel": "optimizer", "label": "SGD", "set": {}},
            {"name": "adam", "panel": "optimizer", "label": "Adam", "set": {"train": {"optimizer": "adam", "lr": 0.003}}},
        ],
    }
    write_config(workdir / "config.yaml", config)
    planned = snakemake(workdir, "-n")
    snakemake(workdir)
    return workdir, config, planned


def shadows_of(workdir, point):
    folder = workdir / f"results/tiny-{point}/shadows"
    names = json.loads((folder / "info.json").read_text())["statistics"]
    return {name: np.load(folder / f"{name}.npy") for name in names}, np.load(folder / "keep.npy")


def test_the_cross_grid_plans_and_runs_its_reports(cross_grid):
    workdir, _, planned = cross_grid
    jobs = planned_jobs(planned)
    assert jobs["grid_cross"] == jobs["grid_cross_report"] == jobs["grid_gap"] == jobs["grid"] == 1
    assert jobs["sgd_train"] == jobs["adam_train"] == 1
    folder = workdir / "results/tiny"
    for name in ("cross.csv", "cross.md", "cross.png", "cross.pdf", "cross_roc.png", "gap.png", "gap.csv"):
        assert (folder / name).stat().st_size > 0, name
    for figure in ("fig7", "fig11", "fig16"):
        assert read_finding(folder / f"paper/{figure}/finding.json").verdict in VERDICTS
        assert (folder / f"paper/{figure}/finding.md").exists()
    assert planned_jobs(snakemake(workdir, "-n")) == {}  # nothing left to run


def test_cross_scores_are_the_external_scores_against_the_other_points_shadows(cross_grid):
    workdir, config, _ = cross_grid
    cross = files.load_arrays(workdir / "results/tiny/cross.npz")
    labels = np.load(workdir / "results/tiny-sgd/pool.npz")["y"]
    target_stacks, target_keep = shadows_of(workdir, "adam")
    stacks, keep = shadows_of(workdir, "sgd")
    assert np.array_equal(cross["is_member.adam"], target_keep[:8])
    settings = catalog.audit_settings(ATTACK, config)
    expected = []
    for t in range(8):  # the audit's scoring of adam's model t as an external target of sgd's other pairs
        others = [m for m in range(8) if m not in splits.held_out(t, 8)]
        population = {name: values[others] for name, values in stacks.items()}
        fits = {name: gaussian.fit_shadow_sums(values, keep[others]) for name, values in population.items()}
        external = {name: values[t : t + 1] for name, values in target_stacks.items()}
        expected.append(attacks.run(settings, population, keep[others], labels, fits, slice(None), external)[0][0])
    np.testing.assert_allclose(cross["scores.adam.sgd"], np.array(expected), rtol=1e-9, atol=1e-9)
    own = files.load_arrays(workdir / f"results/tiny-sgd/attacks/{ATTACK}.npz")["scores"]
    np.testing.assert_array_equal(cross["scores.sgd.sgd"], own)


def test_the_cross_table_and_the_gap_table_report_what_the_files_hold(cross_grid):
    workdir, _, _ = cross_grid
    table = pd.read_csv(workdir / "results/tiny/cross.csv")
    assert list(zip(table["target point"], table["shadow point"])) == [("sgd", "sgd"), ("sgd", "adam"), ("adam", "sgd"), ("adam", "adam")]
    cross = files.load_arrays(workdir / "results/tiny/cross.npz")
    for row in table.itertuples():
        scores = cross[f"scores.{row[4]}.{row[5]}"]
        direct = metrics.summarise(scores, cross[f"is_member.{row[4]}"], [0.001])
        assert row.tpr == pytest.approx(direct["tpr@0.1%"]) and row.auc == pytest.approx(direct["auc"])
    matched = table[table["matched"]].set_index("target point")
    for point in ("sgd", "adam"):
        own = json.loads((workdir / f"results/tiny-{point}/metrics/{ATTACK}.json").read_text())["pooled"]
        assert matched.loc[point, "tpr"] == pytest.approx(own["tpr@0.1%"])
    gap = pd.read_csv(workdir / "results/tiny/gap.csv").set_index("point")
    for point in ("sgd", "adam"):
        info = json.loads((workdir / f"results/tiny-{point}/logits/0-7.json").read_text())
        assert gap.loc[point, "train_accuracy"] == pytest.approx(np.mean(info["train_accuracy"]))
        assert gap.loc[point, "test_accuracy"] == pytest.approx(np.mean(info["nonmember_accuracy"]))
        assert gap.loc[point, "test_accuracy_on"] == "pool non-members"
    assert "**" in (workdir / "results/tiny/cross.md").read_text()  # the matched guess in bold
