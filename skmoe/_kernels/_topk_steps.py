"""Top-K softmax gate steps: the ECME update and the annealed ascent.

The EM update of a softmax gate with a top-K selection and linear logits
``L = (X coef^T + intercept) / tau`` (last row zero; the free parameters
``theta`` are rows ``0 .. K-2`` of ``[coef | intercept]``, as
:meth:`~skmoe.SoftmaxGating.pack` lays them out) as one compiled call
(:func:`topk_step`), for the compiled EM path and for the gate's own
``m_step``; the normalized sigmoid gate's top-K selection
(``g = sigmoid(L) / sum_T sigmoid(L)``, no temperature) likewise:

- while the selection is smoothed (``smoothing > 0``), monotone L-BFGS
  steps on ``Q = sum_ik R_ik log g_k`` (the annealed phase);
- for the exact selection, the ECME step of
  :func:`skmoe.gating._ascent.sparse_gate_m_step` on the observed
  log-likelihood ``sum_i w_i log(e^{a_i} + sum_k g_ik e^{A_ik})``
  (:class:`~skmoe.GateLikelihood`): the dense gate's damped Newton step
  (:func:`~skmoe._kernels._softmax_steps.softmax_newton_ascent`) fitted to
  the dense gate's posterior weights, accepted if it (or one of its
  halvings) raises the likelihood, then L-BFGS steps.

:func:`lbfgs_monotone` is :func:`skmoe.gating._ascent.maximize_monotone`
(same rule, same constants) on these objectives. Serial.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._linalg import affine_row
from ._logspace import (
    log_normalize_row,
    log_sigmoid,
    soft_topk_log_weights,
    soft_topk_vjp,
    top_k_mask,
)
from ._sigmoid import sigmoid_log_weights
from ._sigmoid_steps import sigmoid_newton_ascent
from ._softmax import topk_log_softmax_rows
from ._softmax_steps import softmax_log_weights_into, softmax_newton_ascent

#: objectives of :func:`topk_objective`
COMPLETE, OBSERVED = 0, 1
#: the gate families: the softmax's ``g = softmax_T(L)``, the normalized
#: sigmoid's ``g = sigmoid(L) / sum_T sigmoid(L)`` over the selected set T
SOFTMAX, SIGMOID = 0, 1


@njit(cache=True)
def unpack_rows(theta, coef, intercept):
    """The gate rows of ``theta``: its rows, then zero rows (a pinned last row)."""
    K, d = coef.shape
    p = d + 1
    rows = theta.shape[0] // p
    for k in range(K):
        for j in range(d):
            coef[k, j] = theta[k * p + j] if k < rows else 0.0
        intercept[k] = theta[k * p + d] if k < rows else 0.0


@njit(cache=True)
def topk_logits_into(X, theta, tau, coef, intercept, L):
    """Tempered logits ``(X coef^T + intercept) / tau`` of ``theta`` into ``L``."""
    unpack_rows(theta, coef, intercept)
    n = X.shape[0]
    for i in range(n):
        affine_row(X, i, coef, intercept, L[i])
        if tau != 1.0:
            for k in range(L.shape[1]):
                L[i, k] /= tau


@njit(cache=True)
def _log_sigmoids(L):
    n, K = L.shape
    out = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            out[i, k] = log_sigmoid(L[i, k])
    return out


@njit(cache=True)
def topk_log_weights(family, L, top_k, smoothing):
    """Log-weights of the (smoothed if ``smoothing > 0``) top-K selection.

    The softmax's scores are the logits ``L``, the normalized sigmoid's
    ``log sigmoid(L)``; the selection ranks the logits.
    """
    if family == SIGMOID:
        if smoothing > 0:
            return soft_topk_log_weights(_log_sigmoids(L), L, top_k, smoothing)
        return sigmoid_log_weights(L, top_k)
    if smoothing > 0:
        return soft_topk_log_weights(L, L, top_k, smoothing)
    return topk_log_softmax_rows(L, top_k)


@njit(cache=True)
def topk_objective(kind, LW, R, w, A, a, G):
    """The gate objective at log-weights ``LW`` and its weights ``G``.

    ``kind == COMPLETE``: ``sum_ik R_ik LW_ik`` over ``R_ik > 0``, ``G = R``.
    ``kind == OBSERVED``: ``sum_i w_i log(e^{a_i} + sum_k e^{LW_ik + A_ik})``
    and ``G_ik = w_i`` times the posterior of routed expert ``k``
    (:meth:`~skmoe.GateLikelihood.weights`).
    """
    n, K = LW.shape
    value = 0.0
    if kind == COMPLETE:
        for i in range(n):
            for k in range(K):
                r = R[i, k]
                if r > 0:
                    value += r * LW[i, k]
                G[i, k] = r
        return value
    for i in range(n):
        m = a[i]
        for k in range(K):
            z = LW[i, k] + A[i, k]
            if z > m:
                m = z
        s = np.exp(a[i] - m)
        for k in range(K):
            e = np.exp(LW[i, k] + A[i, k] - m)
            G[i, k] = e
            s += e
        lse = m + np.log(s)
        value += w[i] * lse
        for k in range(K):
            G[i, k] = w[i] * (G[i, k] / s)
    return value


@njit(cache=True)
def topk_gradient(family, X, L, LW, G, top_k, smoothing, tau, grad):
    """Gradient of ``sum_ik G_ik LW_ik`` in ``theta`` (``G`` held fixed) into ``grad``.

    The selection's vector-Jacobian product in the scores (the smoothed
    one's :func:`~skmoe._kernels._logspace.soft_topk_vjp`, ``G - g sum_k
    G_k`` for the exact one), times ``sigmoid(-L)`` for the normalized
    sigmoid's scores ``log sigmoid(L)``, plus the smoothed selection's
    derivative in the ranking logits, divided by ``tau``, carried to the
    free rows of ``grad``.
    """
    n, K = L.shape
    d = X.shape[1]
    p = d + 1
    rows = grad.shape[0] // p
    if smoothing > 0:
        scores = _log_sigmoids(L) if family == SIGMOID else L
        dL, d_rank = soft_topk_vjp(G, scores, L, top_k, smoothing)
        for i in range(n):
            for k in range(K):
                if family == SIGMOID:
                    dL[i, k] *= np.exp(log_sigmoid(-L[i, k]))
                dL[i, k] += d_rank[i, k]
    else:
        dL = np.empty((n, K))
        for i in range(n):
            total = 0.0
            for k in range(K):
                total += G[i, k]
            for k in range(K):
                dL[i, k] = G[i, k] - np.exp(LW[i, k]) * total
                if family == SIGMOID:
                    dL[i, k] *= np.exp(log_sigmoid(-L[i, k]))
    for q in range(grad.shape[0]):
        grad[q] = 0.0
    for i in range(n):
        for k in range(rows):
            g = dL[i, k] / tau
            for j in range(d):
                grad[k * p + j] += g * X[i, j]
            grad[k * p + d] += g


@njit(cache=True)
def exact_observed(family, theta, X, tau, top_k, w, A, a, coef, intercept,
                   want_grad, grad):
    """The exact selection's observed likelihood (and gradient) in one pass.

    The value and gradient of :func:`topk_evaluate` with ``smoothing = 0``
    and ``kind = OBSERVED``, row by row with the same operations (the same
    bits) and no ``(n, K)`` buffer; the gradient into ``grad`` only with
    ``want_grad`` (zeros when the value is not finite).
    """
    unpack_rows(theta, coef, intercept)
    n, d = X.shape
    K = coef.shape[0]
    p = d + 1
    rows = theta.shape[0] // p
    z, lw, g, logs = np.empty(K), np.empty(K), np.empty(K), np.empty(K)
    keep = np.empty(K, dtype=np.bool_)
    order = np.empty(K, dtype=np.int64)
    if want_grad:
        grad[:] = 0.0
    value = 0.0
    for i in range(n):
        affine_row(X, i, coef, intercept, z)
        if tau != 1.0:
            for k in range(K):
                z[k] /= tau
        top_k_mask(z, top_k, order, keep)
        if family == SIGMOID:
            for k in range(K):
                logs[k] = log_sigmoid(z[k])
            log_normalize_row(logs, keep, lw)
        else:
            log_normalize_row(z, keep, lw)
        m = a[i]
        for k in range(K):
            v = lw[k] + A[i, k]
            if v > m:
                m = v
        s = np.exp(a[i] - m)
        for k in range(K):
            e = np.exp(lw[k] + A[i, k] - m)
            g[k] = e
            s += e
        value += w[i] * (m + np.log(s))
        if not want_grad:
            continue
        total = 0.0
        for k in range(K):
            g[k] = w[i] * (g[k] / s)
            total += g[k]
        for k in range(rows):
            dl = g[k] - np.exp(lw[k]) * total
            if family == SIGMOID:
                dl *= np.exp(log_sigmoid(-z[k]))
            dl = dl / tau
            for j in range(d):
                grad[k * p + j] += dl * X[i, j]
            grad[k * p + d] += dl
    if want_grad and not np.isfinite(value):
        grad[:] = 0.0
    return value


@njit(cache=True)
def topk_evaluate(family, theta, X, tau, top_k, smoothing, kind, R, w, A, a,
                  coef, intercept, L, G, grad):
    """Objective at ``theta``; its gradient into ``grad`` (zeros if not finite)."""
    if kind == OBSERVED and smoothing == 0:
        return exact_observed(family, theta, X, tau, top_k, w, A, a, coef,
                              intercept, True, grad)
    topk_logits_into(X, theta, tau, coef, intercept, L)
    LW = topk_log_weights(family, L, top_k, smoothing)
    value = topk_objective(kind, LW, R, w, A, a, G)
    if not np.isfinite(value):
        grad[:] = 0.0
        return value
    topk_gradient(family, X, L, LW, G, top_k, smoothing, tau, grad)
    return value


@njit(cache=True)
def _max_abs(v):
    m = 0.0
    for j in range(v.shape[0]):
        x = abs(v[j])
        if x > m or x != x:
            m = x
    return m


@njit(cache=True)
def lbfgs_monotone(theta, max_iter, memory, step_tol, grad_tol, family, X, tau,
                   top_k, smoothing, kind, R, w, A, a):
    """:func:`~skmoe.gating._ascent.maximize_monotone` on :func:`topk_evaluate`.

    ``theta`` is updated in place; returns the objective at it.
    """
    n, d = X.shape
    K = R.shape[1]
    m = theta.shape[0]
    coef, intercept = np.empty((K, d)), np.empty(K)
    L, G = np.empty((n, K)), np.empty((n, K))
    grad, g_new = np.empty(m), np.empty(m)
    value = topk_evaluate(family, theta, X, tau, top_k, smoothing, kind, R, w, A, a,
                          coef, intercept, L, G, grad)
    if m == 0 or not np.isfinite(value):
        return value
    S, Y = np.empty((memory + 1, m)), np.empty((memory + 1, m))
    alphas = np.empty(memory + 1)
    q, new, step, y = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    n_pairs = 0
    for _ in range(max_iter):
        if _max_abs(grad) <= grad_tol:
            break
        # two-loop recursion on -fun: direction = H grad
        q[:] = grad
        for j in range(n_pairs - 1, -1, -1):
            alpha = np.dot(S[j], q) / np.dot(Y[j], S[j])
            alphas[j] = alpha
            q -= alpha * Y[j]
        if n_pairs > 0:
            last = n_pairs - 1
            q *= np.dot(S[last], Y[last]) / np.dot(Y[last], Y[last])
        else:
            q /= max(_max_abs(q), 1.0)
        for j in range(n_pairs):
            beta = np.dot(Y[j], q) / np.dot(Y[j], S[j])
            q += (alphas[j] - beta) * S[j]
        slope = np.dot(grad, q)
        if not slope > 0:
            q[:] = grad / max(_max_abs(grad), 1.0)
            slope = np.dot(grad, q)
            n_pairs = 0
        if not slope > 0:
            break
        t = 1.0
        accepted = False
        v_new = value
        for _ in range(40):
            for j in range(m):
                new[j] = theta[j] + t * q[j]
            v_new = topk_evaluate(family, new, X, tau, top_k, smoothing, kind, R,
                                  w, A, a, coef, intercept, L, G, g_new)
            if v_new >= value + 1e-4 * t * slope:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        for j in range(m):
            step[j] = new[j] - theta[j]
            y[j] = -(g_new[j] - grad[j])  # gradient difference of -fun
        if np.dot(y, step) > 1e-12 * np.sqrt(np.dot(y, y) * np.dot(step, step)):
            if n_pairs == memory:
                for j in range(memory - 1):
                    S[j] = S[j + 1]
                    Y[j] = Y[j + 1]
                n_pairs -= 1
            S[n_pairs] = step
            Y[n_pairs] = y
            n_pairs += 1
        theta[:] = new
        grad[:] = g_new
        value = v_new
        if _max_abs(step) <= step_tol * (1.0 + _max_abs(theta)):
            break
    return value


@njit(cache=True)
def topk_step(family, X, theta, tau, top_k, smoothing, R, w, A, a, max_iter,
              newton_iter, newton_tol, pin_last, LW):
    """The EM update of a top-K gate, in place.

    With ``smoothing > 0``: :func:`lbfgs_monotone` on ``sum_ik R_ik log
    g_k`` (``max_iter`` steps, gradient tolerance ``1e-10 sum R``). With
    ``smoothing == 0``: the ECME step of
    :func:`skmoe.gating._ascent.sparse_gate_m_step` on the observed
    log-likelihood of the routed log-densities ``A`` (shape ``(n, K)``,
    ``log(1 - lambda)`` included) and the shared part's ``a`` (shape
    ``(n,)``, ``-inf`` without shared experts) under the row weights ``w``:
    the dense gate's update (the softmax's one damped Newton step
    :func:`~skmoe._kernels._softmax_steps.softmax_newton_ascent` in the
    logits' rows, the normalized sigmoid's
    :func:`~skmoe._kernels._sigmoid_steps.sigmoid_newton_ascent` with
    ``newton_iter``, ``newton_tol`` and ``pin_last``) fitted to the dense
    gate's posterior weights, accepted if it or one of 5 halvings raises
    the likelihood by more than ``1e-12 max(|L|, 1)`` (taken as it is when
    the start's likelihood is not finite), then ``max_iter`` L-BFGS steps
    (gradient tolerance ``1e-10 sum w``).

    Parameters
    ----------
    family : int
        :data:`SOFTMAX` or :data:`SIGMOID`.
    X : ndarray of shape (n, d)
    theta : ndarray of shape (rows * (d + 1),)
        Input and output: the free rows of ``[coef | intercept]`` (the
        gate's ``pack``: ``K - 1`` rows above a zero last row, or all ``K``
        rows of an unpinned sigmoid gate).
    tau : float
        Temperature (1 for the sigmoid gate).
    top_k : int
        ``1 <= top_k < K``.
    smoothing : float
        Smoothing of the selection (0: exact).
    R : ndarray of shape (n, K)
        Weighted responsibilities (the annealed phase's weights).
    w : ndarray of shape (n,)
        Row weights (the exact phase).
    A : ndarray of shape (n, K)
    a : ndarray of shape (n,)
    max_iter : int
        L-BFGS steps.
    newton_iter, newton_tol, pin_last
        The dense sigmoid gate's Newton settings (unused for the softmax).
    LW : ndarray of shape (n, K)
        Output: the log-weights of the new gate.

    Returns
    -------
    finite : bool
        Whether the new gate is finite.
    """
    n, K = R.shape
    d = X.shape[1]
    m = theta.shape[0]
    p = d + 1
    if smoothing > 0:
        total = 0.0
        for i in range(n):
            for k in range(K):
                total += R[i, k]
        lbfgs_monotone(theta, max_iter, 6, 1e-9, 1e-10 * total, family, X, tau,
                       top_k, smoothing, COMPLETE, R, w, A, a)
    else:
        coef, intercept = np.empty((K, d)), np.empty(K)
        L, G = np.empty((n, K)), np.empty((n, K))
        grad = np.empty(m)
        v0 = exact_observed(family, theta, X, tau, top_k, w, A, a, coef,
                            intercept, False, grad)
        topk_logits_into(X, theta, tau, coef, intercept, L)
        # the dense proposal: the dense gate's update from its posterior
        # weights at the current rows
        theta1 = np.empty(m)
        if family == SIGMOID:
            topk_objective(OBSERVED, sigmoid_log_weights(L, K), R, w, A, a, G)
            sigmoid_newton_ascent(X, G, coef, intercept, newton_iter,
                                  newton_tol, pin_last, np.empty((0, K)))
            scale = 1.0
        else:
            # in the logits' rows (the rows divided by the temperature)
            coef /= tau
            intercept /= tau
            dense = np.empty((n, K))
            softmax_log_weights_into(X, coef, intercept, dense)
            topk_objective(OBSERVED, dense, R, w, A, a, G)
            none = np.empty((0, K))
            softmax_newton_ascent(X, G, coef, intercept, 1, none, none, False)
            scale = tau
        for k in range(m // p):
            for j in range(d):
                theta1[k * p + j] = coef[k, j] * scale
            theta1[k * p + d] = intercept[k] * scale
        value = v0
        if not np.isfinite(v0):
            theta[:] = theta1
            value = topk_evaluate(family, theta, X, tau, top_k, 0.0, OBSERVED,
                                  R, w, A, a, coef, intercept, L, G, grad)
        else:
            # a relative margin far above round-off keeps a converged gate
            margin = 1e-12 * max(abs(v0), 1.0)
            t = 1.0
            cand = np.empty(m)
            for _ in range(6):
                for j in range(m):
                    cand[j] = theta[j] + t * (theta1[j] - theta[j])
                v = exact_observed(family, cand, X, tau, top_k, w, A, a, coef,
                                   intercept, False, grad)
                if v > v0 + margin:
                    theta[:] = cand
                    value = v
                    break
                t *= 0.5
        if np.isfinite(value):
            total = 0.0
            for i in range(n):
                total += w[i]
            lbfgs_monotone(theta, max_iter, 6, 1e-9, 1e-10 * total, family, X,
                           tau, top_k, 0.0, OBSERVED, R, w, A, a)
    coef, intercept = np.empty((K, d)), np.empty(K)
    L = np.empty((n, K))
    topk_logits_into(X, theta, tau, coef, intercept, L)
    LW[:] = topk_log_weights(family, L, top_k, smoothing)
    for j in range(m):
        if not np.isfinite(theta[j]):
            return False
    return True
