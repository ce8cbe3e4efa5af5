"""The audit's report (docs/audit.md): what the scores of a model outside the shadow population
mean, with or without its membership.

Calibration. A score alone says little; the shadows say what it means. Each audit attack also
runs on the shadows themselves (leave-pair-out, results/<experiment>/attacks/<attack>.npz), whose
membership is known: at each configured FPR the threshold above which that fraction of the
shadows' non-members score is the calibrated threshold, and the fraction of their members above
it is the power the attack has on models like them. Applied to the target, it says how many of
its examples score beyond it; if the target leaks like its shadows, about FPR x its non-members
of those are there by chance, the rest are exposed members. With the target's membership, its
actual FPR and TPR at that threshold are reported, and its own ROC (metrics/<attack>.json) next
to the shadows' (the matched case).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lira.core import metrics
from lira.reports import plots
from lira.workflow import artifacts, catalog, files

# The attack the ranking and the headline use: the paper's strongest; offline LiRA where the
# online attacks are undefined (shadows on another part of the pool than the target's).
HEADLINE = "lira_online"
OFFLINE_HEADLINE = "lira_offline"


def _scores(path, fingerprint: str) -> tuple[np.ndarray, np.ndarray | None]:
    """scores float64 [T, pool] and is_member bool [T, pool] (None: unknown) of an attack file."""
    arrays = artifacts.load_npz(path, fingerprint)
    scores = artifacts.check_array(path, "scores", arrays["scores"], (None, None))
    is_member = arrays.get("is_member")
    if is_member is not None:
        artifacts.check_array(path, "is_member", is_member, scores.shape)
    return scores, is_member


def calibration_rows(name: str, shadow, target, fprs, matched: dict, audited: dict | None) -> list[dict]:
    """One row per FPR: the threshold the shadows' own scores calibrate (shadow: scores, is_member
    [Ts, pool]), the shadows' FPR and TPR there, how many of the target's scores lie beyond it
    (target: scores, is_member or None [T, pool]) and the false ones expected by chance, the
    target's FPR and TPR there (membership known), and the ROC metrics of the target (audited)
    and of the shadows (matched) at that FPR."""
    shadow_scores, shadow_member = shadow
    target_scores, target_member = target
    rows = []
    for fpr in fprs:
        label = metrics.fpr_label(fpr)
        threshold, shadow_fpr = metrics.calibrated_threshold(shadow_scores[~shadow_member], fpr)
        row = {"attack": name, "label": catalog.attack_label(name), "fpr": fpr, "threshold": threshold}
        if threshold is not None:
            beyond = target_scores > threshold
            non_members = int((~target_member).sum()) if target_member is not None else target_scores.size
            row.update(
                shadow_fpr=shadow_fpr,
                shadow_tpr=float(np.mean(shadow_scores[shadow_member] > threshold)),
                examples=int(target_scores.size),
                beyond_threshold=int(beyond.sum()),
                # Without membership every example might be a non-member: an upper bound.
                expected_by_chance=fpr * non_members,
            )
            if target_member is not None:
                row.update(
                    target_fpr=float(beyond[~target_member].mean()),
                    target_tpr=float(beyond[target_member].mean()),
                )
        if audited is not None:
            row.update(
                target_auc=audited["pooled"]["auc"],
                target_tpr_at_fpr=audited["pooled"].get(f"tpr@{label}"),
                target_tpr_low=audited["bootstrap_95"].get(f"tpr@{label}", [None, None])[0],
                target_tpr_high=audited["bootstrap_95"].get(f"tpr@{label}", [None, None])[1],
            )
        row.update(matched_auc=matched["pooled"]["auc"], matched_tpr_at_fpr=matched["pooled"].get(f"tpr@{label}"))
        rows.append(row)
    return rows


def ranking(
    scores: np.ndarray, is_member: np.ndarray | None, pool: dict, thresholds: dict, candidates=None
) -> pd.DataFrame:
    """Every (target, example) ranked by the headline attack's score, most exposed first: rank,
    target, pool_index, source_index (in the dataset's training split), label, score, member (if
    known) and, per FPR with a calibrated threshold, whether the score lies beyond it. scores
    [T, pool], or [T, C] for the pool examples `candidates` (int [C], a target on one part)."""
    n_targets, n = scores.shape
    pool_index = np.arange(n) if candidates is None else np.asarray(candidates)
    table = pd.DataFrame(
        {
            "target": np.repeat(np.arange(n_targets), n),
            "pool_index": np.tile(pool_index, n_targets),
            "source_index": np.tile(pool["source_index"][pool_index], n_targets),
            "label": np.tile(pool["y"][pool_index], n_targets),
            "score": scores.ravel(),
        }
    )
    if is_member is not None:
        table["member"] = is_member.ravel()
    for label, threshold in thresholds.items():
        table[f"beyond_fpr_{label}"] = table["score"] > threshold
    table = table.sort_values(["score", "target", "pool_index"], ascending=[False, True, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _percent(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * value:.2f} %"


def headline(rows: list[dict], description: dict, has_membership: bool) -> list[str]:
    """The report's statements, one per calibrated FPR of the headline attack."""
    lines = []
    for row in rows:
        if row["threshold"] is None:
            lines.append(
                f"- At {row['fpr'] * 100:.4g} % FPR: not calibrated (the shadows' leave-pair-out evaluation has fewer "
                f"than {1 / row['fpr']:.0f} non-member scores)."
            )
            continue
        text = (
            f"- At {row['fpr'] * 100:.4g} % FPR: the shadows put the threshold at {row['threshold']:.4g} (their "
            f"non-members exceed it {_percent(row['shadow_fpr'])} of the time, their members "
            f"{_percent(row['shadow_tpr'])}). **{row['beyond_threshold']} of the target's {row['examples']} "
            f"examples score beyond it**; about {row['expected_by_chance']:.1f} of those are expected by chance "
            f"{'(its non-members times the FPR)' if has_membership else '(at most: every example times the FPR)'}."
        )
        if has_membership:
            text += (
                f" On the target itself: FPR {_percent(row['target_fpr'])} (calibrated: {row['fpr'] * 100:.4g} %), "
                f"TPR {_percent(row['target_tpr'])}."
            )
        lines.append(text)
    return lines


