"""Softmax gate: weighted multinomial log-likelihood, gradient and Hessian."""

import numpy as np
from numba import njit


@njit(cache=True)
def _descending_order(z, order):
    """Write into ``order`` the indices of ``z`` by decreasing value.

    A stable insertion sort (ties keep the lower index first), with no
    allocation: rows have a handful of experts.
    """
    K = z.shape[0]
    for k in range(K):
        j = k
        while j > 0 and z[order[j - 1]] < z[k]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = k


@njit(cache=True)
def softmax_gate_objective(X, coef, intercept, R, compute_hessian):
    """Weighted softmax log-likelihood ``Q = sum_ik R_ik log softmax_k(x_i)``.

    The free parameters are the rows ``0 .. K-2`` of ``[coef | intercept]``
    (the last expert's row is the reference, held fixed), flattened row by row
    as ``theta[k * (d + 1) + j]`` with ``j = d`` the intercept.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    coef : ndarray of shape (K, d), float64
    intercept : ndarray of shape (K,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights, usually ``sample_weight * responsibilities``.
    compute_hessian : bool
        Whether to accumulate the negative Hessian (the dominant cost,
        ``O(n K^2 d^2)``).

    Returns
    -------
    value : float
        ``Q``.
    grad : ndarray of shape ((K - 1) * (d + 1),)
        Gradient of ``Q`` with respect to the free parameters.
    neg_hess : ndarray of shape ((K - 1) * (d + 1), (K - 1) * (d + 1))
        Negative Hessian (positive semi-definite); a (1, 1) zero array when
        ``compute_hessian`` is False.

    Notes
    -----
    Does not modify its inputs. Rows are reduced serially, in order.
    """
    n, d = X.shape
    K = coef.shape[0]
    p = d + 1
    m = (K - 1) * p
    grad = np.zeros(m)
    if compute_hessian:
        H = np.zeros((m, m))
    else:
        H = np.zeros((1, 1))
    value = 0.0
    z = np.empty(K)
    prob = np.empty(K)
    xt = np.empty(p)
    xt[d] = 1.0
    for i in range(n):
        for j in range(d):
            xt[j] = X[i, j]
        mx = -np.inf
        for k in range(K):
            s = intercept[k]
            for j in range(d):
                s += X[i, j] * coef[k, j]
            z[k] = s
            if s > mx:
                mx = s
        tot = 0.0
        for k in range(K):
            e = np.exp(z[k] - mx)
            prob[k] = e
            tot += e
        lse = mx + np.log(tot)
        inv = 1.0 / tot
        wi = 0.0
        for k in range(K):
            prob[k] *= inv
            r = R[i, k]
            wi += r
            if r != 0.0:
                value += r * (z[k] - lse)
        if wi == 0.0:
            continue
        for k in range(K - 1):
            c = R[i, k] - wi * prob[k]
            base = k * p
            for j in range(p):
                grad[base + j] += c * xt[j]
        if compute_hessian:
            for k in range(K - 1):
                for l in range(k, K - 1):
                    if k == l:
                        c = wi * prob[k] * (1.0 - prob[k])
                    else:
                        c = -wi * prob[k] * prob[l]
                    if c == 0.0:
                        continue
                    bk = k * p
                    bl = l * p
                    for a in range(p):
                        ca = c * xt[a]
                        for b in range(a, p):
                            H[bk + a, bl + b] += ca * xt[b]
    if compute_hessian:
        # blocks are symmetric in (a, b): fill the lower half of each block,
        # then mirror the upper block triangle
        for k in range(K - 1):
            for l in range(k, K - 1):
                bk = k * p
                bl = l * p
                for a in range(p):
                    for b in range(a + 1, p):
                        H[bk + b, bl + a] = H[bk + a, bl + b]
        for r_ in range(m):
            for c_ in range(r_ + 1, m):
                H[c_, r_] = H[r_, c_]
    return value, grad, H


@njit(cache=True)
def topk_log_softmax_rows(Z, top_k):
    """Row-wise log-softmax over the ``top_k`` largest entries, ``-inf`` elsewhere.

    For every row the ``top_k`` largest logits are kept (ties broken towards
    the lower column index, as a stable sort does); the others get weight
    exactly zero (log-weight ``-inf``) and the kept ones are renormalised.

    Parameters
    ----------
    Z : ndarray of shape (n, K), float64, C-contiguous
        Finite logits.
    top_k : int
        Number of kept entries per row, ``1 <= top_k <= K``.

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-probabilities. Does not modify ``Z``.
    """
    n, K = Z.shape
    out = np.empty((n, K))
    keep = np.empty(K, dtype=np.bool_)
    order = np.empty(K, dtype=np.int64)
    for i in range(n):
        _descending_order(Z[i], order)
        keep[:] = False
        for j in range(top_k):
            keep[order[j]] = True
        m = Z[i, order[0]]
        s = 0.0
        for k in range(K):
            if keep[k]:
                s += np.exp(Z[i, k] - m)
        lse = m + np.log(s)
        for k in range(K):
            if keep[k]:
                out[i, k] = Z[i, k] - lse
            else:
                out[i, k] = -np.inf
    return out
