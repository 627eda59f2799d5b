"""Linear experts: weighted least-squares sufficient statistics for K experts."""

import numpy as np
from numba import prange

from ..utils._numba_cache import njit
from ._chunks import N_CHUNKS, chunk_bounds, packed_outer, symmetric_from_packed


@njit(cache=True, inline="always")
def _suffstat_rows(F, y, R, B, add_intercept, start, stop, packed, moment, sums):
    """Add rows ``start:stop`` to one chunk's accumulators.

    ``packed[k, t] += R_ik f_a f_b`` (``a <= b``), ``moment[k] += R_ik e_ik
    f``, ``sums[0, k] += R_ik e_ik**2`` and ``sums[1, k] += R_ik`` with
    ``e_ik = y_i - f . B[k]``.
    """
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
            mu = 0.0
            for a in range(p):
                mu += f[a] * B[k, a]
            e = yi - mu
            re = r * e
            for a in range(p):
                moment[k, a] += re * f[a]
            for t in range(outer.shape[0]):
                packed[k, t] += r * outer[t]
            sums[0, k] += re * e
            sums[1, k] += r


@njit(cache=True, inline="always")
def _accumulators(F, R, add_intercept):
    """Per-chunk accumulators of :func:`_suffstat_rows`, zeroed."""
    p = F.shape[1] + 1 if add_intercept else F.shape[1]
    K = R.shape[1]
    return (np.zeros((N_CHUNKS, K, p * (p + 1) // 2)), np.zeros((N_CHUNKS, K, p)),
            np.zeros((N_CHUNKS, 2, K)))


@njit(cache=True, inline="always")
def _reduce(packs, moments, sums):
    """The chunks' sums in chunk order: ``gram, moment, rss, mass``."""
    K, p = moments.shape[1], moments.shape[2]
    n_tri = packs.shape[2]
    packed = np.zeros((K, n_tri))
    moment = np.zeros((K, p))
    total = np.zeros((2, K))
    for c in range(N_CHUNKS):
        for k in range(K):
            for t in range(n_tri):
                packed[k, t] += packs[c, k, t]
            for a in range(p):
                moment[k, a] += moments[c, k, a]
            total[0, k] += sums[c, 0, k]
            total[1, k] += sums[c, 1, k]
    return symmetric_from_packed(packed, p), moment, total[0], total[1]


@njit(cache=True)
def linear_expert_suffstats(F, y, R, B, add_intercept):
    """Weighted Gram matrices and residual moments for K weighted least squares.

    The statistics of the residuals at given coefficients ``B`` (the
    residual form of :class:`~skmoe.experts.LinearStatistics`; ``B = 0``
    gives the plain moments ``sum_i R_ik f_i y_i`` and ``sum_i R_ik y_i**2``).

    Parameters
    ----------
    F : ndarray of shape (n, m), float64, C-contiguous
        Features.
    y : ndarray of shape (n,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights of each row for each expert.
    B : ndarray of shape (K, p), float64, C-contiguous
        Coefficients of the design, one row per expert (the intercept last
        with ``add_intercept``).
    add_intercept : bool
        Whether the design is ``[F, 1]`` (``p = m + 1`` columns, the constant
        last) rather than ``F`` (``p = m``); the column is never materialised.

    Returns
    -------
    gram : ndarray of shape (K, p, p)
        ``sum_i R_ik f_i f_i^T``.
    moment : ndarray of shape (K, p)
        ``sum_i R_ik f_i e_ik`` with the residuals ``e_ik = y_i - f_i . B[k]``.
    rss : ndarray of shape (K,)
        ``sum_i R_ik e_ik**2``.
    mass : ndarray of shape (K,)
        ``sum_i R_ik``.

    Notes
    -----
    One pass over the rows; does not modify its inputs. Rows are reduced in
    ``N_CHUNKS`` fixed chunks, then the chunks in order: the same bits as
    :func:`linear_expert_suffstats_parallel` with any thread count.
    """
    packs, moments, sums = _accumulators(F, R, add_intercept)
    for c in range(N_CHUNKS):
        start, stop = chunk_bounds(F.shape[0], c)
        _suffstat_rows(F, y, R, B, add_intercept, start, stop, packs[c],
                       moments[c], sums[c])
    return _reduce(packs, moments, sums)


@njit(cache=True, parallel=True)
def _chunks_in_threads(F, y, R, B, add_intercept, packs, moments, sums):
    """Every chunk of :func:`linear_expert_suffstats` in a ``prange``."""
    for c in prange(N_CHUNKS):
        start, stop = chunk_bounds(F.shape[0], c)
        _suffstat_rows(F, y, R, B, add_intercept, start, stop, packs[c],
                       moments[c], sums[c])


@njit(cache=True)
def linear_expert_suffstats_parallel(F, y, R, B, add_intercept):
    """:func:`linear_expert_suffstats` with its chunks in Numba's threads.

    Parameters
    ----------
    F, y, R, B, add_intercept
        As :func:`linear_expert_suffstats`.

    Returns
    -------
    gram, moment, rss, mass : ndarray
        As :func:`linear_expert_suffstats`, bit for bit.
    """
    packs, moments, sums = _accumulators(F, R, add_intercept)
    _chunks_in_threads(F, y, R, B, add_intercept, packs, moments, sums)
    return _reduce(packs, moments, sums)
