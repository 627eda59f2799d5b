"""One fused EM pass for a softmax gate and affine experts with Gaussian noise.

One EM iteration of this model touches the data once:
:func:`fused_estep_statistics`, at the current parameters, computes the
E-step (logits, log-softmax, expert means, Gaussian log-densities,
log-sum-exp, responsibilities), the weighted log-likelihood and every
statistic of the M-step: the experts' weighted Gram matrices, their moments
**in residual form** (``sum_i R_ik f_i e_ik`` and ``sum_i R_ik e_ik**2`` with
the residuals ``e_ik = y_i - mu_ik`` at the current experts, from which the
update solves for the *change* of each expert and the residual sum of squares
at the updated experts follows without a second pass, see
:class:`~skmoe.experts.LinearStatistics`), and the gate's objective, gradient
and negative Hessian at the current gate (its Newton step). Before it
overwrites the previous responsibilities it can also sum their gate objective
at the current gate: the line-search test of the gate step that led here.

Rows are split into ``N_CHUNKS`` fixed chunks (:mod:`._chunks`), each chunk
into blocks of at most :data:`BLOCK` rows, and every block goes through:

1. the linear predictors of the gate and the experts, one small matrix
   product (``2K x b``, the rows innermost), so that every element-wise loop
   after it is a straight loop over contiguous memory that LLVM vectorises
   (the exponentials by :func:`~._logspace.vexp`, two scalar logarithms per
   row);
2. the responsibilities and the sums of the rows (log-likelihood, gate
   objective, masses), expert by expert;
3. the weighted Gram matrices and moments, as two small matrix products of
   the rows' weights (``K + K (K - 1) / 2`` Gram weights: ``R_ik`` for the
   experts, ``W_i p_k (delta_kl - p_l)`` with ``W_i = sum_k R_ik`` for the
   gate's Hessian blocks; ``2K - 1`` moment weights: ``R_ik e_ik``, then the
   gate gradient's ``R_ik - W_i p_k``) with the packed upper triangles of the
   rows' outer products ``f_i f_i^T``, ``f_i = [x_i, 1]``, and with the rows.

The products are BLAS calls (``np.dot``) kept below the size from which
OpenBLAS, built with its default ``GEMM_MULTITHREAD_THRESHOLD``, starts
threads (``rows * weights * entries <= 2**18``), so that every call runs
serially on the calling thread with fixed shapes. A design so wide that one
row exceeds it (``d >= 228`` for ``K = 4``) gets one-row blocks, whose
products OpenBLAS may thread: it splits them over output blocks, which does
not change the bits, but neither that nor another BLAS library's behaviour is
tested here.

A chunk's sums are thus fixed by its rows; the chunks' sums are added in
chunk order. :func:`fused_estep_statistics` runs the chunks in a loop and
:func:`fused_estep_statistics_parallel` in a ``prange`` (the only parallel
part): the same bits with any number of threads.
"""

import numpy as np
from numba import prange

from ..utils._numba_cache import njit
from ._chunks import N_CHUNKS, chunk_bounds, symmetric_from_packed
from ._gaussian import _normal_constants
from ._logspace import vexp
from ._softmax import hessian_from_packed

#: Largest ``block rows * weights * packed entries`` of one block product:
#: OpenBLAS runs a smaller ``dgemm`` on the calling thread.
_BLAS_SERIAL_SIZE = 2**18
#: Most rows per block: the block's ``K x BLOCK`` arrays stay in the cache.
BLOCK = 256


