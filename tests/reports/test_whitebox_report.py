"""The verdicts of Fig. 15 and of the Table I baselines, decided from paired bootstrap samples."""

from __future__ import annotations

import numpy as np

from lira.reports.whitebox_findings import LOW, baselines_verdict, fig15_verdict


def samples_of(**values):
    """Bootstrap samples [100] around each given mean, per attack and metric: name -> {metric: mean}."""
    rng = np.random.default_rng(0)
    return {
        name: {key: mean + rng.normal(0, 0.002, 100) for key, mean in metrics.items()} for name, metrics in values.items()
    }


def test_fig15_agrees_when_the_gradient_raises_auc_but_not_low_fpr_power():
    means = {"auc": 0.7, LOW: 0.03}
    samples = samples_of(
        lira_logits=means,
        lira_gradient={"auc": 0.72, LOW: 0.03},
        global_loss={"auc": 0.57, LOW: 0.001},
        global_gradient={"auc": 0.60, LOW: 0.001},
    )
    verdict, _, differences = fig15_verdict({}, samples)
    assert verdict == "agrees" and differences["lira_auc"][0] > 0
    samples["lira_gradient"][LOW] += 0.05  # a clear gain at low FPR: that claim fails
    assert fig15_verdict({}, samples)[0] == "partly agrees"
    samples["lira_gradient"]["auc"] -= 0.1
    samples["global_gradient"]["auc"] -= 0.1
    assert fig15_verdict({}, samples)[0] == "differs"


def test_baselines_verdict():
    def row(balanced, low_interval):
        return {"balanced_accuracy": balanced, LOW + "_95": low_interval}

    rows = {
        "global_threshold": row(0.55, [0.0005, 0.0015]),
        "lira_online": row(0.60, [0.03, 0.04]),
        "long": row(0.52, [0.005, 0.01]),
        "merlin": row(0.55, [0.0004, 0.0016]),
    }
    samples = samples_of(global_threshold={"auc": 0.54, LOW: 0.001}, merlin={"auc": 0.545, LOW: 0.001})
    verdict, why = baselines_verdict(rows, samples)
    assert verdict == "agrees", why
    rows["long"] = row(0.58, [0.0, 0.001])
    assert baselines_verdict(rows, samples)[0] == "partly agrees"
    samples["merlin"]["auc"] += 0.1
    samples["merlin"][LOW] += 0.02
    assert baselines_verdict(rows, samples)[0] == "differs"
