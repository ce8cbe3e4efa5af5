"""The GPU check (issue 16): one bounded run that answers what the workflow does on a GPU.

    bash benchmarks/gpu_check.sh                          # on a machine with a CUDA GPU (< 8 min)
    bash benchmarks/gpu_check.sh --device cpu --quick     # the same code on a CPU, tiny sizes

Four parts, each printed as it ends and written to one CSV (--csv; section, case, metric, value,
as benchmarks/results.csv), rewritten after every part so that a killed run keeps what it had:

- equivalence: the tiny test config (tests/conftest.py tiny_config; the default model in the full
  run) end to end through real Snakemake twice, compute.device cpu, then compute.device cuda
  through profiles/gpu, and the two result folders compared (compare_results): the pool, the
  membership masks and the queries exactly; every model's logits as the GPU computed them against
  the same weights queried on the CPU (rtol LOGITS_RTOL); every attack's AUC and TPRs within
  bootstrap noise (METRIC_Z). With --device cpu both runs are on the CPU: a self-test of the
  plumbing, where everything must be equal.
- throughput: WRN-28-2 (the paper's CIFAR model) training steps on synthetic CIFAR-shaped data
  (batch 256, 3x32x32, 10 classes), channels_last, float32 and bf16 autocast, with and without
  torch.compile: images/s, and the achieved FLOP/s (torch.utils.flop_counter, forward + backward)
  as a fraction of the matrix-multiply rate measured on the same device (float32, TF32, bf16).
- packing: K shadow models training at once on one device, K processes sharing it (what K
  workflow jobs on one GPU would do), for K in PACKING_K: aggregate images/s and models per hour,
  for the default model (patch_cnn 64/4, Fashion-MNIST shape) and WRN-28-2.
- calibration: lira.tools.calibrate's measurement of config.yaml's and config/cifar10.yaml's
  models on this device, saved where `python -m lira.tools.plan` reads a calibration
  (--out/calibration-<experiment>.json; copy it to results/<experiment>/benchmarks/calibration.json),
  with the GPU-hours plan then estimates, and the physical limit at the measured bf16 rate.

Bounded in time like the benchmark suite (benchmarks.budget, --budget-minutes, default 7): each
part a share of what is left, each case a share of its part's, every worker process killed at its
deadline; what does not fit is reported as skipped, with the reason, never as a number. Without
CUDA (and --device cuda, the default) every part is skipped in one line. No network is needed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .budget import Deadline, DoesNotFit, Section, run_sections
from .run import write_csv

REPO = Path(__file__).resolve().parents[1]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# Logits of the same weights on a GPU and on the CPU: cuDNN's convolutions run in TF32 by default
# (torch.backends.cudnn.allow_tf32), 10 bits of mantissa, about 1e-3 relative per product, and
# sums in another order; float32 alone would agree to about 1e-6. So: within 1e-3 of the logits'
# scale (their largest magnitude), a bound TF32 meets and a wrong kernel, layout or
# normalisation does not.
LOGITS_RTOL = 1e-3
# Metrics of two runs whose models saw their data in another random order (torch's CPU and CUDA
# generators differ, so the two runs train different models from the same initial weights): equal
# only up to noise. A metric agrees when the two values differ by at most METRIC_Z standard errors
# of their difference, each standard error read from its 95 % bootstrap interval (width / 3.92).
# 4 rather than 1.96: about 25 metrics are compared, and a false alarm should stay rare (a
# two-sided 4-sigma event has probability 6e-5; 25 of them 0.2 %).
METRIC_Z = 4.0
METRICS = ("auc", "tpr@0.1%", "tpr@1%")
PACKING_K = (1, 2, 4, 8, 16)
QUICK_PACKING_K = (1, 2)
MIN_CASE_SECONDS = 3.0  # a case offered less is skipped


# --- the equivalence check ------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"  {'pass' if self.passed else 'FAIL'}: {self.name}: {self.detail}"


def _exact(name: str, a, b) -> Check:
    equal = np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
    return Check(name, bool(equal), "identical" if equal else "differ (must be identical: no device takes part)")


def compare_logits(name: str, reference: np.ndarray, other: np.ndarray, rtol: float = LOGITS_RTOL) -> Check:
    """Two logit arrays of the same models, [models, pool, queries, classes]: equal within rtol of
    the reference's largest magnitude."""
    if reference.shape != other.shape:
        return Check(name, False, f"shapes differ: {reference.shape} vs {other.shape}")
    scale = float(np.max(np.abs(reference))) or 1.0
    worst = float(np.max(np.abs(reference.astype(np.float64) - other))) / scale
    return Check(
        name, worst <= rtol, f"max |difference| {worst:.1e} of the logits' scale {scale:.3g} (tolerance {rtol:g})"
    )


