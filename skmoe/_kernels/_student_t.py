"""E-step of a Student-t mixture of experts (log densities and scale weights).

Also the steps of its compiled EM program (:func:`student_t_estep_into`,
:func:`student_t_scale_step`) and the ECM update of the degrees of freedom
(:func:`ecm_df_update`: its statistic, :func:`digamma` and Brent's root
finder :func:`brentq_df`), which :meth:`skmoe.noise.StudentTNoise.m_step`
calls too. Serial.
"""

import math

import numpy as np

from ..utils._numba_cache import njit
from ._gaussian import weighted_residual_ss
from ._gaussian_steps import column_sums, variances_from_rss_into
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


@njit(cache=True)
def student_t_estep_into(LW, MU, var, df, y, w, R, U):
    """:func:`student_t_estep` into buffers, the posteriors times the row weights.

    ``R[i] = w[i] * posterior_i`` and ``U`` the scale weights, as
    :func:`student_t_estep` computes them (a row whose joint log-densities are
    all ``-inf`` gets its gate weights ``exp(LW[i])``, times ``w[i]``).

    Parameters
    ----------
    LW : ndarray of shape (n, K)
        Log gating weights.
    MU : ndarray of shape (n, K)
        Expert locations.
    var, df : ndarray of shape (K,)
        Squared scales and degrees of freedom.
    y, w : ndarray of shape (n,)
        Targets and row weights.
    R, U : ndarray of shape (n, K)
        Outputs.

    Returns
    -------
    loglik : float
        ``sum_i w_i log p(y_i | x_i)``.
    """
    n, K = MU.shape
    log_norm = _log_norm(var, df)
    a = np.empty(K)
    total = 0.0
    for i in range(n):
        m = -np.inf
        for k in range(K):
            r = y[i] - MU[i, k]
            z2 = r * r / var[k]
            U[i, k] = (df[k] + 1.0) / (df[k] + z2)
            v = LW[i, k] + log_norm[k] - 0.5 * (df[k] + 1.0) * np.log1p(z2 / df[k])
            a[k] = v
            if v > m:
                m = v
        wi = w[i]
        if m == -np.inf:
            for k in range(K):
                R[i, k] = np.exp(LW[i, k]) * wi
            total += wi * m
            continue
        s = 0.0
        for k in range(K):
            e = np.exp(a[k] - m)
            a[k] = e
            s += e
        inv = 1.0 / s
        for k in range(K):
            R[i, k] = (a[k] * inv) * wi
        total += wi * (m + np.log(s))
    return total


@njit(cache=True)
def df_statistics(R, U, out):
    """``out[k] = sum_i R_ik (log u_ik - u_ik)`` over the rows with ``R_ik > 0``.

    The weighted mean of ``log u - u`` (divided by the mass) is the statistic
    of the ECM update of the degrees of freedom (``0 log 0 = 0``: a row of
    zero weight adds nothing, whatever its ``u``). Summed in row order.
    """
    n, K = R.shape
    for k in range(K):
        out[k] = 0.0
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            if r > 0.0:
                u = U[i, k]
                out[k] += r * (np.log(u) - u)


@njit(cache=True)
def student_t_scale_step(y, MU, R, RU, var, var_floor, mass):
    """The squared scales ``sum_i R_ik u_ik r_ik^2 / sum_i R_ik``, in place.

    ``RU`` holds ``R * u``; ``mass`` (output) receives the column sums of
    ``R``. The update of :meth:`skmoe.noise.StudentTNoise.m_step`
    (:func:`~skmoe._kernels._gaussian_steps.variances_from_rss_into`).
    Returns whether the scales are finite.
    """
    sums = column_sums(R)
    for k in range(mass.shape[0]):
        mass[k] = sums[k]
    return variances_from_rss_into(weighted_residual_ss(y, MU, RU), mass, var,
                                   var_floor)


#: coefficients of the asymptotic series of the digamma function,
#: ``B_{2j} / (2j)`` for ``j = 1 .. 7`` (``B`` the Bernoulli numbers)
_PSI_SERIES = (1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0, 1.0 / 132.0,
               -691.0 / 32760.0, 1.0 / 12.0)
#: the recurrence lifts the argument to at least this value before the series
_PSI_SERIES_FROM = 10.0


@njit(cache=True)
def digamma(x):
    """The digamma function ``psi(x) = d log Gamma(x) / dx`` for ``x > 0``.

    The recurrence ``psi(x) = psi(x + 1) - 1 / x`` lifts ``x`` to at least
    10, then ``psi(s) = log s - 1 / (2 s) - sum_j B_{2j} / (2j s^{2j})``
    with ``j <= 7``: the first term left out is below ``5e-17`` there, so the
    error is the round-off of at most a dozen terms (about ``1e-15``
    absolute; tested against ``scipy.special.digamma``).
    """
    w = 0.0
    s = x
    while s < _PSI_SERIES_FROM:
        w += 1.0 / s
        s += 1.0
    z = 1.0 / (s * s)
    poly = 0.0
    for j in range(len(_PSI_SERIES) - 1, -1, -1):
        poly = poly * z + _PSI_SERIES[j]
    return math.log(s) - 0.5 / s - z * poly - w


