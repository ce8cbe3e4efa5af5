"""A cross grid's report (docs/grids.md, grid.cross): the paper's Fig. 11 (TPR at 0.1 % FPR of
each target configuration attacked with each shadow configuration) and Figs. 22-24 (their ROCs),
and, for any grid, Figs. 7 and 16 (the matched attack's TPR against the models' train-test gap
and test accuracy), each with its finding (lira.reports.findings)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from lira.core import metrics
from lira.reports import plots
from lira.reports.findings import Finding, write_finding
from lira.reports.tables import markdown
from lira.workflow import artifacts, catalog, files
from lira.workflow.cross_attack import pair_key

# The FPR of the paper's Figs. 7, 11 and 16.
FIG_FPR = 0.001
FIG_LABEL = metrics.fpr_label(FIG_FPR)


def _percent(value, low=None, high=None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measurable"
    text = f"{100 * value:.2f}"
    if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
        text += f" [{100 * low:.2f}, {100 * high:.2f}]"
    return text


def pair_metrics(scores: np.ndarray, is_member: np.ndarray, resamples: int, seed: int) -> dict:
    """TPR at 0.1 % FPR and AUC of one pair's pooled scores [T, pool], with 95 % bootstrap intervals."""
    row = metrics.summarise(scores, is_member, [FIG_FPR])
    intervals, _ = metrics.bootstrap(scores, is_member, [FIG_FPR], resamples, seed, np.array([1.0]))
    low, high = intervals.get(f"tpr@{FIG_LABEL}", (math.nan, math.nan))
    auc_low, auc_high = intervals.get("auc", (math.nan, math.nan))
    tpr = row[f"tpr@{FIG_LABEL}"]
    return {
        "tpr": math.nan if tpr is None else tpr,
        "low": math.nan if low is None else low,
        "high": math.nan if high is None else high,
        "auc": row["auc"],
        "auc_low": math.nan if auc_low is None else auc_low,
        "auc_high": math.nan if auc_high is None else auc_high,
        "floor": 1.0 / row["non_members"],
    }


def write_cross_report(cross_path, pool_path, outputs, points: list[dict], pairs, resamples: int, attack: str,
                       experiment: str, log: logging.Logger) -> None:  # fmt: skip
    """cross.npz -> cross.csv (a row per pair), cross.md (a matrix per panel: TPR at 0.1 % FPR,
    targets by rows, shadows by columns), cross.{png,pdf} (Fig. 11), cross_roc.{png,pdf} (Figs.
    22-24) and the finding paper/fig11/finding.json."""
    by_name = {point["name"]: point for point in points}
    seed = points[0]["seed"]
    fingerprint = artifacts.expected_fingerprint(pool_path, seed)
    arrays = artifacts.load_npz(cross_path, fingerprint)
    rows, rocs = [], {}
    for target, shadow in pairs:
        scores, is_member = arrays[pair_key(target, shadow)], arrays[f"is_member.{target}"]
        panel = by_name[target]["panel"]
        numbers = pair_metrics(scores, is_member, resamples, seed)
        rows.append({"panel": panel, "target": by_name[target]["label"], "shadow": by_name[shadow]["label"],
                     "target point": target, "shadow point": shadow, "matched": target == shadow, **numbers})  # fmt: skip
        roc = metrics.roc_curve(scores, is_member)
        rocs.setdefault(panel, {}).setdefault(by_name[target]["label"], {})[by_name[shadow]["label"]] = roc
    table = pd.DataFrame(rows)
    with files.atomic_path(outputs.csv) as temporary:
        table.to_csv(temporary, index=False)
    files.write_text(outputs.markdown, cross_markdown(table, experiment, attack))
    title = f"Grid {experiment}: {catalog.attack_label(attack)}, target vs shadow configuration"
    plots.save(plots.cross_figure(table, FIG_LABEL, title), [outputs.png, outputs.pdf], f"grid {experiment}")
    plots.save(plots.cross_roc_figure(rocs, title), [outputs.roc_png, outputs.roc_pdf], f"grid {experiment}")
    write_finding(outputs.finding, cross_finding(table, outputs))
    log.info("\n%s", table.to_string())


