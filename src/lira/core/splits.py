"""Which pool examples each shadow model trains on: the complementary-pair split design.

Model 2j trains on a seeded random half S_j of the pool, model 2j+1 on its complement. So for
every even number of models N each example is IN for exactly N/2 models, and a model's split
depends only on (seed, model index): growing N keeps every existing model valid.

A target is attacked with every model outside its own pair as its shadows (`shadow_models`):
leaving out the target alone would leave its partner, whose membership is the opposite of the
target's on every example, among the shadows, so that a member of the target would have one IN
shadow fewer than a non-member (docs/method.md, "Which models are a target's shadows").
"""

from __future__ import annotations

import numpy as np

# The split design's name and version, part of every artifact's fingerprint (lira.workflow.artifacts): bump
# it whenever keep_mask or model_seed changes, so that models trained under the old design are
# refused instead of being mixed with new ones.
DESIGN = "complementary-pairs/1"
# Which models attack a target: every model but the target and its partner (held_out). Recorded in
# the settings of every attack that uses shadows, so results made with another choice rerun.
SHADOWS_OF_A_TARGET = "all but the target's pair"


# The parts of the pool a population can train on (config `split.part`, `target.population.part`):
# "all" (the whole pool, the default), or one of the two halves "a" and "b" of the pool's seeded
# partition (partition), so that two populations can train on disjoint data (the paper's Fig. 10).
PARTS = ("all", "a", "b")
# Mixed into the partition's seed so that the partition is not the first split of any model.
PARTITION_KEY = 0x5EC7


def partition(seed: int, pool_size: int) -> np.ndarray:
    """Boolean [pool_size] mask of part "a" of the pool (its first pool_size // 2 examples of a
    permutation drawn from `seed`, the experiment's seed); part "b" is the rest. Every
    population of an experiment sees the same partition, whatever its own seed."""
    if pool_size < 4:
        raise ValueError(f"pool_size must be >= 4 to partition the pool, got {pool_size}")
    permutation = np.random.default_rng([seed, PARTITION_KEY]).permutation(pool_size)
    part_a = np.zeros(pool_size, dtype=bool)
    part_a[permutation[: pool_size // 2]] = True
    return part_a


def part_mask(split: dict | None, pool_size: int) -> np.ndarray:
    """Boolean [pool_size] mask of the examples a population with `split` may train on:
    `split` is None or {"part": "all"} (every example), or {"part": "a" | "b", "partition_seed":
    the experiment's seed}."""
    part = (split or {}).get("part", "all")
    if part not in PARTS:
        raise ValueError(f"split.part must be one of {', '.join(PARTS)}, got {part!r}")
    if part == "all":
        return np.ones(pool_size, dtype=bool)
    part_a = partition(split["partition_seed"], pool_size)
    return part_a if part == "a" else ~part_a


def keep_mask(seed: int, model_index: int, pool_size: int, split: dict | None = None) -> np.ndarray:
    """Boolean [pool_size] mask of the examples model `model_index` trains on.

    Model 2j gets the first pool_size // 2 positions of a permutation drawn from (seed, j); model
    2j+1 gets the rest (one more example when pool_size is odd). With a `split` of part "a" or
    "b" (part_mask), the same is done within that part's examples: the models never train on the
    other part, and each of the part's examples is IN for exactly one model of each pair.
    """
    if model_index < 0:
        raise ValueError(f"model_index must be >= 0, got {model_index}")
    if pool_size < 2:
        raise ValueError(f"pool_size must be >= 2, got {pool_size}")
    if split is not None and split.get("part", "all") != "all":
        eligible = np.flatnonzero(part_mask(split, pool_size))  # [pool_size // 2 or so]
        keep = np.zeros(pool_size, dtype=bool)
        keep[eligible[keep_mask(seed, model_index, len(eligible))]] = True
        return keep
    pair, second = divmod(model_index, 2)
    # A SeedSequence keyed by (seed, pair) makes the split independent of how many models exist.
    permutation = np.random.default_rng([seed, pair]).permutation(pool_size)
    first_half = np.zeros(pool_size, dtype=bool)
    first_half[permutation[: pool_size // 2]] = True
    return ~first_half if second else first_half


def keep_matrix(seed: int, n_models: int, pool_size: int, split: dict | None = None) -> np.ndarray:
    """Boolean [n_models, pool_size] matrix whose row i is keep_mask(seed, i, pool_size, split)."""
    return np.stack([keep_mask(seed, i, pool_size, split) for i in range(n_models)])


def partner(model_index: int) -> int:
    """The other model of `model_index`'s complementary pair: 2j <-> 2j + 1. Its keep mask is the
    complement of model_index's (keep_mask). With an odd number of models N, model N - 1's
    partner (N) does not exist: see held_out."""
    if model_index < 0:
        raise ValueError(f"model_index must be >= 0, got {model_index}")
    return model_index ^ 1


def held_out(target: int, n_models: int) -> list[int]:
    """The models that are not shadows of `target` among models 0..n_models-1: the target and its
    partner, ascending (the target alone when its partner is not among them, N odd).

    The remaining models are whole pairs (and, N odd, the unpaired last model), so every example
    has as many IN shadows, and as many OUT shadows, whether or not it is a member of the
    target: (N - 2) / 2 of each for N even. Shadows on both sides need N >= 4; a variance
    estimate on each side, N >= 6."""
    if not 0 <= target < n_models:
        raise ValueError(f"target must be one of the {n_models} models, got {target}")
    return [model for model in sorted({target, partner(target)}) if model < n_models]


def shadow_models(target: int, n_models: int) -> np.ndarray:
    """Boolean [n_models] mask of `target`'s shadow models: every model but held_out(target)."""
    shadows = np.ones(n_models, dtype=bool)
    shadows[held_out(target, n_models)] = False
    return shadows


def model_seed(seed: int, model_index: int) -> int:
    """The seed of model `model_index`'s initialisation and data order, from (seed, index) only."""
    return int(np.random.SeedSequence([seed, model_index, 1]).generate_state(1)[0])


def model_blocks(n_models: int, per_job: int) -> list[str]:
    """Names of the blocks of models the workflow trains (and queries) one job each: consecutive
    model indices, at most `per_job` of them, aligned on multiples of `per_job`, so that adding
    models adds blocks and leaves the earlier blocks and their files as they are (only a partial
    last block is redone). A block is named "first-last", or "i" when it holds model i alone:

        model_blocks(10, 4) == ["0-3", "4-7", "8-9"];  model_blocks(3, 1) == ["0", "1", "2"]
    """
    if per_job < 1:
        raise ValueError(f"models per job must be at least 1, got {per_job}")
    blocks = []
    for first in range(0, n_models, per_job):
        last = min(first + per_job, n_models) - 1
        blocks.append(str(first) if first == last else f"{first}-{last}")
    return blocks


def block_models(name: str) -> range:
    """The model indices of block `name` (model_blocks): "8-11" -> range(8, 12), "5" -> range(5, 6)."""
    first, _, last = name.partition("-")
    try:
        first_index, last_index = int(first), int(last or first)
    except ValueError:
        raise ValueError(f"a block of models is named 'first-last' or 'index', got {name!r}") from None
    if last_index < first_index:
        raise ValueError(f"block {name!r}: its last model comes before its first")
    return range(first_index, last_index + 1)
