"""The paper's white-box experiment (Fig. 15) and its Table I baselines Long et al. and MERLIN:
scores from the whitebox rules' outputs and the cached statistics, tables, the ROC figure and the
findings (lira.reports.findings), each verdict decided from our bootstrap intervals."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lira.core import baselines, metrics, splits
from lira.core.queries import query_set
from lira.reports import paper_numbers, plots
from lira.reports.findings import Finding, write_finding
from lira.workflow import artifacts, files

LOW_FPR = 0.001  # the paper's headline FPR, 0.1 %
LOW = f"tpr@{metrics.fpr_label(LOW_FPR)}"

FIG15_LABELS = {
    "lira_logits": "LiRA online, logit-scaled confidence",
    "lira_gradient": "LiRA online, -log gradient norm",
    "global_loss": "Global threshold, loss",
    "global_gradient": "Global threshold, gradient norm",
}
# The paper's Fig. 15 (CIFAR-10), AUC.
FIG15_PAPER_AUC = {"lira_logits": 0.711, "lira_gradient": 0.724, "global_loss": 0.576, "global_gradient": 0.601}

BASELINE_LABELS = {
    "global_threshold": "Yeom et al. (LOSS)",
    "long": "Long et al.",
    "merlin": "Jayaraman et al. (MERLIN)",
    "lira_online": "LiRA online",
}
# The paper's Table I, in %: (TPR @ 0.001 % FPR, TPR @ 0.1 % FPR, balanced accuracy).
PAPER_BASELINES = {
    "cifar10": {"merlin": (0.0, 0.0, 59.4), "long": (0.0, 2.2, 53.5)},
    "cifar100": {"merlin": (0.0, 0.0, 76.9), "long": (0.0, 4.7, 54.5)},
}


def _fprs(fprs) -> list[float]:
    return sorted({float(fpr) for fpr in fprs} | {LOW_FPR})


def _blocks(paths, info_paths, fingerprint: str, name: str, n: int, expected_models) -> np.ndarray:
    """The per-block arrays [models, n] stacked in model order, checked to cover `expected_models`."""
    arrays, models = [], []
    for path, info_path in zip(paths, info_paths, strict=True):
        array, info = artifacts.load_array_with_info(path, info_path, fingerprint, name)
        if array.ndim != 2 or array.shape != (len(info.get("models", [])), n):
            raise artifacts.ArtifactError(f"{path}: expected {name} [models, {n}], got {list(array.shape)}")
        arrays.append(array)
        models += info["models"]
    if models != list(expected_models):
        raise artifacts.ArtifactError(f"{paths[0]}...: {name} of models {models}, expected {list(expected_models)}")
    return np.concatenate(arrays)


def _cell(value, low_high, percent: bool, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measurable"
    scale = 100.0 if percent else 1.0
    low, high = low_high
    text = f"{value * scale:.{digits}f}"
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
    return text


def _difference(samples: dict, a: str, b: str, key: str) -> list[float]:
    """95 % interval of metric `key` of attack a minus attack b over the paired resamples."""
    return baselines.interval(samples[a][key] - samples[b][key])


# --- Fig. 15 ----------------------------------------------------------------------------------------


def fig15_scores(norms: np.ndarray, confidence: np.ndarray, loss: np.ndarray, keep: np.ndarray, n_targets: int) -> dict:
    """The four attacks of Fig. 15, scores [T, n] each: norms [N, n] (gradient norms), confidence
    and loss [N, n] (identity query), keep [N, n]."""
    return {
        "lira_logits": baselines.lira_online_pair_out(np.asarray(confidence)[..., None], keep, n_targets),
        "lira_gradient": baselines.lira_online_pair_out(baselines.negative_log_norm(norms)[..., None], keep, n_targets),
        "global_loss": -np.asarray(loss[:n_targets], dtype=np.float64),
        "global_gradient": -np.asarray(norms[:n_targets], dtype=np.float64),
    }


def fig15_verdict(rows: dict, samples: dict) -> tuple[str, str, dict]:
    """The paper's three claims tested on paired bootstrap intervals of the differences: the
    gradient norm raises the AUC of LiRA and of the global threshold (interval above 0), and gives
    LiRA no gain at 0.1 % FPR (interval of the TPR difference reaching 0 or below). All three:
    agrees; some: partly agrees; none: differs. Returns (verdict, why, differences)."""
    differences = {
        "lira_auc": _difference(samples, "lira_gradient", "lira_logits", "auc"),
        "global_auc": _difference(samples, "global_gradient", "global_loss", "auc"),
        "lira_low_fpr": _difference(samples, "lira_gradient", "lira_logits", LOW),
    }
    claims = {
        "LiRA's AUC higher on the gradient norm": differences["lira_auc"][0] > 0,
        "the global threshold's AUC higher on the gradient norm": differences["global_auc"][0] > 0,
        "no gain for LiRA at 0.1 % FPR": not differences["lira_low_fpr"][0] > 0,
    }
    held = [claim for claim, holds in claims.items() if holds]
    verdict = "agrees" if len(held) == len(claims) else "partly agrees" if held else "differs"
    why = (
        "paired bootstrap 95 % intervals of the differences (gradient minus logits): "
        f"LiRA AUC {differences['lira_auc'][0]:+.4f} to {differences['lira_auc'][1]:+.4f}, "
        f"global-threshold AUC {differences['global_auc'][0]:+.4f} to {differences['global_auc'][1]:+.4f}, "
        f"LiRA TPR @ 0.1 % FPR {differences['lira_low_fpr'][0] * 100:+.2f} to {differences['lira_low_fpr'][1] * 100:+.2f} points; "
        f"claims that hold: {', '.join(held) or 'none'}"
    )
    return verdict, why, differences


def write_fig15(inputs, outputs, seed: int, n_targets: int, fprs, resamples: int, experiment: str, label: str, log: logging.Logger):
    """whitebox/gradient_norms/<block>.npy + shadows -> paper/fig15/: roc.{png,pdf}, table.{csv,md}
    and finding.json (.md)."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    shadows, keep, _ = artifacts.load_shadows(inputs, fingerprint, seed, statistics=["logit_scaled_confidence", "loss"])
    n_models, n = keep.shape
    norms = _blocks(inputs.norms, inputs.norms_info, fingerprint, "gradient norms", n, range(n_models))
    scores = fig15_scores(norms, shadows["logit_scaled_confidence"][:, :, 0], shadows["loss"][:, :, 0], keep, n_targets)
    is_member = keep[:n_targets]
    fprs = _fprs(fprs)
    rows, samples = baselines.paired_bootstrap(scores, is_member, fprs, resamples, seed)
    table = pd.DataFrame(
        [{"attack": FIG15_LABELS[name], "paper_auc_cifar10": FIG15_PAPER_AUC[name], **rows[name]} for name in scores]
    )
    with files.atomic_path(outputs.csv) as temporary:
        table.to_csv(temporary, index=False)
    lines = [
        "| attack | AUC | TPR @ 0.1% FPR, % | paper AUC (CIFAR-10) |",
        "|---|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {FIG15_LABELS[name]} | {_cell(row['auc'], row['auc_95'], False, 4)} | "
            f"{_cell(row[LOW], row[LOW + '_95'], True, 2)} | {FIG15_PAPER_AUC[name]:.3f} |"
        )
    files.write_text(outputs.markdown, "\n".join(lines) + "\n")
    curves = {FIG15_LABELS[name]: metrics.roc_curve(values, is_member) for name, values in scores.items()}
    title = f"{experiment}: gradient norm vs logits, {n_targets} targets pooled"
    plots.save(plots.roc_figure(curves, title), [outputs.png, outputs.pdf], label)
    verdict, why, _ = fig15_verdict(rows, samples)
    ours = "; ".join(
        f"{FIG15_LABELS[name]}: AUC {_cell(row['auc'], row['auc_95'], False, 4)}, "
        f"TPR @ 0.1 % FPR {_cell(row[LOW], row[LOW + '_95'], True, 2)} %"
        for name, row in rows.items()
    )
    finding = Finding(
        figure="Fig. 15",
        title="White-box: gradient norm vs logits",
        paper=(
            "On CIFAR-10 the per-example gradient norm raises the AUC (LiRA 0.724 vs 0.711 on the logits; "
            "global threshold 0.601 vs 0.576 on the loss) but gives no gain at low FPR: white-box access "
            "adds little to LiRA."
        ),
        ours=ours + f" ({n_targets} targets pooled, {n_models} models, identity query only).",
        verdict=verdict,
        why=why,
        files=["paper/fig15/roc.png", "paper/fig15/table.md"],
    )
    write_finding(outputs.finding, finding)
    log.info("Fig. 15: %s (%s)", verdict, why)
    return rows


