"""The paper's findings beside ours (lira.reports.findings): one record per experiment, one page."""

import json

import pandas as pd
import pytest

from lira.reports.findings import Finding, read_finding, write_finding, write_findings_page


def finding(figure="Fig. 2", verdict="agrees", files=("paper/fig2/fig2.png",)):
    return Finding(figure, "the LOSS attack", "LOSS finds non-members.", "TPR 0.11 % [0.08, 0.15]", verdict, "why", list(files))


def test_a_verdict_outside_the_four_is_refused():
    with pytest.raises(ValueError, match="verdict 'maybe': expected one of agrees, partly agrees"):
        finding(verdict="maybe")


def test_a_finding_round_trips_and_its_markdown_says_each_part(tmp_path):
    path = tmp_path / "finding.json"
    write_finding(path, finding())
    assert read_finding(path) == finding()
    text = (tmp_path / "finding.md").read_text()
    assert "- **Paper:** LOSS finds non-members." in text and "- **Verdict:** agrees (why)" in text


def test_the_page_lists_every_finding_and_names_files_from_results(tmp_path):
    paths = []
    for experiment, figure, verdict in [("fmnist-cnn", "Fig. 2", "agrees"), ("dp-fmnist", "Fig. 14", "differs")]:
        folder = tmp_path / "results" / experiment / "paper" / figure[-2:].strip()
        folder.mkdir(parents=True)
        write_finding(folder / "finding.json", finding(figure, verdict))
        paths.append(folder / "finding.json")
    found = write_findings_page(paths, tmp_path / "findings.md", tmp_path / "findings.csv", heading="Findings")
    assert [f.figure for f in found] == ["Fig. 2", "Fig. 14"]
    page = (tmp_path / "findings.md").read_text()
    assert "| Fig. 2 | the LOSS attack | agrees |" in page and "| Fig. 14 | the LOSS attack | differs |" in page
    assert "`fmnist-cnn/paper/fig2/fig2.png`" in page and "`dp-fmnist/paper/fig2/fig2.png`" in page
    table = pd.read_csv(tmp_path / "findings.csv")
    assert table["verdict"].tolist() == ["agrees", "differs"] and list(table.columns)[:3] == ["figure", "title", "verdict"]
    assert json.loads(paths[0].read_text())["files"] == ["paper/fig2/fig2.png"]  # the records are unchanged
