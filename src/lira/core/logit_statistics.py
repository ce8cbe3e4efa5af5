"""Per-example statistics computed from a model's logits (numpy only).

Everything here works on logits `z` of shape [..., classes] and integer labels broadcastable to
z.shape[:-1]. Results are float64: the attack compares values that differ in the 10th digit for
examples a model is very sure about, so nothing goes through probabilities. The shadows step
stores them as float32 (stacked_statistics, write_stacked_statistics).
"""

from __future__ import annotations

import math

import numpy as np

STATISTICS = ("logit_scaled_confidence", "hinge")
# Every statistic all_statistics computes, and those the shadows step stacks over models for the
# attacks (stacked_statistics): the same plus the probability of the true label, for RMIA.
ALL_STATISTICS = ("logit_scaled_confidence", "hinge", "loss", "modified_entropy")
STACKED_STATISTICS = ALL_STATISTICS + ("probability",)


# Internally the class axis comes first, z [classes, ...]: a reduction over classes is then a few
# element-wise passes over long contiguous rows, where over a last axis of 10 classes numpy runs
# one short inner loop per example, which is several times slower.


def _class_first(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z [classes, ...] float64, contiguous; labels broadcast to z.shape[1:]), checked."""
    logits = np.asarray(logits)
    if logits.ndim == 0 or logits.shape[-1] < 2:
        raise ValueError(f"need at least 2 classes in the last axis, got shape {logits.shape}")
    labels = np.broadcast_to(np.asarray(labels), logits.shape[:-1])
    classes = logits.shape[-1]
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= classes:
        raise ValueError(f"labels must lie in [0, {classes}), got {labels.min()}..{labels.max()}")
    z = np.empty((classes, *logits.shape[:-1]))
    np.copyto(z, np.moveaxis(logits, -1, 0))  # to float64, exact
    return z, labels


def _logsumexp(z: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    """log sum_c exp(z_c) over the class axis 0 (-inf entries count for nothing); `top`, the
    maximum over that axis, when already at hand."""
    top = z.max(axis=0) if top is None else top
    return top + np.log(np.exp(z - top).sum(axis=0))


def _modified_entropy(z: np.ndarray, is_true: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Mentr from z [classes, ...], the true classes and total = logsumexp(z) [...]."""
    log_p = z - total
    p = np.exp(log_p)
    log_one_minus_p = np.log1p(-np.minimum(p, 0.5))
    is_top = np.arange(len(z)).reshape(-1, *([1] * total.ndim)) == z.argmax(axis=0)
    others_of_top = _logsumexp(np.where(is_top, -np.inf, z))
    log_one_minus_p = np.where(is_top & (p >= 0.5), others_of_top - total, log_one_minus_p)
    true_term = -np.where(is_true, (1.0 - p) * log_p, 0.0).sum(axis=0)
    other_terms = -np.where(is_true, 0.0, p * log_one_minus_p).sum(axis=0)
    return true_term + other_terms


