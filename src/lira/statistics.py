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


def _split_true_class(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (z_y [...], logits of the other classes [..., classes - 1]) in float64."""
    z = np.asarray(logits, dtype=np.float64)
    labels = np.broadcast_to(np.asarray(labels), z.shape[:-1])
    if z.shape[-1] < 2:
        raise ValueError(f"need at least 2 classes in the last axis, got shape {z.shape}")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= z.shape[-1]:
        raise ValueError(f"labels must lie in [0, {z.shape[-1]}), got {labels.min()}..{labels.max()}")
    true_class = np.take_along_axis(z, labels[..., None], axis=-1)[..., 0]
    is_true = np.arange(z.shape[-1]) == labels[..., None]
    others = z[~is_true].reshape(*z.shape[:-1], z.shape[-1] - 1)
    return true_class, others


def _logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    return (top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))).squeeze(axis)


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi = log(p_y / (1 - p_y)) with p = softmax(z), computed as z_y - logsumexp_{y' != y} z_y'.

    Equal to the naive formula wherever that is finite, and finite wherever the logits are, even
    when p_y rounds to 1 (where the naive formula gives +inf).
    """
    true_class, others = _split_true_class(logits, labels)
    return true_class - _logsumexp(others)


def hinge(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """z_y - max_{y' != y} z_y': the margin of the true class over the runner-up."""
    true_class, others = _split_true_class(logits, labels)
    return true_class - others.max(axis=-1)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy loss -log p_y = logsumexp(z) - z_y, for the LOSS (global threshold) attack."""
    z = np.asarray(logits, dtype=np.float64)
    true_class, _ = _split_true_class(z, labels)
    return _logsumexp(z) - true_class


def modified_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's Mentr(p, y) = -(1 - p_y) log p_y - sum_{y' != y} p_y' log(1 - p_y').

    Low for confidently correct predictions (members), high for confidently wrong ones. log(1 - p)
    is taken as log1p(-p) where p < 1/2 and as logsumexp of the other logits minus logsumexp of
    all where p >= 1/2 (at most one class per example), so it stays finite when p rounds to 1.
    """
    z = np.asarray(logits, dtype=np.float64)
    labels = np.broadcast_to(np.asarray(labels), z.shape[:-1])
    total = _logsumexp(z)[..., None]
    log_p = z - total
    p = np.exp(log_p)
    log_one_minus_p = np.log1p(-np.minimum(p, 0.5))
    top = np.argmax(z, axis=-1)[..., None]
    is_top = np.arange(z.shape[-1]) == top
    others_of_top = _logsumexp(np.where(is_top, -np.inf, z))[..., None]
    log_one_minus_p = np.where(is_top & (p >= 0.5), others_of_top - total, log_one_minus_p)
    is_true = np.arange(z.shape[-1]) == labels[..., None]
    true_term = -np.sum(np.where(is_true, (1.0 - p) * log_p, 0.0), axis=-1)
    other_terms = -np.sum(np.where(is_true, 0.0, p * log_one_minus_p), axis=-1)
    return true_term + other_terms


def all_statistics(logits: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Every per-example statistic the attacks use, each [...] float64, keyed by name."""
    return {
        "logit_scaled_confidence": logit_scaled_confidence(logits, labels),
        "hinge": hinge(logits, labels),
        "loss": cross_entropy(logits, labels),
        "modified_entropy": modified_entropy(logits, labels),
    }


def stacked_statistics(logits: np.ndarray, labels: np.ndarray, names) -> dict[str, np.ndarray]:
    """The statistics `names` of `logits` [..., classes], each float32 [...], as the shadows step
    stacks them: those of all_statistics, and "probability", p_y, for RMIA.

    p_y is exp(-loss) of the float32 loss, so that the two stacks describe the same value to the
    last bit (and stay what the workflow has always stacked).
    """
    computed = {name: value.astype(np.float32) for name, value in all_statistics(logits, labels).items()}
    computed["probability"] = np.exp(-computed["loss"].astype(np.float64)).astype(np.float32)
    unknown = [name for name in names if name not in computed]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}: known are {sorted(computed)}")
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
