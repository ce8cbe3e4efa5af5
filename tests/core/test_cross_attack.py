"""A grid's cross attack (lira.core.attacks.cross_scores): each model of one population scored
against another population's shadows, target t's pair left out. Against the direct computation:
the audit's external scoring (AttackInputs.external) of the same arrays, target by target, and,
when the two populations are one, the leave-pair-out attack itself."""

import numpy as np
import pytest
from test_attacks_by_family import N_MODELS, make_config, make_shadows, query_indices

from lira.core import attacks, gaussian, splits
from lira.workflow import catalog

ATTACKS = ["lira_online", "lira_online_global_variance", "lira_offline", "rmia_online"]


@pytest.fixture(scope="module")
def populations():
    """The shadows' population and another one's statistics (of other models: another seed and
    membership gap), the targets."""
    shadows, keep, labels, _ = make_shadows(seed=3)
    targets, _, _, _ = make_shadows(seed=4, gap=5.0)
    return shadows, keep, labels, targets


def direct(name, shadows, keep, labels, targets, n_targets):
    """Target t scored alone as the audit scores an external target, against a population of
    the shadows outside t's pair, fitted by a plain loop."""
    settings = catalog.audit_settings(name, make_config())
    rows = []
    for t in range(n_targets):
        others = [model for model in range(N_MODELS) if model not in splits.held_out(t, N_MODELS)]
        population = {statistic: values[others] for statistic, values in shadows.items()}
        fits = {statistic: gaussian.fit_shadow_sums(values, keep[others]) for statistic, values in population.items()}
        external = {statistic: values[t : t + 1] for statistic, values in targets.items()}
        rows.append(attacks.run(settings, population, keep[others], labels, fits, query_indices(settings), external)[0][0])
    return np.array(rows)


@pytest.mark.parametrize("name", ATTACKS)
def test_cross_scores_are_the_external_scores_of_each_target_against_the_shadows_outside_its_pair(name, populations):
    shadows, keep, labels, targets = populations
    settings = catalog.audit_settings(name, make_config())
    target_values = {statistic: values[:5] for statistic, values in targets.items()}
    scores = attacks.cross_scores(settings, target_values, shadows, keep, labels, query_indices(settings))
    assert scores.shape == (5, keep.shape[1])
    np.testing.assert_allclose(scores, direct(name, shadows, keep, labels, targets, 5), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ATTACKS)
def test_a_population_crossed_with_itself_scores_as_its_leave_pair_out_attack(name, populations):
    shadows, keep, labels, _ = populations
    config = make_config(targets=4)
    settings = catalog.settings(name, config)
    expected, _ = attacks.run(settings, shadows, keep, labels, {s: gaussian.fit_shadow_sums(v, keep) for s, v in shadows.items()},
                              query_indices(settings))  # fmt: skip
    target_values = {statistic: values[:4] for statistic, values in shadows.items()}
    audit = catalog.audit_settings(name, config)
    scores = attacks.cross_scores(audit, target_values, shadows, keep, labels, query_indices(audit))
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-9)
