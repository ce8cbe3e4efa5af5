"""Turning metric rows into the CSV and Markdown tables of the results folder (pandas)."""

from __future__ import annotations

import math

import pandas as pd

from .metrics import fpr_label

NOT_MEASURABLE = "not measurable"


def metrics_frame(rows: dict[str, dict]) -> pd.DataFrame:
    """One row per attack (index), columns as lira.metrics.summarise makes them (the CSV)."""
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "attack"
    return frame


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def tpr_cell(tpr: float, achieved_fpr: float) -> str:
    """'12.34% (at 0.09%)', or 'not measurable' below one negative."""
    if math.isnan(tpr):
        return NOT_MEASURABLE
    return f"{percent(tpr)} (at {100 * achieved_fpr:.3g}%)"


def markdown(frame: pd.DataFrame, fprs, caption: str = "") -> str:
    """The metrics as a GitHub Markdown table: TPR at each FPR with the FPR achieved, AUC,
    balanced accuracy, and the counts behind them."""
    header = ["attack"] + [f"TPR @ {fpr_label(f)} FPR" for f in fprs] + ["AUC", "balanced acc.", "members", "non-members"]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for attack, row in frame.iterrows():
        cells = [tpr_cell(row[f"tpr@{fpr_label(f)}"], row[f"fpr_achieved@{fpr_label(f)}"]) for f in fprs]
        cells += [f"{row['auc']:.4f}", percent(row["balanced_accuracy"]), str(int(row["members"])), str(int(row["non_members"]))]
        lines.append("| " + " | ".join([f"`{attack}`"] + cells) + " |")
    return (caption + "\n\n" if caption else "") + "\n".join(lines) + "\n"