# --- Table I: Long et al. and MERLIN -----------------------------------------------------------------


def baselines_verdict(rows: dict, samples: dict) -> tuple[str, str]:
    """The paper's two claims: Long et al. have a low balanced accuracy (below LOSS's and LiRA
    online's) but nonzero power at 0.1 % FPR (TPR interval above the 0.1 % of chance); MERLIN is
    no better than LOSS (paired AUC difference below 0.02 or reaching 0, TPR @ 0.1 % FPR
    difference reaching 0)."""
    long = rows["long"]
    long_low = long["balanced_accuracy"] < min(rows["global_threshold"]["balanced_accuracy"], rows["lira_online"]["balanced_accuracy"])
    long_power = long[LOW + "_95"][0] > LOW_FPR
    auc_difference = _difference(samples, "merlin", "global_threshold", "auc")
    low_difference = _difference(samples, "merlin", "global_threshold", LOW)
    merlin_like_loss = (auc_difference[0] <= 0 or auc_difference[1] < 0.02) and low_difference[0] <= 0
    claims = {
        "Long et al.: balanced accuracy below LOSS's and LiRA's": long_low,
        "Long et al.: TPR @ 0.1 % FPR above chance": long_power,
        "MERLIN no better than LOSS": merlin_like_loss,
    }
    held = [claim for claim, holds in claims.items() if holds]
    verdict = "agrees" if len(held) == len(claims) else "partly agrees" if held else "differs"
    why = (
        f"Long balanced accuracy {long['balanced_accuracy'] * 100:.2f} % vs LOSS "
        f"{rows['global_threshold']['balanced_accuracy'] * 100:.2f} % and LiRA {rows['lira_online']['balanced_accuracy'] * 100:.2f} %; "
        f"Long TPR @ 0.1 % FPR interval from {long[LOW + '_95'][0] * 100:.2f} %; MERLIN minus LOSS (paired 95 %): "
        f"AUC {auc_difference[0]:+.4f} to {auc_difference[1]:+.4f}, TPR @ 0.1 % FPR {low_difference[0] * 100:+.2f} to "
        f"{low_difference[1] * 100:+.2f} points; claims that hold: {', '.join(held) or 'none'}"
    )
    return verdict, why


