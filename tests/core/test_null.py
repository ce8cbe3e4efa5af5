"""The null test: where the models carry no membership signal, every attack is at chance.

The statistics come from synthetic logits that do not depend on the keep masks at all: per
example a base (its difficulty, shared by every model), per model and example a draw shared by
its queries (as a model's view of an augmented image), per query a small jitter. Membership is
then independent of everything an attack sees, and every attack's AUC must be 0.5 up to noise.
The statistics, fits, queries and settings are the workflow's (as in test_attacks_by_family):
float32 stacks of every statistic plus the probability exp(-loss), fits over all N models, keep
masks from lira.core.splits, lira.core.attacks.run with lira.workflow.catalog's settings, every
model a target in turn (whole pairs) and the scores pooled over the targets into one ROC.

The bound. For scores that members and non-members share in distribution, the AUC (the
Mann-Whitney statistic over m members and n non-members) has mean 1/2 and, for independent
scores, standard deviation sigma0 = sqrt((m + n + 1) / (12 m n)). The pooled scores are not
independent (the targets share shadows and examples); over 30 seeds of this very data (SEED 0 to
29) the standard deviation of each case's AUC came out at 0.4 to 1.5 sigma0, and the largest of
the 1,860 deviations |AUC - 1/2| at 3.5 sigma0. The test allows |AUC - 1/2| <= 5 sigma0, at
least 3.3 standard deviations: a sound attack fails it by chance with a probability of the order
of 1e-3, and the seed is fixed, so the outcome is deterministic (at SEED 0 every case lies within
1.0 sigma0).

Why it matters: when the target alone is left out of its shadows, its partner (the other model
of its complementary pair, trained on the other half of the pool) stays among them, so a member
of the target has one IN shadow fewer and one OUT shadow more than a non-member, and a Gaussian
fitted to fewer values predicts a fresh one worse: online LiRA scored members lower (AUC 0.216
at N = 6 and 0.482 at N = 16 here), offline LiRA, which counts OUT shadows only, higher (0.542 at
N = 6), and Shokri's classifier learned the IN/OUT imbalance per example (0.478, 0.485): 25 of
the 62 cases failed. The last test keeps that protocol around to show that this test catches it.
"""

import json
from functools import cache

import numpy as np
import pytest

from lira.core import attacks, gaussian, logit_statistics, metrics, splits
from lira.core.queries import nested_subsets, query_set
from lira.workflow import catalog

N_EXAMPLES, N_CLASSES, SEED = 4000, 4, 0
QUERIES = {"mirror": True, "shift": 1, "stride": 1}  # 18 queries, nested subsets of 1, 2 and 18
N_QUERIES = len(query_set(**QUERIES))
MODEL_COUNTS = (6, 16)
BOUND_SIGMAS = 5.0


def make_config(n_models, **attack_options):
    options = {
        "targets": n_models,  # every model, whole pairs
        "statistic": "logit_scaled_confidence",
        "offline_test": "one-sided",
        "centre": "mean",
        "rmia": {"population_size": 1000, "gamma": 1.0, "offline_a": 0.3},
    }
    options.update(attack_options)
    return {"queries": dict(QUERIES), "attack": options, "seed": SEED}


@cache
def null_data(n_models):
    """(shadows, keep, labels, fits) as the workflow builds them, with no membership signal."""
    rng = np.random.default_rng([SEED, n_models])
    keep = splits.keep_matrix(SEED, n_models, N_EXAMPLES)
    labels = np.arange(N_EXAMPLES) % N_CLASSES
    base = rng.normal(scale=2.0, size=(1, N_EXAMPLES, 1, N_CLASSES))
    base[0, np.arange(N_EXAMPLES), 0, labels] += rng.normal(2.0, 2.0, size=N_EXAMPLES)  # mostly right, some hard
    logits = (
        base
        + rng.normal(scale=1.0, size=(n_models, N_EXAMPLES, 1, N_CLASSES))
        + rng.normal(scale=0.3, size=(n_models, N_EXAMPLES, N_QUERIES, N_CLASSES))
    )
    values = logit_statistics.all_statistics(logits, labels[:, None])
    values["probability"] = np.exp(-values["loss"])
    shadows = {name: value.astype(np.float32) for name, value in values.items()}
    fits = {name: gaussian.fit_shadow_sums(value, keep) for name, value in shadows.items()}
    return shadows, keep, labels, fits


