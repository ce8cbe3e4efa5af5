"""The benchmark suite's bounds (benchmarks.budget and its use): the bfloat16 probe's decision rule,
the time shares of sections and cases, and that whatever is skipped is reported as skipped with
its reason, never as a number. Fake sections and an injected clock; nothing here is timed."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import pipeline, run, scoring, training  # noqa: E402
from benchmarks.budget import Deadline, DoesNotFit, Section, fit_steps, repetitions, run_sections  # noqa: E402


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# --- the bfloat16 probe's rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bf16, float32, emulated",
    [(0.8, 150.0, True), (26.0, 160.0, True), (79.0, 160.0, True), (81.0, 160.0, False), (592.0, 160.0, False), (300.0, 150.0, False)],
)
def test_bf16_is_emulated_below_half_the_float32_rate(bf16, float32, emulated):
    assert training.bf16_emulated(bf16, float32) is emulated


def test_bf16_plan_per_mode():
    emulated, hardware = {"bfloat16": 0.8, "float32": 150.0}, {"bfloat16": 592.0, "float32": 160.0}
    run_it, why = training.bf16_plan("auto", emulated)
    assert not run_it and "emulated" in why and "0.8 GFLOP/s bf16 vs 150 float32" in why
    assert training.bf16_plan("auto", hardware) == (True, "bfloat16 runs in hardware on this CPU (probe: 592 GFLOP/s bf16 vs 160 float32)")
    assert training.bf16_plan("always", emulated)[0] is True
    assert training.bf16_plan("never", None) == (False, "--bf16 never")  # no probe needed


# --- repetitions and schedules from a first timed run -------------------------------------------


def test_repetitions_fit_the_time_after_the_warm_up():
    assert repetitions(0.01, 5, 5.0) == 5  # fast: all of them
    assert repetitions(1.0, 5, 4.0) == 3
    assert repetitions(2.0, 5, 5.0) == 1
    assert repetitions(10.0, 5, 5.0) == 1  # always one timed run after the warm-up


def test_fit_steps_cuts_epochs_then_steps_then_refuses():
    assert fit_steps(4, 10, 0.02, 60.0) == (4, 10)  # fits: the case as configured
    assert fit_steps(4, 10, 1.0, 25.0) == (2, 10)
    assert fit_steps(4, 10, 1.0, 9.0) == (2, 4)
    with pytest.raises(DoesNotFit, match="two"):
        fit_steps(2, 2, 10.0, 15.0)


def test_matmul_sizes_that_would_not_fit_are_skipped_with_a_reason():
    result = training.matmul_by_size("float32", (32, 64, 128), seconds=1e-6)  # the first size always runs
    assert list(result["by_size"]) == [32] and result["gflops"] == result["by_size"][32] > 0
    assert "a product would take about" in result["skipped_sizes"][64]
    assert "larger than a size already skipped" in result["skipped_sizes"][128]


# --- sections within the suite's budget ---------------------------------------------------------


def fake_section(name, weight, clock, uses, calls, skip=None):
    def run_it(deadline):
        calls.append((name, deadline.at - clock()))
        clock.sleep(uses)
        return [(name, "case", "seconds", uses)]

    return Section(name, name.title(), weight, run_it, skip)


def test_each_section_gets_its_share_of_what_is_left():
    clock, calls = FakeClock(), []
    sections = [fake_section("a", 0.5, clock, 10, calls), fake_section("b", 0.35, clock, 10, calls), fake_section("c", 0.15, clock, 10, calls)]
    records = run_sections(sections, Deadline.after(100, clock), write=lambda line: None)
    assert [name for name, _ in calls] == ["a", "b", "c"]
    assert [seconds for _, seconds in calls] == pytest.approx([50, 90 * 0.35 / 0.5, 80])  # what a section leaves goes on
    assert ("b", "section", "seconds", 10) in records


def test_sections_are_not_launched_once_the_budget_is_spent():
    clock, calls, printed = FakeClock(), [], []
    sections = [fake_section("a", 0.5, clock, 95, calls), fake_section("b", 0.35, clock, 1, calls), fake_section("c", 0.15, clock, 1, calls)]
    records = run_sections(sections, Deadline.after(100, clock), write=printed.append)
    assert [name for name, _ in calls] == ["a"]
    skipped = [r for r in records if r[2] == "skipped"]
    assert [(section, case) for section, case, _, _ in skipped] == [("b", "section"), ("c", "section")]
    assert all("budget is spent" in reason for *_, reason in skipped)
    assert printed[-2:] == ["\n## C", f"skipped: {skipped[1][3]}"]


def test_a_section_left_out_is_skipped_and_its_share_goes_to_the_others():
    clock, calls = FakeClock(), []
    sections = [fake_section("a", 0.5, clock, 1, calls, skip="--skip a"), fake_section("b", 0.5, clock, 1, calls)]
    records = run_sections(sections, Deadline.after(100, clock), write=lambda line: None)
    assert calls == [("b", 100)]
    assert ("a", "section", "skipped", "--skip a") in records


def test_the_whole_suite_with_no_budget_reports_every_section_skipped(tmp_path, capsys):
    assert run.main(["--budget-minutes", "0", "--csv", str(tmp_path / "out.csv"), "--results", str(tmp_path)]) == 0
    rows = list(csv.reader((tmp_path / "out.csv").open()))
    skipped = {row[0]: row[3] for row in rows if row[2] == "skipped"}
    assert set(skipped) == {"training", "scoring", "pipeline"}
    assert all("budget is spent" in reason for reason in skipped.values())
    assert capsys.readouterr().out.count("skipped: the suite's time budget is spent") == 3


# --- skipped cases are reported, not measured ---------------------------------------------------


def _train_result(seconds_per_step=0.02, gflops=50.0):
    images_per_second = 128 / seconds_per_step
    return {"flops_per_step": 1e9, "seconds_per_step": seconds_per_step, "gflops": gflops, "images_per_second": images_per_second, "batch": 128}


def test_skipped_cases_have_no_row_and_say_why():
    matmul = {"gflops": 160.0, "by_size": {"512": 160.0}, "skipped_sizes": {}}
    emulated = "bfloat16 runs emulated on this CPU (probe: 0.8 GFLOP/s bf16 vs 150 float32)"
    one = {job: _train_result() for job in training.ONE_THREAD_JOBS}
    one.update(matmul_float32=matmul, default_profile={"ms_per_step_by_kind": {"convolutions": 1.0}})
    one.update({job: {"skipped": emulated} for job in training.BF16_JOBS})
    one["wrn"] = {"skipped": "a step takes about 40.0 s, and two (warm-up and timed) exceed its 30 s"}
    many = {"matmul_float32": matmul, "default": _train_result()}
    result = training.summarise(one, many, "the section's time is spent (3 s left)", cores=2)
    cases = [row["case"] for row in result["rows"]]
    assert not any("bf16" in case or "WRN" in case or "processes" in case for case in cases)
    assert len(cases) == 6
    skipped = dict(result["skipped"])
    assert skipped["matmul bfloat16 1 thread"] == skipped["default patch_cnn, bf16 autocast"] == emulated
    assert skipped["WRN-28-2 (paper), bf16 autocast"] == emulated
    assert "40.0 s" in skipped["WRN-28-2 (paper), channels_last"]
    assert skipped["default patch_cnn, 2 processes x 1 thread"] == "the section's time is spent (3 s left)"
    assert "matmul_bfloat16_1_thread" not in result["matmul"]
    records = run.training_records(result)
    assert ("training", "WRN-28-2 (paper), bf16 autocast", "skipped", emulated) in records
    assert not any(case.startswith("WRN") and metric != "skipped" for _, case, metric, _ in records)


def test_a_worker_past_its_deadline_skips_every_job_without_running_it():
    jobs = ["matmul_float32", "default", "wrn"]
    started = time.perf_counter()
    results = dict(training.worker(1, jobs, quick=True, start_at=None, deadline=Deadline(time.time() - 1)))
    assert time.perf_counter() - started < 5
    assert list(results) == jobs
    assert all("the section's time is spent" in result["skipped"] for result in results.values())


def test_a_worker_is_killed_at_its_deadline_and_its_unreported_jobs_skipped():
    code = "import json, time; print(json.dumps(['a', {'gflops': 1.0}]), flush=True); time.sleep(60)"
    reported = []
    started = time.perf_counter()
    results = training._stream([sys.executable, "-c", code], ["a", "b"], Deadline.after(1.5), lambda *job: reported.append(job))
    assert time.perf_counter() - started < 10
    assert reported == [("a", {"gflops": 1.0})]  # as it came
    assert results == {"a": {"gflops": 1.0}, "b": {"skipped": "killed at the section's deadline, unfinished"}}


def test_a_scoring_size_past_its_deadline_is_refused_and_cleaned_up(tmp_path):
    with pytest.raises(DoesNotFit, match="deadline"):
        scoring.compare(6, 60, 2, 3, reference_examples=25, workdir=tmp_path, deadline=Deadline(time.time()))
    assert not any(tmp_path.iterdir())


def test_startup_costs_past_the_deadline_are_skipped_with_reasons():
    costs = pipeline.startup_costs(Deadline(time.time()))
    assert list(costs) == ["skipped"]  # no figure at all
    assert set(costs["skipped"]) == {"startup_torch_seconds", "startup_python_seconds", "startup_numpy_seconds", "first_optimizer_seconds"}
    assert all("deadline" in reason for reason in costs["skipped"].values())