def _standard_error(interval) -> float | None:
    if interval is None or None in interval:
        return None
    return (interval[1] - interval[0]) / (2 * 1.959964)


def compare_metric(attack: str, metric: str, a: dict, b: dict, z: float = METRIC_Z) -> Check | None:
    """One metric of one attack in two metrics/<attack>.json: within z standard errors of the
    difference (from each run's bootstrap interval); None where either run cannot measure it."""
    value_a, value_b = a["pooled"].get(metric), b["pooled"].get(metric)
    if value_a is None or value_b is None:
        return None
    name = f"{attack} {metric}"
    errors = [_standard_error(run.get("bootstrap_95", {}).get(metric)) for run in (a, b)]
    if None in errors:
        return _exact(name, value_a, value_b)  # no interval: no noise to allow for
    allowed = z * math.hypot(*errors)
    difference = abs(value_a - value_b)
    return Check(
        name,
        difference <= allowed,
        f"{value_a:.4f} vs {value_b:.4f}: |difference| {difference:.4f}, allowed {allowed:.4f} ({z:g} standard errors)",
    )


def compare_results(
    reference: Path, other: Path, recomputed_logits: Path | None = None, z: float = METRIC_Z
) -> list[Check]:
    """Compare two result folders (results/<experiment>) of the same config run on two devices.
    reference: the CPU run; other: the run under test. recomputed_logits: a folder of logits
    <block>.npy of `other`'s weights computed on the CPU (against which `other`'s logits must agree
    within LOGITS_RTOL); without it, the logits are not compared (their models differ)."""
    checks = []
    for name in ("pool.npz",):
        with np.load(reference / name) as a, np.load(other / name) as b:
            checks.append(
                _exact(
                    f"{name} ({', '.join(sorted(a.files))})",
                    {k: a[k].tobytes() for k in a.files},
                    {k: b[k].tobytes() for k in b.files},
                )
            )
    checks.append(
        _exact(
            "shadows/keep.npy (membership)",
            np.load(reference / "shadows" / "keep.npy"),
            np.load(other / "shadows" / "keep.npy"),
        )
    )
    checks.append(
        _exact(
            "queries.json",
            json.loads((reference / "queries.json").read_text()),
            json.loads((other / "queries.json").read_text()),
        )
    )
    blocks = sorted(path.name for path in (reference / "logits").glob("*.npy"))
    found = sorted(path.name for path in (other / "logits").glob("*.npy"))
    checks.append(_exact("logits blocks", blocks, found))
    if recomputed_logits is not None:
        for block in found:
            checks.append(
                compare_logits(
                    f"logits/{block}: device vs CPU, same weights",
                    np.load(recomputed_logits / block),
                    np.load(other / "logits" / block),
                )
            )
    for path in sorted((reference / "metrics").glob("*.json")):
        twin = other / "metrics" / path.name
        if not twin.exists():
            checks.append(Check(f"metrics/{path.name}", False, f"missing in {other}"))
            continue
        a, b = json.loads(path.read_text()), json.loads(twin.read_text())
        checks += filter(None, (compare_metric(path.stem, metric, a, b, z) for metric in METRICS))
    return checks


def check_records(checks: list[Check]) -> list[tuple]:
    records = [("equivalence", check.name, "passed", int(check.passed)) for check in checks]
    records += [("equivalence", check.name, "detail", check.detail) for check in checks]
    records.append(("equivalence", "all", "passed", int(all(check.passed for check in checks))))
    return records


