"""How Gaussian the per-example distributions across shadow models are (the paper's Figure 4):
per example, a normality test and the skewness of the IN values and of the OUT values, and their
summary over examples with bootstrap intervals (numpy/scipy only).

Shapes: N models, n examples; values [N, n] (one query), keep [N, n].
"""

from __future__ import annotations

import warnings

import numpy as np

# Level of the per-example normality test: under Gaussian data it rejects this share of examples.
ALPHA = 0.05
TEST = "shapiro"  # Shapiro-Wilk, the most powerful of the usual tests for groups of ~N/2 values


def group_values(values: np.ndarray, keep: np.ndarray, member: bool) -> list[np.ndarray]:
    """Per example, the values [count] of the models that did (member) or did not train on it."""
    values = np.asarray(values, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    return [values[keep[:, x] == member, x] for x in range(values.shape[1])]


def shapiro_p_values(groups: list[np.ndarray]) -> np.ndarray:
    """The Shapiro-Wilk p-value of each group [n] (NaN for fewer than 3 values). A group of
    identical values (range zero) is as non-Gaussian as it gets: p = 0."""
    from scipy.stats import shapiro

    p_values = np.full(len(groups), np.nan)
    for index, group in enumerate(groups):
        if len(group) < 3:
            continue
        if np.ptp(group) == 0:
            p_values[index] = 0.0
            continue
        with warnings.catch_warnings():  # scipy warns that p may be inaccurate for N > 5000: never here
            warnings.simplefilter("ignore")
            p_values[index] = shapiro(group).pvalue
    return p_values


def skewness(groups: list[np.ndarray]) -> np.ndarray:
    """The sample skewness (biased, scipy.stats.skew's default) of each group [n]; 0 for a group of
    identical values, NaN for an empty one."""
    result = np.full(len(groups), np.nan)
    for index, group in enumerate(groups):
        if len(group) == 0:
            continue
        centred = group - group.mean()
        spread = np.mean(centred**2)
        result[index] = 0.0 if spread == 0 else np.mean(centred**3) / spread**1.5
    return result


def per_example(values: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """Per example [n]: p-values and skewness of the IN and of the OUT values (p_in, p_out,
    skew_in, skew_out)."""
    result = {}
    for group, member in (("in", True), ("out", False)):
        groups = group_values(values, keep, member)
        result[f"p_{group}"] = shapiro_p_values(groups)
        result[f"skew_{group}"] = skewness(groups)
    return result


def _summary(p_values: np.ndarray, skews: np.ndarray, alpha: float) -> dict[str, float]:
    """Share of tests rejecting at `alpha` and median |skewness|, over every entry (NaN: left out)."""
    tested = ~np.isnan(p_values)
    return {
        "rejected": float(np.mean(p_values[tested] < alpha)) if tested.any() else float("nan"),
        "median_abs_skew": float(np.nanmedian(np.abs(skews))) if np.any(~np.isnan(skews)) else float("nan"),
    }


def summarise(tests: dict[str, np.ndarray], alpha: float = ALPHA, resamples: int = 200, seed: int = 0) -> dict:
    """Over examples, for the IN values, the OUT values and both together ("all"): the share of
    examples whose normality is rejected at `alpha` and the median |skewness|, each with a 95 %
    percentile interval from resampling the examples (with replacement; an example's IN and OUT
    tests move together). tests: per_example's output. Returns {group: {statistic: value,
    statistic_low: ..., statistic_high: ...}}, plus "examples"."""
    n = len(tests["p_in"])
    groups = {
        "in": (tests["p_in"][None], tests["skew_in"][None]),
        "out": (tests["p_out"][None], tests["skew_out"][None]),
        "all": (np.stack([tests["p_in"], tests["p_out"]]), np.stack([tests["skew_in"], tests["skew_out"]])),
    }
    rng = np.random.default_rng([seed, 0x4E0B])
    draws = [rng.integers(0, n, n) for _ in range(resamples)]
    result = {"examples": n}
    for name, (p_values, skews) in groups.items():
        row = _summary(p_values.ravel(), skews.ravel(), alpha)
        samples = [_summary(p_values[:, d].ravel(), skews[:, d].ravel(), alpha) for d in draws]
        for key, value in list(row.items()):
            spread = np.array([s[key] for s in samples])
            spread = spread[~np.isnan(spread)]
            low, high = np.percentile(spread, [2.5, 97.5]) if spread.size else (np.nan, np.nan)
            row[f"{key}_low"], row[f"{key}_high"] = float(low), float(high)
        result[name] = row
    return result
