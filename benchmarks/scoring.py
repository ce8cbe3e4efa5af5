"""Scoring: our LiRA (lira.core.gaussian + lira.core.attacks) against a per-example implementation of the
reference code's algorithm, on the same synthetic arrays.

Both sides compute the same four variants (online and offline, per-example and global variance)
for the same T targets, each target attacked with the N-2 models outside its complementary pair as
its shadows (lira.core.splits.held_out: the workflow's protocol):

- **reference** (written here from the reference code's algorithm as docs/method.md describes it): loads every
  model's statistics into one [N, n, Q] array, as the reference code does, and loops over targets
  and, for each target, over examples in Python: the example's IN and OUT values among the
  N-2 shadow models, their means and unbiased variances, then the scores. Global variance needs a first
  pass over every example (the squared deviations from each example's own means) before scoring.
- **ours**: reads the N models' values a chunk of examples at a time into per-example sums
  (lira.core.gaussian.fit_shadow_sums; memory O(N x chunk x Q) beside the O(n x Q) fit), then
  one target at a time derives its Gaussians from them, less its pair (lira.core.gaussian.leave_pair_out,
  vectorised over examples and queries) and scores with lira.core.attacks.lira_online / lira_offline:
  the library calls of the workflow's fit and attack steps.

Each measurement runs in a fresh Python process (`python -m benchmarks.scoring worker ...`), so
its peak resident memory is its own; ours and the reference alternate three times per size and
the medians are reported (a shared machine's slow spells hit both sides). Where the reference
would take too long it is timed on the first k examples and its time scaled by n / k (said so in the output); the scores are
compared on a problem both sides solved in full (the first k examples; global variance pools over
exactly the examples scored, so the comparison runs ours on the same k examples too).

Bounded in time (benchmarks.budget): a size's first run of each side is killed at its deadline
(the size is then skipped, with the reason); a further run starts only if the last one, and the
score check after it, fit in what is left.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import log_ndtr

from lira.core import splits

from .budget import NO_DEADLINE, Deadline, DoesNotFit
from lira.core.attacks import lira_offline, lira_online
from lira.core.gaussian import MIN_VARIANCE, fit_shadow_sums, leave_pair_out

VARIANTS = ("online", "online_global", "offline", "offline_global")
OFFLINE_TEST = "one-sided"  # the config's default (paper Eq. 4), on both sides


# --- synthetic data ----------------------------------------------------------------------------


def write_synthetic(directory: Path, n_models: int, n_examples: int, n_queries: int, seed: int = 0) -> None:
    """phi.npy float32 [N, n, Q] and keep.npy bool [N, n] like the workflow's shadows/: the
    complementary-pair splits of lira.core.splits, per-example centres and IN shifts, query noise."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    keep = splits.keep_matrix(seed, n_models, n_examples)
    centre = (rng.normal(size=(n_examples, 1)) * 2.0 + rng.normal(size=(n_examples, n_queries)) * 0.3).astype(np.float32)
    shift = np.abs(rng.normal(1.0, 0.5, size=(n_examples, 1))).astype(np.float32)
    spread = rng.uniform(0.5, 1.5, size=(n_examples, 1)).astype(np.float32)
    phi = np.lib.format.open_memmap(directory / "phi.npy", "w+", np.float32, (n_models, n_examples, n_queries))
    for model in range(n_models):
        noise = rng.standard_normal(size=(n_examples, n_queries), dtype=np.float32)
        phi[model] = centre + shift * keep[model][:, None] + spread * noise
    phi.flush()
    del phi
    np.save(directory / "keep.npy", keep)


