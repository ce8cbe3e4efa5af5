"""The metrics of every attack as one table, and the paper's Tables I-III, rendered as CSV,
Markdown and LaTeX (pandas)."""

from __future__ import annotations

import json
import math

import pandas as pd

from lira.core.metrics import fpr_label
from lira.reports import paper_numbers
from lira.workflow import artifacts, catalog, files
from lira.workflow.config import config_hash

NOT_MEASURABLE = "not measurable"
BELOW_RESOLUTION = "-"


def metrics_frame(results: list[dict]) -> pd.DataFrame:
    """One row per attack from the evaluate step's JSON: pooled metrics, 95 % bootstrap interval
    bounds (`*_ci_low`, `*_ci_high`), mean and std across targets, and the settings (JSON)."""
    rows = {}
    for result in results:
        row = dict(result["pooled"])
        for key, (low, high) in result["bootstrap_95"].items():
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = low, high
        for key, values in result["per_target"].items():
            measured = [v for v in values if v is not None and not math.isnan(v)]
            row[f"{key}_target_mean"] = sum(measured) / len(measured) if measured else math.nan
            row[f"{key}_target_std"] = pd.Series(measured, dtype=float).std(ddof=0) if measured else math.nan
        row["targets"] = result["targets"]
        row["min_fpr"] = result["min_fpr"]
        bound = result.get("epsilon_lower_bound") or {}
        row["epsilon_lower_bound"] = bound.get("epsilon", math.nan)
        row["epsilon_delta"] = bound.get("delta", math.nan)
        row["epsilon_gdp_estimate"] = (bound.get("gdp") or {}).get("epsilon", math.nan)
        row["settings"] = json.dumps(result["settings"], sort_keys=True)
        rows[result["attack"]] = row
    frame = pd.DataFrame.from_dict(rows, orient="index").astype({"settings": str})
    frame.index.name = "attack"
    return frame


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value) -> str:
    return "" if _is_missing(value) else f"{100 * value:.2f}"


def tpr_cell(row: pd.Series, fpr: float, interval: bool = True) -> str:
    """'3.70 [3.12, 4.31]' (TPR in percent, 95 % bootstrap interval), 'not measurable' below one
    negative, '-' below the attack's resolution (Ye's attack R)."""
    label = fpr_label(fpr)
    if fpr < row.get("min_fpr", 0.0):
        return BELOW_RESOLUTION
    tpr = row[f"tpr@{label}"]
    if _is_missing(tpr):
        return NOT_MEASURABLE
    text = percent(tpr)
    if interval and not _is_missing(row.get(f"tpr@{label}_ci_low")):
        text += f" [{percent(row[f'tpr@{label}_ci_low'])}, {percent(row[f'tpr@{label}_ci_high'])}]"
    return text


def auc_cell(row: pd.Series) -> str:
    text = f"{row['auc']:.4f}"
    if not _is_missing(row.get("auc_ci_low")):
        text += f" [{row['auc_ci_low']:.4f}, {row['auc_ci_high']:.4f}]"
    return text


def all_attacks_table(frame: pd.DataFrame, fprs, labels: dict[str, str]) -> pd.DataFrame:
    """Every attack: TPR at each FPR with interval and FPR achieved, AUC, balanced accuracy."""
    rows = []
    for name, row in frame.iterrows():
        cells = {"attack": labels.get(name, name), "name": name}
        for fpr in fprs:
            label = fpr_label(fpr)
            cells[f"TPR @ {label} FPR"] = tpr_cell(row, fpr)
            achieved = row[f"fpr_achieved@{label}"]
            cells[f"FPR achieved ({label})"] = "" if _is_missing(achieved) or fpr < row["min_fpr"] else percent(achieved)
        cells["AUC"] = auc_cell(row)
        cells["balanced acc. %"] = percent(row["balanced_accuracy"])
        cells["non-members"] = int(row["non_members"])
        cells["ε proved"] = "" if _is_missing(row.get("epsilon_lower_bound")) else f"{row['epsilon_lower_bound']:.2f}"
        gdp = row.get("epsilon_gdp_estimate")
        cells["ε GDP est."] = "" if _is_missing(gdp) else f"{gdp:.2f}"
        rows.append(cells)
    return pd.DataFrame(rows)


