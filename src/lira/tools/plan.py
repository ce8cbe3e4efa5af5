"""Plan an experiment's compute before spending it: the jobs per rule (all, done, to run) and an
estimate of device-hours and disk, with the assumptions behind it.

    python -m lira.tools.plan --configfile config/cifar10.yaml --devices 8
    make plan CONFIG=config/cifar10.yaml

Job counts come from two Snakemake dry runs (the jobs left, and all jobs with --forceall): no data,
GPU or network needed. Timings come, first found first used, from
1. finished trainings of this experiment: results/<experiment>/models/<block>.json (seconds of
   each model's epochs), logits/<block>.json (each model's inference seconds) and the rules'
   benchmark files benchmarks/<rule>/<block>.tsv (each job's wall time, start-up included);
2. a calibration saved by an earlier plan, results/<experiment>/benchmarks/calibration.json;
3. a short calibration run on this machine (lira.tools.calibrate, in its own process because it needs
   torch): a few training steps and inference batches of the configured model on random images of
   the dataset's shape, extrapolated to an epoch and to a logits job.
`--calibrate` measures again. This module imports neither torch nor Snakemake.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lira.core.logit_statistics import STACKED_STATISTICS
from lira.core.queries import query_set
from lira.workflow.config import load_config
from lira.workflow.datasets import input_layout

REPO = Path(__file__).resolve().parents[3]
PER_BLOCK = ("train", "logits")  # rules with one job per block of models


# --- the config ----------------------------------------------------------------------------------


def _median(values) -> float:
    return float(np.median(list(values)))


def query_count(config: dict) -> int:
    return len(query_set(config["queries"]["mirror"], config["queries"]["shift"], config["queries"]["stride"]))


# --- the jobs ------------------------------------------------------------------------------------


def parse_job_stats(text: str) -> dict[str, int]:
    """Job counts per rule from a dry run's "Job stats" table ({} when nothing is to be done)."""
    if "Job stats:" not in text:
        return {}
    counts = {}
    for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    counts.pop("total", None)
    return counts


