"""Reliability of the real workflow on the tiny config: determinism across runs, a run killed
midway that loses only the jobs in flight and then ends with the same bytes as an uninterrupted
one, bad artifacts refused where they are consumed, a diverged model failing its own job, and the
provenance manifest.

Tampering tests work on a copy of the session's tiny run (conftest.tiny_run); the determinism
and kill tests each make one more run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import yaml
from conftest import REPO, SNAKEMAKE, snakemake, write_config
from formats import CodeRunningPickle

from lira.core import splits
from lira.models import weights
from lira.workflow import artifacts
from lira.workflow.config import config_hash

pytestmark = pytest.mark.workflow

RESULTS = Path("results/tiny")
# Not results: per-run logs, timings and the manifest (it records times and the machine).
VOLATILE_FOLDERS = {"logs", "benchmarks", "checkpoints"}
VOLATILE_FILES = {"manifest.json"}
TIMING_KEYS = {"train_seconds", "epoch_seconds"}


def result_files(workdir: Path) -> dict[str, Path]:
    root = workdir / RESULTS
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] not in VOLATILE_FOLDERS and str(relative) not in VOLATILE_FILES:
            files[str(relative)] = path
    return files


def comparable(path: Path) -> bytes:
    """The file's bytes; for a block's training metrics and logits sidecar, without the timings."""
    if path.parent.name == "models" and path.suffix == ".json":
        block = json.loads(path.read_text())
        block["models"] = [{k: v for k, v in metrics.items() if k not in TIMING_KEYS} for metrics in block["models"]]
        return json.dumps(block, sort_keys=True).encode()
    if path.parent.name == "logits" and path.suffix == ".json":
        info = json.loads(path.read_text())
        return json.dumps({k: v for k, v in info.items() if k != "inference_seconds"}, sort_keys=True).encode()
    return path.read_bytes()


def assert_same_results(workdir: Path, reference: Path, only=None) -> int:
    """Every result file of `workdir` equals `reference`'s, byte for byte; the number compared."""
    ours, theirs = result_files(workdir), result_files(reference)
    if only is not None:
        theirs = {name: path for name, path in theirs.items() if only(name)}
        ours = {name: path for name, path in ours.items() if only(name)}
    assert sorted(ours) == sorted(theirs)
    different = [name for name in theirs if comparable(ours[name]) != comparable(theirs[name])]
    assert different == []
    return len(theirs)


def copy_run(tiny_run, tmp_path) -> Path:
    workdir, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns("report.html", "*.yaml"))
    shutil.copy2(workdir / "config.yaml", copy / "config.yaml")
    return copy


# --- determinism -----------------------------------------------------------------------------------


def test_the_same_config_and_seed_give_the_same_bytes(tiny_run, tmp_path):
    """A second run of the tiny config (one thread per job, as tiny_config sets) up to the stacked
    shadow statistics: the pool, keep masks, weights, logits and stacked statistics are identical files."""
    reference, config = tiny_run
    assert config["compute"]["threads"] == 1
    write_config(tmp_path / "config.yaml", config)
    snakemake(tmp_path, str(RESULTS / "shadows" / "info.json"))
    upstream = ("pool.npz", "models/", "logits/", "shadows/")
    compared = assert_same_results(tmp_path, reference, only=lambda name: name.startswith(upstream))
    # pool, then per block of models (0-3, 4-5): weights + metrics, logits + sidecar; shadows
    assert compared == 1 + 2 * 2 + 2 * 2 + 7
    keep = np.load(tmp_path / RESULTS / "shadows" / "keep.npy")
    assert np.array_equal(keep, splits.keep_matrix(config["seed"], 6, 240))


# --- a run killed midway ---------------------------------------------------------------------------


def start(workdir: Path, *args: str) -> subprocess.Popen:
    """Snakemake in the background, its output to a file (a pipe nobody reads while the test
    waits would fill up and stall it); finished(run) waits for it and returns that output."""
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    output = workdir / f"snakemake-{time.monotonic_ns()}.out"
    with output.open("w") as handle:
        run = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    run.output_path = output
    return run


def finished(run: subprocess.Popen, timeout: float) -> str:
    run.wait(timeout=timeout)
    return run.output_path.read_text()


