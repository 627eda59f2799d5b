"""Normalized sigmoid gate: log-weights, weighted objective, gradient, Hessian."""

import numpy as np

from ..utils._numba_cache import njit
from ._logspace import log_normalize_row, log_sigmoid, top_k_mask


@njit(cache=True)
def sigmoid_log_weights(Z, top_k):
    """Log-weights of the normalized sigmoid gate, optionally over the top K.

    ``g_k = sigmoid(z_k) / sum_{j in T} sigmoid(z_j)`` for ``k`` in ``T``, the
    ``top_k`` largest logits of the row (ties broken towards the lower column
    index), and ``g_k = 0`` (log-weight ``-inf``) outside ``T``.

    Parameters
    ----------
    Z : ndarray of shape (n, K), float64, C-contiguous
        Logits; a row whose kept logits are all ``-inf`` (every sigmoid 0)
        is uniform over them, the limit of the weights (see
        :func:`~skmoe._kernels._logspace.log_normalize_row`).
    top_k : int
        Number of kept entries per row, ``1 <= top_k <= K`` (``K``: dense).

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-weights. Does not modify ``Z``.
    """
    n, K = Z.shape
    out = np.empty((n, K))
    keep = np.ones(K, dtype=np.bool_)
    logs = np.empty(K)
    order = np.empty(K, dtype=np.int64)
    for i in range(n):
        top_k_mask(Z[i], top_k, order, keep)
        for k in range(K):
            logs[k] = log_sigmoid(Z[i, k])
        log_normalize_row(logs, keep, out[i])
    return out


@njit(cache=True)
def sigmoid_gate_objective(X, coef, intercept, R, compute_hessian):
    """Weighted log-likelihood of the dense normalized sigmoid gate.

    ``Q = sum_ik R_ik log g_k(x_i)`` with ``g_k = sigmoid(z_k) / sum_j
    sigmoid(z_j)`` and ``z = X coef^T + intercept``. All ``K`` rows are free
    (the gate is not invariant to a common shift), flattened row by row as
    ``theta[k * (d + 1) + j]`` with ``j = d`` the intercept.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    coef : ndarray of shape (K, d), float64
    intercept : ndarray of shape (K,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights, usually ``sample_weight * responsibilities``.
    compute_hessian : bool
        Whether to accumulate the curvature matrices (``O(n K^2 d^2)``).

    Returns
    -------
    value : float
        ``Q``.
    grad : ndarray of shape (K * (d + 1),)
        Gradient of ``Q``; per row ``dQ/dz_k = (1 - s_k)(R_k - w g_k)`` with
        ``s = sigmoid(z)`` and ``w = sum_k R_k``.
    neg_hess : ndarray of shape (K * (d + 1), K * (d + 1))
        Negative Hessian of ``Q`` (symmetric, not always positive definite:
        ``Q`` is not concave). A (1, 1) zero array without ``compute_hessian``.
    fisher : ndarray of shape (K * (d + 1), K * (d + 1))
        Negative expected Hessian (the Hessian with ``R_k`` replaced by its
        expectation ``w g_k``), positive semi-definite. A (1, 1) zero array
        without ``compute_hessian``.

    Notes
    -----
    Per row, with ``c = 1 - s`` and ``a_k = g_k c_k``, the Fisher block is
    ``w (diag(g c^2) - a a^T)`` and the negative Hessian adds
    ``diag(s c (R - w g))``. Does not modify its inputs; rows are reduced
    serially, in order (by :func:`sigmoid_gate_objective_into`).
    """
    K, d = coef.shape
    m = K * (d + 1)
    grad = np.empty(m)
    if compute_hessian:
        F = np.empty((m, m))
        D = np.empty((m, m))
    else:
        F = np.zeros((1, 1))
        D = np.zeros((1, 1))
    value = sigmoid_gate_objective_into(X, coef, intercept, R, compute_hessian,
                                        np.empty((0, K)), grad, F, D)
    if not compute_hessian:
        return value, grad, F, F
    return value, grad, F + D, F


