"""Gaussian noise steps of the compiled EM path: E-step and variances.

:func:`gaussian_estep_into` is the E-step of a Gaussian mixture of experts
with shared experts (the ``K + S`` components of
:meth:`skmoe.MoEParams._components`) into preallocated responsibilities,
with the row weights applied as batch EM applies them;
:func:`variances_from_rss_into` is the variance update of every EM path
(:func:`skmoe.noise.variances_from_rss` calls it), and
:func:`gaussian_variance_step` and :func:`shared_weights_step` the rest of
the noise model's M-step. Serial.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._gaussian import _normal_constants, weighted_residual_ss


@njit(cache=True)
def gaussian_estep_into(LW, MU, var, shift, MUs, var_s, logw_s, y, w, R, Rs):
    """Responsibilities of the routed and shared components, and ``sum w log p``.

    Component ``k < K`` has the log-weight ``shift + LW[i, k]`` (``shift =
    log(1 - lambda)`` with shared experts, 0 without), mean ``MU[i, k]`` and
    variance ``var[k]``; shared component ``s`` has the log-weight
    ``logw_s[s]`` (``log lambda + log omega_s``), mean ``MUs[i, s]`` and
    variance ``var_s[s]``. The posterior of row ``i`` times ``w[i]`` goes to
    ``R[i]`` and ``Rs[i]``; a row whose joint log-densities are all
    ``-inf`` gets its prior weights (and log-likelihood ``-inf``), as
    :func:`~skmoe._kernels._gaussian.gaussian_estep`.

    Parameters
    ----------
    LW : ndarray of shape (n, K)
    MU : ndarray of shape (n, K)
    var : ndarray of shape (K,)
    shift : float
    MUs : ndarray of shape (n, S)
    var_s : ndarray of shape (S,)
    logw_s : ndarray of shape (S,)
    y, w : ndarray of shape (n,)
    R : ndarray of shape (n, K)
        Output.
    Rs : ndarray of shape (n, S)
        Output.

    Returns
    -------
    loglik : float
        ``sum_i w_i log p(y_i | x_i)``.
    """
    n, K = MU.shape
    S = MUs.shape[1]
    log_norm, half_prec = _normal_constants(var)
    log_norm_s, half_prec_s = _normal_constants(var_s)
    a = np.empty(K + S)
    total = 0.0
    for i in range(n):
        yi = y[i]
        m = -np.inf
        for k in range(K):
            r = yi - MU[i, k]
            v = (shift + LW[i, k]) + log_norm[k] - r * r * half_prec[k]
            a[k] = v
            if v > m:
                m = v
        for s in range(S):
            r = yi - MUs[i, s]
            v = logw_s[s] + log_norm_s[s] - r * r * half_prec_s[s]
            a[K + s] = v
            if v > m:
                m = v
        wi = w[i]
        if m == -np.inf:
            for k in range(K):
                R[i, k] = np.exp(shift + LW[i, k]) * wi
            for s in range(S):
                Rs[i, s] = np.exp(logw_s[s]) * wi
            total += wi * m
            continue
        tot = 0.0
        for c in range(K + S):
            e = np.exp(a[c] - m)
            a[c] = e
            tot += e
        inv = 1.0 / tot
        for k in range(K):
            R[i, k] = (a[k] * inv) * wi
        for s in range(S):
            Rs[i, s] = (a[K + s] * inv) * wi
        total += wi * (m + np.log(tot))
    return total


@njit(cache=True)
def column_sums(R):
    """``sum_i R[i, k]`` for every column, in row order."""
    n, K = R.shape
    out = np.zeros(K)
    for i in range(n):
        for k in range(K):
            out[k] += R[i, k]
    return out


@njit(cache=True)
def variances_from_rss_into(rss, mass, var, var_floor):
    """``var = rss / mass`` floored at ``var_floor``, in place.

    An expert whose mass is at most ``1e-10`` of the total keeps its
    variance (floored too). Returns whether every variance is finite.
    """
    K = mass.shape[0]
    total = 0.0
    for k in range(K):
        total += mass[k]
    finite = True
    for k in range(K):
        v = var[k] if mass[k] <= 1e-10 * total else rss[k] / mass[k]
        if not np.isfinite(v):
            finite = False
        # np.maximum's rule: NaN propagates
        var[k] = v if (v >= var_floor or v != v) else var_floor
    return finite


@njit(cache=True)
def gaussian_variance_step(y, MU, W, var, var_floor):
    """Variances of the experts of means ``MU`` under the weights ``W``, in place.

    ``sum_i W_ik (y_i - MU_ik)^2 / sum_i W_ik``
    (:func:`~skmoe._kernels._gaussian.weighted_residual_ss`,
    :func:`variances_from_rss_into`). Returns whether they are finite.
    """
    return variances_from_rss_into(weighted_residual_ss(y, MU, W), column_sums(W),
                                   var, var_floor)


@njit(cache=True)
def shared_weights_step(Rs, omega, log_lambda, logw_s):
    """The shared experts' weights ``omega_s`` (their masses, normalised).

    ``omega`` is kept when the shared part has no mass; ``logw_s[s] =
    log_lambda + log(omega_s)`` is updated (``-inf`` for a zero weight).
    """
    mass = column_sums(Rs)
    total = 0.0
    for s in range(mass.shape[0]):
        total += mass[s]
    for s in range(mass.shape[0]):
        if total > 0:
            omega[s] = mass[s] / total
        logw_s[s] = log_lambda + np.log(omega[s])


@njit(cache=True)
def gaussian_log_densities_into(MU, var, shift, MUs, var_s, logw_s, y, A, a):
    """The components' log-densities of :class:`~skmoe.GateLikelihood`.

    ``A[i, k] = shift + log N(y_i | MU[i, k], var[k])`` (``shift = log(1 -
    lambda)`` with shared experts, 0 without) and ``a[i] = log sum_s
    exp(logw_s[s] + log N(y_i | MUs[i, s], var_s[s]))`` (``-inf`` without
    shared experts): the observed log-likelihood of a gate ``g`` is ``sum_i
    w_i log(e^{a_i} + sum_k g_ik e^{A_ik})``.
    """
    n, K = MU.shape
    S = MUs.shape[1]
    log_norm, half_prec = _normal_constants(var)
    log_norm_s, half_prec_s = _normal_constants(var_s)
    b = np.empty(S)
    for i in range(n):
        yi = y[i]
        for k in range(K):
            r = yi - MU[i, k]
            A[i, k] = (log_norm[k] - r * r * half_prec[k]) + shift
        m = -np.inf
        for s in range(S):
            r = yi - MUs[i, s]
            b[s] = logw_s[s] + (log_norm_s[s] - r * r * half_prec_s[s])
            if b[s] > m:
                m = b[s]
        if S == 0 or m == -np.inf:
            a[i] = m
            continue
        tot = 0.0
        for s in range(S):
            tot += np.exp(b[s] - m)
        a[i] = m + np.log(tot)