class StackReader:
    """A float32 [N, n, Q] .npy file read with plain file reads, in the two ways ours needs it:
    reader[:, a:b] (every model's values of examples a..b-1: the fit) and reader[a:b] (models
    a..b-1: the targets). Memory holds what was read, no more (a memory map would leave every page
    it touched resident and counted in the peak memory). Only the first `examples` examples when
    given (the score check runs on a subset)."""

    def __init__(self, path: Path, examples: int | None = None):
        self.handle = open(path, "rb")
        version = np.lib.format.read_magic(self.handle)
        if version == (1, 0):
            shape, _, self.dtype = np.lib.format.read_array_header_1_0(self.handle)
        else:
            shape, _, self.dtype = np.lib.format.read_array_header_2_0(self.handle)
        self.offset = self.handle.tell()
        self.stored_examples = shape[1]
        self.shape = (shape[0], min(shape[1], examples or shape[1]), shape[2])

    def __getitem__(self, key) -> np.ndarray:
        models, examples = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(models, (int, np.integer)):  # one model: [examples, Q]
            return self[int(models) : int(models) + 1, examples][0]
        models = range(*models.indices(self.shape[0]))
        examples = range(*examples.indices(self.shape[1]))
        if models.step != 1 or examples.step != 1:
            raise IndexError("StackReader reads contiguous ranges only")
        out = np.empty((len(models), len(examples), self.shape[2]), dtype=self.dtype)
        row_bytes = self.shape[2] * self.dtype.itemsize
        for index, model in enumerate(models):  # one read per model: its examples are contiguous
            self.handle.seek(self.offset + (model * self.stored_examples + examples.start) * row_bytes)
            if self.handle.readinto(memoryview(out[index]).cast("B")) != out[index].nbytes:
                raise EOFError(f"{self.handle.name}: model {model} is truncated")
        return out


# --- the two implementations -------------------------------------------------------------------


def reference_scores(phi: np.ndarray, keep: np.ndarray, n_targets: int) -> dict[str, np.ndarray]:
    """The reference algorithm, per target and per example. phi [N, n, Q], keep [N, n].
    Returns variant -> scores [T, n]. Same estimators as lira.core.gaussian: means, unbiased
    per-example variances, global variance pooled around each example's own mean, every variance
    floored at MIN_VARIANCE; where some example has fewer than 2 values in a group, every example
    takes the pooled variance (lira.core.gaussian._group_moments)."""
    n_models, n_examples, _ = phi.shape
    scores = {variant: np.empty((n_targets, n_examples)) for variant in VARIANTS}
    for target in range(n_targets):
        shadows = np.flatnonzero(splits.shadow_models(target, n_models))
        moments = []
        squares_in = squares_out = 0.0
        count_in = count_out = 0
        fewest = n_models
        for example in range(n_examples):  # pass 1: each example's moments
            values = phi[shadows, example].astype(np.float64)  # [N-2, Q]
            member = keep[shadows, example]
            inside, outside = values[member], values[~member]
            mean_in, mean_out = inside.mean(axis=0), outside.mean(axis=0)
            var_in = inside.var(axis=0, ddof=1) if len(inside) > 1 else np.full_like(mean_in, np.nan)
            var_out = outside.var(axis=0, ddof=1) if len(outside) > 1 else np.full_like(mean_out, np.nan)
            squares_in = squares_in + ((inside - mean_in) ** 2).sum(axis=0)
            squares_out = squares_out + ((outside - mean_out) ** 2).sum(axis=0)
            count_in += len(inside)
            count_out += len(outside)
            fewest = min(fewest, len(inside), len(outside))
            moments.append((mean_in, var_in, mean_out, var_out))
        pooled_in = np.maximum(squares_in / count_in, MIN_VARIANCE)
        pooled_out = np.maximum(squares_out / count_out, MIN_VARIANCE)
        for example in range(n_examples):  # pass 2: the target's scores
            x = phi[target, example].astype(np.float64)  # [Q]
            mean_in, var_in, mean_out, var_out = moments[example]
            if fewest < 2:
                var_in, var_out = pooled_in, pooled_out
            var_in, var_out = np.maximum(var_in, MIN_VARIANCE), np.maximum(var_out, MIN_VARIANCE)
            for suffix, v_in, v_out in (("", var_in, var_out), ("_global", pooled_in, pooled_out)):
                log_in = -0.5 * (np.log(2 * np.pi * v_in) + (x - mean_in) ** 2 / v_in)
                log_out = -0.5 * (np.log(2 * np.pi * v_out) + (x - mean_out) ** 2 / v_out)
                scores["online" + suffix][target, example] = np.mean(log_in - log_out)
                scores["offline" + suffix][target, example] = np.mean(log_ndtr((x - mean_out) / np.sqrt(v_out)))
    return scores


@dataclass
class OurTimes:
    fit: float
    score: float


