"""Softmax gate steps: log-weights into a buffer, damped Newton ascent.

The EM update of a linear softmax gate (one damped Newton step with an
Armijo line search on ``Q = sum_ik R_ik log softmax_k(X coef^T +
intercept)``, last row zero) as one compiled call, for the compiled EM path
and for the families' own ``m_step`` (:func:`softmax_newton_ascent`), and
the pieces the Python :class:`~skmoe.gating._newton.NewtonProposal` (fused
and online EM) shares with it: the damped Newton direction
(:func:`newton_direction`) and the acceptance test (:func:`newton_accepts`).

The objective's terms are those of
:func:`~skmoe._kernels._softmax.softmax_gate_objective` (its row kernel
``_gate_rows``, serially over all rows); a trial gate is tested on the
log-weights it produces, which the compiled EM keeps for its next E-step.
Serial: these kernels run at every size the compiled path takes.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._codesize import optimize_for_size
from ._linalg import affine_row, damped_cholesky_solve
from ._logspace import log_normalize_row
from ._softmax import softmax_gate_objective_at

_EPS = float(np.finfo(np.float64).eps)

#: statuses of a Newton step (NewtonProposal.status)
STAY, TAKE, TEST = 0, 1, 2


@njit(cache=True)
def softmax_log_weights_into(X, coef, intercept, LW):
    """Log-softmax of the logits ``X coef^T + intercept``, row by row, into ``LW``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    coef : ndarray of shape (K, d)
    intercept : ndarray of shape (K,)
    LW : ndarray of shape (n, K)
        Output. Infinite logits give the limit of the weights
        (:func:`~skmoe._kernels._logspace.log_normalize_row`).
    """
    n = X.shape[0]
    K = coef.shape[0]
    z = np.empty(K)
    keep = np.ones(K, dtype=np.bool_)
    for i in range(n):
        affine_row(X, i, coef, intercept, z)
        log_normalize_row(z, keep, LW[i])


@njit(cache=True, inline="always")
def add_row_objective(R, i, lw, LW, store, value):
    """``value + sum_k R[i, k] lw[k]`` over ``R[i, k] != 0`` (in this order);
    with ``store`` the row ``lw`` goes to ``LW[i]``."""
    for k in range(lw.shape[0]):
        r = R[i, k]
        if r != 0.0:
            value += r * lw[k]
        if store:
            LW[i, k] = lw[k]
    return value


@njit(cache=True, inline="always")
def log_softmax_prob_row(z, keep, lw, prob):
    """``lw`` the log-softmax of the logits ``z`` and ``prob`` the softmax.

    ``lw`` as :func:`~skmoe._kernels._logspace.log_normalize_row` (all
    entries kept): the same bits; ``prob[k] = exp(z_k - max z) / sum_l
    exp(z_l - max z)``, the weights as the gate's Newton terms
    (:func:`~skmoe._kernels._softmax.softmax_gate_objective`) compute them,
    bit for bit. A row whose largest logit is infinite gets ``prob[0] =
    NaN``: the Newton terms then compute the row themselves.
    """
    K = z.shape[0]
    m = -np.inf
    for k in range(K):
        if z[k] > m:
            m = z[k]
    if np.isinf(m):
        log_normalize_row(z, keep, lw)
        prob[0] = np.nan
        return
    s = 0.0
    for k in range(K):
        e = np.exp(z[k] - m)
        prob[k] = e
        s += e
    lse = m + np.log(s)
    inv = 1.0 / s
    for k in range(K):
        lw[k] = z[k] - lse
        prob[k] *= inv


@njit(cache=True, inline="always")
def _log_weights_rows(X, coef, intercept, LW, PROB):
    """:func:`softmax_log_weights_into`, and the weights into ``PROB``
    (:func:`log_softmax_prob_row`)."""
    n = X.shape[0]
    K = coef.shape[0]
    z = np.empty(K)
    keep = np.ones(K, dtype=np.bool_)
    for i in range(n):
        affine_row(X, i, coef, intercept, z)
        log_softmax_prob_row(z, keep, LW[i], PROB[i])


@njit(cache=True)
def softmax_objective_into(X, coef, intercept, R, LW, store, PROB):
    """``Q = sum_ik R_ik log softmax_k`` (terms with ``R_ik = 0`` skipped).

    With ``store`` the log-weights are written into ``LW`` (shape (n, K)),
    otherwise ``LW`` is not touched; with ``store`` and ``PROB`` of ``n``
    rows (else ``(0, K)``) the weights go to ``PROB``
    (:func:`log_softmax_prob_row`).
    """
    n = X.shape[0]
    K = coef.shape[0]
    z = np.empty(K)
    lw = np.empty(K)
    keep = np.ones(K, dtype=np.bool_)
    weights = store and PROB.shape[0] == n
    value = 0.0
    for i in range(n):
        affine_row(X, i, coef, intercept, z)
        if weights:
            log_softmax_prob_row(z, keep, lw, PROB[i])
        else:
            log_normalize_row(z, keep, lw)
        value = add_row_objective(R, i, lw, LW, store, value)
    return value


@njit(cache=True)
def newton_direction(neg_hess, grad, step):
    """The damped Newton step ``(neg_hess + lambda I)^{-1} grad`` and its slope.

    ``lambda`` is the smallest working ridge
    (:func:`~skmoe._kernels._linalg.damped_cholesky_solve`).

    Parameters
    ----------
    neg_hess : ndarray of shape (m, m)
    grad : ndarray of shape (m,)
    step : ndarray of shape (m,)
        Output: the step.

    Returns
    -------
    slope : float
        ``grad . step``; NaN when no ridge factorised (the step is then not
        taken).
    """
    optimize_for_size()
    if not damped_cholesky_solve(neg_hess, grad, step):
        return np.nan
    slope = 0.0
    for a in range(grad.shape[0]):
        slope += grad[a] * step[a]
    return slope


@njit(cache=True, inline="always")
def objective_round_off(value, n_samples):
    """Round-off bound ``n eps (|value| + 1)`` of a sum of ``n`` terms."""
    return n_samples * _EPS * (abs(value) + 1.0)


@njit(cache=True, inline="always")
def newton_status(slope, noise):
    """``STAY`` without ascent, ``TAKE`` below round-off (``0.5 slope <= noise``),
    else ``TEST``."""
    if not slope > 0.0:
        return STAY
    if 0.5 * slope <= noise:
        return TAKE
    return TEST


@njit(cache=True, inline="always")
def newton_accepts(status, value, start_value, slope, noise, t):
    """The test of a Newton step of length ``t`` whose objective is ``value``.

    A ``TEST`` step passes the Armijo condition ``value >= start_value +
    1e-4 t slope``; a ``TAKE`` step (predicted gain below the round-off
    ``noise``) only has to keep the objective within ``noise``.
    """
    if status == TAKE:
        return value >= start_value - noise
    return value >= start_value + 1e-4 * t * slope


@njit(cache=True, inline="always")
def _set_rows(theta, step, t, coef, intercept):
    """Rows ``0 .. K-2`` of the gate at ``theta + t step`` (row by row)."""
    K, d = coef.shape
    p = d + 1
    for k in range(K - 1):
        for j in range(d):
            coef[k, j] = theta[k * p + j] + t * step[k * p + j]
        intercept[k] = theta[k * p + d] + t * step[k * p + d]


@njit(cache=True, inline="always")
def _restore_rows(theta, coef, intercept):
    """Rows ``0 .. K-2`` of the gate back to ``theta``."""
    K, d = coef.shape
    p = d + 1
    for k in range(K - 1):
        for j in range(d):
            coef[k, j] = theta[k * p + j]
        intercept[k] = theta[k * p + d]


@njit(cache=True, inline="always")
def _all_finite(coef, intercept):
    K, d = coef.shape
    for k in range(K):
        if not np.isfinite(intercept[k]):
            return False
        for j in range(d):
            if not np.isfinite(coef[k, j]):
                return False
    return True


@njit(cache=True)
def softmax_newton_ascent(X, R, coef, intercept, max_iter, LW, PROB, cached):
    """Damped Newton ascent of ``Q``, at most ``max_iter`` tested steps.

    The update of :func:`skmoe.gating._newton.newton_softmax_ascent` (its
    documentation gives the rule): each step solves ``(-H + lambda I) delta =
    g`` (:func:`newton_direction`), is taken when its predicted gain is
    below the objective's round-off ``n eps (|Q| + 1)`` and it keeps ``Q``
    within that round-off (else the gate is kept and the loop ends), or must
    pass the Armijo test, halving it at most 39 times (the gate is kept when
    no halving passes).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    R : ndarray of shape (n, K)
        Non-negative weights.
    coef : ndarray of shape (K, d)
        Input and output: the gate's slopes (last row zero, kept zero).
    intercept : ndarray of shape (K,)
        Input and output: the intercepts (last entry zero).
    max_iter : int
        Maximum number of Newton steps.
    LW : ndarray of shape (n, K) or (0, K)
        Output when it has ``n`` rows: the log-weights at the final gate
        (then the trial gates' objectives are taken from them); not touched
        when empty.
    PROB : ndarray of shape (n, K) or (0, K)
        With ``n`` rows (and ``LW`` too): output, the gate weights at the
        final gate (:func:`log_softmax_prob_row`, computed in the pass that
        writes ``LW``); not touched when empty.
    cached : bool
        Whether ``LW`` and ``PROB`` hold, on entry, those of the gate
        ``coef``, ``intercept`` as this kernel left them: the Newton terms
        at the gate are then summed from them, without a pass of
        exponentials and logarithms (the same bits,
        :func:`~skmoe._kernels._softmax.softmax_gate_objective_at`). The
        compiled EM's gate keeps them from one step to the next.

    Returns
    -------
    finite : bool
        Whether the final gate is finite.
    """
    optimize_for_size()
    n, d = X.shape
    K = coef.shape[0]
    store = LW.shape[0] == n
    weights = store and PROB.shape[0] == n
    if K == 1:
        if store:
            for i in range(n):
                LW[i, 0] = 0.0
                if weights:
                    PROB[i, 0] = 1.0
        return _all_finite(coef, intercept)
    p = d + 1
    m = (K - 1) * p
    step = np.empty(m)
    theta = np.empty(m)
    # the chunked sums of softmax_gate_objective: the same bits as its
    # parallel twin, which the Python ascent uses in fits with threads
    none = np.empty((0, K))
    # the weights kept with LW when they are the current gate's
    kept_lw, kept_prob = (LW, PROB) if weights else (none, none)
    lw0, prob0 = (kept_lw, kept_prob) if cached else (none, none)
    value, grad, neg_hess = softmax_gate_objective_at(X, coef, intercept, R, True,
                                                      lw0, prob0)
    noise = objective_round_off(value, n)
    current = False  # whether LW holds the log-weights of the current gate
    for it in range(max_iter):
        slope = newton_direction(neg_hess, grad, step)
        status = newton_status(slope, noise)
        if status == STAY:
            break
        for k in range(K - 1):
            for j in range(d):
                theta[k * p + j] = coef[k, j]
            theta[k * p + d] = intercept[k]
        _set_rows(theta, step, 1.0, coef, intercept)
        v = softmax_objective_into(X, coef, intercept, R, LW, store, PROB)
        accepted = newton_accepts(status, v, value, slope, noise, 1.0)
        if not accepted and status == TEST:
            t = 1.0
            for _ in range(39):
                t *= 0.5
                _set_rows(theta, step, t, coef, intercept)
                v = softmax_objective_into(X, coef, intercept, R, LW, store, PROB)
                if newton_accepts(status, v, value, slope, noise, t):
                    accepted = True
                    break
        if not accepted:
            _restore_rows(theta, coef, intercept)
            current = False
            break
        current = True
        if status == TAKE:
            break
        if it + 1 < max_iter:
            # LW (and PROB) hold the log-weights of the accepted gate
            value, grad, neg_hess = softmax_gate_objective_at(
                X, coef, intercept, R, True, kept_lw, kept_prob)
    if store and not current:
        if weights:
            _log_weights_rows(X, coef, intercept, LW, PROB)
        else:
            softmax_log_weights_into(X, coef, intercept, LW)
    return _all_finite(coef, intercept)


@njit(cache=True)
def hierarchical_log_weights_into(X, group_coef, group_intercept, coef, intercept,
                                  LW):
    """Log-weights of a two-level softmax tree into ``LW``.

    ``LW[i, a m + b] = log softmax_b(within group a) + log softmax_a(groups)``
    with ``m = K / G`` experts per group.
    """
    n, d = X.shape
    G = group_coef.shape[0]
    K = coef.shape[0]
    m = K // G
    u = np.empty(G)
    lu = np.empty(G)
    z = np.empty(m)
    lz = np.empty(m)
    keep_g = np.ones(G, dtype=np.bool_)
    keep = np.ones(m, dtype=np.bool_)
    for i in range(n):
        affine_row(X, i, group_coef, group_intercept, u)
        log_normalize_row(u, keep_g, lu)
        for a in range(G):
            for b in range(m):
                k = a * m + b
                s = intercept[k]
                for j in range(d):
                    s += X[i, j] * coef[k, j]
                z[b] = s
            log_normalize_row(z, keep, lz)
            for b in range(m):
                LW[i, a * m + b] = lz[b] + lu[a]


@njit(cache=True)
def hierarchical_newton_step(X, R, group_coef, group_intercept, coef, intercept,
                             max_iter, LW):
    """The EM update of a two-level softmax tree, then its log-weights.

    :func:`softmax_newton_ascent` (at most ``max_iter`` steps) on the group
    level with the group sums of ``R``, then on every group's softmax with
    its own columns of ``R`` (the update of
    :meth:`skmoe.HierarchicalSoftmaxGating.m_step`). The arrays of the gate
    are updated in place; ``LW`` (shape (n, K)) receives the log-weights of
    the new gate unless it is empty. Returns whether the gate is finite.
    """
    n = X.shape[0]
    G, d = group_coef.shape
    K = coef.shape[0]
    m = K // G
    Rg = np.zeros((n, G))
    for i in range(n):
        for a in range(G):
            s = 0.0
            for b in range(m):
                s += R[i, a * m + b]
            Rg[i, a] = s
    empty = np.empty((0, K))
    finite = softmax_newton_ascent(X, Rg, group_coef, group_intercept, max_iter,
                                   empty, empty, False)
    Rb = np.empty((n, m))
    cb = np.empty((m, d))
    ib = np.empty(m)
    for a in range(G):
        for i in range(n):
            for b in range(m):
                Rb[i, b] = R[i, a * m + b]
        for b in range(m):
            ib[b] = intercept[a * m + b]
            for j in range(d):
                cb[b, j] = coef[a * m + b, j]
        finite &= softmax_newton_ascent(X, Rb, cb, ib, max_iter, empty, empty,
                                        False)
        for b in range(m):
            intercept[a * m + b] = ib[b]
            for j in range(d):
                coef[a * m + b, j] = cb[b, j]
    if LW.shape[0] == n:
        hierarchical_log_weights_into(X, group_coef, group_intercept, coef,
                                      intercept, LW)
    return finite