def equivalence_config(data_directory: Path, quick: bool, device: str) -> dict:
    """tests/conftest.py's tiny config; in the full run with the default model (config.yaml's
    patch_cnn), whose convolutions go through cuDNN."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import tiny_config

    from lira.workflow.config import load_config

    config = tiny_config(data_directory)
    if not quick:
        config["model"] = load_config(REPO, [])["model"]
    config["compute"]["device"] = device
    return config


def dataset(work: Path) -> tuple[Path, str]:
    """Debian's Fashion-MNIST if it is there, else random images in its format (tests/formats.py)."""
    if (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        return FASHION_MNIST, f"Fashion-MNIST from {FASHION_MNIST}"
    sys.path.insert(0, str(REPO / "tests"))
    from formats import write_fashion_mnist

    return write_fashion_mnist(
        work / "fashion-mnist"
    ), "random images and labels in Fashion-MNIST's format (tests/formats.py)"


def run_snakemake(workdir: Path, config: dict, profile: bool, deadline: Deadline, cores: int) -> float:
    """The workflow on `config` in `workdir` (real Snakemake, this Python's); its wall seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
    ]
    if profile:
        command += ["--workflow-profile", str(REPO / "profiles" / "gpu"), "--resources", "gpu=1"]
    start = time.perf_counter()
    try:
        process = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=max(1.0, deadline.left()), env=_env()
        )
    except subprocess.TimeoutExpired:
        raise DoesNotFit(f"snakemake killed at the part's deadline ({deadline.left():.0f} s left)") from None
    if process.returncode:
        (workdir / "snakemake.log").write_text(process.stdout + process.stderr)
        raise RuntimeError(
            f"snakemake failed in {workdir} (compute.device {config['compute']['device']}):\n{process.stderr[-3000:]}"
        )
    return time.perf_counter() - start


def recompute_logits_on_cpu(results: Path, config: dict, into: Path) -> Path:
    """Each block's weights of `results` queried on the CPU, as the logits job does
    (lira.models.jobs.query_block): into/<block>.npy."""
    import logging

    from lira.models.jobs import query_block

    into.mkdir(parents=True, exist_ok=True)
    for weights in sorted((results / "models").glob("*.pt")):
        block = weights.stem
        query_block(
            results / "pool.npz", weights, results / "models" / f"{block}.json", into / f"{block}.npy", into / f"{block}.json",
            block=block, seed=config["seed"], model_spec=config["model"], query_settings=config["queries"],
            compute={**config["compute"], "device": "cpu"}, threads=1, log=logging.getLogger("gpu_check"),
        )  # fmt: skip
    return into


def equivalence(args, deadline: Deadline, work: Path, report=print) -> list:
    data, described = dataset(work)
    report(f"data: {described}; the tiny config{'' if args.quick else ' with the default model'}; cores {args.cores}")
    reference = equivalence_config(data, args.quick, "cpu")
    other = equivalence_config(data, args.quick, args.device)
    records = []
    try:
        seconds = run_snakemake(work / "cpu", reference, False, deadline.share(0.5), args.cores)
        report(f"  compute.device cpu: {seconds:.0f} s")
        records.append(("equivalence", "run compute.device cpu", "seconds", seconds))
        seconds = run_snakemake(work / "device", other, True, deadline.share(0.9), args.cores)
        report(f"  compute.device {args.device} through profiles/gpu: {seconds:.0f} s")
        records.append(("equivalence", f"run compute.device {args.device} (profiles/gpu)", "seconds", seconds))
    except DoesNotFit as reason:
        report(f"skipped: equivalence: {reason}")
        return records + [("equivalence", "all", "skipped", str(reason))]
    results_cpu, results_device = (work / name / "results" / reference["experiment"] for name in ("cpu", "device"))
    recomputed = recompute_logits_on_cpu(results_device, other, work / "recomputed")
    checks = compare_results(results_cpu, results_device, recomputed)
    for check in checks:
        report(check.line())
    passed = sum(check.passed for check in checks)
    report(
        f"  {passed} of {len(checks)} checks pass (logits rtol {LOGITS_RTOL:g}; metrics within {METRIC_Z:g} standard errors)"
    )
    return records + check_records(checks)


# --- measurements in worker processes ---------------------------------------------------------


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), str(REPO), env.get("PYTHONPATH")]))
    return env


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rates(device_name: str, quick: bool) -> dict:
    """Best TFLOP/s of square matrix products on the device: float32 (TF32 off), tf32 (on CUDA),
    bfloat16; the best of the sizes SIZES, each the best of 5 after a warm-up."""
    import torch

    device = torch.device(device_name)
    sizes = (256,) if quick else (4096, 8192)
    rates = {}
    kinds = [("float32", torch.float32, False), ("bfloat16", torch.bfloat16, False)]
    if device.type == "cuda":
        kinds.insert(1, ("tf32", torch.float32, True))
    for name, dtype, tf32 in kinds:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        best = 0.0
        for size in sizes:
            a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
            torch.mm(a, b)
            _synchronize(device)
            for _ in range(5):
                start = time.perf_counter()
                torch.mm(a, b)
                _synchronize(device)
                best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e12)
        rates[name] = best
    torch.backends.cuda.matmul.allow_tf32 = False  # torch's default
    return rates


def model_case(name: str, quick: bool) -> dict:
    """The model spec, input shape, recipe and examples per model (train examples x epochs) of
    `name`: default (config.yaml) or wrn (config/cifar10.yaml); tiny versions in quick mode."""
    from lira.workflow.config import load_config, pool_examples

    config = load_config(REPO, [REPO / "config" / "cifar10.yaml"] if name == "wrn" else [])
    shape = [3, 32, 32] if name == "wrn" else [1, 28, 28]
    model, recipe = config["model"], dict(config["train"])
    images_per_model = pool_examples(config) // 2 * recipe["epochs"]
    if quick and name == "wrn":
        model, recipe = {"arch": "wrn", "depth": 10, "width": 1}, {**recipe, "batch_size": 8}
    if quick and name == "default":
        recipe = {**recipe, "batch_size": 32}
    return {"name": name, "model": model, "in_shape": shape, "recipe": recipe, "images_per_model": images_per_model}


def _build(case: dict, device, precision: str, compiled: bool, steps: int, seed: int = 0):
    """A model of `case` on the device in its workflow memory format, and `steps` batches of
    random images and labels (uint8 images as the workflow's, on the device)."""
    import torch

    from lira.models.architectures import build_model, memory_format
    from lira.models.images import to_float_images

    torch.manual_seed(seed)
    shape = tuple(case["in_shape"])
    model = build_model(case["model"], shape, 10, [0.5] * shape[0], [0.25] * shape[0])
    model = model.to(device, memory_format=memory_format(case["model"]))
    recipe = {**case["recipe"], "precision": precision, "epochs": 1}

    def data(batches: int):
        rng = np.random.default_rng(seed)
        n = recipe["batch_size"] * batches
        images = to_float_images(rng.integers(0, 256, (n, *shape), dtype=np.uint8), device)
        return images, torch.from_numpy(rng.integers(0, 10, n)).to(device)

    return model, (torch.compile(model) if compiled else model), recipe, data


def _train_seconds(model, recipe, images, labels) -> float:
    from lira.models import training

    return training.train(model, images, labels, recipe, seed=0).epoch_seconds[0]  # ends in a sync (the loss)


def throughput_case(case: dict, device_name: str, precision: str, compiled: bool, steps: int, seconds: float) -> dict:
    """Training steps of `case` (lira.models.training.train, augmentation and all): a warm-up of 2
    steps (compilation, cuDNN's autotuning), 2 timed to plan, then up to `steps` timed, cut to
    what fits in `seconds`. FLOPs of a step counted on the uncompiled model."""
    import torch
    from torch.nn import functional as F
    from torch.utils.flop_counter import FlopCounterMode

    device = torch.device(device_name)
    torch.backends.cudnn.benchmark = True
    started = time.perf_counter()
    plain, model, recipe, data = _build(case, device, precision, compiled, steps)
    batch = recipe["batch_size"]
    images, labels = data(2)
    with (
        FlopCounterMode(display=False) as counter,
        torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"),
    ):
        F.cross_entropy(plain(images[:batch]), labels[:batch]).backward()
    plain.zero_grad(set_to_none=True)
    warm_up = _train_seconds(model, recipe, images, labels)
    step = _train_seconds(model, recipe, images, labels) / 2
    left = seconds - (time.perf_counter() - started)
    fitting = min(steps, int(0.8 * left / step))
    if fitting < 2:
        raise DoesNotFit(
            f"a step takes {step:.2f} s after a warm-up of {warm_up:.0f} s: no two fit in the {left:.0f} s left"
        )
    images, labels = data(fitting)
    step = _train_seconds(model, recipe, images, labels) / fitting
    flops = counter.get_total_flops()
    return {
        "batch": batch,
        "steps_timed": fitting,
        "ms_per_step": 1e3 * step,
        "images_per_second": batch / step,
        "mflop_per_image": flops / batch / 1e6,
        "tflops": flops / step / 1e12,
        "warm_up_seconds": warm_up,
    }


def packing_worker(case: dict, device_name: str, precision: str) -> None:
    """One of K processes sharing the device: warm up, say so (a JSON line with the seconds a step
    took alone-ish), wait for "go <steps>" on stdin, train that many steps, report start and end."""
    import torch

    device = torch.device(device_name)
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True
    _, model, recipe, data = _build(case, device, precision, False, 2, seed=os.getpid() % 1000)
    images, labels = data(2)
    _train_seconds(model, recipe, images, labels)
    step = _train_seconds(model, recipe, images, labels) / 2
    print(json.dumps({"ready": True, "step_seconds": step}), flush=True)
    command = sys.stdin.readline().split()
    if not command or command[0] != "go":
        return
    steps = int(command[1])
    images, labels = data(steps)
    _synchronize(device)
    start = time.time()
    _train_seconds(model, recipe, images, labels)
    print(json.dumps({"start": start, "end": time.time(), "images": steps * recipe["batch_size"]}), flush=True)


def pack(case: dict, device_name: str, precision: str, k: int, steps: int, deadline: Deadline) -> dict:
    """K processes training a model of `case` each on the device at once, released together once
    all are warm (a barrier on their stdin): aggregate images/s over the span from the first start
    to the last end, and models per hour at the case's images per model. Each trains at most
    `steps` steps, fewer where K x steps at the slowest warm-up step would overrun the deadline
    (as if sharing gained nothing). Usable on a CPU with small K and steps."""
    command = [sys.executable, "-m", "benchmarks.gpu_check", "pack-worker", json.dumps(case), device_name, precision]
    workers = [
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=_env(),
        )
        for _ in range(k)
    ]

    def read(process) -> dict:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"packing worker failed:\n{process.stderr.read()[-3000:]}")
        return json.loads(line)

    try:
        ready = _with_deadline(lambda: [read(process) for process in workers], deadline, "warming up")
        alone = max(item["step_seconds"] for item in ready)
        fitting = min(steps, int(0.7 * deadline.left() / (k * alone)))
        if fitting < 1:
            raise DoesNotFit(
                f"{k} models of a step of {alone:.2f} s each do not fit in the {deadline.left():.0f} s left"
            )
        for process in workers:
            process.stdin.write(f"go {fitting}\n")
            process.stdin.flush()
        done = _with_deadline(lambda: [read(process) for process in workers], deadline, "training")
    finally:
        for process in workers:
            process.kill()
            process.communicate()
    span = max(item["end"] for item in done) - min(item["start"] for item in done)
    images = sum(item["images"] for item in done)
    rate = images / span
    return {
        "k": k,
        "steps_per_model": fitting,
        "seconds": span,
        "images_per_second": rate,
        "models_per_hour": 3600 * rate / case["images_per_model"],
        "step_seconds_alone": alone,
    }