def job_counts(snakemake: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(all jobs, jobs to run) per rule, from two dry runs of the `snakemake` command, in parallel."""

    def dry_run(*extra):
        process = subprocess.run(
            [*snakemake, "--dry-run", "--nolock", "--quiet", "rules", *extra], capture_output=True, text=True
        )
        if process.returncode != 0:
            raise RuntimeError(f"snakemake --dry-run failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}")
        return parse_job_stats(process.stdout + process.stderr)

    with ThreadPoolExecutor(2) as pool:
        everything, pending = pool.map(lambda extra: dry_run(*extra), [("--forceall",), ()])
    return everything, pending


# --- the timings ---------------------------------------------------------------------------------


@dataclass
class Timings:
    """What a train and a logits job cost, measured somewhere (`source`) on `device`: per model,
    and per job (a job trains or queries a block of models, lira.core.splits.model_blocks)."""

    source: str
    device: str
    threads: int
    epoch_seconds: float  # one training epoch of one model
    train_overhead_seconds: float  # the rest of a train job: start-up, loading, accuracies, saving
    logits_model_seconds: float  # one model's forward passes over pool x queries
    logits_overhead_seconds: float  # the rest of a logits job: start-up, loading, saving
    weights_bytes: float | None = None
    per_model_bytes: dict[str, float] = field(default_factory=dict)  # measured file sizes, by kind
    other_seconds: dict[str, float] = field(default_factory=dict)  # other rules' job time, by rule
    notes: list[str] = field(default_factory=list)


def read_benchmark_seconds(path: Path) -> float:
    with open(path) as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def comparable(metrics: dict, config: dict) -> bool:
    """Whether a past training's epochs cost what this config's would: same model, batch size,
    augmentation and precision, same number of examples. Runs that did not record their settings are taken."""
    settings = metrics.get("settings")
    examples = metrics.get("train_examples")
    if examples is not None and abs(examples - config["data"]["pool_size"] / 2) > 1:
        return False
    if settings is None:
        return True
    same = {"batch_size": None, "augment": None, "precision": "float32"}  # recorded before precision existed: float32
    return settings["model"] == config["model"] and all(
        settings["train"].get(key, default) == config["train"].get(key, default) for key, default in same.items()
    )


def array_shape(path: Path) -> tuple[int, ...] | None:
    """The shape of a .npy file (its header only), or None where it cannot be read."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError):
        return None


def from_past_runs(results: Path, config: dict) -> tuple[Timings | None, list[str]]:
    """Timings of the finished trainings under `results` that are comparable with `config`
    (models/*.json, benchmarks/*), or None; and notes on what was left out."""
    metrics, blocks, skipped = {}, {}, 0  # model -> its metrics; block -> its models
    for path in sorted((results / "models").glob("*.json")):
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for m in found.get("models", []) if isinstance(found, dict) else []:
            if not m.get("epoch_seconds"):
                continue
            if comparable(m, config):
                metrics[m["model"]] = m
                blocks.setdefault(path.stem, []).append(m["model"])
            else:
                skipped += 1
    ignored = (
        [f"{skipped} finished trainings in {results} are for other settings (model, batch, data): not used"]
        if skipped
        else []
    )
    if not metrics:
        return None, ignored
    notes = []
    epochs = [seconds for m in metrics.values() for seconds in m["epoch_seconds"]]
    overheads = []
    for block, models in blocks.items():
        benchmark = results / "benchmarks" / "train" / f"{block}.tsv"
        if benchmark.exists():  # the job's wall time, start-up and saving included
            overheads.append(read_benchmark_seconds(benchmark) - sum(sum(metrics[i]["epoch_seconds"]) for i in models))
    # Logits jobs count only where the file has this config's [models, pool, queries, classes].
    expected = (config["data"]["pool_size"], query_count(config), input_layout(config["data"]["dataset"], config["data"].get("file"))[1])
    inference, logits_overheads, logits_files = [], [], []
    for path in (results / "benchmarks" / "logits").glob("*.tsv"):
        output = results / "logits" / f"{path.stem}.npy"
        shape = array_shape(output)
        if shape is None or shape[1:] != expected:
            continue
        try:
            seconds = json.loads((results / "logits" / f"{path.stem}.json").read_text())["inference_seconds"]
        except (OSError, ValueError, KeyError):
            continue
        inference += seconds
        logits_overheads.append(read_benchmark_seconds(path) - sum(seconds))
        logits_files.append((output, shape[0]))
    overhead = max(_median(overheads), 0.0) if overheads else 0.0
    epoch = _median(epochs)
    if inference:
        logits_model, logits_overhead = _median(inference), max(_median(logits_overheads), 0.0)
    else:  # a forward pass costs about a third of a training step; the pool is twice the members
        logits_model, logits_overhead = epoch * 2 * expected[1] / 3, overhead
        notes.append(
            "no logits job of these settings timed: a model's logits are taken as pool x queries forward "
            "passes at a third of a training step each, a job's start-up as a train job's"
        )
    other: dict[str, list[float]] = {}
    for path in (results / "benchmarks").rglob("*.tsv"):
        rule = path.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv")
        if rule not in ("train", "logits"):
            other.setdefault(rule, []).append(read_benchmark_seconds(path))
    sizes = {}  # bytes per model
    stacked = stacked_bytes_per_model(results / "shadows", expected[:2])
    if stacked is not None:
        sizes["shadows"] = stacked
    weights = [
        (results / "models" / f"{block}.pt").stat().st_size / len(models)
        for block, models in blocks.items()
        if (results / "models" / f"{block}.pt").exists()
    ]
    if weights:
        sizes["train"] = _median(weights)
    if logits_files:
        sizes["logits"] = _median(path.stat().st_size / count for path, count in logits_files)
    devices = sorted({str(m.get("device", "?")) for m in metrics.values()})
    threads = sorted({int(m.get("threads", 1)) for m in metrics.values()})
    timings = Timings(
        source=f"{len(metrics)} finished trainings in {results} (median over {len(epochs)} epochs)",
        device=",".join(devices),
        threads=threads[-1],
        epoch_seconds=epoch,
        train_overhead_seconds=overhead,
        logits_model_seconds=logits_model,
        logits_overhead_seconds=logits_overhead,
        weights_bytes=sizes.get("train"),
        per_model_bytes=sizes,
        other_seconds={rule: _median(values) for rule, values in other.items()},
        notes=notes,
    )
    return timings, ignored


def stacked_bytes_per_model(shadows: Path, pool_and_queries: tuple[int, int]) -> float | None:
    """Bytes the shadows step's files (every .npy under `shadows`) hold per model, where its
    info.json says they are of this pool size and number of queries; else None."""
    try:
        info = json.loads((shadows / "info.json").read_text())
        if (info["pool_size"], info["queries"]) != tuple(pool_and_queries) or info["models"] < 1:
            return None
        return sum(path.stat().st_size for path in shadows.glob("*.npy")) / info["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def calibrate(arguments: list[str], save: Path) -> Timings:
    """Run lira.tools.calibrate in its own process (it imports torch) and keep its result in `save`."""
    process = subprocess.run([sys.executable, "-m", "lira.tools.calibrate", *arguments], capture_output=True, text=True)
    if process.returncode != 0:
        raise RuntimeError(f"calibration failed:\n{process.stderr[-3000:]}")
    measured = json.loads(process.stdout.strip().splitlines()[-1])
    save.parent.mkdir(parents=True, exist_ok=True)
    save.write_text(json.dumps(measured, indent=2) + "\n")
    return timings_from_calibration(measured, f"a calibration run on this machine, saved to {save}")


def timings_from_calibration(measured: dict, source: str) -> Timings:
    return Timings(
        source=source,
        device=measured["device"],
        threads=measured["threads"],
        epoch_seconds=measured["epoch_seconds"],
        train_overhead_seconds=measured["startup_seconds"],
        logits_model_seconds=measured["logits_compute_seconds"],
        logits_overhead_seconds=measured["startup_seconds"],
        weights_bytes=measured["weights_bytes"],
        notes=[
            f"seconds per epoch = {measured['steps']} timed training steps of batch {measured['batch_size']}, "
            f"after {measured['warmup_steps']} untimed, times {measured['steps_per_epoch']} steps per epoch",
            "job start-up (process, torch import, building the model) as measured by the calibration; "
            "loading the real pool and saving are not included",
        ],
    )


# --- the estimate --------------------------------------------------------------------------------


def per_model_bytes(config: dict, timings: Timings) -> dict[str, float]:
    """Bytes each model adds, by the rule that writes them (measured where there are files):
    weights (train), logits, and its rows of the stacked statistics and keep masks (shadows)."""
    pool = config["data"]["pool_size"]
    queries = query_count(config)
    classes = input_layout(config["data"]["dataset"], config["data"].get("file"))[1]
    sizes = {
        "train": timings.weights_bytes or 0.0,
        "logits": 128 + 4.0 * pool * queries * classes,
        "shadows": len(STACKED_STATISTICS) * 4.0 * pool * queries + pool,
    }
    sizes.update(timings.per_model_bytes)
    return sizes


def pool_bytes(config: dict) -> float:
    data = config["data"]
    shape, _ = input_layout(data["dataset"], data.get("file"))
    return (data["pool_size"] + data["holdout_size"]) * (math.prod(shape) + 8)


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError


def human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def models_per_block(config: dict) -> float:
    """The mean number of models in a block (a train or logits job)."""
    n_models = config["shadow_models"]
    return n_models / math.ceil(n_models / config.get("models_per_job", 1))


@dataclass
class Estimate:
    train_job_seconds: float
    logits_job_seconds: float
    device_hours: dict[str, float]  # train, logits
    other_hours: dict[str, float]  # other rules with a benchmark
    disk_bytes_to_write: float
    disk_bytes_total: float


def estimate(config: dict, everything: dict[str, int], pending: dict[str, int], timings: Timings) -> Estimate:
    epochs = config["train"]["epochs"]
    models = models_per_block(config)
    train_job = timings.train_overhead_seconds + models * epochs * timings.epoch_seconds
    logits_job = timings.logits_overhead_seconds + models * timings.logits_model_seconds
    hours = {
        "train": pending.get("train", 0) * train_job / 3600,
        "logits": pending.get("logits", 0) * logits_job / 3600,
    }
    other = {
        rule: pending.get(rule, 0) * seconds / 3600
        for rule, seconds in timings.other_seconds.items()
        if pending.get(rule)
    }
    sizes = per_model_bytes(config, timings)

    def disk(jobs: dict[str, int], pool: bool) -> float:
        # The shadows job (one) rewrites every model's rows of the stacks.
        blocks = sum(jobs.get(rule, 0) * models * sizes[rule] for rule in PER_BLOCK)
        stacks = config["shadow_models"] * sizes["shadows"] if jobs.get("shadows") else 0.0
        return blocks + stacks + (pool_bytes(config) if pool else 0.0)

    to_write = disk(pending, bool(pending.get("pool")))
    total = disk(everything, True)
    return Estimate(train_job, logits_job, hours, other, to_write, total)


def report(
    config: dict, configfiles: list[Path], everything: dict, pending: dict, timings: Timings | None, devices: int
) -> str:
    data, model, train = config["data"], config["model"], config["train"]
    queries = query_count(config)
    arch = (
        f"WRN-{model.get('depth', 28)}-{model['width']}"
        if model["arch"] == "wrn"
        else f"{model['arch']} (width {model['width']})"
    )
    lines = [
        f"Plan for experiment {config['experiment']} ({', '.join(map(str, configfiles)) or 'config.yaml'}): "
        f"{config['shadow_models']} shadow models, {arch}, {train['epochs']} epochs on {data['pool_size'] // 2} "
        f"{data['dataset']} images each, {queries} queries",
        "",
        f"{'rule':<22}{'all':>7}{'done':>7}{'to run':>8}",
    ]
    for rule, count in everything.items():
        left = pending.get(rule, 0)
        lines.append(f"{rule:<22}{count:>7}{count - left:>7}{left:>8}")
    lines.append(
        f"{'total':<22}{sum(everything.values()):>7}{sum(everything.values()) - sum(pending.values()):>7}{sum(pending.values()):>8}"
    )
    lines.append("")
    if timings is None:
        lines.append("No timings: no finished training, no calibration (see --calibrate); no estimate of hours.")
        return "\n".join(lines)
    result = estimate(config, everything, pending, timings)
    kind = "GPU" if timings.device.startswith("cuda") else "CPU"
    device_hours = sum(result.device_hours.values())
    lines += [
        f"Timings: {timings.source}; measured on {timings.device}, {timings.threads} thread(s) per job.",
        f"  one epoch {human_seconds(timings.epoch_seconds)}; a job of {models_per_block(config):g} model(s): "
        f"train {human_seconds(result.train_job_seconds)} ({human_seconds(timings.train_overhead_seconds)} of it "
        f"outside the epochs), logits {human_seconds(result.logits_job_seconds)}",
        "",
        "Estimate of what is left to run:",
        f"  train   {pending.get('train', 0):>5} jobs x {human_seconds(result.train_job_seconds):>9} = "
        f"{result.device_hours['train']:10.2f} {kind}-hours",
        f"  logits  {pending.get('logits', 0):>5} jobs x {human_seconds(result.logits_job_seconds):>9} = "
        f"{result.device_hours['logits']:10.2f} {kind}-hours",
        f"  total {device_hours:.2f} {kind}-hours: about {human_seconds(3600 * device_hours / devices)} of wall time "
        f"on {devices} device(s) running one job each",
    ]
    if result.other_hours:
        other = ", ".join(f"{rule} {hours * 60:.1f} min" for rule, hours in sorted(result.other_hours.items()))
        lines.append(f"  other rules (CPU, from their benchmarks): {other}")
    lines += [
        f"  disk: {human_bytes(result.disk_bytes_to_write)} to write, {human_bytes(result.disk_bytes_total)} for the "
        f"pool and every model's weights, logits and stacked statistics",
        "",
        "Cluster requests (compute.runtime_minutes per model x the models of a job, first try): "
        + ", ".join(
            f"{rule} {requested:g} min for an estimated {human_seconds(seconds)}"
            + ("  <-- too short" if seconds > 60 * requested else "")
            for rule, seconds in (("train", result.train_job_seconds), ("logits", result.logits_job_seconds))
            for requested in [config["compute"]["runtime_minutes"][rule] * models_per_block(config)]
        ),
        "",
        "Assumptions:",
        f"  - the jobs run on devices like the one measured ({timings.device}); "
        + (
            f"the config asks for {config['compute']['device']}: measure on such a node for its GPU-hours"
            if kind == "CPU" and config["compute"]["device"] != "cpu"
            else "a job has its device to itself"
        ),
        "  - every epoch costs the same; jobs running at once do not slow each other down",
        f"  - sizes: weights {human_bytes(per_model_bytes(config, timings)['train'])} per model"
        + (" (measured)" if "train" in timings.per_model_bytes else " (parameters and buffers, float32)")
        + "; logits float32 [pool, queries, classes]; stacked statistics "
        + (
            "as a finished shadows step's files hold per model"
            if "shadows" in timings.per_model_bytes
            else f"{len(STACKED_STATISTICS)} float32 [pool, queries] and a keep mask [pool]"
        )
        + " (shadows/); not counted: the fit, attacks and metrics after them, which do not grow with the models",
        "  - checkpoints (deleted when a training ends) need up to twice the weights per running training",
        *(f"  - {note}" for note in timings.notes),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lira.tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", type=Path, action="append", default=[], help="as for snakemake (repeatable)")
    parser.add_argument("--directory", type=Path, default=Path("."), help="the workflow's working directory")
    parser.add_argument("--snakefile", type=Path, default=REPO / "Snakefile")
    parser.add_argument(
        "--snakemake", default=str(Path(sys.executable).parent / "snakemake"), help="the snakemake command"
    )
    parser.add_argument("--devices", type=int, default=1, help="devices running jobs at once, for the wall time")
    parser.add_argument("--calibrate", action="store_true", help="measure on this machine even if timings exist")
    parser.add_argument("--no-calibrate", action="store_true", help="never run a calibration")
    parser.add_argument("--calibration-steps", type=int, default=10, help="timed training steps of a calibration")
    parser.add_argument(
        "--target", choices=["all", "paper"], default="all", help="paper: this experiment and every study of paper.studies"
    )
    args = parser.parse_args(argv)

    configfiles = args.configfile
    config = load_config(args.directory, configfiles)
    command = [args.snakemake, "--snakefile", str(args.snakefile), "--directory", str(args.directory), "--cores", "1"]
    for path in configfiles:
        command += ["--configfile", str(path)]
    if args.target == "paper":
        command.insert(1, "paper")  # before the options: --configfile takes every word after it
    everything, pending = job_counts(command)
    if args.target == "paper":
        print(plan_paper(args, config, configfiles, everything, pending))
        return 0
    if "grid" in config:
        print(plan_grid(args, config, everything, pending))
        return 0
    print(plan_experiment(args, config, configfiles, everything, pending))
    return 0


def plan_experiment(args, config: dict, configfiles: list[Path], everything: dict, pending: dict) -> str:
    """The report of one experiment, its timings from past runs, a saved calibration or a new one."""
    results = args.directory / "results" / config["experiment"]
    saved = results / "benchmarks" / "calibration.json"
    timings, ignored = (None, []) if args.calibrate else from_past_runs(results, config)
    if timings is None and saved.exists() and not args.calibrate:
        timings = timings_from_calibration(json.loads(saved.read_text()), f"an earlier calibration, {saved}")
    if timings is None and not args.no_calibrate:
        print(f"Calibrating on this machine ({args.calibration_steps} training steps)...", file=sys.stderr)
        arguments = ["--directory", str(args.directory), "--steps", str(args.calibration_steps)]
        for path in configfiles:
            arguments += ["--configfile", str(path)]
        timings = calibrate(arguments, saved)
    if timings is not None:
        timings.notes[:0] = ignored
    return report(config, configfiles, everything, pending, timings, args.devices)


def plan_grid(args, config: dict, everything: dict, pending: dict) -> str:
    """A grid (lira.workflow.grids): each point planned as its own experiment (its jobs are the
    grid's jobs named <point>_<rule>; its timings its own, or a calibration of its config), and
    the device-hours of all of them together."""
    import tempfile

    import yaml

    from lira.workflow import grids

    sections, total = [], 0.0
    for point in grids.points(config):
        own = {rule[len(point.rule_prefix) :]: count for rule, count in everything.items() if rule.startswith(point.rule_prefix)}
        left = {rule[len(point.rule_prefix) :]: count for rule, count in pending.items() if rule.startswith(point.rule_prefix)}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(point.config, handle)  # the point's whole config, for a calibration of it
        text = plan_experiment(args, point.config, [Path(handle.name)], own, left)
        Path(handle.name).unlink()
        sections.append(f"== grid point {point.name} ==\n{text.replace(handle.name, 'its config')}")
        for line in text.splitlines():
            if line.strip().startswith("total ") and "-hours" in line:
                total += float(line.split()[1])
    grid_jobs = {rule: count for rule, count in pending.items() if not any(rule.startswith(p.rule_prefix) for p in grids.points(config))}
    sections.append(
        f"== the whole grid ({len(sections)} points) ==\n  about {total:.2f} device-hours left to run; about "
        f"{human_seconds(3600 * total / args.devices)} of wall time on {args.devices} device(s); jobs across "
        f"the points: {grid_jobs or 'none left'}"
    )
    return "\n\n".join(sections)


def _total_hours(text: str) -> float:
    """The device-hours of a plan's text: its `total` line(s) (an experiment) or its whole-grid line."""
    for line in text.splitlines():
        if line.startswith("  about ") and "device-hours left" in line:
            return float(line.split()[1])
    return sum(float(line.split()[1]) for line in text.splitlines() if line.strip().startswith("total ") and "-hours" in line)


def plan_paper(args, config: dict, configfiles: list[Path], everything: dict, pending: dict) -> str:
    """The `paper` target (rules/paper.smk): this experiment's jobs, then each study of
    paper.studies planned as it would be alone (its jobs are the target's jobs named
    <study>_<rule>), and the device-hours of all of them."""
    import os
    import tempfile

    import yaml

    from lira.workflow import studies
    from lira.workflow.config import load_schema

    here = Path.cwd()
    os.chdir(args.directory)  # studies are found as the workflow finds them, from its working directory
    try:
        found = studies.load(config["paper"]["studies"], args.snakefile.parent, load_schema(), config["experiment"])
    finally:
        os.chdir(here)

    def own(counts: dict, prefix: str) -> dict:
        return {rule[len(prefix) :]: n for rule, n in counts.items() if rule.startswith(prefix)}

    prefixes = [study.rule_prefix for study in found]
    mine = [{r: n for r, n in counts.items() if not any(r.startswith(p) for p in prefixes)} for counts in (everything, pending)]
    sections = [f"== this experiment, {config['experiment']} ==\n" + plan_experiment(args, config, configfiles, *mine)]
    for study in found:
        counts = own(everything, study.rule_prefix), own(pending, study.rule_prefix)
        if "grid" in study.config:
            text = plan_grid(args, study.config, *counts)
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
                yaml.safe_dump(study.config, handle)
            text = plan_experiment(args, study.config, [Path(handle.name)], *counts).replace(handle.name, study.path)
            Path(handle.name).unlink()
        sections.append(f"== study {study.name} ({study.path}) ==\n{text}")
    total = sum(_total_hours(text) for text in sections)
    sections.append(
        f"== the paper target ({len(found)} studies) ==\n  about {total:.2f} device-hours left to run for the models; "
        f"about {human_seconds(3600 * total / args.devices)} of wall time on {args.devices} device(s); the analysis "
        "jobs after the models (figures, attacks) are not counted"
    )
    return "\n\n".join(sections)


if __name__ == "__main__":
    sys.exit(main())