@njit(cache=True)
def df_equation(nu, c):
    """``log(nu / 2) - psi(nu / 2) + 1 + c``: its root is the ECM update of ``nu``."""
    return math.log(0.5 * nu) - digamma(0.5 * nu) + 1.0 + c


@njit(cache=True)
def brentq_df(c, lo, hi, xtol, rtol):
    """Root of :func:`df_equation` in ``[lo, hi]`` by Brent's method.

    The algorithm of ``scipy.optimize.brentq`` (inverse quadratic
    interpolation, secant or bisection steps, at most 100 iterations); the
    values at ``lo`` and ``hi`` must differ in sign.
    """
    xpre, xcur = lo, hi
    fpre, fcur = df_equation(xpre, c), df_equation(xcur, c)
    if fpre == 0.0:
        return xpre
    if fcur == 0.0:
        return xcur
    xblk, fblk, spre, scur = 0.0, 0.0, 0.0, 0.0
    for _ in range(100):
        if fpre != 0.0 and fcur != 0.0 and (fpre < 0.0) != (fcur < 0.0):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2.0
        sbis = (xblk - xcur) / 2.0
        if fcur == 0.0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate (secant)
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate (inverse quadratic)
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = (-fcur * (fblk * dblk - fpre * dpre)
                        / (dblk * dpre * (fblk - fpre)))
            if 2.0 * abs(stry) < min(abs(spre), 3.0 * abs(sbis) - delta):
                spre, scur = scur, stry
            else:
                spre = scur = sbis
        else:
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        if abs(scur) > delta:
            xcur += scur
        else:
            xcur += delta if sbis > 0.0 else -delta
        fcur = df_equation(xcur, c)
    return xcur


@njit(cache=True)
def solve_df(mean_log_u_minus_u, df_old, lo, hi):
    """The ECM update of one ``nu``: the root of its equation, clipped to ``[lo, hi]``.

    ``log(nu/2) - psi(nu/2)`` decreases from +inf to 0, so the equation's
    left side decreases in ``nu``: a root below (above) the bounds gives the
    lower (upper) bound, which maximises the concave objective there. The
    root is located to ``1e-12 + 1e-14 nu``.
    """
    c = (mean_log_u_minus_u + digamma(0.5 * (df_old + 1.0))
         - math.log(0.5 * (df_old + 1.0)))
    if df_equation(lo, c) <= 0.0:
        return lo
    if df_equation(hi, c) >= 0.0:
        return hi
    return brentq_df(c, lo, hi, 1e-12, 1e-14)


@njit(cache=True)
def ecm_df_update(R, U, mass, df, lo, hi):
    """The ECM update of every ``nu_k`` whose expert has mass, in place.

    ``nu_k`` solves the ECM equation (:func:`solve_df`) with the statistic
    ``sum_i R_ik (log u_ik - u_ik) / mass_k`` (:func:`df_statistics`); an
    expert whose mass is at most ``1e-10`` of the total keeps its ``nu``.
    """
    K = df.shape[0]
    stats = np.empty(K)
    df_statistics(R, U, stats)
    total = 0.0
    for k in range(K):
        total += mass[k]
    for k in range(K):
        if mass[k] > 1e-10 * total:
            df[k] = solve_df(stats[k] / mass[k], df[k], lo, hi)


@njit(cache=True)
def _column_negll(log_nu, k, LW, z2, rest, var, sw):
    """``-sum_i sw_i log(exp(rest_i) + g_ik t(y_i | nu))`` at ``nu = exp(log_nu)``.

    The observed negative log-likelihood as a function of expert ``k``'s
    degrees of freedom, the other experts' joint densities (``rest``, in
    log) fixed; ``z2 = (y - mu_k)^2 / sigma_k^2``.
    """
    nu = math.exp(log_nu)
    const = (lgamma_half_difference(0.5 * nu)
             - 0.5 * math.log(math.pi * nu * var[k]))
    half = 0.5 * (nu + 1.0)
    total = 0.0
    for i in range(z2.shape[0]):
        col = LW[i, k] + const - half * math.log1p(z2[i] / nu)
        r = rest[i]
        # logaddexp(r, col)
        if r == -np.inf and col == -np.inf:
            v = -np.inf
        elif r >= col:
            v = r + math.log1p(math.exp(col - r))
        else:
            v = col + math.log1p(math.exp(r - col))
        total += sw[i] * v
    return -total


