"""Training efficiency: the FLOP/s a training step achieves, against the matrix-multiply FLOP/s
this machine reaches in the same process, same dtype, same thread count.

A training step is lira.models.training.train's inner loop as the workflow runs it (data resident in
memory as one tensor, augmentation on the tensor, SGD with Nesterov momentum, cosine schedule),
timed over whole epochs of synthetic images of the right shape; the first epoch is a warm-up.
Its FLOPs are counted with torch.utils.flop_counter.FlopCounterMode over one forward and backward
pass of the same model and batch. The matrix-multiply rate is the best of a few square products.

Cases (each a row of the table):
- the default model (config.yaml: patch_cnn, width 64, patch 4, 1x28x28, batch 128), one
  thread: as the workflow runs it (NCHW, float32); the same in channels_last; under
  bf16 autocast; on two threads in one process, and two one-thread processes side by side (what
  `--cores 2` with `compute.threads: 1` does);
- the previous default, `cnn` of width 8 (8- and 16-channel convolutions with max-pools), as the
  workflow would run it; with the ReLU before the max-pool (its order before a change in
  lira.models.architectures.cnn); eight copies stacked into one batched model (grouped convolutions);
- the paper's WRN-28-2 (config/cifar10.yaml: 3x32x32, batch 256), a few steps, float32 and bf16.

Every worker is a fresh process (`python -m benchmarks.training worker ...`) that sets its thread
count before any work and reports each case as one JSON line as soon as it is done.

Bounded in time (benchmarks.budget): each case gets a share of its worker's deadline; a matrix size
or a training schedule is cut down to what that share allows (on a fast machine, never), or the case
is skipped with the reason; the driver kills a worker that overruns. Before any of it, a probe
(bf16_probe) decides whether the bfloat16 cases run in hardware; emulated, they are skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lira.workflow.config import load_config

from .budget import NO_DEADLINE, Deadline, DoesNotFit, best_time, fit_steps, repetitions

REPO = Path(__file__).resolve().parents[1]


def default_cases(quick: bool = False) -> dict:
    """The model specs, input shapes, recipes and sizes of the benchmark, from the configs."""
    default = load_config(REPO, [])  # what Snakemake sees, with the schema's defaults
    cifar = load_config(REPO, [REPO / "config" / "cifar10.yaml"])
    model = {
        "model": default["model"],
        "in_shape": [1, 28, 28],
        "recipe": default["train"],
        "steps_per_epoch": 4 if quick else 10,
        "epochs": 2 if quick else 4,
    }
    cnn8 = {**model, "model": {"arch": "cnn", "width": 8}}
    wrn = {
        "model": {"arch": "wrn", "depth": 10, "width": 1} if quick else cifar["model"],
        "in_shape": [3, 32, 32],
        "recipe": {**cifar["train"], "batch_size": 8} if quick else cifar["train"],
        "steps_per_epoch": 1 if quick else 2,
        "epochs": 2,
    }
    return {"default": model, "cnn8": cnn8, "wrn": wrn}


# --- inside a worker process ---------------------------------------------------------------------


def matmul_gflops(dtype_name: str, size: int, repeats: int = 5, seconds: float = math.inf) -> float:
    """Best rate of size^3 matrix products (2 size^3 FLOPs each) in dtype: up to `repeats` timed
    products after a warm-up, as many as fit in `seconds`."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    return 2 * size**3 / best_time(lambda: torch.mm(a, b), repeats, seconds) / 1e9


def matmul_by_size(dtype_name: str, sizes: tuple[int, ...], seconds: float = math.inf) -> dict:
    """matmul_gflops at each size, smallest first, within `seconds` in all. A size runs only if a
    warm-up and one timed product, at the rate of the size before, fit in its share of the time
    left; otherwise it and every larger size are skipped, with the reason."""
    deadline = Deadline.after(seconds)
    by_size, skipped = {}, {}
    for index, size in enumerate(sizes):
        share = deadline.left() / (len(sizes) - index)
        product = 2 * size**3 / (by_size[sizes[index - 1]] * 1e9) if index and not skipped else 0.0
        if skipped:
            skipped[size] = f"{size}^3: larger than a size already skipped"
        elif 2 * product > share:
            skipped[size] = f"{size}^3: a product would take about {product:.1f} s, over half of its {share:.0f} s"
        else:
            by_size[size] = matmul_gflops(dtype_name, size, seconds=share)
    return {"gflops": max(by_size.values()), "by_size": by_size, "skipped_sizes": skipped}


