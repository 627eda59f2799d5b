"""GLM response families (Poisson, binomial): log-probabilities, E-step, IRLS.

The kernels of :class:`~skmoe.noise.PoissonNoise` and
:class:`~skmoe.noise.BinomialNoise` (``skmoe/noise/_glm.py``), one
implementation for the batch EM and the compiled EM path: the family's
``log_pdf`` and ``estep`` call :func:`glm_log_pmf` and
:func:`glm_estep_into`, its ``expert_step`` for experts linear in a feature
map or FFN experts calls :func:`glm_irls`, and so does its compiled
program. The law
is a code (:data:`POISSON`, :data:`BINOMIAL`); the constant term of each
row's log-probability (``-log y!``, ``log C(a, a y)``) and the saturated
log-probabilities come from SciPy's log-gamma in the family file (computed
once per fit by the compiled program). Serial: the compiled path runs them
at every thread count, so it does not depend on it.
"""

import numpy as np

from ..utils._numba_cache import njit
from ._chunks import symmetric_from_packed
from ._ffn_steps import ffn_lm_update, ffn_means_into
from ._linear import _suffstat_rows
from ._logspace import normalize_log_row_inplace, prior_row_inplace
from ._wls import rows_finite, wls_update

#: the laws, as the family files name them (``_GLMNoise._law``)
POISSON = 0
BINOMIAL = 1
#: R's ``.Machine$double.eps``: the floor of the inverse link's derivative
EPS = float(np.finfo(np.float64).eps)


@njit(cache=True, inline="always")
def _log_sigmoid(x):
    """``log(1 / (1 + exp(-x)))`` without overflow (``-logaddexp(0, -x)``)."""
    if x >= 0.0:
        return -np.log1p(np.exp(-x))
    return x - np.log1p(np.exp(x))


@njit(cache=True, inline="always")
def _log_pmf(law, y, eta, a, c):
    """``log p(y | eta)`` of one row: ``a`` trials, constant term ``c``.

    Poisson: ``y eta - exp(eta) + c``; binomial (``s = a y`` successes):
    ``c + s log(mu) + (a - s) log(1 - mu)``, a term with a zero count left
    out (``0 log 0 = 0``).
    """
    if law == POISSON:
        return y * eta - np.exp(eta) + c
    s = a * y
    v = c
    if s != 0.0:
        v += s * _log_sigmoid(eta)
    if a - s != 0.0:
        v += (a - s) * _log_sigmoid(-eta)
    return v


@njit(cache=True, inline="always")
def _working(law, y, eta, a):
    """IRLS working response ``eta + (y - mu) / mu'`` and weight ``a mu'``.

    ``mu'`` the derivative of the inverse link, floored at :data:`EPS` (as
    R's ``poisson()$mu.eta`` and ``binomial()$mu.eta``).
    """
    if law == POISSON:
        mu = np.exp(eta)
        d = mu
    else:
        mu = 1.0 / (1.0 + np.exp(-eta))
        d = mu * (1.0 / (1.0 + np.exp(eta)))
    d = max(d, EPS)
    return eta + (y - mu) / d, a * d


@njit(cache=True)
def glm_log_pmf(law, y, ETA, trials, const):
    """Component log-probabilities ``log p(y_i | ETA[i, k])``, shape (n, K).

    Parameters
    ----------
    law : int
        :data:`POISSON` or :data:`BINOMIAL`.
    y, trials, const : ndarray of shape (n,)
        Targets (counts, proportions), numbers of trials (ones for Poisson)
        and the constant term of each row.
    ETA : ndarray of shape (n, K)
        Linear predictors.
    """
    n, K = ETA.shape
    out = np.empty((n, K))
    for i in range(n):
        for k in range(K):
            out[i, k] = _log_pmf(law, y[i], ETA[i, k], trials[i], const[i])
    return out


