"""Snakemake adapter: fit.npz + the targets' scores -> attacks/<attack>.npz.

Output: scores float64 [T, pool] (higher = member) and is_member bool [T, pool], for targets
0..T-1, each attacked with the other N-1 models as its shadows.
"""

import numpy as np

from lira import attacks, io
from lira.gaussian import ShadowFit, leave_one_out

log = io.job_logger(snakemake.log[0])
attack = snakemake.wildcards.attack
settings = snakemake.params.settings
fit_arrays = io.load_arrays(snakemake.input.fit)
target_scores = [io.load_arrays(path) for path in snakemake.input.targets]
n_targets = len(target_scores)

is_member = fit_arrays["keep"][:n_targets]  # bool [T, pool]

if attack == "global_threshold":
    scores = attacks.global_threshold(np.stack([s["loss"] for s in target_scores]))
else:
    fit = ShadowFit.from_arrays(fit_arrays, prefix=f"{settings['statistic']}.")
    target_phi = np.stack([s[settings["statistic"]] for s in target_scores])  # [T, pool, queries]
    params = leave_one_out(fit, target_phi, is_member)
    global_variance = attack.endswith("global_variance")
    if attack.startswith("lira_online"):
        scores = attacks.lira_online(target_phi, params, global_variance)
    else:
        scores = attacks.lira_offline(target_phi, params, global_variance, settings["offline_test"])

if not np.all(np.isfinite(scores)):
    raise FloatingPointError(f"{attack}: {np.count_nonzero(~np.isfinite(scores))} scores are NaN or infinite")
io.save_arrays(snakemake.output[0], scores=scores, is_member=is_member, targets=np.arange(n_targets))
log.info("%s %s: scores %s for %d targets from %d models", attack, settings, scores.shape, n_targets, len(fit_arrays["keep"]))
