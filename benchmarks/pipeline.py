"""Pipeline overhead of a finished run of the workflow: its wall time against the pure compute
time of its models (training steps and the forward passes that produce the logits), and where
the rest went.

Read from the run's own files (nothing is rerun):
- results/<experiment>/models/<block>.json: each model's `epoch_seconds`, the training loop's time
  per epoch measured inside the job (the training steps only: no start-up, data loading,
  evaluation, checkpoint or weight writing);
- results/<experiment>/logits/<block>.json: each model's `inference_seconds`, the forward passes
  over pool x queries measured inside the job (no start-up, loading or writing);
- results/<experiment>/benchmarks/<rule>/*.tsv: Snakemake's `benchmark:` files, wall seconds `s`
  of each train, logits, shadows, fit, attack, evaluate, tables and figure job;
- the run's Snakemake log (.snakemake/log/*.log next to results/): `Date:` (start), `Elapsed
  time:` (the workflow's wall time) and `--cores`. Without a complete log, the wall time is taken
  from file times: the first benchmarked job's start (its .tsv's mtime minus its `s`) to the
  newest file under results/<experiment>/.

Definitions (printed with the numbers):
- pipeline overhead = 1 - (training-step seconds + inference seconds) / (wall time x cores): the
  share of the machine's core-seconds spent on anything but the models' arithmetic: Python
  start-up and imports, data loading, Snakemake's scheduling, reading and writing files, the
  analysis jobs, and cores left idle;
- the same with the training steps alone (the inference counted as overhead too);
- train-job overhead = 1 - (training-step seconds) / (train jobs' wall seconds): what start-up,
  imports, data loading, evaluation and writing add to the train jobs.
The start-up cost of one job (a fresh interpreter importing torch and the package, or only
numpy and the package) is measured live, in this run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from lira.tools.plan import read_benchmark_seconds

from .budget import NO_DEADLINE, Deadline, DoesNotFit

REPO = Path(__file__).resolve().parents[1]


def _find_log(results: Path) -> tuple[Path | None, dict]:
    """The complete Snakemake log (one with 'Elapsed time') of the run during which most of the
    train jobs' metrics in `results` were written (the latest on a tie), parsed: start, elapsed,
    cores, command."""
    workdir = results.parent.parent
    written = [p.stat().st_mtime for p in (results / "models").glob("*.json")]  # one per block
    best, best_info, best_count = None, {}, 0
    for log in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log")):
        text = log.read_text(errors="replace")
        date = re.search(r"^\s*Date: (\S+ \S+)", text, re.M)
        elapsed = re.search(r"^Elapsed time: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text, re.M)
        if not (date and elapsed):
            continue
        start = datetime.fromisoformat(date.group(1)).timestamp()
        hours, minutes, seconds = elapsed.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        count = sum(start - 1 <= t <= start + duration + 60 for t in written)
        if count == 0 or count < best_count:
            continue
        cores = re.search(r"--cores[ =](\d+)", text) or re.search(r"\s-c\s*(\d+)", text)
        command = re.search(r"^\s*Command: (.*)$", text, re.M)
        best, best_count = log, count
        best_info = {
            "start": start,
            "elapsed": duration,
            "cores": int(cores.group(1)) if cores else None,
            "command": command.group(1) if command else "",
        }
    return best, best_info


def startup_seconds(code: str, repeats: int = 3, deadline: Deadline = NO_DEADLINE) -> float:
    """Best wall time of a fresh interpreter running `code` (imports), like a job's start: up to
    `repeats` runs, each after the first only if the last one fits in the time left. A run still
    going at the deadline is stopped (DoesNotFit if it was the first)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=deadline.left() if math.isfinite(deadline.at) else None)
        except subprocess.TimeoutExpired:
            if best < math.inf:
                break
            raise DoesNotFit("a fresh interpreter ran past the section's deadline and was stopped") from None
        best = min(best, time.perf_counter() - start)
        if time.perf_counter() - start > deadline.left():
            break
    return best


