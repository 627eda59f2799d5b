"""Two-layer feed-forward experts: forward pass, VJP and weighted NLS statistics.

An expert's parameter row is ``[a, b_1 .. b_d, c, e]`` (``q = d + 3``
entries) and its mean is ``h(x) = a * act(b^T x + c) + e``. The activation is
passed as an integer code:

====  ==========  =================================  ==========================
code  activation  act(z)                             act'(z)
====  ==========  =================================  ==========================
0     sigmoid     1 / (1 + exp(-z))                  act(z) (1 - act(z))
1     tanh        tanh(z)                            1 - tanh(z)^2
2     relu        max(z, 0)                          1 if z > 0 else 0
3     gelu        z Phi(z), Phi the normal cdf       Phi(z) + z phi(z)
====  ==========  =================================  ==========================
"""

import math

import numpy as np

from ..utils._numba_cache import njit

SIGMOID, TANH, RELU, GELU = 0, 1, 2, 3

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def ffn_activation(z, code):
    """Activation value and derivative at a scalar ``z``.

    Parameters
    ----------
    z : float
        Pre-activation.
    code : int
        Activation code (0 sigmoid, 1 tanh, 2 relu, 3 gelu).

    Returns
    -------
    value, derivative : float
        ``act(z)`` and ``act'(z)`` (for relu the derivative at 0 is 0).
    """
    if code == 0:
        if z >= 0.0:
            s = 1.0 / (1.0 + math.exp(-z))
        else:
            e = math.exp(z)
            s = e / (1.0 + e)
        return s, s * (1.0 - s)
    if code == 1:
        t = math.tanh(z)
        return t, 1.0 - t * t
    if code == 2:
        if z > 0.0:
            return z, 1.0
        return 0.0, 0.0
    cdf = 0.5 * (1.0 + math.erf(z * _INV_SQRT2))
    pdf = _INV_SQRT2PI * math.exp(-0.5 * z * z)
    return z * cdf, cdf + z * pdf


@njit(cache=True)
def ffn_predict(X, P, code):
    """Means of K two-layer experts.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    P : ndarray of shape (K, d + 3), float64, C-contiguous
        Expert rows ``[a, b, c, e]``.
    code : int
        Activation code.

    Returns
    -------
    means : ndarray of shape (n, K)
        ``a_k act(b_k^T x_i + c_k) + e_k``. Does not modify its inputs.
    """
    n, d = X.shape
    K = P.shape[0]
    out = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            z = P[k, d + 1]
            for j in range(d):
                z += P[k, 1 + j] * X[i, j]
            s, _ = ffn_activation(z, code)
            out[i, k] = P[k, 0] * s + P[k, d + 2]
    return out


@njit(cache=True)
def ffn_vjp(X, P, G, code):
    """Vector-Jacobian product ``sum_i G_ik dh_k(x_i) / dtheta_k``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    P : ndarray of shape (K, d + 3), float64, C-contiguous
    G : ndarray of shape (n, K), float64, C-contiguous
        Weights of the expert means.
    code : int
        Activation code.

    Returns
    -------
    grad : ndarray of shape (K, d + 3)
        Gradient in the layout of ``P``. Rows are reduced serially, in order;
        does not modify its inputs.
    """
    n, d = X.shape
    K = P.shape[0]
    out = np.zeros((K, d + 3))
    for i in range(n):
        for k in range(K):
            g = G[i, k]
            if g == 0.0:
                continue
            z = P[k, d + 1]
            for j in range(d):
                z += P[k, 1 + j] * X[i, j]
            s, ds = ffn_activation(z, code)
            gz = g * P[k, 0] * ds
            out[k, 0] += g * s
            for j in range(d):
                out[k, 1 + j] += gz * X[i, j]
            out[k, d + 1] += gz
            out[k, d + 2] += g
    return out


