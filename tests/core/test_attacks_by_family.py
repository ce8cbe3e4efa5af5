"""lira.core.attacks.run for every attack of lira.workflow.catalog, on statistics computed from synthetic logits.

The shadows are built like the workflow's (scripts/shadows.py, scripts/fit.py, scripts/attack.py):
float32 stacks [N, n, Q] of every statistic plus the probability exp(-loss), fits over all N
models, query indices from lira.core.queries.nested_subsets; targets are models 0..T-1, each
attacked with every model outside its complementary pair as its shadows."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from lira.core import attacks, gaussian, logit_statistics, metrics, splits
from lira.core.queries import nested_subsets, query_set
from lira.workflow import catalog

N_MODELS, N_EXAMPLES, N_CLASSES, N_TARGETS = 8, 60, 3, 3
QUERIES = {"mirror": True, "shift": 1, "stride": 1}  # 18 queries
N_QUERIES = len(query_set(**QUERIES))


def make_config(**attack_options):
    options = {
        "targets": N_TARGETS,
        "statistic": "logit_scaled_confidence",
        "offline_test": "one-sided",
        "centre": "mean",
        "rmia": {"population_size": 10, "gamma": 1.0, "offline_a": 0.3},
    }
    options.update(attack_options)
    return {"queries": dict(QUERIES), "attack": options, "seed": 0}


def make_shadows(seed=0, gap=3.0):
    """Statistics of N models on n examples: the true-class logit is an example's difficulty plus
    `gap` when the model trained on it (members have lower loss), plus noise per model and query."""
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, N_MODELS, N_EXAMPLES)
    labels = np.arange(N_EXAMPLES) % N_CLASSES
    logits = rng.normal(size=(N_MODELS, N_EXAMPLES, N_QUERIES, N_CLASSES))
    difficulty = rng.normal(scale=1.0, size=(1, N_EXAMPLES, 1))
    true_logit = difficulty + gap * keep[..., None] + 0.5 * rng.normal(size=(N_MODELS, N_EXAMPLES, N_QUERIES))
    logits[..., :] += np.eye(N_CLASSES)[labels][None, :, None, :] * true_logit[..., None]
    values = logit_statistics.all_statistics(logits, labels[:, None])
    values["probability"] = np.exp(-values["loss"])
    shadows = {name: value.astype(np.float32) for name, value in values.items()}
    fits = {name: gaussian.fit_shadow_sums(value, keep) for name, value in shadows.items()}
    return shadows, keep, labels, fits


@pytest.fixture(scope="module")
def data():
    return make_shadows()


def query_indices(settings):
    if settings["queries"] == "all":
        return slice(None)
    return nested_subsets(QUERIES["mirror"], QUERIES["shift"], QUERIES["stride"])[settings["queries"]]


def run(name, data, config=None):
    shadows, keep, labels, fits = data
    settings = catalog.settings(name, config or make_config())
    return attacks.run(settings, shadows, keep, labels, fits, query_indices(settings))


ALL_NAMES = sorted(catalog.attacks(make_config()))


def test_every_catalog_family_is_exercised():
    families = {catalog.attacks(make_config())[name].family for name in ALL_NAMES}
    assert families == set(catalog.FAMILIES)
    assert {"lira_online_queries_1", "lira_online_queries_2", "lira_online_queries_18"} <= set(ALL_NAMES)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_attack_gives_finite_member_oriented_scores(name, data):
    shadows, keep, _, _ = data
    scores, min_fpr = run(name, data)
    assert scores.shape == (N_TARGETS, N_EXAMPLES)
    assert scores.dtype == np.float64
    assert np.all(np.isfinite(scores))
    # Higher means member, whatever the statistic's own orientation (loss: lower is member).
    auc = metrics.auc(metrics.roc_curve(scores, keep[:N_TARGETS]))
    assert auc > 0.75, (name, auc)
    if catalog.attacks(make_config())[name].family == "ye":
        assert min_fpr == pytest.approx(1 / 3)  # 8 models: 3 OUT shadows once the target's pair is left out
    else:
        assert min_fpr == 0.0


@pytest.mark.parametrize(
    "name, same_as",
    [
        ("sablayrolles_logit_gaussian_queries", "lira_online"),
        ("watson_logit_gaussian_queries", "lira_offline"),
        ("lira_online_queries_1", "sablayrolles_logit_gaussian"),
        ("lira_online_queries_18", "lira_online"),  # the 18-query subset is the whole configured set
    ],
)
def test_table_2_and_3_identities(name, same_as, data):
    # Index lists and slice(None) may sum in a different order: equal to rounding.
    np.testing.assert_allclose(run(name, data)[0], run(same_as, data)[0], rtol=1e-12, atol=1e-12)


def test_identities_that_must_not_hold(data):
    # Distinct steps of the ablation paths give distinct scores.
    distinct = ["global_threshold", "loss_logit", "loss_logit_queries", "watson", "watson_logit", "sablayrolles",
                "sablayrolles_logit", "lira_online_queries_1", "lira_online_queries_2", "lira_online",
                "lira_online_global_variance", "lira_offline", "rmia_online", "rmia_offline"]  # fmt: skip
    scores = {name: run(name, data)[0] for name in distinct}
    for i, a in enumerate(distinct):
        for b in distinct[i + 1 :]:
            assert not np.allclose(scores[a], scores[b]), (a, b)


def test_identities_depend_on_the_configured_statistic(data):
    # With statistic hinge, "lira_online" uses the hinge but "+ queries (online LiRA)" stays logit-scaled.
    config = make_config(statistic="hinge")
    assert not np.allclose(run("lira_online", data, config)[0], run("sablayrolles_logit_gaussian_queries", data, config)[0])
    np.testing.assert_array_equal(run("sablayrolles_logit_gaussian_queries", data, config)[0], run("lira_online", data)[0])


# --- run against direct computations ---------------------------------------------------------------


def others_of(t):
    """Target t's shadows: every model outside its pair (2j, 2j + 1)."""
    return [m for m in range(N_MODELS) if m // 2 != t // 2]


def test_run_threshold_sablayrolles_watson_direct(data):
    shadows, keep, _, _ = data
    loss = shadows["loss"].astype(np.float64)
    phi = shadows["logit_scaled_confidence"].astype(np.float64)
    yeom, sablayrolles, watson = (run(name, data)[0] for name in ("global_threshold", "sablayrolles", "watson"))
    queries = run("loss_logit_queries", data)[0]
    for t in range(N_TARGETS):
        for x in range(N_EXAMPLES):
            ins = [loss[m, x, 0] for m in others_of(t) if keep[m, x]]
            outs = [loss[m, x, 0] for m in others_of(t) if not keep[m, x]]
            assert yeom[t, x] == -loss[t, x, 0]
            expected = -(loss[t, x, 0] - (sum(ins) / len(ins) + sum(outs) / len(outs)) / 2)
            assert sablayrolles[t, x] == pytest.approx(expected, rel=1e-9, abs=1e-9)
            assert watson[t, x] == pytest.approx(-(loss[t, x, 0] - sum(outs) / len(outs)), rel=1e-9, abs=1e-9)
            assert queries[t, x] == pytest.approx(sum(phi[t, x]) / N_QUERIES, rel=1e-12)


def test_run_ye_song_mittal_shokri_use_the_identity_query(data):
    shadows, keep, labels, fits = data
    targets = np.arange(N_TARGETS)
    loss = shadows["loss"][..., 0].astype(np.float64)
    mentr = shadows["modified_entropy"][..., 0].astype(np.float64)
    np.testing.assert_array_equal(run("ye", data)[0], attacks.ye(loss[:N_TARGETS], loss, keep, targets))
    np.testing.assert_array_equal(
        run("song_mittal", data)[0], attacks.song_mittal(mentr[:N_TARGETS], mentr, keep, labels, targets)
    )
    features = np.stack(
        [shadows[name][..., 0].astype(np.float64) for name in ("logit_scaled_confidence", "hinge", "modified_entropy")],
        axis=-1,
    )
    np.testing.assert_array_equal(
        run("shokri", data)[0], attacks.shokri(features[:N_TARGETS], features, keep, labels, targets, seed=0)
    )


def direct_lira(values, keep, centre, kind, offline_test="one-sided", global_variance=False):
    """LiRA by loops over targets, examples, queries and models (values already oriented)."""
    scores = np.zeros((N_TARGETS, N_EXAMPLES))
    q = values.shape[-1]
    for t in range(N_TARGETS):
        groups = {}
        for group, member in (("in", True), ("out", False)):
            centres, variances = np.zeros((N_EXAMPLES, q)), np.zeros((N_EXAMPLES, q))
            squared, count = np.zeros(q), 0
            for x in range(N_EXAMPLES):
                shadow = [m for m in others_of(t) if bool(keep[m, x]) == member]
                count += len(shadow)
                for query in range(q):
                    sample = [values[m, x, query] for m in shadow]
                    mean = sum(sample) / len(sample)
                    centres[x, query] = mean if centre == "mean" else float(np.median(sample))
                    variances[x, query] = sum((v - mean) ** 2 for v in sample) / (len(sample) - 1)
                    squared[query] += sum((v - mean) ** 2 for v in sample)
            if global_variance:
                variances[:] = squared / count
            groups[group] = centres, variances
        for x in range(N_EXAMPLES):
            per_query = []
            for query in range(q):
                value = values[t, x, query]
                mu_in, var_in = groups["in"][0][x, query], groups["in"][1][x, query]
                mu_out, var_out = groups["out"][0][x, query], groups["out"][1][x, query]
                if kind == "lira_online":
                    per_query.append(
                        norm.logpdf(value, mu_in, math.sqrt(var_in)) - norm.logpdf(value, mu_out, math.sqrt(var_out))
                    )
                elif offline_test == "one-sided":
                    per_query.append(norm.logcdf((value - mu_out) / math.sqrt(var_out)))
                else:
                    per_query.append(-norm.logpdf(value, mu_out, math.sqrt(var_out)))
            scores[t, x] = sum(per_query) / q
    return scores


@pytest.mark.parametrize("centre", ["median", "mean"])
@pytest.mark.parametrize("statistic", ["logit_scaled_confidence", "loss"])
@pytest.mark.parametrize(
    "name, offline_test",
    [("lira_online", "one-sided"), ("lira_offline", "one-sided"), ("lira_offline", "two-sided"),
     ("lira_online_global_variance", "one-sided"), ("lira_offline_global_variance", "two-sided")],
)  # fmt: skip
def test_run_lira_against_direct(name, offline_test, statistic, centre, data):
    shadows, keep, labels, fits = data
    config = make_config(centre=centre, statistic=statistic, offline_test=offline_test)
    settings = catalog.settings(name, config)
    assert settings["centre"] == centre and settings["statistic"] == statistic
    sign = -1.0 if statistic == "loss" else 1.0
    values = sign * shadows[statistic][..., :4].astype(np.float64)  # first 4 queries keep the loops short
    direct = direct_lira(values, keep, centre, settings["family"], offline_test, settings["variance"] == "global")
    scores, min_fpr = attacks.run(settings, shadows, keep, labels, fits, [0, 1, 2, 3])
    np.testing.assert_allclose(scores, direct, rtol=1e-7, atol=1e-7)
    assert min_fpr == 0.0


def test_median_centre_differs_from_mean_centre(data):
    median = run("lira_online", data, make_config(centre="median"))[0]
    mean = run("lira_online", data, make_config(centre="mean"))[0]
    assert not np.allclose(median, mean)


# --- RMIA through run -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rmia_online", "rmia_offline"])
def test_run_rmia_against_brute_force(name, data):
    shadows, keep, _, _ = data
    config = make_config()
    settings = catalog.settings(name, config)
    scores, _ = run(name, data, config)
    probability = shadows["probability"].astype(np.float64)
    population = np.random.default_rng([config["seed"], 0x5EED]).choice(N_EXAMPLES, size=10, replace=False)
    a = config["attack"]["rmia"]["offline_a"]
    for t in range(N_TARGETS):
        reference = np.zeros(N_EXAMPLES)
        for x in range(N_EXAMPLES):
            per_query = []
            for q in range(N_QUERIES):
                if name == "rmia_online":
                    per_query.append(sum(probability[m, x, q] for m in others_of(t)) / len(others_of(t)))
                else:
                    outs = [probability[m, x, q] for m in others_of(t) if not keep[m, x]]
                    per_query.append(((1 + a) * sum(outs) / len(outs) + (1 - a)) / 2)
            reference[x] = sum(per_query) / N_QUERIES
        ratio = [sum(probability[t, x]) / N_QUERIES / reference[x] for x in range(N_EXAMPLES)]
        for x in range(N_EXAMPLES):
            beaten = sum(1 for z in population if ratio[x] / ratio[z] >= settings["gamma"])
            assert scores[t, x] == pytest.approx(beaten / len(population), abs=1e-12), (t, x)


def test_run_rmia_population_follows_the_seed(data):
    first = run("rmia_online", data, make_config())[0]
    config = make_config()
    config["seed"] = 5
    assert catalog.settings("rmia_online", config)["seed"] == 5
    assert not np.array_equal(first, run("rmia_online", data, config)[0])
    np.testing.assert_array_equal(first, run("rmia_online", data, make_config())[0])


def test_unknown_family_raises(data):
    shadows, keep, labels, fits = data
    settings = dict(catalog.settings("lira_online", make_config()), family="nonsense")
    with pytest.raises(ValueError, match="unknown attack family"):
        attacks.run(settings, shadows, keep, labels, fits, slice(None))
