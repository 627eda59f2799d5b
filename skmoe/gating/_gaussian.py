"""Gaussian gating: the localized gate of Jordan-Xu and Xu-Jordan-Hinton."""

from numbers import Real

import numpy as np

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval, StrOptions
from ..utils._threads import use_threads
from ._base import Gating, free_rows
from ._newton import newton_softmax_ascent, softmax_objective

_LOG_2PI = float(np.log(2.0 * np.pi))

#: weight of the log-determinant barrier of the normalisation (see
#: GaussianGating.normalize): a prior worth 1e-6 of the total sample weight
#: that keeps every expert's covariance finite; it moves the matched moments by
#: about 1e-6 of the covariances
_BARRIER = 1e-6
#: Newton decrement (squared, dimensionless) at which the normalisation has
#: converged: the moment equations then hold to about 1e-12 standard deviations
_MATCH_TOL = 1e-24
#: a representative whose decrement is below this is already normalised (the
#: round-off of recomputing its moments from the stored fields is ~1e-26)
_MATCHED = 1e-20
#: the kernels' codes of the covariance structures
_KINDS = {"full": 0, "diag": 1, "spherical": 2}


class _Quadratic:
    """The quadratic part of the logits for one covariance type and ``d``.

    The precision of every expert is ``P = sum_j theta_j E_j`` over a basis
    ``E`` of ``q`` symmetric matrices: the unit matrices of the upper
    triangle (``"full"``, ``q = d (d + 1) / 2``), of the diagonal
    (``"diag"``, ``q = d``) or the identity (``"spherical"``, ``q = 1``).
    The logit term ``-x^T P x / 2`` is then ``theta . psi(x)`` with the
    features ``psi_j(x) = -x^T E_j x / 2``.
    """

    def __init__(self, covariance_type, d):
        self.kind, self.d = covariance_type, d
        if covariance_type == "full":
            self.rows, self.cols = np.triu_indices(d)
            E = np.zeros((self.rows.size, d, d))
            j = np.arange(self.rows.size)
            E[j, self.rows, self.cols] = 1.0
            E[j, self.cols, self.rows] = 1.0
        elif covariance_type == "diag":
            E = np.zeros((d, d, d))
            E[np.arange(d), np.arange(d), np.arange(d)] = 1.0
        else:
            E = np.eye(d)[None]
        self.basis = E
        self.q = E.shape[0]

    def features(self, X):
        """``[X, psi(X)]``, the features in which the logits are linear."""
        if self.kind == "full":
            psi = -X[:, self.rows] * X[:, self.cols]
            psi[:, self.rows == self.cols] *= 0.5
        elif self.kind == "diag":
            psi = -0.5 * X * X
        else:
            psi = -0.5 * np.sum(X * X, axis=1, keepdims=True)
        return as_kernel_array(np.hstack([X, psi]))

    def coefs(self, P):
        """Coordinates ``theta`` (K, q) of precisions ``P`` (K, d, d)."""
        if self.kind == "full":
            return P[:, self.rows, self.cols]
        if self.kind == "diag":
            return np.diagonal(P, axis1=1, axis2=2).copy()
        return P[:, :1, 0].copy()

    def matrices(self, theta):
        """Precisions (K, d, d) of coordinates ``theta`` (K, q)."""
        return np.einsum("kj,jab->kab", theta, self.basis)

    def chol_shape(self, K):
        """Shape of the stored precision Cholesky factors of ``K`` experts."""
        return {"full": (K, self.d, self.d), "diag": (K, self.d),
                "spherical": (K,)}[self.kind]

    def stored_chol(self, P):
        """Stored factors of precisions ``P``; ValueError if one is not PD.

        ``"full"``: upper-triangular ``U`` with ``P = U U^T`` (the reverse
        Cholesky factor, scikit-learn's ``precisions_cholesky_``);
        ``"diag"``: the square roots of the diagonals; ``"spherical"``: the
        square root of the scalar precision.
        """
        if self.kind == "full":
            rev = P[:, ::-1, ::-1]
            L = np.linalg.cholesky(rev)  # LinAlgError (a ValueError) if not PD
            return np.ascontiguousarray(L[:, ::-1, ::-1])
        diag = self.coefs(P)
        if not np.all(diag > 0):
            raise ValueError("a precision is not positive definite")
        return np.sqrt(diag[:, 0] if self.kind == "spherical" else diag)

    def dense_chol(self, chol):
        """The stored factors as dense upper-triangular (K, d, d) matrices."""
        if self.kind == "full":
            return np.triu(chol)
        K = chol.shape[0]
        diag = np.broadcast_to(chol.reshape(K, -1), (K, self.d))
        U = np.zeros((K, self.d, self.d))
        U[:, np.arange(self.d), np.arange(self.d)] = diag
        return U


class _Rep:
    """One Gaussian representative of a gate: centres, precisions, log-weights.

    ``log_norm`` is the unnormalised log-mass ``log int exp(logit_k)`` of
    every expert, ``log_partition`` its log-sum-exp, ``log_prior`` the
    normalised log-weights ``log pi_k`` and ``half_logdet`` the half
    log-determinants of the precisions.
    """

    def __init__(self, centres, precision, covariance, log_norm, half_logdet=None):
        self.centres, self.precision, self.covariance = centres, precision, covariance
        self.log_partition = _logsumexp(log_norm)
        self.log_prior = log_norm - self.log_partition
        self.half_logdet = half_logdet


