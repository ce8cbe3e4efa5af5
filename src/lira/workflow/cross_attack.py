"""A cross grid's attack (config grid.cross, docs/grids.md): every point's first attack.targets
models attacked with every other point's models as shadows (lira.core.attacks.cross_scores), and
with its own (the point's leave-pair-out attack, already computed): the paper's Fig. 11, where
the attacker guesses the target's training recipe right or wrong.

Each point is an experiment in results/<experiment>-<point>/ over the same pool (the grid checks
the settings at parse time; here the pools' content, through their fingerprints).
"""

from __future__ import annotations

import logging

import numpy as np

from lira.core import attacks
from lira.core.logit_statistics import STACKED_STATISTICS
from lira.workflow import artifacts, steps


def point_folder(point: dict) -> str:
    return f"results/{point['experiment']}"


def shadow_paths(point: dict) -> dict:
    """The shadows step's files of a point, as artifacts.load_shadows takes them."""
    folder = point_folder(point)
    return {
        **{name: f"{folder}/shadows/{name}.npy" for name in [*STACKED_STATISTICS, "keep"]},
        "info": f"{folder}/shadows/info.json",
    }


def pair_key(target: str, shadow: str) -> str:
    """The name of a pair's scores in cross.npz."""
    return f"scores.{target}.{shadow}"


def score_cross(output_path, points: list[dict], pairs, settings: dict, query_settings: dict, attack: str, log: logging.Logger):
    """Every point's shadows and attacks/<attack>.npz -> cross.npz: for each pair (target point T,
    shadow point S) of `pairs`, scores float64 [T's attack.targets, pool] (pair_key), and per
    point its targets' membership, is_member.<point> bool [targets, pool], with the pool's
    fingerprint. `settings`: the attack's audit settings (lira.workflow.catalog.audit_settings)
    of each shadow point, by name."""
    by_name = {point["name"]: point for point in points}
    pools = {name: f"{point_folder(point)}/pool.npz" for name, point in by_name.items()}
    fingerprints = {name: artifacts.expected_fingerprint(pools[name], point["seed"]) for name, point in by_name.items()}
    first = points[0]["name"]
    for name, fingerprint in fingerprints.items():
        if fingerprint != fingerprints[first]:
            raise artifacts.ArtifactError(
                f"{pools[name]}: another pool or split than {pools[first]}'s (fingerprint {fingerprint} vs "
                f"{fingerprints[first]}); grid.cross needs every point on the same pool and seed"
            )
    fingerprint = fingerprints[first]
    labels = artifacts.load_pool(pools[first])["y"]  # [pool]
    loaded = {}  # point -> (stacks [N, pool, Q] by statistic, keep [N, pool])

    def population(name):
        if name not in loaded:
            loaded[name] = artifacts.load_shadows(shadow_paths(by_name[name]), fingerprint, by_name[name]["seed"])[:2]
        return loaded[name]

    arrays = {"fingerprint": np.array(fingerprint)}
    for target, shadow in pairs:
        n_targets = by_name[target]["targets"]
        if target == shadow:  # the point's own leave-pair-out attack
            matched = artifacts.load_npz(f"{point_folder(by_name[target])}/attacks/{attack}.npz", fingerprint)
            scores = np.asarray(matched["scores"])
        else:
            stacks, keep = population(shadow)
            target_stacks, _ = population(target)
            target_values = {name: np.asarray(target_stacks[name][:n_targets]) for name in stacks}  # [T, pool, Q]
            queries = steps.attack_queries(settings[shadow], query_settings)
            scores = attacks.cross_scores(settings[shadow], target_values, stacks, keep, labels, queries)
        if scores.shape != (n_targets, len(labels)) or not np.all(np.isfinite(scores)):
            raise FloatingPointError(f"cross attack of {target}'s models with {shadow}'s: scores {scores.shape}, not all finite")
        arrays[pair_key(target, shadow)] = scores
        arrays[f"is_member.{target}"] = population(target)[1][:n_targets]
        log.info("cross %s: %s's %d models with %s's shadows", attack, target, n_targets, shadow)
    artifacts.save_npz(output_path, **arrays)
