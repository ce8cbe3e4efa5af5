"""Figures (matplotlib/seaborn, no torch)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; runs on login nodes without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from .metrics import Roc, auc  # noqa: E402


def roc_figure(curves: dict[str, Roc], title: str):
    """Log-log ROC of every attack (the paper's way: it shows the low-FPR regime), chance diagonal,
    AUC in the legend. Curves start at the smallest measurable FPR, one negative."""
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(figsize=(5, 5))
    smallest = min(1.0 / roc.n_negative for roc in curves.values())
    for (name, roc), colour in zip(curves.items(), sns.color_palette("colorblind", len(curves))):
        axes.plot(np.maximum(roc.fpr, smallest), np.maximum(roc.tpr, smallest), color=colour, label=f"{name} (AUC {auc(roc):.3f})")
    axes.plot([smallest, 1], [smallest, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    axes.set(xscale="log", yscale="log", xlim=(smallest, 1), ylim=(smallest, 1))
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    return figure
