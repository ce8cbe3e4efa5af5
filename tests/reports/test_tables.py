"""lira.reports.tables: the metrics frame from the evaluate step's JSON, cells, Tables I-III, Markdown, LaTeX."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from lira.core import metrics
from lira.reports import tables
from lira.workflow import catalog, files

FPRS = [1e-5, 1e-3, 1e-2]
CONFIG = {
    "queries": {"mirror": True, "shift": 4, "stride": 4},
    "attack": {
        "targets": 2,
        "statistic": "logit_scaled_confidence",
        "offline_test": "one-sided",
        "centre": "mean",
        "rmia": {"population_size": 10, "gamma": 1.0, "offline_a": 0.3},
    },
    "seed": 0,
}
LABELS = {name: attack.label for name, attack in catalog.attacks(CONFIG).items()}


def evaluate_result(name, separation, seed=0, min_fpr=0.0, n=1500):
    """What scripts/evaluate.py writes for one attack, through the JSON round trip (NaN -> null)."""
    rng = np.random.default_rng(seed)
    is_member = rng.random((2, n)) < 0.5
    scores = rng.normal(size=(2, n)) + separation * is_member
    row = metrics.summarise(scores, is_member, FPRS)
    for fpr in FPRS:
        if fpr < min_fpr:
            row[f"tpr@{metrics.fpr_label(fpr)}"] = row[f"fpr_achieved@{metrics.fpr_label(fpr)}"] = None
    grid = np.logspace(np.log10(1.0 / row["non_members"]), 0, 20)
    intervals, band = metrics.bootstrap(scores, is_member, FPRS, 20, 0, grid)
    result = {
        "attack": name,
        "settings": catalog.settings(name, CONFIG),
        "targets": 2,
        "min_fpr": min_fpr,
        "pooled": row,
        "bootstrap_95": intervals,
        "bootstrap_resamples": 20,
        "per_target": metrics.per_target(scores, is_member, FPRS),
        "roc_band": {"fpr": grid.tolist(), "tpr_low": band[0].tolist(), "tpr_high": band[1].tolist()},
    }
    return json.loads(json.dumps(files.nan_to_none(result)))


def all_results():
    names = catalog.TABLE_1 + [n for names in catalog.TABLE_2.values() for n in names] + list(catalog.table_3(CONFIG).values())
    names = list(dict.fromkeys(names))
    return [
        evaluate_result(name, 1.0 + 0.1 * i, seed=i, min_fpr=1 / 3 if name == "ye" else 0.0)
        for i, name in enumerate(names)
    ]


@pytest.fixture(scope="module")
def frame():
    return tables.metrics_frame(all_results())


def test_metrics_frame_rows_and_columns():
    results = [evaluate_result("lira_online", 2.0), evaluate_result("ye", 1.0, seed=1, min_fpr=1 / 3)]
    frame = tables.metrics_frame(results)
    assert list(frame.index) == ["lira_online", "ye"] and frame.index.name == "attack"
    online = frame.loc["lira_online"]
    pooled = results[0]["pooled"]
    assert online["auc"] == pooled["auc"] and online["tpr@0.1%"] == pooled["tpr@0.1%"]
    assert (online["auc_ci_low"], online["auc_ci_high"]) == tuple(results[0]["bootstrap_95"]["auc"])
    assert online["tpr@1%_ci_low"] <= online["tpr@1%"] <= online["tpr@1%_ci_high"]
    per_target = results[0]["per_target"]["auc"]
    assert online["auc_target_mean"] == pytest.approx(sum(per_target) / 2)
    assert online["auc_target_std"] == pytest.approx(abs(per_target[0] - per_target[1]) / 2)  # ddof 0
    # 1500 x 2 examples, ~1500 non-members: 0.001 % not measurable, null in JSON, NaN or None here.
    assert tables._is_missing(online["tpr@0.001%"])
    assert math.isnan(online["tpr@0.001%_target_mean"])  # every target unmeasurable
    assert online["targets"] == 2 and online["min_fpr"] == 0.0
    assert json.loads(online["settings"]) == catalog.settings("lira_online", CONFIG)
    assert frame.loc["ye", "min_fpr"] == pytest.approx(1 / 3)
    assert tables._is_missing(frame.loc["ye", "tpr@1%"])


def row(**values):
    return pd.Series(values)


def test_tpr_cell():
    measured = row(**{"tpr@0.1%": 0.037, "tpr@0.1%_ci_low": 0.0312, "tpr@0.1%_ci_high": 0.0431, "min_fpr": 0.0})
    assert tables.tpr_cell(measured, 1e-3) == "3.70 [3.12, 4.31]"
    assert tables.tpr_cell(measured, 1e-3, interval=False) == "3.70"
    no_interval = row(**{"tpr@0.1%": 0.5, "tpr@0.1%_ci_low": float("nan"), "tpr@0.1%_ci_high": float("nan"), "min_fpr": 0.0})
    assert tables.tpr_cell(no_interval, 1e-3) == "50.00"
    assert tables.tpr_cell(row(**{"tpr@0.1%": float("nan"), "min_fpr": 0.0}), 1e-3) == tables.NOT_MEASURABLE
    assert tables.tpr_cell(row(**{"tpr@0.1%": None, "min_fpr": 0.0}), 1e-3) == "not measurable"
    # Below the attack's resolution: "-" (even when a number is present).
    below = row(**{"tpr@0.1%": 0.2, "tpr@1%": 0.3, "min_fpr": 1 / 3})
    assert tables.tpr_cell(below, 1e-3) == tables.BELOW_RESOLUTION == "-"
    assert tables.tpr_cell(row(**{"tpr@10%": 0.25, "min_fpr": 0.1}), 0.1) == "25.00"  # at the resolution: shown
    assert tables.tpr_cell(row(**{"tpr@0.1%": 0.25}), 1e-3) == "25.00"  # no min_fpr: 0


def test_percent_and_auc_cell():
    assert tables.percent(0.5) == "50.00"
    assert tables.percent(None) == tables.percent(float("nan")) == ""
    assert tables.auc_cell(row(auc=0.91234, auc_ci_low=0.9, auc_ci_high=0.92)) == "0.9123 [0.9000, 0.9200]"
    assert tables.auc_cell(row(auc=0.5, auc_ci_low=None, auc_ci_high=None)) == "0.5000"


def test_all_attacks_table(frame):
    table = tables.all_attacks_table(frame, FPRS, LABELS)
    assert len(table) == len(frame)
    assert list(table["name"]) == list(frame.index)
    ye = table[table["name"] == "ye"].iloc[0]
    assert ye["TPR @ 1% FPR"] == "-" and ye["FPR achieved (1%)"] == ""
    online = table[table["name"] == "lira_online"].iloc[0]
    assert online["TPR @ 0.001% FPR"] == "not measurable" and online["FPR achieved (0.001%)"] == ""
    assert online["FPR achieved (1%)"] == tables.percent(frame.loc["lira_online", "fpr_achieved@1%"])
    assert online["attack"] == "LiRA online" and online["non-members"] == int(frame.loc["lira_online", "non_members"])


@pytest.mark.parametrize("dataset, paper_column", [("cifar10", True), ("cifar100", True), ("fashion_mnist", False)])
def test_table_1_paper_column_only_on_the_papers_datasets(frame, dataset, paper_column):
    table = tables.table_1(frame, LABELS, dataset)
    assert list(table["attack"]) == [LABELS[name] for name in catalog.TABLE_1]
    column = "paper: TPR @ 0.001% / 0.1%, bal. acc."
    assert (column in table.columns) == paper_column
    assert list(table.columns[:5]) == ["attack", "TPR @ 0.001% FPR", "TPR @ 0.1% FPR", "balanced acc. %", "AUC"]
    if paper_column:
        by_label = dict(zip(table["attack"], table[column]))
        if dataset == "cifar10":
            assert by_label["LiRA online"] == "2.2 / 8.4 / 63.8"
            assert by_label["Ye et al. (attack R)"] == "- / - / 60.3"
        else:
            assert by_label["LiRA online"] == "11.2 / 27.6 / 82.6"
        assert by_label["RMIA online"] == "- / - / -"
    ye = table[table["attack"] == LABELS["ye"]].iloc[0]
    assert ye["TPR @ 0.1% FPR"] == "-"


def test_table_1_skips_attacks_that_did_not_run(frame):
    table = tables.table_1(frame.drop(index=["shokri", "rmia_online"]), LABELS, "cifar10")
    assert len(table) == len(catalog.TABLE_1) - 2
    assert "Shokri et al." not in set(table["attack"])


@pytest.mark.parametrize("dataset, paper_column", [("cifar10", True), ("cifar100", False), ("purchase", False)])
def test_table_2_paper_column_only_where_the_paper_has_numbers(frame, dataset, paper_column):
    table = tables.table_2(frame, LABELS, dataset)
    assert len(table) == sum(len(names) for names in catalog.TABLE_2.values())
    assert ("paper: TPR @ 0.1%" in table.columns) == paper_column
    assert list(table["step"])[:3] == ["LOSS", "+ logit scaling", "+ queries"]
    if paper_column:
        assert list(table["paper: TPR @ 0.1%"])[-1] == "8.4"
    assert table.iloc[-1]["TPR @ 0.1% FPR"] == tables.tpr_cell(frame.loc["sablayrolles_logit_gaussian_queries"], 1e-3)


@pytest.mark.parametrize("dataset, paper_column", [("cifar10", True), ("cifar100", False), ("fashion_mnist", False)])
def test_table_3(frame, dataset, paper_column):
    table = tables.table_3(frame, catalog.table_3(CONFIG), dataset)
    assert list(table["queries"]) == [1, 2, 18]
    assert ("paper: TPR @ 0.1% / 0.001%" in table.columns) == paper_column
    if paper_column:
        assert list(table["paper: TPR @ 0.1% / 0.001%"]) == ["5.6 / 1.0", "7.5 / 1.8", "8.4 / 2.2"]
    assert list(table["TPR @ 0.001% FPR"]) == ["not measurable"] * 3


def test_markdown_header_and_rows(frame):
    table = tables.table_1(frame, LABELS, "cifar10")
    text = tables.markdown(table, "Caption")
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "Caption" and lines[1] == ""
    header, rule, *body = lines[2:]
    assert len(body) == len(table)
    assert header == "| " + " | ".join(table.columns) + " |"
    assert rule.count("|") == header.count("|") == len(table.columns) + 1
    assert rule.split("|")[1] == "---" and rule.split("|")[2] == "---:"  # text left, numbers right
    assert all(line.count("|") == len(table.columns) + 1 for line in body)
    assert "nan" not in text.lower()
    assert tables.markdown(table).startswith("| attack |")


def test_latex_escapes_and_booktabs(frame):
    table = pd.DataFrame({"attack": ["a_b & c"], "TPR @ 0.1% FPR": ["1.00 [0.50, 1.50]"], "#": ["x\\y"]})
    text = tables.latex(table, caption="50% of 2_000", label="tab:one")
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert text.index(r"\toprule") < text.index(r"\midrule") < text.index(r"\bottomrule")
    assert r"\begin{tabular}{lrr}" in text
    assert r"\caption{50\% of 2\_000}" in text and r"\label{tab:one}" in text
    assert r"attack & TPR @ 0.1\% FPR & \# \\" in text
    assert r"a\_b \& c & 1.00 [0.50, 1.50] & x\textbackslash{}y \\" in text
    # No unescaped % or _ anywhere (a bare % would comment out the rest of the line).
    for line in text.splitlines():
        assert "%" not in line.replace(r"\%", "")
        assert "_" not in line.replace(r"\_", "")
    full = tables.latex(tables.table_1(frame, LABELS, "cifar10"))
    assert full.count(r" \\") == len(catalog.TABLE_1) + 1  # header + one line per attack
    assert r"\caption" not in full and r"\label" not in full
