"""The paper's Fig. 13 on a pool with canaries (data.canaries): how much more exposed
out-of-distribution and mislabeled examples are than ordinary ones, by the per-example privacy
score d (lira.core.gaussian.privacy_score) and by the share of each group's members online LiRA
finds at a threshold calibrated on the whole pool."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lira.core import groups
from lira.core.gaussian import ShadowFit, gaussian_params, privacy_score
from lira.core.metrics import fpr_label
from lira.reports import plots
from lira.reports.findings import Finding, write_finding
from lira.reports.tables import markdown
from lira.workflow import artifacts, files

# The paper's groups that ours stand for: ood (inverted test images, correct label) for CINIC-10's
# ImageNet images, noise (random label) for CIFAR-100 images with random labels, mislabeled (test
# images, random wrong label) for CIFAR-10 test images with random labels.
PAPER_GROUP = {
    "ordinary": "normal CIFAR-10 examples",
    "ood": "CINIC-10 (ImageNet) images, correct labels",
    "noise": "CIFAR-100 images, random labels",
    "mislabeled": "CIFAR-10 test images, random labels",
}
# The paper's order of exposure, least exposed first; the mislabeled kinds are compared with ood
# and the ordinary examples, not with each other (the claim: OOD < OOD and mislabeled).
ORDER = ("ordinary", "ood", ("noise", "mislabeled"))

PAPER = (
    "1,000 examples added to CIFAR-10's 50,000, LiRA shadow models trained on them: the privacy score "
    "d = |mu_in - mu_out| / (sigma_in + sigma_out) is near 0 for most normal examples and larger for "
    "CINIC-10 images from ImageNet with correct labels, larger still for CIFAR-100 images with random labels, "
    "and largest for CIFAR-10 test images with random labels: out-of-distribution and mislabeled examples "
    "are far less private."
)


def per_example_scores(fit: ShadowFit, pool: dict) -> pd.DataFrame:
    """One row per pool example: its group, label, source rows, the IN/OUT Gaussians of the
    statistic over all N shadow models on the identity query (the example as it is) and its
    privacy score d."""
    params = gaussian_params(fit)  # [pool, Q]
    names = pool["group_names"]
    return pd.DataFrame(
        {
            "pool_index": np.arange(len(pool["y"])),
            "group": names[pool["group"]],
            "label": pool["y"],
            "source_index": pool["source_index"],
            "test_index": pool["test_index"],
            "mean_in": params.mean_in[:, 0],
            "sd_in": np.sqrt(params.var_in[:, 0]),
            "mean_out": params.mean_out[:, 0],
            "sd_out": np.sqrt(params.var_out[:, 0]),
            "privacy_score": privacy_score(params)[:, 0],
        }
    )


def group_table(scores: pd.DataFrame, attack: dict, max_fpr: float, resamples: int, seed: int):
    """Per group (in GROUP order): examples, median d and online LiRA's TPR and FPR at the
    threshold calibrated on every non-member score of the pool at `max_fpr`, each with its 95 %
    bootstrap interval over the group's examples; and that threshold."""
    threshold, counts = groups.hits_at_pooled_threshold(attack["scores"], attack["is_member"], max_fpr)
    rows = []
    for position, name in enumerate(dict.fromkeys(scores["group"])):
        members = (scores["group"] == name).to_numpy()
        d = groups.median_interval(scores["privacy_score"].to_numpy()[members], resamples, seed + position)
        tpr = groups.rate_interval(counts["members_found"][members], counts["members"][members], resamples, seed + position)
        fpr = groups.rate_interval(
            counts["non_members_flagged"][members], counts["non_members"][members], resamples, seed + position
        )
        rows.append(
            {
                "group": name,
                "examples": int(members.sum()),
                "median_d": d[0], "median_d_low": d[1], "median_d_high": d[2],
                "tpr": tpr[0], "tpr_low": tpr[1], "tpr_high": tpr[2],
                "fpr": fpr[0], "fpr_low": fpr[1], "fpr_high": fpr[2],
                "member_pairs": int(counts["members"][members].sum()),
            }
        )
    return pd.DataFrame(rows), threshold


def _interval(row, key: str, scale: float = 1.0, digits: int = 2) -> str:
    value, low, high = (row[key] * scale, row[f"{key}_low"] * scale, row[f"{key}_high"] * scale)
    if not np.isfinite(value):
        return "-"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def display_table(table: pd.DataFrame, max_fpr: float) -> pd.DataFrame:
    at = fpr_label(max_fpr)
    return pd.DataFrame(
        {
            "group": table["group"],
            "paper's group": [PAPER_GROUP.get(name, "-") for name in table["group"]],
            "examples": table["examples"],
            "median d": [_interval(row, "median_d") for _, row in table.iterrows()],
            f"TPR % at pooled {at} FPR": [_interval(row, "tpr", 100) for _, row in table.iterrows()],
            "FPR % there": [_interval(row, "fpr", 100) for _, row in table.iterrows()],
        }
    )


