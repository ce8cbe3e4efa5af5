"""Dry runs of the paper's Figures 4 and 8 (rules/paper_statistics.smk) on a tiny config."""

from __future__ import annotations

import pytest
from conftest import planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


def test_dry_run_plans_the_paper_statistics_rules_from_the_logits(tmp_path, fashion_mnist_dir):
    write_config(tmp_path / "config.yaml", tiny_config(fashion_mnist_dir))
    findings = ["results/tiny/paper/fig8/finding.json", "results/tiny/paper/fig4/finding.json"]
    process = snakemake(tmp_path, "--dry-run", *findings)
    jobs = planned_jobs(process)
    # The logits of both blocks and the keep masks, no attack, fit or table.
    assert jobs["paper_fig8"] == 1 and jobs["paper_fig4"] == 1 and jobs["logits"] == 2 and jobs["shadows"] == 1
    assert not {"attack", "fit", "evaluate", "tables"} & set(jobs)
    assert "results/tiny/logs/paper_fig8.log" in process.stdout and "results/tiny/paper/fig4/histograms.png" in process.stdout
    # The default target plans neither: the default run stays as it was.
    assert not {"paper_fig8", "paper_fig4"} & set(planned_jobs(snakemake(tmp_path, "--dry-run")))