def cross_markdown(table: pd.DataFrame, experiment: str, attack: str) -> str:
    """A matrix per panel: targets by rows, shadows by columns, TPR at 0.1 % FPR (%) with its
    95 % interval; the matched guess in bold."""
    parts = [
        (
            f"**Grid {experiment}, cross attack.** {catalog.attack_label(attack)}: each target configuration's models "
            f"(rows) attacked with each shadow configuration's models (columns); TPR (%) at {FIG_LABEL} FPR with 95 % "
            "bootstrap interval, the matched guess in bold (the paper's Fig. 11)."
        ),
        "",
    ]
    for panel, part in table.groupby("panel", sort=False):
        shadows = list(dict.fromkeys(part["shadow"]))
        matrix = []
        for target, mine in part.groupby("target", sort=False):
            cells = {row.shadow: _percent(row.tpr, row.low, row.high) for row in mine.itertuples()}
            cells = {s: (f"**{v}**" if s == target else v) for s, v in cells.items()}
            matrix.append({"target \\ shadows": target, **{s: cells.get(s, "") for s in shadows}})
        if panel:
            parts += [f"#### {panel}", ""]
        parts += [markdown(pd.DataFrame(matrix)), ""]
    return "\n".join(parts)


def _penalties(part: pd.DataFrame) -> list[float]:
    """Per mismatched pair, how many times the matched guess's TPR its TPR is (matched / mismatched)."""
    matched = part[part["matched"]].set_index("target")["tpr"]
    values = []
    for row in part[~part["matched"]].itertuples():
        if row.tpr > 0 and matched.get(row.target, 0) > 0:
            values.append(float(matched[row.target] / row.tpr))
    return values


def cross_finding(table: pd.DataFrame, outputs) -> Finding:
    """The paper's Fig. 11 beside ours. The verdict: is the matched guess the best (or tied with
    the best within its 95 % interval) for every target configuration (agrees), for at least half
    (partly), or fewer (differs); does guessing the augmentation wrong cost more than guessing the
    optimizer wrong (where both panels exist)."""
    targets = table.groupby(["panel", "target"], sort=False)
    best_or_tied, measurable = 0, 0
    for _, part in targets:
        matched = part[part["matched"]].iloc[0]
        if not matched["high"] > 0:
            continue
        measurable += 1
        best_or_tied += bool(part["tpr"].max() <= matched["high"])
    penalty = {panel: _penalties(part) for panel, part in table.groupby("panel", sort=False)}
    geometric = {panel: float(np.exp(np.mean(np.log(v)))) for panel, v in penalty.items() if v}
    ours = [
        (
            f"The matched guess is the best or within its 95 % interval of the best for {best_or_tied} of {measurable} "
            f"target configurations with a measurable TPR at {FIG_LABEL} FPR ({len(targets)} in all)."
        )
    ]
    ours += [f"Panel {panel or 'all'}: matched / mismatched TPR = {value:.2f}x (geometric mean over mismatched pairs)."
             for panel, value in geometric.items()]  # fmt: skip
    for panel, part in table.groupby("panel", sort=False):
        matched = part[part["matched"]]
        ours.append(f"Panel {panel or 'all'}, matched TPR (%) per target: "
                    + "; ".join(f"{r.target} {_percent(r.tpr, r.low, r.high)}" for r in matched.itertuples()))  # fmt: skip
    if measurable == 0:
        verdict, why = "does not reproduce at this scale", f"no target configuration has a measurable TPR at {FIG_LABEL} FPR"
    else:
        share = best_or_tied / measurable
        verdict = "agrees" if share == 1 else "partly agrees" if share >= 0.5 else "differs"
        why = f"matched best or tied for {best_or_tied}/{measurable} targets"
        if "augmentation" in geometric and "optimizer" in geometric:
            ordered = geometric["augmentation"] > geometric["optimizer"]
            why += f"; mismatched augmentation costs {'more' if ordered else 'less'} than a mismatched optimizer"
            if verdict == "agrees" and not ordered:
                verdict = "partly agrees"
    return Finding(
        figure="Fig. 11 (Figs. 22-24)",
        title="The attacker's guess of the target's training procedure",
        paper=(
            "64 shadow models, online LiRA with global variance, CIFAR-10, TPR at 0.1 % FPR: the attack is best when the "
            "shadows' architecture, optimizer and augmentation match the target's; a near-neighbour architecture costs "
            "little and within a family larger models are more vulnerable; the optimizer has minimal effect; guessing the "
            "augmentation right matters most, and stronger augmentation makes the target harder to attack."
        ),
        ours=" ".join(ours),
        verdict=verdict,
        why=why,
        files=[_relative(outputs.markdown), _relative(outputs.png), _relative(outputs.roc_png)],
    )


