"""Membership-inference attacks on arrays of per-example statistics (numpy/scipy only).

Every attack returns a score per (target, example), [T, n]: higher means "member". Inputs are
the targets' own statistics [T, n, Q] (Q queries) and, for LiRA, the leave-one-out Gaussian
parameters of lira.gaussian.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from .gaussian import GaussianParams

OFFLINE_TESTS = ("one-sided", "two-sided")


def log_normal_pdf(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """log N(x; mean, var), elementwise."""
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def lira_online(target_phi: np.ndarray, params: GaussianParams, global_variance: bool = False) -> np.ndarray:
    """Online LiRA (paper, Algorithm 1), averaged over queries q:

        score = mean_q [ log N(phi_q; mu_in, var_in) - log N(phi_q; mu_out, var_out) ]

    with per-example variances, or with the variances pooled over all examples
    (`global_variance`), which is the better choice below ~64 shadow models.
    """
    var_in = params.var_in_global if global_variance else params.var_in
    var_out = params.var_out_global if global_variance else params.var_out
    log_ratio = log_normal_pdf(target_phi, params.mean_in, var_in) - log_normal_pdf(
        target_phi, params.mean_out, var_out
    )
    return log_ratio.mean(axis=-1)


def lira_offline(
    target_phi: np.ndarray,
    params: GaussianParams,
    global_variance: bool = False,
    test: str = "one-sided",
) -> np.ndarray:
    """Offline LiRA: only the OUT shadows are used.

    one-sided (paper, Eq. 4): score = mean_q log Phi((phi_q - mu_out) / sd_out); only unusually
        high confidence counts as evidence of membership.
    two-sided (reference code): score = mean_q -log N(phi_q; mu_out, var_out); any unusual value,
        high or low, counts.
    """
    var_out = params.var_out_global if global_variance else params.var_out
    if test == "one-sided":
        per_query = log_ndtr((target_phi - params.mean_out) / np.sqrt(var_out))
    elif test == "two-sided":
        per_query = -log_normal_pdf(target_phi, params.mean_out, var_out)
    else:
        raise ValueError(f"offline test must be one of {OFFLINE_TESTS}, got {test!r}")
    return per_query.mean(axis=-1)


def global_threshold(target_loss: np.ndarray) -> np.ndarray:
    """Yeom et al.'s LOSS attack: score = -loss on the un-augmented query (index 0), compared with
    one threshold shared by all examples. Needs no shadow models."""
    return -np.asarray(target_loss, dtype=np.float64)[..., 0]
