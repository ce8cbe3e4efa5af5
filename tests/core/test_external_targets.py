"""Targets outside the shadow population (lira.core.attacks.AttackInputs.external): a model audited
against every shadow model gets exactly the scores it gets as a leave-pair-out target of a
population holding it, its partner and those shadows."""

import numpy as np
import pytest
from test_attacks_by_family import N_MODELS, make_config, make_shadows, query_indices

from lira.core import attacks, gaussian
from lira.workflow import catalog

TARGET = 6  # its partner is 7; its leave-pair-out shadows are models 0..5


@pytest.fixture(scope="module")
def data():
    return make_shadows(seed=3)


def pair_out_scores(name, data, config):
    shadows, keep, labels, fits = data
    settings = catalog.settings(name, config)
    return attacks.run(settings, shadows, keep, labels, fits, query_indices(settings))[0][TARGET]


def external_scores(name, data, config):
    """Model TARGET scored as an external target against models 0..5, fitted without it."""
    shadows, keep, labels, _ = data
    others = slice(0, TARGET)
    population = {statistic: values[others] for statistic, values in shadows.items()}
    fits = {statistic: gaussian.fit_shadow_sums(values, keep[others]) for statistic, values in population.items()}
    external = {statistic: values[TARGET : TARGET + 1] for statistic, values in shadows.items()}
    settings = catalog.audit_settings(name, config)
    scores, _ = attacks.run(settings, population, keep[others], labels, fits, query_indices(settings), external)
    assert scores.shape == (1, keep.shape[1])
    return scores[0]


@pytest.mark.parametrize("name", catalog.AUDIT)
@pytest.mark.parametrize("centre", ["mean", "median"])
def test_an_external_target_scores_as_its_leave_pair_out_self(name, centre, data):
    config = make_config(targets=N_MODELS, centre=centre)
    np.testing.assert_allclose(external_scores(name, data, config), pair_out_scores(name, data, config), rtol=1e-9, atol=1e-9)


def test_several_external_targets_are_scored_each_against_every_shadow(data):
    shadows, keep, labels, fits = data
    external = {statistic: values[:3] + 0.25 for statistic, values in shadows.items()}
    settings = catalog.audit_settings("lira_online", make_config())
    together, _ = attacks.run(settings, shadows, keep, labels, fits, slice(None), external)
    for row in range(3):
        alone = {statistic: values[row : row + 1] for statistic, values in external.items()}
        np.testing.assert_array_equal(attacks.run(settings, shadows, keep, labels, fits, slice(None), alone)[0][0], together[row])


@pytest.mark.parametrize("name", ["ye", "song_mittal", "shokri"])
def test_attacks_that_learn_from_a_targets_population_refuse_an_external_target(name, data):
    shadows, keep, labels, fits = data
    external = {statistic: values[:1] for statistic, values in shadows.items()}
    with pytest.raises(ValueError, match="only targets among the shadow models"):
        attacks.run(catalog.settings(name, make_config()), shadows, keep, labels, fits, slice(None), external)


def test_audit_settings_name_every_shadow_and_no_target_count():
    settings = catalog.audit_settings("lira_online", make_config())
    assert settings["shadows"] == catalog.SHADOWS_OF_AN_AUDITED_TARGET
    assert "targets" not in settings
