"""The benchmark suite in one command: training efficiency, scoring against the per-example
reference algorithm, pipeline overhead of a finished default run. Prints each case and section as
it ends and writes every figure to a CSV (section, case, metric, value).

    .venv/bin/python -m benchmarks --results results/fmnist-cnn      # or: make bench

It ends within --budget-minutes (default 10) on any machine (benchmarks.budget): each section has
a share of the time left, each measurement repeats only as often as its first run says fits, and
what does not fit is printed and recorded as skipped with the reason. The bfloat16 cases run only
where a probe finds bfloat16 in hardware (--bf16 auto; always, never force it).

Every measurement of one section runs side by side in this one invocation on this machine, so
the ratios it prints (efficiency, speed-up, overhead) compare like with like. Nothing here is
asserted: tests/tools/test_benchmarks.py checks only that the reference implementation and ours agree.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from . import pipeline, scoring, training
from .budget import Deadline, DoesNotFit, Section, run_sections

REPO = Path(__file__).resolve().parents[1]

# (models, examples, queries, targets): the default experiment's shape, then the paper's
# CIFAR-10 shape (256 shadow models, 18 queries, 10 targets) at growing pool sizes.
SCORING_SIZES = [(64, 2500, 18, 32), (256, 2500, 18, 10), (256, 10000, 18, 10), (256, 50000, 18, 10)]
QUICK_SCORING_SIZES = [(8, 300, 2, 4), (16, 600, 3, 4)]
REFERENCE_EXAMPLES = 500  # the reference loop is timed on at most this many examples per size
MIN_SIZE_SECONDS = 2.0  # a scoring size offered less is skipped


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    import numpy
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "load_1min": os.getloadavg()[0],
    }


def _fmt(value, digits=3) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[_fmt(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def training_section(args, cores: int) -> Section:
    def run(deadline: Deadline) -> list:
        rates = None if args.bf16 == "never" else training.bf16_probe()
        run_bf16, why = training.bf16_plan(args.bf16, rates)
        hint = " (--bf16 always runs them)" if args.bf16 == "auto" and not run_bf16 else ""
        print(f"{why}: {'running' if run_bf16 else 'skipping'} {training.BF16_CASES}{hint}")
        records = [("training", "bf16 probe", f"{dtype}_gflops", rate) for dtype, rate in (rates or {}).items()]
        records.append(("training", "bf16 probe", "bf16_cases", "run" if run_bf16 else "skipped"))
        print(f"as each case ends ({deadline.left():.0f} s for the section):")
        result = training.run(quick=args.quick, cores=cores, deadline=deadline, bf16=(run_bf16, why))
        print_training(result)
        return records + training_records(result)

    title = "Training step: achieved FLOP/s / matrix-multiply FLOP/s (same dtype, threads, process)"
    return Section("training", title, 0.5, run, skip_reason(args, "training"))


def print_training(result: dict) -> None:
    matmul, rows, profile = result["matmul"], result["rows"], result["profile"]
    best = {name: value for name, value in matmul.items() if not name[-1].isdigit() or name.endswith("threads")}
    sizes = {name: value for name, value in matmul.items() if name not in best}
    print(
        "matrix multiply, best of n^3 products for n in "
        + "/".join(sorted({name.rsplit("_", 1)[1] for name in sizes}, key=int))
        + " (the denominator): "
        + ", ".join(f"{name.removeprefix('matmul_').replace('_', ' ')} {value:.0f} GFLOP/s" for name, value in best.items())
    )
    print("  by size: " + ", ".join(f"{name.removeprefix('matmul_').replace('_', ' ')}^3 {value:.0f}" for name, value in sizes.items()))
    print(
        table(
            ["case", "threads x processes", "dtype", "batch", "MFLOP/image", "ms/step", "images/s", "GFLOP/s", "matmul GFLOP/s", "efficiency"],
            [
                [r["case"], f"{r['threads']} x {r['processes']}", r["dtype"], r["batch"], r["mflop_per_image"], r["ms_per_step"],
                 r["images_per_second"], r["gflops"], r["matmul_gflops"], f"{100 * r['efficiency']:.1f} %"]
                for r in rows
            ],
        )
    )  # fmt: skip
    for case, reason in result["skipped"]:
        print(f"skipped: {case}: {reason}")
    if profile:
        total = sum(profile.values())
        print(f"\nwhere a step of the default model goes (profiler self time, 1 thread, {total:.1f} ms/step under the profiler):")
        print(table(["kind of operation", "ms/step", "share"], [[k, v, f"{100 * v / total:.0f} %"] for k, v in profile.items()]))


def training_records(result: dict) -> list:
    records = [("training", "matmul", name, value) for name, value in result["matmul"].items()]
    records += [("training", "default model profile", name, value) for name, value in (result["profile"] or {}).items()]
    for r in result["rows"]:
        records += [("training", r["case"], key, value) for key, value in r.items() if key != "case"]
    return records + [("training", case, "skipped", reason) for case, reason in result["skipped"]]


def scoring_section(args) -> Section:
    def run(deadline: Deadline) -> list:
        print(
            f"ours: lira.core.gaussian (streamed fit, leave-pair-out) + lira.core.attacks; reference: per-example loop "
            f"(benchmarks/scoring.py). The reference is timed on k = min(n, {REFERENCE_EXAMPLES}) examples and its "
            "loop time scaled by n / k (its loading is not scaled); scores compared on those k examples. Ours and the "
            f"reference alternate {scoring.REPEATS} times per size (fresh processes; fewer where the time is short): "
            "median times, median speed-up of the runs (range)."
        )
        sizes = QUICK_SCORING_SIZES if args.quick else SCORING_SIZES
        results, skipped = [], []
        with tempfile.TemporaryDirectory(prefix="lira-bench-") as workdir:
            for index, size in enumerate(sizes):
                name = "{} x {:,} x {} T={}".format(*size)
                try:
                    results.append(scoring_size(size, Path(workdir), deadline.share(1 / (len(sizes) - index))))
                    print(f"  {name}: speed-up {results[-1]['speedup']:.0f}x over {results[-1]['repeats']} runs")
                except DoesNotFit as reason:
                    skipped.append((name, str(reason)))
                    print(f"  {name}: skipped: {reason}")
        print_scoring(results, skipped)
        return scoring_records(results, skipped)

    title = "Scoring: LiRA online + offline, per-example and global variance, every target left out in turn"
    return Section("scoring", title, 0.35, run, skip_reason(args, "scoring"))


def scoring_size(size: tuple, workdir: Path, deadline: Deadline) -> dict:
    if deadline.left() < MIN_SIZE_SECONDS:
        raise DoesNotFit(f"the section's time is spent ({deadline.left():.0f} s left for this size)")
    return scoring.compare(*size, REFERENCE_EXAMPLES, workdir, deadline=deadline)


def print_scoring(results: list, skipped: list) -> None:
    print(
        table(
            ["models x examples x queries", "targets", "ours s (fit + score)", "reference s", "timed on k", "speed-up (range)",
             "ours peak MiB", "reference peak MiB", "input MiB", "max |score diff|", "same scores"],
            [
                [f"{r['models']} x {r['examples']:,} x {r['queries']}", r["targets"],
                 f"{r['ours_seconds']:.2f} ({r['ours_fit_seconds']:.2f} + {r['ours_score_seconds']:.2f})",
                 r["reference_seconds"], r["reference_examples_timed"], f"{r['speedup']:.0f}x ({r['speedup_min']:.0f}-{r['speedup_max']:.0f})", r["ours_peak_rss_mib"],
                 r["reference_peak_rss_mib"], r["input_mib"], f"{r['max_abs_difference']:.1e}", "yes" if r["identical"] else "NO"]
                for r in results
            ],
        )
    )  # fmt: skip
    for name, reason in skipped:
        print(f"skipped: {name}: {reason}")


def scoring_records(results: list, skipped: list) -> list:
    records = []
    for r in results:
        case = f"{r['models']}x{r['examples']}x{r['queries']} T={r['targets']}"
        records += [("scoring", case, key, value) for key, value in r.items()]
    return records + [("scoring", name, "skipped", reason) for name, reason in skipped]


def pipeline_section(args) -> Section:
    def run(deadline: Deadline) -> list:
        if not (args.results / "models").is_dir():
            print(f"skipped: no finished run in {args.results} (run the workflow, or pass --results)")
            return [("pipeline", str(args.results), "skipped", "no finished run")]
        p = pipeline.analyse(args.results, deadline=deadline)
        print_pipeline(p)
        return pipeline_records(p)

    return Section("pipeline", "Pipeline overhead of a finished default run", 0.15, run, skip_reason(args, "pipeline"))


def print_pipeline(p: dict) -> None:
    by_rule = p["job_seconds_by_rule"]

    def measured(key: str) -> str:
        return f"{p[key]:.2f} s" if key in p else f"skipped: {p['skipped'][key]}"

    print(f"run: {p['results']} ({p['command'] or 'command unknown'}); wall time from {p['wall_source']}")
    print(
        table(
            ["figure", "value"],
            [
                ["wall time x cores", f"{p['wall_seconds']:.0f} s x {p['cores']} = {p['core_seconds']:.0f} core-s"],
                ["training steps (sum of epoch_seconds, all models)", f"{p['training_step_seconds']:.0f} s"],
                ["logit inference (sum of inference_seconds, all models)", f"{p['inference_seconds']:.0f} s"],
                ["train jobs (sum of wall s)", f"{p['train_job_seconds']:.0f} s, {p['train_jobs']} jobs for {p['models']} models"],
                ["logits jobs (sum of wall s)", f"{by_rule.get('logits', float('nan')):.0f} s, {p['jobs_by_rule'].get('logits', 0)} jobs"],
                ["other jobs (sum of wall s): " + ", ".join(sorted(k for k in by_rule if k not in ("train", "logits"))),
                 f"{sum(v for k, v in by_rule.items() if k not in ('train', 'logits')):.0f} s"],
                ["idle cores and Snakemake between jobs (the rest)", f"{p['unaccounted_core_seconds']:.0f} core-s"],
                ["**pipeline overhead** = 1 - (training steps + inference) / (wall x cores)", f"**{100 * p['pipeline_overhead']:.1f} %**"],
                ["  with the inference counted as overhead too: 1 - training steps / (wall x cores)", f"{100 * p['overhead_training_only']:.1f} %"],
                ["train-job overhead = 1 - training steps / train jobs' wall", f"{100 * p['train_job_overhead']:.1f} %"],
                ["  per train job: wall - training steps (mean)", f"{p['train_job_overhead_seconds_mean']:.2f} s"],
                ["  per logits job: wall - inference (mean)", f"{p['logits_job_overhead_seconds_mean']:.2f} s"],
                ["  of which: interpreter + import torch, lira (measured now)", measured("startup_torch_seconds")],
                ["  a torch.optim optimizer's first use would add (avoided)", measured("first_optimizer_seconds")],
                ["interpreter + import numpy, lira (an analysis job's start)", measured("startup_numpy_seconds")],
            ],
        )
    )  # fmt: skip


def pipeline_records(p: dict) -> list:
    records = []
    for key, value in p.items():
        if key == "skipped":
            records += [("pipeline", name, "skipped", reason) for name, reason in value.items()]
        elif isinstance(value, dict):
            records += [("pipeline", key, rule, seconds) for rule, seconds in value.items()]
        else:
            records.append(("pipeline", "default run", key, value))
    return records


def skip_reason(args, name: str) -> str | None:
    return f"--skip {name}" if name in args.skip else None


def write_csv(path: Path, records: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "case", "metric", "value"])
        writer.writerows(records)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--results", type=Path, default=REPO / "results" / "fmnist-cnn", help="a finished run of the default experiment")
    parser.add_argument("--csv", type=Path, default=REPO / "benchmarks" / "results.csv", help="where to write every figure")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test of the suite, seconds)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "scoring", "pipeline"])
    parser.add_argument(
        "--bf16", choices=["auto", "always", "never"], default="auto",
        help="the bfloat16 training cases: auto runs them only if a probe finds bfloat16 in hardware (default: auto)",
    )  # fmt: skip
    parser.add_argument(
        "--budget-minutes", type=float, default=10.0,
        help="time for the whole suite; each section gets a share, what does not fit is skipped with the reason (default: 10)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # each line as it is printed, also into a pipe

    started = time.perf_counter()
    deadline = Deadline.after(60 * args.budget_minutes)
    host = machine()
    print(f"# LiRA benchmark suite{' (quick)' if args.quick else ''}")
    print(f"machine: {host['cpu']}, {host['cores']} cores; Python {host['python']}, torch {host['torch']}, numpy {host['numpy']}")
    print(f"load average (1 min) at start: {host['load_1min']:.2f}; time budget {args.budget_minutes:g} min")
    records = [("machine", "start", key, value) for key, value in host.items()]
    records.append(("machine", "start", "budget_minutes", args.budget_minutes))
    sections = [training_section(args, cores=max(2, min(host["cores"] or 2, 2))), scoring_section(args), pipeline_section(args)]
    records += run_sections(sections, deadline)

    load_end = os.getloadavg()[0]
    seconds = time.perf_counter() - started
    print(f"\nload average (1 min) at end: {load_end:.2f}; suite took {seconds:.0f} s")
    records += [("machine", "end", "load_1min", load_end), ("machine", "end", "suite_seconds", seconds)]
    write_csv(args.csv, records)
    print(f"every figure: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