@njit(cache=True)
def _bounded_minimum(k, LW, z2, rest, var, sw, a, b, xatol):
    """Minimiser of :func:`_column_negll` over ``[a, b]`` (Brent's bounded method).

    The algorithm of ``scipy.optimize.minimize_scalar(method="bounded")``:
    golden-section and parabolic steps, the tolerance ``sqrt(eps) |x| +
    xatol / 3``, at most 500 evaluations.
    """
    sqrt_eps = math.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - math.sqrt(5.0))
    fulc = a + golden_mean * (b - a)
    nfc, xf = fulc, fulc
    rat = 0.0
    e = 0.0
    x = xf
    fx = _column_negll(x, k, LW, z2, rest, var, sw)
    num = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = True
        if abs(e) > tol1:  # try a parabola
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r = e
            e = rat
            if abs(p) < abs(0.5 * q * r) and p > q * (a - xf) and p < q * (b - xf):
                rat = (p + 0.0) / q
                x = xf + rat
                if (x - a) < tol2 or (b - x) < tol2:
                    si = np.sign(xm - xf) + (1.0 if xm == xf else 0.0)
                    rat = tol1 * si
            else:
                golden = True
        if golden:
            e = (a - xf) if xf >= xm else (b - xf)
            rat = golden_mean * e
        si = np.sign(rat) + (1.0 if rat == 0.0 else 0.0)
        x = xf + si * max(abs(rat), tol1)
        fu = _column_negll(x, k, LW, z2, rest, var, sw)
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if fu <= fnfc or nfc == xf:
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif fu <= ffulc or fulc == xf or fulc == nfc:
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= 500:
            break
    return xf


@njit(cache=True)
def _joint_column(LW, MU, var, df, y, k, A):
    """``A[:, k] = LW[:, k] + log t(y | MU[:, k], var[k], df[k])``."""
    nu = df[k]
    const = lgamma_half_difference(0.5 * nu) - 0.5 * np.log(np.pi * nu * var[k])
    for i in range(y.shape[0]):
        r = y[i] - MU[i, k]
        A[i, k] = LW[i, k] + (const - 0.5 * (nu + 1.0) * np.log1p(
            r * r / (nu * var[k])))


@njit(cache=True)
def ecme_df_step(LW, MU, var, df, y, sw, lo, hi, xatol):
    """The ECME step of the degrees of freedom: each ``nu_k`` in turn, in place.

    ``nu_k`` maximises the observed log-likelihood with the other parameters
    fixed: the bounded minimum of :func:`_column_negll` over ``log nu`` in
    ``[log lo, log hi]`` (:func:`_bounded_minimum`, tolerance ``xatol``), or
    a bound, or the current value, whichever is best (the current value wins
    ties, so the step never decreases the likelihood and is a no-op at a
    maximum). The other experts' joint densities are updated after each
    change.

    Parameters
    ----------
    LW, MU : ndarray of shape (n, K)
        Log gating weights and expert locations.
    var : ndarray of shape (K,)
        Squared scales.
    df : ndarray of shape (K,)
        Input and output: the degrees of freedom.
    y, sw : ndarray of shape (n,)
        Targets and sample weights.
    lo, hi : float
        Bounds of the degrees of freedom.
    xatol : float
        Absolute tolerance on ``log nu``.
    """
    n, K = MU.shape
    A = np.empty((n, K))
    for k in range(K):
        _joint_column(LW, MU, var, df, y, k, A)
    rest = np.empty(n)
    z2 = np.empty(n)
    a, b = math.log(lo), math.log(hi)
    candidates = np.empty(4)
    for k in range(K):
        for i in range(n):
            m = -np.inf
            for j in range(K):
                if j != k and A[i, j] > m:
                    m = A[i, j]
            if m == -np.inf:
                rest[i] = m
            else:
                s = 0.0
                for j in range(K):
                    if j != k:
                        s += np.exp(A[i, j] - m)
                rest[i] = m + np.log(s)
            r = y[i] - MU[i, k]
            z2[i] = r * r / var[k]
        candidates[0] = math.log(df[k])
        candidates[1] = _bounded_minimum(k, LW, z2, rest, var, sw, a, b, xatol)
        candidates[2] = a
        candidates[3] = b
        best = 0
        best_value = _column_negll(candidates[0], k, LW, z2, rest, var, sw)
        for c in range(1, 4):
            v = _column_negll(candidates[c], k, LW, z2, rest, var, sw)
            if v < best_value:
                best, best_value = c, v
        if best:
            df[k] = min(max(math.exp(candidates[best]), lo), hi)
            _joint_column(LW, MU, var, df, y, k, A)
