"""Prototype of a faster fused E-step + statistics pass (softmax gate, affine
experts, Gaussian noise), for ``bench_large_pass.py``.

Same statistics as skmoe's ``fused_estep_statistics`` followed by
``fused_residuals`` (one EM iteration of the fused loop), computed in ONE pass
over the data, block by block (``B`` rows):

1. the design block ``xT = [x, 1]^T`` (p x B) and ``lin = W^T xT`` (2K x B):
   the gate logits and the expert means of B rows in one BLAS ``dgemm``;
2. the E-step on K x B arrays laid out with rows innermost, so that every
   loop is a straight loop over contiguous memory that LLVM vectorises:
   row maxima, a vectorisable ``exp`` (:func:`vexp`: Cody-Waite reduction
   and a degree-13 polynomial, no ``fastmath``), sums, two scalar ``log``
   per row (gate normaliser and likelihood);
3. the weights of the block products: ``R_ik`` (expert Gram matrices),
   ``W_i p_k (delta_kl - p_l)`` (gate Hessian blocks), ``R_ik e_ik`` with
   the residual ``e_ik = y_i - mu_ik`` at the CURRENT means (expert moments
   in residual form) and ``R_ik - W_i p_k`` (gate gradient), then two
   ``dgemm`` per block (packed outer products, moments), as skmoe does;
4. per-expert sums ``sum R_ik``, ``sum R_ik e_ik^2``, ``sum w_i p_ik``.

The moments in residual form remove the second pass (``fused_residuals``):
the expert update solves ``G_k delta_k = m'_k`` for the *change* of the
coefficients, and the weighted residual sum of squares at the new means is
``S_k - delta_k^T m'_k`` with ``S_k = sum_i R_ik e_ik^2`` (exact algebra: the
cross term of ``(e - f^T delta)^2`` is ``-2 delta^T m'`` and the quadratic
term ``delta^T G delta = delta^T m'``); the cancellation is only that of the
change, so it vanishes as EM converges.

Rows are split into ``N_CHUNKS`` fixed chunks reduced serially in order, as
in skmoe, so the results do not depend on the thread count.
"""

import math
import os

import numpy as np
from numba import njit, prange

CACHE = os.environ.get("SKMOE_BENCH_CACHE", "1") == "1"
N_CHUNKS = 16
BLOCK = 256

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
MAGIC_BITS = np.float64(MAGIC).view(np.int64)
EXP_MIN = -708.0  # below: results under 2.2e-308 are returned as 0
# 1/j! for j = 13 .. 0 (Horner order)
INV_FACT = np.array([1.0 / math.factorial(j) for j in range(13, -1, -1)])


@njit(cache=CACHE)
def vexp(x, out, ibuf, fbuf):
    """``out[i] = exp(x[i])`` for ``x <= 0`` (and ``-inf``), vectorisable.

    ``ibuf`` (int64) and ``fbuf`` (float64) are scratch arrays of the same
    length that share memory (``fbuf = ibuf.view(np.float64)``). Arguments
    below ``EXP_MIN`` (and ``-inf``) give 0. Three straight loops: the
    Cody-Waite reduction ``x = k ln2 + r``, ``|r| <= ln2 / 2``, with ``k``
    rounded by the 1.5 * 2**52 trick (its low bits are ``k``); ``2**k`` built
    from its exponent bits; the degree-13 Taylor polynomial of ``exp(r)``.
    """
    n = x.shape[0]
    for i in range(n):
        xi = max(x[i], EXP_MIN)
        fbuf[i] = xi * LOG2E + MAGIC
    for i in range(n):
        ibuf[i] = (ibuf[i] - MAGIC_BITS + 1023) << 52
    for i in range(n):
        xi = max(x[i], EXP_MIN)
        k = float((ibuf[i] >> 52) - 1023)
        r = (xi - k * LN2_HI) - k * LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        out[i] = p * fbuf[i] if x[i] >= EXP_MIN else 0.0


@njit(cache=CACHE)
def vexp_array(x):
    """:func:`vexp` of a 1-D array (for the accuracy test)."""
    n = x.shape[0]
    out = np.empty(n)
    ibuf = np.empty(n, dtype=np.int64)
    vexp(x, out, ibuf, ibuf.view(np.float64))
    return out


@njit(cache=CACHE)
def libm_exp_array(x):
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = math.exp(x[i])
    return out


