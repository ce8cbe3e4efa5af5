"""Snakemake adapter: shadows/*.npy + fit.npz -> attacks/<attack>.npz.

Output: scores float64 [T, pool] (higher = member), is_member bool [T, pool] for targets
0..T-1 (each attacked with the other N-1 models as its shadows), the smallest FPR the attack can
resolve, its settings (JSON) and the fingerprint of its pool and split (lira.artifacts), which the
shadows and the fit must carry too."""

import json

import numpy as np

from lira import artifacts, attacks, io
from lira.gaussian import ShadowFit
from lira.queries import nested_subsets

log = io.job_logger(snakemake.log[0])
settings = snakemake.params.settings
seed = snakemake.config["seed"]
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
shadows, keep, info = artifacts.load_shadows(snakemake.input, fingerprint, seed)  # [N, pool, Q], keep [N, pool]
fit_arrays = artifacts.load_npz(snakemake.input.fit, fingerprint)
if not np.array_equal(fit_arrays["keep"], keep):
    raise artifacts.ArtifactError(f"{snakemake.input.fit}: fitted on other keep masks than {snakemake.input.keep}")
fits = {name: ShadowFit.from_arrays(fit_arrays, prefix=f"{name}.") for name in shadows}
labels = artifacts.read_npz_entry(snakemake.input.pool, "y")
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
    fingerprint=np.array(fingerprint),
)
log.info("%s %s: scores %s from %d models", snakemake.wildcards.attack, settings, scores.shape, len(keep))
