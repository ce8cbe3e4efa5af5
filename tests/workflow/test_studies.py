"""The `paper` target's studies (lira.workflow.studies): each a config file given after
config.yaml, checked as if run alone, its problems named with the file."""

from pathlib import Path

import pytest
import yaml
from conftest import tiny_config

from lira.workflow import config as lira_config
from lira.workflow import studies

SCHEMA = lira_config.load_schema()


@pytest.fixture
def workdir(tmp_path, monkeypatch, fashion_mnist_dir):
    """A working directory with a tiny config.yaml, as Snakemake would run in it."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config(fashion_mnist_dir)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, content: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content))
    return str(path.relative_to(Path.cwd()))


def test_a_study_is_config_yaml_updated_by_its_file(workdir):
    path = write(workdir / "studies" / "wide-cnn.yaml", {"experiment": "wide", "model": {"arch": "cnn", "width": 8}})
    (study,) = studies.load([path], workdir, SCHEMA, top_experiment="tiny")
    assert study.name == "wide_cnn" and study.rule_prefix == "wide_cnn_"
    assert study.config["model"]["arch"] == "cnn" and study.config["model"]["width"] == 8
    assert study.config["shadow_models"] == 6  # from the working directory's config.yaml
    assert study.config["paper"] == {"studies": []}  # a study has no studies of its own
    assert study.experiments == ["wide"]


def test_a_grid_study_lists_every_point_experiment(workdir):
    grid = {"points": [{"name": "a", "set": {}}, {"name": "b", "set": {"train": {"epochs": 2}}}]}
    path = write(workdir / "g.yaml", {"experiment": "g", "grid": grid})
    (study,) = studies.load([path], workdir, SCHEMA)
    assert study.experiments == ["g-a", "g-b", "g"]


def test_the_workflow_folder_is_searched_after_the_working_directory(workdir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("repo")
    write_at = elsewhere / "config" / "paper" / "x.yaml"
    write_at.parent.mkdir(parents=True)
    write_at.write_text(yaml.safe_dump({"experiment": "x"}))
    (study,) = studies.load(["config/paper/x.yaml"], elsewhere, SCHEMA)
    assert study.config["experiment"] == "x"


@pytest.mark.parametrize(
    "files, paths, expected",
    [
        ({}, ["missing.yaml"], "paper.studies: missing.yaml: no such file"),
        ({"a.yaml": {"experiment": "tiny"}}, ["a.yaml"], "paper.studies: a.yaml: writes results/tiny/"),
        ({"a.yaml": {"experiment": "e", "shadow_models": 0}}, ["a.yaml"], "paper.studies: a.yaml: shadow_models=0"),
        (
            {"a.yaml": {"experiment": "e"}, "b/a.yaml": {"experiment": "f"}},
            ["a.yaml", "b/a.yaml"],
            "paper.studies: b/a.yaml: same name 'a' as a.yaml",
        ),
        (
            {"a.yaml": {"experiment": "e"}, "b.yaml": {"experiment": "e"}},
            ["a.yaml", "b.yaml"],
            "paper.studies: b.yaml: writes results/e/",
        ),
        (
            {"g.yaml": {"experiment": "g", "grid": {"points": [{"name": "1x", "set": {}}]}}},
            ["g.yaml"],
            "paper.studies: g.yaml: grid.points[0].name='1x'",
        ),
    ],
)
def test_a_bad_study_is_refused_in_one_line_naming_the_file(workdir, files, paths, expected):
    for name, content in files.items():
        write(workdir / name, content)
    with pytest.raises(studies.StudyError) as error:
        studies.load(paths, workdir, SCHEMA, top_experiment="tiny")
    assert any(line.startswith(expected) for line in error.value.problems), error.value.problems


def test_a_study_run_alone_is_not_its_own_study(workdir):
    path = write(workdir / "alone.yaml", {"experiment": "alone"})
    assert studies.load([path], workdir, SCHEMA, top_experiment="alone", exclude=[workdir / "alone.yaml"]) == []


@pytest.mark.parametrize(
    "targets, expected",
    [
        (None, ["wide", "g"]),  # a cluster job: any study's rule may be asked for
        (["paper"], ["wide", "g"]),
        ([], []),  # the default target, `all`: no study
        (["results/tiny/metrics.md"], []),
        (["wide_train"], ["wide"]),
        (["results/g-b/tables/table1.md"], ["g"]),  # a grid point's file
        (["./results/wide/metrics.md", "g_grid"], ["wide", "g"]),
        (["results/g-bb/x"], []),  # another experiment whose name starts with a point's
    ],
)
def test_only_the_studies_a_run_asks_for_are_imported(workdir, targets, expected):
    wide = write(workdir / "wide.yaml", {"experiment": "wide"})
    grid = {"points": [{"name": "a", "set": {}}, {"name": "b", "set": {}}]}
    g = write(workdir / "g.yaml", {"experiment": "g", "grid": grid})
    found = studies.load([wide, g], workdir, SCHEMA, top_experiment="tiny")
    assert [study.name for study in studies.needed(found, targets)] == expected
