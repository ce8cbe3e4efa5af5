"""The paper's Figures 4 and 8 from a tiny synthetic results folder: Fig. 8's LiRA with the
logit-scaled confidence equals the main lira_online attack's scores, both figures write their
files and a finding with a valid verdict, and the verdict rules on constructed numbers."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from lira.core import splits
from lira.core.logit_statistics import stacked_input_statistics
from lira.core.queries import query_set
from lira.reports import paper_statistics
from lira.reports.findings import VERDICTS, read_finding
from lira.workflow import artifacts, catalog, files, steps

SEED, N_MODELS, POOL, CLASSES, TARGETS = 0, 8, 40, 3, 4
QUERIES = {"mirror": True, "shift": 0, "stride": 1, "padding": "reflect"}  # 2 queries
BLOCKS = ["0-3", "4-7"]
LOG = logging.getLogger("test")


class Paths(dict):
    """Snakemake's named file lists: by key and by attribute."""

    __getattr__ = dict.__getitem__


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """pool.npz, logits/<block>.{npy,json} of two blocks, and the shadows step's outputs, made by
    the workflow's own functions: members get a larger true-class logit."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(1)
    labels = np.arange(POOL) % CLASSES
    pool = {"x": np.zeros((POOL, 1, 2, 2), np.uint8), "y": labels, "num_classes": np.int64(CLASSES)}
    files.save_arrays(root / "pool.npz", **artifacts.with_content_hash(pool))
    fingerprint = artifacts.expected_fingerprint(root / "pool.npz", SEED)
    keep = splits.keep_matrix(SEED, N_MODELS, POOL)
    n_queries = len(query_set(QUERIES["mirror"], QUERIES["shift"], QUERIES["stride"]))
    logits = rng.normal(size=(N_MODELS, POOL, n_queries, CLASSES))
    difficulty = rng.normal(size=(1, POOL, 1))
    true_logit = 2 + difficulty + 2.5 * keep[..., None] + 0.5 * rng.normal(size=(N_MODELS, POOL, n_queries))
    logits += np.eye(CLASSES)[labels][None, :, None, :] * true_logit[..., None]
    logits = logits.astype(np.float32)
    inputs = Paths(pool=root / "pool.npz", logits=[], logits_info=[], keep=root / "shadows" / "keep.npy")
    for block in BLOCKS:
        models = splits.block_models(block)
        path, info = root / "logits" / f"{block}.npy", root / "logits" / f"{block}.json"
        path.parent.mkdir(exist_ok=True)
        artifacts.write_array_with_info(path, info, logits[models.start : models.stop], fingerprint=fingerprint, models=list(models))
        inputs["logits"].append(path)
        inputs["logits_info"].append(info)
    (root / "shadows").mkdir()
    shadows = Paths(
        {name: root / "shadows" / f"{name}.npy" for name in ("logit_scaled_confidence", "hinge")},
        keep=inputs.keep,
        info=root / "shadows" / "info.json",
    )
    steps.stack_shadows(Paths(inputs, **shadows), shadows, BLOCKS, SEED, QUERIES, ["logit_scaled_confidence", "hinge"], LOG)
    return root, inputs, shadows


def settings():
    config = {"queries": QUERIES, "seed": SEED, "attack": {
        "targets": TARGETS, "statistic": "logit_scaled_confidence", "offline_test": "one-sided", "centre": "mean",
        "rmia": {"population_size": 10, "gamma": 1.0, "offline_a": 0.3}}}  # fmt: skip
    return catalog.settings("lira_online", config)


def test_fig8_logit_scaled_scores_equal_the_main_attacks(folder):
    root, inputs, shadows = folder
    main_inputs = Paths(shadows, pool=inputs.pool, fit=root / "fit.npz")
    steps.fit_shadows(main_inputs, root / "fit.npz", SEED, LOG)
    steps.score_attack(main_inputs, root / "lira_online.npz", "lira_online", settings(), SEED, QUERIES, LOG)
    main = np.load(root / "lira_online.npz")

    labels, keep, blocks = paper_statistics.load_models(inputs, BLOCKS, SEED, QUERIES)
    stacks = {}
    for models, logits in blocks:
        for name, value in stacked_input_statistics(logits, labels).items():
            stacks.setdefault(name, np.empty((N_MODELS, *value.shape[1:]), np.float32))[models.start : models.stop] = value
    scores = paper_statistics.input_statistic_scores(stacks, keep, labels, settings(), slice(None))
    assert set(scores) == set(paper_statistics.INPUT_LABELS)
    assert np.array_equal(scores["logit_scaled_confidence"], main["scores"])
    assert not np.array_equal(scores["hinge"], main["scores"])
    assert all(value.shape == (TARGETS, POOL) and np.isfinite(value).all() for value in scores.values())


def test_both_reports_write_their_files_and_a_valid_finding(folder, tmp_path):
    _, inputs, _ = folder
    fig8 = Paths({key: tmp_path / "paper" / "fig8" / name for key, name in (
        ("roc_png", "roc.png"), ("roc_pdf", "roc.pdf"), ("table_csv", "table.csv"), ("table_md", "table.md"),
        ("finding", "finding.json"))})  # fmt: skip
    fig4 = Paths({key: tmp_path / "paper" / "fig4" / name for key, name in (
        ("histograms_png", "histograms.png"), ("histograms_pdf", "histograms.pdf"), ("per_example", "per_example.csv"),
        ("normality_csv", "normality.csv"), ("normality_md", "normality.md"), ("finding", "finding.json"))})  # fmt: skip
    for paths in (fig8, fig4):
        paths.finding.parent.mkdir(parents=True)
    paper_statistics.write_input_statistics_report(
        inputs, fig8, settings(), QUERIES, BLOCKS, [0.001, 0.1, 0.5], 20, SEED, "tiny", "label", LOG
    )
    paper_statistics.write_shape_report(inputs, fig4, QUERIES, BLOCKS, 20, SEED, "tiny", "label", LOG)
    for paths, figure in ((fig8, "Fig. 8"), (fig4, "Fig. 4")):
        assert all(path.stat().st_size > 0 for path in paths.values())
        finding = read_finding(paths.finding)
        assert finding.figure == figure and finding.verdict in VERDICTS and finding.ours
        assert paths.finding.with_suffix(".md").read_text().startswith(f"### {figure}")
        assert all(not name.startswith(("/", "..")) and name.startswith("paper/") for name in finding.files)
    assert "stable logit" in fig8.table_md.read_text()
    assert len(fig4.per_example.read_text().splitlines()) == 1 + 3 * POOL
    assert json.loads(fig8.finding.read_text())["figure"] == "Fig. 8"


def fig8_row(name, tpr, low, high, auc=0.68):
    return {"statistic": name, "tpr@0.1%": tpr, "tpr@0.1%_low": low, "tpr@0.1%_high": high, "auc": auc}


@pytest.mark.parametrize(
    ("best", "worst", "unstable", "expected"),
    [
        ((0.04, 0.035, 0.045), (0.001, 0.0, 0.002), (0.02, 0.01, 0.03), "agrees"),
        ((0.04, 0.035, 0.045), (0.001, 0.0, 0.002), (0.05, 0.045, 0.055), "partly agrees"),  # unstable above
        ((0.01, 0.005, 0.015), (0.012, 0.008, 0.016), (0.01, 0.005, 0.015), "does not reproduce at this scale"),
        ((0.001, 0.0, 0.002), (0.04, 0.035, 0.045), (0.02, 0.01, 0.03), "differs"),
    ],
)
def test_fig8_verdict(best, worst, unstable, expected):
    rows = [fig8_row(name, *best) for name in paper_statistics.BEST]
    rows += [fig8_row(name, *worst) for name in paper_statistics.WORST]
    rows += [fig8_row("unstable_logit", *unstable), fig8_row("logit", 0.02, 0.01, 0.03)]
    verdict, why = paper_statistics.input_statistic_verdict(rows, 0.001)
    assert verdict == expected and "0.1%" in why


def shape_summary(rejected, low, high):
    return {"all": {"rejected": rejected, "rejected_low": low, "rejected_high": high}}


@pytest.mark.parametrize(
    ("confidence", "loss", "logit", "expected"),
    [
        ((0.8, 0.78, 0.82), (0.85, 0.84, 0.86), (0.07, 0.06, 0.08), "agrees"),
        ((0.8, 0.78, 0.82), (0.85, 0.84, 0.86), (0.4, 0.38, 0.42), "partly agrees"),  # logit not near 5 %
        ((0.06, 0.04, 0.08), (0.05, 0.03, 0.07), (0.06, 0.04, 0.08), "does not reproduce at this scale"),
        ((0.06, 0.05, 0.07), (0.85, 0.84, 0.86), (0.4, 0.38, 0.42), "differs"),
    ],
)
def test_fig4_verdict(confidence, loss, logit, expected):
    summaries = {"confidence": shape_summary(*confidence), "loss": shape_summary(*loss),
                 "logit_scaled_confidence": shape_summary(*logit)}  # fmt: skip
    verdict, _ = paper_statistics.shape_verdict(summaries)
    assert verdict == expected
