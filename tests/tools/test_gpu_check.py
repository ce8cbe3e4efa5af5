"""benchmarks/gpu_check.py (the GPU check of issue 16) on the CPU: the equivalence check's logic on
synthetic result folders, the K-models measurement with tiny sizes, the time budget, the CSV and
the calibration's round trip through lira.tools.plan's reader. Nothing here asserts a time."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import gpu_check
from benchmarks.budget import Deadline, DoesNotFit
from lira.tools import plan
from lira.workflow.config import load_config

# --- the equivalence check on synthetic result folders -------------------------------------------


def metrics_file(auc: float, tpr: float, half_width: float = 0.02) -> dict:
    return {
        "pooled": {"auc": auc, "tpr@0.1%": None, "tpr@1%": tpr},
        "bootstrap_95": {
            "auc": [auc - half_width, auc + half_width],
            "tpr@0.1%": [None, None],
            "tpr@1%": [tpr - half_width, tpr + half_width],
        },
    }


def result_folder(root: Path, logits: np.ndarray, auc: float = 0.6, keep: np.ndarray | None = None) -> Path:
    """The files compare_results reads, as a run writes them."""
    root.mkdir(parents=True)
    np.savez(root / "pool.npz", x=np.arange(12, dtype=np.uint8).reshape(3, 2, 2), y=np.array([0, 1, 2]))
    (root / "shadows").mkdir()
    np.save(
        root / "shadows" / "keep.npy", np.array([[True, False, True], [False, True, False]]) if keep is None else keep
    )
    (root / "queries.json").write_text(json.dumps([[0, 0, 0], [1, 0, 0]]))
    (root / "logits").mkdir()
    np.save(root / "logits" / "0-1.npy", logits)
    (root / "metrics").mkdir()
    (root / "metrics" / "lira_online.json").write_text(json.dumps(metrics_file(auc, 0.05)))
    return root


@pytest.fixture
def logits():
    return (
        np.random.default_rng(0).normal(0, 5, size=(2, 3, 2, 10)).astype(np.float32)
    )  # [models, pool, queries, classes]


def test_equal_folders_pass(tmp_path, logits):
    a, b = result_folder(tmp_path / "a", logits), result_folder(tmp_path / "b", logits)
    recomputed = tmp_path / "recomputed"
    recomputed.mkdir()
    np.save(recomputed / "0-1.npy", logits)
    checks = gpu_check.compare_results(a, b, recomputed)
    assert all(check.passed for check in checks), [check.line() for check in checks]
    names = {check.name for check in checks}
    assert {
        "shadows/keep.npy (membership)",
        "queries.json",
        "logits blocks",
        "lira_online auc",
        "lira_online tpr@1%",
    } <= names
    assert "lira_online tpr@0.1%" not in names  # not measurable in either run: not compared
    records = gpu_check.check_records(checks)
    assert ("equivalence", "all", "passed", 1) in records


def test_a_metric_beyond_bootstrap_noise_fails_with_a_clear_line(tmp_path, logits):
    # Standard errors 0.02 / 1.96 each: the difference's is 0.0144, 4 of them 0.0577.
    within = gpu_check.compare_results(
        result_folder(tmp_path / "a", logits, auc=0.60), result_folder(tmp_path / "b", logits, auc=0.65)
    )
    assert all(check.passed for check in within)
    beyond = gpu_check.compare_results(
        result_folder(tmp_path / "c", logits, auc=0.60), result_folder(tmp_path / "d", logits, auc=0.70)
    )
    failed = [check for check in beyond if not check.passed]
    assert [check.name for check in failed] == ["lira_online auc"]
    allowed = 4 * math.hypot(0.04 / 3.919928, 0.04 / 3.919928)
    assert (
        failed[0].line()
        == f"  FAIL: lira_online auc: 0.6000 vs 0.7000: |difference| 0.1000, allowed {allowed:.4f} (4 standard errors)"
    )
    assert ("equivalence", "all", "passed", 0) in gpu_check.check_records(beyond)


def test_logits_beyond_the_tolerance_and_other_memberships_fail(tmp_path, logits):
    a = result_folder(tmp_path / "a", logits)
    b = result_folder(tmp_path / "b", logits, keep=np.array([[True, True, False], [False, False, True]]))
    recomputed = tmp_path / "recomputed"
    recomputed.mkdir()
    scale = np.abs(logits).max()
    nudged = logits.copy()
    nudged[0, 0, 0, 0] += 2e-3 * scale  # twice the tolerance, relative to the logits' scale
    np.save(recomputed / "0-1.npy", nudged)
    failed = {check.name: check for check in gpu_check.compare_results(a, b, recomputed) if not check.passed}
    assert set(failed) == {"shadows/keep.npy (membership)", "logits/0-1.npy: device vs CPU, same weights"}
    assert "2.0e-03 of the logits' scale" in failed["logits/0-1.npy: device vs CPU, same weights"].detail
    within = logits.copy()
    within[0, 0, 0, 0] += 0.5e-3 * scale
    assert gpu_check.compare_logits("x", logits, within).passed


# --- several models per device, K processes ------------------------------------------------------


def test_k_models_on_the_cpu_give_sane_rates():
    case = gpu_check.model_case("default", quick=True)
    for k in (1, 2):
        result = gpu_check.pack(case, "cpu", "float32", k, steps=2, deadline=Deadline.after(120))
        assert result["k"] == k and 1 <= result["steps_per_model"] <= 2
        images = k * result["steps_per_model"] * case["recipe"]["batch_size"]
        assert result["images_per_second"] == pytest.approx(images / result["seconds"])
        assert result["models_per_hour"] == pytest.approx(3600 * result["images_per_second"] / case["images_per_model"])
        assert result["images_per_second"] > 0 and result["step_seconds_alone"] > 0
    assert case["images_per_model"] == 40 * 1250  # config.yaml: 40 epochs on half a pool of 2500


def test_packing_has_rows_for_each_k_and_skips_what_does_not_fit(monkeypatch):
    calls = []

    def fake_pack(case, device, precision, k, steps, deadline):
        calls.append((case["name"], precision, k))
        return {
            "k": k,
            "steps_per_model": steps,
            "seconds": 1.0,
            "images_per_second": 100.0 * k,
            "models_per_hour": k,
            "step_seconds_alone": 0.1,
        }

    monkeypatch.setattr(gpu_check, "pack", fake_pack)
    args = argparse.Namespace(quick=False, device="cuda")
    records = gpu_check.packing(args, Deadline.after(3600), report=lambda line: None)
    assert calls == [
        (name, precision, k)
        for name, precision in (("wrn", "float32"), ("wrn", "bfloat16"), ("default", "float32"))
        for k in gpu_check.PACKING_K
    ]
    cases = {case for _, case, metric, _ in records if metric == "models_per_hour"}
    assert cases == {
        f"{model} {precision} K={k}"
        for model, precision in (("WRN-28-2", "float32"), ("WRN-28-2", "bfloat16"), ("patch_cnn 64/4", "float32"))
        for k in gpu_check.PACKING_K
    }
    # A spent budget: every case skipped with its reason, no number.
    calls.clear()
    skipped = gpu_check.packing(args, Deadline.after(1.0), report=lambda line: None)
    assert not calls and {metric for _, _, metric, _ in skipped} == {"skipped"}
    assert all("time is spent" in reason for *_, reason in skipped)


def test_a_packing_that_cannot_fit_is_stopped():
    case = gpu_check.model_case("default", quick=True)
    with pytest.raises(DoesNotFit):
        gpu_check.pack(case, "cpu", "float32", 1, steps=2, deadline=Deadline.after(0.05))


def test_the_budget_skips_parts_in_one_line_each(tmp_path, capsys):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the parts would run")
    path = tmp_path / "check.csv"
    assert gpu_check.main(["--csv", str(path), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert printed.count("skipped: no CUDA: torch") == 4
    with path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["section", "case", "metric", "value"]
    assert all(len(row) == 4 for row in rows)
    skipped = [row for row in rows if row[2] == "skipped"]
    assert [row[0] for row in skipped] == ["equivalence", "throughput", "packing", "calibration"]


# --- the calibration for lira.tools.plan ----------------------------------------------------------


def test_the_calibration_round_trips_through_plans_reader(tmp_path):
    measured = {  # lira.models.calibration.measure's keys, figures made up
        "device": "cuda:0", "threads": 4, "steps": 20, "warmup_steps": 1, "batch_size": 256, "steps_per_epoch": 98,
        "step_seconds": 0.05, "epoch_seconds": 4.9, "logits_compute_seconds": 30.0, "startup_seconds": 8.0,
        "weights_bytes": 5.9e6, "torch": "2.11.0", "measured_by": "benchmarks/gpu_check.py",
    }  # fmt: skip
    saved = gpu_check.write_calibration(tmp_path / "out", "cifar10-wrn28-2", measured)
    assert saved.name == "calibration-cifar10-wrn28-2.json"
    config = load_config(REPO, [REPO / "config" / "cifar10.yaml"])
    hours = gpu_check.plan_hours(config, json.loads(saved.read_text()))
    assert hours["train"] == pytest.approx(256 * (8.0 + 100 * 4.9) / 3600)
    assert hours["logits"] == pytest.approx(256 * (8.0 + 30.0) / 3600)
    assert hours["total"] == pytest.approx(hours["train"] + hours["logits"])

    # Where the docs say to put it, plan reads it as an earlier calibration and counts GPU-hours.
    where = tmp_path / "results" / "cifar10-wrn28-2" / "benchmarks" / "calibration.json"
    where.parent.mkdir(parents=True)
    where.write_text(saved.read_text())
    args = argparse.Namespace(directory=tmp_path, calibrate=False, no_calibrate=True, devices=1)
    jobs = {"train": 256, "logits": 256}
    text = plan.plan_experiment(args, config, [REPO / "config" / "cifar10.yaml"], jobs, jobs)
    assert "an earlier calibration" in text and "GPU-hours" in text
    assert f"total {hours['total']:.2f} GPU-hours" in text


def test_the_physical_limit_counts_every_training_image():
    pytest.importorskip("torch")
    config = load_config(REPO, [REPO / "config" / "cifar10.yaml"])
    limit = gpu_check.physical_limit_hours(config, {"matmul_tflops": {"bfloat16": 1000.0}})
    per_image = gpu_check.flops_per_image(config["model"], (3, 32, 32))
    assert limit["pflop"] == pytest.approx(256 * 100 * 25000 * per_image / 1e15)
    assert 800 < limit["pflop"] < 850  # WRN-28-2: about 1.29 GFLOP an image, forward and backward
    assert limit["hours"] == pytest.approx(limit["pflop"] / 1000.0 / 3.6)
    assert gpu_check.physical_limit_hours(load_config(REPO, []), {"matmul_tflops": {"bfloat16": 1.0}}) is None