def analyse(results: Path, cores: int | None = None, measure_startup: bool = True, deadline: Deadline = NO_DEADLINE) -> dict:
    """Overhead figures of the run in `results` (results/<experiment>). With the run's complete
    log, only files written during that run count (a later partial rerun does not mix in). The
    start-up costs are measured by the deadline (startup_costs)."""
    results = Path(results)
    log, info = _find_log(results)
    if log is not None:
        wall, source = info["elapsed"], f"Snakemake log {log} ('Elapsed time')"
        cores = cores or info["cores"]
        window = (info["start"] - 1, info["start"] + info["elapsed"] + 60)
    else:
        tsvs = list((results / "benchmarks").rglob("*.tsv"))
        if not tsvs:
            raise FileNotFoundError(f"{results}/benchmarks: no benchmark files and no complete Snakemake log")
        start = min(p.stat().st_mtime - read_benchmark_seconds(p) for p in tsvs)
        end = max(p.stat().st_mtime for p in results.rglob("*") if p.is_file())
        wall, source = end - start, "file times (first benchmarked job's start to the newest output)"
        window = (-math.inf, math.inf)

    def of_run(paths):
        return [p for p in paths if window[0] <= p.stat().st_mtime <= window[1]]

    all_blocks = list((results / "models").glob("*.json"))
    blocks = of_run(all_blocks)
    if not blocks:
        raise FileNotFoundError(f"{results}/models/*.json: no train job finished during the run")
    metrics = {p.stem: json.loads(p.read_text())["models"] for p in blocks}  # block -> its models' metrics
    compute = {block: sum(sum(m["epoch_seconds"]) for m in models) for block, models in metrics.items()}
    train_wall = {p.stem: read_benchmark_seconds(p) for p in of_run((results / "benchmarks" / "train").glob("*.tsv"))}
    paired = sorted(set(compute) & set(train_wall))  # train jobs with both files
    inference = {}
    for path in of_run((results / "logits").glob("*.json")):
        inference[path.stem] = sum(json.loads(path.read_text()).get("inference_seconds", []))
    logits_wall = {p.stem: read_benchmark_seconds(p) for p in of_run((results / "benchmarks" / "logits").glob("*.tsv"))}
    logits_paired = sorted(set(inference) & set(logits_wall))
    walls = {}
    all_tsvs = list((results / "benchmarks").rglob("*.tsv"))
    for path in of_run(all_tsvs):
        rule = path.parent.name if path.parent != results / "benchmarks" else path.stem
        walls.setdefault(rule, []).append(read_benchmark_seconds(path))
    excluded = len(all_blocks) - len(blocks) + len(all_tsvs) - sum(len(v) for v in walls.values())
    cores = cores or 2
    core_seconds = wall * cores
    training = sum(compute.values())
    inferring = sum(inference.values())
    known = {rule: sum(seconds) for rule, seconds in walls.items()}
    report = {
        "results": str(results),
        "wall_source": source,
        "command": info.get("command", ""),
        "wall_seconds": wall,
        "cores": cores,
        "core_seconds": core_seconds,
        "models": sum(len(models) for models in metrics.values()),
        "train_jobs": len(metrics),
        "training_step_seconds": training,
        "inference_seconds": inferring,
        "model_compute_seconds": training + inferring,
        "train_job_seconds": sum(train_wall.values()),
        "train_job_overhead_seconds_mean": sum(train_wall[b] - compute[b] for b in paired) / max(len(paired), 1),
        "train_job_overhead": 1 - sum(compute[b] for b in paired) / sum(train_wall[b] for b in paired) if paired else float("nan"),
        "logits_job_overhead_seconds_mean": sum(logits_wall[b] - inference[b] for b in logits_paired) / max(len(logits_paired), 1),
        "pipeline_overhead": 1 - (training + inferring) / core_seconds,
        "overhead_training_only": 1 - training / core_seconds,
        "job_seconds_by_rule": known,
        "jobs_by_rule": {rule: len(seconds) for rule, seconds in walls.items()},
        "unaccounted_core_seconds": core_seconds - sum(known.values()),
        "files_outside_run": excluded,
    }
    if measure_startup:
        report.update(startup_costs(deadline))
    return report


TORCH_IMPORTS = "import torch, lira.models.training, lira.models.architectures"
STARTUPS = {
    "startup_torch_seconds": TORCH_IMPORTS,
    "startup_optimizer_seconds": TORCH_IMPORTS + "; torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)",
    "startup_python_seconds": "pass",
    "startup_numpy_seconds": "import numpy, lira.core.attacks, lira.workflow.files",
}


def startup_costs(deadline: Deadline = NO_DEADLINE) -> dict:
    """What every job pays before its work, measured in fresh interpreters: importing torch and
    the package (train and logits jobs), importing numpy and the package (the analysis jobs), and,
    for comparison, what the first torch.optim optimizer would add (its methods import
    torch._dynamo on first use; lira.models.training has its own SGD to avoid it). Each has a
    fair share of the time to the deadline; one that does not fit is left out, its reason under
    "skipped" (name -> reason)."""
    costs, skipped = {}, {}
    for index, (name, code) in enumerate(STARTUPS.items()):
        try:
            costs[name] = startup_seconds(code, deadline=deadline.share(1 / (len(STARTUPS) - index)))
        except DoesNotFit as reason:
            skipped[name] = str(reason)
    optimizer = costs.pop("startup_optimizer_seconds", None)
    if optimizer is not None and "startup_torch_seconds" in costs:
        costs["first_optimizer_seconds"] = max(0.0, optimizer - costs["startup_torch_seconds"])
    else:
        skipped["first_optimizer_seconds"] = skipped.get("startup_optimizer_seconds") or skipped["startup_torch_seconds"]
    skipped.pop("startup_optimizer_seconds", None)
    return {**costs, "skipped": skipped}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="results/<experiment> of a finished run")
    parser.add_argument("--cores", type=int, help="cores the run used (default: from its log, else 2)")
    args = parser.parse_args(argv)
    print(json.dumps(analyse(args.results, args.cores), indent=1))


if __name__ == "__main__":
    main()
