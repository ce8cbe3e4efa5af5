"""The null test through the real workflow: models that learn nothing (learning rate 1e-9, so each
stays at its own random initialisation) carry no membership signal, and every attack's pooled AUC
must then be 0.5 up to sampling noise, at N = 6 and N = 16 shadow models.

Leaving only the target out gave LiRA online an AUC of 0.15 at N = 6 and 0.42 at N = 16 here: a
member of the target had one IN shadow fewer than a non-member (docs/method.md, "Which models are
a target's shadows"). tests/core/test_null.py holds the same property on synthetic statistics for
every attack variant; this one holds it for the whole pipeline, from training to the metrics.
"""

from __future__ import annotations

import json
import math

import pytest
from conftest import snakemake, tiny_config, write_config

from lira.workflow import catalog

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("n_models", [6, 16])
def test_no_attack_finds_members_in_models_that_learned_nothing(tmp_path, fashion_mnist_dir, n_models):
    config = tiny_config(
        fashion_mnist_dir,
        shadow_models=n_models,
        **{"train.lr": 1e-9, "train.epochs": 1, "attack.targets": n_models, "evaluate.bootstrap": 50},
    )
    write_config(tmp_path / "config.yaml", config)
    snakemake(tmp_path)
    metrics = tmp_path / "results" / config["experiment"] / "metrics"
    names = sorted(catalog.attacks(config))
    assert sorted(path.stem for path in metrics.glob("*.json")) == names
    off = {}
    for name in names:
        pooled = json.loads((metrics / f"{name}.json").read_text())["pooled"]
        members, non_members = pooled["members"], pooled["non_members"]
        assert members == non_members == n_models * config["data"]["pool_size"] // 2
        # The AUC's standard deviation under the null for independent scores (Mann-Whitney). The
        # scores of one example under different targets are not independent, so allow 4 of them.
        sigma = math.sqrt((members + non_members + 1) / (12 * members * non_members))
        deviation = (pooled["auc"] - 0.5) / sigma
        if abs(deviation) > 4:
            off[name] = f"AUC {pooled['auc']:.3f} ({deviation:+.1f} sigma)"
    assert off == {}, f"attacks that find a signal where there is none, N = {n_models}: {off}"
