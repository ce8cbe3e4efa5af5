"""lira.analysis: shadow-count subsampling and per-example vulnerability."""

import math

import numpy as np
import pytest

from lira import analysis, attacks, gaussian, metrics, splits

N_MODELS, N_EXAMPLES, N_QUERIES, N_TARGETS = 8, 40, 2, 3


def synthetic(seed=0, n_models=N_MODELS):
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, N_EXAMPLES)
    offset = rng.normal(scale=2.0, size=(1, N_EXAMPLES, 1))
    values = offset + 1.5 * keep[..., None] + rng.normal(size=(n_models, N_EXAMPLES, N_QUERIES))
    return values, keep


def test_shadow_counts():
    assert analysis.shadow_counts(64) == [4, 8, 16, 32, 63]
    assert analysis.shadow_counts(8) == [4, 7]
    assert analysis.shadow_counts(256) == [4, 8, 16, 32, 64, 128, 255]
    assert analysis.shadow_counts(10) == [4, 8, 9]
    assert analysis.shadow_counts(6) == [4, 5]


def record_fits(monkeypatch, values):
    """Wrap analysis.fit_shadow_statistics to record which model rows each fit receives."""
    calls = []
    original = analysis.fit_shadow_statistics

    def recording(phi, keep):
        rows = [int(np.flatnonzero(np.all(values == row, axis=(1, 2)))[0]) for row in phi]
        calls.append(rows)
        return original(phi, keep)

    monkeypatch.setattr(analysis, "fit_shadow_statistics", recording)
    return calls


def test_subsampled_shadows_exclude_the_target_and_its_pair(monkeypatch):
    values, keep = synthetic(1, n_models=16)
    calls = record_fits(monkeypatch, values)
    repeats = 3
    rows = analysis.attack_power_by_shadow_count(values, keep, N_TARGETS, repeats, seed=0, max_fpr=0.1)
    counts = analysis.shadow_counts(16)  # [4, 8, 15]
    assert counts == [4, 8, 15]
    variants = len(analysis.SHADOW_COUNT_VARIANTS)
    assert len(rows) == (len(counts) - 1) * repeats * variants + variants
    # First one fit of all 16 models, from which N - 1 = 15 leaves each target out; then the
    # subsampled fits in order: count, repeat, target.
    assert calls[0] == list(range(16))
    expected_calls = [(c, r, t) for c in counts[:-1] for r in range(repeats) for t in range(N_TARGETS)]
    assert len(calls) == 1 + len(expected_calls)
    drawn = {}
    for (count, repeat, target), chosen in zip(expected_calls, calls[1:]):
        assert len(chosen) == len(set(chosen)) == count
        assert target not in chosen
        partner = target ^ 1
        assert partner not in chosen, (count, repeat, target, chosen)
        assert all((m ^ 1) in chosen for m in chosen)  # whole complementary pairs
        assert np.all(keep[chosen].sum(axis=0) == count // 2)  # k/2 IN and k/2 OUT per example
        drawn.setdefault(count, set()).add(tuple(chosen))
    assert all(len(sets) > 1 for sets in drawn.values())  # random draws, not one fixed subset


def test_the_full_count_equals_fitting_every_other_model():
    """N - 1 shadows by leave-one-out from one fit: the scores of fitting the N - 1 models."""
    values, keep = synthetic(3, n_models=8)
    everyone = gaussian.fit_shadow_statistics(values, keep)
    for target in range(3):
        others = [m for m in range(8) if m != target]
        direct = gaussian.gaussian_params(gaussian.fit_shadow_statistics(values[others], keep[others]))
        left_out = gaussian.leave_one_out(everyone, values[target], keep[target])
        for online in (True, False):
            score = attacks.lira_online if online else attacks.lira_offline
            np.testing.assert_allclose(score(values[target], left_out), score(values[target], direct), rtol=1e-10, atol=1e-10)


def test_a_wild_pair_partner_changes_only_the_full_count_rows():
    # One target (model 0); its partner (model 1) gets wild values. Subsampled shadows never hold
    # model 1, so those rows are unchanged (same draws); leave-one-out (N - 1) does hold it.
    values, keep = synthetic(2, n_models=16)
    wild = values.copy()
    wild[1] += np.where(keep[1], 50.0, -50.0)[:, None]
    sane_rows = analysis.attack_power_by_shadow_count(values, keep, 1, repeats=3, seed=0, max_fpr=0.1)
    wild_rows = analysis.attack_power_by_shadow_count(wild, keep, 1, repeats=3, seed=0, max_fpr=0.1)
    subsampled = [(a, b) for a, b in zip(sane_rows, wild_rows) if a["shadow_models"] < 15]
    full = [(a, b) for a, b in zip(sane_rows, wild_rows) if a["shadow_models"] == 15]
    assert len(subsampled) == 2 * 3 * 4 and len(full) == 4
    assert all(a == b for a, b in subsampled)
    assert any(a["auc"] != b["auc"] for a, b in full)


def test_subsample_rows_are_deterministic_for_a_seed():
    values, keep = synthetic(3, n_models=16)
    first = analysis.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=4, max_fpr=0.1)
    again = analysis.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=4, max_fpr=0.1)
    other = analysis.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=5, max_fpr=0.1)
    assert first == again
    assert [r["auc"] for r in first] != [r["auc"] for r in other]
    # The N - 1 rows draw nothing: they agree across seeds.
    assert [r for r in first if r["shadow_models"] == 15] == [r for r in other if r["shadow_models"] == 15]