def variants(n_models):
    """Every catalog attack, and every LiRA variant also with the median centre and every offline
    one also with the two-sided test: {settings as JSON: (names, settings)}, one entry per
    distinct setting (attacks with the same settings give the same scores)."""
    configs = [("", make_config(n_models)), ("median", make_config(n_models, centre="median")),
               ("two-sided", make_config(n_models, offline_test="two-sided"))]  # fmt: skip
    found = {}
    for option, config in configs:
        for name, attack in catalog.attacks(config).items():
            if (option == "median" and not attack.family.startswith("lira")) or (
                option == "two-sided" and attack.family != "lira_offline"
            ):
                continue
            settings = catalog.settings(name, config)
            key = json.dumps(settings, sort_keys=True)
            found.setdefault(key, ([], settings))[0].append(f"{name}[{option}]" if option else name)
    return {key: (sorted(names), settings) for key, (names, settings) in found.items()}


VARIANTS = variants(MODEL_COUNTS[0])


def query_indices(settings):
    if settings["queries"] == "all":
        return slice(None)
    return nested_subsets(QUERIES["mirror"], QUERIES["shift"], QUERIES["stride"])[settings["queries"]]


def null_sigma(is_member):
    """The standard deviation of the AUC of independent scores without signal (Mann-Whitney)."""
    m, n = int(is_member.sum()), int((~is_member).sum())
    return float(np.sqrt((m + n + 1) / (12 * m * n)))


def test_the_variants_cover_every_family_and_lira_option():
    settings = [s for _, s in VARIANTS.values()]
    assert {s["family"] for s in settings} == set(catalog.FAMILIES)
    lira = [s for s in settings if s["family"].startswith("lira")]
    assert {(s["family"], s["centre"], s["variance"]) for s in lira} == {
        (family, centre, variance)
        for family in ("lira_online", "lira_offline")
        for centre in ("mean", "median")
        for variance in ("per-example", "global")
    }
    assert {s["queries"] for s in lira if s["family"] == "lira_online"} == {1, 2, 18, "all"}
    assert {s["offline_test"] for s in lira if s["family"] == "lira_offline"} == {"one-sided", "two-sided"}
    names = {name for names, _ in VARIANTS.values() for name in names}
    assert set(catalog.attacks(make_config(6))) <= names


@pytest.mark.parametrize("n_models", MODEL_COUNTS)
@pytest.mark.parametrize("key", list(VARIANTS), ids=[" = ".join(names) for names, _ in VARIANTS.values()])
def test_every_attack_is_at_chance_without_membership_signal(key, n_models):
    shadows, keep, labels, fits = null_data(n_models)
    settings = dict(VARIANTS[key][1], targets=n_models)
    scores, _ = attacks.run(settings, shadows, keep, labels, fits, query_indices(settings))
    is_member = keep[:n_models]
    auc = metrics.auc(metrics.roc_curve(scores, is_member))
    bound = BOUND_SIGMAS * null_sigma(is_member)
    sigmas = (auc - 0.5) / bound * BOUND_SIGMAS
    assert abs(auc - 0.5) <= bound, f"AUC {auc:.4f}, allowed 0.5 +- {bound:.4f} ({sigmas:+.1f} sigma0)"


def test_every_example_has_as_many_in_as_out_shadows_for_every_target():
    # What makes the above hold: the shadows' IN/OUT counts say nothing of the target's membership.
    shadows, keep, labels, fits = null_data(6)
    settings = catalog.settings("lira_online", make_config(6))
    inputs = attacks.AttackInputs(settings, shadows, keep, labels, fits, slice(None))
    params = inputs.gaussians("logit_scaled_confidence")
    np.testing.assert_array_equal(params.count_in, 2)
    np.testing.assert_array_equal(params.count_out, 2)


def test_leaving_only_the_target_out_fails_this_test():
    # The protocol this test guards against: the target alone left out, its partner a shadow.
    n_models = 6
    shadows, keep, _, fits = null_data(n_models)
    values = shadows["logit_scaled_confidence"]
    params = gaussian.leave_one_out(fits["logit_scaled_confidence"], values, keep)
    np.testing.assert_array_equal(params.count_in, n_models // 2 - keep)  # a member: one IN shadow fewer
    scores = attacks.lira_online(values, params)
    is_member = keep
    auc = metrics.auc(metrics.roc_curve(scores, is_member))
    assert auc < 0.5 - 10 * BOUND_SIGMAS * null_sigma(is_member)  # anti-informative, far outside the bound
