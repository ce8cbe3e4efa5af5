"""The workflow's numpy jobs after the logits, one function each: stack the statistics (shadows),
fit them (fit), score an attack (attack) and evaluate it (evaluate).

Each reads its inputs through lira.workflow.artifacts, which checks every file's content against
the sha256 its producing job recorded, its fingerprint, shape and values where it is consumed,
computes with lira.core, and writes atomically, recording the hashes of what it wrote for the
next job to check. `inputs` and `outputs` are Snakemake's named file lists (any object with those
attributes and keys).
"""

from __future__ import annotations

import json
import logging

import numpy as np

from lira.core import attacks, metrics, privacy, splits
from lira.core.gaussian import ShadowFit, fit_shadow_sums
from lira.core.logit_statistics import write_stacked_statistics
from lira.core.queries import nested_subsets, query_set
from lira.workflow import artifacts, files


def stack_shadows(
    inputs, outputs, blocks: list[str], seed: int, query_settings: dict, statistics, log: logging.Logger, split=None
):
    """logits/<block>.npy of every block -> shadows/<statistic>.npy, float32 [N, pool, queries]
    for each of `statistics`, shadows/keep.npy, bool [N, pool], and shadows/info.json, which
    records the sha256 of each of these files (artifacts.load_shadows checks them).

    Each block's logits are checked first (the sha256 in its sidecar, fingerprint of this pool and
    split design, the block's models, shape [models, pool, queries, classes], finite values); its
    statistics then go straight into the memory-mapped stacks (allocated on disk first), so memory
    holds one block's logits, whatever N."""
    model_ranges = [splits.block_models(block) for block in blocks]  # the files' models, in order
    n_models = sum(len(models) for models in model_ranges)
    names = list(statistics)
    pool = artifacts.load_pool(inputs.pool)
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    labels = pool["y"]  # [pool]
    n_queries = len(query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"]))
    n_classes = int(pool["num_classes"])

    paths = {name: outputs[name] for name in names}
    with files.atomic_memmaps(paths, np.float32, (n_models, len(labels), n_queries)) as stacks:
        for models, path, info_path in zip(model_ranges, inputs.logits, inputs.logits_info, strict=True):
            shape = (len(models), len(labels), n_queries, n_classes)
            logits, _ = artifacts.load_logits(path, info_path, fingerprint, models, shape)
            rows = slice(models.start, models.stop)
            write_stacked_statistics(stacks, rows, logits, labels)
            for name in names:  # finite logits can still give statistics beyond float32's range
                artifacts.check_array(path, name, stacks[name][rows])
    files.save_array(outputs.keep, splits.keep_matrix(seed, n_models, len(labels), split))
    # Hashed once written (read back from the page cache); the info, their record, is written last.
    sha256 = {name: artifacts.file_sha256(outputs[name]) for name in [*names, "keep"]}
    info = {"fingerprint": fingerprint, "models": n_models, "pool_size": len(labels), "queries": n_queries, "statistics": names}
    if split:  # recorded only when set, so the shadows of the whole pool keep their info as it was
        info["split"] = split
    files.write_json(outputs.info, {**info, "sha256": sha256})
    log.info("stacked %s of %d models (%d blocks), pool %d, %d queries", names, n_models, len(blocks), len(labels), n_queries)


def fit_shadows(inputs, output_path, seed: int, log: logging.Logger):
    """shadows/*.npy -> fit.npz: per-example IN/OUT sums of every statistic over all N models
    (lira.core.gaussian.fit_shadow_sums), with the keep masks, the fingerprint and the content
    hash of its arrays. Every stack is checked against its recorded sha256 as it is first read."""
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    stacks, keep, _ = artifacts.load_shadows(inputs, fingerprint, seed)  # [N, pool, Q] each, keep [N, pool]
    arrays = {"keep": keep, "fingerprint": np.array(fingerprint)}
    for name, values in stacks.items():  # streamed from the memory map, a chunk of examples at a time
        arrays.update(fit_shadow_sums(values, keep).to_arrays(prefix=f"{name}."))
    artifacts.save_npz(output_path, **arrays)
    log.info("fitted %d statistics over %d shadow models", len(stacks), len(keep))


def score_attack(inputs, output_path, name: str, settings: dict, seed: int, query_settings: dict, log: logging.Logger):
    """shadows/*.npy + fit.npz -> attacks/<name>.npz: scores float64 [T, pool] (higher = member)
    and is_member bool [T, pool] for targets 0..T-1 (each attacked with the N-2 models outside its pair as
    its shadows), the smallest FPR the attack can resolve, its settings (JSON; as used: RMIA's
    population_size is at most the pool's size), the fingerprint of its pool and split, which the
    shadows and the fit must carry too, and the content hash of its arrays. The stacks it reads
    are checked against their recorded sha256 (artifacts.Shadows), the fit against its own."""
    labels = artifacts.load_pool(inputs.pool)["y"]
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    shadows, keep, fits = load_shadows_and_fits(inputs, fingerprint, seed)
    queries = attack_queries(settings, query_settings)
    candidates = shadow_candidates(keep)  # None: every example (no `split`)
    scores, min_fpr = attacks.run(settings, shadows, keep, labels, fits, queries, candidates=candidates)
    if not np.all(np.isfinite(scores)):
        raise FloatingPointError(f"{name}: {np.count_nonzero(~np.isfinite(scores))} scores are NaN or infinite")
    n_targets = settings["targets"]
    columns = slice(None) if candidates is None else candidates
    n_scored = len(labels) if candidates is None else len(candidates)
    artifacts.save_npz(
        output_path,
        scores=scores,
        is_member=keep[:n_targets, columns],
        targets=np.arange(n_targets),
        min_fpr=np.float64(min_fpr),
        settings=np.array(json.dumps(used_settings(settings, n_scored), sort_keys=True)),
        fingerprint=np.array(fingerprint),
        # The pool indices of the scores' columns, only when the shadows leave some examples out.
        **({} if candidates is None else {"candidates": candidates}),
    )
    log.info("%s %s: scores %s from %d models", name, settings, scores.shape, len(keep))


def shadow_candidates(keep: np.ndarray) -> np.ndarray | None:
    """The examples the leave-pair-out evaluation measures: int pool indices [C] of those some
    shadow trains on and some does not (lira.core.attacks.eligible), or None when that is every
    example (shadows on the whole pool: the scores keep their [T, pool] columns, as always). With
    shadows on one part of the pool (config `split`), the other part's examples are IN for no
    model: no attack on the shadows can measure them, so they are left out, never scored."""
    eligible = attacks.eligible(keep)
    return None if eligible.all() else np.flatnonzero(eligible)


def load_shadows_and_fits(inputs, fingerprint: str, seed: int):
    """The shadows' stacks [N, pool, Q] (checked as first read), keep [N, pool], and the fit of
    every statistic (lira.core.gaussian.ShadowFit), which must have been made on those keep masks."""
    shadows, keep, _ = artifacts.load_shadows(inputs, fingerprint, seed)
    fit_arrays = artifacts.load_npz(inputs.fit, fingerprint)
    if not np.array_equal(fit_arrays["keep"], keep):
        raise artifacts.ArtifactError(f"{inputs.fit}: fitted on other keep masks than {inputs.keep}")
    return shadows, keep, {statistic: ShadowFit.from_arrays(fit_arrays, prefix=f"{statistic}.") for statistic in shadows}


def attack_queries(settings: dict, query_settings: dict):
    """The query indices an attack uses: every query, or one of the nested sets of Table III."""
    if settings["queries"] == "all":
        return slice(None)
    return nested_subsets(query_settings["mirror"], query_settings["shift"], query_settings["stride"])[settings["queries"]]


def used_settings(settings: dict, pool_size: int) -> dict:
    """The attack's settings as it used them: RMIA draws min(population_size, pool) population
    points (lira.core.attacks), so a population_size beyond the pool is recorded as the pool's
    size, with the configured value beside it (population_size_configured)."""
    if "population_size" in settings and settings["population_size"] > pool_size:
        return {**settings, "population_size": pool_size, "population_size_configured": settings["population_size"]}
    return settings


def evaluate_attack(
    attack_path, pool_path, output_path, name: str, fprs, resamples: int, seed: int, delta: float, log: logging.Logger
):
    """attacks/<name>.npz -> metrics/<name>.json: the ROC pooled over the targets (the paper's
    protocol), 95 % bootstrap intervals, the spread across targets, a bootstrap band of the
    ROC on a log-spaced FPR grid for the figure, and the epsilon the scores prove at `delta`
    with 95 % confidence (lira.core.privacy.epsilon_lower_bound), with the content hash of the
    JSON (checked by the tables and the ROC figure)."""
    fingerprint = artifacts.expected_fingerprint(pool_path, seed)
    attack = artifacts.load_npz(attack_path, fingerprint)
    scores = artifacts.check_array(attack_path, "scores", attack["scores"], (None, None))
    is_member = artifacts.check_array(attack_path, "is_member", attack["is_member"], scores.shape)
    row = metrics.summarise(scores, is_member, fprs)
    resolution = float(attack["min_fpr"])
    for fpr in fprs:
        if fpr < resolution:  # e.g. Ye's attack R: no threshold can separate below 1 / OUT shadows
            row[f"tpr@{metrics.fpr_label(fpr)}"] = row[f"fpr_achieved@{metrics.fpr_label(fpr)}"] = None
    grid = np.logspace(np.log10(1.0 / row["non_members"]), 0, 200)
    grid[0] = 1.0 / row["non_members"]  # exactly one negative: logspace may round just below it
    intervals, band = metrics.bootstrap(scores, is_member, fprs, resamples, seed, grid)
    result = {
        "attack": name,
        "fingerprint": fingerprint,
        "settings": json.loads(str(attack["settings"])),
        "targets": int(len(scores)),
        "min_fpr": resolution,
        "pooled": row,
        "bootstrap_95": intervals,
        "bootstrap_resamples": resamples,
        "per_target": metrics.per_target(scores, is_member, fprs),
        "roc_band": {"fpr": grid.tolist(), "tpr_low": band[0].tolist(), "tpr_high": band[1].tolist()},
        "epsilon_lower_bound": privacy.epsilon_lower_bound(scores, is_member, delta, seed=seed),
    }
    artifacts.write_hashed_json(output_path, files.nan_to_none(result))
    log.info("%s: %s", name, row)