def _relative(path) -> str:
    """A path relative to its experiment's results folder (results/<experiment>/...)."""
    parts = Path(path).parts
    return str(Path(*parts[2:])) if len(parts) > 2 and parts[0] == "results" else str(path)


# --- Figs. 7 and 16: vulnerability against overfitting and accuracy ------------------------------


def point_accuracies(models: list[dict], logits_infos: list[dict]) -> tuple[float, float, str]:
    """(train accuracy, test accuracy, where the test accuracy comes from) of a point's models:
    accuracy on their members, and on the data.holdout_size test images if any, else on the
    pool's non-members (both from the logits' sidecars, models/<block>.json for the holdout)."""
    train = [a for info in logits_infos for a in info["train_accuracy"]]
    holdout = [m["holdout_accuracy"] for m in models if m.get("holdout_accuracy") is not None]
    if holdout:
        return float(np.mean(train)), float(np.mean(holdout)), "test set"
    nonmember = [a for info in logits_infos for a in info["nonmember_accuracy"]]
    return float(np.mean(train)), float(np.mean(nonmember)), "pool non-members"


def write_gap_report(inputs, outputs, points: list[dict], attack: str, experiment: str, log: logging.Logger) -> None:
    """Every point's metrics/<attack>.json and models' accuracies -> gap.csv and gap.{png,pdf}
    (Figs. 7 and 16), and, where `outputs` has them, the findings paper/fig7 and paper/fig16."""
    rows = []
    for index, point in enumerate(points):
        prefix = f"results/{point['experiment']}/"
        fingerprint = artifacts.expected_fingerprint(inputs.pools[index], point["seed"])
        result = artifacts.load_json(inputs.metrics[index], fingerprint, hashed=True)
        models = [m for p in inputs.models if str(p).startswith(prefix) for m in artifacts.load_json(p, fingerprint).get("models", [])]
        infos = [artifacts.load_json(p, fingerprint) for p in inputs.logits if str(p).startswith(prefix)]
        train, test, source = point_accuracies(models, infos)
        low, high = result["bootstrap_95"].get(f"tpr@{FIG_LABEL}", (None, None))
        tpr = result["pooled"].get(f"tpr@{FIG_LABEL}")
        rows.append({
            "point": point["name"], "panel": point["panel"], "label": point["label"],
            "train_accuracy": train, "test_accuracy": test, "test_accuracy_on": source, "gap": train - test,
            "tpr": math.nan if tpr is None else tpr, "low": math.nan if low is None else low,
            "high": math.nan if high is None else high, "auc": result["pooled"]["auc"],
            "floor": 1.0 / result["pooled"]["non_members"],
        })  # fmt: skip
    table = pd.DataFrame(rows)
    with files.atomic_path(outputs.csv) as temporary:
        table.to_csv(temporary, index=False)
    title = f"Grid {experiment}: {catalog.attack_label(attack)} against overfitting and accuracy"
    plots.save(plots.gap_figure(table, FIG_LABEL, title), [outputs.png, outputs.pdf], f"grid {experiment}")
    if hasattr(outputs, "fig7"):  # a cross grid's outputs
        files_ = [_relative(outputs.csv), _relative(outputs.png)]
        write_finding(outputs.fig7, trend_finding(table, "gap", FIG7, files_))
        write_finding(outputs.fig16, trend_finding(table, "test_accuracy", FIG16, files_))
    log.info("\n%s", table.to_string())


