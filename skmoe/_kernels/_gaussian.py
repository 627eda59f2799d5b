"""E-step and variance statistics of a Gaussian mixture of experts."""

import numpy as np
from numba import njit

from ._logspace import normalize_log_rows_inplace


@njit(cache=True)
def gaussian_estep(log_gate, means, variances, y):
    """Posterior responsibilities and per-sample log-likelihood.

    Computes, in log space, ``a_ik = log g_k(x_i) + log N(y_i | mu_ik, nu_k)``,
    ``loglik_i = logsumexp_k a_ik`` and ``resp_ik = exp(a_ik - loglik_i)``.

    Parameters
    ----------
    log_gate : ndarray of shape (n, K), float64, C-contiguous
        Log gating weights; ``-inf`` marks an expert with zero weight.
    means : ndarray of shape (n, K), float64, C-contiguous
        Expert means ``h(x_i; eta_k)``.
    variances : ndarray of shape (K,), float64
        Expert noise variances, strictly positive.
    y : ndarray of shape (n,), float64
        Targets.

    Returns
    -------
    resp : ndarray of shape (n, K)
        Responsibilities; each row sums to one, exact zeros where the gate is 0.
    loglik : ndarray of shape (n,)
        ``log p(y_i | x_i)``.

    Notes
    -----
    Does not modify its inputs; returns new arrays.
    """
    n, K = means.shape
    resp = np.empty((n, K))
    loglik = np.empty(n)
    log_norm = np.empty(K)
    half_prec = np.empty(K)
    for k in range(K):
        log_norm[k] = -0.5 * np.log(2.0 * np.pi * variances[k])
        half_prec[k] = 0.5 / variances[k]
    for i in range(n):
        for k in range(K):
            r = y[i] - means[i, k]
            resp[i, k] = log_gate[i, k] + log_norm[k] - r * r * half_prec[k]
    normalize_log_rows_inplace(resp, loglik)
    return resp, loglik


@njit(cache=True)
def weighted_residual_ss(y, means, R):
    """Weighted residual sums of squares per expert.

    Parameters
    ----------
    y : ndarray of shape (n,), float64
    means : ndarray of shape (n, K), float64, C-contiguous
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights (sample weight times responsibility).

    Returns
    -------
    rss : ndarray of shape (K,)
        ``sum_i R_ik (y_i - means_ik)^2``. Does not modify its inputs.
    """
    n, K = means.shape
    out = np.zeros(K)
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            if r != 0.0:
                e = y[i] - means[i, k]
                out[k] += r * e * e
    return out
