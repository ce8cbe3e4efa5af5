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
count before any work.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from lira.workflow.config import load_config

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


def matmul_gflops(dtype_name: str, size: int, repeats: int = 5) -> float:
    """Best rate of size^3 matrix products (2 size^3 FLOPs each) in dtype."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


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


def train_case(case: dict, layout: str | None = None, bf16: bool = False, old_order: bool = False, seed: int = 0) -> dict:
    """Time lira.models.training.train on synthetic images; count one step's FLOPs. layout: the model's
    memory format, "channels_last" or "nchw"; None: the workflow's (lira.models.architectures.memory_format)."""
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

    with FlopCounterMode(display=False) as counter, autocast:
        F.cross_entropy(model(images[:batch]), labels[:batch]).backward()
    flops = counter.get_total_flops()
    model.zero_grad(set_to_none=True)

    result = training.train(model, images, labels, recipe, seed=seed)  # autocasts per recipe["precision"]
    timed = result.epoch_seconds[1:] or result.epoch_seconds
    step = min(timed) / case["steps_per_epoch"]
    return {
        "flops_per_step": flops,
        "seconds_per_step": step,
        "gflops": flops / step / 1e9,
        "images_per_second": batch / step,
        "batch": batch,
        "steps_timed": case["steps_per_epoch"] * len(timed),
    }


STACKED_MODELS = 8


