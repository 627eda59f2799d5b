"""Linear experts: weighted least-squares sufficient statistics for K experts."""

import numpy as np
from numba import prange

from ..utils._numba_cache import njit
from ._chunks import N_CHUNKS, chunk_bounds, packed_outer, symmetric_from_packed


@njit(cache=True)
def _suffstat_rows(F, y, R, add_intercept, start, stop, packed, moment):
    """Add rows ``start:stop``: ``packed[k, t] += R_ik f_a f_b`` (``a <= b``)."""
    m = F.shape[1]
    p = m + 1 if add_intercept else m
    K = R.shape[1]
    f = np.empty(p)
    if add_intercept:
        f[m] = 1.0
    outer = np.empty(p * (p + 1) // 2)
    for i in range(start, stop):
        for a in range(m):
            f[a] = F[i, a]
        packed_outer(f, outer)
        yi = y[i]
        for k in range(K):
            r = R[i, k]
            if r == 0.0:
                continue
            ry = r * yi
            for a in range(p):
                moment[k, a] += ry * f[a]
            for t in range(outer.shape[0]):
                packed[k, t] += r * outer[t]


@njit(cache=True, parallel=True)
def linear_expert_suffstats(F, y, R, add_intercept):
    """Weighted Gram matrices and moments for K weighted least-squares fits.

    Parameters
    ----------
    F : ndarray of shape (n, m), float64, C-contiguous
        Features.
    y : ndarray of shape (n,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights of each row for each expert.
    add_intercept : bool
        Whether the design is ``[F, 1]`` (``p = m + 1`` columns, the constant
        last) rather than ``F`` (``p = m``); the column is never materialised.

    Returns
    -------
    gram : ndarray of shape (K, p, p)
        ``sum_i R_ik f_i f_i^T``.
    moment : ndarray of shape (K, p)
        ``sum_i R_ik f_i y_i``.

    Notes
    -----
    One pass over the rows; does not modify its inputs. Rows are reduced in
    ``N_CHUNKS`` fixed chunks in parallel, then the chunks serially in order,
    so the result does not depend on the Numba thread count.
    """
    n, m = F.shape
    p = m + 1 if add_intercept else m
    K = R.shape[1]
    n_tri = p * (p + 1) // 2
    packs = np.zeros((N_CHUNKS, K, n_tri))
    moments = np.zeros((N_CHUNKS, K, p))
    for c in prange(N_CHUNKS):
        start, stop = chunk_bounds(n, c)
        packed = np.zeros((K, n_tri))
        moment = np.zeros((K, p))
        _suffstat_rows(F, y, R, add_intercept, start, stop, packed, moment)
        packs[c] = packed
        moments[c] = moment
    packed = np.zeros((K, n_tri))
    moment = np.zeros((K, p))
    for c in range(N_CHUNKS):
        packed += packs[c]
        moment += moments[c]
    return symmetric_from_packed(packed, p), moment
