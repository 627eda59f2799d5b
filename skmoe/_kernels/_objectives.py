"""Objectives of the gradient solvers: value and gradients in one pass.

Both kernels return the gradients with respect to the log gating weights and
the expert means; the gating and expert families turn those into gradients of
their own parameters (vector-Jacobian products ``Gating.grad`` and
``Experts.grad``).
"""

import numpy as np

from ..utils._numba_cache import njit
from ._gaussian import _normal_constants


@njit(cache=True)
def gaussian_loglik_grad(log_gate, means, variances, y, w):
    """Weighted log-likelihood of a Gaussian mixture of experts and its gradients.

    ``L = sum_i w_i log sum_k g_ik N(y_i | mu_ik, nu_k)``. With the posterior
    responsibilities ``r_ik``:

    - ``dL / dlog g_ik = w_i r_ik``;
    - ``dL / dmu_ik = w_i r_ik (y_i - mu_ik) / nu_k``;
    - ``dL / dnu_k = sum_i w_i r_ik ((y_i - mu_ik)^2 / nu_k - 1) / (2 nu_k)``.

    Parameters
    ----------
    log_gate : ndarray of shape (n, K), float64, C-contiguous
        Log gating weights; ``-inf`` marks an expert with zero weight (its
        gradients are exactly 0).
    means : ndarray of shape (n, K), float64, C-contiguous
        Expert means.
    variances : ndarray of shape (K,), float64
        Strictly positive noise variances.
    y : ndarray of shape (n,), float64
        Targets.
    w : ndarray of shape (n,), float64
        Non-negative sample weights.

    Returns
    -------
    value : float
        ``L``.
    d_log_gate : ndarray of shape (n, K)
    d_means : ndarray of shape (n, K)
    d_var : ndarray of shape (K,)

    Notes
    -----
    One pass over the rows, reduced serially in order; does not modify its
    inputs.
    """
    n, K = means.shape
    d_log_gate = np.zeros((n, K))
    d_means = np.zeros((n, K))
    d_var = np.zeros(K)
    log_norm, half_prec = _normal_constants(variances)
    a = np.empty(K)
    value = 0.0
    for i in range(n):
        wi = w[i]
        if wi == 0.0:
            continue
        m = -np.inf
        for k in range(K):
            r = y[i] - means[i, k]
            a[k] = log_gate[i, k] + log_norm[k] - r * r * half_prec[k]
            if a[k] > m:
                m = a[k]
        s = 0.0
        for k in range(K):
            a[k] = np.exp(a[k] - m)
            s += a[k]
        value += wi * (m + np.log(s))
        inv = wi / s
        for k in range(K):
            wr = a[k] * inv
            if wr == 0.0:
                continue
            r = y[i] - means[i, k]
            d_log_gate[i, k] = wr
            d_means[i, k] = wr * r * 2.0 * half_prec[k]
            d_var[k] += wr * (r * r * 2.0 * half_prec[k] - 1.0) * half_prec[k]
    return value, d_log_gate, d_means, d_var


@njit(cache=True)
def least_squares_grad(log_gate, means, y, w):
    """Weighted squared error of the mixture mean and its gradients.

    ``S = sum_i w_i (y_i - f_i)^2`` with ``f_i = sum_k g_ik mu_ik``:

    - ``dS / dlog g_ik = -2 w_i (y_i - f_i) g_ik mu_ik``;
    - ``dS / dmu_ik = -2 w_i (y_i - f_i) g_ik``.

    Parameters
    ----------
    log_gate : ndarray of shape (n, K), float64, C-contiguous
        Log gating weights (``-inf`` gives exact zeros).
    means : ndarray of shape (n, K), float64, C-contiguous
        Expert means.
    y : ndarray of shape (n,), float64
        Targets.
    w : ndarray of shape (n,), float64
        Non-negative sample weights.

    Returns
    -------
    value : float
        ``S``.
    d_log_gate : ndarray of shape (n, K)
    d_means : ndarray of shape (n, K)

    Notes
    -----
    One pass over the rows, reduced serially in order; does not modify its
    inputs.
    """
    n, K = means.shape
    d_log_gate = np.zeros((n, K))
    d_means = np.zeros((n, K))
    g = np.empty(K)
    value = 0.0
    for i in range(n):
        wi = w[i]
        if wi == 0.0:
            continue
        f = 0.0
        for k in range(K):
            g[k] = np.exp(log_gate[i, k])
            if g[k] != 0.0:
                f += g[k] * means[i, k]
        e = y[i] - f
        value += wi * e * e
        c = -2.0 * wi * e
        for k in range(K):
            if g[k] != 0.0:
                d_means[i, k] = c * g[k]
                d_log_gate[i, k] = c * g[k] * means[i, k]
    return value, d_log_gate, d_means