# The bfloat16 cases run only where bfloat16 has hardware behind it. With bfloat16 units
# (AVX512-BF16, AMX) a bfloat16 product runs at least at the float32 rate; without them the
# library emulates it (converting to float32 and back, or a plain loop), which is slower than
# float32 itself and can be slower by orders of magnitude: those cases would measure the
# emulation, for far longer than the rest of the suite. Half the float32 rate separates the
# two with room on either side for the noise of a shared machine.
EMULATED_BELOW = 0.5
PROBE_SIZE = 256  # cheap even emulated, yet large enough for the library to use bfloat16 units
BF16_CASES = "the bfloat16 matrix products, the default model's bf16 autocast step, WRN-28-2 in bf16"


def bf16_probe(seconds: float = 0.25) -> dict:
    """float32 and bfloat16 rates of PROBE_SIZE^3 products in this process, on one thread as the
    bfloat16 cases run, within about `seconds` a dtype."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {dtype: matmul_gflops(dtype, PROBE_SIZE, repeats=3, seconds=seconds) for dtype in ("float32", "bfloat16")}
    finally:
        torch.set_num_threads(threads)


def bf16_emulated(bf16_gflops: float, float32_gflops: float) -> bool:
    return bf16_gflops < EMULATED_BELOW * float32_gflops


def bf16_plan(mode: str, rates: dict | None) -> tuple[bool, str]:
    """Whether the bfloat16 cases run under `--bf16 mode` (auto, always, never) given the probe's
    rates (GFLOP/s by dtype; None where it did not run), and why, in a phrase."""
    if mode == "never":
        return False, "--bf16 never"
    probe = f"probe: {rates['bfloat16']:.3g} GFLOP/s bf16 vs {rates['float32']:.3g} float32" if rates else "no probe"
    if mode == "always":
        return True, f"--bf16 always ({probe})"
    if bf16_emulated(rates["bfloat16"], rates["float32"]):
        return False, f"bfloat16 runs emulated on this CPU ({probe})"
    return True, f"bfloat16 runs in hardware on this CPU ({probe})"


def relu_before_pool(model):
    """The CNN with each block's ReLU moved back in front of its max-pool (the order before the
    change in lira.models.architectures.cnn), for the side-by-side comparison."""
    from torch import nn

    for container in model.modules():
        if isinstance(container, nn.Sequential):
            layers = list(container)
            for i in range(len(layers) - 1):
                if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU):
                    layers[i], layers[i + 1] = nn.ReLU(), layers[i]
            for i, layer in enumerate(layers):
                container[i] = layer
    return model


def train_case(
    case: dict, layout: str | None = None, bf16: bool = False, old_order: bool = False, seed: int = 0, seconds: float = math.inf
) -> dict:
    """Time lira.models.training.train on synthetic images; count one step's FLOPs. layout: the model's
    memory format, "channels_last" or "nchw"; None: the workflow's (lira.models.architectures.memory_format).
    The case's epochs and steps are cut to what fits in `seconds` (benchmarks.budget.fit_steps), judged
    by the step that counts the FLOPs (a first forward and backward, under the counter)."""
    import numpy as np
    import torch
    from torch.nn import functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from lira.models import training
    from lira.models.architectures import build_model, memory_format
    from lira.models.images import to_float_images

    recipe = {**case["recipe"], "epochs": case["epochs"], "precision": "bfloat16" if bf16 else "float32"}
    batch = recipe["batch_size"]
    in_shape = tuple(case["in_shape"])
    n = batch * case["steps_per_epoch"]
    rng = np.random.default_rng(seed)
    device = torch.device("cpu")
    images = to_float_images(rng.integers(0, 256, size=(n, *in_shape), dtype=np.uint8), device)
    labels = torch.from_numpy(rng.integers(0, 10, size=n))
    torch.manual_seed(seed)
    model = build_model(case["model"], in_shape, 10, [0.5] * in_shape[0], [0.25] * in_shape[0])
    if old_order:
        model = relu_before_pool(model)
    formats = {None: memory_format(case["model"]), "channels_last": torch.channels_last, "nchw": torch.contiguous_format}
    model = model.to(memory_format=formats[layout])
    if formats[layout] == torch.contiguous_format:
        images = images.contiguous()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    start = time.perf_counter()
    with FlopCounterMode(display=False) as counter, autocast:
        F.cross_entropy(model(images[:batch]), labels[:batch]).backward()
    first_step = time.perf_counter() - start
    flops = counter.get_total_flops()
    model.zero_grad(set_to_none=True)
    epochs, steps = fit_steps(case["epochs"], case["steps_per_epoch"], first_step, seconds)

    n = batch * steps
    result = training.train(model, images[:n], labels[:n], {**recipe, "epochs": epochs}, seed=seed)  # autocasts per recipe["precision"]
    timed = result.epoch_seconds[1:] or result.epoch_seconds
    step = min(timed) / steps
    return {
        "flops_per_step": flops,
        "seconds_per_step": step,
        "gflops": flops / step / 1e9,
        "images_per_second": batch / step,
        "batch": batch,
        "steps_timed": steps * len(timed),
        "note": _cut_note(case, epochs, steps, seconds),
    }


def _cut_note(case: dict, epochs: int, steps: int, seconds: float) -> str:
    if (epochs, steps) == (case["epochs"], case["steps_per_epoch"]):
        return ""
    return f"cut to {epochs} epochs x {steps} steps (of {case['epochs']} x {case['steps_per_epoch']}) to fit its {seconds:.0f} s"


STACKED_MODELS = 8


def stacked_case(case: dict, models: int, seed: int = 0, seconds: float = math.inf) -> dict:
    """`models` copies of a `cnn` trained as one batched model (grouped convolutions, a
    batched linear head), each on its own batch of images, without augmentation: does stacking
    small models pay on this CPU? Rates are for all the models together. After a warm-up epoch,
    as many of the case's other epochs as fit in `seconds`."""
    import torch
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.flop_counter import FlopCounterMode

    width, batch = case["model"]["width"], case["recipe"]["batch_size"]
    channels, height, breadth = case["in_shape"]
    if channels != 1:
        raise ValueError("the stacked CNN takes one input channel per model")

    class StackedCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(models, width * models, 3, padding=1, groups=models)
            self.conv2 = nn.Conv2d(width * models, 2 * width * models, 3, padding=1, groups=models)
            features = 2 * width * (height // 4) * (breadth // 4)
            self.weight = nn.Parameter(torch.randn(models, features, 10) / features**0.5)
            self.bias = nn.Parameter(torch.zeros(models, 1, 10))

        def forward(self, x):  # [B, models, H, W] -> [models, B, 10]
            x = torch.relu(F.max_pool2d(self.conv1(x), 2))
            x = torch.relu(F.max_pool2d(self.conv2(x), 2)).contiguous()
            x = x.reshape(x.shape[0], models, -1).transpose(0, 1)
            return torch.baddbmm(self.bias, x, self.weight)

    torch.manual_seed(seed)
    model = StackedCNN().to(memory_format=torch.channels_last)
    images = torch.rand(batch * case["steps_per_epoch"], models, height, breadth).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (models, images.shape[0]))
    recipe = case["recipe"]
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"], weight_decay=recipe["weight_decay"], nesterov=True
    )

    def step(i):
        rows = slice(i * batch, (i + 1) * batch)
        loss = F.cross_entropy(model(images[rows]).reshape(-1, 10), labels[:, rows].reshape(-1)) * models
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    # FLOPs: `models` times one CNN's step (the flop counter overcounts the backward of
    # grouped convolutions).
    from lira.models.architectures import build_model

    single = build_model(case["model"], (channels, height, breadth), 10, [0.5], [0.25])
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(single(images[:batch, :1]), labels[0, :batch]).backward()
    flops = models * counter.get_total_flops()

    def epoch() -> float:
        start = time.perf_counter()
        for i in range(case["steps_per_epoch"]):
            step(i)
        return time.perf_counter() - start

    warm_up = epoch()
    timed = [epoch() for _ in range(repetitions(warm_up, case["epochs"] - 1, seconds))]
    best = min(timed) / case["steps_per_epoch"]
    return {
        "flops_per_step": flops,
        "seconds_per_step": best,
        "gflops": flops / best / 1e9,
        "images_per_second": models * batch / best,
        "batch": models * batch,
        "steps_timed": case["steps_per_epoch"] * len(timed),
    }


