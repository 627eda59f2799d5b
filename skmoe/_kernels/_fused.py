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

1. the linear predictors of the gate and the experts, ``K x b`` arrays with
   the rows innermost, so that every element-wise loop is a straight loop over
   contiguous memory that LLVM vectorises (the exponentials by
   :func:`~._logspace.vexp`, two scalar logarithms per row);
2. the scalar sums of the rows (log-likelihood, gate objective, masses), row
   by row;
3. the weighted Gram matrices and moments, as products of the rows' weights
   (``K + K (K - 1) / 2`` Gram weights: ``R_ik`` for the experts, ``W_i p_k
   (delta_kl - p_l)`` with ``W_i = sum_k R_ik`` for the gate's Hessian
   blocks; ``2K - 1`` moment weights: ``R_ik e_ik``, then the gate gradient's
   ``R_ik - W_i p_k``) with the packed upper triangle of each row's outer
   product ``f_i f_i^T``, ``f_i = [x_i, 1]``. Four rows at a time, each
   accumulator is loaded once, takes the four rows in order and is stored:
   every entry is the sum of its rows *in row order*, whatever the block size
   and the vector width, and without a BLAS call (whose summation order and
   threads are the library's).

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

#: Most rows per block: the block's ``K x BLOCK`` arrays stay in the cache.
BLOCK = 256


@njit(cache=True)
def _by_input(coef, intercept, W, offset):
    """Columns ``offset + k`` of ``W``: ``coef[k]`` by input, then ``intercept[k]``."""
    K, d = coef.shape
    for k in range(K):
        for j in range(d):
            W[j, offset + k] = coef[k, j]
        W[d, offset + k] = intercept[k]


@njit(cache=True)
def _workspace(d, K, b):
    """The buffers of one block of ``b`` rows (see :func:`_block`)."""
    p = d + 1
    n_tri = p * (p + 1) // 2
    kb = K * b
    return (np.empty((p, b)),                   # xT: the block's inputs
            np.empty((2 * K, b)),               # lin: logits, then means
            np.empty(kb),                       # gate: shifted logits, exp, probs
            np.empty(kb),                       # joint: log densities, exp, R
            np.empty(kb),                       # resid: y - mu
            np.empty((6, b)),                   # per row: see _block
            np.empty((K + K * (K - 1) // 2, b)),  # cT: Gram weights
            np.empty((2 * K - 1, b)),           # mT: moment weights
            np.empty((4, n_tri)),               # outer: four rows' outer products
            np.empty(kb, dtype=np.int64))       # ibuf: vexp's scratch


@njit(cache=True)
def _estep(X, y, w, W, log_norm, half_prec, resp, trial, s, b, sums_k, sums, ws):
    """E-step of rows ``s:s + b``; the weights of the block products.

    Writes ``resp[i, k] = w_i r_ik``; fills ``cT`` and ``mT`` of ``ws`` (see
    :func:`_block`); adds the masses ``sum_i R_ik``, ``sum_i R_ik e_ik**2``
    and the gate masses ``sum_i w_i p_ik`` to ``sums_k[0:3]``, the weighted
    log-likelihood, the gate objective ``sum_ik R_ik log p_ik`` and, with
    ``trial``, ``sum_ik R'_ik log p_ik`` of the previous weights ``R'`` in
    ``resp`` to ``sums[0:3]``.
    """
    xT, lin, gate, joint, resid, rows, cT, mT, _, ibuf = ws
    d = X.shape[1]
    K = log_norm.shape[0]
    mz, lse, inv, mx, scale, wsum = rows[0], rows[1], rows[2], rows[3], rows[4], rows[5]
    for r in range(b):
        for j in range(d):
            xT[j, r] = X[s + r, j]
        xT[d, r] = 1.0
    # linear predictors: the intercept, then the inputs in order
    for k in range(2 * K):
        c0 = W[d, k]
        for r in range(b):
            lin[k, r] = c0
    for j in range(d):
        for k in range(2 * K):
            wjk = W[j, k]
            for r in range(b):
                lin[k, r] += xT[j, r] * wjk
    # log-softmax of the gate logits: row maxima, exp of the shifted logits
    for r in range(b):
        mz[r] = -np.inf
        inv[r] = 0.0
    for k in range(K):
        for r in range(b):
            if lin[k, r] > mz[r]:
                mz[r] = lin[k, r]
    for k in range(K):
        for r in range(b):
            gate[k * b + r] = lin[k, r] - mz[r]
    vexp(gate, gate, ibuf, K * b)
    for k in range(K):
        for r in range(b):
            inv[r] += gate[k * b + r]
    for r in range(b):
        lse[r] = mz[r] + np.log(inv[r])
        inv[r] = 1.0 / inv[r]
        mx[r] = -np.inf
        scale[r] = 0.0
    # log joint densities, their row maxima and exp
    for k in range(K):
        ln = log_norm[k]
        hp = half_prec[k]
        for r in range(b):
            e = y[s + r] - lin[K + k, r]
            resid[k * b + r] = e
            a = (lin[k, r] - lse[r]) + ln - e * e * hp
            joint[k * b + r] = a
            if a > mx[r]:
                mx[r] = a
    for k in range(K):
        for r in range(b):
            joint[k * b + r] -= mx[r]
    vexp(joint, joint, ibuf, K * b)
    for k in range(K):
        for r in range(b):
            scale[r] += joint[k * b + r]
    loglik = 0.0
    for r in range(b):
        loglik += w[s + r] * (mx[r] + np.log(scale[r]))
        scale[r] = w[s + r] / scale[r]
    # responsibilities, gate probabilities, the expert weights
    for k in range(K):
        for r in range(b):
            t = k * b + r
            Rk = joint[t] * scale[r]
            joint[t] = Rk
            gate[t] *= inv[r]
            cT[k, r] = Rk
            mT[k, r] = Rk * resid[t]
    # the sums of the rows, row by row
    gate_value = 0.0
    trial_value = 0.0
    for r in range(b):
        i = s + r
        wi = w[i]
        total = 0.0
        for k in range(K):
            t = k * b + r
            Rk = joint[t]
            log_p = lin[k, r] - lse[r]
            if trial:
                previous = resp[i, k]
                if previous != 0.0:
                    trial_value += previous * log_p
            resp[i, k] = Rk
            total += Rk
            if Rk != 0.0:
                gate_value += Rk * log_p
            sums_k[0, k] += Rk
            sums_k[1, k] += mT[k, r] * resid[t]
            sums_k[2, k] += wi * gate[t]
        wsum[r] = total
    sums[0] += loglik
    sums[1] += gate_value
    sums[2] += trial_value
    # the gate's gradient and Hessian weights (free blocks k <= l < K - 1)
    q = K
    for k in range(K - 1):
        for r in range(b):
            pk = gate[k * b + r]
            wp = wsum[r] * pk
            mT[K + k, r] = joint[k * b + r] - wp
            cT[q, r] = wp * (1.0 - pk)
        q += 1
        for l in range(k + 1, K - 1):
            for r in range(b):
                cT[q, r] = -(wsum[r] * gate[k * b + r]) * gate[l * b + r]
            q += 1


@njit(cache=True)
def _products(b, packed, moments, ws):
    """Add the block's weighted outer products and moments, rows in order.

    ``packed[q, t] += sum_r cT[q, r] f_ra f_rc`` over the pairs ``t = (a,
    c)``, ``a <= c``, of the design ``f_r = xT[:, r]`` (constant last), and
    ``moments[q, a] += sum_r mT[q, r] f_ra``. Four rows at a time: each
    accumulator takes the four rows in order, so every entry is the
    sequential sum over the rows (the same bits as one row at a time).
    """
    xT, _, _, _, _, _, cT, mT, outer, _ = ws
    p = xT.shape[0]
    n_w, n_tri = packed.shape
    n_m = moments.shape[0]
    r = 0
    while r < b:
        g = min(4, b - r)
        for h in range(g):
            t = 0
            for a in range(p):
                fa = xT[a, r + h]
                for c in range(a, p):
                    outer[h, t] = fa * xT[c, r + h]
                    t += 1
        if g == 4:
            for q in range(n_w):
                c0, c1, c2, c3 = cT[q, r], cT[q, r + 1], cT[q, r + 2], cT[q, r + 3]
                for t in range(n_tri):
                    v = packed[q, t]
                    v += c0 * outer[0, t]
                    v += c1 * outer[1, t]
                    v += c2 * outer[2, t]
                    v += c3 * outer[3, t]
                    packed[q, t] = v
            for q in range(n_m):
                c0, c1, c2, c3 = mT[q, r], mT[q, r + 1], mT[q, r + 2], mT[q, r + 3]
                for a in range(p):
                    v = moments[q, a]
                    v += c0 * xT[a, r]
                    v += c1 * xT[a, r + 1]
                    v += c2 * xT[a, r + 2]
                    v += c3 * xT[a, r + 3]
                    moments[q, a] = v
        else:
            for h in range(g):
                for q in range(n_w):
                    c0 = cT[q, r + h]
                    for t in range(n_tri):
                        packed[q, t] += c0 * outer[h, t]
                for q in range(n_m):
                    c0 = mT[q, r + h]
                    for a in range(p):
                        moments[q, a] += c0 * xT[a, r + h]
        r += g


@njit(cache=True)
def _chunk(X, y, w, W, log_norm, half_prec, resp, trial, c, packed, moments,
           sums_k, sums, ws):
    """Chunk ``c`` of the rows, block by block, into its own accumulators."""
    start, stop = chunk_bounds(X.shape[0], c)
    B = ws[0].shape[1]
    for s in range(start, stop, B):
        b = min(B, stop - s)
        _estep(X, y, w, W, log_norm, half_prec, resp, trial, s, b, sums_k, sums,
               ws)
        _products(b, packed, moments, ws)


@njit(cache=True)
def _setup(X, gate_coef, gate_intercept, expert_coef, expert_intercept, variances):
    """The stacked linear maps, the normal constants, per-chunk accumulators."""
    d = X.shape[1]
    K = gate_coef.shape[0]
    p = d + 1
    W = np.empty((p, 2 * K))
    _by_input(gate_coef, gate_intercept, W, 0)
    _by_input(expert_coef, expert_intercept, W, K)
    log_norm, half_prec = _normal_constants(variances)
    packs = np.zeros((N_CHUNKS, K + K * (K - 1) // 2, p * (p + 1) // 2))
    moms = np.zeros((N_CHUNKS, 2 * K - 1, p))
    sums_k = np.zeros((N_CHUNKS, 3, K))
    sums = np.zeros((N_CHUNKS, 3))
    return W, log_norm, half_prec, packs, moms, sums_k, sums


@njit(cache=True)
def _block_rows(n):
    """Rows of a block: :data:`BLOCK`, or the largest chunk if smaller."""
    return max(1, min(BLOCK, n // N_CHUNKS + 1))


@njit(cache=True)
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
    n, d = X.shape
    K = gate_coef.shape[0]
    W, log_norm, half_prec, packs, moms, sums_k, sums = _setup(
        X, gate_coef, gate_intercept, expert_coef, expert_intercept, variances)
    ws = _workspace(d, K, _block_rows(n))
    for c in range(N_CHUNKS):
        _chunk(X, y, sample_weight, W, log_norm, half_prec, resp, trial, c,
               packs[c], moms[c], sums_k[c], sums[c], ws)
    return _reduce(K, d + 1, packs, moms, sums_k, sums)


@njit(cache=True, parallel=True)
def _chunks_in_threads(X, y, w, W, log_norm, half_prec, resp, trial, packs, moms,
                       sums_k, sums):
    """Every chunk of :func:`fused_estep_statistics` in a ``prange``."""
    d = X.shape[1]
    K = log_norm.shape[0]
    B = _block_rows(X.shape[0])
    for c in prange(N_CHUNKS):
        _chunk(X, y, w, W, log_norm, half_prec, resp, trial, c, packs[c],
               moms[c], sums_k[c], sums[c], _workspace(d, K, B))


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
    W, log_norm, half_prec, packs, moms, sums_k, sums = _setup(
        X, gate_coef, gate_intercept, expert_coef, expert_intercept, variances)
    _chunks_in_threads(X, y, sample_weight, W, log_norm, half_prec, resp, trial,
                       packs, moms, sums_k, sums)
    return _reduce(K, X.shape[1] + 1, packs, moms, sums_k, sums)
