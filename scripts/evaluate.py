"""Snakemake adapter: attacks/<attack>.npz -> metrics/<attack>.json.

Pooled ROC over the targets (the paper's protocol), 95 % bootstrap intervals, the spread across
targets, and a bootstrap band of the ROC on a log-spaced FPR grid for the figure."""

import json

import numpy as np

from lira import artifacts, io, metrics

log = io.job_logger(snakemake.log[0])
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, snakemake.params.seed)
attack = artifacts.load_npz(snakemake.input.attack, fingerprint)
scores = artifacts.check_array(snakemake.input.attack, "scores", attack["scores"], (None, None))
is_member = artifacts.check_array(snakemake.input.attack, "is_member", attack["is_member"], scores.shape)
fprs = snakemake.params.fprs
row = metrics.summarise(scores, is_member, fprs)
resolution = float(attack["min_fpr"])
for fpr in fprs:
    if fpr < resolution:  # e.g. Ye's attack R: no threshold can separate below 1 / OUT shadows
        row[f"tpr@{metrics.fpr_label(fpr)}"] = row[f"fpr_achieved@{metrics.fpr_label(fpr)}"] = None
grid = np.logspace(np.log10(1.0 / row["non_members"]), 0, 200)
grid[0] = 1.0 / row["non_members"]  # exactly one negative: logspace may round just below it
intervals, band = metrics.bootstrap(scores, is_member, fprs, snakemake.params.bootstrap, snakemake.params.seed, grid)
spread = metrics.per_target(scores, is_member, fprs)
result = {
    "attack": snakemake.wildcards.attack,
    "fingerprint": fingerprint,
    "settings": json.loads(str(attack["settings"])),
    "targets": int(len(scores)),
    "min_fpr": resolution,
    "pooled": row,
    "bootstrap_95": intervals,
    "bootstrap_resamples": snakemake.params.bootstrap,
    "per_target": spread,
    "roc_band": {"fpr": grid.tolist(), "tpr_low": band[0].tolist(), "tpr_high": band[1].tolist()},
}
io.write_json(snakemake.output[0], io.nan_to_none(result))
log.info("%s: %s", snakemake.wildcards.attack, row)