# Where a step of the default model spends its time, by kind of operation (profiler self time).
CATEGORIES = [
    ("convolutions (forward + backward)", ("convolution",)),
    ("max-pool (forward + backward)", ("max_pool",)),
    ("ReLU (forward + backward)", ("relu", "clamp_min", "threshold_backward")),
    ("zero-filling gradient buffers", ("fill_", "zero_")),
    ("augmentation and batch gathering", ("index", "flip", "where", "reflection_pad", "randint", "rand", "randperm", "gather")),
    ("linear layer", ("addmm", "aten::mm", "aten::t")),
]


def profile_case(case: dict, seconds: float = math.inf) -> dict:
    """Self CPU time per step of lira.models.training.train on the default model, by CATEGORIES.
    Skipped unless its two profiled epochs, at up to twice the warm-up epoch's time each under the
    profiler, fit in what the warm-up left of `seconds`."""
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    from lira.models import training
    from lira.models.architectures import build_model, memory_format
    from lira.models.images import to_float_images

    recipe = {**case["recipe"], "epochs": 2}
    batch, in_shape = recipe["batch_size"], tuple(case["in_shape"])
    n = batch * case["steps_per_epoch"]
    rng = np.random.default_rng(0)
    images = to_float_images(rng.integers(0, 256, size=(n, *in_shape), dtype=np.uint8), torch.device("cpu"))
    labels = torch.from_numpy(rng.integers(0, 10, size=n))
    torch.manual_seed(0)
    model = build_model(case["model"], in_shape, 10, [0.5], [0.25]).to(memory_format=memory_format(case["model"]))
    warm_up = training.train(model, images, labels, {**recipe, "epochs": 1}, seed=0).epoch_seconds[0]
    if 5 * warm_up > seconds:
        raise DoesNotFit(f"an epoch takes about {warm_up:.1f} s; profiling two would exceed its {seconds:.0f} s")
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        training.train(model, images, labels, recipe, seed=0)
    steps = recipe["epochs"] * case["steps_per_epoch"]
    totals = {name: 0.0 for name, _ in CATEGORIES}
    totals["other (optimizer, loss, autograd, copies)"] = 0.0
    for event in profiler.key_averages():
        milliseconds = event.self_cpu_time_total / 1e3 / steps
        for name, patterns in CATEGORIES:
            if any(pattern in event.key for pattern in patterns):
                totals[name] += milliseconds
                break
        else:
            totals["other (optimizer, loss, autograd, copies)"] += milliseconds
    return {"ms_per_step_by_kind": totals}


