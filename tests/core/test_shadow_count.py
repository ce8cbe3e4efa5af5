"""lira.core.shadow_count: attack power against the number of shadow models, by subsampling them."""

import math

import numpy as np
import pytest

from lira.core import attacks, gaussian, metrics, shadow_count, splits

N_MODELS, N_EXAMPLES, N_QUERIES, N_TARGETS = 8, 40, 2, 3


def synthetic(seed=0, n_models=N_MODELS):
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, N_EXAMPLES)
    offset = rng.normal(scale=2.0, size=(1, N_EXAMPLES, 1))
    values = offset + 1.5 * keep[..., None] + rng.normal(size=(n_models, N_EXAMPLES, N_QUERIES))
    return values, keep


def test_shadow_counts():
    # Up to N - 2: every model outside the target's pair, as in the main evaluation.
    assert shadow_count.shadow_counts(64) == [4, 8, 16, 32, 62]
    assert shadow_count.shadow_counts(8) == [4, 6]
    assert shadow_count.shadow_counts(256) == [4, 8, 16, 32, 64, 128, 254]
    assert shadow_count.shadow_counts(10) == [4, 8]
    assert shadow_count.shadow_counts(6) == [4]
    assert shadow_count.shadow_counts(4) == [2]
    assert shadow_count.shadow_counts(11) == [4, 8, 9]  # pairs out, the unpaired model 10 stays
    for n_models in (2, 3):
        with pytest.raises(ValueError, match="2 pairs"):
            shadow_count.shadow_counts(n_models)


def record_choices(monkeypatch):
    """Wrap shadow_count._choose_pairs to record, per call (one per count and repeat), the models
    each target's shadows are drawn from: a list of [T] lists of model indices."""
    calls = []
    original = shadow_count._choose_pairs

    def recording(*args, **kwargs):
        chosen = original(*args, **kwargs)  # [T, P] of 0/1
        calls.append([sorted(m for p in np.flatnonzero(row) for m in (2 * p, 2 * p + 1)) for row in chosen])
        return chosen

    monkeypatch.setattr(shadow_count, "_choose_pairs", recording)
    return calls