def _paper_cells(dataset: str, name: str) -> list[str]:
    numbers = {**paper_numbers.TABLE_1.get(dataset, {}), **PAPER_BASELINES.get(dataset, {})}.get(name)
    return ["-"] * 3 if numbers is None else ["-" if value is None else f"{value:.1f}" for value in numbers]


def write_baselines(
    inputs, outputs, seed: int, n_targets: int, fprs, resamples: int, dataset: str, query_settings: dict, log: logging.Logger
):
    """whitebox/merlin/<block>.npy, logits/<block>.npy (identity query: Long et al.'s features),
    the shadows' loss and attacks/{global_threshold,lira_online}.npz -> paper/baselines/:
    table.{csv,md} and finding.json (.md)."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    pool = artifacts.load_pool(inputs.pool)
    shadows, keep, _ = artifacts.load_shadows(inputs, fingerprint, seed, statistics=["loss"])
    n = keep.shape[1]
    is_member = keep[:n_targets]
    n_queries = len(query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"]))
    identity_logits = []  # per block [models, n, classes], query 0: the images as they are
    for path, info_path in zip(inputs.logits, inputs.logits_info, strict=True):
        models = splits.block_models(Path(path).stem)
        shape = (len(models), n, n_queries, int(pool["num_classes"]))
        identity_logits.append(artifacts.load_logits(path, info_path, fingerprint, models, shape)[0][:, :, 0])
    identity_logits = np.concatenate(identity_logits)  # [N, n, classes]
    loss = np.asarray(shadows["loss"][:, :, 0], dtype=np.float64)  # [N, n]
    long, outliers = baselines.long_scores(loss[:n_targets], loss, identity_logits, keep, n_targets)
    scores = {"global_threshold": None, "long": long, "merlin": None, "lira_online": None}  # table order
    scores["merlin"] = _blocks(inputs.merlin, inputs.merlin_info, fingerprint, "MERLIN scores", n, range(n_targets))
    for name, path in (("global_threshold", inputs.loss_attack), ("lira_online", inputs.lira_attack)):
        attack = artifacts.load_npz(path, fingerprint)  # targets 0..attack.targets-1, at least n_targets
        if not np.array_equal(attack["is_member"][:n_targets], is_member) or len(attack["scores"]) < n_targets:
            raise artifacts.ArtifactError(f"{path}: does not score models 0..{n_targets - 1} as its first targets")
        scores[name] = attack["scores"][:n_targets]
    fprs = _fprs(fprs)
    rows, samples = baselines.paired_bootstrap(scores, is_member, fprs, resamples, seed)
    tpr_keys = [f"tpr@{metrics.fpr_label(fpr)}" for fpr in fprs if fpr <= LOW_FPR]
    table = pd.DataFrame([{"attack": BASELINE_LABELS[name], "name": name, **row} for name, row in rows.items()])
    with files.atomic_path(outputs.csv) as temporary:
        table.to_csv(temporary, index=False)
    header = " | ".join(f"TPR @ {key[4:]} FPR, %" for key in tpr_keys)
    paper_columns = [d for d in ("cifar10", "cifar100") if d == dataset]
    lines = [
        f"| attack | {header} | balanced acc., % | AUC |" + "".join(f" paper {d} (TPR, TPR, bal. acc.) |" for d in paper_columns),
        "|---|" + "---:|" * (len(tpr_keys) + 2 + len(paper_columns)),
    ]
    for name, row in rows.items():
        cells = [_cell(row[key], row[key + "_95"], True, 2) for key in tpr_keys]
        cells += [_cell(row["balanced_accuracy"], row["balanced_accuracy_95"], True, 2), _cell(row["auc"], row["auc_95"], False, 4)]
        cells += [", ".join(_paper_cells(d, name)) for d in paper_columns]
        lines.append(f"| {BASELINE_LABELS[name]} | " + " | ".join(cells) + " |")
    noise = files.read_json(inputs.noise)
    lines += [
        "",
        f"{n_targets} targets pooled. Long et al. attack {int(outliers[0].sum())} outliers per target (10 %); MERLIN: "
        f"noise scale {noise['noise_scale']:g} ("
        + (f"chosen on shadow model {noise['chosen_on']['model']}" if noise["chosen_on"] else "default, unchosen")
        + ").",
    ]
    files.write_text(outputs.markdown, "\n".join(lines) + "\n")
    verdict, why = baselines_verdict(rows, samples)
    # Long et al.'s counted chance stops at 1 / (1 + OUT shadows): the non-members sharing its top
    # score are false positives no threshold can avoid, and may be more than a low FPR allows.
    top_non_members = int(((long == long.max()) & ~is_member).sum())
    allowed = int(LOW_FPR * (~is_member).sum())
    if top_non_members > allowed:
        why += (
            f"; Long et al.'s top score (chance 1 / (1 + OUT shadows)) is shared by {top_non_members} non-members, "
            f"more than the {allowed} false positives 0.1 % FPR allows, so its TPR there is 0 by construction "
            "(the paper extrapolates the OUT losses' tails with splines to go lower)"
        )
    ours = "; ".join(
        f"{BASELINE_LABELS[name]}: TPR @ 0.1 % FPR {_cell(row[LOW], row[LOW + '_95'], True, 2)} %, balanced accuracy "
        f"{_cell(row['balanced_accuracy'], row['balanced_accuracy_95'], True, 2)} %, AUC {_cell(row['auc'], row['auc_95'], False, 4)}"
        for name, row in rows.items()
    )
    finding = Finding(
        figure="Table I (baselines)",
        title="Long et al. and MERLIN beside LOSS and LiRA",
        paper=(
            "Jayaraman et al.'s MERLIN: TPR 0.0 % at 0.001 % and 0.1 % FPR, balanced accuracy 59.4 % (CIFAR-10) / "
            "76.9 % (CIFAR-100), as LOSS; Long et al.: TPR 0.0 % at 0.001 %, 2.2 % / 4.7 % at 0.1 % FPR, balanced "
            "accuracy 53.5 % / 54.5 %: low balanced accuracy but some power at low FPR."
        ),
        ours=ours + f" ({n_targets} targets pooled; MERLIN noise {noise['noise_scale']:g}).",
        verdict=verdict,
        why=why,
        files=["paper/baselines/table.md"],
    )
    write_finding(outputs.finding, finding)
    log.info("baselines: %s (%s)", verdict, why)
    return rows
