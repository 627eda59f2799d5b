"""Normalized sigmoid gate steps: log-weights into a buffer, Newton ascent.

:func:`sigmoid_newton_ascent` is the EM update of the dense
:class:`~skmoe.NormalizedSigmoidGating` (its ``m_step`` calls it, and so
does the compiled EM path), on the objective and curvatures of
:func:`~skmoe._kernels._sigmoid.sigmoid_gate_objective`. Serial.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._linalg import (
    ROUNDOFF,
    affine_row,
    cholesky_solve_into,
    damped_cholesky_solve,
    ridge_cholesky,
)
from ._logspace import log_normalize_row, log_sigmoid
from ._sigmoid import sigmoid_gate_objective_into
from ._softmax_steps import add_row_objective


@njit(cache=True)
def sigmoid_objective_into(X, coef, intercept, R, LW, store):
    """``Q = sum_ik R_ik log g_k`` of the dense normalized sigmoid gate.

    The value of ``sigmoid_gate_objective(..., False)`` (the same
    operations); with ``store`` the log-weights go to ``LW`` (shape (n, K)),
    as :func:`~skmoe._kernels._sigmoid.sigmoid_log_weights` gives them.
    """
    n = X.shape[0]
    K = coef.shape[0]
    logs = np.empty(K)
    lw = np.empty(K)
    keep = np.ones(K, dtype=np.bool_)
    value = 0.0
    for i in range(n):
        affine_row(X, i, coef, intercept, logs)
        for k in range(K):
            logs[k] = log_sigmoid(logs[k])
        log_normalize_row(logs, keep, lw)
        value = add_row_objective(R, i, lw, LW, store, value)
    return value


@njit(cache=True)
def sigmoid_log_weights_into(X, coef, intercept, LW):
    """Log-weights of the dense normalized sigmoid gate of ``X`` into ``LW``."""
    n = X.shape[0]
    K = coef.shape[0]
    logs = np.empty(K)
    keep = np.ones(K, dtype=np.bool_)
    for i in range(n):
        affine_row(X, i, coef, intercept, logs)
        for k in range(K):
            logs[k] = log_sigmoid(logs[k])
        log_normalize_row(logs, keep, LW[i])


@njit(cache=True)
def _set_split(theta, step, t, coef, intercept):
    """The gate at ``theta + t step`` (all ``K`` rows of ``d + 1``)."""
    K, d = coef.shape
    p = d + 1
    for k in range(K):
        for j in range(d):
            coef[k, j] = theta[k * p + j] + t * step[k * p + j]
        intercept[k] = theta[k * p + d] + t * step[k * p + d]


@njit(cache=True)
def sigmoid_newton_ascent(X, R, coef, intercept, max_iter, step_tol, pin_last, LW):
    """Safeguarded Newton ascent of the weighted normalized-sigmoid objective.

    The update of :func:`skmoe.gating._sigmoid.newton_sigmoid_ascent` (its
    documentation gives the rule): the exact negative Hessian when it
    factorises with a ridge of ``1e-10`` of the Fisher matrix's mean
    diagonal, else the ridge-damped Fisher matrix; an Armijo line search of
    at most 40 halvings; at most ``max_iter`` steps, ending when a step is
    below ``step_tol (1 + max|theta|)``, or when a trial step's predicted gain
    ``t g . step / 2`` is at most ``ROUNDOFF |Q| / 2``, the round-off of
    the objective's sum (no trial could tell a gain from rounding; the step
    is not taken). Before that rule such trials were halved up to 40 times,
    a pass over the data each, and sometimes accepted on a rounding
    difference. With ``pin_last`` the last row is
    held.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    R : ndarray of shape (n, K)
    coef : ndarray of shape (K, d)
        Input and output.
    intercept : ndarray of shape (K,)
        Input and output.
    max_iter : int
    step_tol : float
    pin_last : bool
    LW : ndarray of shape (n, K) or (0, K)
        Output when it has ``n`` rows: the log-weights at the final gate.

    Returns
    -------
    finite : bool
        Whether the final gate is finite.
    """
    n, d = X.shape
    K = coef.shape[0]
    p = d + 1
    store = LW.shape[0] == n
    full = K * p
    m = (K - 1) * p if pin_last else full
    theta = np.empty(full)
    for k in range(K):
        for j in range(d):
            theta[k * p + j] = coef[k, j]
        theta[k * p + d] = intercept[k]
    # the relative round-off of a sum over the rows (ROUNDOFF)
    noise = ROUNDOFF
    no_rows = np.empty((0, K))
    grad = np.empty(full)
    F = np.empty((full, full))
    D = np.empty((full, full))
    value = sigmoid_gate_objective_into(X, coef, intercept, R, True, no_rows,
                                        grad, F, D)
    step = np.zeros(full)
    sol = np.empty(m)
    g = np.empty(m)
    H = np.empty((m, m))
    Fm = np.empty((m, m))
    L = np.empty((m, m))
    B = np.empty((m, m))
    current = False
    for it in range(max_iter):
        last = it == max_iter - 1
        tr = 0.0
        for a in range(m):
            g[a] = grad[a]
            tr += F[a, a]
            for b in range(m):
                H[a, b] = F[a, b] + D[a, b]
                Fm[a, b] = F[a, b]
        scale = max(tr / m, 1e-300)
        if ridge_cholesky(H, 1e-10 * scale, L, B):
            cholesky_solve_into(L, g, sol)
        elif not damped_cholesky_solve(Fm, g, sol):
            break
        slope = 0.0
        for a in range(m):
            step[a] = sol[a]
            slope += g[a] * sol[a]
        if not slope > 0:
            break
        t = 1.0
        accepted = False
        # the full step's trial also gives the statistics of the next
        # Newton step (one pass instead of two when it is accepted); the
        # halvings' trials and the last step's give the value only
        have_stats = False
        for h in range(40):
            if not t * slope > noise * abs(value):
                # the step's predicted gain (t slope / 2) is below the
                # round-off of the sum: no trial could tell a gain from
                # rounding, and halving only shrinks it; the ascent has
                # converged (the step is not taken)
                break
            _set_split(theta, step, t, coef, intercept)
            if h == 0 and not last:
                v_new = sigmoid_gate_objective_into(X, coef, intercept, R, True,
                                                    LW if store else no_rows,
                                                    grad, F, D)
                have_stats = True
            else:
                v_new = sigmoid_objective_into(X, coef, intercept, R, LW, store)
                have_stats = False
            if v_new >= value + 1e-4 * t * slope:
                accepted = True
                break
            current = False  # LW holds a rejected trial's log-weights
            t *= 0.5
        if not accepted:
            for k in range(K):
                for j in range(d):
                    coef[k, j] = theta[k * p + j]
                intercept[k] = theta[k * p + d]
            break
        current = True
        big_step = 0.0
        big_theta = 0.0
        for a in range(full):
            theta[a] = theta[a] + t * step[a]
            big_step = max(big_step, abs(t * step[a]))
            big_theta = max(big_theta, abs(theta[a]))
        if big_step <= step_tol * (1.0 + big_theta) or last:
            break
        value = v_new
        if not have_stats:
            value = sigmoid_gate_objective_into(X, coef, intercept, R, True,
                                                no_rows, grad, F, D)
    if store and not current:
        sigmoid_objective_into(X, coef, intercept, R, LW, store)
    finite = True
    for k in range(K):
        if not np.isfinite(intercept[k]):
            finite = False
        for j in range(d):
            if not np.isfinite(coef[k, j]):
                finite = False
    return finite