def run_job(job: str, cases: dict, quick: bool, seconds: float) -> dict:
    """One named measurement, within about `seconds`."""
    if job.startswith("matmul_"):
        return matmul_by_size(job.removeprefix("matmul_"), (256, 512) if quick else (512, 1024, 2048), seconds)
    jobs = {
        "default": lambda: train_case(cases["default"], seconds=seconds),
        "default_channels_last": lambda: train_case(cases["default"], layout="channels_last", seconds=seconds),
        "default_bf16": lambda: train_case(cases["default"], bf16=True, seconds=seconds),
        "default_profile": lambda: profile_case(cases["default"], seconds=seconds),
        "cnn8": lambda: train_case(cases["cnn8"], seconds=seconds),
        "cnn8_relu_first": lambda: train_case(cases["cnn8"], old_order=True, seconds=seconds),
        "cnn8_stacked": lambda: stacked_case(cases["cnn8"], models=STACKED_MODELS, seconds=seconds),
        "wrn": lambda: train_case(cases["wrn"], seconds=seconds),
        "wrn_bf16": lambda: train_case(cases["wrn"], bf16=True, seconds=seconds),
    }
    if job not in jobs:
        raise ValueError(f"unknown job {job!r}")
    return jobs[job]()


MIN_JOB_SECONDS = 1.0  # a job offered less is skipped