def verdict(table: pd.DataFrame) -> tuple[str, str]:
    """The verdict on the paper's ordering from the median d's intervals: every canary group
    above the ordinary examples and the mislabeled groups above ood, each with intervals apart."""
    interval = {row.group: (row.median_d, row.median_d_low, row.median_d_high) for row in table.itertuples()}
    canaries = [name for name in interval if name != "ordinary"]
    if "ordinary" not in interval or not canaries:
        return "does not reproduce at this scale", "the pool lacks ordinary examples or canaries"

    def above(high: str, low: str) -> bool:  # strictly above, intervals apart
        return interval[high][0] > interval[low][0] and not groups.intervals_overlap(interval[high], interval[low])

    def below(high: str, low: str) -> bool:
        return interval[high][0] < interval[low][0] and not groups.intervals_overlap(interval[high], interval[low])

    over_ordinary = [name for name in canaries if above(name, "ordinary")]
    mislabeled = [name for name in ORDER[2] if name in interval]
    over_ood = [name for name in mislabeled if "ood" in interval and above(name, "ood")]
    pairs = [f"{name} > ordinary" for name in canaries] + [f"{name} > ood" for name in mislabeled if "ood" in interval]
    held = [f"{name} > ordinary" for name in over_ordinary] + [f"{name} > ood" for name in over_ood]
    why = f"median d, 95 % intervals apart: {len(held)} of {len(pairs)} orderings hold ({', '.join(held) or 'none'})"
    if len(held) == len(pairs):
        return "agrees", why
    if any(below(name, "ordinary") for name in canaries):
        return "differs", why + "; a canary group lies below the ordinary examples"
    if len(over_ordinary) == len(canaries):
        return "partly agrees", why + "; every canary group is above the ordinary examples, but not in the paper's order"
    if over_ordinary:
        return "partly agrees", why
    return "does not reproduce at this scale", why


def write_canary_report(inputs, outputs, statistic: str, max_fpr: float, resamples: int, seed: int, experiment: str,
                        label: str, log) -> None:
    """The fig13 job: pool.npz, fit.npz, attacks/lira_online.npz -> outputs.scores (per-example d, CSV),
    outputs.table_{csv,md}, outputs.png/pdf (histogram of d by group) and outputs.finding."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    pool = artifacts.load_pool(inputs.pool)
    if "group" not in pool:
        raise artifacts.ArtifactError(f"{inputs.pool}: holds no canaries (set data.canaries)")
    fit = ShadowFit.from_arrays(artifacts.load_npz(inputs.fit, fingerprint), prefix=f"{statistic}.")
    attack = artifacts.load_npz(inputs.attack, fingerprint)
    scores = per_example_scores(fit, pool)
    with files.atomic_path(outputs.scores) as temporary:
        scores.to_csv(temporary, index=False, float_format="%.6g")

    table, threshold = group_table(scores, attack, max_fpr, resamples, seed)
    with files.atomic_path(outputs.table_csv) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    shown = display_table(table, max_fpr)
    n_models, n_targets = int(fit.count_in[0] + fit.count_out[0]), len(attack["scores"])  # every example: N models
    caption = (
        f"Privacy score d by group ({experiment}: {n_models} shadow models, identity query, {statistic}); "
        f"online LiRA over {n_targets} targets at the score threshold that flags {fpr_label(max_fpr)} of all "
        f"non-members of the pool (threshold {threshold if threshold is None else round(threshold, 4)}). "
        "95 % bootstrap intervals over the group's examples."
    )
    with files.atomic_path(outputs.table_md) as temporary:
        temporary.write_text(markdown(shown, caption))

    by_group = {name: scores.loc[scores["group"] == name, "privacy_score"].to_numpy() for name in table["group"]}
    figure = plots.privacy_score_figure(by_group, f"{experiment}: privacy score by group (paper's Fig. 13)")
    plots.save(figure, [outputs.png, outputs.pdf], label)

    result, why = verdict(table)
    ours = "; ".join(
        f"{row['group']} (n={row['examples']}): median d {_interval(row, 'median_d')}, "
        f"online LiRA finds {_interval(row, 'tpr', 100)} % of its members"
        for _, row in table.iterrows()
    )
    finding = Finding(
        figure="Fig. 13",
        title="out-of-distribution and mislabeled examples are more exposed",
        paper=PAPER,
        ours=(
            f"Pool with canaries ({experiment}, {n_models} shadow models): {ours} "
            f"(TPR at the threshold calibrated to {fpr_label(max_fpr)} FPR on the whole pool; ours stand for the "
            "paper's groups: ood = inverted test images for CINIC-10, noise = uniform noise with random labels for "
            "CIFAR-100 with random labels, mislabeled = test images with wrong labels for CIFAR-10 with random labels)."
        ),
        verdict=result,
        why=why,
        files=[f"paper/fig13/{name}" for name in ("privacy_score.png", "groups.md", "privacy_scores.csv")],
    )
    write_finding(outputs.finding, finding)
    log.info("fig13: %s\n%s", result, shown.to_string())
