"""Gaussian gate: log-densities of the inputs under every expert's Gaussian."""

import numpy as np

from ..utils._numba_cache import njit


@njit(cache=True)
def gaussian_log_densities(X, centres, prec_chol):
    """Log-densities ``log N(x_i | c_k, Gamma_k)`` of every input and expert.

    With ``Gamma_k^-1 = U_k U_k^T`` (``U_k`` upper triangular with a positive
    diagonal, the convention of scikit-learn's ``precisions_cholesky_``),

    ``log N(x | c, Gamma) = sum_j log U_jj - d/2 log(2 pi) - |(x - c) U|^2 / 2``,

    the Mahalanobis term computed as the squared norm of ``(x - c) U``, so no
    matrix is inverted and no log-determinant is formed from a product.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
        Finite inputs.
    centres : ndarray of shape (K, d), float64, C-contiguous
        Finite centres ``c_k``.
    prec_chol : ndarray of shape (K, d, d), float64, C-contiguous
        Upper-triangular ``U_k`` with a positive diagonal (entries below the
        diagonal are not read).

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-densities. Does not modify its inputs; rows are
        computed independently and serially.
    """
    n, d = X.shape
    K = centres.shape[0]
    out = np.empty((n, K))
    const = np.empty(K)
    for k in range(K):
        s = -0.5 * d * np.log(2.0 * np.pi)
        for j in range(d):
            s += np.log(prec_chol[k, j, j])
        const[k] = s
    diff = np.empty(d)
    for i in range(n):
        for k in range(K):
            for a in range(d):
                diff[a] = X[i, a] - centres[k, a]
            q = 0.0
            for j in range(d):
                s = 0.0
                for a in range(j + 1):
                    s += diff[a] * prec_chol[k, a, j]
                q += s * s
            out[i, k] = const[k] - 0.5 * q
    return out