class _Frame:
    """Coordinates ``z = A^-1 (x - m)`` whitened by the reference moments.

    ``A`` is the Cholesky factor of the reference covariance (``"full"``),
    its diagonal square roots (``"diag"``) or the root of its mean variance
    (``"spherical"``), so that the covariance structure is kept. The normal
    form is equivariant under this map, and in ``z`` the logit coefficients
    are of order one, so Newton's method works to round-off even when the
    inputs are far from the origin for their spread (a constant feature).
    ``target`` is ``E[T(z)]`` of the reference moments in ``z``.
    """

    def __init__(self, extra, quad):
        d = quad.d
        self.mean, V = extra["x_mean"], extra["x_covariance"]
        if quad.kind == "full":
            A = np.linalg.cholesky(V)  # LinAlgError (a ValueError) if not PD
        elif quad.kind == "diag":
            A = np.diag(np.sqrt(np.diag(V)))
        else:
            A = np.sqrt(np.trace(V) / d) * np.eye(d)
        self.A, self.A_inv = A, np.linalg.inv(A)
        S = self.A_inv @ V @ self.A_inv.T
        second = np.einsum("jab,ba->j", quad.basis, S)
        self.target = np.concatenate([np.zeros(d), -0.5 * second])

    def inputs(self, X):
        """Whitened inputs ``z``."""
        return (X - self.mean) @ self.A_inv.T

    def to_z(self, rep):
        """A representative in ``z`` (the weights do not change)."""
        A, A_inv = self.A, self.A_inv
        cov = None if rep.covariance is None else A_inv @ rep.covariance @ A_inv.T
        return _Rep((rep.centres - self.mean) @ A_inv.T, A.T @ rep.precision @ A,
                    cov, rep.log_prior)

    def to_x(self, rep):
        """A representative in ``x``."""
        A, A_inv = self.A, self.A_inv
        return _Rep(rep.centres @ A.T + self.mean, A_inv.T @ rep.precision @ A_inv,
                    None, rep.log_prior)


def _logsumexp(a):
    """``log sum exp(a)`` of a few finite-or-not entries (scipy's costs ~40 us).

    Shifted by the largest entry, as :func:`scipy.special.logsumexp`; an
    infinite or NaN largest entry gives it back (``inf``, ``nan``).
    """
    top = float(np.max(a))
    if not np.isfinite(top):
        return top
    return top + float(np.log(np.sum(np.exp(a - top))))


def _logits(rep, quad):
    """Rows ``[b_k, theta_k]`` and intercepts ``alpha_k`` of the logits."""
    P, c = rep.precision, rep.centres
    b = np.einsum("kab,kb->ka", P, c)
    half_logdet = 0.5 * np.linalg.slogdet(P)[1]
    alpha = (rep.log_prior + half_logdet - 0.5 * quad.d * _LOG_2PI
             - 0.5 * np.einsum("ka,ka->k", b, c))
    return np.hstack([b, quad.coefs(P)]), alpha


def _from_logits(W, alpha, quad):
    """The representative of logit rows ``W`` and intercepts ``alpha``.

    Raises ValueError when a precision is not positive definite.
    """
    d = quad.d
    P = quad.matrices(W[:, d:])
    L = np.linalg.cholesky(P)  # LinAlgError (a ValueError) if not PD
    b = W[:, :d]
    u = np.linalg.solve(L, b[:, :, None])[:, :, 0]  # L^-1 b
    c = np.linalg.solve(np.swapaxes(L, 1, 2), u[:, :, None])[:, :, 0]
    half_logdet = np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
    log_norm = (alpha + 0.5 * d * _LOG_2PI - half_logdet
                + 0.5 * np.einsum("ka,ka->k", u, u))
    if not np.all(np.isfinite(log_norm)) or not np.all(np.isfinite(c)):
        raise ValueError("non-finite Gaussian gate")
    return _Rep(c, P, np.linalg.inv(P), log_norm, half_logdet)


def _moments(rep, quad):
    """Mean and covariance of ``T(x) = (x, -x^T E_j x / 2)`` under the mixture.

    Per expert (a Gaussian with mean ``c`` and covariance ``G``):
    ``Cov(x, x) = G``, ``Cov(x, T_j) = -G E_j c`` and ``Cov(T_i, T_j) =
    tr(E_i G E_j G) / 2 + c^T E_i G E_j c``; the mixture adds the covariance
    of the experts' means.
    """
    E = quad.basis
    pi = np.exp(rep.log_prior)
    c, G = rep.centres, rep.covariance
    v = np.einsum("jab,kb->kja", E, c)  # E_j c_k
    mu_s = -0.5 * (np.einsum("jab,kba->kj", E, G) + np.einsum("ka,kja->kj", c, v))
    mu = np.hstack([c, mu_s])
    M = np.einsum("jab,kbc->kjac", E, G)  # E_j G_k
    ss = (0.5 * np.einsum("kiab,kjba->kij", M, M)
          + np.einsum("kia,kab,kjb->kij", v, G, v))
    xs = -np.einsum("kab,kjb->kaj", G, v)
    within = np.block([[G, xs], [np.swapaxes(xs, 1, 2), ss]])
    mean = pi @ mu
    dev = mu - mean
    cov = np.einsum("k,kab->ab", pi, within) + (dev * pi[:, None]).T @ dev
    return mean, cov


