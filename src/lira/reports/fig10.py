"""The paper's Fig. 10 at CPU scale (config grid.compare: fig10, config/paper/overlap.yaml): one
target population audited by offline LiRA with three sets of shadows, whose training data
overlaps the target's, is disjoint from it, or is disjoint and distribution-shifted. Per case the
audit's TPR at 0.1 % FPR and AUC with 95 % bootstrap intervals, the three log-log ROCs, and the
finding: do the paper's three claims hold on our intervals?"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lira.core import metrics
from lira.reports import plots
from lira.reports.findings import Finding, write_finding
from lira.reports.tables import markdown
from lira.workflow import artifacts, files

# The grid's points, by name, in the figure's order: what each case's shadows train on.
CASES = {
    "overlapping": "shadows on the target's part (overlapping)",
    "disjoint": "shadows on the other part (disjoint)",
    "shift": "disjoint and shifted (contrast, blur)",
}
FPR = 1e-3  # the paper's Fig. 10 reads the TPR at 0.1 % FPR
ATTACK = "lira_offline"  # every case's shadows are OUT for the target's examples in the paper


def case_numbers(result: dict) -> dict:
    """A case's audit metrics (metrics/<attack>.json) -> TPR at 0.1 % FPR and AUC, each
    (value, 95 % low, high), and the number of members and non-members scored."""
    label = f"tpr@{metrics.fpr_label(FPR)}"
    pooled, intervals = result["pooled"], result["bootstrap_95"]

    def triple(key):
        low, high = intervals.get(key) or (None, None)
        return tuple(float("nan") if v is None else float(v) for v in (pooled.get(key), low, high))

    return {"tpr": triple(label), "auc": triple("auc"), "members": pooled["members"], "non_members": pooled["non_members"]}


def _overlap(a: tuple, b: tuple) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def compare(numbers: dict) -> dict:
    """The paper's three claims on the cases' numbers (name -> case_numbers), each "holds",
    "contradicted" or "inconclusive" (the intervals cannot tell):
    same: overlapping and disjoint give the same power (their TPR and AUC intervals overlap);
    lower_tpr: shift's TPR at 0.1 % FPR lies below disjoint's (intervals apart);
    higher_auc: shift's AUC lies above disjoint's (intervals apart)."""
    over, dis, shift = numbers["overlapping"], numbers["disjoint"], numbers["shift"]
    same = "holds" if _overlap(over["tpr"], dis["tpr"]) and _overlap(over["auc"], dis["auc"]) else "contradicted"

    def ordered(low_case, high_case, key):
        if low_case[key][2] < high_case[key][1]:
            return "holds"
        if high_case[key][2] < low_case[key][1]:
            return "contradicted"
        return "inconclusive"

    return {"same": same, "lower_tpr": ordered(shift, dis, "tpr"), "higher_auc": ordered(dis, shift, "auc")}


def verdict(claims: dict) -> str:
    """agrees: every claim holds; differs: none holds and one is contradicted; partly agrees: some
    hold, others do not; does not reproduce at this scale: nothing contradicted but the shift's
    effects (lower TPR, higher AUC) both inconclusive."""
    states = list(claims.values())
    if all(state == "holds" for state in states):
        return "agrees"
    shift_states = [claims["lower_tpr"], claims["higher_auc"]]
    if "contradicted" not in states and all(state == "inconclusive" for state in shift_states):
        return "does not reproduce at this scale"
    if any(state == "holds" for state in states):
        return "partly agrees"
    return "differs"


def _pct(triple: tuple) -> str:
    value, low, high = triple
    return f"{100 * value:.2f} % [{100 * low:.2f}, {100 * high:.2f}]"


def _auc(triple: tuple) -> str:
    value, low, high = triple
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def finding(numbers: dict, shadows: dict) -> Finding:
    """The Finding of Fig. 10 from the cases' numbers; `shadows`: name -> shadow model count."""
    claims = compare(numbers)
    ours = "; ".join(
        f"{name}: TPR at 0.1 % FPR {_pct(n['tpr'])}, AUC {_auc(n['auc'])}" for name, n in numbers.items()
    )
    why = (
        f"overlapping = disjoint (TPR and AUC intervals overlap): {claims['same']}; shift's TPR below "
        f"disjoint's (intervals apart): {claims['lower_tpr']}; shift's AUC above disjoint's: {claims['higher_auc']}"
    )
    counts = sorted(set(shadows.values()))
    return Finding(
        figure="Fig. 10",
        title="Shadows overlapping, disjoint from, or shifted from the target's data (offline LiRA)",
        paper=(
            "CINIC-10, one target and 128 OUT shadows of 50,000 points each, offline LiRA: shadows sampled "
            "from all the data (overlapping the target's training set) and shadows disjoint from it give the "
            "same ROC; shadows trained on another distribution (target on CIFAR-10, shadows on CINIC-10's "
            "ImageNet part) lower the TPR at low FPR, yet the AUC is higher (unexplained)."
        ),
        ours=f"{ours} ({'/'.join(map(str, counts))} shadow models per case, Fashion-MNIST).",
        verdict=verdict(claims),
        why=why,
        files=["paper/fig10/fig10.csv", "paper/fig10/roc.png"],
    )


