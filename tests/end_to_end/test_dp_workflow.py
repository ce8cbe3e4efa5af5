"""DP-SGD populations through the real workflow: a tiny grid of two DP recipes (lira.workflow.grids),
each point a whole experiment, then the grid's table and figure. The sanity check that must hold:
no attack proves more epsilon than the recipe guarantees; without noise the bound is clearly
positive (the models memorise). `lira.tools.plan` plans the grid before it runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SNAKEMAKE, planned_jobs, snakemake, tiny_config, write_config

from lira.tools import plan
from lira.workflow import catalog

pytestmark = pytest.mark.workflow

NOISY = {"noise_multiplier": 1.0, "max_grad_norm": 1.0, "delta": 1e-5}
# No noise and a clipping norm no gradient reaches: the models memorise their halves.
CLIPPED = {"noise_multiplier": 0.0, "max_grad_norm": 1000.0, "delta": 1e-5}


@pytest.fixture(scope="module")
def dp_grid(tmp_path_factory, fashion_mnist_dir):
    workdir = tmp_path_factory.mktemp("dp")
    config = tiny_config(fashion_mnist_dir, shadow_models=8, models_per_job=4, **{"attack.targets": 8})
    config["data"]["pool_size"] = 120
    config["train"].update(epochs=30, batch_size=30, lr=0.1, augment={"mirror": False, "shift": 0, "padding": "reflect"})
    config["model"] = {"arch": "mlp", "width": 128}
    config["grid"] = {
        "caption": "tiny DP grid",
        "points": [
            {"name": "clipped", "panel": "σ = 0", "label": "C = 1000", "set": {"train": {"dp": CLIPPED}}},
            {"name": "noisy", "panel": "σ = 1", "label": "C = 1", "set": {"train": {"dp": NOISY}}},
        ],
    }
    write_config(workdir / "config.yaml", config)
    planned = snakemake(workdir, "-n")
    snakemake(workdir)
    return workdir, planned


def metrics(workdir: Path, point: str, attack: str = "lira_online") -> dict:
    return json.loads((workdir / f"results/tiny-{point}/metrics/{attack}.json").read_text())


def guarantee(workdir: Path, point: str) -> dict:
    records = [json.loads(path.read_text()) for path in sorted((workdir / f"results/tiny-{point}/models").glob("*.json"))]
    privacies = [model["privacy"] for record in records for model in record["models"]]
    assert len(privacies) == 8 and all(p == privacies[0] for p in privacies)  # one recipe, one guarantee
    return privacies[0]


def test_each_point_trains_its_own_dp_population(dp_grid):
    workdir, planned = dp_grid
    jobs = planned_jobs(planned)
    assert jobs["clipped_train"] == jobs["noisy_train"] == 2 and jobs["grid"] == 1
    noisy = guarantee(workdir, "noisy")
    assert noisy["noise_multiplier"] == 1.0 and noisy["sample_rate"] == 30 / 60 and noisy["steps"] == 30 * 2
    assert 10 < noisy["epsilon"] < 1000 and noisy["accountant"] == "Opacus RDP"
    assert guarantee(workdir, "clipped")["epsilon"] is None  # no noise: no guarantee
    assert planned_jobs(snakemake(workdir, "-n")) == {}  # nothing left to run


def test_no_attack_proves_more_than_the_recipe_guarantees_and_memorisation_proves_something(dp_grid):
    workdir, _ = dp_grid
    guaranteed = guarantee(workdir, "noisy")["epsilon"]
    for attack in catalog.TABLE_1:
        bound = metrics(workdir, "noisy", attack)["epsilon_lower_bound"]
        assert bound["delta"] == 1e-5
        assert bound["epsilon"] <= guaranteed, (attack, bound, guaranteed)
    memorised = metrics(workdir, "clipped")["epsilon_lower_bound"]
    assert memorised["epsilon"] > 0.5, memorised
    assert memorised["tp"] > memorised["fp"]


def test_the_grid_table_and_the_experiments_tables_report_both_epsilons(dp_grid):
    workdir, _ = dp_grid
    table = pd.read_csv(workdir / "results/tiny/grid.csv", dtype=str, keep_default_na=False)
    assert table["point"].tolist() == ["clipped", "noisy"]
    assert table["ε guaranteed"].tolist() == ["∞ (no noise)", f"{guarantee(workdir, 'noisy')['epsilon']:.3g}"]
    proved = [f"{metrics(workdir, point)['epsilon_lower_bound']['epsilon']:.2f}" for point in ("clipped", "noisy")]
    assert table["ε proved"].tolist() == proved
    assert (workdir / "results/tiny/grid_roc.png").stat().st_size > 0
    note = (workdir / "results/tiny-noisy/metrics.md").read_text().splitlines()[0]
    assert "DP-SGD with σ = 1 and C = 1, guarantees ε = " in note and "ε proved" in note


def test_plan_estimates_every_point_of_the_grid(dp_grid, capsys):
    workdir, _ = dp_grid
    plan.main(["--directory", str(workdir), "--snakefile", str(REPO / "Snakefile"), "--snakemake", str(SNAKEMAKE),
               "--no-calibrate"])  # fmt: skip
    text = capsys.readouterr().out
    assert "== grid point clipped ==" in text and "== grid point noisy ==" in text
    assert "== the whole grid (2 points) ==" in text and "0.00 device-hours left" in text
