"""lira.workflow.provenance: the git state of the code, package versions and the jobs' wall times."""

from __future__ import annotations

import importlib.util
import subprocess

import numpy as np

from lira.workflow import provenance


def test_git_state_of_a_repository_and_of_a_plain_folder(tmp_path):
    plain = provenance.git_state(tmp_path)
    assert plain["commit"] is None and plain["dirty"] is None and plain["error"]
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": False, "changed_files": []}
    (tmp_path / "a.txt").write_text("b")
    state = provenance.git_state(tmp_path)
    assert state["commit"] == head and state["dirty"] is True and state["changed_files"] == ["a.txt"]


def test_package_versions_and_wall_times(tmp_path):
    versions = provenance.package_versions()
    assert versions["numpy"] == np.__version__
    if importlib.util.find_spec("torch") is None:
        assert versions["torch"] is None
    else:
        import torch

        assert versions["torch"] == torch.__version__.split("+")[0]
    assert provenance.package_versions(["no-such-package-here"])["no-such-package-here"] is None
    (tmp_path / "train").mkdir()
    header = "s\th:m:s\tmax_rss\n"
    (tmp_path / "train" / "3.tsv").write_text(header + "12.5\t0:00:12\t100\n")
    (tmp_path / "fit.tsv").write_text(header + "1.25\t0:00:01\t10\n")
    assert provenance.job_wall_times(tmp_path) == {"fit": 1.25, "train/3": 12.5}
