"""Experts linear in a feature map: weighted least squares as compiled steps.

:func:`wls_update` is the M-step of :class:`~skmoe.LinearExperts` and
:class:`~skmoe.PolynomialExperts` from their statistics (the families'
``update``, used by batch, fused and online EM); :func:`linear_wls_step` is
the whole update from the data (statistics by the row kernel of
:func:`~skmoe._kernels._linear.linear_expert_suffstats`, the same solve, the
means at the new parameters), one call of the compiled EM path, by Cholesky
alone (:func:`wls_step` takes :func:`linear_wls_eigen_step` where a system is
singular: the eigen-solver compiles only in fits that need it). Serial.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._chunks import symmetric_from_packed
from ._codesize import optimize_for_size
from ._linalg import spd_cholesky_solve, symmetric_lstsq
from ._linear import _suffstat_rows


@njit(cache=True)
def _wls_deltas(gram, moment, mass, fit_intercept, D, state):
    """The Cholesky part of :func:`wls_update`: each expert's change.

    ``state[k]`` is 0 for an expert without mass (it keeps its row), 1 when
    ``D[k, :m]`` holds its change (:func:`spd_cholesky_solve`), 2 when its
    system needs the eigen-solver (``D[k]`` not written). Returns the number
    of experts in state 2. A kernel of its own, compiled for size (its loops
    run over the parameters).
    """
    optimize_for_size()
    K, p = moment.shape
    total = 0.0
    for k in range(K):
        total += mass[k]
    threshold = 1e-10 * total
    m = p if fit_intercept else p - 1
    A = np.empty((m, m))
    b = np.empty(m)
    x = np.empty(m)
    n_singular = 0
    for k in range(K):
        state[k] = 0
        if mass[k] <= threshold:
            continue
        for a in range(m):
            b[a] = moment[k, a]
            for c in range(m):
                A[a, c] = gram[k, a, c]
        if spd_cholesky_solve(A, b, x):
            state[k] = 1
            for a in range(m):
                D[k, a] = x[a]
        else:
            state[k] = 2
            n_singular += 1
    return n_singular


@njit(cache=True, inline="always")
def _wls_write(at, P, fit_intercept, D, state):
    """``P[k] = at[k] + D[k]`` for the experts solved (``state[k] != 0``);
    every intercept 0 without ``fit_intercept``."""
    K, p = P.shape
    m = p if fit_intercept else p - 1
    for k in range(K):
        if not fit_intercept:
            P[k, p - 1] = 0.0
        if state[k] == 0:
            continue
        for a in range(m):
            P[k, a] = at[k, a] + D[k, a]


@njit(cache=True, inline="always")
def wls_update(gram, moment, mass, at, P, fit_intercept):
    """Weighted least squares of every expert from its normal equations.

    The residual form of :class:`~skmoe.experts.LinearStatistics`: an
    expert whose mass is at most ``1e-10`` of the total keeps its row; the
    others get ``at[k] + delta_k`` with ``delta_k`` the solution of
    ``np.linalg.lstsq(gram[k], moment[k])``
    (:func:`~skmoe._kernels._linalg.spd_solve`: the minimum-norm solution
    of a singular system). Without ``fit_intercept`` the intercept's row and
    column (the last) are dropped and every intercept is set to 0.

    Parameters
    ----------
    gram : ndarray of shape (K, p, p)
    moment : ndarray of shape (K, p)
        Moments of the residuals at ``at``.
    mass : ndarray of shape (K,)
    at : ndarray of shape (K, p)
        The rows the statistics were taken at (may be ``P`` itself).
    P : ndarray of shape (K, p)
        Input and output: the experts' rows (coefficients, then intercept).
    fit_intercept : bool
    """
    K, p = moment.shape
    m = p if fit_intercept else p - 1
    D = np.empty((K, m))
    state = np.empty(K, dtype=np.int64)
    if _wls_deltas(gram, moment, mass, fit_intercept, D, state):
        A = np.empty((m, m))
        b = np.empty(m)
        x = np.empty(m)
        for k in range(K):
            if state[k] != 2:
                continue
            for a in range(m):
                b[a] = moment[k, a]
                for c in range(m):
                    A[a, c] = gram[k, a, c]
            symmetric_lstsq(A, b, x)
            for a in range(m):
                D[k, a] = x[a]
    _wls_write(at, P, fit_intercept, D, state)


@njit(cache=True)
def linear_means_into(F, P, MU):
    """``MU[i, k] = P[k, :m] . F[i] + P[k, m]`` (``m`` features, then intercept)."""
    n, m = F.shape
    K = P.shape[0]
    for i in range(n):
        for k in range(K):
            s = P[k, m]
            for a in range(m):
                s += F[i, a] * P[k, a]
            MU[i, k] = s


@njit(cache=True)
def rows_finite(P):
    """Whether every entry of the 2-D array ``P`` is finite."""
    for k in range(P.shape[0]):
        for a in range(P.shape[1]):
            if not np.isfinite(P[k, a]):
                return False
    return True


@njit(cache=True, inline="always")
def _wls_statistics(F, y, W, P):
    """Gram matrices, residual moments at ``P`` and masses of the weights
    ``W`` (the row kernel of
    :func:`~skmoe._kernels._linear.linear_expert_suffstats`, in row order)."""
    n, m = F.shape
    K = W.shape[1]
    p = m + 1
    packed = np.zeros((K, p * (p + 1) // 2))
    moment = np.zeros((K, p))
    sums = np.zeros((2, K))  # rss, mass
    add_intercept = True
    _suffstat_rows(F, y, W, P, add_intercept, 0, n, packed, moment, sums)
    return symmetric_from_packed(packed, p), moment, sums[1]


#: :func:`linear_wls_step`'s answer when a system needs the eigen-solver
SINGULAR = -1


@njit(cache=True)
def linear_wls_step(F, y, W, P, fit_intercept, MU):
    """The M-step of experts linear in the features ``F``, and their new means.

    Cholesky only (:func:`~skmoe._kernels._linalg.spd_cholesky_solve`): when
    an expert's system is singular or nearly so, nothing is written and
    :data:`SINGULAR` is returned; :func:`wls_step` then takes
    :func:`linear_wls_eigen_step`, which compiles only then.

    Parameters
    ----------
    F : ndarray of shape (n, m)
        Features (the intercept column is implicit).
    y : ndarray of shape (n,)
    W : ndarray of shape (n, K)
        Non-negative weights of the least squares.
    P : ndarray of shape (K, m + 1)
        Input and output: the experts' rows (:func:`wls_update`; the
        statistics are those of the residuals at the input rows).
    fit_intercept : bool
    MU : ndarray of shape (n, K)
        Output: the means at the new rows.

    Returns
    -------
    status : int
        1 if the new rows are finite, 0 if not, :data:`SINGULAR` if nothing
        was written.
    """
    gram, moment, mass = _wls_statistics(F, y, W, P)
    K, p = moment.shape
    m = p if fit_intercept else p - 1
    D = np.empty((K, m))
    state = np.empty(K, dtype=np.int64)
    if _wls_deltas(gram, moment, mass, fit_intercept, D, state):
        return SINGULAR
    _wls_write(P, P, fit_intercept, D, state)
    linear_means_into(F, P, MU)
    return 1 if rows_finite(P) else 0


@njit(cache=True)
def linear_wls_eigen_step(F, y, W, P, fit_intercept, MU):
    """:func:`linear_wls_step` with the eigen-solver where a system needs it
    (:func:`wls_update`). Returns whether the new rows are finite."""
    gram, moment, mass = _wls_statistics(F, y, W, P)
    wls_update(gram, moment, mass, P, P, fit_intercept)
    linear_means_into(F, P, MU)
    return rows_finite(P)


def wls_step(F, y, W, P, fit_intercept, MU):
    """The compiled M-step of linear experts, from Python.

    :func:`linear_wls_step`, and :func:`linear_wls_eigen_step` when it
    reports a singular system: the result of :func:`wls_update` on the
    statistics of ``W``, bit for bit, with the eigen-solver compiled only in
    fits that need it. Arguments as :func:`linear_wls_step`.

    Returns
    -------
    finite : bool
        Whether the new rows are finite.
    """
    status = linear_wls_step(F, y, W, P, fit_intercept, MU)
    if status == SINGULAR:
        return linear_wls_eigen_step(F, y, W, P, fit_intercept, MU)
    return status == 1
