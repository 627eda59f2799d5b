"""Log-space row operations shared by gating families."""

import numpy as np

from ..utils._numba_cache import njit
from ._codesize import optimize_for_size


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
    log-sum-exp. ``m`` must be finite; a row whose entries are all ``-inf``
    goes to :func:`prior_row_inplace` instead.
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
def prior_row_inplace(A, i, log_gate_row):
    """Posteriors of a row whose joint log-densities are all ``-inf``.

    Every component density of the row underflows (its target lies beyond
    float64's range from every expert), so the row's log-likelihood is
    ``-inf`` and it carries no usable information about its expert: its
    responsibilities are defined as its gate weights ``exp(log_gate_row)``
    (the prior; exact zeros outside the gate's support). Writes them into
    row ``i`` of ``A`` and returns ``-inf``.
    """
    for k in range(A.shape[1]):
        A[i, k] = np.exp(log_gate_row[k])
    return -np.inf


@njit(cache=True)
def normalize_log_rows_inplace(A, out, log_gate):
    """Turn log joint densities into posteriors, row by row, in place.

    ``out[i] = logsumexp(A[i])`` and ``A[i] = exp(A[i] - out[i])``. For the
    E-step kernels, on the scratch arrays they own (never on a kernel's
    input): ``-inf`` entries become exact zeros. A row of ``-inf`` only gets
    ``out[i] = -inf`` and the gate weights ``exp(log_gate[i])`` as
    posteriors (:func:`prior_row_inplace`).
    """
    n, K = A.shape
    for i in range(n):
        m = -np.inf
        for k in range(K):
            if A[i, k] > m:
                m = A[i, k]
        if m == -np.inf:
            out[i] = prior_row_inplace(A, i, log_gate[i])
        else:
            out[i] = normalize_log_row_inplace(A, i, m)


@njit(cache=True)
def _log_normalize_infinite(v, keep, out, m):
    """:func:`log_normalize_row` on a row whose largest kept entry ``m`` is
    infinite: uniform over the kept entries equal to ``m`` (all kept entries
    when ``m = -inf``). A kernel of its own, compiled for size, out of the
    row loops of its callers (which take it only on such rows)."""
    optimize_for_size()
    K = v.shape[0]
    count = 0
    for k in range(K):
        if keep[k] and (v[k] == m or m == -np.inf):
            count += 1
    lc = -np.log(count)
    for k in range(K):
        out[k] = lc if keep[k] and (v[k] == m or m == -np.inf) else -np.inf