def jobs_of(process: psutil.Process, script: str) -> list[psutil.Process]:
    """The Python processes of `process`'s running jobs of scripts/<script>.py."""
    found = []
    for child in process.children(recursive=True):
        try:
            command = child.cmdline()
            if command and "python" in Path(command[0]).name and any(part.endswith(f".{script}.py") for part in command):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def training_midway(run: subprocess.Popen, models: Path):
    """(process, block) of a train job that has started training (its log says so) and not yet
    written its metrics, or None."""
    for job in jobs_of(psutil.Process(run.pid), "train"):
        try:
            logs = [Path(file.path) for file in job.open_files() if "/logs/train/" in file.path]
        except psutil.Error:
            continue
        for log in logs:
            if not (models / f"{log.stem}.json").exists() and "training examples on" in log.read_text():
                return job, log.stem
    return None


def wait_for(condition, process: subprocess.Popen, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process.poll() is None, "the run ended before the moment to kill it:\n" + process.output_path.read_text()
        time.sleep(0.005)
    raise AssertionError("timed out waiting for the moment to kill the run")


def every_artifact_loads(workdir: Path) -> int:
    """Each artifact present is complete: a killed writer never leaves a partial file in place."""
    count = 0
    for path in (workdir / RESULTS).rglob("*"):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(".part.npy"):
            continue
        if path.suffix == ".npz":
            with np.load(path) as data:
                [data[key] for key in data.files]
        elif path.suffix == ".npy":
            np.load(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            weights.load_weights(path)
        else:
            continue
        count += 1
    return count


def test_a_killed_run_loses_only_the_jobs_in_flight_and_ends_identical(tiny_run, tmp_path):
    """Kill a training job with SIGKILL midway (Snakemake survives and stops), rerun, then kill
    the whole run (Snakemake and its jobs, as a crashed node would) during the attacks, rerun with
    --rerun-incomplete (after --unlock where Snakemake died holding its lock): the finished models
    are never retrained, and the results equal those of an uninterrupted run byte for byte."""
    reference, config = tiny_run
    write_config(tmp_path / "config.yaml", config)
    models = tmp_path / RESULTS / "models"

    # 1. A train job (a block of models) killed while it trains.
    run = start(tmp_path)
    try:
        victim, block = wait_for(lambda: training_midway(run, models), run)
        victim.send_signal(signal.SIGKILL)
        finished_before = {path.name for path in models.glob("*.json")}
        output = finished(run, timeout=600)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode != 0 and "Error in rule train" in output, output
    assert f"{block}.json" not in finished_before and not (models / f"{block}.pt").exists()
    assert every_artifact_loads(tmp_path) >= 2

    # 2. Rerun; kill everything (Snakemake included) once the attacks have started.
    run = start(tmp_path)
    try:
        wait_for(lambda: any((tmp_path / RESULTS / "attacks").glob("*.npz")), run)
        os.killpg(run.pid, signal.SIGKILL)
        output = finished(run, timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    retrained = output.count("rule train:")
    assert 1 <= retrained <= 2 - len(finished_before), output  # the killed job again, never a finished block
    assert not (tmp_path / RESULTS / "manifest.json").exists()
    assert every_artifact_loads(tmp_path) > 6

    # 3. Rerun to the end: only what was unfinished runs. Snakemake may have died holding its lock
    # (then it asks for --unlock) and with jobs running, whose outputs it will not trust until told
    # to rerun them (--rerun-incomplete).
    flags = []
    for _ in range(3):
        final = snakemake(tmp_path, *flags, check=False)
        text = final.stdout + final.stderr
        if final.returncode == 0:
            break
        if "LockException" in text:
            snakemake(tmp_path, "--unlock")
        else:
            assert "IncompleteFilesException" in text, text
            flags = ["--rerun-incomplete"]
    assert final.returncode == 0, text
    assert "rule train:" not in text and "rule pool:" not in text, text
    assert assert_same_results(tmp_path, reference) > 80


# --- bad artifacts are refused where they are consumed -------------------------------------------


def plant_nan_logits(results: Path):
    path = results / "logits" / "4-5.npy"
    logits = np.load(path)
    logits[1, 7, 3, 2] = np.nan
    np.save(path, logits)
    _resign(results / "logits" / "4-5.json", path)
    return "shadows/info.json", "results/tiny/logits/4-5.npy: logits holds 1 NaN and 0 infinite values (the first at index [1, 7, 3, 2])"


def plant_logits_beyond_float32_statistics(results: Path):
    """Finite logits whose statistics overflow float32: the true class at 3e38, the others at -3e38."""
    path = results / "logits" / "0-3.npy"
    logits = np.load(path)
    label = np.load(results / "pool.npz")["y"][5]
    logits[2, 5, 1] = -3e38
    logits[2, 5, 1, label] = 3e38
    np.save(path, logits)
    _resign(results / "logits" / "0-3.json", path)
    message = "logit_scaled_confidence holds 0 NaN and 1 infinite values (the first at index [2, 5, 1])"
    return "shadows/info.json", f"results/tiny/logits/0-3.npy: {message}"


def plant_short_logits(results: Path):
    path = results / "logits" / "4-5.npy"
    np.save(path, np.load(path)[:, :, :9])  # half the queries
    _resign(results / "logits" / "4-5.json", path)
    return "shadows/info.json", "results/tiny/logits/4-5.npy: logits has shape [2, 240, 9, 10], expected [2, 240, 18, 10]"


def plant_logits_of_another_model(results: Path):
    sidecar = results / "logits" / "4-5.json"
    info = json.loads(sidecar.read_text())
    info["models"] = [0, 1]  # as if models 0 and 1 had been queried into this file
    sidecar.write_text(json.dumps(info))
    return "shadows/info.json", "results/tiny/logits/4-5.json: describes models [0, 1], not [4, 5]"


def plant_logits_of_another_pool(results: Path):
    sidecar = results / "logits" / "0-3.json"
    info = json.loads(sidecar.read_text())
    info["fingerprint"] = "0123456789abcdef"
    sidecar.write_text(json.dumps(info))
    return "shadows/info.json", "results/tiny/logits/0-3.json: made from another pool or split design (fingerprint 0123456789abcdef"


def plant_weights_of_another_split(results: Path):
    """Block 4-5's metrics as a run with seed 7 would write them: same pool, other splits."""
    path = results / "models" / "4-5.json"
    metrics = json.loads(path.read_text())
    metrics["fingerprint"] = artifacts.fingerprint(str(np.load(results / "pool.npz")["content_hash"]), 7)
    path.write_text(json.dumps(metrics))
    return "logits/4-5.npy", "results/tiny/models/4-5.json: made from another pool or split design"


def plant_a_pickle_in_the_weights(results: Path):
    path = results / "models" / "0-3.pt"
    state = torch.load(path, weights_only=True)
    state["payload"] = CodeRunningPickle(results.parent.parent / "code-ran")
    torch.save(state, path)
    _resign(results / "models" / "0-3.json", path)  # past the hash check: the weights-only load refuses it
    return "logits/0-3.npy", "results/tiny/models/0-3.pt: refused: not a weights-only checkpoint"


def plant_other_keep_masks(results: Path):
    path = results / "shadows" / "keep.npy"
    np.save(path, splits.keep_matrix(5, 6, 240))
    info = json.loads((results / "shadows" / "info.json").read_text())
    info["sha256"]["keep"] = artifacts.file_sha256(path)  # past the hash check: the split design's check refuses it
    (results / "shadows" / "info.json").write_text(json.dumps(info))
    return "fit.npz", "results/tiny/shadows/keep.npy: keep masks differ from the split design complementary-pairs/1 for seed 0"


def plant_attack_of_another_pool(results: Path):
    path = results / "attacks" / "lira_online.npz"
    attack = dict(np.load(path))
    del attack["fingerprint"]
    np.savez(path, **artifacts.with_content_hash(attack))  # its hash made anew: the fingerprint check refuses it
    return "metrics/lira_online.json", "results/tiny/attacks/lira_online.npz: carries no fingerprint"


def _resign(record: Path, path: Path):
    """Update the sha256 a record (a logits sidecar, a block's models/<block>.json) holds of
    `path`, as if the producing job itself had written these values."""
    info = json.loads(record.read_text())
    info["sha256"] = artifacts.file_sha256(path)
    record.write_text(json.dumps(info))


PLANTS = [
    plant_nan_logits,
    plant_logits_beyond_float32_statistics,
    plant_short_logits,
    plant_logits_of_another_model,
    plant_logits_of_another_pool,
    plant_weights_of_another_split,
    plant_a_pickle_in_the_weights,
    plant_other_keep_masks,
    plant_attack_of_another_pool,
]


@pytest.mark.parametrize("plant", PLANTS, ids=[plant.__name__.removeprefix("plant_") for plant in PLANTS])
def test_a_bad_artifact_is_refused_by_its_consumer_with_the_file_named(tiny_run, tmp_path, plant):
    workdir = copy_run(tiny_run, tmp_path)
    target, message = plant(workdir / RESULTS)
    process = snakemake(workdir, str(RESULTS / target), check=False)
    text = process.stdout + process.stderr
    assert process.returncode != 0
    assert "ArtifactError: " + message in text, text[-3000:]
    assert "Traceback" not in text  # one line, not a traceback (the job's log keeps it)
    assert not (workdir / RESULTS / target).exists()  # the failed job's output is not left behind
    assert not list((workdir / RESULTS).rglob("*.part*"))  # nor any partial file
    assert not (workdir / "code-ran").exists()  # the planted pickle's code never ran


def test_a_diverged_model_fails_its_own_job_with_its_loss_curve_in_the_log(tiny_run, tmp_path):
    workdir = copy_run(tiny_run, tmp_path)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["train"]["lr"] = 1e12
    write_config(workdir / "config.yaml", config)
    process = snakemake(workdir, str(RESULTS / "logits" / "0-3.npy"), check=False)
    assert process.returncode != 0 and "Error in rule train" in process.stdout + process.stderr
    log = (workdir / RESULTS / "logs" / "train" / "0-3.log").read_text()
    epochs = [line for line in log.splitlines() if " INFO epoch " in line]
    assert epochs and epochs[-1].split(" INFO ")[1].startswith(f"epoch {len(epochs)} loss nan"), log
    last = log.rstrip().splitlines()[-1]
    assert " ERROR FloatingPointError: training diverged: loss per epoch [" in last and last.endswith("nan]"), log
    assert not (workdir / RESULTS / "models" / "0-3.pt").exists()  # the stale weights are gone with the failed job


# --- provenance ------------------------------------------------------------------------------------


def test_the_manifest_records_config_code_software_devices_seeds_and_times(tiny_run):
    workdir, config = tiny_run
    results = workdir / RESULTS
    manifest = json.loads((results / "manifest.json").read_text())
    resolved = yaml.safe_load((workdir / "config.yaml").read_text())
    assert manifest["experiment"] == "tiny" and manifest["config"]["train"] == {**resolved["train"], "precision": "float32"}
    assert manifest["config"]["compute"]["checkpoint_every"] == 10  # defaults, filled in (precision too)
    assert manifest["config_hash"] == config_hash(manifest["config"])
    assert manifest["fingerprint"] == artifacts.expected_fingerprint(results / "pool.npz", config["seed"])
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True).returncode == 0:
        # The commit the run used: HEAD, or an ancestor of it where commits came since the run.
        commit = manifest["code"]["commit"]
        ancestor = ["git", "-C", str(REPO), "merge-base", "--is-ancestor", commit, "HEAD"]
        assert len(commit) == 40 and subprocess.run(ancestor).returncode == 0, commit
        assert isinstance(manifest["code"]["dirty"], bool)
    else:
        assert manifest["code"]["commit"] is None
    packages = manifest["packages"]
    assert packages["torch"] == torch.__version__.split("+")[0] and packages["numpy"] == np.__version__
    assert set(packages) >= {"python", "scipy", "pandas", "snakemake"}
    assert manifest["training"]["devices"] == {"cpu": 6} and manifest["training"]["threads"] == {"1": 6}
    assert manifest["seeds"]["model_seeds"] == [splits.model_seed(0, i) for i in range(6)]
    times = manifest["job_wall_seconds"]
    assert {"train/0-3", "train/4-5", "logits/4-5"} <= set(times) and {"pool", "shadows", "fit", "tables"} <= set(times)
    assert all(seconds > 0 for seconds in times.values())
    assert "tables/table1.md" in manifest["outputs"] and "figures/roc.pdf" in manifest["outputs"]
    # Tables and figures say which experiment and config made them.
    label = f"config {manifest['config_hash']}"
    assert f"Experiment `tiny` ({label})" in (results / "tables" / "table1.md").read_text()
    assert label in (results / "tables" / "table2.tex").read_text()
    for figure in ("roc", "shadow_count", "examples", "score_distribution"):
        assert f"experiment tiny, {label}".encode() in (results / "figures" / f"{figure}.pdf").read_bytes(), figure


def test_the_manifest_gives_every_models_accuracies(tiny_run):
    """Accuracy on the pool's members and non-members from the logits job's identity query, on
    the test images from the train job, for every model."""
    workdir, config = tiny_run
    results = workdir / RESULTS
    training = json.loads((results / "manifest.json").read_text())["training"]
    logits = np.load(results / "logits" / "4-5.npy")  # models 4 and 5
    labels = np.load(results / "pool.npz")["y"]
    info = json.loads((results / "logits" / "4-5.json").read_text())
    for row, model in enumerate((4, 5)):
        members = splits.keep_mask(config["seed"], model, len(labels))
        correct = logits[row, :, 0].argmax(axis=-1) == labels
        assert info["train_accuracy"][row] == pytest.approx(correct[members].mean())
        assert info["nonmember_accuracy"][row] == pytest.approx(correct[~members].mean())
    for kind in ("train", "nonmember", "holdout"):  # the tiny config has 50 test images
        assert 0.0 < training[f"mean_{kind}_accuracy"] <= 1.0, kind
