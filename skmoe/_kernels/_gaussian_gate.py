"""Gaussian gate: log-densities of the inputs, the EM update's kernels.

:func:`gaussian_log_densities` gives the log-densities of the inputs under
every expert's Gaussian; :func:`gaussian_gate_step` is the gate's EM update
(the closed-form proposal of :func:`gaussian_joint_rows`, then one damped
Newton step) in its whitened logit rows, the one implementation of
:meth:`~skmoe.GaussianGating.m_step` and of the compiled EM path. Serial.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._linalg import cholesky_into, cholesky_solve_into
from ._softmax import softmax_gate_objective
from ._softmax_steps import softmax_newton_ascent


@njit(cache=True)
def gaussian_log_densities(X, centres, prec_chol):
    """Log-densities ``log N(x_i | c_k, Gamma_k)`` of every input and expert.

    With ``Gamma_k^-1 = U_k U_k^T`` (``U_k`` upper triangular with a positive
    diagonal, the convention of scikit-learn's ``precisions_cholesky_``),

    ``log N(x | c, Gamma) = sum_j log U_jj - d/2 log(2 pi) - |(x - c) U|^2 / 2``,

    the Mahalanobis term computed as the squared norm of ``(x - c) U``, so no
    matrix is inverted and no log-determinant is formed from a product.

    Parameters
    ----------
    X : ndarray of shape (n, d), float64, C-contiguous
        Finite inputs.
    centres : ndarray of shape (K, d), float64, C-contiguous
        Finite centres ``c_k``.
    prec_chol : ndarray of shape (K, d, d), float64, C-contiguous
        Upper-triangular ``U_k`` with a positive diagonal (entries below the
        diagonal are not read).

    Returns
    -------
    out : ndarray of shape (n, K)
        New array of log-densities. Does not modify its inputs; rows are
        computed independently and serially.
    """
    n, d = X.shape
    K = centres.shape[0]
    out = np.empty((n, K))
    const = np.empty(K)
    for k in range(K):
        s = -0.5 * d * np.log(2.0 * np.pi)
        for j in range(d):
            s += np.log(prec_chol[k, j, j])
        const[k] = s
    diff = np.empty(d)
    for i in range(n):
        for k in range(K):
            for a in range(d):
                diff[a] = X[i, a] - centres[k, a]
            q = 0.0
            for j in range(d):
                s = 0.0
                for a in range(j + 1):
                    s += diff[a] * prec_chol[k, a, j]
                q += s * s
            out[i, k] = const[k] - 0.5 * q
    return out


#: covariance structures of :func:`gaussian_joint_rows`
FULL, DIAG, SPHERICAL = 0, 1, 2


@njit(cache=True)
def gaussian_joint_rows(Z, R, reg, kind, coef, intercept):
    """The closed-form (joint-likelihood) gate update as logit rows.

    The proposal of Xu, Jordan and Hinton in the whitened inputs ``z``: per
    expert the mass ``n_k = sum_i R_ik`` (plus ``10 eps`` of the total, as
    scikit-learn's ``GaussianMixture``), the weighted mean ``c_k`` and
    covariance ``V_k + reg``, the precision ``P_k`` of the covariance
    restricted to the structure (its inverse, the inverse of its diagonal, or
    of its mean diagonal entry) and the weight ``pi_k = n_k / sum_j n_j``;
    then its logit rows ``[P_k c_k, theta_k]`` (``theta_k`` the free entries
    of ``P_k``: the upper triangle row by row, the diagonal, or ``P_11``) and
    intercepts ``log pi_k + log det P_k / 2 - d log(2 pi) / 2 - c_k^T P_k
    c_k / 2``.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        Whitened inputs.
    R : ndarray of shape (n, K)
        Non-negative weights.
    reg : ndarray of shape (d, d)
        Added to every covariance (``reg_covar`` in the original inputs,
        whitened: ``reg_covar A^-1 A^-T``).
    kind : int
        :data:`FULL`, :data:`DIAG` or :data:`SPHERICAL`.
    coef : ndarray of shape (K, d + q)
        Output: the rows.
    intercept : ndarray of shape (K,)
        Output: the intercepts.

    Returns
    -------
    ok : bool
        False when a full covariance is not positive definite to working
        precision (then the outputs are not meaningful).
    """
    n, d = Z.shape
    K = R.shape[1]
    nk = np.zeros(K)
    for i in range(n):
        for k in range(K):
            nk[k] += R[i, k]
    total = 0.0
    for k in range(K):
        total += nk[k]
    tiny = 10.0 * np.finfo(np.float64).eps * max(total, 1e-300)
    mass = 0.0
    for k in range(K):
        nk[k] += tiny
        mass += nk[k]
    c = np.zeros(d)
    V = np.empty((d, d))
    P = np.zeros((d, d))
    L = np.zeros((d, d))
    e = np.zeros(d)
    col = np.empty(d)
    b = np.empty(d)
    half_log_2pi = 0.5 * d * np.log(2.0 * np.pi)
    for k in range(K):
        for a in range(d):
            c[a] = 0.0
        for i in range(n):
            r = R[i, k]
            for a in range(d):
                c[a] += r * Z[i, a]
        for a in range(d):
            c[a] /= nk[k]
        for a in range(d):
            for g in range(d):
                V[a, g] = 0.0
        for i in range(n):
            r = R[i, k]
            for a in range(d):
                da = Z[i, a] - c[a]
                for g in range(a + 1):
                    V[a, g] += da * (Z[i, g] - c[g]) * r
        for a in range(d):
            for g in range(a + 1):
                V[a, g] = V[a, g] / nk[k] + reg[a, g]
                V[g, a] = V[a, g]
        half_logdet = 0.0
        for a in range(d):
            for g in range(d):
                P[a, g] = 0.0
        if kind == FULL:
            if not cholesky_into(V, L):
                return False
            for a in range(d):
                half_logdet -= np.log(L[a, a])
                for g in range(d):
                    e[g] = 1.0 if g == a else 0.0
                cholesky_solve_into(L, e, col)
                for g in range(d):
                    P[g, a] = col[g]
        elif kind == DIAG:
            for a in range(d):
                P[a, a] = 1.0 / V[a, a]
                half_logdet += 0.5 * np.log(P[a, a])
        else:
            s = 0.0
            for a in range(d):
                s += V[a, a]
            p = 1.0 / (s / d)
            for a in range(d):
                P[a, a] = p
            half_logdet = 0.5 * d * np.log(p)
        quad = 0.0
        for a in range(d):
            s = 0.0
            for g in range(d):
                s += P[a, g] * c[g]
            b[a] = s
            quad += s * c[a]
            coef[k, a] = s
        j = d
        if kind == FULL:
            for a in range(d):
                for g in range(a, d):
                    coef[k, j] = P[a, g]
                    j += 1
        elif kind == DIAG:
            for a in range(d):
                coef[k, j] = P[a, a]
                j += 1
        else:
            coef[k, j] = P[0, 0]
        intercept[k] = (np.log(nk[k] / mass) + half_logdet - half_log_2pi
                        - 0.5 * quad)
    return True


@njit(cache=True)
def gaussian_gate_step(F, Z, R, reg, kind, joint, coef, intercept, max_iter, LW):
    """The Gaussian gate's EM update in its whitened logit rows.

    With ``joint``, the closed-form proposal (:func:`gaussian_joint_rows`)
    replaces the rows when it increases ``Q = sum_ik R_ik log softmax_k(F
    coef^T + intercept)`` by more than ``1e-12 max(|Q|, 1)`` (a relative
    margin far above round-off, which keeps a converged gate fixed); then at
    most ``max_iter`` damped Newton steps of
    :func:`~skmoe._kernels._softmax_steps.softmax_newton_ascent` on the
    features ``F = [z, -z^T E_j z / 2]``.

    Parameters
    ----------
    F : ndarray of shape (n, d + q)
        Features of the whitened inputs.
    Z : ndarray of shape (n, d)
        Whitened inputs.
    R : ndarray of shape (n, K)
        Non-negative weights.
    reg : ndarray of shape (d, d)
        See :func:`gaussian_joint_rows`.
    kind : int
        See :func:`gaussian_joint_rows`.
    joint : bool
        Whether to propose the closed-form update.
    coef : ndarray of shape (K, d + q)
        Input and output: the rows minus the last one (last row zero, kept
        zero).
    intercept : ndarray of shape (K,)
        Input and output: the intercepts minus the last one.
    max_iter : int
        Maximum number of Newton steps.
    LW : ndarray of shape (n, K) or (0, K)
        When it has ``n`` rows: on entry the log-weights of the gate ``coef``,
        ``intercept`` (the proposal's test then takes the current objective
        from them instead of a pass over ``F``: the same value to round-off),
        on exit those of the final gate. Not touched when empty.

    Returns
    -------
    finite : bool
        Whether the final gate is finite.
    """
    n = F.shape[0]
    K = coef.shape[0]
    if joint and K > 1:
        if LW.shape[0] == n:
            # the log-weights of the current gate, which the compiled EM keeps
            value = 0.0
            for i in range(n):
                for k in range(K):
                    if R[i, k] != 0.0:
                        value += R[i, k] * LW[i, k]
        else:
            value = softmax_gate_objective(F, coef, intercept, R, False)[0]
        c1 = np.empty_like(coef)
        i1 = np.empty_like(intercept)
        if gaussian_joint_rows(Z, R, reg, kind, c1, i1):
            # relative to the last row (the last row itself last)
            for k in range(K):
                for j in range(coef.shape[1]):
                    c1[k, j] -= c1[K - 1, j]
                i1[k] -= i1[K - 1]
            proposed = softmax_gate_objective(F, c1, i1, R, False)[0]
            if proposed > value + 1e-12 * max(abs(value), 1.0):
                coef[:] = c1
                intercept[:] = i1
    return softmax_newton_ascent(F, R, coef, intercept, max_iter, LW,
                                 np.empty((0, K)), False)