def _warm_flop_counter() -> None:
    """FlopCounterMode's first use sets itself up, which takes far longer than a step of the small
    models: done here once, so that each case's counted step is a fair estimate of its steps."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False):
        torch.nn.Linear(2, 2)(torch.ones(1, 2)).sum().backward()


def worker(threads: int, jobs: list[str], quick: bool, start_at: float | None, deadline: Deadline = NO_DEADLINE):
    """Run the named jobs in this process with `threads` threads, after waiting until wall time
    start_at (so that concurrent workers overlap); yield (job, result) as each ends. Each job has a
    fair share of the time left to the deadline (what one leaves unused goes to those after it);
    one that does not fit yields {"skipped": reason}."""
    import torch

    torch.set_num_threads(threads)
    cases = default_cases(quick)
    _warm_flop_counter()
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    for index, job in enumerate(jobs):
        seconds = deadline.left() / (len(jobs) - index)
        try:
            if seconds < MIN_JOB_SECONDS:
                raise DoesNotFit(f"the section's time is spent ({deadline.left():.0f} s left for {len(jobs) - index} cases)")
            result = run_job(job, cases, quick, seconds)
        except DoesNotFit as reason:
            result = {"skipped": str(reason)}
        yield job, result


# --- driver --------------------------------------------------------------------------------------


ONE_THREAD_JOBS = [
    "matmul_float32", "matmul_bfloat16", "default", "default_channels_last", "default_bf16", "default_profile",
    "cnn8", "cnn8_relu_first", "cnn8_stacked", "wrn", "wrn_bf16",
]  # fmt: skip
BF16_JOBS = ("matmul_bfloat16", "default_bf16", "wrn_bf16")
START_SECONDS = 8.0  # concurrent workers' time to start and import torch before they are released together
# Workers plan to end by this share of their time, and are killed at its end: the rest absorbs
# estimates that fall short, so that a case is not lost to a small overrun.
PLANNED = 0.9


def _command(threads: int, jobs: list[str], quick: bool, deadline: Deadline, start_at: float | None = None) -> list[str]:
    command = [sys.executable, "-m", "benchmarks.training", "worker", "--threads", str(threads), *jobs]
    if quick:
        command.append("--quick")
    if start_at:
        command += ["--start-at", repr(start_at)]
    if math.isfinite(deadline.at):
        command += ["--deadline", repr(deadline.at)]
    return command


def _forward(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _stream(command: list[str], jobs: list[str], deadline: Deadline, on_result) -> dict:
    """Run a worker, handing each job's result to on_result(job, result) as the worker reports it;
    kill it at the deadline. Jobs it did not report are {"skipped": reason}. Returns job -> result."""
    results = {}
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=REPO)
        lines = queue.Queue()
        threading.Thread(target=_forward, args=(process.stdout, lines), daemon=True).start()
        killed = False
        while True:
            try:
                line = lines.get(timeout=deadline.left() if math.isfinite(deadline.at) else None)
            except queue.Empty:
                process.kill()
                killed = True
                break
            if line is None:
                break
            job, result = json.loads(line)
            results[job] = result
            on_result(job, result)
        if process.wait() and not killed:
            errors.seek(0)
            raise RuntimeError(f"training worker failed:\n{errors.read()}")
    reason = "killed at the section's deadline, unfinished" if killed else "not reported by its worker"
    return {job: results.get(job, {"skipped": reason}) for job in jobs}


def _run_parallel(processes: int, jobs: list[str], quick: bool, deadline: Deadline) -> list[dict] | str:
    """`processes` one-thread workers at once, released together after their imports: their
    results, or the reason there are none."""
    if deadline.left() < START_SECONDS + MIN_JOB_SECONDS * len(jobs):
        return f"the section's time is spent ({deadline.left():.0f} s left)"
    start_at = time.time() + START_SECONDS
    running = [
        subprocess.Popen(_command(1, jobs, quick, deadline.share(PLANNED), start_at), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        for _ in range(processes)
    ]
    outputs = []
    for process in running:
        try:
            out, err = process.communicate(timeout=deadline.left())
        except subprocess.TimeoutExpired:
            for each in running:
                each.kill()
                each.communicate()
            return "killed at the section's deadline, unfinished"
        if process.returncode:
            raise RuntimeError(f"training worker failed:\n{err}")
        outputs.append(dict(json.loads(line) for line in out.splitlines()))
    return outputs


def run(
    quick: bool = False, cores: int = 2, deadline: Deadline = NO_DEADLINE, bf16: tuple[bool, str] = (True, ""), report=print
) -> dict:
    """Every training measurement, within the deadline: 70 % of the time to it for the one-thread
    cases, then half the rest for `cores` threads in one process, the rest for `cores`
    processes. bf16: whether the bfloat16 cases run, and the reason if not. report(line) is called
    as each one-thread case ends. Returns summarise()'s dictionary."""
    run_bf16, reason = bf16
    jobs = [job for job in ONE_THREAD_JOBS if run_bf16 or job not in BF16_JOBS]
    until = deadline.share(0.7)
    one = _stream(_command(1, jobs, quick, until.share(PLANNED)), jobs, until, lambda job, result: report(progress(job, result)))
    one.update({job: {"skipped": reason} for job in ONE_THREAD_JOBS if job not in jobs})
    jobs, until = ["matmul_float32", "default"], deadline.share(0.5)
    many = _stream(_command(cores, jobs, quick, until.share(PLANNED)), jobs, until, lambda *_: None)
    parallel = _run_parallel(cores, jobs, quick, deadline)
    return summarise(one, many, parallel, cores)


