"""E-step of a Student-t mixture of experts (log densities and scale weights)."""

import math

import numpy as np

from ..utils._numba_cache import njit
from ._logspace import normalize_log_rows_inplace

#: from this x on, ``lgamma(x + 1/2) - lgamma(x)`` is taken from its
#: asymptotic series (relative error below 1e-18 there, checked against
#: mpmath); below it, the difference of two lgamma values loses at most
#: ``eps * lgamma(1000) / 3.45``, about 2e-13 relative
HALF_DIFF_SERIES_FROM = 1000.0


@njit(cache=True)
def lgamma_half_difference(x):
    """``log Gamma(x + 1/2) - log Gamma(x)`` without cancellation, ``x > 0``.

    The difference of two ``lgamma`` values cancels for large ``x`` (at
    ``x = 5e5`` both are about ``6e6`` and the difference about 6.6, so one
    rounding unit of either costs ``1e-10``, and two libraries' ``lgamma``
    disagree by that much). From ``x = 1000`` on the asymptotic series

    .. math::

        \\tfrac12 \\log x - \\tfrac{1}{8x} + \\tfrac{1}{192 x^3}
        + \\tfrac{1}{640 x^5} - \\tfrac{17}{14336 x^7}

    is used instead.
    """
    if x < HALF_DIFF_SERIES_FROM:
        return math.lgamma(x + 0.5) - math.lgamma(x)
    u = 1.0 / x
    u2 = u * u
    return 0.5 * math.log(x) + u * (-0.125 + u2 * (1.0 / 192.0 + u2 * (
        1.0 / 640.0 - u2 * (17.0 / 14336.0))))


@njit(cache=True)
def _log_norm(variances, df):
    K = variances.shape[0]
    out = np.empty(K)
    for k in range(K):
        nu = df[k]
        out[k] = (lgamma_half_difference(0.5 * nu)
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
        A row whose joint log-densities are all ``-inf`` gets its gate
        weights (:func:`~skmoe._kernels._logspace.prior_row_inplace`).
    loglik : ndarray of shape (n,)
        ``log p(y_i | x_i)``; ``-inf`` for such a row.
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
    normalize_log_rows_inplace(resp, loglik, log_gate)
    return resp, loglik, scale
