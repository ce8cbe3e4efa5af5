"""lira.workflow.catalog: attack names, settings and the paper's tables (the nested query subsets of
Table III: tests/core/test_queries.py)."""

import copy

import pytest

from lira.workflow import catalog


def make_config(mirror=True, shift=1, stride=1):
    return {
        "queries": {"mirror": mirror, "shift": shift, "stride": stride},
        "attack": {
            "targets": 3,
            "statistic": "logit_scaled_confidence",
            "offline_test": "one-sided",
            "centre": "mean",
            "rmia": {"population_size": 10, "gamma": 1.0, "offline_a": 0.3},
        },
        "seed": 0,
    }


BASE_KEYS = {"family", "statistic", "queries", "targets"}
EXPECTED_KEYS = {
    "threshold": BASE_KEYS,
    "sablayrolles": BASE_KEYS | {"shadows"},
    "watson": BASE_KEYS | {"shadows"},
    "ye": BASE_KEYS | {"shadows"},
    "song_mittal": BASE_KEYS | {"shadows"},
    "shokri": BASE_KEYS | {"shadows", "seed"},
    "lira_online": BASE_KEYS | {"shadows", "centre", "variance"},
    "lira_offline": BASE_KEYS | {"shadows", "centre", "variance", "offline_test"},
    "rmia_online": BASE_KEYS | {"shadows", "population_size", "gamma", "seed"},
    "rmia_offline": BASE_KEYS | {"shadows", "population_size", "gamma", "seed", "offline_a"},
}


@pytest.mark.parametrize("name", sorted(catalog.attacks(make_config())))
def test_settings_hold_exactly_the_keys_of_the_family(name):
    config = make_config()
    attack = catalog.attacks(config)[name]
    settings = catalog.settings(name, config)
    assert set(settings) == EXPECTED_KEYS[attack.family], name
    assert settings["family"] == attack.family
    assert settings["targets"] == 3
    assert settings["queries"] == (attack.queries or "all")
    if attack.family == "shokri":
        assert settings["statistic"] == "features"
    else:
        assert settings["statistic"] == (attack.statistic or "logit_scaled_confidence")
    if attack.family != "threshold":
        assert settings["shadows"] == "all but the target's pair"
    if "variance" in settings:
        assert settings["variance"] == ("global" if attack.global_variance else "per-example")


def changed(config, dotted, value):
    config = copy.deepcopy(config)
    section = config
    *parents, last = dotted.split(".")
    for key in parents:
        section = section[key]
    section[last] = value
    return config


@pytest.mark.parametrize(
    "dotted, value, families",
    [
        ("attack.offline_test", "two-sided", {"lira_offline"}),
        ("attack.centre", "median", {"lira_online", "lira_offline"}),
        ("attack.rmia.population_size", 20, {"rmia_online", "rmia_offline"}),
        ("attack.rmia.gamma", 2.0, {"rmia_online", "rmia_offline"}),
        ("attack.rmia.offline_a", 0.5, {"rmia_offline"}),
        ("seed", 1, {"rmia_online", "rmia_offline", "shokri"}),
        ("attack.targets", 5, set(catalog.FAMILIES)),
    ],
)
def test_an_option_changes_the_settings_of_exactly_the_attacks_it_decides(dotted, value, families):
    config = make_config()
    other = changed(config, dotted, value)
    for name, attack in catalog.attacks(config).items():
        differs = catalog.settings(name, other) != catalog.settings(name, config)
        assert differs == (attack.family in families), (dotted, name)


def test_the_configured_statistic_reaches_only_attacks_without_their_own():
    config = make_config()
    other = changed(config, "attack.statistic", "hinge")
    moved = {name for name in catalog.attacks(config) if catalog.settings(name, other) != catalog.settings(name, config)}
    assert moved == {
        "lira_online", "lira_online_global_variance", "lira_offline", "lira_offline_global_variance",
        "lira_online_queries_1", "lira_online_queries_2", "lira_online_queries_18",
    }  # fmt: skip
    assert catalog.settings("lira_online", other)["statistic"] == "hinge"
    assert catalog.settings("sablayrolles_logit_gaussian_queries", other)["statistic"] == "logit_scaled_confidence"


@pytest.mark.parametrize(
    "mirror, shift, stride, counts",
    [(True, 0, 1, [1, 2]), (True, 4, 4, [1, 2, 18]), (True, 4, 1, [1, 2, 18, 162]), (True, 1, 1, [1, 2, 18])],
)
def test_table_3_names_for_query_configs(mirror, shift, stride, counts):
    config = make_config(mirror, shift, stride)
    by_count = catalog.table_3(config)
    assert list(by_count) == counts
    assert by_count == {count: f"lira_online_queries_{count}" for count in counts}
    attacks = catalog.attacks(config)
    for count, name in by_count.items():
        assert attacks[name].family == "lira_online" and attacks[name].queries == count
        assert catalog.settings(name, config)["queries"] == count
    assert not any(name.startswith("lira_online_queries_") and name not in by_count.values() for name in attacks)


def test_without_mirror_table_3_has_one_query_only():
    assert list(catalog.table_3(make_config(False, 0, 1))) == [1]


@pytest.mark.parametrize("mirror, shift, stride", [(True, 0, 1), (True, 4, 4), (True, 4, 1), (False, 2, 1)])
def test_every_table_and_figure_name_is_an_attack(mirror, shift, stride):
    attacks = catalog.attacks(make_config(mirror, shift, stride))
    names = set(catalog.TABLE_1) | set(catalog.FIGURE_1) | {n for names in catalog.TABLE_2.values() for n in names}
    assert names <= set(attacks)
    assert {attack.family for attack in attacks.values()} == set(catalog.FAMILIES)
    for name in names:
        catalog.settings(name, make_config(mirror, shift, stride))  # no KeyError


def test_table_2_paths_start_from_the_table_1_baselines():
    assert [names[0] for names in catalog.TABLE_2.values()] == ["global_threshold", "watson", "sablayrolles"]
    attacks = catalog.attacks(make_config())
    assert attacks["sablayrolles_logit_gaussian_queries"].family == "lira_online"
    assert attacks["watson_logit_gaussian_queries"].family == "lira_offline"