def _with_deadline(work, deadline: Deadline, doing: str):
    """work() in a thread, or DoesNotFit once the deadline passes (the caller kills the workers)."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(work)
    try:
        return future.result(timeout=max(0.0, deadline.left()))
    except concurrent.futures.TimeoutError:
        raise DoesNotFit(f"killed at its deadline while {doing}") from None
    finally:
        pool.shutdown(wait=False)  # a thread still reading ends when the caller kills the workers


def _in_worker(job: str, arguments: dict, deadline: Deadline) -> dict:
    """A measurement in a fresh process (its own CUDA context, compilation caches), killed at the
    deadline: its result, or DoesNotFit."""
    command = [sys.executable, "-m", "benchmarks.gpu_check", "worker", job, json.dumps(arguments)]
    try:
        process = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            cwd=REPO,
            env=_env(),
            timeout=max(0.1, deadline.left()),
        )
    except subprocess.TimeoutExpired:
        raise DoesNotFit("killed at its deadline, unfinished") from None
    if process.returncode:
        lines = process.stderr.strip().splitlines()
        raise RuntimeError(f"{job} failed: {lines[-1] if lines else 'no message'}\n" + "\n".join(lines[-20:]))
    result = json.loads(process.stdout.strip().splitlines()[-1])
    if "skipped" in result:
        raise DoesNotFit(result["skipped"])
    return result


def run_worker(job: str, arguments: dict) -> dict:
    import torch

    torch.set_num_threads(1)  # on a CPU, the benchmark suite's setting; on a GPU the host only launches kernels
    try:
        if job == "matmul":
            return matmul_rates(arguments["device"], arguments["quick"])
        if job == "throughput":
            return throughput_case(**arguments)
    except DoesNotFit as reason:
        return {"skipped": str(reason)}
    raise ValueError(f"unknown job {job!r}")


# --- the parts --------------------------------------------------------------------------------


THROUGHPUT_CASES = [("float32", False), ("bfloat16", False), ("float32", True), ("bfloat16", True)]


def throughput(args, deadline: Deadline, state: dict, report=print) -> list:
    records = []
    try:
        rates = _in_worker("matmul", {"device": args.device, "quick": args.quick}, deadline.share(0.2))
    except DoesNotFit as reason:
        report(f"skipped: matmul rates: {reason}")
        return [("throughput", "matmul", "skipped", str(reason))]
    state["matmul_tflops"] = rates
    report(
        "matrix multiply (best square product): "
        + ", ".join(f"{name} {rate:.3g} TFLOP/s" for name, rate in rates.items())
    )
    records += [("throughput", "matmul", f"{name}_tflops", rate) for name, rate in rates.items()]
    case = model_case("wrn", args.quick)
    cases = [(p, c) for p, c in THROUGHPUT_CASES if not c or args.device != "cpu"]
    if len(cases) < len(THROUGHPUT_CASES):
        reason = "torch.compile not tried on the CPU (it takes about 23 s to compile even the tiny test MLP there: docs/performance.md)"
        report(f"skipped: torch.compile cases: {reason}")
        records.append(("throughput", "torch.compile", "skipped", reason))
    for index, (precision, compiled) in enumerate(cases):
        name = (
            f"WRN-28-2 {precision}{' compiled' if compiled else ''}"
            if not args.quick
            else f"WRN-10-1 (quick) {precision}"
        )
        share = deadline.share(1 / (len(cases) - index))
        try:
            if share.left() < MIN_CASE_SECONDS:
                raise DoesNotFit(f"the part's time is spent ({share.left():.0f} s left)")
            arguments = {"case": case, "device_name": args.device, "precision": precision, "compiled": compiled,
                         "steps": 4 if args.quick else 50, "seconds": 0.8 * share.left()}  # fmt: skip
            result = _in_worker("throughput", arguments, share)
        except (DoesNotFit, RuntimeError) as reason:
            first = str(reason).splitlines()[0]
            report(f"  {name}: skipped: {first}")
            records.append(("throughput", name, "skipped", first))
            continue
        for kind, rate in rates.items():
            result[f"fraction_of_{kind}_matmul"] = result["tflops"] / rate
        report(
            f"  {name}: {result['ms_per_step']:.1f} ms/step, {result['images_per_second']:,.0f} images/s, {result['tflops']:.3g} TFLOP/s = "
            + ", ".join(f"{100 * result[f'fraction_of_{kind}_matmul']:.1f} % of {kind}" for kind in rates)
            + (f" (warm-up with compilation {result['warm_up_seconds']:.0f} s)" if compiled else "")
        )
        records += [("throughput", name, key, value) for key, value in result.items()]
        state.setdefault("throughput", {})[(precision, compiled)] = result
    return records


def packing(args, deadline: Deadline, report=print) -> list:
    ks = QUICK_PACKING_K if args.quick else PACKING_K
    cases = [("wrn", "float32"), ("wrn", "bfloat16"), ("default", "float32")]
    records, jobs = [], [(name, precision, k) for name, precision in cases for k in ks]
    for index, (name, precision, k) in enumerate(jobs):
        case = model_case(name, args.quick)
        model = {"wrn": "WRN-10-1 (quick)" if args.quick else "WRN-28-2", "default": "patch_cnn 64/4"}[name]
        label = f"{model} {precision} K={k}"
        share = deadline.share(1 / (len(jobs) - index))
        try:
            if share.left() < MIN_CASE_SECONDS:
                raise DoesNotFit(f"the part's time is spent ({share.left():.0f} s left)")
            result = pack(case, args.device, precision, k, 5 if args.quick else 200, share)
        except (DoesNotFit, RuntimeError) as reason:
            first = str(reason).splitlines()[0]
            report(f"  {label}: skipped: {first}")
            records.append(("packing", label, "skipped", first))
            continue
        report(
            f"  {label}: {result['images_per_second']:,.0f} images/s together, {result['models_per_hour']:.3g} models/hour ({result['steps_per_model']} steps each)"
        )
        records += [("packing", label, key, value) for key, value in result.items()]
        records.append(("packing", label, "images_per_model", case["images_per_model"]))
    return records


def calibration(args, deadline: Deadline, state: dict, report=print) -> list:
    """lira.tools.calibrate on config.yaml and config/cifar10.yaml, compute.device set to the
    device; each saved as --out/calibration-<experiment>.json, and plan's estimate from it."""
    from lira.workflow.config import load_config

    records = []
    configs = [("default", []), ("cifar10", [REPO / "config" / "cifar10.yaml"])]
    for index, (label, files) in enumerate(configs):
        share = deadline.share(1 / (len(configs) - index))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as overlay:
            yaml.safe_dump({"compute": {"device": args.device}}, overlay)
        configfiles = [*files, Path(overlay.name)]
        config = load_config(REPO, configfiles)
        command = [
            sys.executable,
            "-m",
            "lira.tools.calibrate",
            "--directory",
            str(REPO),
            "--steps",
            "2" if args.quick else "20",
        ]
        for path in configfiles:
            command += ["--configfile", str(path)]
        try:
            if share.left() < MIN_CASE_SECONDS:
                raise DoesNotFit(f"the part's time is spent ({share.left():.0f} s left)")
            process = subprocess.run(
                command, check=False, capture_output=True, text=True, env=_env(), timeout=share.left()
            )
            if process.returncode:
                raise RuntimeError(process.stderr.strip().splitlines()[-1])
        except (DoesNotFit, RuntimeError) as reason:
            report(f"  {label}: skipped: {reason}")
            records.append(("calibration", label, "skipped", str(reason)))
            continue
        except subprocess.TimeoutExpired:
            report(f"  {label}: skipped: killed at its deadline")
            records.append(("calibration", label, "skipped", "killed at its deadline"))
            continue
        finally:
            Path(overlay.name).unlink()
        measured = json.loads(process.stdout.strip().splitlines()[-1])
        measured["measured_by"] = "benchmarks/gpu_check.py"
        path = write_calibration(args.out, config["experiment"], measured)
        hours = plan_hours(config, measured)
        report(
            f"  {label} ({config['experiment']}): epoch {measured['epoch_seconds']:.3g} s on {measured['device']}; "
            f"plan: {hours['train']:.3g} + {hours['logits']:.3g} = {hours['total']:.3g} {measured['device']}-hours for "
            f"{config['shadow_models']} models; saved {path}"
        )
        records += [("calibration", config["experiment"], key, value) for key, value in measured.items()]
        records += [("calibration", config["experiment"], f"plan_{key}_hours", value) for key, value in hours.items()]
        records.append(("calibration", config["experiment"], "file", str(path)))
        limit = physical_limit_hours(config, state)
        if limit is not None:
            report(
                f"  {label}: at the measured bf16 matmul rate, {limit['pflop']:.0f} PFLOP of training take {limit['hours']:.3g} h (the physical limit)"
            )
            records += [("calibration", config["experiment"], f"limit_{key}", value) for key, value in limit.items()]
    return records


