"""Two-layer feed-forward experts: the Levenberg-Marquardt M-step, compiled.

:func:`ffn_lm_update` is the EM update of :class:`~skmoe.FFNExperts` (its
``m_step`` calls it, and so does the compiled EM path through
:func:`ffn_lm_step`): at most ``max_gn_iter`` accepted Levenberg-Marquardt
steps per expert on its weighted squared error, each trial evaluated for all
experts in one pass of :func:`~skmoe._kernels._ffn.ffn_nls`. Serial.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._ffn import ffn_activation, ffn_nls_into
from ._linalg import (
    ROUNDOFF,
    cholesky_into,
    cholesky_solve_into,
    symmetric_lstsq,
)
from ._wls import rows_finite


@njit(cache=True)
def ffn_means_into(X, P, code, MU):
    """``MU[i, k] = a_k act(b_k . x_i + c_k) + e_k``, as
    :func:`~skmoe._kernels._ffn.ffn_predict`, into ``MU``."""
    n, d = X.shape
    K = P.shape[0]
    for i in range(n):
        for k in range(K):
            z = P[k, d + 1]
            for j in range(d):
                z += P[k, 1 + j] * X[i, j]
            s, _ = ffn_activation(z, code)
            MU[i, k] = P[k, 0] * s + P[k, d + 2]


@njit(cache=True)
def lm_solve(jtj, jte, lam, step):
    """Solve ``(JtJ + lam (diag(JtJ) + mu)) step = Jte`` (Marquardt damping).

    ``mu``, ``1e-12`` of the mean diagonal (at least ``1e-300``), keeps the
    system positive definite in directions the data do not see (a ReLU unit
    off on every weighted sample, where the right-hand side is zero too).
    By Cholesky; a system that does not factorise (not met: it is positive
    definite) gets the minimum-norm least-squares solution.

    Parameters
    ----------
    jtj : ndarray of shape (m, m)
    jte : ndarray of shape (m,)
    lam : float
    step : ndarray of shape (m,)
        Output.
    """
    m = jte.shape[0]
    mean = 0.0
    for a in range(m):
        mean += jtj[a, a]
    mu = 1e-12 * max(mean / m, 1e-300)
    A = np.empty((m, m))
    for a in range(m):
        for b in range(m):
            A[a, b] = jtj[a, b]
        A[a, a] = jtj[a, a] + lam * (jtj[a, a] + mu)
    L = np.empty((m, m))
    if cholesky_into(A, L):
        cholesky_solve_into(L, jte, step)
    else:
        symmetric_lstsq(A, jte, step)


@njit(cache=True)
def ffn_lm_update(X, y, R, P, code, free, max_gn_iter, max_tries, lambda0,
                  step_tol):
    """Levenberg-Marquardt steps on each expert's weighted squared error.

    The update of :meth:`skmoe.FFNExperts.m_step`. An expert whose mass is
    at most ``1e-10`` of the total is left alone. Every expert takes at most
    ``max_gn_iter`` accepted steps: a step (:func:`lm_solve` on the free
    columns, Marquardt parameter from ``lambda0``) is accepted when the
    trial's squared error is finite and not larger than the current one (the
    parameter then shrinks tenfold, at least to ``1e-15``); otherwise the
    parameter grows tenfold and the step is retried, at most ``max_tries``
    times, after which the expert keeps its row. An expert whose accepted
    step is below ``step_tol (1 + max|row|)`` has converged. So has an
    expert whose step's predicted decrease of the squared error (by the
    Gauss-Newton model, ``step . (2 Jte - JtJ step)``) is at most
    ``ROUNDOFF sse``, the round-off of the sum: its trial could not tell a
    decrease from rounding, and it keeps its row without a trial (before,
    such steps were retried up to ``max_tries`` times, each trial a pass over
    the data, and sometimes accepted on a rounding difference). No expert's
    squared error increases.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    R : ndarray of shape (n, K)
        Non-negative weights.
    P : ndarray of shape (K, d + 3)
        Input and output: the experts' rows ``[a, b, c, e]``.
    code : int
        Activation code (:mod:`skmoe._kernels._ffn`).
    free : ndarray of int64
        The columns that are fitted (the others stay as they are).
    max_gn_iter, max_tries : int
    lambda0, step_tol : float
    """
    n = X.shape[0]
    K, q = P.shape
    m = free.shape[0]
    sums = np.zeros(K)
    for i in range(n):
        for k in range(K):
            sums[k] += R[i, k]
    total = 0.0
    for k in range(K):
        total += sums[k]
    todo = np.empty(K, dtype=np.bool_)
    lam = np.empty(K)
    for k in range(K):
        todo[k] = sums[k] > 1e-10 * total
        lam[k] = lambda0
    # the relative round-off of a sum over the rows (ROUNDOFF)
    noise = ROUNDOFF
    compute_gn = True
    sse = np.empty(K)
    jte = np.empty((K, m))
    jtj = np.empty((K, m, m))
    ffn_nls_into(X, y, R, P, code, free, todo, compute_gn, sse, jte, jtj)
    sse_t = np.empty(K)
    jte_t = np.empty((K, m))
    jtj_t = np.empty((K, m, m))
    trying = np.empty(K, dtype=np.bool_)
    accepted = np.empty(K, dtype=np.bool_)
    converged = np.empty(K, dtype=np.bool_)
    trial = np.empty((K, q))
    step = np.empty(m)
    for _ in range(max_gn_iter):
        n_todo = 0
        for k in range(K):
            trying[k] = todo[k]
            accepted[k] = False
            converged[k] = False
            n_todo += todo[k]
        if n_todo == 0:
            break
        for _ in range(max_tries):
            n_trying = 0
            for k in range(K):
                n_trying += trying[k]
            if n_trying == 0:
                break
            for k in range(K):
                for a in range(q):
                    trial[k, a] = P[k, a]
            for k in range(K):
                if not trying[k]:
                    continue
                lm_solve(jtj[k], jte[k], lam[k], step)
                # predicted decrease of the squared error (Gauss-Newton model)
                pred = 0.0
                for a in range(m):
                    hs = 0.0
                    for c in range(m):
                        hs += jtj[k, a, c] * step[c]
                    pred += step[a] * (2.0 * jte[k, a] - hs)
                if not pred > noise * sse[k]:
                    # below the round-off of the sum: a trial could not tell
                    # a decrease from rounding (more damping only shortens
                    # the step), so the expert has converged and keeps its row
                    trying[k] = False
                    continue
                size = 0.0
                for a in range(m):
                    trial[k, free[a]] += step[a]
                    size = max(size, abs(step[a]))
                scale = 0.0
                for a in range(q):
                    scale = max(scale, abs(P[k, a]))
                converged[k] = size <= step_tol * (1.0 + scale)
            n_trying = 0
            for k in range(K):
                n_trying += trying[k]
            if n_trying == 0:
                break
            # the trial's statistics of the experts that try, only
            ffn_nls_into(X, y, R, trial, code, free, trying, compute_gn, sse_t,
                         jte_t, jtj_t)
            for k in range(K):
                if not trying[k]:
                    continue
                if np.isfinite(sse_t[k]) and sse_t[k] <= sse[k]:
                    for a in range(q):
                        P[k, a] = trial[k, a]
                    for a in range(m):
                        jte[k, a] = jte_t[k, a]
                        for c in range(m):
                            jtj[k, a, c] = jtj_t[k, a, c]
                    sse[k] = sse_t[k]
                    accepted[k] = True
                    lam[k] = max(lam[k] / 10.0, 1e-15)
                    trying[k] = False
                else:
                    lam[k] *= 10.0
        for k in range(K):
            todo[k] = accepted[k] and not converged[k]


@njit(cache=True)
def ffn_lm_step(X, y, W, P, code, free, max_gn_iter, max_tries, lambda0,
                step_tol, MU):
    """:func:`ffn_lm_update` with the weights ``W``, then the means into ``MU``.

    Returns whether the new rows are finite.
    """
    ffn_lm_update(X, y, W, P, code, free, max_gn_iter, max_tries, lambda0,
                  step_tol)
    ffn_means_into(X, P, code, MU)
    return rows_finite(P)
