"""The paper's Figures 4 and 8 from the cached logits of the shadow models: how Gaussian the
per-example distributions of a statistic are (Fig. 4), and which statistic serves LiRA best as its
input (Fig. 8). Each job writes its figure, a table and its finding (lira.reports.findings).

Neither changes the main attacks: the statistics are computed here from logits/<block>.npy and
scored by the same code as the lira_online attack (lira.core.attacks.run, each target attacked by
the models outside its pair), fitted by lira.core.gaussian.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lira.core import attacks, metrics, normality, splits
from lira.core.gaussian import fit_shadow_sums
from lira.core.logit_statistics import all_statistics, stacked_input_statistics
from lira.core.queries import query_set
from lira.reports import plots
from lira.reports.findings import Finding, write_finding
from lira.workflow import artifacts, files
from lira.workflow.steps import attack_queries

INPUT_LABELS = {
    "confidence": "confidence f_y",
    "log_confidence": "log-confidence log f_y (-CE)",
    "unstable_logit": "unstable logit (from f)",
    "logit_scaled_confidence": "stable logit (logit-scaled)",
    "logit": "raw logit z_y",
    "hinge": "hinge",
}
# The statistics whose per-example distributions Figure 4 shows, computed in float64 from the logits.
SHAPE_STATISTICS = {"confidence": "confidence p_y", "loss": "cross-entropy loss", "logit_scaled_confidence": "logit-scaled confidence"}


# --- Inputs ---------------------------------------------------------------------------------------


def load_models(inputs, blocks: list[str], seed: int, query_settings: dict):
    """(labels [pool], keep [N, pool], blocks of logits): the pool's labels, the split design's
    keep masks (checked against shadows/keep.npy) and, lazily, each block's (models, logits
    [models, pool, queries, classes]), each checked against its sidecar (artifacts.load_logits)."""
    pool = artifacts.load_pool(inputs.pool)
    labels = pool["y"]
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    model_ranges = [splits.block_models(block) for block in blocks]
    n_models = sum(len(models) for models in model_ranges)
    keep = artifacts.check_keep(inputs.keep, files.load_array(inputs.keep), seed, n_models, len(labels))
    n_queries = len(query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"]))
    n_classes = int(pool["num_classes"])

    def logits_blocks():
        for models, path, info_path in zip(model_ranges, inputs.logits, inputs.logits_info, strict=True):
            shape = (len(models), len(labels), n_queries, n_classes)
            yield models, artifacts.load_logits(path, info_path, fingerprint, models, shape)[0]

    return labels, keep, logits_blocks()


def _relative(paths, finding_path) -> list[str]:
    """Paths relative to the experiment's results folder (the finding's folder is paper/<id>/)."""
    root = Path(finding_path).parents[2]
    return [os.path.relpath(path, root) for path in paths]


def _interval(value, low, high, scale=100.0, digits=2) -> str:
    if value is None or np.isnan(value):
        return "not measurable"
    return f"{scale * value:.{digits}f} [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


# --- Figure 8: LiRA's input statistic -------------------------------------------------------------


def input_statistic_scores(stacks: dict, keep: np.ndarray, labels: np.ndarray, settings: dict, queries) -> dict:
    """Online LiRA's scores [T, pool] with each statistic of `stacks` (name -> [N, pool, Q]) as its
    input: the lira_online attack's code (lira.core.attacks.run with `settings`, its statistic
    replaced), Gaussians fitted by lira.core.gaussian. Every statistic is oriented higher = member."""
    scores = {}
    for name, values in stacks.items():
        fits = {name: fit_shadow_sums(values, keep)}
        scores[name], _ = attacks.run({**settings, "statistic": name}, {name: values}, keep, labels, fits, queries)
    return scores


def input_statistic_rows(scores: dict, is_member: np.ndarray, fprs, resamples: int, seed: int):
    """Per statistic: metrics.summarise of its pooled scores with 95 % bootstrap intervals
    (metrics.bootstrap), and the ROC band on a log-spaced grid. Returns (rows, bands)."""
    rows, bands = [], {}
    for name, values in scores.items():
        row = {"statistic": name, **metrics.summarise(values, is_member, fprs)}
        grid = np.logspace(np.log10(1.0 / row["non_members"]), 0, 200)
        grid[0] = 1.0 / row["non_members"]
        intervals, band = metrics.bootstrap(values, is_member, fprs, resamples, seed, grid)
        for key, (low, high) in intervals.items():
            row[f"{key}_low"], row[f"{key}_high"] = low, high
        rows.append(row)
        bands[name] = (grid, band[0], band[1])
    return rows, bands


def primary_fpr(rows: list[dict], fprs) -> float:
    """The smallest of `fprs` at which every statistic's TPR is measurable (the verdict's FPR)."""
    measurable = [f for f in sorted(fprs) if all(not np.isnan(row[f"tpr@{metrics.fpr_label(f)}"]) for row in rows)]
    if not measurable:
        raise ValueError(f"no FPR of {list(fprs)} is measurable with {rows[0]['non_members']} non-members")
    return measurable[0]


BEST, WORST, BETWEEN = ("logit_scaled_confidence", "hinge"), ("confidence", "log_confidence"), "unstable_logit"
# The paper's AUCs of the variants lie within a few points (68-72 %): "close" is within this.
AUC_CLOSE = 0.05


def input_statistic_verdict(rows: list[dict], fpr: float) -> tuple[str, str]:
    """(verdict, why) from the TPRs at `fpr` with their intervals and the AUCs.

    The paper's claim: the stable logit and the hinge beat confidence and cross-entropy at low
    FPR, the unstable logit lies between, while all AUCs are close. "differs" when a worst
    statistic's interval lies wholly above a best one's; "does not reproduce at this scale" when
    the intervals of best and worst overlap; "agrees" when every best lies above every worst,
    the unstable logit's TPR lies between (point estimates) and the AUCs are within AUC_CLOSE;
    else "partly agrees"."""
    by_name = {row["statistic"]: row for row in rows}
    key = f"tpr@{metrics.fpr_label(fpr)}"
    tpr = {name: by_name[name][key] for name in by_name}
    low = {name: by_name[name][f"{key}_low"] for name in by_name}
    high = {name: by_name[name][f"{key}_high"] for name in by_name}
    separated = all(low[b] > high[w] for b in BEST for w in WORST)
    reversed_ = any(high[b] < low[w] for b in BEST for w in WORST)
    between = max(tpr[w] for w in WORST) <= tpr[BETWEEN] <= max(tpr[b] for b in BEST)
    outside = high[BETWEEN] < min(low[w] for w in WORST) or low[BETWEEN] > max(high[b] for b in BEST)
    aucs = {row["statistic"]: row["auc"] for row in rows}
    lowest, highest = min(aucs, key=aucs.get), max(aucs, key=aucs.get)
    auc_spread = aucs[highest] - aucs[lowest]
    ratio = min(tpr[b] for b in BEST) / max(max(tpr[w] for w in WORST), 1e-12)
    placement = "between" if between else ("outside" if outside else "not between (point estimates; its interval overlaps)")
    why = (
        f"at {metrics.fpr_label(fpr)} FPR the intervals of stable logit and hinge lie "
        f"{'above' if separated else 'not wholly above'} those of confidence and log-confidence "
        f"(weakest best / strongest worst = {ratio:.1f}x); the unstable logit's TPR is {placement} them; AUCs span "
        f"{100 * auc_spread:.1f} points, {lowest} to {highest} ({'within' if auc_spread <= AUC_CLOSE else 'beyond'} "
        f"{100 * AUC_CLOSE:.0f})"
    )
    if reversed_:
        return "differs", why
    if not separated:
        return "does not reproduce at this scale", why
    if between and auc_spread <= AUC_CLOSE:
        return "agrees", why
    return "partly agrees", why


def input_statistic_table(rows: list[dict], fprs) -> pd.DataFrame:
    """One row per statistic: TPR (%) at each FPR and AUC (%), with 95 % bootstrap intervals."""
    table = []
    for row in rows:
        line = {"statistic": INPUT_LABELS.get(row["statistic"], row["statistic"])}
        for fpr in fprs:
            key = f"tpr@{metrics.fpr_label(fpr)}"
            line[f"TPR @ {metrics.fpr_label(fpr)} FPR"] = _interval(row[key], row[f"{key}_low"], row[f"{key}_high"])
        line["AUC %"] = _interval(row["auc"], row["auc_low"], row["auc_high"])
        table.append(line)
    return pd.DataFrame(table)


def _markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_input_statistics_report(
    inputs, outputs, settings: dict, query_settings: dict, blocks: list[str], fprs, resamples: int, seed: int,
    experiment: str, label: str, log: logging.Logger,
):  # fmt: skip
    """The paper_fig8 job: logits of every block, keep masks -> outputs.roc_{png,pdf} (log-log
    ROC of online LiRA with each INPUT_STATISTICS as its input), outputs.table_{csv,md} and
    outputs.finding (json, with its .md beside)."""
    labels, keep, logits_blocks = load_models(inputs, blocks, seed, query_settings)
    stacks = None
    for models, logits in logits_blocks:
        block = stacked_input_statistics(logits, labels)  # each [models, pool, Q] float32
        if stacks is None:
            stacks = {name: np.empty((len(keep), *value.shape[1:]), np.float32) for name, value in block.items()}
        for name, value in block.items():
            stacks[name][models.start : models.stop] = value
    saturated = float(np.mean(stacks["confidence"] == 1.0))  # where 1 - f_y is 0 in float32
    queries = attack_queries(settings, query_settings)
    scores = input_statistic_scores(stacks, keep, labels, settings, queries)
    is_member = keep[: settings["targets"]]
    rows, bands = input_statistic_rows(scores, is_member, fprs, resamples, seed)

    frame = pd.DataFrame(rows)
    with files.atomic_path(outputs.table_csv) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.6g")
    table = input_statistic_table(rows, fprs)
    caption = (
        f"{experiment}: online LiRA with each statistic as its input, {settings['targets']} targets pooled; "
        "TPR and AUC in %, 95 % bootstrap intervals in brackets.\n\n"
    )
    files.write_text(outputs.table_md, caption + _markdown(table))
    curves = {INPUT_LABELS[name]: metrics.roc_curve(value, is_member) for name, value in scores.items()}
    figure = plots.roc_figure(curves, f"{experiment}: LiRA online by input statistic", {INPUT_LABELS[n]: b for n, b in bands.items()})
    plots.save(figure, [outputs.roc_png, outputs.roc_pdf], label)

    fpr = primary_fpr(rows, fprs)
    verdict, why = input_statistic_verdict(rows, fpr)
    key = f"tpr@{metrics.fpr_label(fpr)}"
    ours = "; ".join(
        f"{INPUT_LABELS[row['statistic']]}: TPR {_interval(row[key], row[key + '_low'], row[key + '_high'])} % at "
        f"{metrics.fpr_label(fpr)} FPR, AUC {_interval(row['auc'], row['auc_low'], row['auc_high'], digits=1)} %"
        for row in rows
    )
    finding = Finding(
        figure="Fig. 8",
        title="LiRA's input statistic",
        paper=(
            "On CIFAR-10, the stable logit (logit-scaled confidence) and the hinge are the best inputs, confidence and "
            "cross-entropy the worst, the unstable logit computed from the probabilities between; every variant has an "
            "AUC of about 68-72 %, yet their TPRs at low FPR differ by orders of magnitude."
        ),
        ours=(
            f"{experiment}, {len(keep)} models, {settings['targets']} targets pooled: {ours}. f_y rounds to 1 in float32 "
            f"(the unstable logit saturates) for {100 * saturated:.2f} % of the (model, example, query) values."
        ),
        verdict=verdict,
        why=why,
        files=_relative([outputs.roc_png, outputs.table_md, outputs.table_csv], outputs.finding),
    )
    write_finding(outputs.finding, finding)
    log.info("Fig. 8: %s (%s)", verdict, why)


# --- Figure 4: the shape of the per-example distributions ------------------------------------------


def shape_statistics(logits: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """SHAPE_STATISTICS of logits [..., classes] in float64: the confidence p_y = exp(-loss), the
    cross-entropy loss and the logit-scaled confidence (lira.core.logit_statistics.all_statistics)."""
    values = all_statistics(logits, labels, ["loss", "logit_scaled_confidence"])
    return {"confidence": np.exp(-values["loss"]), "loss": values["loss"], "logit_scaled_confidence": values["logit_scaled_confidence"]}


def chosen_examples(logit_scaled: np.ndarray, keep: np.ndarray) -> dict[str, int]:
    """Three examples, chosen deterministically by how far apart their IN and OUT logit-scaled
    confidences lie over all models, (mean_in - mean_out) / sqrt((var_in + var_out) / 2): the
    most exposed, the median one and the least exposed. logit_scaled [N, pool], keep [N, pool]."""
    inside = np.where(keep, logit_scaled, np.nan)
    outside = np.where(keep, np.nan, logit_scaled)
    spread = np.sqrt((np.nanvar(inside, axis=0, ddof=1) + np.nanvar(outside, axis=0, ddof=1)) / 2)
    exposure = (np.nanmean(inside, axis=0) - np.nanmean(outside, axis=0)) / np.maximum(spread, 1e-12)
    order = np.argsort(-exposure, kind="stable")
    return {"most exposed": int(order[0]), "median": int(order[len(order) // 2]), "least exposed": int(order[-1])}


def shape_figure(values: dict, keep: np.ndarray, examples: dict, labels: np.ndarray, title: str):
    """Rows: the chosen examples; columns: SHAPE_STATISTICS. Histograms of the IN and OUT models'
    values with the Gaussian of each group's mean and standard deviation."""
    from scipy.stats import norm

    plots._theme()
    figure, grid = plots.plt.subplots(len(examples), len(values), figsize=(4 * len(values), 3 * len(examples)), squeeze=False)
    colours = plots.sns.color_palette("colorblind", 2)
    for row, (caption, index) in zip(grid, examples.items()):
        for axes, (name, stack) in zip(row, values.items()):
            column = stack[:, index]
            # Bins shared by both groups, counts (each group has about N/2 models), and each group's
            # Gaussian scaled to its count, so that a group piled up in one bin stays comparable.
            edges = np.histogram_bin_edges(column, bins=24)
            span = np.linspace(edges[0], edges[-1], 300)
            tallest = 1
            for (group, member), colour in zip((("IN", True), ("OUT", False)), colours):
                part = column[keep[:, index] == member]
                counts, _, _ = axes.hist(part, bins=edges, alpha=0.45, color=colour, label=f"{group} ({len(part)} models)")
                tallest = max(tallest, counts.max())
                if part.std() > 0:
                    scale = len(part) * (edges[1] - edges[0])
                    axes.plot(span, scale * norm.pdf(span, part.mean(), part.std(ddof=1)), color=colour)
            axes.set_ylim(0, 1.2 * tallest)  # a group piled into one bin has a Gaussian far taller than its bars
            axes.set(title=f"{caption}: example {index} (class {labels[index]})", xlabel=SHAPE_STATISTICS[name], ylabel="models")
            axes.title.set_fontsize("small")
            axes.legend(fontsize="x-small")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def shape_verdict(summaries: dict) -> tuple[str, str]:
    """(verdict, why) from the share of examples whose normality is rejected (IN and OUT tests
    together, with 95 % intervals).

    The paper's claim: confidence and loss are far from Gaussian, the logit-scaled confidence
    approximately Gaussian. "agrees" when the rejection shares of confidence and of loss both lie
    above the logit-scaled confidence's (disjoint intervals) and the latter's interval reaches down
    to twice the test's level (2 ALPHA) or below; "partly agrees" when the ordering holds for one
    or both but the logit-scaled confidence is rejected more than that; "differs" when confidence
    or loss is rejected less often than the logit-scaled confidence (disjoint intervals); else
    "does not reproduce at this scale"."""
    rows = {name: summaries[name]["all"] for name in SHAPE_STATISTICS}
    logit = rows["logit_scaled_confidence"]
    above = {name: rows[name]["rejected_low"] > logit["rejected_high"] for name in ("confidence", "loss")}
    below = any(rows[name]["rejected_high"] < logit["rejected_low"] for name in ("confidence", "loss"))
    nearly_gaussian = logit["rejected_low"] <= 2 * normality.ALPHA
    why = (
        f"normality rejected at {100 * normality.ALPHA:.0f} % for "
        + ", ".join(f"{name} {_interval(row['rejected'], row['rejected_low'], row['rejected_high'], digits=1)} %" for name, row in rows.items())
        + f" of the per-example tests (expected {100 * normality.ALPHA:.0f} % if Gaussian); the logit-scaled "
        f"confidence is {'within' if nearly_gaussian else 'beyond'} twice that level"
    )
    if below:
        return "differs", why
    if all(above.values()) and nearly_gaussian:
        return "agrees", why
    if any(above.values()):
        return "partly agrees", why
    return "does not reproduce at this scale", why


