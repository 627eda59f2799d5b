"""Softmax gate: weighted multinomial log-likelihood, gradient and Hessian."""

import numpy as np
from numba import prange

from ..utils._numba_cache import njit
from ._chunks import N_CHUNKS, chunk_bounds, packed_outer
from ._codesize import optimize_for_size
from ._logspace import log_normalize_row, top_k_mask


@njit(cache=True, inline="always")
def _gate_scratch(X, K, n_pair):
    """The row buffers of :func:`_gate_rows` (``z, prob, xt, cq, outer``),
    allocated once per pass (or per chunk in threads): a pass of a few hundred
    rows would otherwise spend more time allocating them per chunk than
    computing."""
    d = X.shape[1]
    p = d + 1
    xt = np.empty(p)
    xt[d] = 1.0
    return (np.empty(K), np.empty(K), xt, np.empty(max(n_pair, 1)),
            np.empty(p * (p + 1) // 2))


@njit(cache=True, inline="always")
def _gate_rows(X, coef, intercept, R, c0, c1, compute_hessian, values, grads,
               packed, z, prob, xt, cq, outer, LW, PROB):
    """Add the rows of chunks ``c0:c1`` to their slots: chunk ``c``'s to
    ``values[c]``, ``grad = grads[c]`` and the packed Hessian ``A =
    packed[c]``, in one loop over the rows (entering a loop per chunk costs
    more than a chunk of a small pass).

    ``A[q, t]`` holds pair ``q`` of expert blocks ``k <= l`` (row-major over
    the upper triangle of the ``K - 1`` blocks) and entry ``t`` of the upper
    triangle ``a <= b`` of the ``(d + 1) x (d + 1)`` block, so every row adds
    ``c_q * xt_a * xt_b`` with one contiguous inner loop per pair. A chunk's
    value is the sum of its rows' terms in row order, from 0.

    ``PROB`` of shape ``(n, K)`` (else ``(0, K)``): the softmax weights of
    this gate, and ``LW`` its log-weights, as
    :func:`~skmoe._kernels._softmax_steps.log_softmax_prob_row` wrote them
    (the same operations as below: the same bits); a row whose ``PROB[i,
    0]`` is NaN is computed here.
    """
    d = X.shape[1]
    K = coef.shape[0]
    p = d + 1
    n_pair = packed.shape[1]
    n_tri = packed.shape[2]
    n = X.shape[0]
    value = 0.0
    cached = PROB.shape[0] > 0
    slot = c0
    stop = chunk_bounds(n, slot)[1]
    for i in range(chunk_bounds(n, c0)[0], chunk_bounds(n, c1 - 1)[1]):
        while i >= stop:  # the next (non-empty) chunk
            values[slot] = value
            value = 0.0
            slot += 1
            stop = chunk_bounds(n, slot)[1]
        for j in range(d):
            xt[j] = X[i, j]
        wi = 0.0
        if cached and PROB[i, 0] == PROB[i, 0]:
            for k in range(K):
                prob[k] = PROB[i, k]
                r = R[i, k]
                wi += r
                if r != 0.0:
                    value += r * LW[i, k]
        else:
            mx = -np.inf
            for k in range(K):
                s = intercept[k]
                for j in range(d):
                    s += xt[j] * coef[k, j]
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
            for k in range(K):
                prob[k] *= inv
                r = R[i, k]
                wi += r
                if r != 0.0:
                    value += r * (z[k] - lse)
        if wi == 0.0:
            continue
        for k in range(K - 1):
            g = R[i, k] - wi * prob[k]
            base = k * p
            for j in range(p):
                grads[slot, base + j] += g * xt[j]
        if compute_hessian:
            q = 0
            for k in range(K - 1):
                wp = wi * prob[k]
                cq[q] = wp * (1.0 - prob[k])
                q += 1
                for l in range(k + 1, K - 1):
                    cq[q] = -wp * prob[l]
                    q += 1
            packed_outer(xt, outer)
            for q in range(n_pair):
                h = cq[q]
                for t in range(n_tri):
                    packed[slot, q, t] += h * outer[t]
    while slot < c1:
        values[slot] = value
        value = 0.0
        slot += 1


@njit(cache=True, inline="always")
def _gate_accumulators(X, K, compute_hessian):
    """Per-chunk accumulators of :func:`_gate_rows`, zeroed."""
    p = X.shape[1] + 1
    n_pair = (K - 1) * K // 2 if compute_hessian else 0
    n_tri = p * (p + 1) // 2 if compute_hessian else 0
    return (np.zeros(N_CHUNKS), np.zeros((N_CHUNKS, (K - 1) * p)),
            np.zeros((N_CHUNKS, n_pair, n_tri)))


@njit(cache=True)
def _gate_reduce(K, p, compute_hessian, values, grads, packed):
    """The chunks' sums in chunk order; the Hessian unpacked.

    A kernel of its own, compiled for size: its loops run over the
    parameters, not the rows.
    """
    optimize_for_size()
    m = grads.shape[1]
    n_pair, n_tri = packed.shape[1], packed.shape[2]
    value = 0.0
    grad = np.zeros(m)
    A = np.zeros((n_pair, n_tri))
    for c in range(N_CHUNKS):
        value += values[c]
        for j in range(m):
            grad[j] += grads[c, j]
        for q in range(n_pair):
            for t in range(n_tri):
                A[q, t] += packed[c, q, t]
    if not compute_hessian:
        return value, grad, np.zeros((1, 1))
    return value, grad, hessian_from_packed(A, K, p)


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
    Does not modify its inputs. Only the upper triangle of the Hessian is
    accumulated, packed (see :func:`_gate_rows`). Rows are reduced in
    ``N_CHUNKS`` fixed chunks, then the chunks in order: the same bits as
    :func:`softmax_gate_objective_parallel` with any thread count.
    """
    K = coef.shape[0]
    none = np.empty((0, K))
    return softmax_gate_objective_at(X, coef, intercept, R, compute_hessian, none,
                                     none)


@njit(cache=True)
def softmax_gate_objective_at(X, coef, intercept, R, compute_hessian, LW, PROB):
    """:func:`softmax_gate_objective`, the gate's weights given.

    ``LW`` and ``PROB`` of shape ``(n, K)``: the log-weights and weights of
    the gate ``coef``, ``intercept`` as
    :func:`~skmoe._kernels._softmax_steps.log_softmax_prob_row` computes
    them (the pass that tested the gate keeps them), which saves the pass its
    exponentials and logarithms: the same bits as
    :func:`softmax_gate_objective`. Empty ``(0, K)`` arrays: that function.
    """
    K = coef.shape[0]
    values, grads, packed = _gate_accumulators(X, K, compute_hessian)
    z, prob, xt, cq, outer = _gate_scratch(X, K, packed.shape[1])
    _gate_rows(X, coef, intercept, R, 0, N_CHUNKS, compute_hessian, values,
               grads, packed, z, prob, xt, cq, outer, LW, PROB)
    return _gate_reduce(K, X.shape[1] + 1, compute_hessian, values, grads, packed)


@njit(cache=True)
def _gate_chunk(X, coef, intercept, R, c, compute_hessian, values, grads, packed,
                none):
    """Chunk ``c`` of :func:`softmax_gate_objective` (a call per chunk: the
    row loop's chunk counter is not the parallel loop's index)."""
    z, prob, xt, cq, outer = _gate_scratch(X, coef.shape[0], packed.shape[1])
    c0 = np.int64(c)  # the parallel index may be unsigned
    _gate_rows(X, coef, intercept, R, c0, c0 + 1, compute_hessian, values, grads,
               packed, z, prob, xt, cq, outer, none, none)


@njit(cache=True, parallel=True)
def _gate_chunks_in_threads(X, coef, intercept, R, compute_hessian, values, grads,
                            packed):
    """Every chunk of :func:`softmax_gate_objective` in a ``prange``."""
    K = coef.shape[0]
    none = np.empty((0, K))
    for c in prange(N_CHUNKS):
        _gate_chunk(X, coef, intercept, R, c, compute_hessian, values, grads,
                    packed, none)


@njit(cache=True)
def softmax_gate_objective_parallel(X, coef, intercept, R, compute_hessian):
    """:func:`softmax_gate_objective` with its chunks in Numba's threads.

    Parameters
    ----------
    X, coef, intercept, R, compute_hessian
        As :func:`softmax_gate_objective`.

    Returns
    -------
    value, grad, neg_hess
        As :func:`softmax_gate_objective`, bit for bit.
    """
    K = coef.shape[0]
    values, grads, packed = _gate_accumulators(X, K, compute_hessian)
    _gate_chunks_in_threads(X, coef, intercept, R, compute_hessian, values, grads,
                            packed)
    return _gate_reduce(K, X.shape[1] + 1, compute_hessian, values, grads, packed)


@njit(cache=True)
def hessian_from_packed(A, K, p):
    """The full symmetric matrix of the packed gate Hessian ``A``.

    ``A[q, t]`` holds pair ``q`` of the free expert blocks ``k <= l`` (row-major
    over the upper triangle of the ``K - 1`` blocks) and entry ``t`` of the
    upper triangle ``a <= b`` of the ``p x p`` block (see :func:`_gate_rows`).

    Returns
    -------
    H : ndarray of shape ((K - 1) * p, (K - 1) * p)
    """
    optimize_for_size()
    m = (K - 1) * p
    H = np.zeros((m, m))
    q = 0
    for k in range(K - 1):
        for l in range(k, K - 1):
            bk = k * p
            bl = l * p
            t = 0
            for a in range(p):
                for b in range(a, p):
                    H[bk + a, bl + b] = A[q, t]
                    H[bk + b, bl + a] = A[q, t]
                    H[bl + b, bk + a] = A[q, t]
                    H[bl + a, bk + b] = A[q, t]
                    t += 1
            q += 1
    return H


@njit(cache=True)
def topk_log_softmax_rows(Z, top_k):
    """Row-wise log-softmax over the ``top_k`` largest entries, ``-inf`` elsewhere.

    For every row the ``top_k`` largest logits are kept (ties broken towards
    the lower column index, as a stable sort does); the others get weight
    exactly zero (log-weight ``-inf``) and the kept ones are renormalised.

    Parameters
    ----------
    Z : ndarray of shape (n, K), float64, C-contiguous
        Logits; infinite ones get the limit of the weights (see
        :func:`~skmoe._kernels._logspace.log_normalize_row`).
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
        top_k_mask(Z[i], top_k, order, keep)
        log_normalize_row(Z[i], keep, out[i])
    return out