def write_calibration(folder: Path, experiment: str, measured: dict) -> Path:
    """Save a calibration as lira.tools.plan saves one: copy it to
    results/<experiment>/benchmarks/calibration.json for plan to use it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"calibration-{experiment}.json"
    path.write_text(json.dumps(measured, indent=2) + "\n")
    return path


def plan_hours(config: dict, measured: dict) -> dict:
    """Device-hours of every train and logits job of `config`, as lira.tools.plan estimates them
    from the calibration `measured` (read back through its own reader)."""
    from lira.tools import plan

    timings = plan.timings_from_calibration(measured, "gpu_check")
    blocks = math.ceil(config["shadow_models"] / config.get("models_per_job", 1))
    jobs = {"train": blocks, "logits": blocks}
    result = plan.estimate(config, jobs, jobs, timings)
    return {
        "train": result.device_hours["train"],
        "logits": result.device_hours["logits"],
        "total": sum(result.device_hours.values()),
    }


def flops_per_image(model_spec: dict, in_shape: tuple) -> float:
    """Forward + backward FLOPs of one training image of the model (torch.utils.flop_counter, as
    benchmarks/training.py counts them; on the CPU, one image)."""
    import torch
    from torch.nn import functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from lira.models.architectures import build_model

    model = build_model(model_spec, in_shape, 10, [0.5] * in_shape[0], [0.25] * in_shape[0])
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(torch.rand(2, *in_shape)), torch.zeros(2, dtype=torch.long)).backward()
    return counter.get_total_flops() / 2


def physical_limit_hours(config: dict, state: dict) -> dict | None:
    """The training FLOPs of every model of `config` (forward + backward of every image of every
    epoch) at the measured bf16 matrix-multiply rate: the time no packing or precision can beat.
    Only for the WRN config (CIFAR-shaped images), once the bf16 rate is measured."""
    rates = state.get("matmul_tflops", {})
    if config["model"]["arch"] != "wrn" or "bfloat16" not in rates:
        return None
    from lira.workflow.config import pool_examples

    images = config["shadow_models"] * config["train"]["epochs"] * pool_examples(config) // 2
    pflop = images * flops_per_image(config["model"], (3, 32, 32)) / 1e15
    return {"pflop": pflop, "bf16_tflops": rates["bfloat16"], "hours": pflop * 1e15 / (rates["bfloat16"] * 1e12) / 3600}


# --- the driver --------------------------------------------------------------------------------


def no_cuda_reason(device: str) -> str | None:
    if device == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return None
    return f"no CUDA: torch {torch.__version__} sees no GPU (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/gpu_check.sh", description=" ".join(__doc__.split("\n\n")[0].split())
    )
    parser.add_argument(
        "--device", choices=["cuda", "cpu"], default="cuda", help="the device under test (cpu: a self-test)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the script")
    parser.add_argument("--csv", type=Path, default=REPO / "benchmarks" / "gpu_check.csv")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "gpu_check", help="folder for the calibration JSONs"
    )
    parser.add_argument("--budget-minutes", type=float, default=7.0)
    parser.add_argument(
        "--cores", type=int, default=min(os.cpu_count() or 2, 8), help="snakemake --cores of the equivalence runs"
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["equivalence", "throughput", "packing", "calibration"]
    )
    parser.add_argument(
        "--keep", type=Path, help="keep the equivalence runs' folders here (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    deadline = Deadline.after(60 * args.budget_minutes)
    started = time.perf_counter()

    import torch

    device = torch.cuda.get_device_name(0) if args.device == "cuda" and torch.cuda.is_available() else "cpu"
    print(
        f"# GPU check{' (quick)' if args.quick else ''}: device {args.device} ({device}); torch {torch.__version__}; budget {args.budget_minutes:g} min"
    )
    records = [("machine", "start", key, value) for key, value in
               {"device": device, "torch": torch.__version__, "cuda": torch.version.cuda, "cores": os.cpu_count(),
                "quick": int(args.quick), "budget_minutes": args.budget_minutes}.items()]  # fmt: skip
    no_cuda = no_cuda_reason(args.device)
    state: dict = {}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lira-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)

    def skip(name):
        return no_cuda or (f"--skip {name}" if name in args.skip else None)

    collected = list(records)

    def saving(name, run):  # the CSV after every part, so that a killed run keeps what it measured
        def wrapped(part_deadline):
            try:
                result = run(part_deadline)
            except Exception as error:  # noqa: BLE001 -- one part failing (a snakemake run, a worker) leaves the others to run
                traceback.print_exc()
                message = f"{type(error).__name__}: {str(error).strip()[:2000]}"
                print(f"FAILED: {message.splitlines()[0]}")
                result = [(name, "part", "failed", message)]
            collected.extend(result)
            write_csv(args.csv, collected)
            return result

        return wrapped

    sections = [
        Section("equivalence", f"Equivalence: the tiny config through Snakemake on cpu and on {args.device}", 0.35,
                saving("equivalence", lambda d: equivalence(args, d, work)), skip("equivalence")),
        Section("throughput", "Throughput: WRN-28-2 training steps, batch 256, CIFAR-shaped synthetic data", 0.3,
                saving("throughput", lambda d: throughput(args, d, state)), skip("throughput")),
        Section("packing", f"Packing: K models training at once on one {args.device}, K processes", 0.25,
                saving("packing", lambda d: packing(args, d)), skip("packing")),
        Section("calibration", "Calibration for lira.tools.plan: config.yaml and config/cifar10.yaml", 0.1,
                saving("calibration", lambda d: calibration(args, d, state)), skip("calibration")),
    ]  # fmt: skip
    records += run_sections(sections, deadline)
    seconds = time.perf_counter() - started
    records.append(("machine", "end", "seconds", seconds))
    write_csv(args.csv, records)
    print(f"\nGPU check took {seconds:.0f} s; every figure: {args.csv}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


def worker_main(argv: list[str]) -> int:
    if argv[0] == "pack-worker":
        packing_worker(json.loads(argv[1]), argv[2], argv[3])
    else:
        print(json.dumps(run_worker(argv[1], json.loads(argv[2]))))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("worker", "pack-worker"):
        sys.exit(worker_main(sys.argv[1:]))
    sys.exit(main())
