"""Resume in the real workflow: the training job is killed midway and Snakemake's retry (with more
runtime and memory) resumes it from its checkpoints, ending with the same bytes as an uninterrupted
run (the unit tests of checkpoints and resume: tests/models/test_training.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import psutil
import pytest
from conftest import REPO, SNAKEMAKE, planned_jobs, snakemake, tiny_config, write_config

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.workflow


def slow_config(fashion_mnist_dir):
    """Blocks of two models that train for a few seconds each, checkpointing every 5 epochs."""
    config = tiny_config(fashion_mnist_dir, shadow_models=4, models_per_job=2)
    config["data"]["holdout_size"] = 0  # no test images: the train job skips that accuracy
    config["train"]["epochs"] = 300
    config["compute"].update(checkpoint_every=5, runtime_minutes={"train": 7, "logits": 5})
    return config


TARGET = "results/tiny/logits/0-1.npy"


def train_processes(parent: psutil.Process):
    found = []
    for child in parent.children(recursive=True):
        try:
            if any(part.endswith(".train.py") or part.endswith("/train.py") for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_killed_training_job_resumes_from_its_checkpoint(tmp_path, fashion_mnist_dir):
    config = slow_config(fashion_mnist_dir)
    reference = tmp_path / "uninterrupted"
    reference.mkdir()
    write_config(reference / "config.yaml", config)
    snakemake(reference, TARGET)

    workdir = tmp_path / "killed"
    workdir.mkdir()
    write_config(workdir / "config.yaml", config)
    # The block's second model: killed while it trains, the first one finished (and checkpointed).
    checkpoint = workdir / "results/tiny/checkpoints/1.pt"
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    process = subprocess.Popen(
        [*command, "--cores", "1", "--retries", "1", TARGET],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while not checkpoint.exists() and process.poll() is None:
            time.sleep(0.01)
        assert process.poll() is None, process.stdout.read()
        victims = train_processes(psutil.Process(process.pid))
        assert len(victims) == 1
        victims[0].send_signal(signal.SIGKILL)
        victims[0].wait(timeout=60)
        # Killed midway: a checkpoint of each model, the first one's after its last epoch; no weights yet.
        saved = torch.load(checkpoint, weights_only=True)
        assert 5 <= len(saved["epoch_loss"]) < 300
        finished = torch.load(checkpoint.with_name("0.pt"), weights_only=True)
        assert len(finished["epoch_loss"]) == 300
        assert not (workdir / "results/tiny/models/0-1.pt").exists()
        output, _ = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert output.count("Trying to restart job") == 1, output  # Snakemake's retry, nothing else failed

    log = (workdir / "results/tiny/logs/train/0-1.log").read_text()
    # The retry asked for twice the configured runtime (per model, 2 models) and memory, and resumed:
    # the first model from its last epoch (nothing retrained), the second midway.
    assert "runtime=28 min, mem_mb=4000" in log, log
    retry = log[log.index("runtime=28 min") :]
    assert "checkpoints/0.pt after epoch 300 of 300" in retry and "epoch 1 loss" not in retry, retry
    resumed = next(line for line in retry.splitlines() if "checkpoints/1.pt after epoch" in line)
    epochs_done = int(resumed.split("after epoch ")[1].split()[0])
    assert 5 <= epochs_done < 300 and epochs_done % 5 == 0
    assert f"epoch {epochs_done + 1} loss" in retry
    assert not checkpoint.exists() and not checkpoint.with_name("0.pt").exists()  # removed with the weights written

    for path in ("models/0-1.pt", "logits/0-1.npy"):
        assert (workdir / "results/tiny" / path).read_bytes() == (reference / "results/tiny" / path).read_bytes(), path
    metrics = [training_metrics(run) for run in (workdir, reference)]
    assert [m["epoch_loss"] for m in metrics[0]] == [m["epoch_loss"] for m in metrics[1]]
    assert [m["resumed_from_epoch"] for m in metrics[0]] == [300, epochs_done]
    assert [m["resumed_from_epoch"] for m in metrics[1]] == [0, 0]
    assert [m["holdout_accuracy"] for m in metrics[0]] == [None, None]

    # The cluster settings are no result settings: changing them reruns nothing.
    config["compute"].update(
        checkpoint_every=0, runtime_minutes={"train": 99, "logits": 99}, mem_mb={"train": 1, "logits": 1}
    )
    changed = write_config(workdir / "cluster.yaml", config)
    assert planned_jobs(snakemake(workdir, "--dry-run", TARGET, configfile=changed)) == {}


def training_metrics(workdir):
    return json.loads((workdir / "results/tiny/models/0-1.json").read_text())["models"]
