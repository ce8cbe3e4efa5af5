"""lira.tools.plan: job counts from dry runs, timings from past runs or a calibration, and the estimate."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import REPO, snakemake, tiny_config, write_config

from lira.tools import plan

CIFAR10 = REPO / "config" / "cifar10.yaml"


def run_plan(*args: str) -> str:
    process = subprocess.run([sys.executable, "-m", "lira.tools.plan", *args], capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout


def table(output: str) -> dict[str, tuple[int, int, int]]:
    """rule -> (all, done, to run) from the plan's job table."""
    rows = {}
    for line in output.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)\s+(\d+)\s+(\d+)", line.strip())
        if match:
            rows[match.group(1)] = tuple(int(value) for value in match.groups()[1:])
    return rows


def test_parse_job_stats():
    text = "Building DAG\nJob stats:\njob      count\n-----  -------\npool         1\ntrain      256\ntotal      257\n\nReasons:"
    assert plan.parse_job_stats(text) == {"pool": 1, "train": 256}
    assert plan.parse_job_stats("Nothing to be done (all requested files are present and up to date).") == {}


def test_config_is_merged_like_snakemake_and_defaults_are_filled(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    override = tmp_path / "more.yaml"
    override.write_text("shadow_models: 8\ncompute:\n  threads: 3\n")
    config = plan.load_config(tmp_path, [override])
    assert config["shadow_models"] == 8 and config["compute"]["threads"] == 3
    assert config["compute"]["device"] == "cpu" and config["model"]["arch"] == "patch_cnn"  # kept from config.yaml
    paper = yaml.safe_load(CIFAR10.read_text())
    del paper["compute"]["runtime_minutes"], paper["compute"]["checkpoint_every"]
    write_config(tmp_path / "paper.yaml", paper)
    filled = plan.load_config(tmp_path / "nowhere", [tmp_path / "paper.yaml"])["compute"]
    assert filled["runtime_minutes"] == {"train": 30, "logits": 10} and filled["checkpoint_every"] == 10
    assert filled["mem_mb"] == {"train": 16000, "logits": 16000} and filled["device"] == "auto"  # kept


TIMINGS = plan.Timings(
    source="test",
    device="cuda:0",
    threads=4,
    epoch_seconds=2.0,
    train_overhead_seconds=10.0,
    logits_model_seconds=4.0,
    logits_overhead_seconds=1.0,
    weights_bytes=6e6,
)


def test_estimate_arithmetic():
    config = plan.load_config(REPO / "config", [CIFAR10])
    everything = {"pool": 1, "train": 256, "logits": 256, "shadows": 1, "fit": 1}
    pending = {"train": 200, "logits": 256, "shadows": 1, "fit": 1}
    logits_bytes = 128 + 4 * 50000 * 18 * 10  # float32 [pool, queries, classes] per model
    stacked_bytes = 5 * 4 * 50000 * 18 + 50000  # a model's rows of the 5 float32 stacks and of keep.npy
    result = plan.estimate(config, everything, pending, TIMINGS)
    assert result.train_job_seconds == 10 + 100 * 2.0
    assert result.device_hours == pytest.approx({"train": 200 * 210 / 3600, "logits": 256 * 5 / 3600})
    assert result.disk_bytes_to_write == pytest.approx(200 * 6e6 + 256 * (logits_bytes + stacked_bytes))
    assert result.disk_bytes_total == pytest.approx(256 * (6e6 + logits_bytes + stacked_bytes) + 60000 * (3072 + 8))
    # Blocks of 4 models a job: 64 train jobs of 4 trainings and one start-up each.
    config["models_per_job"] = 4
    blocks = {"pool": 1, "train": 64, "logits": 64, "shadows": 1}
    result = plan.estimate(config, blocks, {"train": 50, "logits": 64}, TIMINGS)
    assert result.train_job_seconds == 10 + 4 * 100 * 2.0 and result.logits_job_seconds == 1 + 4 * 4.0
    assert result.device_hours == pytest.approx({"train": 50 * 810 / 3600, "logits": 64 * 17 / 3600})
    assert result.disk_bytes_to_write == pytest.approx(50 * 4 * 6e6 + 256 * logits_bytes)  # the stacks are done
    assert result.disk_bytes_total == pytest.approx(256 * (6e6 + logits_bytes + stacked_bytes) + 60000 * (3072 + 8))


def test_the_stacks_size_per_model_is_read_from_a_finished_shadows_step(tmp_path):
    shadows = tmp_path / "shadows"
    shadows.mkdir()
    np.save(shadows / "loss.npy", np.zeros((4, 10, 3), np.float32))
    np.save(shadows / "keep.npy", np.zeros((4, 10), bool))
    (shadows / "info.json").write_text(json.dumps({"models": 4, "pool_size": 10, "queries": 3}))
    files = (shadows / "loss.npy").stat().st_size + (shadows / "keep.npy").stat().st_size
    assert plan.stacked_bytes_per_model(shadows, (10, 3)) == files / 4
    assert plan.stacked_bytes_per_model(shadows, (10, 18)) is None  # other queries: no guide
    assert plan.stacked_bytes_per_model(tmp_path / "none", (10, 3)) is None


def test_plan_of_the_paper_setting_needs_no_data(tmp_path):
    """The CIFAR-10 config in a folder without data: 256 trainings planned, and an estimate from a
    saved calibration (as an earlier `plan` on a GPU node would leave)."""
    calibration = {
        "device": "cuda:0", "threads": 4, "steps": 10, "warmup_steps": 1, "batch_size": 256, "steps_per_epoch": 98,
        "step_seconds": 0.05, "epoch_seconds": 4.9, "logits_compute_seconds": 20.0, "startup_seconds": 8.0,
        "weights_bytes": 5885128, "torch": "2.14.1",
    }  # fmt: skip
    saved = tmp_path / "results" / "cifar10-wrn28-2" / "benchmarks" / "calibration.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps(calibration))
    output = run_plan("--directory", str(tmp_path), "--configfile", str(CIFAR10), "--no-calibrate", "--devices", "8")
    rows = table(output)
    assert rows["train"] == (256, 0, 256) and rows["logits"] == (256, 0, 256) and rows["pool"] == (1, 0, 1)
    assert not (tmp_path / "data").exists()
    train_hours = 256 * (8.0 + 100 * 4.9) / 3600
    logits_hours = 256 * (8.0 + 20.0) / 3600
    assert f"{train_hours:10.2f} GPU-hours" in output and f"{logits_hours:10.2f} GPU-hours" in output
    assert f"total {train_hours + logits_hours:.2f} GPU-hours" in output and "on 8 device(s)" in output
    assert "Assumptions:" in output and "an earlier calibration" in output


@pytest.mark.workflow
def test_plan_after_a_partial_run_counts_what_is_done_and_uses_its_timings(tmp_path, fashion_mnist_dir):
    write_config(tmp_path / "config.yaml", tiny_config(fashion_mnist_dir))
    # Blocks of two models a job (0-1, 2-3, 4-5): two trainings and one model's logits done.
    write_config(tmp_path / "config.yaml", tiny_config(fashion_mnist_dir, models_per_job=2))
    snakemake(tmp_path, "results/tiny/logits/0-1.npy")
    output = run_plan("--directory", str(tmp_path), "--no-calibrate", "--devices", "2")
    rows = table(output)
    assert rows["pool"] == (1, 1, 0) and rows["train"] == (3, 1, 2) and rows["logits"] == (3, 1, 2)

    results = tmp_path / "results" / "tiny"
    config = plan.load_config(tmp_path, [])
    past, ignored = plan.from_past_runs(results, config)
    assert ignored == []
    metrics = json.loads((results / "models" / "0-1.json").read_text())["models"]
    assert past.epoch_seconds == statistics.median(seconds for m in metrics for seconds in m["epoch_seconds"])
    wall = plan.read_benchmark_seconds(results / "benchmarks" / "train" / "0-1.tsv")
    assert past.train_overhead_seconds == pytest.approx(max(wall - sum(sum(m["epoch_seconds"]) for m in metrics), 0.0))
    info = json.loads((results / "logits" / "0-1.json").read_text())
    assert past.logits_model_seconds == statistics.median(info["inference_seconds"])
    logits_wall = plan.read_benchmark_seconds(results / "benchmarks" / "logits" / "0-1.tsv")
    assert past.logits_overhead_seconds == pytest.approx(max(logits_wall - sum(info["inference_seconds"]), 0.0))
    assert past.per_model_bytes["train"] == (results / "models" / "0-1.pt").stat().st_size / 2
    assert past.per_model_bytes["logits"] == (results / "logits" / "0-1.npy").stat().st_size / 2
    expected = 2 * (past.train_overhead_seconds + 2 * 3 * past.epoch_seconds) / 3600
    assert f"{expected:10.2f} CPU-hours" in output and "2 finished trainings" in output

    # Timings of another model are no guide: left out, and said so.
    config["model"]["width"] = 64
    assert plan.from_past_runs(results, config) == (
        None,
        [f"2 finished trainings in {results} are for other settings (model, batch, data): not used"],
    )


@pytest.mark.workflow
def test_calibration_measures_the_configured_model(tmp_path, fashion_mnist_dir):
    write_config(tmp_path / "config.yaml", tiny_config(fashion_mnist_dir))
    process = subprocess.run(
        [sys.executable, "-m", "lira.tools.calibrate", "--directory", str(tmp_path), "--steps", "2"],
        capture_output=True,
        text=True,
    )
    assert process.returncode == 0, process.stderr
    measured = json.loads(process.stdout)
    # The tiny MLP: 784 -> 32 -> 10, plus the normalisation's mean and std.
    assert measured["weights_bytes"] == 4 * (784 * 32 + 32 + 32 * 10 + 10 + 2)
    assert measured["device"] == "cpu" and measured["steps_per_epoch"] == 4  # 120 examples, batch 32
    assert measured["epoch_seconds"] == pytest.approx(4 * measured["step_seconds"])
    assert measured["epoch_seconds"] > 0 and measured["logits_compute_seconds"] > 0
    # A plan then uses it, and keeps it for the next plan.
    output = run_plan("--directory", str(tmp_path), "--calibrate", "--calibration-steps", "2")
    assert "a calibration run on this machine" in output and table(output)["train"] == (2, 0, 2)  # 2 blocks
    assert (tmp_path / "results" / "tiny" / "benchmarks" / "calibration.json").exists()