@njit(cache=True, inline="always")
def _block_rows(n_weights, n_tri):
    """Rows per block: at most :data:`BLOCK`, products below the BLAS threshold."""
    return max(1, min(BLOCK, _BLAS_SERIAL_SIZE // max(n_weights * n_tri, 1)))


@njit(cache=True, inline="always")
def _buffers(K, p, n_w, n_tri, n_m, b):
    """The buffers of :func:`_blocks` for blocks of ``b`` rows."""
    kb = K * b
    return (np.empty((p, b)),          # xT: the design block, transposed
            np.empty((n_tri, b)),      # outer: packed outer products
            np.empty((n_w, b)),        # cT: Gram weights
            np.empty((n_m, b)),        # mT: moment weights
            np.empty(kb),              # lp: shifted logits, then log gate probs
            np.empty(kb),              # gate: their exp, then the gate probs
            np.empty(kb),              # q: shifted log joint densities, exp
            np.empty(kb),              # e: residuals y - mu
            np.empty(b), np.empty(b),  # mz, mq: row maxima
            np.empty(b), np.empty(b),  # sz, tot: row sums
            np.empty(b),               # wsum: sum_k R_ik
            np.empty(kb, dtype=np.int64))  # ibuf: vexp's scratch


@njit(cache=True, inline="always")
def _blocks(X, y, w, WT, log_norm, half_prec, resp, trial, start, stop, B,
            packed, moments, sums_k, sums):
    """Rows ``start:stop`` in blocks of ``B`` rows (the last one may be short).

    Writes ``resp[i, k] = w_i r_ik``; adds the block products to ``packed``
    (Gram weights: ``R_ik`` for the experts, then ``W_i p_k (delta_kl - p_l)``
    with ``W_i = sum_k R_ik`` for the gate blocks ``k <= l < K - 1``) and
    ``moments`` (``R_ik e_ik``, then the gate gradient's ``R_ik - W_i p_k``);
    adds ``sum_i R_ik``, ``sum_i R_ik e_ik**2`` and ``sum_i w_i p_ik`` to
    ``sums_k[0:3]``, the weighted log-likelihood, the gate objective
    ``sum_ik R_ik log p_ik`` and, with ``trial``, ``sum_ik R'_ik log p_ik`` of
    the previous weights ``R'`` in ``resp`` to ``sums[0:3]``. The block
    buffers are allocated once, and once more for a short last block.
    """
    d = X.shape[1]
    p = d + 1
    K = WT.shape[0] // 2
    n_w, n_tri = packed.shape
    n_m = moments.shape[0]
    if stop <= start:
        return
    b = min(B, stop - start)
    (xT, outer, cT, mT, lp, gate, q, e, mz, mq, sz, tot, wsum,
     ibuf) = _buffers(K, p, n_w, n_tri, n_m, b)
    for s in range(start, stop, B):
        if stop - s < b:  # the last, short block: buffers of its size
            b = stop - s
            (xT, outer, cT, mT, lp, gate, q, e, mz, mq, sz, tot, wsum,
             ibuf) = _buffers(K, p, n_w, n_tri, n_m, b)
        kb = K * b
        # the design block, transposed, with the constant row last
        for j in range(d):
            for r in range(b):
                xT[j, r] = X[s + r, j]
        for r in range(b):
            xT[d, r] = 1.0
            mz[r] = -np.inf
            mq[r] = -np.inf
            sz[r] = 0.0
            tot[r] = 0.0
            wsum[r] = 0.0
        lin = np.dot(WT, xT)  # gate logits, then expert means (2K, b)
        # log-softmax of the gate logits
        for k in range(K):
            for r in range(b):
                mz[r] = max(mz[r], lin[k, r])
        for k in range(K):
            for r in range(b):
                lp[k * b + r] = lin[k, r] - mz[r]
        vexp(lp, gate, ibuf, kb)
        for k in range(K):
            for r in range(b):
                sz[r] += gate[k * b + r]
        for r in range(b):
            mz[r] = np.log(sz[r])  # now the log normaliser of the shifted logits
            sz[r] = 1.0 / sz[r]
        # log joint densities, their row maxima, exp
        for k in range(K):
            ln = log_norm[k]
            hp = half_prec[k]
            for r in range(b):
                t = k * b + r
                ei = y[s + r] - lin[K + k, r]
                e[t] = ei
                lpt = lp[t] - mz[r]
                lp[t] = lpt
                a = lpt + ln - ei * ei * hp
                q[t] = a
                mq[r] = max(mq[r], a)
        for k in range(K):
            for r in range(b):
                q[k * b + r] -= mq[r]
        vexp(q, q, ibuf, kb)
        for k in range(K):
            for r in range(b):
                tot[r] += q[k * b + r]
        loglik = 0.0
        for r in range(b):
            loglik += w[s + r] * (mq[r] + np.log(tot[r]))
            tot[r] = w[s + r] / tot[r]  # now the scale of the responsibilities
        # responsibilities, gate probabilities, per-expert sums, the weights
        gate_value = 0.0
        trial_value = 0.0
        for k in range(K):
            m0 = 0.0
            m1 = 0.0
            m2 = 0.0
            for r in range(b):
                t = k * b + r
                i = s + r
                Rk = q[t] * tot[r]
                if trial:
                    previous = resp[i, k]
                    if previous != 0.0:
                        trial_value += previous * lp[t]
                resp[i, k] = Rk
                wsum[r] += Rk
                pk = gate[t] * sz[r]
                gate[t] = pk
                Re = Rk * e[t]
                m0 += Rk
                m1 += Re * e[t]
                m2 += w[i] * pk
                if Rk != 0.0:
                    gate_value += Rk * lp[t]
                cT[k, r] = Rk
                mT[k, r] = Re
            sums_k[0, k] += m0
            sums_k[1, k] += m1
            sums_k[2, k] += m2
        sums[0] += loglik
        sums[1] += gate_value
        sums[2] += trial_value
        # the gate's gradient and Hessian weights (free blocks k <= l < K - 1)
        c = K
        for k in range(K - 1):
            for r in range(b):
                wp = wsum[r] * gate[k * b + r]
                mT[K + k, r] = cT[k, r] - wp
                cT[c, r] = wp * (1.0 - gate[k * b + r])
            c += 1
            for l in range(k + 1, K - 1):
                for r in range(b):
                    cT[c, r] = -(wsum[r] * gate[k * b + r]) * gate[l * b + r]
                c += 1
        t = 0
        for a in range(p):
            for a2 in range(a, p):
                for r in range(b):
                    outer[t, r] = xT[a, r] * xT[a2, r]
                t += 1
        packed += np.dot(cT, outer.T)
        moments += np.dot(mT, xT.T)


@njit(cache=True, inline="always")
def _chunk(X, y, w, WT, log_norm, half_prec, resp, trial, c, packed, moments,
           sums_k, sums):
    """Chunk ``c`` of the rows into its own accumulators."""
    start, stop = chunk_bounds(X.shape[0], c)
    _blocks(X, y, w, WT, log_norm, half_prec, resp, trial, start, stop,
            _block_rows(packed.shape[0], packed.shape[1]), packed, moments, sums_k,
            sums)


@njit(cache=True, inline="always")
def _setup(X, gate_coef, gate_intercept, expert_coef, expert_intercept, variances):
    """The stacked linear maps, the normal constants, per-chunk accumulators.

    ``WT[k]`` holds the slopes then the intercept of gate row ``k``, ``WT[K +
    k]`` those of expert ``k``.
    """
    d = X.shape[1]
    K = gate_coef.shape[0]
    p = d + 1
    WT = np.empty((2 * K, p))
    for k in range(K):
        for j in range(d):
            WT[k, j] = gate_coef[k, j]
            WT[K + k, j] = expert_coef[k, j]
        WT[k, d] = gate_intercept[k]
        WT[K + k, d] = expert_intercept[k]
    log_norm, half_prec = _normal_constants(variances)
    packs = np.zeros((N_CHUNKS, K + K * (K - 1) // 2, p * (p + 1) // 2))
    moms = np.zeros((N_CHUNKS, 2 * K - 1, p))
    sums_k = np.zeros((N_CHUNKS, 3, K))
    sums = np.zeros((N_CHUNKS, 3))
    return WT, log_norm, half_prec, packs, moms, sums_k, sums


@njit(cache=True, inline="always")
def _reduce(K, p, packs, moms, sums_k, sums):
    """The chunks' sums in chunk order; the statistics' final layout."""
    n_w, n_tri = packs.shape[1], packs.shape[2]
    packed = np.zeros((n_w, n_tri))
    mom = np.zeros((2 * K - 1, p))
    sk = np.zeros((3, K))
    total = np.zeros(3)
    for c in range(N_CHUNKS):
        for q in range(n_w):
            for t in range(n_tri):
                packed[q, t] += packs[c, q, t]
        for q in range(2 * K - 1):
            for a in range(p):
                mom[q, a] += moms[c, q, a]
        for j in range(3):
            for k in range(K):
                sk[j, k] += sums_k[c, j, k]
            total[j] += sums[c, j]
    grad = np.empty((K - 1) * p)
    moment = np.empty((K, p))
    for k in range(K):
        for a in range(p):
            moment[k, a] = mom[k, a]
    for k in range(K - 1):
        for a in range(p):
            grad[k * p + a] = mom[K + k, a]
    gram = symmetric_from_packed(packed[:K], p)
    neg_hess = hessian_from_packed(packed[K:], K, p)
    return (total[0], total[1], total[2], grad, neg_hess, gram, moment,
            sk[1], sk[0], sk[2])


@njit(cache=True)
def fused_estep_statistics(X, y, sample_weight, gate_coef, gate_intercept,
                           expert_coef, expert_intercept, variances, resp, trial):
    """E-step, log-likelihood and every statistic of the M-step in one pass.

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
        responsibilities at this gate: the line-search test of the gate update
        that produced it).

    Returns
    -------
    loglik : float
        ``sum_i sample_weight[i] log p(y_i | x_i)``.
    gate_value : float
        ``Q = sum_ik R_ik log softmax_k(x_i)`` with ``R = resp``.
    trial_value : float
        ``sum_ik R'_ik log softmax_k(x_i)`` with ``trial``, else 0.
    gate_grad : ndarray of shape ((K - 1) * (d + 1),)
        Gradient of ``Q`` in the free gate (rows ``0 .. K-2`` of
        ``[gate_coef | gate_intercept]``, flattened row by row).
    gate_neg_hess : ndarray of shape ((K - 1) * (d + 1), (K - 1) * (d + 1))
        Negative Hessian of ``Q``, as
        :func:`~skmoe._kernels._softmax.softmax_gate_objective`.
    gram : ndarray of shape (K, d + 1, d + 1)
        ``sum_i R_ik f_i f_i^T`` with ``f_i = [x_i, 1]``.
    moment : ndarray of shape (K, d + 1)
        ``sum_i R_ik f_i e_ik`` with the residuals ``e_ik = y_i -
        expert_coef_k . x_i - expert_intercept_k``.
    rss : ndarray of shape (K,)
        ``sum_i R_ik e_ik**2``.
    mass : ndarray of shape (K,)
        ``sum_i R_ik``.
    gate_mass : ndarray of shape (K,)
        ``sum_i sample_weight[i] softmax_k(x_i)``.

    Notes
    -----
    Writes ``resp`` and nothing else. The results equal those of
    :func:`~skmoe._kernels._gaussian.gaussian_estep_linear`,
    :func:`~skmoe._kernels._softmax.softmax_gate_objective` and
    :func:`~skmoe._kernels._linear.linear_expert_suffstats` on the weighted
    responsibilities up to round-off, and those of
    :func:`fused_estep_statistics_parallel` bit for bit.
    """
    d = X.shape[1]
    K = gate_coef.shape[0]
    WT, log_norm, half_prec, packs, moms, sums_k, sums = _setup(
        X, gate_coef, gate_intercept, expert_coef, expert_intercept, variances)
    for c in range(N_CHUNKS):
        _chunk(X, y, sample_weight, WT, log_norm, half_prec, resp, trial, c,
               packs[c], moms[c], sums_k[c], sums[c])
    return _reduce(K, d + 1, packs, moms, sums_k, sums)


@njit(cache=True, parallel=True)
def _chunks_in_threads(X, y, w, WT, log_norm, half_prec, resp, trial, packs, moms,
                       sums_k, sums):
    """Every chunk of :func:`fused_estep_statistics` in a ``prange``."""
    for c in prange(N_CHUNKS):
        _chunk(X, y, w, WT, log_norm, half_prec, resp, trial, c, packs[c],
               moms[c], sums_k[c], sums[c])


@njit(cache=True)
def fused_estep_statistics_parallel(X, y, sample_weight, gate_coef,
                                    gate_intercept, expert_coef,
                                    expert_intercept, variances, resp, trial):
    """:func:`fused_estep_statistics` with its chunks in Numba's threads.

    The same arguments, results (bit for bit, for any thread count) and
    contract; for large ``n`` (see :func:`skmoe.utils._threads.use_threads`).

    Parameters
    ----------
    X, y, sample_weight, gate_coef, gate_intercept, expert_coef, \
expert_intercept, variances, resp, trial
        As :func:`fused_estep_statistics`.

    Returns
    -------
    statistics : tuple
        As :func:`fused_estep_statistics`.
    """
    K = gate_coef.shape[0]
    WT, log_norm, half_prec, packs, moms, sums_k, sums = _setup(
        X, gate_coef, gate_intercept, expert_coef, expert_intercept, variances)
    _chunks_in_threads(X, y, sample_weight, WT, log_norm, half_prec, resp, trial,
                       packs, moms, sums_k, sums)
    return _reduce(K, X.shape[1] + 1, packs, moms, sums_k, sums)