def write_fig10_report(inputs, outputs, cases: list[dict], label: str, log: logging.Logger) -> None:
    """Each case's audit metrics and scores of offline LiRA (inputs.metrics, inputs.attacks, in the
    order of `cases`: name, experiment, seed, shadow_models, pool) -> outputs.csv, outputs.markdown,
    outputs.png/pdf (the three ROCs) and outputs.finding (finding.json, finding.md beside it)."""
    numbers, curves, bands, shadows, candidates = {}, {}, {}, {}, {}
    for case, metrics_path, attack_path, pool_path in zip(cases, inputs.metrics, inputs.attacks, inputs.pools, strict=True):
        fingerprint = artifacts.expected_fingerprint(pool_path, case["seed"])
        result = artifacts.load_json(metrics_path, fingerprint, hashed=True)
        attack = artifacts.load_npz(attack_path, fingerprint)
        name = case["name"]
        numbers[name] = case_numbers(result)
        shadows[name] = case["shadow_models"]
        curves[CASES[name]] = metrics.roc_curve(attack["scores"], attack["is_member"])
        band = result["roc_band"]
        if band["tpr_low"][0] is not None:
            bands[CASES[name]] = tuple(np.asarray(band[key], dtype=float) for key in ("fpr", "tpr_low", "tpr_high"))
        candidates[name] = attack.get("candidates")
    check_same_candidates(candidates, inputs.attacks)
    rows = [
        {
            "case": name,
            "shadows": CASES[name],
            "shadow models": shadows[name],
            "members": n["members"],
            "non-members": n["non_members"],
            "TPR at 0.1 % FPR": n["tpr"][0],
            "TPR low": n["tpr"][1],
            "TPR high": n["tpr"][2],
            "AUC": n["auc"][0],
            "AUC low": n["auc"][1],
            "AUC high": n["auc"][2],
        }
        for name, n in numbers.items()
    ]
    table = pd.DataFrame(rows)
    with files.atomic_path(outputs.csv) as temporary:
        table.to_csv(temporary, index=False)
    shown = pd.DataFrame(
        [
            {"case": name, "shadows": CASES[name], "TPR at 0.1 % FPR": _pct(n["tpr"]), "AUC": _auc(n["auc"])}
            for name, n in numbers.items()
        ]
    )
    files.write_text(
        outputs.markdown,
        "# Fig. 10: shadows overlapping, disjoint, shifted (offline LiRA on the same targets)\n\n"
        + markdown(shown)
        + "\n\n![ROC](roc.png)\n",
    )
    plots.save(plots.roc_figure(curves, "Fig. 10: offline LiRA, one target population", bands), [outputs.png, outputs.pdf], label)
    result = finding(numbers, shadows)
    write_finding(outputs.finding, result)
    log.info("fig10: %s -> %s", {k: (v["tpr"], v["auc"]) for k, v in numbers.items()}, result.verdict)


def check_same_candidates(candidates: dict, paths) -> None:
    """Every case must score the very same examples (the target's part of the same pool)."""
    first_name, first = next(iter(candidates.items()))
    for (name, other), path in zip(candidates.items(), paths, strict=True):
        if (first is None) != (other is None) or (first is not None and not np.array_equal(first, other)):
            raise artifacts.ArtifactError(
                f"{Path(path)}: case {name} scores other examples than case {first_name}; the cases must share "
                "the target population and the pool (grid.compare: fig10)"
            )