def _decrement(rep, target, quad):
    """Newton step and decrement of the normal form's objective at ``rep``.

    The gradient of ``F`` (see :func:`_match`) is ``target - E[T]`` plus the
    barrier's ``eps sum_k tr(E_j Gamma_k)``; minus its Hessian is ``Cov(T)``
    plus ``eps sum_k tr(E_i Gamma_k E_j Gamma_k)``.
    """
    mean, cov = _moments(rep, quad)
    d = quad.d
    E, G = quad.basis, rep.covariance
    g = target - mean
    g[d:] += _BARRIER * np.einsum("jab,kba->j", E, G)
    M = np.einsum("jab,kbc->kjac", E, G)
    cov[d:, d:] += _BARRIER * np.einsum("kiab,kjba->ij", M, M)
    step = np.linalg.solve(cov, g)
    return step, float(g @ step)


def _objective(eta, rep, target):
    """``F(eta)`` of :func:`_match` at the representative ``rep`` of ``eta``."""
    return (float(eta @ target) - rep.log_partition
            + 2.0 * _BARRIER * float(np.sum(rep.half_logdet)))


def _max_step(step_s, rep, quad):
    """Largest step length (at most 1) that changes no precision by over half.

    The relative change of ``P_k`` along the step is the spectral radius of
    ``L_k^-1 dS L_k^-T`` (``P_k = L_k L_k^T``); bounding it by 1/2 keeps every
    iterate well inside the domain, where the moments of ``T`` are accurate
    (a long Newton step from far away can land on a nearly singular
    precision, whose moments are lost in round-off).
    """
    dS = np.einsum("j,jab->ab", step_s, quad.basis)
    L = np.linalg.cholesky(rep.precision)
    M = np.linalg.solve(L, np.linalg.solve(L, np.broadcast_to(dS, L.shape))
                        .swapaxes(1, 2))
    radius = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (M + M.swapaxes(1, 2))))))
    return min(1.0, 0.5 / radius) if radius > 0 else 1.0


def _newton(W, alpha, target, quad, eta, max_iter):
    """Damped Newton ascent of ``F`` from the tilt ``eta``; None if it fails.

    Returns ``(eta, rep)`` once the decrement is below :data:`_MATCH_TOL` (or
    stalls at round-off below 1e-14); None when the start is not in the
    domain, the moments are lost in round-off, no step is accepted or
    ``max_iter`` steps do not converge.
    """
    d = quad.d
    try:
        rep = _from_logits(W + eta, alpha, quad)
    except ValueError:
        return None
    previous = np.inf
    for _ in range(max_iter):
        step, dec = _decrement(rep, target, quad)
        if not (dec >= 0 and np.isfinite(dec)):
            return None  # Cov(T) lost to round-off: not a solution
        if dec <= _MATCH_TOL or (dec <= 1e-14 and dec > 0.25 * previous):
            return eta, rep  # converged, or at the round-off floor
        previous = dec
        value = _objective(eta, rep, target)
        t = _max_step(step[d:], rep, quad)
        for _ in range(60):
            new_eta = eta + t * step
            try:
                new = _from_logits(W + new_eta, alpha, quad)
            except ValueError:
                t *= 0.5
                continue
            # close to the solution the gain is below the round-off of F
            if dec <= 1e-8 or (_objective(new_eta, new, target)
                               >= value + 1e-4 * t * dec):
                break
            t *= 0.5
        else:
            return None
        eta, rep = new_eta, new
    return None


def _symmetric_start(W, quad):
    """A tilt with ``P_k = D_k + sum_j (-D_j)_+ + I`` and centred linear terms.

    ``D_k`` are the precisions minus their mean and ``(.)_+`` the positive
    part: every ``P_k >= (D_k)_+ + I`` is positive definite with eigenvalues
    at least 1 (the whitened target mixture has covariance I), an expert is
    narrow where its precision exceeds the others' and wide where it falls
    short, and the start does not depend on the labels.
    """
    d = quad.d
    P = quad.matrices(W[:, d:])
    start = _negative_parts(P - P.mean(axis=0)) + np.eye(d) - P.mean(axis=0)
    return np.concatenate([-W[:, :d].mean(axis=0), quad.coefs(start[None])[0]])


def _negative_parts(D):
    """``sum_k (-D_k)_+`` of symmetric matrices ``D`` (K, d, d).

    Adding it to every ``P_k`` turns precisions ``P_k`` and changes ``D_k``
    into ``P_k + D_k + sum_j (-D_j)_+ >= P_k + (D_k)_+``, positive definite.
    """
    lam, vec = np.linalg.eigh(-D)
    return np.einsum("kab,kb,kcb->ac", vec, np.maximum(lam, 0.0), vec)