def test_subsampled_shadows_exclude_the_target_and_its_pair(monkeypatch):
    values, keep = synthetic(1, n_models=16)
    calls = record_choices(monkeypatch)
    repeats = 3
    rows = shadow_count.attack_power_by_shadow_count(values, keep, N_TARGETS, repeats, seed=0, max_fpr=0.1)
    counts = shadow_count.shadow_counts(16)  # [4, 8, 14]
    assert counts == [4, 8, 14]
    variants = len(shadow_count.SHADOW_COUNT_VARIANTS)
    assert len(rows) == (len(counts) - 1) * repeats * variants + variants
    # One draw per subsampled (count, repeat), in order; N - 2 = 14 draws nothing (every other pair).
    assert len(calls) == (len(counts) - 1) * repeats
    drawn = {}
    for (count, repeat), per_target in zip([(c, r) for c in counts[:-1] for r in range(repeats)], calls):
        assert len(per_target) == N_TARGETS
        for target, chosen in enumerate(per_target):
            assert len(chosen) == len(set(chosen)) == count
            assert target not in chosen
            partner = target ^ 1
            assert partner not in chosen, (count, repeat, target, chosen)
            assert all((m ^ 1) in chosen for m in chosen)  # whole complementary pairs
            assert np.all(keep[chosen].sum(axis=0) == count // 2)  # k/2 IN and k/2 OUT per example
            drawn.setdefault(count, set()).add(tuple(chosen))
    assert all(len(sets) > 1 for sets in drawn.values())  # random draws, not one fixed subset


def reference_attack_power_by_shadow_count(values, keep, n_targets, repeats, seed, max_fpr, offline_test):
    """The straightforward implementation: one fit per target and subsample, on the chosen models;
    the full count fits every model outside the target's pair."""
    rng = np.random.default_rng([seed, 0xC0])
    n_models = len(values)
    counts = shadow_count.shadow_counts(n_models)
    rows = []
    for count in counts:
        for repeat in range(1 if count == counts[-1] else repeats):
            scores = {name: [] for name in shadow_count.SHADOW_COUNT_VARIANTS}
            for target in range(n_targets):
                target_values = np.asarray(values[target], dtype=np.float64)
                if count == counts[-1]:
                    others = [m for m in range(n_models) if m // 2 != target // 2]
                    params = gaussian.gaussian_params(gaussian.fit_shadow_sums(values[others], keep[others]))
                else:
                    pairs = np.setdiff1d(np.arange(n_models // 2), [target // 2])
                    picked = rng.choice(pairs, size=count // 2, replace=False)
                    chosen = np.sort(np.r_[2 * picked, 2 * picked + 1])
                    params = gaussian.gaussian_params(gaussian.fit_shadow_sums(values[chosen], keep[chosen]))
                for name, (kind, global_variance) in shadow_count.SHADOW_COUNT_VARIANTS.items():
                    if kind == "online":
                        score = attacks.lira_online(target_values, params, global_variance)
                    else:
                        score = attacks.lira_offline(target_values, params, global_variance, offline_test)
                    scores[name].append(score)
            for name, per_target in scores.items():
                roc = metrics.roc_curve(np.concatenate(per_target), keep[:n_targets].ravel())
                rows.append(
                    {
                        "shadow_models": count,
                        "repeat": repeat,
                        "variant": name,
                        "tpr": metrics.tpr_at_fpr(roc, max_fpr)[0],
                        "auc": metrics.auc(roc),
                    }
                )
    return rows


@pytest.mark.parametrize("keep_bytes", [1 << 30, 0])  # pair statistics kept, or recomputed per chunk
@pytest.mark.parametrize(
    "n_models, n_targets, offline_test, uneven",
    [
        (16, 5, "one-sided", False),
        (16, 16, "two-sided", False),
        (11, 4, "one-sided", False),  # model 10 belongs to no pair
        (8, 3, "two-sided", False),
        (16, 5, "one-sided", True),
    ],
)
def test_against_fitting_every_target_on_its_own(n_models, n_targets, offline_test, uneven, keep_bytes, monkeypatch):
    """The pair sums and one product per (count, repeat) give the rows of fitting each target's
    chosen models directly, with the same draws, whether the pairs' statistics are kept or
    recomputed a chunk at a time (large pools)."""
    monkeypatch.setattr(shadow_count._PairSums, "KEEP_BYTES", keep_bytes)
    monkeypatch.setattr(shadow_count, "row_chunks", lambda n, width: gaussian.row_chunks(n, width, 7 * width))  # 6 chunks
    values, keep = synthetic(7, n_models=n_models)
    if uneven:  # pair (6, 7) is IN twice for some examples: IN and OUT counts differ there
        keep[7] |= np.random.default_rng(8).random(N_EXAMPLES) < 0.5
    values = values.astype(np.float32)  # as the shadows' stacks are stored
    arguments = dict(n_targets=n_targets, repeats=3, seed=2, max_fpr=0.05, offline_test=offline_test)
    new = shadow_count.attack_power_by_shadow_count(values, keep, **arguments)
    old = reference_attack_power_by_shadow_count(values, keep, **arguments)
    assert [(r["shadow_models"], r["repeat"], r["variant"]) for r in new] == [
        (r["shadow_models"], r["repeat"], r["variant"]) for r in old
    ]
    for a, b in zip(new, old):
        assert a["auc"] == pytest.approx(b["auc"], abs=1e-9), (a, b)
        assert np.isclose(a["tpr"], b["tpr"], rtol=0, atol=1e-9, equal_nan=True), (a, b)
    assert any(r["shadow_models"] == 4 and r["repeat"] == 2 for r in new)


def test_the_full_count_equals_fitting_every_model_outside_the_targets_pair():
    """N - 2 shadows by leaving the pair out of one fit: the scores of fitting those N - 2 models."""
    values, keep = synthetic(3, n_models=8)
    everyone = gaussian.fit_shadow_sums(values, keep)
    for target in range(3):
        others = [m for m in range(8) if m // 2 != target // 2]
        direct = gaussian.gaussian_params(gaussian.fit_shadow_sums(values[others], keep[others]))
        left_out = gaussian.leave_pair_out(everyone, values, keep, target)
        for online in (True, False):
            score = attacks.lira_online if online else attacks.lira_offline
            np.testing.assert_allclose(score(values[target], left_out), score(values[target], direct), rtol=1e-10, atol=1e-10)


def test_a_wild_pair_partner_changes_no_row_and_a_wild_shadow_the_full_count_rows():
    # One target (model 0); its partner (model 1) gets wild values. No count's shadows hold model
    # 1, so no row changes (same draws). Model 2 is a shadow at the full count N - 2.
    values, keep = synthetic(2, n_models=16)
    sane_rows = shadow_count.attack_power_by_shadow_count(values, keep, 1, repeats=3, seed=0, max_fpr=0.1)
    for model, changed in ((1, False), (2, True)):
        wild = values.copy()
        wild[model] += np.where(keep[model], 50.0, -50.0)[:, None]
        wild_rows = shadow_count.attack_power_by_shadow_count(wild, keep, 1, repeats=3, seed=0, max_fpr=0.1)
        full = [(a, b) for a, b in zip(sane_rows, wild_rows) if a["shadow_models"] == 14]
        assert len(full) == 4 and len(wild_rows) == 2 * 3 * 4 + 4
        if changed:
            assert any(a["auc"] != b["auc"] for a, b in full)
        else:
            assert sane_rows == wild_rows


def test_subsample_rows_are_deterministic_for_a_seed():
    values, keep = synthetic(3, n_models=16)
    first = shadow_count.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=4, max_fpr=0.1)
    again = shadow_count.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=4, max_fpr=0.1)
    other = shadow_count.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=5, max_fpr=0.1)
    assert first == again
    assert [r["auc"] for r in first] != [r["auc"] for r in other]
    # The N - 2 rows draw nothing: they agree across seeds.
    assert [r for r in first if r["shadow_models"] == 14] == [r for r in other if r["shadow_models"] == 14]


@pytest.mark.parametrize("offline_test", ["one-sided", "two-sided"])
def test_full_count_row_is_the_main_evaluations_lira(offline_test):
    values, keep = synthetic(4)
    rows = shadow_count.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=0, max_fpr=0.05, offline_test=offline_test)
    assert {(r["shadow_models"], r["repeat"]) for r in rows} == {(4, 0), (4, 1), (6, 0)}
    params = gaussian.leave_pair_out(gaussian.fit_shadow_sums(values, keep), values, keep, np.arange(N_TARGETS))
    for name, (kind, global_variance) in shadow_count.SHADOW_COUNT_VARIANTS.items():
        if kind == "online":
            scores = attacks.lira_online(values[:N_TARGETS], params, global_variance)
        else:
            scores = attacks.lira_offline(values[:N_TARGETS], params, global_variance, offline_test)
        roc = metrics.roc_curve(scores, keep[:N_TARGETS])
        (row,) = [r for r in rows if r["shadow_models"] == N_MODELS - 2 and r["variant"] == name]
        assert row["repeat"] == 0
        assert row["auc"] == pytest.approx(metrics.auc(roc), abs=1e-12)
        assert row["tpr"] == pytest.approx(metrics.tpr_at_fpr(roc, 0.05)[0], abs=1e-12)


def test_unmeasurable_tpr_is_nan():
    values, keep = synthetic(5)
    rows = shadow_count.attack_power_by_shadow_count(values, keep, 1, 1, seed=0, max_fpr=1e-3)  # 20 non-members
    assert rows and all(math.isnan(r["tpr"]) for r in rows)
    assert all(0.0 <= r["auc"] <= 1.0 for r in rows)
