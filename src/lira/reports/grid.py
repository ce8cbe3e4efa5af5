"""The table and figure across a grid's points (docs/grids.md): each point's settings, its
models' test accuracy, the epsilon its recipe guarantees (DP-SGD), online LiRA's power with
intervals and the epsilon its scores prove, the paper's numbers beside ours; one log-log ROC per
point, in panels."""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from lira.core import metrics
from lira.reports import grid_findings, plots
from lira.reports.findings import write_finding
from lira.reports.grid_findings import PointSummary
from lira.reports.tables import markdown
from lira.workflow import artifacts, catalog, files

class GridError(files.ReportedError, ValueError):
    """A point's numbers contradict each other: an attack proves more than the recipe guarantees."""


def _percent(value, low=None, high=None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measurable"
    text = f"{100 * value:.2f}"
    if low is not None and high is not None:
        text += f" [{100 * low:.2f}, {100 * high:.2f}]"
    return text


def point_row(point: dict, result: dict, models: list[dict], fprs, attack: str) -> dict:
    """One point's row: its settings, accuracy, guarantee and attack power."""
    accuracies = [m["holdout_accuracy"] for m in models if m.get("holdout_accuracy") is not None]
    privacy = models[0].get("privacy") if models else None
    bound = result.get("epsilon_lower_bound") or {}
    row = {"point": point["name"], **point["set"]}
    row["test accuracy %"] = f"{100 * float(np.mean(accuracies)):.1f}" if accuracies else "no test set"
    if privacy is None:
        row["ε guaranteed"] = "∞ (no DP-SGD)"
    else:
        row["ε guaranteed"] = "∞ (no noise)" if privacy["epsilon"] is None else f"{privacy['epsilon']:.3g}"
    pooled, intervals = result["pooled"], result["bootstrap_95"]
    for fpr in fprs:
        label = metrics.fpr_label(fpr)
        row[f"TPR @ {label} FPR"] = _percent(pooled.get(f"tpr@{label}"), *intervals.get(f"tpr@{label}", (None, None)))
    low, high = intervals.get("auc", (None, None))
    row["AUC"] = f"{pooled['auc']:.4f}" + (f" [{low:.4f}, {high:.4f}]" if low is not None else "")
    row["ε proved"] = f"{bound['epsilon']:.2f}" if bound else ""
    gdp = bound.get("gdp") or {}
    row["ε GDP est."] = f"{gdp['epsilon']:.2f}" if gdp else ""
    for name, value in point.get("paper", {}).items():
        row[f"paper: {name.replace('_', ' ')}"] = f"{value:g}"
    return row


def check_consistent(point: dict, result: dict, models: list[dict], attack: str) -> None:
    """An attack cannot prove more than the recipe guarantees; if it does, the training, the
    accounting or the evaluation is wrong, and no number of this grid can be trusted."""
    privacy = models[0].get("privacy") if models else None
    bound = result.get("epsilon_lower_bound") or {}
    if privacy and privacy["epsilon"] is not None and bound and bound["epsilon"] > privacy["epsilon"]:
        raise GridError(
            f"grid point {point['name']}: {catalog.attack_label(attack)}'s scores prove epsilon >= {bound['epsilon']:.3g} at delta "
            f"{bound['delta']:g}, more than the recipe guarantees ({privacy['epsilon']:.3g}): DP-SGD, its accountant "
            "or the evaluation is wrong; do not use these numbers"
        )


def point_summary(point: dict, result: dict, models: list[dict]) -> PointSummary:
    """What a grid finding (lira.reports.grid_findings) reads of a point: TPR at 0.1 % FPR and AUC
    with their intervals, the models' mean test accuracy, the recipe's epsilon."""
    pooled, intervals = result["pooled"], result["bootstrap_95"]
    label = metrics.fpr_label(1e-3)
    tpr = pooled.get(f"tpr@{label}")
    if tpr is None or (isinstance(tpr, float) and math.isnan(tpr)):
        raise GridError(f"grid point {point['name']}: TPR at 0.1 % FPR is not measurable; the grid's finding needs it")
    accuracies = [m["holdout_accuracy"] for m in models if m.get("holdout_accuracy") is not None]
    privacy = models[0].get("privacy") if models else None
    return PointSummary(
        name=point["name"],
        settings=point["set"],
        test_accuracy=float(np.mean(accuracies)) if accuracies else None,
        tpr=(tpr, *intervals.get(f"tpr@{label}", (tpr, tpr))),
        auc=(pooled["auc"], *intervals.get("auc", (pooled["auc"], pooled["auc"]))),
        epsilon=privacy["epsilon"] if privacy else None,
    )


def write_grid_report(
    inputs, outputs, points: list[dict], caption: str, experiment: str, fprs, attack: str, log: logging.Logger,
    finding: str | None = None,
) -> None:
    """grid.csv, grid.md (one row per point) and grid_roc.{png,pdf} (the attack's ROC at every
    point; a panel per `panel`, a curve per `label`); with `finding` (grid.finding), the paper's
    finding checked on the points (lira.reports.grid_findings) in outputs.finding."""
    rows, curves, summaries = [], {}, []
    for index, point in enumerate(points):
        fingerprint = artifacts.expected_fingerprint(inputs.pools[index], point["seed"])
        result = artifacts.load_json(inputs.metrics[index], fingerprint, hashed=True)
        models = [m for path in point_models(inputs, index, points) for m in artifacts.load_json(path, fingerprint).get("models", [])]
        check_consistent(point, result, models, attack)
        rows.append(point_row(point, result, models, fprs, attack))
        if finding:
            summaries.append(point_summary(point, result, models))
        scores = artifacts.load_npz(inputs.attacks[index], fingerprint)
        curves.setdefault(point["panel"], {})[point["label"]] = metrics.roc_curve(scores["scores"], scores["is_member"])
    table = pd.DataFrame(rows).fillna("")  # a point without the paper's number, or without a setting others change
    settings = sorted({key for point in points for key in point["set"]})
    table = table[["point", *settings, *[c for c in table.columns if c not in ("point", *settings)]]]
    with files.atomic_path(outputs.csv) as temporary:
        table.to_csv(temporary, index=False)
    note = (
        f"**Grid {experiment}.** {caption} Attack: {catalog.attack_label(attack)}; TPR in % with 95 % bootstrap interval; 'ε proved': "
        "the epsilon its scores prove with 95 % confidence, a lower bound for this attack; 'ε GDP est.': the "
        "estimate if the training is Gaussian-DP (docs/privacy.md)."
    )
    files.write_text(outputs.markdown, markdown(table, note))
    title = f"Grid {experiment}: {catalog.attack_label(attack)}"
    plots.save(plots.grid_figure(curves, title), [outputs.png, outputs.pdf], f"grid {experiment}")
    log.info("\n%s", table.to_string())
    if finding:
        found = grid_findings.FINDINGS[finding](summaries)
        write_finding(outputs.finding[0], replace(found, files=["grid.md", "grid_roc.png"]))
        log.info("%s: %s (%s)", found.figure, found.verdict, found.why)


def point_models(inputs, index: int, points: list[dict]) -> list[str]:
    """The models/<block>.json files of point `index` (inputs.models lists every point's in order)."""
    prefix = f"results/{points[index]['experiment']}/models/"
    return [path for path in inputs.models if str(path).startswith(prefix)]