FIG7 = {
    "figure": "Fig. 7",
    "title": "Vulnerability against the train-test gap",
    "paper": (
        "CIFAR-10 models of many training configurations (those of Fig. 11), online LiRA at 0.1 % FPR: more overfit "
        "models tend to be more vulnerable, but models with the same train-test gap differ up to ~100x in TPR."
    ),
    "what": "train-test accuracy gap",
}
FIG16 = {
    "figure": "Fig. 16",
    "title": "Vulnerability against test accuracy",
    "paper": "More accurate models are more vulnerable: TPR at 0.1 % FPR grows with test accuracy across training configurations.",
    "what": "test accuracy",
}


def trend_finding(table: pd.DataFrame, column: str, claim: dict, files_: list[str]) -> Finding:
    """Does the TPR at 0.1 % FPR grow with `column` across the grid's points? Spearman's rank
    correlation and its p-value decide: positive at p < 0.05 agrees, positive otherwise partly
    agrees, negative at p < 0.05 differs, else (or under 4 points) no conclusion at this scale.
    Ours also names the largest TPR ratio between two points whose gaps lie within 2 points."""
    usable = table[np.isfinite(table["tpr"].to_numpy(float))]
    lines = [f"{r.label}: {claim['what']} {100 * getattr(r, column):.1f} %, TPR {_percent(r.tpr, r.low, r.high)} %"
             for r in usable.itertuples()]  # fmt: skip
    if len(usable) < 4 or usable["tpr"].nunique() < 2:
        return Finding(claim["figure"], claim["title"], claim["paper"], "; ".join(lines) or "no measurable TPR",
                       "does not reproduce at this scale", "fewer than 4 points with distinct measurable TPRs", files_)  # fmt: skip
    rho, p = stats.spearmanr(usable[column], usable["tpr"])
    ours = f"Spearman's rho between {claim['what']} and TPR at {FIG_LABEL} FPR over {len(usable)} configurations: {rho:.2f} (p = {p:.3g}). "
    if column == "gap":
        ratio = _largest_ratio_at_equal_gap(usable)
        if ratio:
            ours += f"Largest TPR ratio between two configurations with gaps within 2 points: {ratio:.1f}x. "
    ours += "; ".join(lines) + "."
    if rho > 0 and p < 0.05:
        verdict = "agrees"
    elif rho > 0:
        verdict = "partly agrees"
    elif p < 0.05:
        verdict = "differs"
    else:
        verdict = "does not reproduce at this scale"
    why = f"rank correlation {rho:+.2f}, p = {p:.3g} (positive at p < 0.05: agrees; positive: partly)"
    return Finding(claim["figure"], claim["title"], claim["paper"], ours, verdict, why, files_)


def _largest_ratio_at_equal_gap(table: pd.DataFrame) -> float | None:
    best = None
    values = list(zip(table["gap"], table["tpr"]))
    for i, (gap_a, tpr_a) in enumerate(values):
        for gap_b, tpr_b in values[i + 1 :]:
            if abs(gap_a - gap_b) <= 0.02 and min(tpr_a, tpr_b) > 0:
                ratio = max(tpr_a, tpr_b) / min(tpr_a, tpr_b)
                best = ratio if best is None else max(best, ratio)
    return best