def stacked_case(case: dict, models: int, seed: int = 0) -> dict:
    """`models` copies of a `cnn` trained as one batched model (grouped convolutions, a
    batched linear head), each on its own batch of images, without augmentation: does stacking
    small models pay on this CPU? Rates are for all the models together."""
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
    best = math.inf
    for epoch in range(case["epochs"]):
        start = time.perf_counter()
        for i in range(case["steps_per_epoch"]):
            step(i)
        if epoch:
            best = min(best, (time.perf_counter() - start) / case["steps_per_epoch"])
    return {
        "flops_per_step": flops,
        "seconds_per_step": best,
        "gflops": flops / best / 1e9,
        "images_per_second": models * batch / best,
        "batch": models * batch,
        "steps_timed": case["steps_per_epoch"] * (case["epochs"] - 1),
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


def profile_case(case: dict) -> dict:
    """Self CPU time per step of lira.models.training.train on the default model, by CATEGORIES."""
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
    training.train(model, images, labels, {**recipe, "epochs": 1}, seed=0)  # warm-up
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


def worker(threads: int, jobs: list[str], quick: bool, start_at: float | None) -> dict:
    """Run the named jobs in this process with `threads` threads; wait until wall time start_at
    first (so that concurrent workers overlap)."""
    import torch

    torch.set_num_threads(threads)
    cases = default_cases(quick)
    sizes = (256, 512) if quick else (512, 1024, 2048)
    results = {}
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    for job in jobs:
        if job.startswith("matmul_"):
            by_size = {size: matmul_gflops(job.removeprefix("matmul_"), size) for size in sizes}
            results[job] = {"gflops": max(by_size.values()), "by_size": by_size}
        elif job == "default":
            results[job] = train_case(cases["default"])
        elif job == "default_channels_last":
            results[job] = train_case(cases["default"], layout="channels_last")
        elif job == "default_bf16":
            results[job] = train_case(cases["default"], bf16=True)
        elif job == "default_profile":
            results[job] = profile_case(cases["default"])
        elif job == "cnn8":
            results[job] = train_case(cases["cnn8"])
        elif job == "cnn8_relu_first":
            results[job] = train_case(cases["cnn8"], old_order=True)
        elif job == "cnn8_stacked":
            results[job] = stacked_case(cases["cnn8"], models=STACKED_MODELS)
        elif job == "wrn":
            results[job] = train_case(cases["wrn"])
        elif job == "wrn_bf16":
            results[job] = train_case(cases["wrn"], bf16=True)
        else:
            raise ValueError(f"unknown job {job!r}")
    return results


# --- driver --------------------------------------------------------------------------------------


def _command(threads: int, jobs: list[str], quick: bool, start_at: float | None = None) -> list[str]:
    command = [sys.executable, "-m", "benchmarks.training", "worker", "--threads", str(threads), *jobs]
    if quick:
        command.append("--quick")
    if start_at:
        command += ["--start-at", repr(start_at)]
    return command


def _run(threads: int, jobs: list[str], quick: bool) -> dict:
    done = subprocess.run(_command(threads, jobs, quick), check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_parallel(processes: int, jobs: list[str], quick: bool) -> list[dict]:
    """`processes` one-thread workers at once, released together after their imports."""
    start_at = time.time() + 8.0  # time for every worker to start and import torch
    running = [
        subprocess.Popen(_command(1, jobs, quick, start_at), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        for _ in range(processes)
    ]
    results = []
    for process in running:
        out, err = process.communicate()
        if process.returncode:
            raise RuntimeError(f"training worker failed:\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def run(quick: bool = False, cores: int = 2) -> list[dict]:
    """Every training measurement, as rows: case, threads, processes, dtype, GFLOP/s, img/s,
    matmul GFLOP/s of that dtype and thread count, and their ratio (efficiency)."""
    one = _run(
        1,
        [
            "matmul_float32", "matmul_bfloat16", "default", "default_channels_last", "default_bf16", "default_profile",
            "cnn8", "cnn8_relu_first", "cnn8_stacked", "wrn", "wrn_bf16",
        ],
        quick,
    )  # fmt: skip
    many = _run(cores, ["matmul_float32", "default"], quick)
    parallel = _run_parallel(cores, ["matmul_float32", "default"], quick)
    rows = []

    def row(name, result, threads, processes, dtype, matmul, note=""):
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
                "efficiency": result["gflops"] * processes / matmul,
                "note": note,
            }
        )

    fp32, bf16 = one["matmul_float32"]["gflops"], one["matmul_bfloat16"]["gflops"]
    row("default patch_cnn 64/4 (workflow: NCHW)", one["default"], 1, 1, "float32", fp32)
    row("default patch_cnn, channels_last", one["default_channels_last"], 1, 1, "float32", fp32)
    row("default patch_cnn, bf16 autocast", one["default_bf16"], 1, 1, "bfloat16", bf16)
    row(f"default patch_cnn, {cores} threads in 1 process", many["default"], cores, 1, "float32", many["matmul_float32"]["gflops"])
    # Two concurrent processes: each step time is its own; the machine's rate is their sum, and
    # the matmul rate is likewise the sum of what both measured while running together.
    per_process = [result["default"] for result in parallel]
    mean_step = sum(result["seconds_per_step"] for result in per_process) / len(per_process)
    combined = {**per_process[0], "seconds_per_step": mean_step, "images_per_second": sum(r["images_per_second"] for r in per_process) / cores}
    combined["gflops"] = sum(r["gflops"] for r in per_process) / cores
    row(
        f"default patch_cnn, {cores} processes x 1 thread",
        combined,
        1,
        cores,
        "float32",
        sum(result["matmul_float32"]["gflops"] for result in parallel),
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
    matmul = {
        "matmul_float32_1_thread": fp32,
        "matmul_bfloat16_1_thread": bf16,
        f"matmul_float32_{cores}_threads": many["matmul_float32"]["gflops"],
    }
    for name, result in (("float32_1_thread", one["matmul_float32"]), ("bfloat16_1_thread", one["matmul_bfloat16"])):
        for size, gflops in result["by_size"].items():
            matmul[f"matmul_{name}_{size}"] = gflops
    return rows, matmul, one["default_profile"]["ms_per_step_by_kind"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    work = sub.add_parser("worker")
    work.add_argument("jobs", nargs="+")
    work.add_argument("--threads", type=int, default=1)
    work.add_argument("--quick", action="store_true")
    work.add_argument("--start-at", type=float)
    every = sub.add_parser("run")
    every.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "worker":
        print(json.dumps(worker(args.threads, args.jobs, args.quick, args.start_at)))
    else:
        rows, matmul, profile = run(args.quick)
        print(json.dumps({"rows": rows, "matmul": matmul, "profile": profile}, indent=1))


if __name__ == "__main__":
    main()
