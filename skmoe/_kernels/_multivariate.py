"""E-step and covariance statistics of a multivariate Gaussian mixture of experts.

Several responses per row: ``y_i`` in ``R^m``, expert ``k``'s mean
``mu_ik`` in ``R^m`` and its covariance ``Sigma_k = L_k L_k^T`` given by its
lower Cholesky factor ``L_k``. The log-density of a residual ``r = y_i -
mu_ik`` is ``-m log(2 pi) / 2 - sum_j log L_k[j, j] - |z|^2 / 2`` with ``z =
L_k^{-1} r`` (forward substitution), the form of Bishop's *Pattern
Recognition and Machine Learning* (2006), section 2.3, with the Cholesky
solve of Golub and Van Loan's *Matrix Computations*, section 4.2.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._logspace import normalize_log_row_inplace, prior_row_inplace


@njit(cache=True)
def _mvn_log_norms(chol):
    """``-m log(2 pi) / 2 - log det L_k`` for every expert."""
    K, m = chol.shape[0], chol.shape[1]
    out = np.empty(K)
    for k in range(K):
        s = 0.0
        for j in range(m):
            s += np.log(chol[k, j, j])
        out[k] = -0.5 * m * np.log(2.0 * np.pi) - s
    return out


@njit(cache=True)
def _half_mahalanobis(y, means, chol, i, k, z):
    """``|L_k^{-1} (y_i - mu_ik)|^2 / 2``, with ``z`` as work space."""
    m = y.shape[1]
    q = 0.0
    for j in range(m):
        s = y[i, j] - means[i, k, j]
        for l in range(j):
            s -= chol[k, j, l] * z[l]
        z[j] = s / chol[k, j, j]
        q += z[j] * z[j]
    return 0.5 * q


@njit(cache=True)
def mvn_log_pdf(means, chol, y):
    """Multivariate Gaussian component log-densities.

    Parameters
    ----------
    means : ndarray of shape (n, K, m), float64, C-contiguous
        Expert means ``mu_ik``.
    chol : ndarray of shape (K, m, m), float64, C-contiguous
        Lower Cholesky factors of the covariances (positive diagonals; the
        upper triangle is not read).
    y : ndarray of shape (n, m), float64, C-contiguous
        Targets.

    Returns
    -------
    logpdf : ndarray of shape (n, K)
        ``log N(y_i | mu_ik, L_k L_k^T)``. Does not modify its inputs.
    """
    n, K, m = means.shape
    out = np.empty((n, K))
    log_norm = _mvn_log_norms(chol)
    z = np.empty(m)
    for i in range(n):
        for k in range(K):
            out[i, k] = log_norm[k] - _half_mahalanobis(y, means, chol, i, k, z)
    return out


@njit(cache=True)
def mvn_estep(log_gate, means, chol, y):
    """Posterior responsibilities and per-sample log-likelihood.

    ``a_ik = log g_k(x_i) + log N(y_i | mu_ik, Sigma_k)``, ``loglik_i =
    logsumexp_k a_ik`` and ``resp_ik = exp(a_ik - loglik_i)``, as
    :func:`~skmoe._kernels._gaussian.gaussian_estep` for one response.

    Parameters
    ----------
    log_gate : ndarray of shape (n, K), float64, C-contiguous
        Log gating weights; ``-inf`` marks an expert with zero weight.
    means : ndarray of shape (n, K, m), float64, C-contiguous
        Expert means.
    chol : ndarray of shape (K, m, m), float64, C-contiguous
        Lower Cholesky factors of the covariances.
    y : ndarray of shape (n, m), float64, C-contiguous
        Targets.

    Returns
    -------
    resp : ndarray of shape (n, K)
        Responsibilities; exact zeros where the gate is 0. A row whose
        ``a_ik`` are all ``-inf`` gets its gate weights
        (:func:`~skmoe._kernels._logspace.prior_row_inplace`).
    loglik : ndarray of shape (n,)
        ``log p(y_i | x_i)``; ``-inf`` for such a row.

    Notes
    -----
    Does not modify its inputs; returns new arrays.
    """
    n, K, m = means.shape
    resp = np.empty((n, K))
    loglik = np.empty(n)
    log_norm = _mvn_log_norms(chol)
    z = np.empty(m)
    for i in range(n):
        top = -np.inf
        for k in range(K):
            a = log_gate[i, k]
            if a != -np.inf:
                a += log_norm[k] - _half_mahalanobis(y, means, chol, i, k, z)
            resp[i, k] = a
            if a > top:
                top = a
        if top == -np.inf:
            loglik[i] = prior_row_inplace(resp, i, log_gate[i])
        else:
            loglik[i] = normalize_log_row_inplace(resp, i, top)
    return resp, loglik


@njit(cache=True)
def weighted_scatter(y, means, R):
    """Weighted residual scatter matrices per expert.

    Parameters
    ----------
    y : ndarray of shape (n, m), float64, C-contiguous
        Targets.
    means : ndarray of shape (n, K, m), float64, C-contiguous
        Expert means.
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights (sample weight times responsibility).

    Returns
    -------
    scatter : ndarray of shape (K, m, m)
        ``sum_i R_ik (y_i - mu_ik)(y_i - mu_ik)^T``, symmetric (both
        triangles hold the same sums). Does not modify its inputs.
    """
    n, K, m = means.shape
    out = np.zeros((K, m, m))
    e = np.empty(m)
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            if r != 0.0:
                for j in range(m):
                    e[j] = y[i, j] - means[i, k, j]
                for j in range(m):
                    w = r * e[j]
                    for l in range(j + 1):
                        out[k, j, l] += w * e[l]
    for k in range(K):
        for j in range(m):
            for l in range(j):
                out[k, l, j] = out[k, j, l]
    return out