def table_1(frame: pd.DataFrame, labels: dict[str, str], dataset: str) -> pd.DataFrame:
    """The paper's Table I: TPR @ 0.001 % and 0.1 % FPR, balanced accuracy, AUC; the paper's own
    numbers beside ours on CIFAR-10/100."""
    ours = paper_numbers.TABLE_1.get(dataset, {})
    rows = []
    for name in catalog.TABLE_1:
        if name not in frame.index:
            continue
        row = frame.loc[name]
        cells = {
            "attack": labels[name],
            "TPR @ 0.001% FPR": tpr_cell(row, 1e-5),
            "TPR @ 0.1% FPR": tpr_cell(row, 1e-3),
            "balanced acc. %": percent(row["balanced_accuracy"]),
            "AUC": auc_cell(row),
        }
        if ours:
            numbers = ours.get(name, (None, None, None))
            cells["paper: TPR @ 0.001% / 0.1%, bal. acc."] = " / ".join("-" if v is None else f"{v}" for v in numbers)
        rows.append(cells)
    return pd.DataFrame(rows)


def table_2(frame: pd.DataFrame, labels: dict[str, str], dataset: str) -> pd.DataFrame:
    """The paper's Table II: the ablation paths, TPR @ 0.1 % FPR (and AUC) at each step."""
    ours = paper_numbers.TABLE_2.get(dataset, {})
    rows = []
    for path, names in catalog.TABLE_2.items():
        for step, name in enumerate(names):
            if name not in frame.index:
                continue
            row = frame.loc[name]
            cells = {"path": path, "step": labels[name] if step else path, "TPR @ 0.1% FPR": tpr_cell(row, 1e-3), "AUC": auc_cell(row)}
            if ours:
                cells["paper: TPR @ 0.1%"] = "-" if ours.get(name) is None else f"{ours[name]}"
            rows.append(cells)
    return pd.DataFrame(rows)


def table_3(frame: pd.DataFrame, by_count: dict[int, str], dataset: str) -> pd.DataFrame:
    """The paper's Table III: online LiRA with 1, 2, 18 (162) queries."""
    ours = paper_numbers.TABLE_3.get(dataset, {})
    rows = []
    for count, name in by_count.items():
        if name not in frame.index:
            continue
        row = frame.loc[name]
        cells = {"queries": count, "TPR @ 0.1% FPR": tpr_cell(row, 1e-3), "TPR @ 0.001% FPR": tpr_cell(row, 1e-5), "AUC": auc_cell(row)}
        if ours:
            cells["paper: TPR @ 0.1% / 0.001%"] = " / ".join(map(str, ours[count])) if count in ours else "-"
        rows.append(cells)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, caption: str = "") -> str:
    """A GitHub Markdown table, numbers right-aligned."""
    header = list(table.columns)
    # Text columns left-aligned; under pandas >= 3 their dtype is "str", not object.
    left = [c for c in header if c in ("attack", "path", "step", "name") and not pd.api.types.is_numeric_dtype(table[c])]
    align = ["---" if c in left else "---:" for c in header]
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join(align) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return (caption + "\n\n" if caption else "") + "\n".join(lines) + "\n"


def _latex_escape(text) -> str:
    text = str(text)
    for plain, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(plain, escaped)
    return text


def latex(table: pd.DataFrame, caption: str = "", label: str = "") -> str:
    """A booktabs LaTeX table (needs \\usepackage{booktabs})."""
    spec = "l" + "r" * (len(table.columns) - 1)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(_latex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_escape(v) for v in row) + r" \\" for row in table.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def recipe_guarantee(models_paths, fingerprint: str) -> dict | None:
    """What the shadow models' recipe guarantees, as models/<block>.json record it
    (lira.models.dp_sgd): the dp settings and epsilon, or None for a recipe without DP-SGD."""
    for path in models_paths:
        for model in artifacts.load_json(path, fingerprint).get("models", []):
            return model.get("privacy")
    return None