@njit(cache=True)
def glm_estep_into(law, LW, ETA, y, trials, const, w, R, loglik):
    """E-step: ``R[i] = w_i`` times the posterior, ``loglik[i]`` per row.

    The joint log-probabilities ``LW + log p`` normalised row by row as
    :func:`~skmoe._kernels._logspace.normalize_log_rows_inplace` does (a row
    whose joints are all ``-inf`` gets its gate weights and ``-inf``).

    Parameters
    ----------
    law : int
    LW, ETA : ndarray of shape (n, K)
        Log gating weights and linear predictors.
    y, trials, const, w : ndarray of shape (n,)
        Targets, trials, constant terms and row weights.
    R : ndarray of shape (n, K)
        Output.
    loglik : ndarray of shape (n,)
        Output: ``log p(y_i | x_i)``.

    Returns
    -------
    total : float
        ``sum_i w_i loglik_i``.
    """
    n, K = ETA.shape
    total = 0.0
    for i in range(n):
        m = -np.inf
        for k in range(K):
            v = LW[i, k] + _log_pmf(law, y[i], ETA[i, k], trials[i], const[i])
            R[i, k] = v
            if v > m:
                m = v
        if m == -np.inf:
            loglik[i] = prior_row_inplace(R, i, LW[i])
        else:
            loglik[i] = normalize_log_row_inplace(R, i, m)
        wi = w[i]
        for k in range(K):
            R[i, k] *= wi
        total += wi * loglik[i]
    return total


#: the experts' kinds of :func:`glm_irls`
LINEAR = 0
FFN = 1


@njit(cache=True, inline="always")
def _column(kind, A, row, code, col, eta):
    """The predictors of one expert's ``row`` (shape (1, p)) into ``eta``.

    ``LINEAR``: ``A`` the features, ``row`` their coefficients then the
    intercept; ``FFN``: ``A = X`` and the FFN unit's row
    (:func:`~skmoe._kernels._ffn_steps.ffn_means_into`, via ``col``).
    """
    n = A.shape[0]
    if kind == LINEAR:
        m = A.shape[1]
        for i in range(n):
            e = row[0, m]
            for a in range(m):
                e += A[i, a] * row[0, a]
            eta[i] = e
    else:
        ffn_means_into(A, row, code, col)
        for i in range(n):
            eta[i] = col[i, 0]


