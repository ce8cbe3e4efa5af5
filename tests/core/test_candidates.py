"""Attacks restricted to candidate examples (config `split`) against a direct computation: the
restricted scores equal the whole pool's scores at the candidates' columns, for attacks that
score each example alone, and the eligible examples are those with IN and OUT shadows."""

from __future__ import annotations

import numpy as np
import pytest

from lira.core import attacks, splits
from lira.core.gaussian import fit_shadow_sums
from lira.reports import fig10


def _inputs(n_models=8, pool=40, queries=2, seed=0):
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, pool)
    values = rng.normal(size=(n_models, pool, queries)) + keep[..., None]  # [N, pool, Q]
    shadows = {"logit_scaled_confidence": values}
    fits = {name: fit_shadow_sums(v, keep) for name, v in shadows.items()}
    return shadows, keep, np.zeros(pool, dtype=int), fits


@pytest.mark.parametrize("family", ["lira_online", "lira_offline"])
def test_restricted_scores_are_the_whole_pools_at_the_candidates(family):
    shadows, keep, labels, fits = _inputs()
    settings = {"family": family, "statistic": "logit_scaled_confidence", "targets": 4, "centre": "mean",
                "variance": "per-example", "offline_test": "one-sided"}  # fmt: skip
    candidates = np.array([3, 0, 17, 39, 22])
    whole, _ = attacks.run(settings, shadows, keep, labels, fits, slice(None))
    restricted, _ = attacks.run(settings, shadows, keep, labels, fits, slice(None), candidates=candidates)
    np.testing.assert_allclose(restricted, whole[:, candidates], rtol=1e-12)


def test_eligible_examples_have_in_and_out_shadows():
    split = {"part": "b", "partition_seed": 5}
    keep = splits.keep_matrix(2, 6, 30, split)
    expected = np.array([keep[:, x].any() and not keep[:, x].all() for x in range(30)])
    np.testing.assert_array_equal(attacks.eligible(keep), expected)
    np.testing.assert_array_equal(attacks.eligible(keep), splits.part_mask(split, 30))
    assert attacks.eligible(splits.keep_matrix(2, 6, 30)).all()  # the whole pool: every example


def _case(tpr, auc):
    return {"tpr": tpr, "auc": auc, "members": 10, "non_members": 10}


def test_fig10_claims_and_verdict():
    numbers = {
        "overlapping": _case((0.10, 0.08, 0.12), (0.70, 0.68, 0.72)),
        "disjoint": _case((0.11, 0.09, 0.13), (0.71, 0.69, 0.73)),
        "shift": _case((0.02, 0.01, 0.03), (0.80, 0.78, 0.82)),
    }
    assert fig10.compare(numbers) == {"same": "holds", "lower_tpr": "holds", "higher_auc": "holds"}
    assert fig10.verdict(fig10.compare(numbers)) == "agrees"
    numbers["shift"] = _case((0.10, 0.05, 0.15), (0.60, 0.58, 0.62))
    claims = fig10.compare(numbers)
    assert claims == {"same": "holds", "lower_tpr": "inconclusive", "higher_auc": "contradicted"}
    assert fig10.verdict(claims) == "partly agrees"
    numbers["shift"] = _case((0.10, 0.05, 0.15), (0.70, 0.60, 0.80))
    assert fig10.verdict(fig10.compare(numbers)) == "does not reproduce at this scale"