@njit(cache=True)
def log_normalize_row(v, keep, out):
    """``out[k] = v[k] - logsumexp(v[keep])`` on ``keep``, ``-inf`` elsewhere.

    The log-weights of a softmax over the kept entries of one row. Infinite
    entries get the limit of the weights: when the largest kept entry is
    ``+inf`` the weight is shared equally by the entries equal to it (the
    others get exactly 0), and a row whose kept entries are all ``-inf`` is
    uniform over them. Finite rows take the usual path (maximum, sum of
    exponentials in index order, log), so their values do not change. ``v``
    and ``out`` may be the same array.
    """
    K = v.shape[0]
    m = -np.inf
    for k in range(K):
        if keep[k] and v[k] > m:
            m = v[k]
    if np.isinf(m):
        _log_normalize_infinite(v, keep, out, m)
        return
    s = 0.0
    for k in range(K):
        if keep[k]:
            s += np.exp(v[k] - m)
    lse = m + np.log(s)
    for k in range(K):
        out[k] = v[k] - lse if keep[k] else -np.inf


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
        Logits; entries may be infinite (an excluded expert, or logits beyond
        float64's range): the weights are then their limit, see
        :func:`log_normalize_row`.

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
        Log-scores (``-inf`` allowed).
    Z : ndarray of shape (n, K), float64, C-contiguous
        Ranking logits. A row whose threshold ``t_i`` is not finite (infinite
        logits) gets the exact top-K selection, the limit of the smoothing.
    top_k : int
        ``1 <= top_k < K``.
    smoothing : float
        ``s > 0``.

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-weights (normalised by :func:`log_normalize_row`).
        Does not modify its inputs.
    """
    n, K = Z.shape
    out = np.empty((n, K))
    order = np.empty(K, dtype=np.int64)
    keep = np.empty(K, dtype=np.bool_)
    for i in range(n):
        descending_order(Z[i], order)
        t = 0.5 * (Z[i, order[top_k - 1]] + Z[i, order[top_k]])
        if not np.isfinite(t):
            # infinite logits: the gap to the threshold is infinite on the
            # smoothing's scale, the selection is the exact top-K (its limit)
            keep[:] = False
            for j in range(top_k):
                keep[order[j]] = True
            log_normalize_row(A[i], keep, out[i])
            continue
        for k in range(K):
            out[i, k] = A[i, k] + log_sigmoid((Z[i, k] - t) / smoothing)
            keep[k] = True
        log_normalize_row(out[i], keep, out[i])
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


# ------------------------------------------------------------ vectorisable exp
#: ``log2(e)``, and ``ln(2)`` split in a high part with 32 significant bits
#: (``k * _LN2_HI`` is exact for ``|k| < 2**21``) and the rest (Cody and Waite)
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
#: ``1.5 * 2**52``: adding it to a float of magnitude below ``2**51`` rounds
#: it to the nearest integer, held in the low bits of the sum
_ROUND = 6755399441055744.0
_ROUND_BITS = 0x4338000000000000  # the bits of _ROUND
#: smallest argument of :func:`vexp`: ``exp(-708) = 3.3e-308`` is the last
#: normal result; below it (and at ``-inf``) the result is 0
EXP_MIN = -708.0


@njit(cache=True)
def vexp(x, out, ibuf, n):
    """``out[i] = exp(x[i])`` for ``i < n``, ``x[i] <= 0``, in vectorisable loops.

    For the log-space normalisations, whose arguments are never positive.
    Cody-Waite reduction ``x = k ln 2 + r`` with ``|r| <= ln(2) / 2`` (``k``
    rounded by adding ``1.5 * 2**52``, whose low bits then hold it), ``2**k``
    built from its exponent bits, and the degree-13 Taylor polynomial of
    ``exp(r)`` (truncation error below ``4e-18`` relative) in Horner form:
    three straight loops without calls or branches that LLVM vectorises,
    where a call to libm's ``exp`` is one scalar call per element. No
    ``fastmath``: every operation is IEEE and its order fixed, so the result
    does not depend on the vector width.

    Parameters
    ----------
    x : ndarray of shape (>= n,), float64
        Arguments, at most 0 (or ``-inf``; NaN propagates).
    out : ndarray of shape (>= n,), float64
        Output (may be ``x`` itself).
    ibuf : ndarray of shape (>= n,), int64
        Scratch space.
    n : int
        Number of entries.

    Notes
    -----
    Within 1 ulp of libm's ``exp`` on ``[EXP_MIN, 0]`` (tested,
    ``tests/test_kernels.py``); arguments below :data:`EXP_MIN` give 0, where
    libm gives a subnormal number below ``3.3e-308`` (a weight that small
    relative to the largest of its row is negligible in every sum it enters).
    """
    fbuf = ibuf.view(np.float64)
    for i in range(n):
        fbuf[i] = max(x[i], EXP_MIN) * _LOG2E + _ROUND
    for i in range(n):
        # 2**k from k = bits - _ROUND_BITS: its biased exponent, no mantissa
        ibuf[i] = (ibuf[i] - _ROUND_BITS + 1023) << 52
    for i in range(n):
        xi = x[i]
        k = float((ibuf[i] >> 52) - 1023)
        r = (max(xi, EXP_MIN) - k * _LN2_HI) - k * _LN2_LO
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
        v = p * fbuf[i]
        if not xi >= EXP_MIN:  # below the range, -inf, or NaN
            v = xi if xi != xi else 0.0
        out[i] = v
