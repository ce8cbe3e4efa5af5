"""Figures (matplotlib/seaborn, no torch). Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; runs on login nodes without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy.stats import norm  # noqa: E402

from lira.core.metrics import Roc, auc  # noqa: E402


def _theme():
    sns.set_theme(style="whitegrid", context="paper")


def roc_figure(curves: dict[str, Roc], title: str, bands: dict | None = None):
    """Log-log ROC of every attack (the paper's Figure 1: it shows the low-FPR regime), chance
    diagonal, AUC in the legend, and shaded 95 % bootstrap bands where given
    (name -> (fpr grid, tpr low, tpr high)). Curves start at the smallest measurable FPR."""
    _theme()
    figure, axes = plt.subplots(figsize=(5.5, 5.5))
    smallest = min(1.0 / roc.n_negative for roc in curves.values())
    for (name, roc), colour in zip(curves.items(), sns.color_palette("colorblind", len(curves))):
        axes.plot(
            np.maximum(roc.fpr, smallest),
            np.maximum(roc.tpr, smallest),
            color=colour,
            label=f"{name} (AUC {auc(roc):.3f})",
        )
        if bands and name in bands:
            grid, low, high = bands[name]
            axes.fill_between(grid, np.maximum(low, smallest), np.maximum(high, smallest), color=colour, alpha=0.2, linewidth=0)
    axes.plot([smallest, 1], [smallest, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    axes.set(xscale="log", yscale="log", xlim=(smallest, 1), ylim=(smallest, 1))
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    axes.legend(loc="lower right", fontsize="x-small")
    figure.tight_layout()
    return figure


def shadow_count_figure(rows: pd.DataFrame, max_fpr_label: str, title: str):
    """TPR at low FPR and AUC against the number of shadow models (log2 axis), one line per LiRA
    variant, error bars: standard deviation over the repeated subsamples."""
    _theme()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, column, label in ((left, "tpr", f"TPR @ {max_fpr_label} FPR"), (right, "auc", "AUC")):
        sns.lineplot(data=rows, x="shadow_models", y=column, hue="variant", marker="o", errorbar="sd", ax=axes)
        axes.set_xscale("log", base=2)
        axes.set(xlabel="shadow models", ylabel=label)
        axes.set_xticks(sorted(rows["shadow_models"].unique()))
        axes.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.get_legend().remove()
    right.legend(fontsize="x-small")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def examples_figure(examples: list[dict], title: str):
    """For each example: histograms of the IN and OUT shadow statistics, the fitted Gaussians,
    and the target's value. Each dict: title, values_in, values_out, mean_in, sd_in, mean_out,
    sd_out, target_value, target_is_member."""
    _theme()
    figure, axes_row = plt.subplots(1, len(examples), figsize=(4.2 * len(examples), 3.6), squeeze=False)
    blue, orange = sns.color_palette("colorblind", 2)
    for axes, example in zip(axes_row[0], examples):
        values = np.r_[example["values_in"], example["values_out"], example["target_value"]]
        grid = np.linspace(values.min() - 1, values.max() + 1, 300)
        for group, colour in (("in", blue), ("out", orange)):
            axes.hist(example[f"values_{group}"], bins=15, density=True, alpha=0.4, color=colour, label=f"{group.upper()} shadows")
            axes.plot(grid, norm.pdf(grid, example[f"mean_{group}"], example[f"sd_{group}"]), color=colour)
        membership = "member" if example["target_is_member"] else "non-member"
        axes.axvline(example["target_value"], color="black", linestyle="--", label=f"target ({membership})")
        axes.set(title=example["title"], xlabel="logit-scaled confidence", ylabel="density")
        axes.legend(fontsize="x-small")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def score_distribution_figure(scores: np.ndarray, is_member: np.ndarray, title: str):
    """Distribution of an attack's scores for members and non-members (log-count axis, so the
    tails where low-FPR attacks live stay visible)."""
    _theme()
    figure, axes = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(scores, bins=80)
    for mask, label, colour in ((is_member, "members", 0), (~is_member, "non-members", 1)):
        axes.hist(scores[mask], bins=bins, alpha=0.5, label=label, color=sns.color_palette("colorblind")[colour])
    axes.set(yscale="log", xlabel="LiRA online score", ylabel="examples (pooled over targets)", title=title)
    axes.legend()
    figure.tight_layout()
    return figure


def save(figure, paths, label: str | None = None) -> None:
    """Write `figure` to each path atomically (format from the suffix), then close it.

    `label` (which experiment and config made the figure) goes in a footer and in the file's
    metadata. The files are reproducible: the same figure gives the same bytes (no creation date)."""
    from pathlib import Path

    from lira.workflow.files import atomic_path

    if label:
        figure.text(0.995, 0.002, label, ha="right", va="bottom", fontsize=6, color="grey")
    for path in paths:
        kind = Path(path).suffix[1:]
        metadata = {"pdf": {"CreationDate": None, "Subject": label}, "png": {"Description": label}}.get(kind, {})
        metadata = {key: value for key, value in metadata.items() if value is not None or key == "CreationDate"}
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=kind, dpi=150, metadata=metadata or None)
    plt.close(figure)


def audit_figure(shadows: tuple, target: tuple, thresholds: dict, rocs: dict | None, title: str):
    """An audit at a glance. Left: the distributions of an attack's scores (density, log axis) of
    the shadows' members and non-members (their leave-pair-out scores: shadows = (scores,
    is_member)) and of the target's examples (target = (scores, is_member or None): its members and
    non-members apart where known), with the calibrated thresholds (label -> score) as lines.
    Right, given `rocs` (name -> Roc, e.g. the target's and the matched case's): their log-log ROC."""
    _theme()
    panels = 2 if rocs else 1
    figure, axes_row = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    axes = axes_row[0][0]
    shadow_scores, shadow_member = shadows
    target_scores, target_member = target
    bins = np.histogram_bin_edges(np.r_[shadow_scores.ravel(), target_scores.ravel()], bins=80)
    colours = sns.color_palette("colorblind", 4)
    groups = [(shadow_scores[shadow_member], "shadows' members", colours[0], "step"),
              (shadow_scores[~shadow_member], "shadows' non-members", colours[1], "step")]  # fmt: skip
    if target_member is None:
        groups.append((target_scores.ravel(), "target's examples", "black", "stepfilled"))
    else:
        groups += [(target_scores[target_member], "target's members", colours[2], "stepfilled"),
                   (target_scores[~target_member], "target's non-members", colours[3], "stepfilled")]  # fmt: skip
    for values, label, colour, kind in groups:
        axes.hist(values, bins=bins, density=True, histtype=kind, alpha=0.35 if kind == "stepfilled" else 1.0,
                  color=colour, label=label, linewidth=1.2)  # fmt: skip
    for row, (label, threshold) in enumerate(thresholds.items()):  # one text line each: thresholds lie close
        axes.axvline(threshold, color="grey", linestyle="--", linewidth=1)
        height = 0.98 - 0.06 * row
        axes.text(threshold, height, f" {label} FPR", transform=axes.get_xaxis_transform(), fontsize=7, va="top", color="grey")
    axes.set(yscale="log", xlabel="LiRA online score", ylabel="density")
    axes.legend(fontsize="x-small", loc="lower left")
    if rocs:
        roc_axes = axes_row[0][1]
        smallest = min(1.0 / roc.n_negative for roc in rocs.values())
        for (name, roc), colour in zip(rocs.items(), sns.color_palette("colorblind", len(rocs))):
            roc_axes.plot(np.maximum(roc.fpr, smallest), np.maximum(roc.tpr, smallest), color=colour,
                          label=f"{name} (AUC {auc(roc):.3f})")  # fmt: skip
        roc_axes.plot([smallest, 1], [smallest, 1], color="grey", linestyle="--", linewidth=1, label="chance")
        roc_axes.set(xscale="log", yscale="log", xlim=(smallest, 1), ylim=(smallest, 1))
        roc_axes.set(xlabel="False positive rate", ylabel="True positive rate")
        roc_axes.legend(loc="lower right", fontsize="x-small")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def grid_figure(panels: dict[str, dict[str, Roc]], title: str):
    """Log-log ROCs of a grid's points: one panel per key of `panels` (e.g. a noise level), one
    curve per point in it (label -> Roc, e.g. a clipping norm), AUC in the legend."""
    _theme()
    figure, axes_row = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for axes, (panel, curves) in zip(axes_row[0], panels.items()):
        smallest = min(1.0 / roc.n_negative for roc in curves.values())
        for (label, roc), colour in zip(curves.items(), sns.color_palette("colorblind", len(curves))):
            axes.plot(np.maximum(roc.fpr, smallest), np.maximum(roc.tpr, smallest), color=colour,
                      label=f"{label} (AUC {auc(roc):.3f})")  # fmt: skip
        axes.plot([smallest, 1], [smallest, 1], color="grey", linestyle="--", linewidth=1, label="chance")
        axes.set(xscale="log", yscale="log", xlim=(smallest, 1), ylim=(smallest, 1), title=panel or None)
        axes.set(xlabel="False positive rate", ylabel="True positive rate")
        axes.legend(loc="lower right", fontsize="x-small")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def cross_figure(rows: pd.DataFrame, fpr_label: str, title: str):
    """The paper's Fig. 11: per panel, the target's configuration on the x axis, one marker per
    shadow configuration at its TPR at `fpr_label` FPR (log scale, 95 % interval bars), the
    matched guess (shadow == target) outlined in black. rows: panel, target, shadow, tpr, low,
    high, one per (target, shadow) pair, in point order."""
    _theme()
    panels = list(dict.fromkeys(rows["panel"]))
    figure, axes_row = plt.subplots(1, len(panels), figsize=(max(4.6 * len(panels), 7), 4.2), squeeze=False)
    markers = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
    for axes, panel in zip(axes_row[0], panels):
        part = rows[rows["panel"] == panel]
        targets = list(dict.fromkeys(part["target"]))
        shadows = list(dict.fromkeys(part["shadow"]))
        colours = sns.color_palette("colorblind", len(shadows))
        width = 0.6 / max(len(shadows), 1)
        floor = max(float(part["floor"].min()), 1e-6)
        for k, (shadow, colour) in enumerate(zip(shadows, colours)):
            mine = part[part["shadow"] == shadow]
            x = np.array([targets.index(t) for t in mine["target"]]) + (k - (len(shadows) - 1) / 2) * width
            tpr = np.maximum(mine["tpr"].to_numpy(float), floor)
            low = np.maximum(mine["low"].to_numpy(float), floor)
            high = np.maximum(mine["high"].to_numpy(float), floor)
            axes.errorbar(x, tpr, yerr=[tpr - low, high - tpr], fmt="none", ecolor=colour, elinewidth=1, alpha=0.7)
            matched = (mine["target"] == shadow).to_numpy()
            marker = markers[k % len(markers)]
            axes.scatter(x[~matched], tpr[~matched], marker=marker, color=colour, s=36, label=f"shadows: {shadow}", zorder=3)
            axes.scatter(x[matched], tpr[matched], marker=marker, color=colour, s=64, edgecolors="black", linewidths=1.6, zorder=4)
        axes.set_xticks(range(len(targets)), targets, rotation=20)
        axes.set(yscale="log", title=panel or None, xlabel="target's configuration", ylabel=f"TPR at {fpr_label} FPR")
        axes.legend(loc="best", fontsize="x-small")
    figure.suptitle(title, fontsize="small")
    figure.tight_layout()
    return figure


def cross_roc_figure(panels: dict[str, dict[str, dict[str, Roc]]], title: str):
    """The paper's Figs. 22-24: a row per panel, in it a log-log ROC per target configuration,
    a curve per shadow configuration (panels: panel -> target -> shadow -> Roc), the matched
    curve drawn thicker."""
    _theme()
    columns = max(len(targets) for targets in panels.values())
    figure, axes_grid = plt.subplots(len(panels), columns, figsize=(3.6 * columns, 3.5 * len(panels)), squeeze=False)
    for row, (panel, targets) in enumerate(panels.items()):
        for column in range(columns):
            axes = axes_grid[row][column]
            if column >= len(targets):
                axes.set_visible(False)
                continue
            target, curves = list(targets.items())[column]
            smallest = min(1.0 / roc.n_negative for roc in curves.values())
            for (shadow, roc), colour in zip(curves.items(), sns.color_palette("colorblind", len(curves))):
                axes.plot(np.maximum(roc.fpr, smallest), np.maximum(roc.tpr, smallest), color=colour,
                          linewidth=2.2 if shadow == target else 1.0, label=f"{shadow} ({auc(roc):.3f})")  # fmt: skip
            axes.plot([smallest, 1], [smallest, 1], color="grey", linestyle="--", linewidth=1)
            axes.set(xscale="log", yscale="log", xlim=(smallest, 1), ylim=(smallest, 1))
            axes.set_title(f"{panel}: target {target}" if panel else f"target {target}", fontsize="small")
            axes.set(xlabel="False positive rate", ylabel="True positive rate")
            axes.legend(loc="lower right", fontsize="xx-small", title="shadows (AUC)", title_fontsize="xx-small")
    figure.suptitle(title, fontsize="small")
    figure.tight_layout()
    return figure


def gap_figure(rows: pd.DataFrame, fpr_label: str, title: str):
    """The paper's Figs. 7 and 16: the attack's TPR at `fpr_label` FPR (log scale, 95 % interval
    bars) against the train-test accuracy gap (left) and the test accuracy (right), one point per
    configuration (rows: label, panel, gap, test_accuracy, tpr, low, high, floor), coloured by panel."""
    _theme()
    figure, axes_row = plt.subplots(1, 2, figsize=(10, 4.2))
    panels = list(dict.fromkeys(rows["panel"]))
    colours = dict(zip(panels, sns.color_palette("colorblind", len(panels))))
    floor = max(float(rows["floor"].min()), 1e-6)
    for axes, column, xlabel in zip(axes_row, ["gap", "test_accuracy"], ["train accuracy - test accuracy", "test accuracy"]):
        for panel in panels:
            part = rows[rows["panel"] == panel]
            x = 100 * part[column].to_numpy(float)
            tpr = np.maximum(part["tpr"].to_numpy(float), floor)
            low = np.maximum(part["low"].to_numpy(float), floor)
            high = np.maximum(part["high"].to_numpy(float), floor)
            axes.errorbar(x, tpr, yerr=[tpr - low, high - tpr], fmt="o", color=colours[panel], label=panel or None, capsize=2)
            for xi, yi, label in zip(x, tpr, part["label"]):
                axes.annotate(str(label), (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
        axes.set(yscale="log", xlabel=f"{xlabel} (%)", ylabel=f"TPR at {fpr_label} FPR")
        if any(panels):
            axes.legend(loc="best", fontsize="x-small")
    figure.suptitle(title, fontsize="small")
    figure.tight_layout()
    return figure


def privacy_score_figure(scores_by_group: dict[str, np.ndarray], title: str):
    """The paper's Fig. 13: histograms of the per-example privacy score d by group of examples,
    each normalised to its group's size (groups differ in size by orders of magnitude), on a log
    d axis (ordinary examples crowd near 0, canaries spread over decades). d below the first bin's
    edge is counted in the first bin."""
    _theme()
    figure, axes = plt.subplots(figsize=(6.5, 4))
    finite = np.concatenate([values[np.isfinite(values)] for values in scores_by_group.values()])
    low = max(float(np.percentile(finite, 0.5)), 1e-3) if len(finite) else 1e-3
    high = max(float(finite.max()) if len(finite) else 1.0, low * 10)
    bins = np.geomspace(low, high * 1.001, 40)
    for (name, values), colour in zip(scores_by_group.items(), sns.color_palette("colorblind", len(scores_by_group))):
        values = np.clip(values[np.isfinite(values)], low, None)
        median = np.median(values) if len(values) else np.nan
        axes.hist(
            values, bins=bins, weights=np.full(len(values), 1 / max(len(values), 1)), histtype="step",
            linewidth=1.6, color=colour, label=f"{name} (n={len(values)}, median {median:.2f})",
        )
        axes.axvline(median, color=colour, linestyle=":", linewidth=1)
    axes.set(
        xscale="log", xlabel=r"privacy score $d = |\mu_{in}-\mu_{out}| / (\sigma_{in}+\sigma_{out})$",
        ylabel="share of the group's examples", title=title,
    )
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure
