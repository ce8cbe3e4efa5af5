"""Grids of experiments (lira.workflow.grids): each point is the base config updated by its `set`,
checked as any config, and every problem is one line naming the point."""

import copy
from pathlib import Path

import pytest
from conftest import tiny_config

from lira.workflow import grids

DP = {"noise_multiplier": 0.8, "max_grad_norm": 1.0, "delta": 1e-5}


def grid_config(points, **grid):
    config = tiny_config(Path("/tmp"))
    config["grid"] = {"points": points, **grid}
    return config


def test_each_point_is_the_base_updated_by_its_settings():
    config = grid_config(
        [
            {"name": "plain", "set": {}},
            {"name": "noisy", "panel": "σ = 0.8", "label": "C = 1", "paper": {"test_accuracy": 61.3},
             "set": {"train": {"dp": DP, "epochs": 5}}},
        ]
    )  # fmt: skip
    plain, noisy = grids.points(copy.deepcopy(config))
    assert plain.config["experiment"] == "tiny-plain" and noisy.config["experiment"] == "tiny-noisy"
    assert "dp" not in plain.config["train"] and plain.config["train"]["epochs"] == 3
    assert noisy.config["train"]["dp"] == DP and noisy.config["train"]["epochs"] == 5
    assert noisy.config["train"]["lr"] == config["train"]["lr"]  # merged key by key
    assert noisy.folder == "results/tiny-noisy" and noisy.rule_prefix == "noisy_"
    assert noisy.models == ["results/tiny-noisy/models/0-3.json", "results/tiny-noisy/models/4-5.json"]
    description = noisy.describe()
    assert description["set"] == {f"train.dp.{key}": value for key, value in DP.items()} | {"train.epochs": 5}
    assert description["panel"] == "σ = 0.8" and description["label"] == "C = 1" and description["paper"] == {"test_accuracy": 61.3}
    assert plain.describe()["label"] == "plain"
    assert grids.attack(config) == "lira_online"
    assert grids.finding_file(config) is None


def test_a_grid_finding_is_written_under_the_grids_paper_folder():
    config = grid_config([{"name": "a", "set": {}}], finding="dp_sgd")
    assert grids.finding_file(config) == f"results/{config['experiment']}/paper/fig14/finding.json"


@pytest.mark.parametrize(
    "points, extra, expected",
    [
        ([], {}, "grid: expected a mapping with `points`"),
        ([{"name": "1st", "set": {}}], {}, "grid.points[0].name='1st': a point's name is letters"),
        ([{"name": "a", "set": {}}, {"name": "a", "set": {}}], {}, "grid point a: the name is given twice"),
        ([{"name": "a", "set": {}, "colour": "red"}], {}, "grid point a: unknown key 'colour'"),
        ([{"name": "a", "set": {"experiment": "x"}}], {}, "grid point a.set: expected a mapping of the settings"),
        ([{"name": "a", "set": {"train": {"dp": {**DP, "noise_multiplier": -1}}}}], {},
         "grid point a: train.dp.noise_multiplier=-1: must be >= 0"),
        ([{"name": "a", "set": {"train": {"dp": {**DP, "delta": 1.0}}}}], {}, "grid point a: train.dp.delta=1.0: must be < 1"),
        ([{"name": "a", "set": {}, "paper": {"x": "high"}}], {}, "grid point a.paper: expected a mapping of names to numbers"),
        ([{"name": "a", "set": {}}], {"attack": "ye"}, "grid.attack='ye': must be one of lira_online"),
        ([{"name": "a", "set": {}}], {"colour": 1}, "grid.colour: unknown key"),
        ([{"name": "a", "set": {}}], {"finding": "fig99"}, "grid.finding='fig99': must be one of dp_sgd"),
    ],
)  # fmt: skip
def test_a_bad_grid_is_refused_with_one_line_per_problem_naming_the_point(points, extra, expected):
    with pytest.raises(grids.GridError) as error:
        grids.points(grid_config(points, **extra))
    assert any(line.startswith(expected) for line in error.value.problems), error.value.problems
    assert all("\n" not in line for line in error.value.problems)


def test_dp_with_bfloat16_or_batchnorm_is_refused_at_the_point():
    points = [{"name": "a", "set": {"train": {"dp": DP, "precision": "bfloat16"}}}]
    with pytest.raises(grids.GridError, match="grid point a: train.precision=bfloat16: DP-SGD trains in float32"):
        grids.points(grid_config(points))


# --- cross grids (grid.cross): one pool, one shadow count, one query set -------------------------


def cross_config(*points):
    return grid_config(list(points), cross=True)


def test_a_cross_grid_pairs_points_within_their_panels():
    config = cross_config(
        {"name": "a", "panel": "p", "set": {}},
        {"name": "b", "panel": "p", "set": {"train": {"optimizer": "adam", "lr": 0.002}}},
        {"name": "c", "panel": "q", "set": {"model": {"arch": "cnn", "width": 4}}},
    )
    found = grids.points(config)
    assert grids.cross(config) and not grids.cross(grid_config([{"name": "a", "set": {}}]))
    assert grids.cross_pairs(found) == [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b"), ("c", "c")]
    assert found[1].config["train"]["optimizer"] == "adam" and "optimizer" not in found[0].config["train"]
    assert found[0].describe()["targets"] == config["attack"]["targets"]


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"data": {"pool_size": 80}}, "grid point b: data={"),
        ({"seed": 1}, "grid point b: seed=1 differs from point a's (0)"),
        ({"shadow_models": 4, "attack": {"targets": 4}}, "grid point b: shadow_models=4 differs from point a's (6)"),
        ({"queries": {"shift": 0}}, "grid point b: queries={"),
    ],
)
def test_a_cross_grid_refuses_points_of_another_pool_or_queries_with_one_line(changes, expected):
    with pytest.raises(grids.GridError) as error:
        grids.points(cross_config({"name": "a", "set": {}}, {"name": "b", "set": changes}))
    assert len(error.value.problems) == 1 and error.value.problems[0].startswith(expected), error.value.problems
    assert "grid.cross" in error.value.problems[0] and "\n" not in error.value.problems[0]
    grids.points(grid_config([{"name": "a", "set": {}}, {"name": "b", "set": changes}]))  # fine without cross


def test_grid_cross_must_be_a_boolean():
    with pytest.raises(grids.GridError, match="grid.cross='yes': must be true or false"):
        grids.points(cross_config({"name": "a", "set": {}}) | {"grid": {"points": [{"name": "a", "set": {}}], "cross": "yes"}})


def test_the_procedures_grid_parses():
    import yaml

    repo = Path(__file__).parents[2]
    # As Snakemake reads it: config.yaml (the Snakefile's configfile), updated key by key by --configfile.
    config = grids._merge(yaml.safe_load((repo / "config.yaml").read_text()),
                          yaml.safe_load((repo / "config/paper/procedures.yaml").read_text()))  # fmt: skip
    found = grids.points(config)
    assert grids.cross(config) and grids.attack(config) == "lira_online_global_variance"
    assert {point.panel for point in found} == {"architecture", "optimizer", "augmentation"}
    assert len(grids.cross_pairs(found)) == 4 * 4 + 3 * 3 + 3 * 3
