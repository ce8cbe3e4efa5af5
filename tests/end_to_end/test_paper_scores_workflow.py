"""The rules of rules/paper_scores.smk, planned by a real snakemake dry run on a tiny config
(nothing is trained): each is reachable from its finding, and none is part of the default run."""

from __future__ import annotations

import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow

PAPER_RULES = {
    "fig2": "paper_fig2",
    "fig6": "paper_fig6",
    "fig9": "paper_fig9",
    "precision": "paper_precision",
    "deployed-thresholds": "paper_deployed_thresholds",
}


def test_each_paper_rule_is_planned_from_its_finding(tmp_path, fashion_mnist_dir):
    write_config(tmp_path / "config.yaml", tiny_config(fashion_mnist_dir))
    for id, rule in PAPER_RULES.items():
        jobs = planned_jobs(snakemake(tmp_path, "--dry-run", f"results/tiny/paper/{id}/finding.json"))
        assert jobs.get(rule) == 1, (id, jobs)
        assert jobs.get("train"), jobs  # from scratch: the shadows first
    default = planned_jobs(snakemake(tmp_path, "--dry-run"))
    assert not set(PAPER_RULES.values()) & set(default), default
