"""The studies of the `paper` target (config paper.studies, docs/paper-experiments.md): config
files, each given after the working directory's config.yaml as a --configfile would be, each a
whole experiment or a grid of them. Pure Python: rules/paper.smk imports it at parse time and
imports each study's config as a module of the workflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lira.workflow import config as lira_config
from lira.workflow import grids


class StudyError(ValueError):
    """A study's file is missing or its config is invalid: one line per problem, naming the file."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Study:
    name: str  # from the file's name: its rules are <name>_<rule>
    path: str  # the config file, as given
    config: dict  # config.yaml updated by the file, defaults filled in, checked
    experiments: list[str]  # the experiments it writes (a grid: one per point)

    @property
    def module(self) -> str:
        return f"study_{self.name}"

    @property
    def rule_prefix(self) -> str:
        return f"{self.name}_"


def study_name(path: str) -> str:
    """config/paper/dp-grid.yaml -> dp_grid: what its rules are prefixed with."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem)
    return name if name[:1].isalpha() else f"s_{name}"


def resolve(path: str, basedir: Path) -> Path | None:
    """A study file relative to the working directory, else to the workflow's folder (where the
    studies it ships live); None if neither has it."""
    for candidate in (Path(path), Path(basedir) / path):
        if candidate.is_file():
            return candidate
    return None


def load(
    paths: list[str], basedir: Path, schema: dict, top_experiment: str | None = None, exclude=()
) -> list[Study]:
    """The studies at `paths`, each checked as the workflow would check it when run alone. A study
    among `exclude` (the config files of the run: a study run alone) is left out."""
    problems, found = [], []
    names, experiments = {}, {top_experiment} if top_experiment else set()
    excluded = {Path(path).resolve() for path in exclude}
    for path in paths:
        where = f"paper.studies: {path}"
        file = resolve(path, basedir)
        if file is None:
            problems.append(f"{where}: no such file (relative to the working directory or the workflow)")
            continue
        if file.resolve() in excluded:
            continue
        name = study_name(path)
        if name in names:
            problems.append(f"{where}: same name {name!r} as {names[name]}; its rules would be {name}_<rule> too")
            continue
        names[name] = path
        try:
            study_config = lira_config.load_config(Path.cwd(), [file])
        except Exception as error:  # unreadable YAML: name the file, one line
            problems.append(f"{where}: cannot be read as YAML ({str(error).splitlines()[0]})")
            continue
        # A study runs alone: it has no studies of its own.
        study_config["paper"] = {"studies": []}
        try:
            if "grid" in study_config:
                written = [point.config["experiment"] for point in grids.points(study_config, schema)]
                written.append(study_config["experiment"])
            else:
                lira_config.check(study_config, schema, local_execution=False)
                written = [study_config["experiment"]]
        except (grids.GridError, lira_config.ConfigError) as error:
            problems += [f"{where}: {line}" for line in error.problems]
            continue
        clashes = sorted(set(written) & experiments)
        if clashes:
            problems.append(f"{where}: writes results/{clashes[0]}/, which another study or this experiment writes too")
            continue
        experiments.update(written)
        found.append(Study(name, path, study_config, written))
    if problems:
        raise StudyError(problems)
    return found


def needed(found: list[Study], targets: list[str] | None) -> list[Study]:
    """The studies a run with these command-line targets may need: all of them for `paper` or
    unknown targets (None: a cluster job runs a study's rule by name); otherwise those whose rule
    (<study>_<rule>) or file (results/<one of its experiments>/...) is asked for."""
    if targets is None or "paper" in targets:
        return list(found)

    def wants(study: Study, target: str) -> bool:
        target = target.removeprefix("./")
        return target.startswith(study.rule_prefix) or any(target.startswith(f"results/{e}/") for e in study.experiments)

    return [study for study in found if any(wants(study, target) for target in targets)]
