"""The benchmark suite's correctness, at tiny sizes (no timing is asserted anywhere): its
per-example reference implementation of LiRA gives the same scores as ours, its file reader and
overhead arithmetic are right, and the CNN block order it compares against is equivalent."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import pipeline, scoring  # noqa: E402
from lira.core import splits  # noqa: E402


def _synthetic(tmp_path, n_models, n_examples, n_queries):
    scoring.write_synthetic(tmp_path, n_models, n_examples, n_queries, seed=3)
    return np.load(tmp_path / "phi.npy"), np.load(tmp_path / "keep.npy")


@pytest.mark.parametrize("n_models, n_examples, n_queries, n_targets", [(8, 40, 3, 4), (4, 25, 2, 4), (16, 30, 1, 16)])
def test_reference_and_ours_give_the_same_scores(tmp_path, n_models, n_examples, n_queries, n_targets):
    # (4 models: a group left with one value after leave-one-out takes the pooled variance.)
    phi, keep = _synthetic(tmp_path, n_models, n_examples, n_queries)
    expected = scoring.reference_scores(phi, keep, n_targets)
    ours, _ = scoring.our_scores(scoring.StackReader(tmp_path / "phi.npy"), keep, n_targets)
    for variant in scoring.VARIANTS:
        assert ours[variant].shape == (n_targets, n_examples)
        assert np.all(np.isfinite(ours[variant]))
        np.testing.assert_allclose(ours[variant], expected[variant], rtol=1e-9, atol=1e-9, err_msg=variant)
    # Members tend to score higher on the online test (the synthetic IN shift is positive).
    members = keep[:n_targets]
    assert np.median(ours["online_global"][members]) > np.median(ours["online_global"][~members])


def test_reference_matches_a_direct_formula_for_one_example(tmp_path):
    phi, keep = _synthetic(tmp_path, 8, 10, 2)
    scores = scoring.reference_scores(phi, keep, 1)
    x, others = 3, np.arange(2, 8)  # target 0's shadows: every model but 0 and its partner 1
    values = phi[others, x].astype(np.float64)
    inside, outside = values[keep[others, x]], values[~keep[others, x]]
    mu_in, mu_out = inside.mean(0), outside.mean(0)
    var_in, var_out = inside.var(0, ddof=1), outside.var(0, ddof=1)
    target = phi[0, x].astype(np.float64)

    def log_pdf(v, mu, var):
        return -0.5 * np.log(2 * np.pi * var) - (v - mu) ** 2 / (2 * var)

    online = np.mean(log_pdf(target, mu_in, var_in) - log_pdf(target, mu_out, var_out))
    np.testing.assert_allclose(scores["online"][0, x], online, rtol=1e-12)


def test_subset_comparison_and_speedup_fields(tmp_path):
    # The suite's own path: separate processes, the reference on a subset of the examples.
    result = scoring.compare(6, 60, 2, 3, reference_examples=25, workdir=tmp_path, repeats=2)
    assert result["identical"]
    assert result["reference_examples_timed"] == 25 and result["repeats"] == 2
    assert result["ours_peak_rss_mib"] > 0 and result["reference_peak_rss_mib"] > 0
    assert 0 < result["speedup_min"] <= result["speedup"] <= result["speedup_max"]


def test_stack_reader_reads_models_and_example_ranges(tmp_path):
    phi, _ = _synthetic(tmp_path, 5, 7, 3)
    reader = scoring.StackReader(tmp_path / "phi.npy")
    assert reader.shape == (5, 7, 3)
    np.testing.assert_array_equal(reader[1:3], phi[1:3])
    np.testing.assert_array_equal(reader[4:99], phi[4:5])  # stops at the last model
    np.testing.assert_array_equal(reader[:, 2:5], phi[:, 2:5])
    np.testing.assert_array_equal(reader[:, 6:99], phi[:, 6:])
    subset = scoring.StackReader(tmp_path / "phi.npy", examples=4)  # the first 4 examples only
    assert subset.shape == (5, 4, 3)
    np.testing.assert_array_equal(subset[0:5], phi[:, :4])
    np.testing.assert_array_equal(subset[:, 2:99], phi[:, 2:4])
    with pytest.raises(IndexError):
        reader[::2]


def test_pipeline_overhead_arithmetic(tmp_path):
    workdir = tmp_path / "run"
    results = workdir / "results" / "exp"
    for folder in ("models", "logits", "benchmarks/train", "benchmarks/logits", "benchmarks/fit"):
        (results / folder).mkdir(parents=True)
    for block in ("0-1", "2-3"):  # two train jobs of two models each
        metrics = [{"model": i, "epoch_seconds": [1.0, 2.0], "train_seconds": 3.5} for i in splits.block_models(block)]
        (results / "models" / f"{block}.json").write_text(json.dumps({"models": metrics}))
        (results / "logits" / f"{block}.json").write_text(json.dumps({"inference_seconds": [0.5, 0.5]}))
        (results / "benchmarks" / "train" / f"{block}.tsv").write_text("s\th:m:s\n10.0\t0:00:10\n")
        (results / "benchmarks" / "logits" / f"{block}.tsv").write_text("s\th:m:s\n4.0\t0:00:04\n")
    (results / "benchmarks" / "fit.tsv").write_text("s\th:m:s\n1.5\t0:00:01\n")
    log = workdir / ".snakemake" / "log" / "2030-01-01T000000.000000.snakemake.log"
    log.parent.mkdir(parents=True)
    from datetime import datetime

    start = datetime.fromtimestamp(min(p.stat().st_mtime for p in (results / "models").iterdir()) - 10)
    log.write_text(
        f"  Date: {start.strftime('%Y-%m-%d %H:%M:%S')}\n  Command: snakemake --cores 2\n"
        "Complete log(s): x\nElapsed time: 0:00:20.000000\n"
    )
    report = pipeline.analyse(results, measure_startup=False)
    assert report["wall_seconds"] == 20.0 and report["cores"] == 2 and report["core_seconds"] == 40.0
    assert report["models"] == 4 and report["train_jobs"] == 2
    assert report["training_step_seconds"] == 12.0  # 4 models x (1 + 2) s
    assert report["inference_seconds"] == 2.0
    assert report["pipeline_overhead"] == pytest.approx(1 - 14 / 40)
    assert report["overhead_training_only"] == pytest.approx(1 - 12 / 40)
    assert report["train_job_overhead"] == pytest.approx(1 - 12 / 20)
    assert report["train_job_overhead_seconds_mean"] == pytest.approx(10 - 6)
    assert report["logits_job_overhead_seconds_mean"] == pytest.approx(4 - 1)
    assert report["job_seconds_by_rule"] == {"train": 20.0, "logits": 8.0, "fit": 1.5}
    assert report["unaccounted_core_seconds"] == pytest.approx(40 - 20 - 8 - 1.5)
    # A file written long after the run (a later rerun) is left out.
    late = results / "models" / "8-9.json"
    late.write_text(json.dumps({"models": [{"model": 8, "epoch_seconds": [100.0]}, {"model": 9, "epoch_seconds": [100.0]}]}))
    os.utime(late, (start.timestamp() + 1000, start.timestamp() + 1000))
    assert pipeline.analyse(results, measure_startup=False)["training_step_seconds"] == 12.0


def test_cnn_pools_before_relu_with_the_same_outputs_and_gradients():
    torch = pytest.importorskip("torch")
    from benchmarks.training import relu_before_pool
    from lira.models.architectures import build_model

    torch.manual_seed(0)
    model = build_model({"arch": "cnn", "width": 4}, (1, 12, 12), 10, [0.5], [0.25])
    before = relu_before_pool(build_model({"arch": "cnn", "width": 4}, (1, 12, 12), 10, [0.5], [0.25]))
    before.load_state_dict(model.state_dict())  # same parameters, same names
    order = [type(layer).__name__ for layer in before[1]]
    assert order[:3] == ["Conv2d", "ReLU", "MaxPool2d"]
    images = torch.rand(6, 1, 12, 12)
    images[:, :, :4] = 0.0  # flat background: ties inside pooling windows
    labels = torch.arange(6)
    outputs = []
    for net in (model, before):
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        outputs.append((net(images).detach(), [p.grad.clone() for p in net.parameters()]))
    assert torch.equal(outputs[0][0], outputs[1][0])
    for ours, theirs in zip(outputs[0][1], outputs[1][1]):
        assert torch.equal(ours, theirs)


def test_keep_matrix_of_synthetic_data_is_the_workflows(tmp_path):
    _, keep = _synthetic(tmp_path, 6, 11, 1)
    np.testing.assert_array_equal(keep, splits.keep_matrix(3, 6, 11))