@njit(cache=CACHE)
def _blocks(X, y, w, WT, log_norm, half_prec, resp, start, stop, b, packed,
            moments, sums_k, sums, vector_exp, want_products):
    """Rows ``start:stop`` (a multiple of ``b``) in blocks of ``b`` rows.

    Adds into this chunk's accumulators: ``sums_k`` (3, K) mass, ``sum R
    e^2``, gate mass; ``sums`` (2,) loglik, gate objective. The block
    buffers are allocated once per call.
    """
    d = X.shape[1]
    p = d + 1
    K = WT.shape[0] // 2
    n_w, n_tri = packed.shape
    n_m = moments.shape[0]
    kb = K * b
    xT = np.empty((p, b))
    outer = np.empty((n_tri, b))
    cT = np.empty((n_w, b))
    mT = np.empty((n_m, b))
    za = np.empty(kb)
    ea = np.empty(kb)
    q = np.empty(kb)
    eq = np.empty(kb)
    e = np.empty(kb)
    mz = np.empty(b)
    mq = np.empty(b)
    sz = np.empty(b)
    tot = np.empty(b)
    wsum = np.empty(b)
    ibuf = np.empty(kb, dtype=np.int64)
    fbuf = ibuf.view(np.float64)
    for s in range(start, stop, b):
        # design block, transposed, with the constant row
        for j in range(d):
            for r in range(b):
                xT[j, r] = X[s + r, j]
        for r in range(b):
            xT[d, r] = 1.0
        lin = np.dot(WT, xT)
        # gate: row maxima, shifted logits; experts: residuals, log-densities
        for r in range(b):
            mz[r] = -np.inf
            mq[r] = -np.inf
            sz[r] = 0.0
            tot[r] = 0.0
        for k in range(K):
            for r in range(b):
                mz[r] = max(mz[r], lin[k, r])
        for k in range(K):
            for r in range(b):
                za[k * b + r] = lin[k, r] - mz[r]
                ei = y[s + r] - lin[K + k, r]
                e[k * b + r] = ei
                qi = log_norm[k] - ei * ei * half_prec[k]
                q[k * b + r] = qi
                mq[r] = max(mq[r], qi)
        for k in range(K):
            for r in range(b):
                q[k * b + r] -= mq[r]
        if vector_exp:
            vexp(za, ea, ibuf, fbuf)
            vexp(q, eq, ibuf, fbuf)
        else:
            for t in range(kb):
                ea[t] = math.exp(za[t])
                eq[t] = math.exp(q[t])
        for k in range(K):
            for r in range(b):
                sz[r] += ea[k * b + r]
                eq[k * b + r] *= ea[k * b + r]
                tot[r] += eq[k * b + r]
        ll = 0.0
        gv = 0.0
        for r in range(b):
            ls = math.log(sz[r])
            lt = math.log(tot[r])
            ll += w[s + r] * (mq[r] + lt - ls)
            mz[r] = ls  # reuse: log of the gate normaliser
            tot[r] = w[s + r] / tot[r]  # reuse: scale of the responsibilities
            sz[r] = 1.0 / sz[r]
            wsum[r] = 0.0
        for k in range(K):
            m0 = 0.0
            m1 = 0.0
            m2 = 0.0
            for r in range(b):
                t = k * b + r
                R = eq[t] * tot[r]
                resp[s + r, k] = R
                wsum[r] += R
                pk = ea[t] * sz[r]
                ea[t] = pk  # now the gate probability
                m0 += R
                m1 += R * e[t] * e[t]
                m2 += w[s + r] * pk
                if R != 0.0:
                    gv += R * (za[t] - mz[r])
                cT[k, r] = R
                mT[k, r] = R * e[t]
            sums_k[0, k] += m0
            sums_k[1, k] += m1
            sums_k[2, k] += m2
        sums[0] += ll
        sums[1] += gv
        if not want_products:
            continue
        c = K
        for k in range(K - 1):
            for r in range(b):
                wp = wsum[r] * ea[k * b + r]
                mT[K + k, r] = resp[s + r, k] - wp
                cT[c, r] = wp * (1.0 - ea[k * b + r])
            c += 1
            for l in range(k + 1, K - 1):
                for r in range(b):
                    cT[c, r] = -wsum[r] * ea[k * b + r] * ea[l * b + r]
                c += 1
        t = 0
        for a in range(p):
            for a2 in range(a, p):
                for r in range(b):
                    outer[t, r] = xT[a, r] * xT[a2, r]
                t += 1
        packed += np.dot(cT, outer.T)
        moments += np.dot(mT, xT.T)


