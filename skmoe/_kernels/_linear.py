"""Linear experts: weighted least-squares sufficient statistics for K experts."""

import numpy as np
from numba import njit


@njit(cache=True)
def linear_expert_suffstats(F, y, R):
    """Weighted Gram matrices and moments for K weighted least-squares fits.

    Parameters
    ----------
    F : ndarray of shape (n, p), float64, C-contiguous
        Design matrix (features, with an intercept column if wanted).
    y : ndarray of shape (n,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights of each row for each expert.

    Returns
    -------
    gram : ndarray of shape (K, p, p)
        ``sum_i R_ik f_i f_i^T``.
    moment : ndarray of shape (K, p)
        ``sum_i R_ik f_i y_i``.

    Notes
    -----
    One pass over the rows; does not modify its inputs.
    """
    n, p = F.shape
    K = R.shape[1]
    gram = np.zeros((K, p, p))
    moment = np.zeros((K, p))
    for i in range(n):
        yi = y[i]
        for k in range(K):
            r = R[i, k]
            if r == 0.0:
                continue
            for a in range(p):
                ra = r * F[i, a]
                moment[k, a] += ra * yi
                for b in range(a, p):
                    gram[k, a, b] += ra * F[i, b]
    for k in range(K):
        for a in range(p):
            for b in range(a + 1, p):
                gram[k, b, a] = gram[k, a, b]
    return gram, moment