def write_shape_report(
    inputs, outputs, query_settings: dict, blocks: list[str], resamples: int, seed: int, experiment: str, label: str,
    log: logging.Logger,
):  # fmt: skip
    """The paper_fig4 job: logits of every block (identity query), keep masks ->
    outputs.histograms_{png,pdf} (three examples' IN/OUT distributions of each SHAPE_STATISTICS),
    outputs.per_example (csv: p-values and skewness per example, statistic and group),
    outputs.normality_{csv,md} (the summaries with intervals) and outputs.finding."""
    labels, keep, logits_blocks = load_models(inputs, blocks, seed, query_settings)
    values = {name: np.empty(keep.shape) for name in SHAPE_STATISTICS}  # each [N, pool] float64
    for models, logits in logits_blocks:
        for name, value in shape_statistics(logits[:, :, 0], labels[None]).items():
            values[name][models.start : models.stop] = value

    examples = chosen_examples(values["logit_scaled_confidence"], keep)
    title = f"{experiment}: {len(keep)} models, identity query"
    plots.save(shape_figure(values, keep, examples, labels, title), [outputs.histograms_png, outputs.histograms_pdf], label)

    summaries, per_example = {}, []
    for name, stack in values.items():
        tests = normality.per_example(stack, keep)
        summaries[name] = normality.summarise(tests, normality.ALPHA, resamples, seed)
        per_example.append(pd.DataFrame({"statistic": name, "pool_index": np.arange(keep.shape[1]), **tests}))
    with files.atomic_path(outputs.per_example) as temporary:
        pd.concat(per_example).to_csv(temporary, index=False, float_format="%.6g")
    frame = pd.DataFrame(
        [{"statistic": name, "group": group, **summary[group]} for name, summary in summaries.items() for group in ("in", "out", "all")]
    )
    with files.atomic_path(outputs.normality_csv) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.6g")
    table = pd.DataFrame(
        [
            {
                "statistic": SHAPE_STATISTICS[row.statistic],
                "models": row.group.upper() if row.group != "all" else "IN and OUT",
                f"normality rejected at {100 * normality.ALPHA:.0f} % (% of examples)": _interval(row.rejected, row.rejected_low, row.rejected_high, digits=1),
                "median |skewness|": _interval(row.median_abs_skew, row.median_abs_skew_low, row.median_abs_skew_high, scale=1),
            }
            for row in frame.itertuples()
        ]
    )  # fmt: skip
    caption = (
        f"{experiment}: per example, Shapiro-Wilk test of the IN and of the OUT models' values (identity query, "
        f"{keep.shape[1]} examples, {len(keep)} models); 95 % intervals from resampling the examples.\n\n"
    )
    files.write_text(outputs.normality_md, caption + _markdown(table))

    verdict, why = shape_verdict(summaries)
    ours = "; ".join(
        f"{SHAPE_STATISTICS[name]}: normality rejected for "
        f"{_interval(s['all']['rejected'], s['all']['rejected_low'], s['all']['rejected_high'], digits=1)} % of the "
        f"tests, median |skewness| {_interval(s['all']['median_abs_skew'], s['all']['median_abs_skew_low'], s['all']['median_abs_skew_high'], scale=1)}"
        for name, s in summaries.items()
    )  # fmt: skip
    finding = Finding(
        figure="Fig. 4",
        title="Shape of the per-example distributions",
        paper=(
            "Across shadow models, an example's confidence and cross-entropy loss are far from Gaussian (skewed, piled "
            "up near 1 and 0); after logit scaling the IN and OUT distributions are approximately Gaussian."
        ),
        ours=(
            f"{experiment}, {len(keep)} models ({len(keep) // 2} IN and {len(keep) // 2} OUT per example), "
            f"{keep.shape[1]} examples, identity query: {ours}."
        ),
        verdict=verdict,
        why=why,
        files=_relative([outputs.histograms_png, outputs.normality_md, outputs.normality_csv], outputs.finding),
    )
    write_finding(outputs.finding, finding)
    log.info("Fig. 4: %s (%s); examples %s", verdict, why, examples)
