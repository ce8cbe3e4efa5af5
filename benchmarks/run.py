"""The benchmark suite in one command: training efficiency, scoring against the per-example
reference algorithm, pipeline overhead of a finished default run. Prints the table and writes
every figure to a CSV (section, case, metric, value).

    .venv/bin/python -m benchmarks --results results/fmnist-cnn      # or: make bench

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

REPO = Path(__file__).resolve().parents[1]

# (models, examples, queries, targets): the default experiment's shape, then the paper's
# CIFAR-10 shape (256 shadow models, 18 queries, 10 targets) at growing pool sizes.
SCORING_SIZES = [(64, 2500, 18, 32), (256, 2500, 18, 10), (256, 10000, 18, 10), (256, 50000, 18, 10)]
QUICK_SCORING_SIZES = [(8, 300, 2, 4), (16, 600, 3, 4)]
REFERENCE_EXAMPLES = 500  # the reference loop is timed on at most this many examples per size


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "results" / "fmnist-cnn", help="a finished run of the default experiment")
    parser.add_argument("--csv", type=Path, default=REPO / "benchmarks" / "results.csv", help="where to write every figure")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test of the suite, seconds)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "scoring", "pipeline"])
    args = parser.parse_args(argv)

    started = time.perf_counter()
    records = []  # (section, case, metric, value)
    host = machine()
    print(f"# LiRA benchmark suite{' (quick)' if args.quick else ''}")
    print(f"machine: {host['cpu']}, {host['cores']} cores; Python {host['python']}, torch {host['torch']}, numpy {host['numpy']}")
    print(f"load average (1 min) at start: {host['load_1min']:.2f}")
    for key, value in host.items():
        records.append(("machine", "start", key, value))

    if "training" not in args.skip:
        rows, matmul, profile = training.run(quick=args.quick, cores=max(2, min(host["cores"] or 2, 2)))
        print("\n## Training step: achieved FLOP/s / matrix-multiply FLOP/s (same dtype, threads, process)")
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
        total = sum(profile.values())
        print(f"\nwhere a step of the default model goes (profiler self time, 1 thread, {total:.1f} ms/step under the profiler):")
        print(table(["kind of operation", "ms/step", "share"], [[k, v, f"{100 * v / total:.0f} %"] for k, v in profile.items()]))
        for name, value in matmul.items():
            records.append(("training", "matmul", name, value))
        for name, value in profile.items():
            records.append(("training", "default model profile", name, value))
        for r in rows:
            for key, value in r.items():
                if key != "case":
                    records.append(("training", r["case"], key, value))

    if "scoring" not in args.skip:
        sizes = QUICK_SCORING_SIZES if args.quick else SCORING_SIZES
        results = []
        with tempfile.TemporaryDirectory(prefix="lira-bench-") as workdir:
            for n_models, n_examples, n_queries, n_targets in sizes:
                results.append(scoring.compare(n_models, n_examples, n_queries, n_targets, REFERENCE_EXAMPLES, Path(workdir)))
        print("\n## Scoring: LiRA online + offline, per-example and global variance, every target left out in turn")
        print(
            f"ours: lira.core.gaussian (streamed fit, leave-pair-out) + lira.core.attacks; reference: per-example loop "
            f"(benchmarks/scoring.py). The reference is timed on k = min(n, {REFERENCE_EXAMPLES}) examples and its "
            "loop time scaled by n / k (its loading is not scaled); scores compared on those k examples. Ours and the "
            f"reference alternate {scoring.REPEATS} times per size (fresh processes): median times, median speed-up "
            "of the runs (range)."
        )
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
        for r in results:
            case = f"{r['models']}x{r['examples']}x{r['queries']} T={r['targets']}"
            for key, value in r.items():
                records.append(("scoring", case, key, value))

    if "pipeline" not in args.skip:
        print("\n## Pipeline overhead of a finished default run")
        if not (args.results / "models").is_dir():
            print(f"skipped: no finished run in {args.results} (run the workflow, or pass --results)")
            records.append(("pipeline", str(args.results), "skipped", "no finished run"))
        else:
            p = pipeline.analyse(args.results)
            by_rule = p["job_seconds_by_rule"]
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
                        ["  of which: interpreter + import torch, lira (measured now)", f"{p['startup_torch_seconds']:.2f} s"],
                        ["  a torch.optim optimizer's first use would add (avoided)", f"{p['first_optimizer_seconds']:.2f} s"],
                        ["interpreter + import numpy, lira (an analysis job's start)", f"{p['startup_numpy_seconds']:.2f} s"],
                    ],
                )
            )  # fmt: skip
            for key, value in p.items():
                if isinstance(value, dict):
                    for rule, seconds in value.items():
                        records.append(("pipeline", key, rule, seconds))
                else:
                    records.append(("pipeline", "default run", key, value))

    load_end = os.getloadavg()[0]
    seconds = time.perf_counter() - started
    print(f"\nload average (1 min) at end: {load_end:.2f}; suite took {seconds:.0f} s")
    records += [("machine", "end", "load_1min", load_end), ("machine", "end", "suite_seconds", seconds)]
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "case", "metric", "value"])
        writer.writerows(records)
    print(f"every figure: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
