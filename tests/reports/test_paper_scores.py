"""lira.reports.paper_scores: each experiment on synthetic cached scores writes its figure, table
and a finding.json with a valid verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lira.reports import paper_scores
from lira.reports.findings import VERDICTS, read_finding
from lira.workflow import artifacts


class Paths(dict):
    """What snakemake.input / snakemake.output offer the functions: names as attributes, items()."""

    __getattr__ = dict.__getitem__


SEED = 0


@pytest.fixture
def cached(tmp_path):
    """A pool and three attacks' scores [8 targets, 600] (complementary pairs), as the workflow caches them."""
    pool = tmp_path / "results" / "x" / "pool.npz"
    pool.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    artifacts.save_npz(pool, x=rng.integers(0, 255, (600, 1, 4, 4), dtype=np.uint8), y=rng.integers(0, 10, 600))
    fingerprint = artifacts.expected_fingerprint(pool, SEED)
    first = rng.random((4, 600)) < 0.5
    is_member = np.empty((8, 600), dtype=bool)
    is_member[0::2], is_member[1::2] = first, ~first
    paths = {"pool": str(pool)}
    for name, strength in (("global_threshold", 0.2), ("lira_offline", 0.8), ("lira_online", 1.2)):
        path = pool.parent / "attacks" / f"{name}.npz"
        path.parent.mkdir(exist_ok=True)
        scores = rng.normal(size=(8, 600)) + strength * is_member
        artifacts.save_npz(
            path, scores=scores, is_member=is_member, targets=np.arange(8), min_fpr=np.float64(0.0),
            settings=np.array("{}"), fingerprint=np.array(fingerprint),
        )
        paths[name] = str(path)
    return pool.parent, paths


def outputs(folder, id, *kinds):
    out = folder / "paper" / id
    out.mkdir(parents=True)
    return Paths({kind: str(out / f"{id}.{kind}") for kind in (*kinds, "png", "pdf")} | {"finding": str(out / "finding.json")})


LABELS = {"global_threshold": "LOSS", "lira_offline": "LiRA offline", "lira_online": "LiRA online"}


def check(written, files):
    finding = read_finding(written.finding)
    assert finding.verdict in VERDICTS
    assert json.loads(open(written.finding).read())["ours"]
    for key, path in written.items():
        assert open(path, "rb").read(), key
    assert sorted(finding.files) == sorted(files)
    return finding


def test_fig2_fig6_precision_and_deployed_thresholds_write_their_files(cached):
    import logging

    folder, paths = cached
    log = logging.getLogger("test")
    inputs = Paths(paths | {"loss": paths["global_threshold"], "online": paths["lira_online"], "offline": paths["lira_offline"]})

    written = outputs(folder, "fig2", "csv")
    paper_scores.write_fig2(inputs, written, LABELS, resamples=20, seed=SEED, label="test", log=log)
    finding = check(written, ["paper/fig2/fig2.csv", "paper/fig2/fig2.png", "paper/fig2/fig2.pdf"])
    assert "lowest-loss 1 %" in finding.ours

    written = outputs(folder, "fig6", "csv")
    paper_scores.write_fig6(inputs, written, LABELS, resamples=20, seed=SEED, label="test", log=log)
    check(written, ["paper/fig6/fig6.csv", "paper/fig6/fig6.png", "paper/fig6/fig6.pdf"])

    written = outputs(folder, "precision", "csv", "md")
    paper_scores.write_precision(inputs, written, LABELS, resamples=20, seed=SEED, label="test", log=log)
    check(written, [f"paper/precision/precision.{k}" for k in ("csv", "md", "png", "pdf")])

    written = outputs(folder, "deployed-thresholds", "csv", "md")
    paper_scores.write_deployed_thresholds(inputs, written, LABELS, [1e-5, 1e-2, 0.05], resamples=20, seed=SEED, label="test", log=log)
    check(written, [f"paper/deployed-thresholds/deployed-thresholds.{k}" for k in ("csv", "md", "png", "pdf")])
    # 1e-5 is below one of 2400 non-members: left out.
    assert "0.001%" not in open(written.md).read()


def test_fig6_numbers_pair_the_attacks():
    rng = np.random.default_rng(1)
    is_member = rng.random((4, 1000)) < 0.5
    online = rng.normal(size=(4, 1000)) + 2 * is_member
    numbers = paper_scores.fig6_numbers(online, online, is_member, resamples=30, seed=0)
    assert numbers["relative_gap"] == (0.0, (0.0, 0.0))  # the same attack twice: no gap in any paired resample
