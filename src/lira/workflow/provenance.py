"""What an experiment's manifest records: the code (git commit, dirty tree), the software (package
versions), the machine, the seeds, and the wall time of every job. No torch import: its version is
read from the installed package's metadata.
"""

from __future__ import annotations

import csv
import datetime
import importlib.metadata
import platform
import subprocess
from pathlib import Path

from lira.core import splits
from lira.workflow import artifacts, files
from lira.workflow.config import config_hash

PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "seaborn", "torch", "torchvision", "snakemake", "jsonschema")


def git_state(directory) -> dict:
    """The commit checked out in `directory` and whether the tree differs from it (untracked files
    count); {"commit": None, "dirty": None, "error": why} outside a git work tree or without git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=60)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None, "error": head.stderr.strip().splitlines()[-1] if head.stderr.strip() else "not a git repository"}
        status = git("status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "dirty": None, "error": f"git not available ({error})"}
    changed = [line[3:] for line in status.stdout.splitlines()]
    return {"commit": head.stdout.strip(), "dirty": bool(changed), "changed_files": changed[:50]}


def package_versions(packages=PACKAGES) -> dict:
    """Python's version and each package's installed version (None when not installed)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict:
    return {"host": platform.node(), "platform": platform.platform(), "processor": platform.machine()}


def seeds(seed: int, n_models: int) -> dict:
    """The config's seed and what it decides: each model's split and initialisation seed."""
    return {
        "seed": seed,
        "split_design": splits.DESIGN,
        "model_seeds": [splits.model_seed(seed, index) for index in range(n_models)],
        "pool": f"numpy default_rng([{seed}, 0x9001])",
        "bootstrap_and_subsampling": seed,
    }


def job_wall_times(benchmarks: Path) -> dict[str, float]:
    """Seconds of wall time per job from Snakemake's benchmark files: benchmarks/<rule>.tsv or
    benchmarks/<rule>/<wildcard>.tsv -> {"<rule>" or "<rule>/<wildcard>": seconds}."""
    times = {}
    for path in sorted(Path(benchmarks).rglob("*.tsv")):
        with open(path) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if rows and rows[-1].get("s") not in (None, ""):
            times[path.relative_to(benchmarks).with_suffix("").as_posix()] = float(rows[-1]["s"])
    return times


def training_summary(model_metrics: list[dict]) -> dict:
    """Devices, threads, training seconds and accuracies of the models: on the pool's members
    (training set) and non-members, and on the test images (holdout, None without any)."""
    devices, threads = {}, {}
    for metrics in model_metrics:
        devices[metrics.get("device", "unknown")] = devices.get(metrics.get("device", "unknown"), 0) + 1
        threads[str(metrics.get("threads"))] = threads.get(str(metrics.get("threads")), 0) + 1
    return {
        "models": len(model_metrics),
        "devices": devices,
        "threads": threads,
        "train_seconds": {str(m["model"]): m.get("train_seconds") for m in model_metrics},
        "resumed_from_epoch": {str(m["model"]): m.get("resumed_from_epoch", 0) for m in model_metrics if m.get("resumed_from_epoch")},
        "mean_train_accuracy": _mean(m.get("train_accuracy") for m in model_metrics),
        "mean_nonmember_accuracy": _mean(m.get("nonmember_accuracy") for m in model_metrics),
        "mean_holdout_accuracy": _mean(m.get("holdout_accuracy") for m in model_metrics),
    }


def _mean(values):
    values = [value for value in values if value is not None]
    return sum(values) / len(values) if values else None


def write_manifest(pool_path, model_metrics, logits_infos, all_inputs, output_path, config: dict, repository, log) -> None:
    """The manifest job: provenance of everything in results/<experiment>/ -> manifest.json: the
    resolved config (defaults filled in) and its hash (which the tables and figures print), the
    pool-and-split fingerprint every artifact carries, the git commit of the workflow in
    `repository` and whether its tree was dirty, package versions, the device, threads and seconds
    of every training job with the models' accuracies (models/<block>.json and
    logits/<block>.json of every block), the seeds, every benchmarked job's wall time, and the
    outputs (every one of `all_inputs` but the pool and the blocks' files)."""
    fingerprint = artifacts.expected_fingerprint(pool_path, config["seed"])
    # Each block's metrics file lists its models' metrics, and its logits sidecar their accuracies on
    # the pool's members and non-members; the manifest lists every model's.
    models = []
    for metrics_path, logits_path in zip(model_metrics, logits_infos, strict=True):
        info = artifacts.load_json(logits_path, fingerprint)
        blocks = zip(artifacts.load_json(metrics_path, fingerprint)["models"], info["train_accuracy"], info["nonmember_accuracy"], strict=True)
        for metrics, train, nonmember in blocks:
            models.append({**metrics, "train_accuracy": train, "nonmember_accuracy": nonmember})
    results = Path(pool_path).parent
    code = git_state(repository)
    sources = {pool_path, *model_metrics, *logits_infos}
    outputs = sorted(str(Path(path).relative_to(results)) for path in all_inputs if path not in sources)
    manifest = {
        "experiment": config["experiment"],
        "config_hash": config_hash(config),
        "fingerprint": fingerprint,
        "config": config,
        "code": {"repository": str(repository), **code},
        "packages": package_versions(),
        "machine": machine(),
        "training": training_summary(models),
        "seeds": seeds(config["seed"], len(models)),
        "job_wall_seconds": job_wall_times(results / "benchmarks"),
        "outputs": outputs,
        "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    files.write_json(output_path, manifest)
    log.info(
        "manifest: config %s, fingerprint %s, commit %s%s, devices %s",
        manifest["config_hash"],
        fingerprint,
        code["commit"],
        " (dirty)" if code["dirty"] else "",
        manifest["training"]["devices"],
    )
