"""Shared fixtures: tiny datasets in the real on-disk formats, and a runner for real snakemake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from formats import write_cifar10, write_fashion_mnist

from lira.tools.plan import parse_job_stats

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def tiny_config(data_directory: Path, **overrides) -> dict:
    """A complete config small enough to run end to end in well under a minute."""
    config = {
        "experiment": "tiny",
        "seed": 0,
        "data": {"dataset": "fashion_mnist", "directory": str(data_directory), "pool_size": 240, "holdout_size": 50},
        "shadow_models": 6,
        "models_per_job": 4,  # blocks 0-3 and 4-5: a full and a partial block
        "model": {"arch": "mlp", "width": 32},
        "train": {
            "epochs": 3,
            "batch_size": 32,
            "lr": 0.05,
            "momentum": 0.9,
            "weight_decay": 0.0005,
            "augment": {"mirror": True, "shift": 1, "padding": "reflect"},
        },
        "queries": {"mirror": True, "shift": 1, "stride": 1, "padding": "reflect"},
        "compute": {"device": "cpu", "threads": 1, "eval_batch_size": 256},
        "attack": {
            "targets": 4,
            "statistic": "logit_scaled_confidence",
            "offline_test": "one-sided",
            "centre": "mean",
            "rmia": {"population_size": 100, "gamma": 1.0, "offline_a": 0.3},
        },
        "evaluate": {"fprs": [0.00001, 0.001, 0.01, 0.1], "bootstrap": 20, "shadow_count_repeats": 2},
    }
    for dotted, value in overrides.items():
        section = config
        *parents, last = dotted.split(".")
        for key in parents:
            section = section[key]
        section[last] = value
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, configfile: Path | None = None, check: bool = True):
    """Run the real workflow in `workdir` (which holds its config.yaml); returns the process."""
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2"]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    process = subprocess.run([*command, *args], capture_output=True, text=True, timeout=900)
    if check and process.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{process.stdout[-4000:]}\n{process.stderr[-8000:]}")
    return process


def planned_jobs(process) -> dict[str, int]:
    """Job counts per rule from a dry run's "Job stats" table ({} when nothing is to be done)."""
    return parse_job_stats(process.stdout + process.stderr)


@pytest.fixture(scope="session")
def fashion_mnist_dir(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion-mnist"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, fashion_mnist_dir):
    """The tiny config run end to end once per session: (workdir, config). Tests may plan dry runs
    and write files beside it, but must not change its results (copy the folder to tamper)."""
    workdir = tmp_path_factory.mktemp("workflow")
    config = tiny_config(fashion_mnist_dir)
    write_config(workdir / "config.yaml", config)
    snakemake(workdir)
    return workdir, config


@pytest.fixture(scope="session")
def cifar10_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, style="python2", sizes=(20, 20, 20, 20, 20, 30))
    return root


@pytest.fixture
def one_torch_thread():
    """Torch on one thread during the test, as a workflow job runs it (compute.threads: 1), restored
    after. torch is imported here, not at the top: the analysis tests run without it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