@njit(cache=True)
def sigmoid_gate_objective_into(X, coef, intercept, R, compute_hessian, LW,
                                grad, F, D):
    """:func:`sigmoid_gate_objective` into buffers, with the log-weights.

    Returns ``Q``; writes its gradient into ``grad`` and, with
    ``compute_hessian``, the negative expected Hessian into ``F`` and the
    rest of the negative Hessian (``F + D`` is the negative Hessian) into
    ``D`` (shape ``(K (d + 1), K (d + 1))``, not touched otherwise). When
    ``LW`` has ``n`` rows the log-weights ``log g`` go into it.

    ``Q`` and the log-weights are computed by the operations of
    :func:`~skmoe._kernels._sigmoid_steps.sigmoid_objective_into` (same
    bits); ``s_k`` and ``1 - s_k`` come from the ``exp(-|z_k|)`` of
    ``log sigmoid(z_k)`` (one exponential and one ``log1p`` per entry).
    """
    n, d = X.shape
    K = coef.shape[0]
    p = d + 1
    m = K * p
    store = LW.shape[0] == n
    for a in range(m):
        grad[a] = 0.0
    if compute_hessian:
        for a in range(m):
            for b in range(m):
                F[a, b] = 0.0
                D[a, b] = 0.0
    tri = p * (p + 1) // 2
    Fu = np.zeros(K * (K + 1) // 2 * tri)
    Du = np.zeros(K * tri)
    value = 0.0
    logs = np.empty(K)
    s = np.empty(K)
    c = np.empty(K)
    g = np.empty(K)
    xt = np.empty(p)
    xt[d] = 1.0
    for i in range(n):
        for j in range(d):
            xt[j] = X[i, j]
        mx = -np.inf
        for k in range(K):
            z = intercept[k]
            for j in range(d):
                z += X[i, j] * coef[k, j]
            # log_sigmoid(z) by its own operations, keeping exp(-|z|)
            if z >= 0.0:
                e = np.exp(-z)
                logs[k] = -np.log1p(e)
                s[k] = 1.0 / (1.0 + e)
                c[k] = e / (1.0 + e)
            else:
                e = np.exp(z)
                logs[k] = z - np.log1p(e)
                s[k] = e / (1.0 + e)
                c[k] = 1.0 / (1.0 + e)
            if logs[k] > mx:
                mx = logs[k]
        tot = 0.0
        for k in range(K):
            g[k] = np.exp(logs[k] - mx)
            tot += g[k]
        lse = mx + np.log(tot)
        wi = 0.0
        for k in range(K):
            g[k] /= tot
            r = R[i, k]
            wi += r
            if r != 0.0:
                value += r * (logs[k] - lse)
            if store:
                LW[i, k] = logs[k] - lse
        if wi == 0.0:
            continue
        for k in range(K):
            dz = c[k] * (R[i, k] - wi * g[k])
            base = k * p
            for j in range(p):
                grad[base + j] += dz * xt[j]
        if compute_hessian:
            # flat accumulators, the upper triangles of the blocks in order
            # (k <= l, a <= b): each entry sums the same terms as F[bk + a,
            # bl + b] += (f x_a) x_b, in row order
            u = 0
            v = 0
            for k in range(K):
                ak = g[k] * c[k]
                for l in range(k, K):
                    al = g[l] * c[l]
                    if k == l:
                        f = wi * (g[k] * c[k] * c[k] - ak * ak)
                        e = s[k] * c[k] * (R[i, k] - wi * g[k])
                        for a in range(p):
                            fa = f * xt[a]
                            ea = e * xt[a]
                            for b in range(a, p):
                                Fu[u] += fa * xt[b]
                                Du[v] += ea * xt[b]
                                u += 1
                                v += 1
                    else:
                        f = -wi * ak * al
                        for a in range(p):
                            fa = f * xt[a]
                            for b in range(a, p):
                                Fu[u] += fa * xt[b]
                                u += 1
    if not compute_hessian:
        return value
    u = 0
    v = 0
    for k in range(K):
        for l in range(k, K):
            bk = k * p
            bl = l * p
            for a in range(p):
                for b in range(a, p):
                    F[bk + a, bl + b] = Fu[u]
                    F[bk + b, bl + a] = Fu[u]
                    u += 1
                    if k == l:
                        D[bk + a, bl + b] = Du[v]
                        D[bk + b, bl + a] = Du[v]
                        v += 1
    for r_ in range(m):
        for c_ in range(r_ + 1, m):
            F[c_, r_] = F[r_, c_]
            D[c_, r_] = D[r_, c_]
    return value