def write_audit_report(
    inputs, outputs, name: str, experiment: str, fprs, seed: int, label: str, log: logging.Logger
) -> None:
    """audits/<name>/: summary.csv (calibration_rows of every audit attack), most_exposed.csv
    (ranking by LiRA online), report.md (the statements, the table, the top of the ranking) and
    scores.{png,pdf} (plots.audit_figure; `label` names the experiment and config in its footer)."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    pool = artifacts.load_pool(inputs.pool)
    targets = artifacts.load_npz(inputs.targets, fingerprint)
    description = json.loads(str(targets["description"]))
    has_membership = "is_member" in targets
    audited = {path: artifacts.load_json(path, fingerprint, hashed=True) for path in inputs.metrics}
    rows, headline_scores, headline_shadows = [], None, None
    names = [Path(path).stem for path in inputs.attacks]
    headline_name = HEADLINE if HEADLINE in names else OFFLINE_HEADLINE
    for attack_path, shadow_path, matched_path in zip(inputs.attacks, inputs.shadow_attacks, inputs.shadow_metrics, strict=True):
        attack = Path(attack_path).stem
        target = _scores(attack_path, fingerprint)
        matched = artifacts.load_json(matched_path, fingerprint, hashed=True)
        own = next((value for path, value in audited.items() if Path(path).stem == attack), None)
        shadow = _scores(shadow_path, fingerprint)
        rows += calibration_rows(attack, shadow, target, fprs, matched, own)
        if attack == headline_name:
            headline_scores, headline_shadows = target, shadow
    summary = pd.DataFrame(rows)
    with files.atomic_path(outputs.summary) as temporary:
        summary.to_csv(temporary, index=False)

    first = [row for row in rows if row["attack"] == headline_name]
    thresholds = {metrics.fpr_label(row["fpr"]): row["threshold"] for row in first if row["threshold"] is not None}
    candidates = artifacts.load_npz(inputs.attacks[names.index(headline_name)], fingerprint).get("candidates")
    ranked = ranking(*headline_scores, pool, thresholds, candidates)
    with files.atomic_path(outputs.ranking) as temporary:
        ranked.to_csv(temporary, index=False)
    rocs = None
    if has_membership:
        rocs = {
            "this target": metrics.roc_curve(*headline_scores),
            "the shadows (matched)": metrics.roc_curve(*headline_shadows),
        }
    title = f"Audit {name}: {catalog.attack_label(headline_name)}"
    plots.save(plots.audit_figure(headline_shadows, headline_scores, thresholds, rocs, title), [outputs.png, outputs.pdf], label)

    form = description["form"]
    source = {"population": f"a population of {description['models']} models trained by the workflow (seed "
              f"{description.get('seed')})", "weights": f"weights {description.get('weights')}",
              "logits": f"logits {description.get('logits')}"}[form]  # fmt: skip
    lines = [
        f"# Audit {name} (experiment {experiment})",
        "",
        (
            f"Target: {source}; membership {'known' if has_membership else 'unknown (an audit without ground truth)'}."
            f" Declared differences from the shadows: {', '.join(description['mismatch_declared']) or 'none'}."
        ),
        "",
        f"## {catalog.attack_label(headline_name)}",
        "",
        *headline(first, description, has_membership),
        "",
        "## Every attack",
        "",
        _markdown(summary, has_membership),
        "",
        f"## The {min(20, len(ranked))} most exposed examples ({catalog.attack_label(headline_name)})",
        "",
        _markdown_table(ranked.head(20)),
        "",
        "![scores](scores.png)",
        "",
        (
            "Thresholds come from the shadows' own leave-pair-out scores (each shadow attacked with N - 2 shadows; "
            "the target is attacked with all N). The full ranking is most_exposed.csv; every number, summary.csv."
        ),
    ]
    files.write_text(outputs.report, "\n".join(lines) + "\n")
    log.info("audit %s: %d rows, %d ranked examples", name, len(summary), len(ranked))


def _markdown(summary: pd.DataFrame, has_membership: bool) -> str:
    columns = ["label", "fpr", "threshold", "shadow_tpr", "beyond_threshold", "expected_by_chance"]
    if has_membership:
        columns += ["target_fpr", "target_tpr", "target_auc", "target_tpr_at_fpr", "matched_auc", "matched_tpr_at_fpr"]
    else:
        columns += ["matched_auc", "matched_tpr_at_fpr"]
    return _markdown_table(summary.reindex(columns=columns))


def _markdown_table(table: pd.DataFrame) -> str:
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(cell(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])
