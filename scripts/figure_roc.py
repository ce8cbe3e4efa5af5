"""Snakemake adapter: attacks/*.npz + metrics/*.json -> figures/roc.{png,pdf}."""

from pathlib import Path

import numpy as np

from lira.core.metrics import roc_curve
from lira.reports import plots
from lira.workflow import artifacts, catalog, files
from lira.workflow.config import config_hash

log = files.job_logger(snakemake.log[0])
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, snakemake.params.seed)
labels = {name: attack.label for name, attack in catalog.attacks(snakemake.config).items()}
curves, bands = {}, {}
for attack_path, metrics_path in zip(snakemake.input.attacks, snakemake.input.metrics, strict=True):
    name = Path(attack_path).stem
    attack = artifacts.load_npz(attack_path, fingerprint)
    curves[labels[name]] = roc_curve(attack["scores"], attack["is_member"])
    band = artifacts.load_json(metrics_path, fingerprint, hashed=True)["roc_band"]
    if name.startswith("lira") and band["tpr_low"][0] is not None:
        bands[labels[name]] = tuple(np.asarray(band[key], dtype=float) for key in ("fpr", "tpr_low", "tpr_high"))
title = f"{snakemake.params.experiment}: {len(attack['targets'])} targets pooled"
label = f"experiment {snakemake.params.experiment}, config {config_hash(snakemake.config)}"
plots.save(plots.roc_figure(curves, title, bands), [snakemake.output.png, snakemake.output.pdf], label)
log.info("ROC of %s, bands for %s", list(curves), list(bands))