def progress(job: str, result: dict) -> str:
    """One line on a finished case, printed as it ends."""
    if "skipped" in result:
        return f"  {job}: skipped: {result['skipped']}"
    if "by_size" in result:
        skipped = "".join(f"; skipped {reason}" for reason in result["skipped_sizes"].values())
        return f"  {job}: {result['gflops']:.0f} GFLOP/s (best of {'/'.join(map(str, result['by_size']))}){skipped}"
    if "ms_per_step_by_kind" in result:
        return f"  {job}: {sum(result['ms_per_step_by_kind'].values()):.1f} ms/step under the profiler"
    note = f"; {result['note']}" if result.get("note") else ""
    return f"  {job}: {1e3 * result['seconds_per_step']:.1f} ms/step, {result['gflops']:.1f} GFLOP/s{note}"


def _combined(parallel: list[dict], cores: int) -> dict:
    """Two concurrent processes: each step time is its own; the machine's rate is their sum."""
    per_process = [result["default"] for result in parallel]
    mean_step = sum(result["seconds_per_step"] for result in per_process) / len(per_process)
    combined = {**per_process[0], "seconds_per_step": mean_step, "images_per_second": sum(r["images_per_second"] for r in per_process) / cores}
    combined["gflops"] = sum(r["gflops"] for r in per_process) / cores
    return combined


def _parallel_skipped(parallel: list[dict] | str) -> str | None:
    """Why the concurrent row has no figures (a reason in place of results, or a job skipped), or None."""
    if isinstance(parallel, str):
        return parallel
    return next((result[job]["skipped"] for result in parallel for job in result if "skipped" in result[job]), None)


def _matmul_rates(one: dict, many: dict, cores: int) -> tuple[dict, list]:
    """The denominators by name (the best over sizes; each size of the one-thread ones), and the
    (case, reason) of what was skipped."""
    measured = {
        "float32_1_thread": one["matmul_float32"],
        "bfloat16_1_thread": one["matmul_bfloat16"],
        f"float32_{cores}_threads": many["matmul_float32"],
    }
    rates, skipped = {}, []
    for name, result in measured.items():
        label = "matmul " + name.replace("_", " ")
        if "skipped" in result:
            skipped.append((label, result["skipped"]))
            continue
        rates[f"matmul_{name}"] = result["gflops"]
        skipped += [(label, reason) for reason in result["skipped_sizes"].values()]
    for name in ("float32_1_thread", "bfloat16_1_thread"):
        for size, rate in measured[name].get("by_size", {}).items():
            rates[f"matmul_{name}_{size}"] = rate
    return rates, skipped


