"""Log-space row operations shared by gating families."""

import numpy as np

from ..utils._numba_cache import njit


@njit(cache=True)
def descending_order(z, order):
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
def normalize_log_row_inplace(A, i, m):
    """Turn row ``i`` of log joint densities (maximum ``m``) into posteriors.

    Writes ``exp(A[i, k] - logsumexp_k A[i, k])`` in place and returns the
    log-sum-exp.
    """
    K = A.shape[1]
    s = 0.0
    for k in range(K):
        e = np.exp(A[i, k] - m)
        A[i, k] = e
        s += e
    inv = 1.0 / s
    for k in range(K):
        A[i, k] *= inv
    return m + np.log(s)


@njit(cache=True)
def normalize_log_rows_inplace(A, out):
    """Turn log joint densities into posteriors, row by row, in place.

    ``out[i] = logsumexp(A[i])`` and ``A[i] = exp(A[i] - out[i])``. For the
    E-step kernels, on the scratch arrays they own (never on a kernel's
    input): ``-inf`` entries become exact zeros.
    """
    n, K = A.shape
    for i in range(n):
        m = -np.inf
        for k in range(K):
            if A[i, k] > m:
                m = A[i, k]
        out[i] = normalize_log_row_inplace(A, i, m)


@njit(cache=True)
def log_normalize_row(scores, keep, out):
    """``out[k] = scores[k] - logsumexp(scores[keep])`` where kept, else -inf.

    The per-row log-normalisation of every gate kernel (the softmax, its
    top-K form, the normalized sigmoid over its log-sigmoid scores): the
    maximum of the kept entries is subtracted before exponentiating.
    ``scores`` may hold ``-inf`` (an excluded expert); at least one kept
    entry must be finite. Writes ``out`` only.
    """
    K = scores.shape[0]
    m = -np.inf
    for k in range(K):
        if keep[k] and scores[k] > m:
            m = scores[k]
    s = 0.0
    for k in range(K):
        if keep[k]:
            s += np.exp(scores[k] - m)
    lse = m + np.log(s)
    for k in range(K):
        if keep[k]:
            out[k] = scores[k] - lse
        else:
            out[k] = -np.inf


@njit(cache=True)
def top_k_mask(z, top_k, order, keep):
    """``keep[k]`` for the ``top_k`` largest entries of ``z`` (ties: lower index).

    ``order`` is scratch space of ``len(z)`` integers; with ``top_k`` at
    least ``len(z)`` every entry is kept.
    """
    K = z.shape[0]
    if top_k >= K:
        keep[:] = True
        return
    descending_order(z, order)
    keep[:] = False
    for j in range(top_k):
        keep[order[j]] = True


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
    keep = np.ones(K, dtype=np.bool_)
    for i in range(n):
        log_normalize_row(Z[i], keep, out[i])
    return out


@njit(cache=True)
def log_sigmoid(x):
    """``log(1 / (1 + exp(-x)))`` without overflow."""
    if x >= 0.0:
        return -np.log1p(np.exp(-x))
    return x - np.log1p(np.exp(x))


@njit(cache=True)
def soft_topk_log_weights(A, Z, top_k, smoothing):
    """Log-weights of a smoothed top-K selection.

    ``B_ik = A_ik + log sigmoid((Z_ik - t_i) / s)`` and ``out = B -
    logsumexp(B, axis=1)``, with ``t_i`` the midpoint between the ``top_k``-th
    and the ``(top_k + 1)``-th largest entries of row ``i`` of ``Z`` (ties
    broken towards the lower column index, as a stable sort does).

    Parameters
    ----------
    A : ndarray of shape (n, K), float64, C-contiguous
        Finite log-scores.
    Z : ndarray of shape (n, K), float64, C-contiguous
        Finite ranking logits.
    top_k : int
        ``1 <= top_k < K``.
    smoothing : float
        ``s > 0``.

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-weights. Does not modify its inputs.
    """
    n, K = Z.shape
    out = np.empty((n, K))
    order = np.empty(K, dtype=np.int64)
    for i in range(n):
        descending_order(Z[i], order)
        t = 0.5 * (Z[i, order[top_k - 1]] + Z[i, order[top_k]])
        m = -np.inf
        for k in range(K):
            b = A[i, k] + log_sigmoid((Z[i, k] - t) / smoothing)
            out[i, k] = b
            if b > m:
                m = b
        s = 0.0
        for k in range(K):
            s += np.exp(out[i, k] - m)
        lse = m + np.log(s)
        for k in range(K):
            out[i, k] -= lse
    return out


@njit(cache=True)
def soft_topk_vjp(G, A, Z, top_k, smoothing):
    """Vector-Jacobian product of :func:`soft_topk_log_weights`.

    Parameters
    ----------
    G : ndarray of shape (n, K), float64, C-contiguous
        Weights of the log-weights.
    A, Z : ndarray of shape (n, K), float64, C-contiguous
        As in :func:`soft_topk_log_weights`.
    top_k : int
        ``1 <= top_k < K``.
    smoothing : float
        ``s > 0``.

    Returns
    -------
    dA, dZ : ndarray of shape (n, K)
        Gradients of ``sum_ik G_ik out_ik`` with respect to ``A`` and ``Z``
        (``t`` is differentiated through the two order statistics it
        averages). New arrays; does not modify its inputs.
    """
    n, K = Z.shape
    dA = np.empty((n, K))
    dZ = np.empty((n, K))
    b = np.empty(K)
    u = np.empty(K)
    order = np.empty(K, dtype=np.int64)
    for i in range(n):
        descending_order(Z[i], order)
        t = 0.5 * (Z[i, order[top_k - 1]] + Z[i, order[top_k]])
        m = -np.inf
        sum_g = 0.0
        for k in range(K):
            u[k] = (Z[i, k] - t) / smoothing
            b[k] = A[i, k] + log_sigmoid(u[k])
            if b[k] > m:
                m = b[k]
            sum_g += G[i, k]
        s = 0.0
        for k in range(K):
            b[k] = np.exp(b[k] - m)
            s += b[k]
        dt = 0.0
        for k in range(K):
            d = G[i, k] - b[k] / s * sum_g
            dA[i, k] = d
            dz = d * np.exp(log_sigmoid(-u[k])) / smoothing
            dZ[i, k] = dz
            dt -= dz
        dZ[i, order[top_k - 1]] += 0.5 * dt
        dZ[i, order[top_k]] += 0.5 * dt
    return dA, dZ
