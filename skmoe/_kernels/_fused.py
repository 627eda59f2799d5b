"""Fused EM passes for a softmax gate and affine experts with Gaussian noise.

One EM iteration of this model touches the data twice:

- :func:`fused_estep_statistics`, at the current parameters: the E-step
  (logits, log-softmax, expert means, Gaussian log-densities, log-sum-exp,
  responsibilities), the weighted log-likelihood, and every statistic of the
  M-step that only needs the responsibilities: the experts' weighted Gram
  matrices and moments, and the gate's objective, gradient and negative
  Hessian at the current gate (its Newton step). Before it overwrites the
  previous responsibilities it can also sum their gate objective at the
  current gate: the line-search test of the gate step that led here;
- :func:`fused_residuals`, after the experts' update: their weighted residual
  sums of squares at the *new* means (their variances).

The expensive part, the ``K + K (K - 1) / 2`` weighted Gram matrices of the
design ``[x, 1]`` (``K`` for the experts, one per pair of free gate blocks for
the Hessian), is one small matrix product per block of rows: the packed upper
triangle of every row's outer product, times the rows' weights.

Rows are split into ``N_CHUNKS`` fixed chunks (:mod:`._chunks`) and each chunk
into fixed blocks, so sums do not depend on the Numba thread count. The block
products are BLAS calls (``np.dot``) kept below the size from which OpenBLAS,
built with its default ``GEMM_MULTITHREAD_THRESHOLD``, starts threads
(``rows * weights * entries <= 2**18``), so that every call runs serially on
the calling thread. A design so wide that one row exceeds it (``d >= 228`` for
``K = 4``) gets one-row blocks, whose products OpenBLAS may thread: it splits
them over output blocks, which does not change the bits, but neither that nor
another BLAS library's behaviour is tested here.
"""

import numpy as np
from numba import prange

from ..utils._numba_cache import njit
from ._chunks import N_CHUNKS, chunk_bounds, symmetric_from_packed
from ._gaussian import _normal_constants
from ._softmax import hessian_from_packed

#: Largest ``block rows * weights * packed entries`` of one block product:
#: OpenBLAS runs a smaller ``dgemm`` on the calling thread.
_BLAS_SERIAL_SIZE = 2**18
#: Most rows per block (beyond it the products gain nothing measurable).
_MAX_BLOCK = 256


