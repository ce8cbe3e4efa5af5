"""The figure jobs that draw from cached scores and statistics: the log-log ROC of the attacks
(the paper's Figure 1) and attack power against the number of shadow models."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lira.core.metrics import roc_curve
from lira.core.shadow_count import attack_power_by_shadow_count
from lira.reports import plots
from lira.workflow import artifacts, files, steps


def write_roc_figure(inputs, outputs, labels: dict, experiment: str, seed: int, label: str, log: logging.Logger):
    """attacks/<name>.npz and metrics/<name>.json of each attack (inputs.attacks, inputs.metrics,
    in the same order) -> outputs.png and outputs.pdf: every attack's pooled ROC, named by
    `labels` (attack name -> label), with the bootstrap bands of the LiRA attacks. `label` marks
    the figure with the config that made it."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    curves, bands = {}, {}
    for attack_path, metrics_path in zip(inputs.attacks, inputs.metrics, strict=True):
        name = Path(attack_path).stem
        attack = artifacts.load_npz(attack_path, fingerprint)
        curves[labels[name]] = roc_curve(attack["scores"], attack["is_member"])
        band = artifacts.load_json(metrics_path, fingerprint, hashed=True)["roc_band"]
        if name.startswith("lira") and band["tpr_low"][0] is not None:
            bands[labels[name]] = tuple(np.asarray(band[key], dtype=float) for key in ("fpr", "tpr_low", "tpr_high"))
    title = f"{experiment}: {len(attack['targets'])} targets pooled"
    plots.save(plots.roc_figure(curves, title, bands), [outputs.png, outputs.pdf], label)
    log.info("ROC of %s, bands for %s", list(curves), list(bands))


def write_shadow_count_figure(
    inputs, outputs, statistic: str, targets: int, repeats: int, offline_test: str, seed: int, experiment: str, label: str, log
):
    """shadows/<statistic>.npy -> outputs.csv (one row per shadow count, draw and LiRA variant:
    TPR at 0.1 % FPR and AUC; lira.core.shadow_count) and outputs.png/.pdf."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    stacks, keep, _ = artifacts.load_shadows(inputs, fingerprint, seed, [statistic])
    sign = -1.0 if statistic == "loss" else 1.0  # higher means member
    values = sign * np.asarray(stacks[statistic], dtype=np.float64)  # [N, pool, Q]
    candidates = steps.shadow_candidates(keep)  # shadows on one part of the pool: that part only
    if candidates is not None:
        values, keep = values[:, candidates], keep[:, candidates]  # [N, C, Q], [N, C]
    rows = pd.DataFrame(attack_power_by_shadow_count(values, keep, targets, repeats, seed, offline_test=offline_test))
    with files.atomic_path(outputs.csv) as temporary:
        rows.to_csv(temporary, index=False)
    title = f"{experiment}: LiRA by number of shadow models"
    plots.save(plots.shadow_count_figure(rows, "0.1%", title), [outputs.png, outputs.pdf], label)
    log.info("\n%s", rows.groupby(["shadow_models", "variant"])[["tpr", "auc"]].mean().to_string())