def _match(W, alpha, target, quad):
    """The normal form of the gate of logit rows ``W`` and intercepts ``alpha``.

    Maximises the concave ``F(eta) = eta . target - log Z(eta) + eps sum_k
    log det P_k(eta)`` over the common tilt ``eta = (l, s)`` added to every
    logit row (``Z`` the mass of the tilted mixture, ``eps`` the barrier
    weight) by damped Newton steps that change no precision by more than
    half (:func:`_max_step`), from, in turn: the representative ``W`` itself
    (callers pass rows relative to the current normal form, so this is a
    warm start), :func:`_symmetric_start`, and a continuation in the gate's
    sharpness ``tau``: the rows ``mean + tau (W - mean)`` from ``tau = 0``
    (every expert equal, the solution in one step) to 1, each solved from
    the previous one, the increment halved when Newton fails. Raises
    ValueError if all fail (non-finite input).
    """
    d = quad.d
    for eta in (np.zeros(d + quad.q), _symmetric_start(W, quad)):
        found = _newton(W, alpha, target, quad, eta, 50)
        if found is not None:
            return found[1]
    W_mean, alpha_mean = W.mean(axis=0), alpha.mean()

    def at(tau):
        return W_mean + tau * (W - W_mean), alpha_mean + tau * (alpha - alpha_mean)

    eta = np.concatenate([-W_mean[:d], quad.coefs(np.eye(d)[None])[0] - W_mean[d:]])
    found = _newton(*at(0.0), target, quad, eta, 50)
    spread = quad.matrices(W[:, d:] - W_mean[d:])
    tau, increment = 0.0, 0.25
    while found is not None and tau < 1.0:
        new_tau = min(1.0, tau + increment)
        # predictor: the previous tilt plus what keeps every precision PD
        shift = _negative_parts((new_tau - tau) * spread)
        start = found[0] + np.concatenate([np.zeros(d), quad.coefs(shift[None])[0]])
        trial = _newton(*at(new_tau), target, quad, start, 50)
        if trial is None:
            increment *= 0.5
            if increment < 1e-6:
                break
            continue
        found, tau, increment = trial, new_tau, min(2.0 * increment, 1.0)
    if found is None or tau < 1.0:
        raise ValueError("the Gaussian gate could not be normalised")
    return found[1]


def _weighted_mean_cov(X, w):
    """Weighted mean and covariance (weighted sums only)."""
    W = w.sum()
    mean = (w @ X) / W
    Xc = X - mean
    return mean, (Xc * w[:, None]).T @ Xc / W


def _structured_precision(V, quad):
    """Precision of a covariance restricted to the covariance structure."""
    if quad.kind == "full":
        return np.linalg.inv(V)
    diag = np.diag(V)
    if quad.kind == "spherical":
        diag = np.full(quad.d, diag.mean())
    return np.diag(1.0 / diag)


class _GaussianProgram:
    """The compiled EM state of a Gaussian gate: its whitened logit rows.

    The rows relative to the last one, on the features of the whitened
    inputs (:meth:`GaussianGating._em_setting`, built at the first step,
    which may need the responsibilities for the reference moments); the step
    is the kernel of :meth:`GaussianGating.m_step`. The gate is a softmax of
    these logits, so the normal form (Newton's method on the moments) is
    computed once, by :meth:`fields`.
    """

    def __init__(self, gating, X, params):
        self.gating, self.X, self.params = gating, X, params
        self.setting = None

    def log_weights(self, LW):
        if self.setting is None:
            LW[:] = self.gating.log_weights(self.X, self.params)
        else:
            _kernels._softmax_steps.softmax_log_weights_into(
                self.F, self.coef, self.intercept, LW)

    def step(self, R, LW, n_iter, max_iter):
        gating = self.gating
        if self.setting is None:
            self.setting = gating._em_setting(self.X, R, self.params)
            W0, alpha0, self.Z, self.F, self.reg = self.setting[3:]
            self.coef = as_kernel_array(W0 - W0[-1]).copy()
            self.intercept = as_kernel_array(alpha0 - alpha0[-1]).copy()
            self.kind = _KINDS[self.setting[0].kind]
        finite = _kernels._gaussian_gate.gaussian_gate_step(
            self.F, self.Z, R, self.reg, self.kind, bool(gating.joint_proposal),
            self.coef, self.intercept, gating._max_newton_iter, LW)
        return finite, False

    def fields(self):
        if self.setting is None:
            return {}
        quad, extra, frame, W0, alpha0 = self.setting[:5]
        return self.gating._normal_fields(self.coef + W0[-1],
                                          self.intercept + alpha0[-1], extra,
                                          frame, quad)


