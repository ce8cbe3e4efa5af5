"""Snakemake adapter: LiRA online scores + shadow statistics -> the most exposed examples (CSV),
the score distribution of members and non-members, and IN/OUT histograms of a few examples."""

import numpy as np
import pandas as pd

from lira import artifacts, io, plots
from lira.analysis import vulnerability
from lira.config import config_hash
from lira.gaussian import ShadowFit, leave_one_out

log = io.job_logger(snakemake.log[0])
seed = snakemake.config["seed"]
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
label = f"experiment {snakemake.params.experiment}, config {config_hash(snakemake.config)}"
attack = artifacts.load_npz(snakemake.input.attack, fingerprint)
scores, is_member = attack["scores"], attack["is_member"]  # [T, pool]
pool = io.load_arrays(snakemake.input.pool)
exposure = vulnerability(scores, is_member)
ranking = pd.DataFrame({"pool_index": np.arange(scores.shape[1]), "source_index": pool["source_index"], "label": pool["y"], **exposure})
ranking = ranking.sort_values("exposure", ascending=False, na_position="last")
with io.atomic_path(snakemake.output.ranking) as temporary:
    ranking.to_csv(temporary, index=False, float_format="%.6g")

title = f"{snakemake.params.experiment}: LiRA online scores"
figure = plots.score_distribution_figure(scores.ravel(), is_member.ravel(), title)
plots.save(figure, [snakemake.output.distribution_png, snakemake.output.distribution_pdf], label)

# Target 0's view of three examples: the most and least exposed, and the median one.
statistic = snakemake.params.statistic
stacks, keep, _ = artifacts.load_shadows(snakemake.input, fingerprint, seed, [statistic])
values = stacks[statistic]  # [N, pool, Q]
params = leave_one_out(
    ShadowFit.from_arrays(artifacts.load_npz(snakemake.input.fit, fingerprint), prefix=f"{statistic}."), values[0], keep[0]
)
measured = ranking.dropna(subset=["exposure"])
chosen = {
    "most exposed": measured.iloc[0].pool_index,
    "typical": measured.iloc[len(measured) // 2].pool_index,
    "least exposed": measured.iloc[-1].pool_index,
}
examples = []
others = np.arange(len(keep)) != 0
for caption, index in chosen.items():
    index = int(index)
    shadow_values = values[others, index, 0]
    shadow_in = keep[others, index]
    examples.append(
        {
            "title": f"{caption}: example {index} (class {pool['y'][index]})",
            "values_in": shadow_values[shadow_in],
            "values_out": shadow_values[~shadow_in],
            "mean_in": params.mean_in[index, 0],
            "sd_in": np.sqrt(params.var_in[index, 0]),
            "mean_out": params.mean_out[index, 0],
            "sd_out": np.sqrt(params.var_out[index, 0]),
            "target_value": values[0, index, 0],
            "target_is_member": bool(keep[0, index]),
        }
    )
figure = plots.examples_figure(examples, f"{snakemake.params.experiment}: target 0, identity query")
plots.save(figure, [snakemake.output.examples_png, snakemake.output.examples_pdf], label)
log.info("most exposed:\n%s", ranking.head(10).to_string())