def our_scores(stack, keep: np.ndarray, n_targets: int):
    """Ours: the fit job's per-example sums, read a chunk of examples at a time for every
    model (lira.core.gaussian.fit_shadow_sums); then the targets' values and, one target at a
    time as lira.core.attacks.run does, its Gaussians less its pair (once per pair, as the attack jobs
    do: partners have the same shadows) and the four variants (the attack jobs, sharing one fit). stack: a StackReader [N, n, Q]; keep [N, >= n].
    Returns (variant -> [T, n], OurTimes)."""
    n_models, n_examples, _ = stack.shape
    keep = keep[:, :n_examples]
    start = time.perf_counter()
    fit = fit_shadow_sums(stack, keep)
    fitted = time.perf_counter()
    targets = stack[0:n_targets]  # [T, n, Q], as the attack job reads them from the stack
    scores = {variant: np.empty((n_targets, n_examples)) for variant in VARIANTS}
    held_out = None
    for t in range(n_targets):
        phi = np.asarray(targets[t], dtype=np.float64)  # [n, Q]
        if splits.held_out(t, n_models) != held_out:  # a target after its partner shares its shadows
            held_out = splits.held_out(t, n_models)
            params = leave_pair_out(fit, stack, keep, t)  # reads the pair's values back
        scores["online"][t] = lira_online(phi, params)
        scores["online_global"][t] = lira_online(phi, params, global_variance=True)
        scores["offline"][t] = lira_offline(phi, params, test=OFFLINE_TEST)
        scores["offline_global"][t] = lira_offline(phi, params, global_variance=True, test=OFFLINE_TEST)
    return scores, OurTimes(fitted - start, time.perf_counter() - fitted)


# --- one measurement per process ---------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited from the
    parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best effort


def worker(implementation: str, data: Path, n_targets: int, examples: int | None, output: Path) -> dict:
    """Run one implementation on data/{phi,keep}.npy in this process; save its scores to output.
    The reference's loading is timed apart from its loop over examples (only the loop scales
    with the number of examples)."""
    keep = np.load(data / "keep.npy")
    start = time.perf_counter()
    if implementation == "reference":
        phi = np.load(data / "phi.npy")  # everything in memory, as the reference does
        loaded = time.perf_counter()
        if examples:
            phi = phi[:, :examples]  # a view: the same memory access as on the whole array
        scores = reference_scores(phi, keep[:, : phi.shape[1]], n_targets)
        times = {"load_seconds": loaded - start, "loop_seconds": time.perf_counter() - loaded}
    else:
        scores, ours = our_scores(StackReader(data / "phi.npy", examples), keep, n_targets)
        times = {"fit_seconds": ours.fit, "score_seconds": ours.score}
    seconds = time.perf_counter() - start
    np.savez(output, **scores)
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib(), **times}


# One thread for BLAS and OpenMP in the workers, as Snakemake gives a one-thread job: both sides
# run on one core.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def measure(implementation: str, data: Path, n_targets: int, examples: int | None, output: Path, deadline: Deadline = NO_DEADLINE) -> dict:
    """worker() in a fresh Python process, on one thread; its JSON result. Killed at the deadline
    (DoesNotFit)."""
    command = [sys.executable, "-m", "benchmarks.scoring", "worker", implementation, str(data), str(n_targets), str(output)]
    if examples:
        command += ["--examples", str(examples)]
    root = Path(__file__).resolve().parents[1]
    timeout = deadline.left() if math.isfinite(deadline.at) else None
    try:
        done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=root, env=os.environ | ONE_THREAD, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DoesNotFit(f"{implementation} ran past the size's deadline ({timeout:.0f} s) and was stopped") from None
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_difference(a: dict, b: dict, rows: slice = slice(None), columns: slice = slice(None)) -> float:
    """Largest |a - b| over every variant (on the given targets and examples)."""
    return max(float(np.max(np.abs(a[v][rows, columns] - b[v][rows, columns]))) for v in VARIANTS)


REPEATS = 3  # ours and the reference alternate this many times; medians are reported


def _alternate(data: Path, n_examples: int, n_targets: int, k: int, repeats: int, deadline: Deadline) -> list[tuple[dict, dict]]:
    """Up to `repeats` pairs (ours, reference), the reference on k examples with its loop scaled to
    n; pair i writes ours{i}.npz and reference{i}.npz. A pair starts only if the last one and the
    score check (at most one more run of ours) fit in the time left."""
    runs = []
    for index in range(repeats):
        start = time.perf_counter()
        try:
            ours = measure("ours", data, n_targets, None, data / f"ours{index}.npz", deadline)
            reference = measure("reference", data, n_targets, k if k < n_examples else None, data / f"reference{index}.npz", deadline)
        except DoesNotFit:
            if not runs:
                raise
            break
        reference["scaled_seconds"] = reference["load_seconds"] + reference["loop_seconds"] * n_examples / k
        runs.append((ours, reference))
        if 1.5 * (time.perf_counter() - start) > deadline.left():
            break
    return runs


