"""Log-space row operations shared by gating families."""

import numpy as np
from numba import njit


@njit(cache=True)
def log_softmax_rows(Z):
    """Row-wise log-softmax ``Z - logsumexp(Z, axis=1)``.

    Parameters
    ----------
    Z : ndarray of shape (n, K), float64, C-contiguous
        Logits; entries may be ``-inf`` (an excluded expert) but each row must
        hold at least one finite entry.

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-probabilities; ``-inf`` stays ``-inf``. Does not
        modify ``Z``.
    """
    n, K = Z.shape
    out = np.empty((n, K))
    for i in range(n):
        m = -np.inf
        for k in range(K):
            if Z[i, k] > m:
                m = Z[i, k]
        s = 0.0
        for k in range(K):
            s += np.exp(Z[i, k] - m)
        lse = m + np.log(s)
        for k in range(K):
            out[i, k] = Z[i, k] - lse
    return out
