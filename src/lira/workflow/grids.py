"""A grid of experiments (config `grid`, docs/grids.md): the points of a grid and each one's
config. Pure Python: rules/grid.smk imports it at parse time.

    grid:
      caption: "..."                      # what the grid shows (its table's caption)
      attack: lira_online                 # the attack the table and figure report (default)
      cross: false                        # true: also attack each point's models with every other
                                          # point's as shadows (cross_pairs; Fig. 11 of the paper)
      points:
        - name: s0_c10                     # letters, digits, '_': its rules are s0_c10_<rule>
          panel: "σ = 0"                   # optional: the figure's panel of this point
          label: "C = 10"                  # optional: its curve's label (default: its name)
          paper: {test_accuracy: 84.0}     # optional: the paper's numbers for this point
          set: {train: {dp: {...}}}        # the settings this point changes, merged into the base

Each point is the base config (every key but `grid`) updated by its `set`, key by key as
Snakemake merges config files, as experiment <experiment>-<name> in results/<experiment>-<name>/.
Each point's config is checked as any config is (lira.workflow.config.check), its problems named
with the point.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from lira.core.splits import model_blocks
from lira.workflow import catalog
from lira.workflow import config as lira_config

# The attack a grid reports unless grid.attack names another (one of catalog.AUDIT, which every
# experiment runs).
DEFAULT_ATTACK = "lira_online"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
POINT_KEYS = {"name", "panel", "label", "paper", "set"}
GRID_KEYS = {"caption", "attack", "compare", "cross", "finding", "points"}
# What a cross grid's points must share (grid.cross): the pool (its data settings and the seed
# that draws it and every model's split), the shadow count (the same complementary pairs), and
# the queries, so that one point's models' statistics are comparable with another's.
SHARED = {
    "data": lambda config: {key: value for key, value in config["data"].items() if key not in ("directory", "download")},
    "seed": lambda config: config["seed"],
    "shadow_models": lambda config: config["shadow_models"],
    "queries": lambda config: config["queries"],
}
# Enough for the paper's grids (Table IV: 9 points) several times over; each point is a whole experiment.
MAX_POINTS = 64
# The paper's findings a grid can check on its points (grid.finding, lira.reports.grid_findings),
# and the folder under results/<experiment>/paper/ of each.
FINDINGS = {"dp_sgd": "fig14"}


class GridError(ValueError):
    """The grid section, or a point's config, is invalid: one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Point:
    name: str
    config: dict  # the point's whole config, checked, defaults filled in
    panel: str
    label: str
    paper: dict
    changes: dict  # the point's `set`, as given

    @property
    def module(self) -> str:
        return f"point_{self.name}"

    @property
    def rule_prefix(self) -> str:
        return f"{self.name}_"

    @property
    def folder(self) -> str:
        return f"results/{self.config['experiment']}"

    @property
    def models(self) -> list[str]:
        """The point's models/<block>.json files."""
        blocks = model_blocks(self.config["shadow_models"], self.config["models_per_job"])
        return [f"{self.folder}/models/{block}.json" for block in blocks]

    @property
    def logits_infos(self) -> list[str]:
        """The point's logits/<block>.json sidecars (each model's accuracy on members and non-members)."""
        blocks = model_blocks(self.config["shadow_models"], self.config["models_per_job"])
        return [f"{self.folder}/logits/{block}.json" for block in blocks]

    def describe(self) -> dict:
        """What the grid's report needs of the point (JSON)."""
        return {
            "name": self.name,
            "panel": self.panel,
            "label": self.label,
            "paper": self.paper,
            "set": flatten(self.changes),
            "experiment": self.config["experiment"],
            "seed": self.config["seed"],
            "targets": self.config["attack"]["targets"],
        }



