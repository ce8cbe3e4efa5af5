"""Snakemake adapter: shadows/*.npy + fit.npz -> attacks/<attack>.npz.

Output: scores float64 [T, pool] (higher = member), is_member bool [T, pool] for targets
0..T-1 (each attacked with the other N-1 models as its shadows), the smallest FPR the attack can
resolve, and its settings (JSON)."""

import json

import numpy as np

from lira import attacks, io
from lira.gaussian import ShadowFit
from lira.queries import nested_subsets

log = io.job_logger(snakemake.log[0])
settings = snakemake.params.settings
shadows = {name: np.load(path, mmap_mode="r") for name, path in snakemake.input.items() if name not in ("keep", "fit", "pool")}
keep = io.load_array(snakemake.input.keep)  # bool [N, pool]
fit_arrays = io.load_arrays(snakemake.input.fit)
fits = {name: ShadowFit.from_arrays(fit_arrays, prefix=f"{name}.") for name in shadows}
labels = io.load_arrays(snakemake.input.pool)["y"]
q = snakemake.params.queries
queries = slice(None) if settings["queries"] == "all" else nested_subsets(q["mirror"], q["shift"], q["stride"])[settings["queries"]]

scores, min_fpr = attacks.run(settings, shadows, keep, labels, fits, queries)
if not np.all(np.isfinite(scores)):
    raise FloatingPointError(f"{snakemake.wildcards.attack}: {np.count_nonzero(~np.isfinite(scores))} scores are NaN or infinite")
n_targets = settings["targets"]
io.save_arrays(
    snakemake.output[0],
    scores=scores,
    is_member=keep[:n_targets],
    targets=np.arange(n_targets),
    min_fpr=np.float64(min_fpr),
    settings=np.array(json.dumps(settings, sort_keys=True)),
)
log.info("%s %s: scores %s from %d models", snakemake.wildcards.attack, settings, scores.shape, len(keep))
