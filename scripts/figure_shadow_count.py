"""Snakemake adapter: shadows/*.npy -> figures/shadow_count.{csv,png,pdf}."""

import numpy as np
import pandas as pd

from lira.core.shadow_count import attack_power_by_shadow_count
from lira.reports import plots
from lira.workflow import artifacts, files
from lira.workflow.config import config_hash

log = files.job_logger(snakemake.log[0])
statistic = snakemake.params.statistic
seed = snakemake.params.seed
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
stacks, keep, _ = artifacts.load_shadows(snakemake.input, fingerprint, seed, [statistic])
values = stacks[statistic]
sign = -1.0 if statistic == "loss" else 1.0
rows = pd.DataFrame(
    attack_power_by_shadow_count(
        sign * np.asarray(values, dtype=np.float64),
        keep,
        snakemake.params.targets,
        snakemake.params.repeats,
        snakemake.params.seed,
        offline_test=snakemake.params.offline_test,
    )
)
with files.atomic_path(snakemake.output.csv) as temporary:
    rows.to_csv(temporary, index=False)
title = f"{snakemake.params.experiment}: LiRA by number of shadow models"
label = f"experiment {snakemake.params.experiment}, config {config_hash(snakemake.config)}"
plots.save(plots.shadow_count_figure(rows, "0.1%", title), [snakemake.output.png, snakemake.output.pdf], label)
log.info("\n%s", rows.groupby(["shadow_models", "variant"])[["tpr", "auc"]].mean().to_string())