@njit(cache=True)
def _block_rows(n_weights, n_tri):
    """Rows per block: as many as allowed, at least 1."""
    return max(1, min(_MAX_BLOCK, _BLAS_SERIAL_SIZE // max(n_weights * n_tri, 1)))


@njit(cache=True)
def _by_input(coef, intercept, W, offset):
    """Columns ``offset + k`` of ``W``: ``coef[k]`` by input, then ``intercept[k]``."""
    K, d = coef.shape
    for k in range(K):
        for j in range(d):
            W[j, offset + k] = coef[k, j]
        W[d, offset + k] = intercept[k]


@njit(cache=True)
def _stacked_linear(gate_coef, gate_intercept, expert_coef, expert_intercept):
    """``W[j, k]``: gate slopes and intercepts then the experts', by input."""
    K, d = gate_coef.shape
    W = np.empty((d + 1, 2 * K))
    _by_input(gate_coef, gate_intercept, W, 0)
    _by_input(expert_coef, expert_intercept, W, K)
    return W


@njit(cache=True)
def _estep_block(X, y, w, W, log_norm, half_prec, resp, trial, s, b, xT, outer,
                 cT, mT, mass, gate_mass, sums):
    """E-step of rows ``s:s + b`` and their weights, for the block products.

    Writes ``resp[i, k] = w_i r_ik`` and, for block column ``r``: the design
    ``xT[:, r]`` and its packed outer product ``outer[:, r]``; the weights of
    the Gram matrices ``cT[:, r]`` (``R_ik`` for the experts, then
    ``W_i p_k (delta_kl - p_l)`` with ``W_i = sum_k R_ik`` for the gate
    blocks ``k <= l < K - 1``); the weights of the moments ``mT[:, r]``
    (``R_ik y_i``, then the gate gradient's ``R_ik - W_i p_k``). Adds the
    masses ``sum_i R_ik`` to ``mass``, the gate masses ``sum_i w_i p_ik`` to
    ``gate_mass``, the weighted log-likelihood to
    ``sums[0]`` and the gate objective ``sum_ik R_ik log p_ik`` to
    ``sums[1]``; with ``trial``, first adds ``sum_ik R'_ik log p_ik`` of the
    previous weights ``R'`` in ``resp`` to ``sums[2]``.
    """
    d = X.shape[1]
    K = mass.shape[0]
    lin = np.empty(2 * K)
    prob = np.empty(K)
    joint = np.empty(K)
    loglik = 0.0
    gate_value = 0.0
    trial_value = 0.0
    for r in range(b):
        i = s + r
        for k in range(2 * K):
            lin[k] = W[d, k]
        for j in range(d):
            xj = X[i, j]
            xT[j, r] = xj
            for k in range(2 * K):
                lin[k] += xj * W[j, k]
        xT[d, r] = 1.0
        # log-softmax of the gate logits lin[:K]
        mz = -np.inf
        for k in range(K):
            if lin[k] > mz:
                mz = lin[k]
        sz = 0.0
        for k in range(K):
            e = np.exp(lin[k] - mz)
            prob[k] = e
            sz += e
        lse = mz + np.log(sz)
        inv = 1.0 / sz
        m = -np.inf
        for k in range(K):
            prob[k] *= inv
            e = y[i] - lin[K + k]
            a = (lin[k] - lse) + log_norm[k] - e * e * half_prec[k]
            joint[k] = a
            if a > m:
                m = a
        total = 0.0
        for k in range(K):
            e = np.exp(joint[k] - m)
            joint[k] = e
            total += e
        wi = w[i]
        for k in range(K):
            gate_mass[k] += wi * prob[k]
        loglik += wi * (m + np.log(total))
        scale = wi / total
        # the gate's weight of the row is sum_k R_ik (w_i up to round-off), as
        # in softmax_gate_objective
        wsum = 0.0
        for k in range(K):
            Rk = joint[k] * scale
            if trial:
                previous = resp[i, k]
                if previous != 0.0:
                    trial_value += previous * (lin[k] - lse)
            resp[i, k] = Rk
            wsum += Rk
            mass[k] += Rk
            if Rk != 0.0:
                gate_value += Rk * (lin[k] - lse)
            cT[k, r] = Rk
            mT[k, r] = Rk * y[i]
        q = K
        for k in range(K - 1):
            wp = wsum * prob[k]
            mT[K + k, r] = resp[i, k] - wp
            cT[q, r] = wp * (1.0 - prob[k])
            q += 1
            for l in range(k + 1, K - 1):
                cT[q, r] = -wp * prob[l]
                q += 1
    p = d + 1
    t = 0
    for a in range(p):
        for c in range(a, p):
            for r in range(b):
                outer[t, r] = xT[a, r] * xT[c, r]
            t += 1
    sums[0] += loglik
    sums[1] += gate_value
    sums[2] += trial_value


@njit(cache=True)
def _estep_blocks(X, y, w, W, log_norm, half_prec, resp, trial, start, stop, b,
                  packed, moments, mass, gate_mass, sums):
    """Rows ``start:stop`` in blocks of ``b`` rows, products added in order.

    The block buffers are allocated once; ``stop - start`` is a multiple of
    ``b``. The block products allocate their small results (``np.dot`` has
    no accumulating form in Numba): one per ``b`` rows.
    """
    p = X.shape[1] + 1
    n_weights, n_tri = packed.shape
    xT = np.empty((p, b))
    outer = np.empty((n_tri, b))
    cT = np.empty((n_weights, b))
    mT = np.empty((moments.shape[0], b))
    for s in range(start, stop, b):
        _estep_block(X, y, w, W, log_norm, half_prec, resp, trial, s, b, xT, outer,
                     cT, mT, mass, gate_mass, sums)
        packed += np.dot(cT, outer.T)
        moments += np.dot(mT, xT.T)


@njit(cache=True)
def _estep_chunk(X, y, w, W, log_norm, half_prec, resp, trial, start, stop,
                 packed, moments, mass, gate_mass, sums):
    """Rows ``start:stop``: full blocks, then the remainder as one block."""
    B = _block_rows(packed.shape[0], packed.shape[1])
    full = start + (stop - start) // B * B
    if full > start:
        _estep_blocks(X, y, w, W, log_norm, half_prec, resp, trial, start, full,
                      B, packed, moments, mass, gate_mass, sums)
    if stop > full:
        _estep_blocks(X, y, w, W, log_norm, half_prec, resp, trial, full, stop,
                      stop - full, packed, moments, mass, gate_mass, sums)


@njit(cache=True, parallel=True)
def fused_estep_statistics(X, y, sample_weight, gate_coef, gate_intercept,
                           expert_coef, expert_intercept, variances, resp, trial):
    """E-step, log-likelihood and all responsibility statistics in one pass.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    y : ndarray of shape (n,), float64
    sample_weight : ndarray of shape (n,), float64
        Non-negative.
    gate_coef : ndarray of shape (K, d), float64, C-contiguous
        Gate slopes, last row zero (the reference of the free gate).
    gate_intercept : ndarray of shape (K,), float64
        Gate intercepts, last entry zero.
    expert_coef : ndarray of shape (K, d), float64, C-contiguous
    expert_intercept : ndarray of shape (K,), float64
    variances : ndarray of shape (K,), float64
        Strictly positive.
    resp : ndarray of shape (n, K), float64, C-contiguous
        Output: ``sample_weight[i] * r_ik``, the weighted responsibilities.
        With ``trial``, also an input: the previous weighted
        responsibilities ``R'``.
    trial : bool
        Whether to compute ``trial_value`` (the gate objective of the previous
        responsibilities at this gate: the line-search test of the gate
        update that produced it).

    Returns
    -------
    loglik : float
        ``sum_i sample_weight[i] log p(y_i | x_i)``.
    gate_value : float
        ``Q = sum_ik R_ik log softmax_k(x_i)`` with ``R = resp``.
    gate_grad : ndarray of shape ((K - 1) * (d + 1),)
        Gradient of ``Q`` in the free gate (rows ``0 .. K-2`` of
        ``[gate_coef | gate_intercept]``, flattened row by row).
    gate_neg_hess : ndarray of shape ((K - 1) * (d + 1), (K - 1) * (d + 1))
        Negative Hessian of ``Q``, as
        :func:`~skmoe._kernels._softmax.softmax_gate_objective`.
    gram : ndarray of shape (K, d + 1, d + 1)
        ``sum_i R_ik f_i f_i^T`` with ``f_i = [x_i, 1]``.
    moment : ndarray of shape (K, d + 1)
        ``sum_i R_ik f_i y_i``.
    mass : ndarray of shape (K,)
        ``sum_i R_ik``.
    trial_value : float
        ``sum_ik R'_ik log softmax_k(x_i)`` with ``trial``, else 0.
    gate_mass : ndarray of shape (K,)
        ``sum_i sample_weight[i] softmax_k(x_i)``.

    Notes
    -----
    Writes ``resp`` and nothing else. The results equal those of
    :func:`~skmoe._kernels._gaussian.gaussian_estep_linear`,
    :func:`~skmoe._kernels._softmax.softmax_gate_objective` and
    :func:`~skmoe._kernels._linear.linear_expert_suffstats` on the weighted
    responsibilities up to round-off; they do not depend on the thread count.
    """
    n, d = X.shape
    K = gate_coef.shape[0]
    p = d + 1
    n_tri = p * (p + 1) // 2
    n_weights = K + (K - 1) * K // 2
    n_mom = 2 * K - 1
    log_norm, half_prec = _normal_constants(variances)
    W = _stacked_linear(gate_coef, gate_intercept, expert_coef, expert_intercept)
    packs = np.zeros((N_CHUNKS, n_weights, n_tri))
    moms = np.zeros((N_CHUNKS, n_mom, p))
    masses = np.zeros((N_CHUNKS, K))
    gate_masses = np.zeros((N_CHUNKS, K))
    sums = np.zeros((N_CHUNKS, 3))
    for c in prange(N_CHUNKS):
        start, stop = chunk_bounds(n, c)
        _estep_chunk(X, y, sample_weight, W, log_norm, half_prec, resp, trial,
                     start, stop, packs[c], moms[c], masses[c], gate_masses[c],
                     sums[c])
    packed = np.zeros((n_weights, n_tri))
    mom = np.zeros((n_mom, p))
    mass = np.zeros(K)
    gate_mass = np.zeros(K)
    total = np.zeros(3)
    for c in range(N_CHUNKS):
        packed += packs[c]
        mom += moms[c]
        mass += masses[c]
        gate_mass += gate_masses[c]
        total += sums[c]
    gram = symmetric_from_packed(packed[:K], p)
    grad = np.empty((K - 1) * p)
    for k in range(K - 1):
        for j in range(p):
            grad[k * p + j] = mom[K + k, j]
    neg_hess = hessian_from_packed(packed[K:], K, p)
    return (total[0], total[1], grad, neg_hess, gram,
            np.ascontiguousarray(mom[:K]), mass, total[2], gate_mass)


@njit(cache=True)
def _residual_rows(X, y, R, W, start, stop, rss):
    """Add rows ``start:stop`` of :func:`fused_residuals` to ``rss``.

    ``W[j, k]`` holds the slopes of expert ``k`` by input, then its intercept.
    """
    d = X.shape[1]
    K = R.shape[1]
    mean = np.empty(K)
    for i in range(start, stop):
        for k in range(K):
            mean[k] = W[d, k]
        for j in range(d):
            xj = X[i, j]
            for k in range(K):
                mean[k] += xj * W[j, k]
        for k in range(K):
            Rk = R[i, k]
            if Rk != 0.0:
                e = y[i] - mean[k]
                rss[k] += Rk * e * e


@njit(cache=True, parallel=True)
def fused_residuals(X, y, R, expert_coef, expert_intercept):
    """Weighted residual sums of squares of affine experts, without their means.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    y : ndarray of shape (n,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights (sample weight times responsibility).
    expert_coef : ndarray of shape (K, d), float64, C-contiguous
    expert_intercept : ndarray of shape (K,), float64

    Returns
    -------
    rss : ndarray of shape (K,)
        ``sum_i R_ik (y_i - expert_coef_k . x_i - expert_intercept_k)^2``.

    Notes
    -----
    Does not modify its inputs; no ``(n, K)`` temporary; the result does not
    depend on the thread count (fixed chunks, summed in order).
    """
    n = X.shape[0]
    K = R.shape[1]
    W = np.empty((X.shape[1] + 1, K))
    _by_input(expert_coef, expert_intercept, W, 0)
    rsss = np.zeros((N_CHUNKS, K))
    for c in prange(N_CHUNKS):
        start, stop = chunk_bounds(n, c)
        _residual_rows(X, y, R, W, start, stop, rsss[c])
    rss = np.zeros(K)
    for c in range(N_CHUNKS):
        rss += rsss[c]
    return rss