@njit(cache=True)
def ffn_nls(X, y, R, P, code, compute_gn):
    """Weighted nonlinear least-squares statistics of K two-layer experts.

    With residuals ``e_ik = y_i - h_k(x_i)`` and Jacobian rows ``J_ik =
    dh_k(x_i) / dtheta_k``:

    - ``sse_k = sum_i R_ik e_ik^2``;
    - ``jte_k = sum_i R_ik e_ik J_ik`` (minus half the gradient of ``sse_k``);
    - ``jtj_k = sum_i R_ik J_ik J_ik^T`` (the Gauss-Newton matrix, half the
      Gauss-Newton approximation of the Hessian of ``sse_k``).

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    y : ndarray of shape (n,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
        Non-negative weights.
    P : ndarray of shape (K, d + 3), float64, C-contiguous
    code : int
        Activation code.
    compute_gn : bool
        Whether to accumulate ``jtj`` (``O(n K d^2)``); otherwise it is a
        (1, 1, 1) zero array.

    Returns
    -------
    sse : ndarray of shape (K,)
    jte : ndarray of shape (K, d + 3)
    jtj : ndarray of shape (K, d + 3, d + 3)

    Notes
    -----
    One pass over the rows, reduced serially in order (by
    :func:`ffn_nls_into` on every column); does not modify its inputs.
    """
    K, q = P.shape
    sse = np.empty(K)
    jte = np.empty((K, q))
    jtj = np.empty((K, q, q)) if compute_gn else np.zeros((1, 1, 1))
    ffn_nls_into(X, y, R, P, code, np.arange(q), np.ones(K, dtype=np.bool_),
                 compute_gn, sse, jte, jtj)
    return sse, jte, jtj


@njit(cache=True)
def ffn_nls_into(X, y, R, P, code, free, active, compute_gn, sse, jte, jtj):
    """:func:`ffn_nls` of the ``active`` experts on the ``free`` columns.

    The statistics of :func:`ffn_nls` that the Levenberg-Marquardt update
    reads, and nothing else: ``sse[k]``, ``jte[k, a] = jte_k[free[a]]`` and
    ``jtj[k, a, b] = jtj_k[free[a], free[b]]`` for every ``k`` with
    ``active[k]`` (the other rows of the outputs are not touched). Every
    entry is accumulated by the same operations in the same row order as in
    :func:`ffn_nls`, so it has the same bits (``free`` must be increasing:
    the upper triangle is accumulated and mirrored, as there).

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
    y : ndarray of shape (n,), float64
    R : ndarray of shape (n, K), float64, C-contiguous
    P : ndarray of shape (K, d + 3), float64, C-contiguous
    code : int
    free : ndarray of shape (m,), int64, increasing
    active : ndarray of shape (K,), bool
    compute_gn : bool
        Whether to accumulate ``jtj``.
    sse : ndarray of shape (K,)
        Output.
    jte : ndarray of shape (K, m)
        Output.
    jtj : ndarray of shape (K, m, m)
        Output (not touched without ``compute_gn``).
    """
    n, d = X.shape
    K = P.shape[0]
    q = d + 3
    m = free.shape[0]
    for k in range(K):
        if not active[k]:
            continue
        sse[k] = 0.0
        for a in range(m):
            jte[k, a] = 0.0
            if compute_gn:
                for b in range(m):
                    jtj[k, a, b] = 0.0
    J = np.empty(q)
    J[q - 1] = 1.0
    Jf = np.empty(m)
    for i in range(n):
        for k in range(K):
            if not active[k]:
                continue
            r = R[i, k]
            if r == 0.0:
                continue
            z = P[k, d + 1]
            for j in range(d):
                z += P[k, 1 + j] * X[i, j]
            s, ds = ffn_activation(z, code)
            e = y[i] - (P[k, 0] * s + P[k, d + 2])
            sse[k] += r * e * e
            az = P[k, 0] * ds
            J[0] = s
            for j in range(d):
                J[1 + j] = az * X[i, j]
            J[d + 1] = az
            re = r * e
            for a in range(m):
                Jf[a] = J[free[a]]
                jte[k, a] += re * Jf[a]
            if compute_gn:
                for a in range(m):
                    ra = r * Jf[a]
                    for b in range(a, m):
                        jtj[k, a, b] += ra * Jf[b]
    if compute_gn:
        for k in range(K):
            if active[k]:
                for a in range(m):
                    for b in range(a + 1, m):
                        jtj[k, b, a] = jtj[k, a, b]
