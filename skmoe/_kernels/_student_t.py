"""E-step of a Student-t mixture of experts (log densities and scale weights)."""

import math

import numpy as np
from numba import njit

from ._logspace import normalize_log_rows_inplace


@njit(cache=True)
def _log_norm(variances, df):
    K = variances.shape[0]
    out = np.empty(K)
    for k in range(K):
        nu = df[k]
        out[k] = (math.lgamma(0.5 * (nu + 1.0)) - math.lgamma(0.5 * nu)
                  - 0.5 * np.log(np.pi * nu * variances[k]))
    return out


@njit(cache=True)
def student_t_logpdf(means, variances, df, y):
    """Component log-densities ``log t(y_i | mu_ik, sigma_k^2, nu_k)``.

    .. math::

        \\log t = \\log\\Gamma(\\tfrac{\\nu+1}{2}) - \\log\\Gamma(\\tfrac{\\nu}{2})
        - \\tfrac12 \\log(\\pi \\nu \\sigma^2)
        - \\tfrac{\\nu+1}{2} \\log\\big(1 + \\tfrac{(y-\\mu)^2}{\\nu\\sigma^2}\\big)

    Parameters
    ----------
    means : ndarray of shape (n, K), float64, C-contiguous
        Expert locations ``h(x_i; eta_k)``.
    variances : ndarray of shape (K,), float64
        Squared scales ``sigma_k^2``, strictly positive.
    df : ndarray of shape (K,), float64
        Degrees of freedom ``nu_k``, strictly positive.
    y : ndarray of shape (n,), float64
        Targets.

    Returns
    -------
    logpdf : ndarray of shape (n, K)
        Does not modify its inputs.
    """
    n, K = means.shape
    log_norm = _log_norm(variances, df)
    out = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            r = y[i] - means[i, k]
            out[i, k] = log_norm[k] - 0.5 * (df[k] + 1.0) * np.log1p(
                r * r / (df[k] * variances[k]))
    return out


@njit(cache=True)
def student_t_estep(log_gate, means, variances, df, y):
    """Responsibilities, log-likelihood and latent scale weights.

    ``a_ik = log g_k(x_i) + log t(y_i | mu_ik, sigma_k^2, nu_k)``,
    ``loglik_i = logsumexp_k a_ik``, ``resp_ik = exp(a_ik - loglik_i)`` and
    ``u_ik = (nu_k + 1) / (nu_k + (y_i - mu_ik)^2 / sigma_k^2)``, the
    conditional expectation of the gamma scale variable of sample ``i``
    given that it belongs to expert ``k`` (Chamroukhi 2016, arXiv:1701.07429).

    Parameters
    ----------
    log_gate : ndarray of shape (n, K), float64, C-contiguous
        Log gating weights; ``-inf`` marks an expert with zero weight.
    means : ndarray of shape (n, K), float64, C-contiguous
        Expert locations.
    variances : ndarray of shape (K,), float64
        Squared scales, strictly positive.
    df : ndarray of shape (K,), float64
        Degrees of freedom, strictly positive.
    y : ndarray of shape (n,), float64
        Targets.

    Returns
    -------
    resp : ndarray of shape (n, K)
        Responsibilities; rows sum to one, exact zeros where the gate is 0.
    loglik : ndarray of shape (n,)
        ``log p(y_i | x_i)``.
    scale : ndarray of shape (n, K)
        The weights ``u_ik``, in ``(0, (nu_k + 1) / nu_k]``.

    Notes
    -----
    Does not modify its inputs; returns new arrays.
    """
    n, K = means.shape
    log_norm = _log_norm(variances, df)
    resp = np.empty((n, K))
    scale = np.empty((n, K))
    loglik = np.empty(n)
    for i in range(n):
        for k in range(K):
            r = y[i] - means[i, k]
            z2 = r * r / variances[k]
            scale[i, k] = (df[k] + 1.0) / (df[k] + z2)
            resp[i, k] = log_gate[i, k] + log_norm[k] - 0.5 * (df[k] + 1.0) * np.log1p(
                z2 / df[k])
    normalize_log_rows_inplace(resp, loglik)
    return resp, loglik, scale
