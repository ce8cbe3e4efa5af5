"""Per-example vulnerability: which pool examples LiRA exposes most, the score distributions of
members and non-members, and the IN/OUT shadow distributions of a few examples (the paper's
Figure 3 in spirit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lira.core import splits
from lira.core.gaussian import GaussianParams, ShadowFit, leave_pair_out
from lira.core.metrics import vulnerability
from lira.reports import plots
from lira.workflow import artifacts, files


def exposure_ranking(
    scores: np.ndarray, is_member: np.ndarray, source_index: np.ndarray, labels: np.ndarray, candidates=None
):
    """One row per pool example, most exposed first (unmeasured examples last): pool and source
    index, label, mean score as a member and as a non-member over the targets, and their
    difference, the exposure. scores, is_member: [T, pool], or [T, C] for the pool examples
    `candidates` (int [C]; the attack file's, config `split`): then one row per candidate."""
    exposure = vulnerability(scores, is_member)
    pool_index = np.arange(scores.shape[1]) if candidates is None else np.asarray(candidates)
    ranking = pd.DataFrame(
        {"pool_index": pool_index, "source_index": source_index[pool_index], "label": labels[pool_index], **exposure}
    )
    return ranking.sort_values("exposure", ascending=False, na_position="last")


def example_views(values: np.ndarray, keep: np.ndarray, params: GaussianParams, ranking, labels, target: int = 0):
    """What `target` sees of three examples, the most and least exposed and the median one: its
    shadows' values of the statistic (identity query; every model but the target and its partner,
    lira.core.splits.shadow_models, as the attacks take them) split into IN and OUT, the fitted
    Gaussians (`params`, of those shadows: lira.core.gaussian.leave_pair_out) and the target's own
    value. values: [N, pool, Q]."""
    measured = ranking.dropna(subset=["exposure"])
    chosen = {
        "most exposed": measured.iloc[0].pool_index,
        "typical": measured.iloc[len(measured) // 2].pool_index,
        "least exposed": measured.iloc[-1].pool_index,
    }
    others = splits.shadow_models(target, len(keep))
    views = []
    for caption, index in chosen.items():
        index = int(index)
        shadow_values = values[others, index, 0]
        shadow_in = keep[others, index]
        views.append(
            {
                "title": f"{caption}: example {index} (class {labels[index]})",
                "values_in": shadow_values[shadow_in],
                "values_out": shadow_values[~shadow_in],
                "mean_in": params.mean_in[index, 0],
                "sd_in": np.sqrt(params.var_in[index, 0]),
                "mean_out": params.mean_out[index, 0],
                "sd_out": np.sqrt(params.var_out[index, 0]),
                "target_value": values[target, index, 0],
                "target_is_member": bool(keep[target, index]),
            }
        )
    return views


def write_examples_report(inputs, outputs, statistic: str, seed: int, experiment: str, label: str, log):
    """The figure_examples job: LiRA online scores (inputs.attack), the shadows' statistics and
    fit -> outputs.ranking (CSV), outputs.distribution_{png,pdf} and outputs.examples_{png,pdf}.
    `label` marks the figures with the config that made them."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    attack = artifacts.load_npz(inputs.attack, fingerprint)
    scores, is_member = attack["scores"], attack["is_member"]  # [T, pool]
    pool = files.load_arrays(inputs.pool)
    ranking = exposure_ranking(scores, is_member, pool["source_index"], pool["y"], attack.get("candidates"))
    with files.atomic_path(outputs.ranking) as temporary:
        ranking.to_csv(temporary, index=False, float_format="%.6g")

    figure = plots.score_distribution_figure(scores.ravel(), is_member.ravel(), f"{experiment}: LiRA online scores")
    plots.save(figure, [outputs.distribution_png, outputs.distribution_pdf], label)

    stacks, keep, _ = artifacts.load_shadows(inputs, fingerprint, seed, [statistic])
    values = stacks[statistic]  # [N, pool, Q]
    fit = ShadowFit.from_arrays(artifacts.load_npz(inputs.fit, fingerprint), prefix=f"{statistic}.")
    views = example_views(values, keep, leave_pair_out(fit, values, keep, 0), ranking, pool["y"])
    figure = plots.examples_figure(views, f"{experiment}: target 0, identity query")
    plots.save(figure, [outputs.examples_png, outputs.examples_pdf], label)
    log.info("most exposed:\n%s", ranking.head(10).to_string())
