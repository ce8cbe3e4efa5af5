"""Auditing a target that is not among the shadow models (docs/audit.md): the numpy jobs between
the target's logits and its scores.

A target comes in one of three forms (config `target`): a population of models the workflow
trains (its logits made by the logits job, one file per block), a model trained elsewhere given
as weights (its logits made by lira.models.jobs.query_target), or its logits computed elsewhere
(import_target_logits). Every form ends as the same artifact, audits/<name>/targets.npz: the
targets' per-example statistics [T, pool, queries], their membership [T, pool] where known, and a
description of where they came from (target_statistics). score_target then scores them against
every shadow model. Files the user gives are refused in one line naming the config key, the file
and what was expected (TargetError).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from lira.core import attacks, splits
from lira.core.logit_statistics import STACKED_STATISTICS, write_stacked_statistics
from lira.core.queries import query_set
from lira.workflow import artifacts, config, files, steps


class TargetError(files.ReportedError, ValueError):
    """A file given for the target (its logits, its membership) is not what it must be, or the
    target differs from its shadows in a way the config does not declare. One line."""


# --- the target's own files ------------------------------------------------------------------------

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_target_logits(path, pool_size: int, n_queries: int, n_classes: int) -> np.ndarray:
    """The user's logits file: .npy, float [pool, queries, classes] (or [1, pool, queries, classes]),
    in the pool's order (results/<experiment>/pool.npz) and under the queries of
    results/<experiment>/queries.json. Returns float32 [1, pool, queries, classes]; refuses
    pickles, other shapes, non-float values, NaN or infinite values, and values beyond float32."""
    key = f"target.logits={str(path)!r}"
    try:
        logits = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TargetError(f"{key}: not a readable .npy array ({first})") from None
    expected = [pool_size, n_queries, n_classes]
    if logits.ndim == 4 and logits.shape[0] == 1:
        logits = logits[0]
    if list(logits.shape) != expected:
        raise TargetError(
            f"{key}: shape {list(logits.shape)}, expected {expected} (pool examples in the order of pool.npz, "
            "queries as listed in queries.json, classes)"
        )
    if logits.dtype.kind != "f":
        raise TargetError(f"{key}: dtype {logits.dtype}, expected floating-point logits")
    bad = ~np.isfinite(logits)
    if bad.any():
        first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), logits.shape)]
        raise TargetError(f"{key}: {int(bad.sum())} NaN or infinite values (the first at [example, query, class] {first})")
    if logits.dtype.itemsize > 4 and np.abs(logits).max() > _FLOAT32_MAX:  # float16/32 always fit
        raise TargetError(f"{key}: values beyond float32's range")
    return logits.astype(np.float32)[None]


def import_target_logits(pool_path, source, logits_path, info_path, seed: int, query_settings: dict, log) -> None:
    """target.logits (the user's file) -> audits/<name>/logits/target.npy, float32 [1, pool,
    queries, classes], with its sidecar (fingerprint of the pool, the file's sha256), as the
    weights form's query job writes them."""
    pool = artifacts.load_pool(pool_path)
    queries = query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"])
    logits = read_target_logits(source, len(pool["y"]), len(queries), int(pool["num_classes"]))
    artifacts.write_array_with_info(
        logits_path,
        info_path,
        logits,
        fingerprint=artifacts.expected_fingerprint(pool_path, seed),
        models=[0],
        queries=len(queries),
        source="logits",
        logits=str(source),
        logits_sha256=artifacts.file_sha256(source),
        query_settings=query_settings,
    )
    log.info("imported logits %s from %s", list(logits.shape), source)


def read_membership(path, pool: dict) -> np.ndarray:
    """Which pool examples the target trained on, bool [pool], from the user's file:

    - .txt or .csv: one integer per line, the examples' indices in the dataset's training split
      (pool.npz's source_index; for an npz dataset, the rows of its file);
    - .npy of integers: the same indices;
    - .npy of booleans [pool]: a mask in the pool's order.

    Every index must be one of the pool's examples, listed once; the pool must keep at least one
    member and one non-member (a ROC needs both)."""
    key = f"target.membership={str(path)!r}"
    source_index = pool["source_index"]
    try:
        if Path(path).suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            text = Path(path).read_text().replace(",", "\n").split()
            values = np.array([int(token) for token in text], dtype=np.int64)
    except (OSError, ValueError, EOFError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TargetError(f"{key}: unreadable ({first}); expected one dataset index per line, or a .npy") from None
    if values.dtype == bool:
        if values.shape != source_index.shape:
            raise TargetError(
                f"{key}: a mask of {values.size} values, expected one per pool example ({len(source_index)}, "
                "in the order of pool.npz)"
            )
        is_member = values.copy()
    elif values.dtype.kind in "iu" and values.ndim == 1:
        unique, counts = np.unique(values, return_counts=True)
        if (counts > 1).any():
            raise TargetError(f"{key}: index {int(unique[np.argmax(counts > 1)])} is listed {int(counts.max())} times")
        outside = np.setdiff1d(unique, source_index)
        if len(outside):
            raise TargetError(
                f"{key}: names {len(outside)} examples outside the pool (e.g. index {int(outside[0])}); every member "
                "must be one of the pool's examples (pool.npz's source_index)"
            )
        is_member = np.isin(source_index, unique)
    else:
        raise TargetError(f"{key}: {values.dtype} [{', '.join(map(str, values.shape))}], expected integer indices or a bool mask")
    if is_member.all() or not is_member.any():
        which = "every" if is_member.all() else "no"
        raise TargetError(f"{key}: {which} pool example is a member; the audit needs members and non-members in the pool")
    return is_member


# --- the targets' statistics ------------------------------------------------------------------------


def recorded_settings(metrics_paths, expected: str) -> dict:
    """The model and recipe that models/<block>.json files record (lira.models.jobs.train_block),
    the same for every model, checked against the fingerprint `expected`."""
    found = {}
    for path in metrics_paths:
        for model in artifacts.load_json(path, expected).get("models", []):
            settings = json.dumps(model.get("settings"), sort_keys=True)
            found.setdefault(settings, model.get("model"))
    if len(found) != 1:
        raise artifacts.ArtifactError(f"{metrics_paths[0]}: its models record {len(found)} different settings, not one")
    return json.loads(next(iter(found)))


def check_declared(shadows: dict, target: dict, declared, where: str) -> None:
    """The target's recorded model and recipe (`target`: {"model", "train"}, a missing key is
    unknown) must equal the shadows' (`shadows`), unless the difference is declared."""
    for key in ("model", "train"):
        if key in target and target[key] != shadows[key] and key not in declared:
            raise TargetError(
                f"{where}: the target's {key} {json.dumps(target[key], sort_keys=True)} differs from the shadows' "
                f"{json.dumps(shadows[key], sort_keys=True)}; declare it with target.mismatch: [{key}] (docs/audit.md)"
            )


def target_statistics(inputs, output_path, form: str, seed: int, target: dict, log: logging.Logger) -> None:
    """The target's logits -> audits/<name>/targets.npz: each statistic of STACKED_STATISTICS,
    float32 [T, pool, queries], is_member bool [T, pool] (absent without ground truth), and
    `description` (JSON: the form, the source files' sha256, the declared differences).

    `inputs`: pool, logits and logits_info (one file each per block, or the single target's),
    shadow_models (the shadows' models/<block>.json), target_models (a population's) and
    membership (the user's file, for the weights and logits forms, if any). `target`: the config's
    target section, completed with the model and recipe (the shadows' where it names none).
    The shadows' recorded model and recipe are compared with the target's (check_declared)."""
    pool = artifacts.load_pool(inputs.pool)
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    labels = pool["y"]  # [pool]
    shadows = recorded_settings(list(inputs.shadow_models), fingerprint)
    declared = target["mismatch"]
    n_classes = int(pool["num_classes"])
    description = {"form": form, "mismatch_declared": declared}
    if form == "population":
        population_seed = target["population"]["seed"]
        expected = artifacts.expected_fingerprint(inputs.pool, population_seed)
        recorded = recorded_settings(list(inputs.target_models), expected)
        check_declared(shadows, recorded, declared, inputs.target_models[0])
        blocks = [(path, info) for path, info in zip(inputs.logits, inputs.logits_info, strict=True)]
        n_targets = target["population"]["models"]
        split = config.population_split(target, seed)  # its part of the pool, None for the whole
        is_member = splits.keep_matrix(population_seed, n_targets, len(labels), split)  # [T, pool]
        description.update(models=n_targets, seed=population_seed, **recorded)
    else:
        expected = fingerprint
        blocks = [(inputs.logits[0], inputs.logits_info[0])]
        n_targets = 1
        is_member = read_membership(inputs.membership, pool)[None] if target.get("membership") else None
        described = {"model": target["model"]} if form == "weights" else {}
        check_declared(shadows, described, declared, f"target.{form}")
        description.update(models=1, model=target["model"], train=target["train"])
        if is_member is not None:
            description.update(membership=str(target["membership"]), membership_sha256=artifacts.file_sha256(inputs.membership))

    stacks, first = None, 0  # stacks: name -> float32 [T, pool, queries], allocated from the first file's shape
    for path, info_path in blocks:
        info = artifacts.load_json(info_path, expected)
        models = info.get("models", [])
        shape = (len(models), len(labels), info.get("queries"), n_classes)
        logits, info = artifacts.load_array_with_info(path, info_path, expected, "logits", shape)
        if stacks is None:
            stacks = {name: np.empty((n_targets, len(labels), shape[2]), np.float32) for name in STACKED_STATISTICS}
        rows = slice(first, first + len(models))
        write_stacked_statistics(stacks, rows, logits, labels)
        for name in STACKED_STATISTICS:  # finite logits can still give statistics beyond float32's range
            artifacts.check_array(path, name, stacks[name][rows])
        for source in ("weights", "logits"):
            if f"{source}_sha256" in info:
                description.update({source: info[source], f"{source}_sha256": info[f"{source}_sha256"]})
        first += len(models)
    if first != n_targets:
        raise artifacts.ArtifactError(f"{blocks[-1][1]}: the logits hold {first} targets, expected {n_targets}")
    arrays = {**stacks, "fingerprint": np.array(fingerprint), "description": np.array(json.dumps(description, sort_keys=True))}
    if is_member is not None:
        arrays["is_member"] = is_member
    if form == "population" and split is not None:
        # A population on one part of the pool: its members and non-members are that part's
        # examples, int pool indices [C]; the audit scores these only (score_target).
        arrays["candidates"] = np.flatnonzero(splits.part_mask(split, len(labels)))
    artifacts.save_npz(output_path, **arrays)
    log.info("target statistics of %d models (%s), membership %s", n_targets, form, "known" if is_member is not None else "unknown")


# --- scoring ---------------------------------------------------------------------------------------


def score_target(inputs, output_path, name: str, settings: dict, seed: int, query_settings: dict, log: logging.Logger):
    """shadows/*.npy + fit.npz + audits/<name>/targets.npz -> audits/<name>/attacks/<attack>.npz:
    scores float64 [T, pool] of every target against every shadow model (higher = member),
    is_member bool [T, pool] where known, the smallest FPR the attack resolves, its settings and
    the fingerprint of the pool, with the content hash of its arrays."""
    labels = artifacts.load_pool(inputs.pool)["y"]
    fingerprint = artifacts.expected_fingerprint(inputs.pool, seed)
    shadows, keep, fits = steps.load_shadows_and_fits(inputs, fingerprint, seed)  # [N, pool, Q], keep [N, pool]
    targets = artifacts.load_npz(inputs.targets, fingerprint)
    external = {}
    for statistic in shadows:
        shape = (None, len(labels), shadows[statistic].shape[2])
        external[statistic] = artifacts.check_array(inputs.targets, statistic, targets[statistic], shape)
    queries = steps.attack_queries(settings, query_settings)
    candidates = targets.get("candidates")  # int [C]: a population on one part of the pool
    check_candidates(name, settings, keep, candidates)
    scores, min_fpr = attacks.run(settings, shadows, keep, labels, fits, queries, external, candidates)
    if not np.all(np.isfinite(scores)):
        raise FloatingPointError(f"{name}: {np.count_nonzero(~np.isfinite(scores))} scores are NaN or infinite")
    arrays = {
        "scores": scores,
        "targets": np.arange(len(scores)),
        "min_fpr": np.float64(min_fpr),
        "settings": np.array(json.dumps(settings, sort_keys=True)),
        "fingerprint": np.array(fingerprint),
    }
    if "is_member" in targets:
        arrays["is_member"] = targets["is_member"] if candidates is None else targets["is_member"][:, candidates]
    if candidates is not None:
        arrays["candidates"] = candidates
    artifacts.save_npz(output_path, **arrays)
    log.info("audit %s %s: scores %s against %d shadow models", name, settings, scores.shape, len(keep))


def check_candidates(name: str, settings: dict, keep: np.ndarray, candidates) -> None:
    """An online attack needs, for every example it scores, shadows that train on it, and every
    attack shadows that do not: with shadows on one part of the pool (config `split`) and the
    target on the other, only the offline attacks are defined. One line, before any scoring."""
    columns = slice(None) if candidates is None else np.asarray(candidates)
    keep = np.asarray(keep, dtype=bool)[:, columns]
    never_in, never_out = int((~keep.any(axis=0)).sum()), int(keep.all(axis=0).sum())
    if settings["family"] in attacks.ONLINE_FAMILIES and never_in:
        raise TargetError(
            f"attack {name}: online, but no shadow trains on {never_in} of the {keep.shape[1]} examples audited "
            "(config split.part other than the target's part): only the offline attacks are defined there"
        )
    if never_out:
        raise TargetError(f"attack {name}: every shadow trains on {never_out} of the examples audited; none is OUT")


def write_query_list(path, query_settings: dict) -> None:
    """queries.json: the queries every model is asked about, in the order of the logits' query
    axis, so that logits computed outside the workflow (target.logits) line up with the shadows'."""
    queries = query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"])
    files.write_json(
        path,
        {
            "how": (
                "for each query: mirror the image left-right if mirror is true, then shift its content by dx "
                "pixels right and dy pixels down, filling the uncovered border by `padding` (reflect: "
                "numpy.pad mode 'reflect'; zeros: 0); query 0 is the image as it is"
            ),
            "padding": query_settings["padding"],
            "queries": [{"index": i, "mirror": q.mirror, "dx": q.dx, "dy": q.dy} for i, q in enumerate(queries)],
            "logits_shape": "[pool, queries, classes], float, the pool in the order of pool.npz (x, y, source_index)",
        },
    )