def flatten(value: dict, prefix: str = "") -> dict:
    """{"train": {"dp": {"delta": 1e-5}}} -> {"train.dp.delta": 1e-5}."""
    flat = {}
    for key, item in value.items():
        if isinstance(item, dict) and item:
            flat.update(flatten(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def _merge(base: dict, changes: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def points(config: dict, schema: dict | None = None) -> list[Point]:
    """The grid's points, each with its checked config; GridError lists every problem."""
    grid = config.get("grid")
    if not isinstance(grid, dict) or not isinstance(grid.get("points"), list) or not grid["points"]:
        raise GridError(["grid: expected a mapping with `points`, a list of at least one point (docs/grids.md)"])
    unknown = sorted(set(grid) - GRID_KEYS)
    problems = [f"grid.{key}: unknown key; a grid has {', '.join(sorted(GRID_KEYS))}" for key in unknown]
    if not isinstance(grid.get("cross", False), bool):
        problems.append(f"grid.cross={grid.get('cross')!r}: must be true or false")
    if "finding" in grid and grid["finding"] not in FINDINGS:
        problems.append(f"grid.finding={grid['finding']!r}: must be one of {', '.join(FINDINGS)}")
    if grid.get("compare", "fig10") not in COMPARISONS:
        problems.append(f"grid.compare={grid.get('compare')!r}: must be one of {', '.join(COMPARISONS)}")
    if grid.get("attack", DEFAULT_ATTACK) not in catalog.AUDIT:
        problems.append(f"grid.attack={grid.get('attack')!r}: must be one of {', '.join(catalog.AUDIT)}")
    entries = grid["points"]
    if len(entries) > MAX_POINTS:
        problems.append(f"grid.points: {len(entries)} points, at most {MAX_POINTS} (each is a whole experiment)")
    base = {key: value for key, value in config.items() if key != "grid"}
    found, seen = [], set()
    for index, entry in enumerate(entries):
        where = f"grid.points[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with name and set")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{where}.name={name!r}: a point's name is letters, digits and '_', starting with a letter")
            continue
        where = f"grid point {name}"
        if name in seen:
            problems.append(f"{where}: the name is given twice; each point needs its own")
        seen.add(name)
        problems += [f"{where}: unknown key {key!r}; a point has {', '.join(sorted(POINT_KEYS))}" for key in sorted(set(entry) - POINT_KEYS)]
        changes = entry.get("set", {})
        if not isinstance(changes, dict) or "experiment" in changes:
            problems.append(f"{where}.set: expected a mapping of the settings the point changes (not experiment)")
            continue
        paper = entry.get("paper", {})
        if not isinstance(paper, dict) or not all(isinstance(v, (int, float)) for v in paper.values()):
            problems.append(f"{where}.paper: expected a mapping of names to numbers")
            paper = {}
        point_config = _merge(base, changes)
        point_config["experiment"] = f"{base.get('experiment')}-{name}"
        try:
            lira_config.check(point_config, schema, local_execution=False)
        except lira_config.ConfigError as error:
            problems += [f"{where}: {line}" for line in error.problems]
            continue
        found.append(Point(name, point_config, str(entry.get("panel", "")), str(entry.get("label", name)), paper, changes))
    if not problems and grid.get("cross") is True:
        problems += _cross_problems(found)
    if problems:
        raise GridError(problems)
    return found


def finding_file(config: dict) -> str | None:
    """The finding.json the grid's report writes (grid.finding), or None."""
    name = config["grid"].get("finding")
    return f"results/{config['experiment']}/paper/{FINDINGS[name]}/finding.json" if name else None


def _cross_problems(found: list[Point]) -> list[str]:
    """A cross grid's points must share the pool, shadow count and queries (SHARED): one line per
    point that differs from the first, naming the setting."""
    first, problems = found[0], []
    for point in found[1:]:
        for key, shared in SHARED.items():
            if shared(point.config) != shared(first.config):
                problems.append(
                    f"grid point {point.name}: {key}={shared(point.config)!r} differs from point {first.name}'s "
                    f"({shared(first.config)!r}); grid.cross attacks one point's models with another's, which needs "
                    "the same pool, seed, shadow_models and queries"
                )
    return problems


def cross(config: dict) -> bool:
    """Whether the grid attacks each point's models with every other point's (grid.cross)."""
    return config["grid"].get("cross", False) is True


def cross_pairs(found: list[Point]) -> list[tuple[str, str]]:
    """The (target point, shadow point) pairs of a cross grid, in point order: every ordered pair
    of points in the same panel, the matched ones (target == shadow) included."""
    return [(target.name, shadow.name) for target in found for shadow in found if target.panel == shadow.panel]
# grid.compare: a comparison of the paper's drawn across the grid's points (docs/grids.md).
COMPARISONS = ("fig10",)
# Fig. 10's cases: the points' names, each point's shadows relative to the target's part.
FIG10_CASES = ("overlapping", "disjoint", "shift")


def fig10_cases(found: list[Point]) -> list[Point]:
    """The points of grid.compare: fig10, in FIG10_CASES' order, checked: one target population
    on one part of one pool shared by every point (the same candidates), shadows on the target's
    part or the whole pool (overlapping), on the other part (disjoint), and on the other part
    with split.shift (shift). GridError, one line per problem."""
    by_name = {point.name: point for point in found}
    problems = [f"grid.compare: fig10 needs a point named {name!r}" for name in FIG10_CASES if name not in by_name]
    if problems:
        raise GridError(problems)
    cases = [by_name[name] for name in FIG10_CASES]

    def shared(point):
        c = point.config
        return (c["seed"], c["data"], c.get("target", {}).get("population"), c.get("target", {}).get("model"))

    if any(shared(point) != shared(cases[0]) for point in cases):
        problems.append("grid.compare: fig10's points must share seed, data and target (one population, one pool)")
    target_part = (cases[0].config.get("target", {}).get("population") or {}).get("part")
    if target_part not in ("a", "b"):
        problems.append("grid.compare: fig10 needs target.population.part a or b (the target on one part of the pool)")
    other = {"a": "b", "b": "a"}.get(target_part)
    split = {point.name: point.config.get("split", {}) for point in cases}
    if split["overlapping"].get("part", "all") not in ("all", target_part) or split["overlapping"].get("shift"):
        problems.append(f"grid point overlapping: split.part must be {target_part} or all, without shift")
    if split["disjoint"].get("part") != other or split["disjoint"].get("shift"):
        problems.append(f"grid point disjoint: split.part must be {other} (not the target's part), without shift")
    if split["shift"].get("part") != other or not split["shift"].get("shift"):
        problems.append(f"grid point shift: split.part must be {other}, with split.shift")
    if problems:
        raise GridError(problems)
    return cases


def attack(config: dict) -> str:
    """The attack the grid's table and figure report."""
    return config["grid"].get("attack", DEFAULT_ATTACK)
