"""Changed artifacts through the real workflow (a copy of conftest.tiny_run): Snakemake reruns the
jobs downstream of a changed file, the first of them refuses it with one line naming the file and
what to do, the run fails, and every output the refusing job does not own is left as it was.
Following the line's advice then ends with the results of an untouched run, byte for byte.
The same checks case by case, on the step functions: tests/workflow/test_integrity.py,
tests/models/test_integrity_models.py."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import snakemake, write_config
from formats import flip_inside_a_tensor

pytestmark = pytest.mark.workflow

RESULTS = Path("results/tiny")
VOLATILE = ("logs/", "benchmarks/", "checkpoints/", "manifest.json")
TIMINGS = {"train_seconds", "epoch_seconds", "inference_seconds"}


def copy_run(tiny_run, tmp_path) -> Path:
    workdir, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns("report.html"))
    return copy


def results(workdir: Path) -> dict[str, bytes]:
    """Every result file's comparable content: bytes, without the timings of the blocks' JSON."""
    found = {}
    for path in sorted((workdir / RESULTS).rglob("*")):
        name = str(path.relative_to(workdir / RESULTS))
        if not path.is_file() or name.startswith(VOLATILE):
            continue
        if path.suffix == ".json" and path.parent.name in ("models", "logits"):
            value = json.loads(path.read_text())
            value = {key: item for key, item in value.items() if key not in TIMINGS}
            value["models"] = [
                {k: v for k, v in m.items() if k not in TIMINGS} if isinstance(m, dict) else m for m in value["models"]
            ]
            found[name] = json.dumps(value, sort_keys=True).encode()
        else:
            found[name] = path.read_bytes()
    return found


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def refusals(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("ArtifactError: ")]



def test_flipped_weights_are_refused_in_one_line_and_retraining_as_told_restores_the_run(tiny_run, tmp_path):
    reference = results(tiny_run[0])
    workdir = copy_run(tiny_run, tmp_path)
    flip_inside_a_tensor(workdir / RESULTS / "models" / "0-3.pt")  # its date changes: its logits rerun

    process = snakemake(workdir, check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0 and "Error in rule logits" in text, text[-3000:]
    expected = (
        "ArtifactError: results/tiny/models/0-3.pt: content does not match the sha256 recorded in "
        "results/tiny/models/0-3.json by the job that wrote it (changed since?); delete both files to retrain block 0-3"
    )
    assert refusals(text) == [expected], text[-3000:]
    assert "Traceback" not in text
    # Only the refusing job's own outputs are gone (Snakemake removes a failed job's outputs).
    assert changed(reference, results(workdir)) == {"models/0-3.pt", "logits/0-3.npy", "logits/0-3.json"}

    for name in ("0-3.pt", "0-3.json"):
        (workdir / RESULTS / "models" / name).unlink()
    snakemake(workdir, str(RESULTS / "logits" / "0-3.npy"))  # retrains block 0-3, queries it
    assert changed(reference, results(workdir)) == set()  # the same weights and logits, bit for bit
    final = snakemake(workdir)  # everything downstream of the new files reruns, to the same results
    assert "rule attack" in final.stdout + final.stderr
    assert changed(reference, results(workdir)) == set()


def test_an_edited_metric_is_refused_by_its_readers_in_one_line(tiny_run, tmp_path):
    """An AUC of 0.99 written beside its old interval, the content hash kept: the tables (and
    the ROC figure) refuse it; nothing but their own outputs is touched."""
    reference = results(tiny_run[0])
    workdir = copy_run(tiny_run, tmp_path)
    path = workdir / RESULTS / "metrics" / "lira_online.json"
    value = json.loads(path.read_text())
    value["pooled"]["auc"] = 0.99
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")

    process = snakemake(workdir, check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0 and "Traceback" not in text
    lines = refusals(text)
    expected = (
        "ArtifactError: results/tiny/metrics/lira_online.json: content does not match the content_hash recorded "
        "in it by the job that wrote it (changed since?); delete it so that rule evaluate remakes it"
    )
    assert lines and set(lines) == {expected}, text[-3000:]
    readers = {"metrics.csv", "metrics.md", "tables/", "figures/roc."}
    assert {name for name in changed(reference, results(workdir)) if not name.startswith(tuple(readers))} == {
        "metrics/lira_online.json"  # the edit itself
    }

    path.unlink()
    snakemake(workdir)
    assert changed(reference, results(workdir)) == set()


def test_weights_damaged_behind_snakemakes_back_are_refused_when_next_used(tiny_run, tmp_path):
    """Flipped bytes with the file's date kept: Snakemake sees nothing to do (the results, made
    from the good weights, stand); the next change of queries reruns the logits, which refuse the
    weights instead of computing logits from them."""
    reference = results(tiny_run[0])
    workdir = copy_run(tiny_run, tmp_path)
    weights = workdir / RESULTS / "models" / "0-3.pt"
    dates = (weights.stat().st_atime_ns, weights.stat().st_mtime_ns)
    flip_inside_a_tensor(weights)
    os.utime(weights, ns=dates)
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(workdir))
    assert changed(reference, results(workdir)) == {"models/0-3.pt"}

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["queries"]["mirror"] = False
    write_config(workdir / "config.yaml", config)
    process = snakemake(workdir, check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0 and "Traceback" not in text
    assert (
        "ArtifactError: results/tiny/models/0-3.pt: content does not match the sha256 recorded in "
        "results/tiny/models/0-3.json by the job that wrote it (changed since?); delete both files to retrain block 0-3"
    ) in refusals(text), text[-3000:]