def _check(data: Path, n_targets: int, subset: int | None, index: int, deadline: Deadline) -> tuple[float, float]:
    """The largest difference between pair `index`'s reference scores and ours on the same
    examples (ours run again on the first `subset` examples if the reference ran on a subset),
    and the largest |score|."""
    with np.load(data / f"reference{index}.npz") as reference_scores_, np.load(data / f"ours{index}.npz") as our_scores_:
        expected = {v: reference_scores_[v] for v in VARIANTS}
        if subset:
            measure("ours", data, n_targets, subset, data / "ours_subset.npz", deadline)
            with np.load(data / "ours_subset.npz") as subset_scores:
                checked = {v: subset_scores[v] for v in VARIANTS}
        else:
            checked = {v: our_scores_[v] for v in VARIANTS}
        return max_difference(expected, checked), max(float(np.max(np.abs(expected[v]))) for v in VARIANTS)


def compare(
    n_models: int,
    n_examples: int,
    n_queries: int,
    n_targets: int,
    reference_examples: int | None,
    workdir: Path,
    repeats: int = REPEATS,
    deadline: Deadline = NO_DEADLINE,
) -> dict:
    """One size: ours in full; the reference on min(n, reference_examples) examples, scaled by
    n / k when that is fewer than n; both on that same k-example problem for the score check.

    The two alternate up to `repeats` times (ours, reference, ours, ...), each run in a fresh process, so
    that a slow spell of a shared machine hits both; the times are the medians and the speed-up
    the median of the runs' ratios, with their range. Within the deadline: DoesNotFit if the first
    pair of runs or the score check does not end by it; fewer pairs where the last would not fit again."""
    data = workdir / f"{n_models}x{n_examples}x{n_queries}"
    write_synthetic(data, n_models, n_examples, n_queries)
    try:
        k = min(n_examples, reference_examples or n_examples)
        runs = _alternate(data, n_examples, n_targets, k, repeats, deadline)
        difference, scale = _check(data, n_targets, k if k < n_examples else None, len(runs) - 1, deadline)
    finally:
        for path in data.iterdir():
            path.unlink()
        data.rmdir()
    ratios = [reference["scaled_seconds"] / ours["seconds"] for ours, reference in runs]
    median = lambda values: float(np.median(values))  # noqa: E731
    return {
        "models": n_models,
        "examples": n_examples,
        "queries": n_queries,
        "targets": n_targets,
        "repeats": len(runs),
        "ours_seconds": median([o["seconds"] for o, _ in runs]),
        "ours_fit_seconds": median([o["fit_seconds"] for o, _ in runs]),
        "ours_score_seconds": median([o["score_seconds"] for o, _ in runs]),
        "ours_peak_rss_mib": max(o["peak_rss_mib"] for o, _ in runs),
        "reference_seconds": median([r["scaled_seconds"] for _, r in runs]),
        "reference_examples_timed": k,
        "reference_peak_rss_mib": max(r["peak_rss_mib"] for _, r in runs),
        "speedup": median(ratios),
        "speedup_min": min(ratios),
        "speedup_max": max(ratios),
        "max_abs_difference": difference,
        "max_abs_score": scale,
        "identical": bool(difference <= 1e-9 * max(1.0, scale)),
        "input_mib": n_models * n_examples * n_queries * 4 / 2**20,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("worker", help="one measurement (used by compare())")
    run.add_argument("implementation", choices=("ours", "reference"))
    run.add_argument("data", type=Path)
    run.add_argument("targets", type=int)
    run.add_argument("output", type=Path)
    run.add_argument("--examples", type=int)
    one = sub.add_parser("compare", help="one size, printed as JSON")
    for name in ("models", "examples", "queries", "targets"):
        one.add_argument(name, type=int)
    one.add_argument("--reference-examples", type=int)
    args = parser.parse_args(argv)
    if args.command == "worker":
        print(json.dumps(worker(args.implementation, args.data, args.targets, args.examples, args.output)))
    else:
        with tempfile.TemporaryDirectory(prefix="lira-bench-") as workdir:
            result = compare(args.models, args.examples, args.queries, args.targets, args.reference_examples, Path(workdir))
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