@njit(cache=CACHE)
def _chunk(X, y, w, WT, log_norm, half_prec, resp, start, stop, packed, moments,
           sums_k, sums, vector_exp, want_products):
    """Rows ``start:stop``: full blocks of ``BLOCK`` rows, then the rest."""
    full = start + (stop - start) // BLOCK * BLOCK
    if full > start:
        _blocks(X, y, w, WT, log_norm, half_prec, resp, start, full, BLOCK, packed,
                moments, sums_k, sums, vector_exp, want_products)
    if stop > full:
        _blocks(X, y, w, WT, log_norm, half_prec, resp, full, stop, stop - full,
                packed, moments, sums_k, sums, vector_exp, want_products)


@njit(cache=CACHE, parallel=True)
def fast_pass(X, y, w, gate_coef, gate_intercept, expert_coef, expert_intercept,
              variances, resp, vector_exp, want_products):
    """One pass: E-step and every statistic of the M-step (see the module).

    Returns ``(loglik, gate_value, packed (K + K(K-1)/2, p(p+1)/2), moments
    (2K - 1, p), sums_k (3, K))``; moments rows ``0..K-1`` are the experts'
    residual-form moments ``sum R_ik e_ik f_i``, rows ``K..`` the gate
    gradient blocks; ``sums_k``: mass, ``sum R e^2``, gate mass.
    """
    n, d = X.shape
    K = gate_coef.shape[0]
    p = d + 1
    WT = np.empty((2 * K, p))
    for k in range(K):
        for j in range(d):
            WT[k, j] = gate_coef[k, j]
            WT[K + k, j] = expert_coef[k, j]
        WT[k, d] = gate_intercept[k]
        WT[K + k, d] = expert_intercept[k]
    log_norm = np.empty(K)
    half_prec = np.empty(K)
    for k in range(K):
        log_norm[k] = -0.5 * math.log(2.0 * math.pi * variances[k])
        half_prec[k] = 0.5 / variances[k]
    n_w = K + K * (K - 1) // 2
    n_tri = p * (p + 1) // 2
    packs = np.zeros((N_CHUNKS, n_w, n_tri))
    moms = np.zeros((N_CHUNKS, 2 * K - 1, p))
    sks = np.zeros((N_CHUNKS, 3, K))
    ss = np.zeros((N_CHUNKS, 2))
    for c in prange(N_CHUNKS):
        _chunk(X, y, w, WT, log_norm, half_prec, resp, c * n // N_CHUNKS,
               (c + 1) * n // N_CHUNKS, packs[c], moms[c], sks[c], ss[c],
               vector_exp, want_products)
    packed = np.zeros((n_w, n_tri))
    mom = np.zeros((2 * K - 1, p))
    sk = np.zeros((3, K))
    tot = np.zeros(2)
    for c in range(N_CHUNKS):
        for a in range(n_w):
            for t in range(n_tri):
                packed[a, t] += packs[c, a, t]
        for a in range(2 * K - 1):
            for t in range(p):
                mom[a, t] += moms[c, a, t]
        for a in range(3):
            for k in range(K):
                sk[a, k] += sks[c, a, k]
        tot[0] += ss[c, 0]
        tot[1] += ss[c, 1]
    return tot[0], tot[1], packed, mom, sk


@njit(cache=CACHE, parallel=True)
def read_floor(X):
    """Sum of X by fixed chunks: the cost of reading the data once."""
    n, d = X.shape
    parts = np.zeros(N_CHUNKS)
    for c in prange(N_CHUNKS):
        s = 0.0
        for i in range(c * n // N_CHUNKS, (c + 1) * n // N_CHUNKS):
            for j in range(d):
                s += X[i, j]
        parts[c] = s
    total = 0.0
    for c in range(N_CHUNKS):
        total += parts[c]
    return total


@njit(cache=CACHE)
def exp_floor(x, out, vector, reps):
    """``reps`` passes of exp over ``x`` (libm or :func:`vexp`)."""
    n = x.shape[0]
    ibuf = np.empty(n, dtype=np.int64)
    fbuf = ibuf.view(np.float64)
    for _ in range(reps):
        if vector:
            vexp(x, out, ibuf, fbuf)
        else:
            for i in range(n):
                out[i] = math.exp(x[i])
    return out[0]


@njit(cache=CACHE)
def log_floor(x, reps):
    s = 0.0
    for _ in range(reps):
        for i in range(x.shape[0]):
            s += math.log(x[i])
    return s
