"""E-step and variance statistics of a Gaussian mixture of experts."""

import numpy as np
from numba import prange

from ..utils._numba_cache import njit
from ._chunks import N_CHUNKS, chunk_bounds
from ._logspace import log_normalize_row, normalize_log_row_inplace, prior_row_inplace


@njit(cache=True)
def _normal_constants(variances):
    """``-log(2 pi nu_k) / 2`` and ``1 / (2 nu_k)`` for every expert."""
    K = variances.shape[0]
    log_norm = np.empty(K)
    half_prec = np.empty(K)
    for k in range(K):
        log_norm[k] = -0.5 * np.log(2.0 * np.pi * variances[k])
        half_prec[k] = 0.5 / variances[k]
    return log_norm, half_prec


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
        A row whose ``a_ik`` are all ``-inf`` (``y_i`` beyond float64's range
        from every expert mean) gets its gate weights
        (:func:`~skmoe._kernels._logspace.prior_row_inplace`).
    loglik : ndarray of shape (n,)
        ``log p(y_i | x_i)``; ``-inf`` for such a row.

    Notes
    -----
    Does not modify its inputs; returns new arrays.
    """
    n, K = means.shape
    resp = np.empty((n, K))
    loglik = np.empty(n)
    log_norm, half_prec = _normal_constants(variances)
    for i in range(n):
        m = -np.inf
        for k in range(K):
            r = y[i] - means[i, k]
            a = log_gate[i, k] + log_norm[k] - r * r * half_prec[k]
            resp[i, k] = a
            if a > m:
                m = a
        if m == -np.inf:
            loglik[i] = prior_row_inplace(resp, i, log_gate[i])
        else:
            loglik[i] = normalize_log_row_inplace(resp, i, m)
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


@njit(cache=True, inline="always")
def _estep_linear_rows(X, y, gate_coef, gate_intercept, expert_coef,
                       expert_intercept, log_norm, half_prec, start, stop, resp,
                       loglik):
    """Rows ``start:stop`` of :func:`gaussian_estep_linear`, into its outputs."""
    d = X.shape[1]
    K = gate_coef.shape[0]
    z = np.empty(K)
    keep = np.ones(K, dtype=np.bool_)
    for i in range(start, stop):
        # log-softmax of the gate logits, in place
        for k in range(K):
            s = gate_intercept[k]
            for j in range(d):
                s += X[i, j] * gate_coef[k, j]
            z[k] = s
        log_normalize_row(z, keep, z)
        m = -np.inf
        for k in range(K):
            mu = expert_intercept[k]
            for j in range(d):
                mu += X[i, j] * expert_coef[k, j]
            r = y[i] - mu
            a = z[k] + log_norm[k] - r * r * half_prec[k]
            resp[i, k] = a
            if a > m:
                m = a
        if m == -np.inf:
            loglik[i] = prior_row_inplace(resp, i, z)
        else:
            loglik[i] = normalize_log_row_inplace(resp, i, m)


@njit(cache=True)
def gaussian_estep_linear(X, y, gate_coef, gate_intercept, expert_coef,
                          expert_intercept, variances):
    """:func:`gaussian_estep` for a softmax gate and linear experts, fused.

    Each row's logits ``z_ik = gate_coef_k . x_i + gate_intercept_k``, its
    log-softmax, its expert means ``mu_ik = expert_coef_k . x_i +
    expert_intercept_k``, the Gaussian log-densities, their log-sum-exp and
    the responsibilities are computed in one pass over ``X``, without any
    other ``(n, K)`` temporary.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    y : ndarray of shape (n,), float64
    gate_coef : ndarray of shape (K, d), float64, C-contiguous
    gate_intercept : ndarray of shape (K,), float64
    expert_coef : ndarray of shape (K, d), float64, C-contiguous
    expert_intercept : ndarray of shape (K,), float64
    variances : ndarray of shape (K,), float64
        Strictly positive.

    Returns
    -------
    resp : ndarray of shape (n, K)
        Responsibilities; each row sums to one (the gate weights on a row of
        log-likelihood ``-inf``, as in :func:`gaussian_estep`).
    loglik : ndarray of shape (n,)
        ``log p(y_i | x_i)``.

    Notes
    -----
    Does not modify its inputs. Infinite logits (beyond float64's range)
    give the limit of the gate, see
    :func:`~skmoe._kernels._logspace.log_normalize_row`. Rows are
    independent (no reduction across rows): the same bits as
    :func:`gaussian_estep_linear_parallel` with any thread count.
    """
    n = X.shape[0]
    K = gate_coef.shape[0]
    resp = np.empty((n, K))
    loglik = np.empty(n)
    log_norm, half_prec = _normal_constants(variances)
    _estep_linear_rows(X, y, gate_coef, gate_intercept, expert_coef,
                       expert_intercept, log_norm, half_prec, 0, n, resp, loglik)
    return resp, loglik


@njit(cache=True, parallel=True)
def _estep_linear_in_threads(X, y, gate_coef, gate_intercept, expert_coef,
                             expert_intercept, log_norm, half_prec, resp, loglik):
    """The rows of :func:`gaussian_estep_linear` in chunks, in a ``prange``."""
    for c in prange(N_CHUNKS):
        start, stop = chunk_bounds(X.shape[0], c)
        _estep_linear_rows(X, y, gate_coef, gate_intercept, expert_coef,
                           expert_intercept, log_norm, half_prec, start, stop,
                           resp, loglik)


@njit(cache=True)
def gaussian_estep_linear_parallel(X, y, gate_coef, gate_intercept, expert_coef,
                                   expert_intercept, variances):
    """:func:`gaussian_estep_linear` with its rows in Numba's threads.

    Parameters
    ----------
    X, y, gate_coef, gate_intercept, expert_coef, expert_intercept, variances
        As :func:`gaussian_estep_linear`.

    Returns
    -------
    resp, loglik : ndarray
        As :func:`gaussian_estep_linear`, bit for bit.
    """
    n = X.shape[0]
    K = gate_coef.shape[0]
    resp = np.empty((n, K))
    loglik = np.empty(n)
    log_norm, half_prec = _normal_constants(variances)
    _estep_linear_in_threads(X, y, gate_coef, gate_intercept, expert_coef,
                             expert_intercept, log_norm, half_prec, resp, loglik)
    return resp, loglik