@njit(cache=True)
def glm_irls(law, kind, A, y, trials, const, sat, R, P, fit_intercept, code, free,
             max_gn_iter, max_tries, lambda0, step_tol, ETA, max_iter, tol,
             max_halvings):
    """The GLM experts' M-step: IRLS with step-halving, expert by expert.

    Expert ``k`` maximises ``Q_k = sum_i R_ik log p(y_i | eta_k(x_i))``.
    Each IRLS iteration is the experts' own weighted least squares of the
    working response with weights ``R_ik a_i mu'``: for ``kind == LINEAR``
    (experts linear in the features ``A``, intercept column implicit) the
    solve of :func:`~skmoe._kernels._wls.wls_update` on the statistics of
    :func:`~skmoe._kernels._linear._suffstat_rows` taken at the current
    row, i.e. :meth:`skmoe.LinearExperts.m_step`; for ``kind == FFN``
    (``A = X``) the Levenberg-Marquardt update of
    :func:`~skmoe._kernels._ffn_steps.ffn_lm_update` with the FFN settings
    (``code``, ``free``, ``max_gn_iter``, ``max_tries``, ``lambda0``,
    ``step_tol``), i.e. :meth:`skmoe.FFNExperts.m_step`. When the new row
    lowers ``Q_k`` the step is halved, up to ``max_halvings`` times, and an
    expert that no step improves stops. An expert stops after ``max_iter``
    iterations or when its weighted deviance ``2 sum_i R_ik (sat_i - log
    p_ik)`` changes by less than ``tol (|D| + 0.1)``; an expert whose mass
    is at most ``1e-10`` of the total keeps its row.

    Parameters
    ----------
    law : int
    kind : int
        :data:`LINEAR` or :data:`FFN`.
    A : ndarray of shape (n, m)
        Features (``LINEAR``) or inputs (``FFN``).
    y, trials, const, sat : ndarray of shape (n,)
        Targets, trials, constant terms, saturated log-probabilities.
    R : ndarray of shape (n, K)
        Row weight times responsibility.
    P : ndarray of shape (K, p)
        Input and output: the experts' rows.
    fit_intercept : bool
        Whether linear experts fit their intercept (unused for ``FFN``).
    code, free, max_gn_iter, max_tries, lambda0, step_tol
        The FFN update's settings (unused for ``LINEAR``).
    ETA : ndarray of shape (n, K)
        Output: the linear predictors at the new rows.
    max_iter : int
    tol : float
    max_halvings : int

    Returns
    -------
    finite : bool
        Whether the new rows are finite.
    """
    n = A.shape[0]
    K, p = P.shape
    col = np.empty((n, 1))
    eta = np.empty(n)
    for k in range(K):
        _column(kind, A, P[k:k + 1], code, col, eta)
        for i in range(n):
            ETA[i, k] = eta[i]
    q = np.zeros(K)
    saturated = np.zeros(K)
    mass = np.zeros(K)
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            saturated[k] += r * sat[i]
            mass[k] += r
            if r > 0.0:
                q[k] += r * _log_pmf(law, y[i], ETA[i, k], trials[i], const[i])
    total = 0.0
    for k in range(K):
        total += mass[k]
    active = np.empty(K, dtype=np.bool_)
    for k in range(K):
        active[k] = mass[k] > 1e-10 * total
    z = np.empty(n)
    W = np.empty((n, 1))
    old = np.empty((1, p))
    new = np.empty((1, p))
    row = np.empty((1, p))
    for _ in range(max_iter):
        any_active = False
        for k in range(K):
            if not active[k]:
                continue
            any_active = True
            for i in range(n):
                zi, wi = _working(law, y[i], ETA[i, k], trials[i])
                z[i] = zi
                W[i, 0] = R[i, k] * wi
            for a in range(p):
                old[0, a] = P[k, a]
                new[0, a] = P[k, a]
            if kind == LINEAR:
                n_tri = p * (p + 1) // 2
                packed = np.zeros((1, n_tri))
                moment = np.zeros((1, p))
                sums = np.zeros((2, 1))
                _suffstat_rows(A, z, W, old, True, 0, n, packed, moment, sums)
                wls_update(symmetric_from_packed(packed, p), moment, sums[1], old,
                           new, fit_intercept)
            else:
                ffn_lm_update(A, z, W, new, code, free, max_gn_iter, max_tries,
                              lambda0, step_tol)
            t = 1.0
            accepted = False
            q_new = 0.0
            for _h in range(max_halvings + 1):
                for a in range(p):
                    row[0, a] = (new[0, a] if t == 1.0
                                 else old[0, a] + t * (new[0, a] - old[0, a]))
                _column(kind, A, row, code, col, eta)
                q_new = 0.0
                for i in range(n):
                    if R[i, k] > 0.0:
                        q_new += R[i, k] * _log_pmf(law, y[i], eta[i], trials[i],
                                                    const[i])
                if q_new >= q[k]:
                    accepted = True
                    break
                t *= 0.5
            if not accepted:  # no step raises Q_k: converged
                active[k] = False
                continue
            dev_old = 2.0 * (saturated[k] - q[k])
            dev = 2.0 * (saturated[k] - q_new)
            q[k] = q_new
            for a in range(p):
                P[k, a] = row[0, a]
            for i in range(n):
                ETA[i, k] = eta[i]
            if not abs(dev - dev_old) >= tol * (abs(dev) + 0.1):
                active[k] = False
        if not any_active:
            break
    return rows_finite(P)
