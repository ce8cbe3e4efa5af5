"""The paper's findings beside ours: each of the paper's experiments that the workflow regenerates
writes one Finding (what the paper found, what we measured, whether they agree), and the `paper`
target gathers them into one page (docs/paper-experiments.md).

A verdict is measured, never assumed: each experiment's code decides it from its numbers and
their intervals, and says "does not reproduce at this scale" when our run cannot tell.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lira.workflow import files

VERDICTS = ("agrees", "partly agrees", "differs", "does not reproduce at this scale")


@dataclass(frozen=True)
class Finding:
    figure: str  # the paper's figure or table, "Fig. 2"
    title: str  # what the experiment shows, a few words
    paper: str  # the paper's finding, in a sentence or two (its numbers where it gives them)
    ours: str  # what we measured, numbers with their intervals
    verdict: str  # one of VERDICTS
    why: str = ""  # what decided the verdict (the test applied to our numbers)
    files: list[str] = field(default_factory=list)  # the figure/table files, relative to the results folder

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}: expected one of {', '.join(VERDICTS)}")

    def markdown(self) -> str:
        lines = [
            f"### {self.figure}: {self.title}",
            "",
            f"- **Paper:** {self.paper}",
            f"- **Ours:** {self.ours}",
            f"- **Verdict:** {self.verdict}" + (f" ({self.why})" if self.why else ""),
        ]
        if self.files:
            lines.append("- **Files:** " + ", ".join(f"`{name}`" for name in self.files))
        return "\n".join(lines) + "\n"


def write_finding(path: str | Path, finding: Finding) -> None:
    """One finding as JSON (the `paper` target's input) at `path`, and as Markdown beside it
    (same name, .md)."""
    path = Path(path)
    files.write_text(path, json.dumps(asdict(finding), indent=1) + "\n")
    files.write_text(path.with_suffix(".md"), finding.markdown())


def read_finding(path: str | Path) -> Finding:
    return Finding(**json.loads(Path(path).read_text()))


def findings_page(findings: list[Finding], heading: str) -> str:
    """Every finding on one Markdown page: a summary table, then each finding in full."""
    lines = [f"# {heading}", "", "| paper | experiment | verdict |", "|---|---|---|"]
    lines += [f"| {f.figure} | {f.title} | {f.verdict} |" for f in findings]
    lines.append("")
    lines += [f.markdown() for f in findings]
    return "\n".join(lines)


def write_findings_page(paths, markdown_path, csv_path, heading: str) -> list[Finding]:
    """The findings at `paths` (finding.json files, in order) -> one Markdown page and a CSV with
    a row per finding (figure, title, verdict, paper, ours, why)."""
    import pandas as pd

    found = [read_finding(path) for path in paths]
    files.write_text(markdown_path, findings_page(found, heading))
    rows = [{key: value for key, value in asdict(f).items() if key != "files"} for f in found]
    with files.atomic_path(csv_path) as temporary:
        pd.DataFrame(rows, columns=["figure", "title", "verdict", "paper", "ours", "why"]).to_csv(temporary, index=False)
    return found