def epsilon_note(guarantee: dict | None, delta: float) -> str:
    """The caption's sentence on epsilon: what each attack proves next to what the recipe guarantees."""
    proved = (
        f"'ε proved': the epsilon each attack's scores prove at δ = {delta:g} with 95 % confidence, a lower bound "
        "for this attack on these data, not an audit of the training; 'ε GDP est.': the estimate if the training "
        "is Gaussian-DP, which says more by assuming more (docs/privacy.md)"
    )
    if guarantee is None:
        return f"{proved}; the recipe has no DP-SGD and guarantees nothing (ε = ∞)."
    sigma, clip = guarantee["noise_multiplier"], guarantee["max_grad_norm"]
    epsilon = "∞ (no noise)" if guarantee["epsilon"] is None else f"{guarantee['epsilon']:.3g}"
    return f"{proved}; the recipe, DP-SGD with σ = {sigma:g} and C = {clip:g}, guarantees ε = {epsilon} at δ = {guarantee['delta']:g}."


def write_tables(inputs, outputs, config: dict, dataset: str, experiment: str, fprs, seed: int, log) -> None:
    """The tables job: metrics/*.json (inputs.metrics) -> metrics.csv/.md (outputs.csv, .markdown)
    and Tables I-III as CSV, Markdown and LaTeX (outputs.table{1,2,3}_{csv,md,tex}), with
    tables/settings.json (outputs.settings). `config` names the attacks and labels the tables."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    results = [artifacts.load_json(path, fingerprint, hashed=True) for path in inputs.metrics]  # content hash checked
    frame = metrics_frame(results)
    attacks = catalog.attacks(config)
    labels = {name: attack.label for name, attack in attacks.items()}
    # Table II's step labels ("+ Gaussian") need their path to make sense on their own.
    full_labels = {name: f"{labels[name]} [{name}]" for name in labels}
    # Which config made these tables (read, not a rule parameter: a label must not rerun anything).
    made_by = f"config {config_hash(config)}"
    settings = {result["attack"]: result["settings"] for result in results}
    lira = settings.get("lira_online", {})
    note = (
        f"Experiment `{experiment}` ({made_by}), {frame['targets'].iloc[0]} targets pooled (each attacked by the models outside its pair), "
        f"{int(frame['non_members'].iloc[0])} non-members; TPR in % with 95 % bootstrap interval; "
        f"LiRA: statistic {lira.get('statistic')}, centre {lira.get('centre')}; offline test "
        f"{settings.get('lira_offline', {}).get('offline_test')}. 'not measurable': FPR below one "
        "non-member; '-': below the attack's resolution."
    )

    with files.atomic_path(outputs.csv) as temporary:
        frame.to_csv(temporary, float_format="%.6g")
    all_attacks = all_attacks_table(frame, fprs, full_labels)
    deltas = frame["epsilon_delta"].dropna()
    guarantee = recipe_guarantee(inputs.models, fingerprint)
    proved = f" {epsilon_note(guarantee, float(deltas.iloc[0]))}" if len(deltas) else ""
    files.write_text(outputs.markdown, markdown(all_attacks, note + proved))

    made = {
        "table1": (table_1(frame, labels, dataset), "Table I: attacks compared at low FPR"),
        "table2": (table_2(frame, labels, dataset), "Table II: what makes LiRA work (ablation paths)"),
        "table3": (table_3(frame, catalog.table_3(config), dataset), "Table III: online LiRA by number of queries"),
    }
    for key, (table, title) in made.items():
        csv_path, markdown_path, latex_path = (outputs[f"{key}_{kind}"] for kind in ("csv", "md", "tex"))
        with files.atomic_path(csv_path) as temporary:
            table.to_csv(temporary, index=False)
        files.write_text(markdown_path, markdown(table, f"**{title}.** {note}"))
        files.write_text(latex_path, latex(table, f"{title}. {note}", label=f"tab:{key}"))
    files.write_json(
        outputs.settings,
        {"experiment": experiment, "config_hash": config_hash(config), "fingerprint": fingerprint, "attacks": settings,
         **({"privacy": guarantee} if guarantee else {})},  # fmt: skip
    )
    log.info("\n%s", all_attacks.to_string())