@pytest.mark.parametrize("offline_test", ["one-sided", "two-sided"])
def test_full_count_row_is_plain_leave_one_out_lira(offline_test):
    values, keep = synthetic(4)
    rows = analysis.attack_power_by_shadow_count(values, keep, N_TARGETS, 2, seed=0, max_fpr=0.05, offline_test=offline_test)
    assert {(r["shadow_models"], r["repeat"]) for r in rows} == {(4, 0), (4, 1), (7, 0)}
    params = gaussian.leave_one_out(gaussian.fit_shadow_statistics(values, keep), values[:N_TARGETS], keep[:N_TARGETS])
    for name, (kind, global_variance) in analysis.SHADOW_COUNT_VARIANTS.items():
        if kind == "online":
            scores = attacks.lira_online(values[:N_TARGETS], params, global_variance)
        else:
            scores = attacks.lira_offline(values[:N_TARGETS], params, global_variance, offline_test)
        roc = metrics.roc_curve(scores, keep[:N_TARGETS])
        (row,) = [r for r in rows if r["shadow_models"] == N_MODELS - 1 and r["variant"] == name]
        assert row["repeat"] == 0
        assert row["auc"] == pytest.approx(metrics.auc(roc), abs=1e-12)
        assert row["tpr"] == pytest.approx(metrics.tpr_at_fpr(roc, 0.05)[0], abs=1e-12)


def test_unmeasurable_tpr_is_nan():
    values, keep = synthetic(5)
    rows = analysis.attack_power_by_shadow_count(values, keep, 1, 1, seed=0, max_fpr=1e-3)  # 20 non-members
    assert rows and all(math.isnan(r["tpr"]) for r in rows)
    assert all(0.0 <= r["auc"] <= 1.0 for r in rows)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_vulnerability_against_loop():
    rng = np.random.default_rng(6)
    is_member = rng.random((5, 9)) < 0.5
    is_member[:, 0] = True  # example 0 is never a non-member: its non-member mean is NaN
    scores = rng.normal(size=(5, 9)) + 2 * is_member
    result = analysis.vulnerability(scores, is_member)
    assert set(result) == {"mean_score_member", "mean_score_non_member", "exposure"}
    for x in range(9):
        member = [scores[t, x] for t in range(5) if is_member[t, x]]
        non_member = [scores[t, x] for t in range(5) if not is_member[t, x]]
        member_mean = sum(member) / len(member) if member else math.nan
        non_member_mean = sum(non_member) / len(non_member) if non_member else math.nan
        np.testing.assert_allclose(result["mean_score_member"][x], member_mean, rtol=1e-12)
        np.testing.assert_allclose(result["mean_score_non_member"][x], non_member_mean, rtol=1e-12)
        np.testing.assert_allclose(result["exposure"][x], member_mean - non_member_mean, rtol=1e-12)
    assert math.isnan(result["exposure"][0])
    assert np.nanmean(result["exposure"]) > 1