class GaussianGating(Gating):
    """Gaussian (localized) gate: normalised Gaussian densities of the input.

    With centres :math:`c_k`, covariances :math:`\\Gamma_k` and weights
    :math:`\\pi_k > 0`, :math:`\\sum_k \\pi_k = 1`,

    .. math::

        g_k(x) = \\frac{\\pi_k \\, \\mathcal{N}(x \\mid c_k, \\Gamma_k)}
            {\\sum_j \\pi_j \\, \\mathcal{N}(x \\mid c_j, \\Gamma_j)},

    the gate of the localized mixture of experts [1]_ [2]_: expert ``k``
    dominates near :math:`c_k`, and its region's shape follows
    :math:`\\Gamma_k`. The log-weights are a log-softmax of logits quadratic
    in ``x``, computed in log space by a Numba kernel.

    Parameters
    ----------
    covariance_type : {"full", "diag", "spherical"}, default="full"
        Structure of every :math:`\\Gamma_k`, as in
        :class:`sklearn.mixture.GaussianMixture`: a full matrix, a diagonal
        one, or a multiple of the identity.
    reg_covar : float, default=1e-6
        Non-negative number added to the diagonal of the covariances of the
        closed-form (joint-likelihood) proposal and of the input covariance
        that sets the normalisation (see Notes), so that both stay positive
        definite, even for an expert with almost no mass or a constant
        feature. Like scikit-learn's, it is absolute: it assumes inputs of
        order one.
    joint_proposal : bool, default=True
        Propose the closed-form update of Xu, Jordan and Hinton [2]_ in every
        EM gate update (accepted only if it increases the conditional
        objective, see Notes). False uses the Newton step alone.

    Notes
    -----
    **Fields.** ``params.gate_coef`` holds the centres :math:`c_k` (shape
    ``(n_experts, n_features)``), ``params.gate_intercept`` the log-weights
    :math:`\\log \\pi_k` (their log-sum-exp is 0), and
    ``params.gate_extra["precision_cholesky"]`` the Cholesky factors of the
    precisions :math:`\\Gamma_k^{-1}` in the layout of scikit-learn's
    ``GaussianMixture.precisions_cholesky_``: shape ``(K, d, d)``,
    upper-triangular :math:`U_k` with :math:`\\Gamma_k^{-1} = U_k U_k^\\top`
    (``"full"``), ``(K, d)`` square roots of the diagonal precisions
    (``"diag"``) or ``(K,)`` square roots of the scalar precisions
    (``"spherical"``). ``gate_extra["x_mean"]`` and
    ``gate_extra["x_covariance"]`` hold the reference moments of the inputs
    of the normalisation below (not free parameters).

    **Identifiability.** In the conditional model :math:`p(y \\mid x)` the
    gate is the softmax of the logits :math:`\\log \\pi_k + \\log
    \\mathcal{N}(x \\mid c_k, \\Gamma_k) = \\alpha_k + b_k^\\top x - x^\\top
    P_k x / 2` (:math:`P_k = \\Gamma_k^{-1}`, :math:`b_k = P_k c_k`), so it
    is unchanged when the *same* quadratic :math:`l^\\top x - x^\\top S x /
    2` is added to every logit: the centres, covariances and weights move,
    the gate does not. Only the differences between the experts' logit
    coefficients are identified: ``(K - 1) (1 + d + q)`` free parameters,
    with ``q`` = ``d (d + 1) / 2``, ``d`` or 1 for full, diagonal or
    spherical covariances. Of all the Gaussian parameters that give one
    gate, skmoe reports the one whose Gaussian mixture of the inputs,
    :math:`\\sum_k \\pi_k \\mathcal{N}(x \\mid c_k, \\Gamma_k)`, best fits the
    first two moments of the training inputs (``x_mean``, ``x_covariance``):
    the tilts :math:`(l, S)` form an exponential family, and the reported
    tilt maximises its log-likelihood at these moments plus a weak barrier
    :math:`10^{-6} \\sum_k \\log\\det \\Gamma_k^{-1}` (a prior worth
    :math:`10^{-6}` of the sample), so the mixture's mean and covariance
    (projected on the covariance structure) are those of the inputs to
    about :math:`10^{-6}` relative. Without the barrier an expert that
    dominates only far from the data (a logit difference with a negative
    quadratic part and a negligible weight) would get an infinitely wide
    Gaussian. The maximiser is unique (the objective is strictly concave)
    and is found by Newton's method; it is what :meth:`normalize`
    computes, :meth:`pack` gives the identified differences and
    :meth:`unpack` the normalised fields. A true gate from
    :meth:`random_params` is normalised with the moments of standard normal
    inputs (mean 0, covariance identity), those of
    :func:`~skmoe.datasets.make_moe_regression`'s default inputs; to compare
    a fit on other inputs with it, normalise the truth with the fit's
    ``x_mean`` and ``x_covariance`` first.

    **EM update.** In the identified coordinates the gate objective
    :math:`\\sum_{ik} R_{ik} \\log g_k(x_i)` is a weighted multinomial
    logistic regression on the features :math:`(x, -x^\\top E_j x / 2)`,
    hence concave. The update (a generalised EM step, like the softmax gate)

    1. proposes the closed-form update of [2]_, :math:`\\pi_k \\propto
       \\sum_i R_{ik}`, :math:`c_k` the :math:`R_{\\cdot k}`-weighted mean
       and :math:`\\Gamma_k` the weighted covariance plus ``reg_covar``,
       which maximises the *joint* likelihood of the inputs and the expert
       labels, not the conditional one; it is accepted only if it
       increases the conditional objective by more than its round-off;
    2. takes one damped Newton step with an Armijo line search on the
       concave objective (the update of :class:`SoftmaxGating` applied to
       the quadratic features).

    The objective never decreases, so EM is monotone. The Newton step costs
    :math:`O(n K^2 (1 + d + q)^2)`: with many features prefer
    ``covariance_type="diag"`` or ``"spherical"``. The classic algorithm of
    [2]_, which applies the closed-form update unconditionally, maximises
    the joint likelihood of :math:`(x, y)` and can decrease the conditional
    one; it is not offered as an update.

    Abilities: ``"gradient"`` (:meth:`grad`, for the gradient solvers and
    the standard errors), ``"smooth"``, ``"fixed_model"``, ``"short_runs"``
    and ``"compiled"`` (the compiled EM path runs the update's kernel on the
    whitened logit rows and normalises the gate once, at the end); no
    sufficient statistics (``partial_fit`` and the fused EM are not
    available), no Voronoi atoms.

    References
    ----------
    .. [1] Jordan, M. I. and Xu, L. (1995). Convergence results for the EM
       approach to mixtures of experts architectures. Neural Networks 8(9),
       1409-1431.
    .. [2] Xu, L., Jordan, M. I. and Hinton, G. E. (1995). An alternative
       model for mixtures of experts. Advances in Neural Information
       Processing Systems 7, 633-640.
    .. [3] Nguyen, H., Nguyen, T., Nguyen, K. and Ho, N. (2024). Towards
       convergence rates for parameter estimation in Gaussian-gated mixture
       of experts. AISTATS. arXiv:2305.07572.

    Examples
    --------
    >>> from skmoe import GaussianGating, MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> gating = GaussianGating(covariance_type="diag")
    >>> X, y, truth = make_moe_regression(500, 2, 3, gating=gating, random_state=0)
    >>> est = MixtureOfExpertsRegressor(3, gating=gating, random_state=0).fit(X, y)
    >>> est.params_.gate_extra["precision_cholesky"].shape
    (3, 2)
    >>> est.predict_gates(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    _parameter_constraints: dict = {
        "covariance_type": [StrOptions({"full", "diag", "spherical"})],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "joint_proposal": ["boolean"],
    }

    #: abilities (see skmoe.utils._abilities)
    provides = frozenset({"gradient", "smooth", "fixed_model", "short_runs",
                          "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("m_step", "log_weights", "at_iteration")

    #: Newton steps in one EM gate update (as for SoftmaxGating)
    _max_newton_iter = 1

    def __init__(self, covariance_type="full", *, reg_covar=1e-6,
                 joint_proposal=True):
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.joint_proposal = joint_proposal

    # ---------------------------------------------------------------- sizes
    def _quad(self, d):
        return _Quadratic(self.covariance_type, d)

    def n_free_params(self, n_features, n_experts):
        """Number of identified gate parameters, ``(K - 1) (1 + d + q)``.

        ``q`` is the number of free entries of a precision: ``d (d + 1) / 2``
        (full), ``d`` (diagonal) or 1 (spherical). The Gaussian parameters
        hold ``d + q`` more (see Notes): a common quadratic tilt of the
        logits does not change the gate.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        n_params : int
            The number of parameters.
        """
        return (n_experts - 1) * (1 + n_features + self._quad(n_features).q)

    def param_blocks(self, n_features, n_experts):
        """The centres, log-weights, precision factors and reference moments.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        blocks : dict of str to tuple
            Field -> ``(shape, per_expert)``.
        """
        d = n_features
        return {
            **super().param_blocks(n_features, n_experts),
            "gate_extra.precision_cholesky": (
                self._quad(d).chol_shape(n_experts), True),
            "gate_extra.x_mean": ((d,), False),
            "gate_extra.x_covariance": ((d, d), False),
        }

    def summary_fields(self, n_features, n_experts):
        """Label the centres and log-weights; no Wald test of a gate field.

        The centres, log-weights and precision factors are those of the
        reported representative (the gate identifies only the differences
        between the experts' logits): a test of zero would compare a centre
        with the origin, a log-weight with a weight of one, not a covariate's
        effect on the gate.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        fields : dict of str to tuple
            Field -> ``(label, wald)``, ``wald`` False everywhere.
        """
        fields = {name: (None, False)
                  for name in self.param_blocks(n_features, n_experts)}
        fields["gate_coef"] = ("centre", False)
        fields["gate_intercept"] = ("log weight", False)
        return fields

    # ------------------------------------------------- representatives
    def _rep(self, params):
        """The representative stored in ``params`` (identity precisions if absent)."""
        K, d = params.n_experts, params.n_features
        chol = params.gate_extra.get("precision_cholesky")
        U = (np.broadcast_to(np.eye(d), (K, d, d)) if chol is None
             else self._quad(d).dense_chol(chol))
        P = U @ np.swapaxes(U, 1, 2)
        # the log-mass of pi_k N(x | c_k, Gamma_k) is log pi_k
        return _Rep(params.gate_coef, P, np.linalg.inv(P), params.gate_intercept)

    def _reference(self, params, rep):
        """The reference moments of ``params`` (its own mixture's if absent)."""
        extra = params.gate_extra
        if "x_mean" in extra and "x_covariance" in extra:
            return {"x_mean": extra["x_mean"], "x_covariance": extra["x_covariance"]}
        pi = np.exp(rep.log_prior)
        mean = pi @ rep.centres
        dev = rep.centres - mean
        cov = np.einsum("k,kab->ab", pi, rep.covariance) + (dev * pi[:, None]).T @ dev
        return {"x_mean": mean, "x_covariance": cov}

    def _setting(self, params):
        """Structure, stored representative, reference moments and frame."""
        quad = self._quad(params.n_features)
        rep = self._rep(params)
        extra = {**params.gate_extra, **self._reference(params, rep)}
        return quad, rep, extra, _Frame(extra, quad)

    def _normal_fields(self, W, alpha, extra, frame, quad):
        """Fields of the normal form of whitened logits ``W``, ``alpha``."""
        rep = frame.to_x(_match(W, alpha, frame.target, quad))
        return {
            "gate_coef": as_kernel_array(rep.centres),
            "gate_intercept": as_kernel_array(rep.log_prior),
            "gate_extra": {**extra,
                           "precision_cholesky": quad.stored_chol(rep.precision)},
        }

    def _normalized(self, rep, extra, quad):
        """Fields of the normal form of a representative in ``x``."""
        frame = _Frame(extra, quad)
        return self._normal_fields(*_logits(frame.to_z(rep), quad), extra, frame,
                                   quad)

    # ----------------------------------------------------------- the model
    def init(self, X, sample_weight, n_experts, rng):
        """Random centres around the weighted mean, the input covariance each.

        The centres are ``mean + std * z_k`` with standard normal ``z_k`` and
        the weighted mean and standard deviations of ``X``; every covariance
        is the weighted covariance of ``X`` (restricted to the structure)
        plus ``reg_covar``, and the weights are equal, so the starting logits
        differ by linear functions (random hyperplanes, as for the softmax
        gate). The gate is then normalised with the weighted moments of
        ``X``; it depends on the data only through weighted sums.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        sample_weight : ndarray of shape (n_samples,)
            Sample weights.
        n_experts : int
            Number of experts.
        rng : numpy.random.RandomState
            Random generator of the estimator.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        K, d = n_experts, X.shape[1]
        quad = self._quad(d)
        mean, V = _weighted_mean_cov(X, sample_weight)
        V = V + self.reg_covar * np.eye(d)
        std = np.sqrt(np.diag(V))
        centres = mean + std * rng.standard_normal((K, d))
        P = np.repeat(_structured_precision(V, quad)[None], K, axis=0)
        return self._normalized(_Rep(centres, P, None, np.zeros(K)),
                                {"x_mean": mean, "x_covariance": V}, quad)

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate: spread centres, covariances of size ``1/gate_scale``.

        The centres are standard normal (the most spread of ten draws, so
        that no two experts share a region), every covariance is
        ``s_k / gate_scale`` times a random matrix of the structure with
        eigenvalues in ``[exp(-1/2), exp(1/2)]`` (``s_k`` in the same range),
        and ``log pi_k`` are ``0.3 N(0, 1)``; the logits between neighbouring
        centres then change by about ``gate_scale`` per unit of ``x``. The
        gate is normalised with the moments of standard normal inputs (mean
        0, covariance identity), the default inputs of
        :func:`~skmoe.datasets.make_moe_regression`.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Sharpness of the gate (larger is sharper).
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields in the family's normalisation.
        """
        K, d = n_experts, n_features
        quad = self._quad(d)
        best, spread = None, -np.inf
        for _ in range(10):
            centres = rng.standard_normal((K, d))
            gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)
            closest = np.min(gaps + np.diag(np.full(K, np.inf))) if K > 1 else 0.0
            if closest > spread:
                best, spread = centres, closest
        size = np.exp(rng.uniform(-0.5, 0.5, K)) / gate_scale
        if quad.kind == "full":
            Q = np.linalg.qr(rng.standard_normal((K, d, d)))[0]
            eig = np.exp(rng.uniform(-0.5, 0.5, (K, d)))
            cov = np.einsum("kab,kb,kcb->kac", Q, eig, Q)
        elif quad.kind == "diag":
            cov = np.zeros((K, d, d))
            cov[:, np.arange(d), np.arange(d)] = np.exp(rng.uniform(-0.5, 0.5, (K, d)))
        else:
            cov = np.broadcast_to(np.eye(d), (K, d, d))
        cov = cov * size[:, None, None]
        log_prior = 0.3 * rng.standard_normal(K)
        rep = _Rep(best, np.linalg.inv(cov), None, log_prior)
        extra = {"x_mean": np.zeros(d), "x_covariance": np.eye(d)}
        return self._normalized(rep, extra, quad)

    def log_weights(self, X, params):
        """Log Gaussian gate weights, from the kernel's log-densities.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_samples, n_experts)
            Log gating weights (finite).
        """
        K, d = params.n_experts, params.n_features
        chol = params.gate_extra.get("precision_cholesky")
        U = (np.broadcast_to(np.eye(d), (K, d, d)) if chol is None
             else self._quad(d).dense_chol(chol))
        dens = _kernels._gaussian_gate.gaussian_log_densities(
            X, params.gate_coef, as_kernel_array(U))
        dens += params.gate_intercept
        return _kernels._logspace.log_softmax_rows(dens)

    # ----------------------------------------------------- parametrisation
    def normalize(self, params):
        """Gate fields whose mixture of the inputs has the reference moments.

        See the class Notes: the common quadratic tilt of the logits is
        chosen so that :math:`\\sum_k \\pi_k \\mathcal{N}(c_k, \\Gamma_k)` has
        mean ``x_mean`` and covariance ``x_covariance`` (projected on the
        covariance structure, up to the weak barrier), and the log-weights
        have a log-sum-exp of 0. A gate already in this normalisation is
        returned unchanged; without reference moments in ``params``, the
        reference is its own mixture's.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        quad, rep, extra, frame = self._setting(params)
        z_rep = frame.to_z(rep)
        if _decrement(z_rep, frame.target, quad)[1] <= _MATCHED:
            log_prior = params.gate_intercept
            if abs(_logsumexp(log_prior)) > 1e-13:
                log_prior = rep.log_prior
            chol = params.gate_extra.get("precision_cholesky")
            if chol is None:
                chol = quad.stored_chol(rep.precision)
            return {"gate_coef": params.gate_coef.copy(),
                    "gate_intercept": log_prior.copy(),
                    "gate_extra": {**extra, "precision_cholesky": chol.copy()}}
        return self._normal_fields(*_logits(z_rep, quad), extra, frame, quad)

    def pack(self, params):
        """Identified differences of the logit coefficients (all rows but the last).

        Row ``k`` is ``[b_k - b_K, theta_k - theta_K, alpha_k - alpha_K]``
        for the logits ``alpha_k + b_k^T z - z^T P_k z / 2`` in the inputs
        ``z = A^-1 (x - x_mean)`` whitened by the reference moments
        (``A A^T = x_covariance``, restricted to the covariance structure;
        ``theta_k`` the ``q`` free entries of the precision ``P_k``, ``b_k =
        P_k c_k``): the layout of
        :func:`skmoe._kernels._softmax.softmax_gate_objective` on the
        features ``[z, -z^T E_j z / 2]``. The whitening makes the
        coordinates unit-free and well scaled.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters (empty for one expert).
        """
        quad, rep, _, frame = self._setting(params)
        W, alpha = _logits(frame.to_z(rep), quad)
        return free_rows(W - W[-1], alpha - alpha[-1])

    def unpack(self, theta, params):
        """Normalised gate fields of identified differences; inverse of :meth:`pack`.

        The last expert's logit coefficients are taken from ``params``, the
        others from ``theta``, and the gate is normalised with the reference
        moments of ``params`` (see :meth:`normalize`). ``unpack(pack(p), p)``
        is ``normalize(p)``.

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes and the reference moments.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` and ``gate_extra``.

        Raises
        ------
        ValueError
            If the gate cannot be normalised (non-finite parameters).
        """
        theta = np.asarray(theta, dtype=np.float64)
        K, d = params.n_experts, params.n_features
        if K == 1 or not np.any(theta - self.pack(params)):
            return self.normalize(params)
        quad, rep, extra, frame = self._setting(params)
        W, alpha = _logits(frame.to_z(rep), quad)
        full = theta.reshape(K - 1, d + quad.q + 1)
        W = np.vstack([W[-1] + full[:, :-1], W[-1:]])
        alpha = np.append(alpha[-1] + full[:, -1], alpha[-1])
        return self._normal_fields(W, alpha, extra, frame, quad)

    # ------------------------------------------------------------ gradient
    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        ``dL/dlogit_ik = G_ik - g_ik sum_j G_ij``, times the features ``[z,
        -z^T E_j z / 2, 1]`` of the whitened inputs, for the rows ``0 ..
        K-2`` (layout of :meth:`pack`).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights.

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        """
        quad, _, _, frame = self._setting(params)
        g = np.exp(self.log_weights(X, params))
        dz = G - g * G.sum(axis=1, keepdims=True)
        F = quad.features(frame.inputs(X))
        full = np.hstack([dz.T @ F, dz.sum(axis=0)[:, None]])
        return full[:-1].ravel()

    # ------------------------------------------------------------------ EM
    def _em_setting(self, X, R, params):
        """What one EM update works on: the whitened inputs and rows.

        Returns the structure, the reference moments (those of ``params``,
        else of ``X`` weighted by the row sums of ``R``), their frame, the
        whitened logit rows ``W0``, ``alpha0`` of the current gate, the
        whitened inputs ``Z``, their features ``F`` and ``reg_covar``
        whitened, for :func:`~skmoe._kernels._gaussian_gate.gaussian_gate_step`.
        """
        d = params.n_features
        quad = self._quad(d)
        extra = dict(params.gate_extra)
        if "x_mean" not in extra or "x_covariance" not in extra:
            mean, V = _weighted_mean_cov(X, R.sum(axis=1))
            extra.update(x_mean=mean, x_covariance=V + self.reg_covar * np.eye(d))
        frame = _Frame(extra, quad)
        W0, alpha0 = _logits(frame.to_z(self._rep(params)), quad)
        Z = as_kernel_array(frame.inputs(X))
        reg = as_kernel_array(self.reg_covar * frame.A_inv @ frame.A_inv.T)
        return quad, extra, frame, W0, alpha0, Z, quad.features(Z), reg

    def m_step(self, X, R, params, *, likelihood=None):
        """Gate update of (generalised) EM; see the class Notes.

        Without a precision in ``params`` (a start that gives only centres)
        every precision is the identity; without reference moments they are
        the moments of ``X`` weighted by the row sums of ``R``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).
        likelihood : GateLikelihood or None, default=None
            Not used (the update is monotone in the EM surrogate).

        Returns
        -------
        fields : dict
            New ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        K = params.n_experts
        quad, extra, frame, W0, alpha0, Z, F, reg = self._em_setting(X, R, params)
        if K == 1:
            return self._normal_fields(W0, alpha0, extra, frame, quad)
        # whitened logit rows relative to the current gate's last row (the
        # reference zero of the Newton step), added back before the normal
        # form, which then starts from the current one
        coef = as_kernel_array(W0 - W0[-1])
        intercept = as_kernel_array(alpha0 - alpha0[-1])
        R = as_kernel_array(R)
        kind = _KINDS[quad.kind]
        gate = _kernels._gaussian_gate
        if not use_threads(X.shape[0]):
            # the kernel of the compiled EM path
            gate.gaussian_gate_step(F, Z, R, reg, kind, bool(self.joint_proposal),
                                    coef, intercept, self._max_newton_iter,
                                    np.empty((0, K)))
        else:
            # the same steps with the objective's parallel twin (same bits)
            if self.joint_proposal:
                objective = softmax_objective(F.shape[0])
                value = objective(F, coef, intercept, R, False)[0]
                c1, i1 = np.empty_like(coef), np.empty_like(intercept)
                if gate.gaussian_joint_rows(Z, R, reg, kind, c1, i1):
                    c1, i1 = c1 - c1[-1], i1 - i1[-1]
                    proposed = objective(F, c1, i1, R, False)[0]
                    if proposed > value + 1e-12 * max(abs(value), 1.0):
                        coef, intercept = c1, i1
            coef, intercept = newton_softmax_ascent(F, R, coef, intercept,
                                                    self._max_newton_iter)
        return self._normal_fields(coef + W0[-1], intercept + alpha0[-1], extra,
                                   frame, quad)

    def compiled_program(self, X, params):
        """The gate's state and steps for the compiled EM path.

        Ability ``"compiled"``: the whitened logit rows of :meth:`m_step`,
        updated by its kernel; the normal form is computed once, for the
        fields at the end. See :meth:`Gating.compiled_program`.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            The starting parameters.

        Returns
        -------
        program : object
            The program.
        """
        return _GaussianProgram(self, X, params)