def all_statistics(logits: np.ndarray, labels: np.ndarray, names=ALL_STATISTICS) -> dict[str, np.ndarray]:
    """The per-example statistics `names` (default: every one the attacks use) of logits
    [..., classes] with labels broadcastable to logits.shape[:-1]; each [...] float64:

    - logit_scaled_confidence: phi = log(p_y / (1 - p_y)) with p = softmax(z), computed as
      z_y - logsumexp_{y' != y} z_y': equal to the naive formula wherever that is finite, and
      finite wherever the logits are, even when p_y rounds to 1 (where the naive formula is +inf);
    - hinge: z_y - max_{y' != y} z_y', the margin of the true class over the runner-up;
    - loss: the cross-entropy -log p_y = logsumexp(z) - z_y (the LOSS attack);
    - modified_entropy: Song & Mittal's Mentr(p, y) = -(1 - p_y) log p_y
      - sum_{y' != y} p_y' log(1 - p_y'), low for confidently correct predictions (members).
      log(1 - p) is taken as log1p(-p) where p < 1/2 and as logsumexp of the other logits minus
      logsumexp of all where p >= 1/2 (at most one class per example), so it stays finite when
      p rounds to 1.
    """
    unknown = [name for name in names if name not in ALL_STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}: known are {list(ALL_STATISTICS)}")
    z, labels = _class_first(logits, labels)
    is_true = np.arange(len(z)).reshape(-1, *([1] * labels.ndim)) == labels  # [classes, ...]
    true_class = np.take_along_axis(z, labels[None], axis=0)[0]  # z_y
    results = {}
    if "logit_scaled_confidence" in names or "hinge" in names:
        others = np.where(is_true, -np.inf, z)
        runner_up = others.max(axis=0)
        results["logit_scaled_confidence"] = true_class - _logsumexp(others, top=runner_up)
        results["hinge"] = true_class - runner_up
    if "loss" in names or "modified_entropy" in names:
        total = _logsumexp(z)
        results["loss"] = total - true_class
        if "modified_entropy" in names:
            results["modified_entropy"] = _modified_entropy(z, is_true, total)
    return {name: results[name] for name in names}


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log(p_y / (1 - p_y)), computed from the logits (all_statistics)."""
    return all_statistics(logits, labels, ["logit_scaled_confidence"])["logit_scaled_confidence"]


def hinge(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """z_y - max_{y' != y} z_y' (all_statistics)."""
    return all_statistics(logits, labels, ["hinge"])["hinge"]


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """-log p_y = logsumexp(z) - z_y (all_statistics)."""
    return all_statistics(logits, labels, ["loss"])["loss"]


def modified_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's Mentr(p, y) (all_statistics)."""
    return all_statistics(logits, labels, ["modified_entropy"])["modified_entropy"]


def stacked_statistics(logits: np.ndarray, labels: np.ndarray, names) -> dict[str, np.ndarray]:
    """The statistics `names` of `logits` [..., classes], each float32 [...], as the shadows step
    stacks them: those of all_statistics, and "probability", p_y, for RMIA.

    p_y is exp(-loss) of the float32 loss, so that the two stacks describe the same value to the
    last bit (and stay what the workflow has always stacked).
    """
    unknown = [name for name in names if name not in STACKED_STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}: known are {list(STACKED_STATISTICS)}")
    needed = [name for name in ALL_STATISTICS if name in names or (name == "loss" and "probability" in names)]
    computed = {name: value.astype(np.float32) for name, value in all_statistics(logits, labels, needed).items()}
    if "probability" in names:
        computed["probability"] = np.exp(-computed["loss"].astype(np.float64)).astype(np.float32)
    return {name: computed[name] for name in names}


def write_stacked_statistics(
    stacks: dict[str, np.ndarray], rows: slice, logits: np.ndarray, labels: np.ndarray, values_per_chunk: int = 1 << 17
) -> None:
    """Write the statistics of a block of models' logits [models, pool, queries, classes], labels
    [pool], into rows `rows` of each stack [N, pool, queries] in `stacks` (name -> array, e.g. a
    memory map), a chunk of examples at a time.

    The chunks keep the float64 intermediates (about ten arrays the size of the chunk's logits) in
    the cache rather than ten times the block's logits in memory, which also halves the time;
    every statistic is per example, so the values equal those of one call on the whole block.
    """
    models, pool = logits.shape[:2]
    step = max(1, values_per_chunk // (models * math.prod(logits.shape[2:])))
    for start in range(0, pool, step):
        chunk = slice(start, min(start + step, pool))
        for name, value in stacked_statistics(logits[:, chunk], labels[None, chunk, None], list(stacks)).items():
            stacks[name][rows, chunk] = value


# --- LiRA's input statistic compared (the paper's Figure 8) ----------------------------------------
#
# Six candidate statistics for the Gaussians, from the same logits. The first three go through the
# probabilities f = softmax(z) as a model outputs them, in float32 (PROBABILITY_DTYPE): that is
# where the naive logit log f_y - log(1 - f_y) saturates (1 - f_y is 0 once f_y rounds to 1, for
# z_y - logsumexp_{y' != y} z_y' above about 16.6), hence "unstable". Logs are taken in float64 of
# (x + LOG_EPSILON), so a saturated value is finite (log 1e-45 = -103.6) rather than infinite.
INPUT_STATISTICS = ("confidence", "log_confidence", "unstable_logit", "logit_scaled_confidence", "logit", "hinge")
PROBABILITY_DTYPE = np.float32
LOG_EPSILON = 1e-45


def softmax(logits: np.ndarray, dtype=PROBABILITY_DTYPE) -> np.ndarray:
    """f = softmax(z) over the last axis, in `dtype` (default float32, a model's output):
    exp(z - max z) / sum exp(z - max z), the order of operations of scipy.special.softmax."""
    z = np.asarray(logits, dtype=dtype)
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def input_statistics(logits: np.ndarray, labels: np.ndarray, names=INPUT_STATISTICS) -> dict[str, np.ndarray]:
    """The candidate inputs of LiRA `names` (INPUT_STATISTICS) of logits [..., classes] with labels
    broadcastable to logits.shape[:-1], each [...] float64, higher = more member-like:

    - confidence: f_y, f = softmax(z) in float32;
    - log_confidence: log(f_y + eps) (minus the cross-entropy, through f);
    - unstable_logit: log(f_y + eps) - log(1 - f_y + eps), 1 - f_y taken in float32;
    - logit_scaled_confidence: the stable logit z_y - logsumexp_{y' != y} z_y' (all_statistics);
    - logit: the raw logit z_y;
    - hinge: z_y - max_{y' != y} z_y' (all_statistics).
    """
    unknown = [name for name in names if name not in INPUT_STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}: known are {list(INPUT_STATISTICS)}")
    logits = np.asarray(logits)
    labels = np.broadcast_to(np.asarray(labels), logits.shape[:-1])
    results = {}
    if {"confidence", "log_confidence", "unstable_logit"} & set(names):
        f_true = np.take_along_axis(softmax(logits), labels[..., None], axis=-1)[..., 0]  # [...], float32
        results["confidence"] = f_true.astype(np.float64)
        results["log_confidence"] = np.log(results["confidence"] + LOG_EPSILON)
        one_minus = (PROBABILITY_DTYPE(1) - f_true).astype(np.float64)  # 0 where f_y rounds to 1
        results["unstable_logit"] = results["log_confidence"] - np.log(one_minus + LOG_EPSILON)
    stable = [name for name in ("logit_scaled_confidence", "hinge") if name in names]
    if stable:
        results.update(all_statistics(logits, labels, stable))
    if "logit" in names:
        results["logit"] = np.take_along_axis(logits, labels[..., None], axis=-1)[..., 0].astype(np.float64)
    return {name: results[name] for name in names}


def stacked_input_statistics(logits: np.ndarray, labels: np.ndarray, names=INPUT_STATISTICS, values_per_chunk: int = 1 << 17):
    """input_statistics of a block of models' logits [models, pool, queries, classes], labels
    [pool], each float32 [models, pool, queries] as the shadows step stores its statistics (so the
    logit-scaled confidence and hinge equal the shadows' stacks bit for bit), a chunk of examples
    at a time."""
    models, pool = logits.shape[:2]
    stacks = {name: np.empty(logits.shape[:-1], dtype=np.float32) for name in names}
    step = max(1, values_per_chunk // (models * math.prod(logits.shape[2:])))
    for start in range(0, pool, step):
        chunk = slice(start, min(start + step, pool))
        for name, value in input_statistics(logits[:, chunk], labels[None, chunk, None], names).items():
            stacks[name][:, chunk] = value
    return stacks