def summarise(one: dict, many: dict, parallel: list[dict] | str, cores: int) -> dict:
    """Rows of the table (case, threads, processes, dtype, GFLOP/s, img/s, matmul GFLOP/s of that
    dtype and thread count, and their ratio: efficiency), the matmul rates, the profile, and the
    (case, reason) of each case skipped: a skipped case has no row and no figure. one, many:
    job -> result of the one-thread and the `cores`-thread worker; parallel: the concurrent
    workers' results, or the reason there are none."""
    matmul, skipped = _matmul_rates(one, many, cores)
    rows = []

    def row(name, result, threads, processes, dtype, matmul, note=""):
        if "skipped" in result:
            skipped.append((name, result["skipped"]))
            return
        rows.append(
            {
                "case": name,
                "threads": threads,
                "processes": processes,
                "dtype": dtype,
                "batch": result["batch"],
                "mflop_per_image": result["flops_per_step"] / result["batch"] / 1e6,
                "ms_per_step": result["seconds_per_step"] * 1e3,
                "images_per_second": result["images_per_second"] * processes,
                "gflops": result["gflops"] * processes,
                "matmul_gflops": matmul,
                "efficiency": result["gflops"] * processes / matmul if matmul else math.nan,
                "note": "; ".join(filter(None, (note, result.get("note")))),
            }
        )

    fp32, bf16 = matmul.get("matmul_float32_1_thread"), matmul.get("matmul_bfloat16_1_thread")
    row("default patch_cnn 64/4 (workflow: NCHW)", one["default"], 1, 1, "float32", fp32)
    row("default patch_cnn, channels_last", one["default_channels_last"], 1, 1, "float32", fp32)
    row("default patch_cnn, bf16 autocast", one["default_bf16"], 1, 1, "bfloat16", bf16)
    row(f"default patch_cnn, {cores} threads in 1 process", many["default"], cores, 1, "float32", matmul.get(f"matmul_float32_{cores}_threads"))
    # Two concurrent processes: the matmul rate is likewise the sum of what both measured while
    # running together.
    reason = _parallel_skipped(parallel)
    row(
        f"default patch_cnn, {cores} processes x 1 thread",
        {"skipped": reason} if reason else _combined(parallel, cores),
        1,
        cores,
        "float32",
        None if reason else sum(result["matmul_float32"]["gflops"] for result in parallel),
        "concurrent; images/s and GFLOP/s summed",
    )
    row("cnn width 8 (previous default), channels_last", one["cnn8"], 1, 1, "float32", fp32)
    row("cnn width 8, ReLU before pool", one["cnn8_relu_first"], 1, 1, "float32", fp32)
    row(
        f"{STACKED_MODELS} cnn width 8 stacked (grouped conv)",
        one["cnn8_stacked"],
        1,
        1,
        "float32",
        fp32,
        "no augmentation; rates for all models together",
    )
    row("WRN-28-2 (paper), channels_last", one["wrn"], 1, 1, "float32", fp32)
    row("WRN-28-2 (paper), bf16 autocast", one["wrn_bf16"], 1, 1, "bfloat16", bf16)
    profile = one["default_profile"]
    if "skipped" in profile:
        skipped.append(("default model profile", profile["skipped"]))
    return {"rows": rows, "matmul": matmul, "profile": profile.get("ms_per_step_by_kind"), "skipped": skipped}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    work = sub.add_parser("worker")
    work.add_argument("jobs", nargs="+")
    work.add_argument("--threads", type=int, default=1)
    work.add_argument("--quick", action="store_true")
    work.add_argument("--start-at", type=float)
    work.add_argument("--deadline", type=float, help="wall time (time.time()) by which to be done")
    every = sub.add_parser("run")
    every.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "worker":
        deadline = Deadline(args.deadline) if args.deadline else NO_DEADLINE
        for job, result in worker(args.threads, args.jobs, args.quick, args.start_at, deadline):
            print(json.dumps([job, result]), flush=True)
    else:
        print(json.dumps(run(args.quick, report=lambda line: print(line, file=sys.stderr)), indent=1))


if __name__ == "__main__":
    main()
