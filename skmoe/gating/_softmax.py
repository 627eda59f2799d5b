"""Softmax gating: temperature (fixed, learned or annealed), activation, top-K."""

from numbers import Integral, Real

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.special import expit
from sklearn.base import clone

from .._kernels._logspace import (
    log_softmax_rows,
    soft_topk_log_weights,
    soft_topk_vjp,
)
from .._kernels._softmax import softmax_gate_objective, topk_log_softmax_rows
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval, StrOptions
from ._base import (
    SMOOTHING_START,
    _random_directions,
    _TopKGating,
    _weighted_moments,
    anneal_steps,
    maximize_monotone,
    next_smoothing,
    sparse_gate_m_step,
)


def _activate(Z, activation):
    """Activation values and derivatives (``Z`` is not modified)."""
    if activation == "tanh":
        A = np.tanh(Z)
        return A, 1.0 - A * A
    A = expit(Z)
    return A, A * (1.0 - A)


def _rescaled(coef, intercept, tau, extra=None):
    """Shift- and scale-normalised gate of the logits ``(X coef^T + b) / tau``.

    Returns fields whose gate rows have the last row zero and centred rows of
    unit Frobenius norm, with the scale moved into the temperature
    ``1 / ||centred rows / tau||``. The centred norm does not depend on the
    labelling of the experts. A gate without any contrast (all rows equal)
    keeps ``tau``. Other entries of ``extra`` are kept.
    """
    u = np.hstack([coef, intercept[:, None]]) / tau
    u = u - u[-1]
    norm = float(np.linalg.norm(u - u.mean(axis=0)))
    if norm > 0 and np.isfinite(norm):
        u = u / norm
        tau = 1.0 / norm
    d = coef.shape[1]
    return {
        "gate_coef": np.ascontiguousarray(u[:, :d]),
        "gate_intercept": np.ascontiguousarray(u[:, d]),
        "gate_extra": {**(extra or {}), "temperature": np.array([tau])},
    }


class SoftmaxGating(_TopKGating):
    """Softmax gate: temperature (fixed, learned or annealed), activation, top-K.

    With logits :math:`z_k(x) = \\beta_{1k}^\\top x + \\beta_{0k}`, an optional
    activation :math:`\\sigma` and a temperature :math:`\\tau > 0`,

    .. math::

        g_k(x) = \\frac{\\exp\\big(\\sigma(z_k(x)) / \\tau\\big)}
            {\\sum_{j \\in T(x)} \\exp\\big(\\sigma(z_j(x)) / \\tau\\big)}
            \\quad (k \\in T(x)), \\qquad g_k(x) = 0 \\quad (k \\notin T(x)),

    where :math:`T(x)` holds the ``top_k`` experts with the largest logits
    (all experts when ``top_k`` is None) and :math:`\\sigma` is the identity
    when ``activation`` is None.

    Parameters
    ----------
    temperature : float, default=1.0
        Temperature :math:`\\tau > 0`: the fixed value, the starting value of
        a learned temperature, or the final value of a schedule. Small values
        make the gate closer to a hard (arg-max) partition.
    top_k : int, default=None
        Keep only the ``top_k`` largest logits of every input (the top-K
        sparse softmax gate); the others get weight exactly zero (log-weight
        ``-inf``). None, or a value equal to the number of experts, is the
        dense softmax. Must not exceed ``n_experts``.
    learn_temperature : bool, default=False
        Estimate :math:`\\tau` with the other gate parameters (see Notes for
        what is identifiable).
    schedule : {"linear", "geometric"}, default=None
        Anneal :math:`\\tau` from ``initial_temperature`` to ``temperature``
        over ``anneal_iter`` EM iterations (the dense-to-sparse gate): after
        each M-step the temperature moves one step (an equal difference, or an
        equal ratio), then stays at ``temperature``. None keeps it fixed.
        Incompatible with ``learn_temperature=True``.
    initial_temperature : float, default=10.0
        Starting temperature of a ``schedule`` (ignored without one).
    anneal_iter : int, default=50
        Number of EM iterations of the annealing schedules: the temperature
        ``schedule``, and for a top-K gate the smoothed selection that starts
        every fit (see Notes). A run anneals over at most half of its
        ``max_iter``, so that it always ends on the final model. 0 disables
        the smoothing of a top-K gate (and makes a schedule start at
        ``temperature``).
    activation : {"tanh", "sigmoid"}, default=None
        Activation applied to the logits before the temperature (the
        activation dense-to-sparse gate). None is the plain softmax.

    Notes
    -----
    **Identifiability.** Without an activation the softmax is invariant to a
    common shift of the logits, so the last expert's gate row is fixed at
    zero (:math:`\\beta_{1K} = 0`, :math:`\\beta_{0K} = 0`). The gate then
    depends on :math:`(\\beta, \\tau)` only through :math:`\\beta / \\tau`, so
    the temperature and the scale of the slopes are *not* separately
    identifiable (the partial differential equation
    :math:`\\tau \\, \\partial g / \\partial \\tau = -\\beta \\cdot \\partial g
    / \\partial \\beta` of [3]_). A fixed temperature therefore only rescales
    the fitted gate (the optimum scales with :math:`\\tau`), and with
    ``learn_temperature=True`` skmoe fixes the scale instead: the centred gate
    rows (rows minus their mean over experts, a labelling-free quantity) have
    unit Frobenius norm and :math:`\\tau` carries the scale, i.e.
    :math:`\\tau = 1 / \\lVert \\mathrm{centred}(\\beta / \\tau) \\rVert`, an
    inverse sharpness of the gate. The model, the EM path and the likelihood
    are then those of the plain softmax; only the reported parametrisation
    differs. With an activation (``"tanh"`` or ``"sigmoid"``, bounded and not
    homogeneous) neither symmetry exists: all ``K`` gate rows are free, and a
    learned temperature is identifiable; it is stored as
    ``params.gate_extra["temperature"]``, of shape ``(1,)``, as is the current
    temperature of a schedule. Positively homogeneous activations such as
    ReLU are not offered: :math:`\\mathrm{relu}(c z) / (c \\tau) =
    \\mathrm{relu}(z) / \\tau` would bring the scale symmetry back.

    **Schedules.** A schedule changes the model between EM iterations, so the
    log-likelihood may decrease while it runs and EM does not stop before it
    ends. Without an activation the temperature is absorbed by the slopes at
    every M-step (see above), so a schedule changes the path of EM, not its
    fixed points; with an activation the logits are bounded by
    :math:`1 / \\tau` and a decreasing temperature really makes the gate
    sparser.

    **EM update.** The dense gate without activation is updated by one damped
    Newton step per EM iteration on the weighted multinomial log-likelihood
    :math:`\\sum_{ik} R_{ik} \\log g_k(x_i)` (exact Hessian from a Numba
    kernel, backtracking line search), a generalised EM step that never
    decreases the objective; a step whose predicted gain is below the
    round-off of the objective is taken without the line-search comparison,
    so integer weights and repeated rows give the same fit. With an
    activation the objective is not concave and the update is a
    limited-memory BFGS ascent whose every step increases it. A top-K gate is
    discontinuous in its parameters and its EM surrogate is ``-inf`` as soon
    as an input's selected set changes, so its update
    increases the observed log-likelihood directly (an ECME step, see
    :class:`GateLikelihood`): the dense gate's update is proposed and
    accepted only if it increases the likelihood, then refined while the
    selected sets stay fixed. EM stays monotone; for ``top_k=1`` the
    likelihood is piecewise constant in the gate, so only the proposals move
    it.

    **Annealed top-K.** The top-K likelihood jumps at every input whose
    selected set changes (by an :math:`O(1)` amount for ``top_k < K``), so it
    has many local maxima and the ECME update alone rarely moves a bad start.
    A fit therefore starts from a smoothed selection: the mask
    :math:`\\mathrm{sigmoid}((L_k - t)/s)`, with :math:`t` midway between the
    ``top_k``-th and the next largest logit :math:`L`, multiplies the softmax
    weights; every weight is positive and smooth in the parameters, and EM
    (with a limited-memory BFGS gate update) is ordinary. The smoothing
    :math:`s` decreases geometrically from 2 to 0.01 over ``anneal_iter``
    iterations (stored as ``params.gate_extra["top_k_smoothing"]``), then
    becomes exactly 0, the exact top-K gate, which ECME finishes. The
    log-likelihood may decrease while the smoothing changes, and EM does not
    stop before it has ended. Measured with
    ``benchmarks/bench_gating_families.py`` on data from a top-2-of-3 gate
    (n=5000, seeds 0-2, one start each), the annealed fit ended 3 to 75
    log-likelihood units below the truth's, ECME alone (``anneal_iter=0``)
    165 to 464 units below.

    To tune the hyper-parameters in a grid search, pass a ``SoftmaxGating``
    object as ``gating`` and search nested keys such as
    ``gating__temperature`` or ``gating__top_k``.

    References
    ----------
    .. [1] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation 6(2), 181-214.
    .. [2] Nguyen, H., Ho, N. and Rinaldo, A. (2025). Convergence rates for
       softmax gating mixture of experts. arXiv:2503.03213.
    .. [3] Nguyen, H., Akbarian, P. and Ho, N. (2024). Is temperature sample
       efficient for softmax Gaussian mixture of experts? ICML.
       arXiv:2401.13875.
    .. [4] Nguyen, H., Akbarian, P., Yan, F. and Ho, N. (2024). Statistical
       perspective of top-K sparse softmax gating mixture of experts. ICLR.
       arXiv:2309.13850.
    .. [5] Shazeer, N. et al. (2017). Outrageously large neural networks: the
       sparsely-gated mixture-of-experts layer. arXiv:1701.06538.
    .. [6] Liu, C. and Rubin, D. B. (1994). The ECME algorithm: a simple
       extension of EM and ECM with faster monotone convergence. Biometrika
       81(4), 633-648.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor, SoftmaxGating
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, truth = make_moe_regression(500, 2, 3, random_state=0)
    >>> est = MixtureOfExpertsRegressor(3, gating=SoftmaxGating(top_k=2),
    ...                                 random_state=0).fit(X, y)
    >>> gates = est.predict_gates(X[:2])
    >>> gates.sum(axis=1), (gates == 0).sum(axis=1)
    (array([1., 1.]), array([1, 1]))
    """

    _parameter_constraints: dict = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "top_k": [None, Interval(Integral, 1, None, closed="left")],
        "learn_temperature": ["boolean"],
        "schedule": [None, StrOptions({"linear", "geometric"})],
        "initial_temperature": [Interval(Real, 0, None, closed="neither")],
        "anneal_iter": [Interval(Integral, 0, None, closed="left")],
        "activation": [None, StrOptions({"tanh", "sigmoid"})],
    }

    #: Newton steps in one EM gate update. A generalised EM needs only an
    #: increase; measured on 8 fits (n=20000, d in {2, 10}), 1, 2 and 10
    #: steps gave the same EM iterations and log-likelihoods, and one step was
    #: the fastest (1.90 s against 3.14 s for 10)
    _max_newton_iter = 1
    #: maximum L-BFGS steps of one gate update with an activation
    _max_ascent_iter = 5

    def __init__(self, temperature=1.0, *, top_k=None, learn_temperature=False,
                 schedule=None, initial_temperature=10.0, anneal_iter=50,
                 activation=None):
        self.temperature = temperature
        self.top_k = top_k
        self.learn_temperature = learn_temperature
        self.schedule = schedule
        self.initial_temperature = initial_temperature
        self.anneal_iter = anneal_iter
        self.activation = activation

    # ------------------------------------------------------------ helpers
    def _stores_temperature(self):
        return bool(self.learn_temperature) or self.schedule is not None

    def _temperature(self, params):
        """The temperature of ``params`` (stored when learned or scheduled)."""
        if self._stores_temperature():
            extra = params.gate_extra.get("temperature")
            if extra is not None:
                return float(extra[0])
        return float(self.temperature)

    def _with_temperature(self, fields, tau):
        """Add the stored temperature to gate fields (normalised if learned)."""
        if self.activation is None and self.learn_temperature:
            return _rescaled(fields["gate_coef"], fields["gate_intercept"], tau)
        if self._stores_temperature():
            fields["gate_extra"] = {"temperature": np.array([float(tau)])}
        return fields

    def check_n_experts(self, n_experts, n_features):
        """Reject ``top_k > n_experts`` and a learned temperature with a schedule.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features.

        Raises
        ------
        ValueError
            If ``top_k`` exceeds ``n_experts``, or if ``learn_temperature=True``
            is combined with a ``schedule``.
        """
        if self.top_k is not None and self.top_k > n_experts:
            raise ValueError(
                f"top_k={self.top_k!r} must be at most n_experts={n_experts} "
                "(top_k=None is the dense gate)."
            )
        if self.learn_temperature and self.schedule is not None:
            raise ValueError(
                f"learn_temperature=True cannot be combined with "
                f"schedule={self.schedule!r}: a temperature is either learned or "
                "scheduled."
            )

    def em_needs_likelihood(self):
        """True for a top-K gate, whose update is an ECME step.

        Returns
        -------
        needs : bool
            Whether :meth:`m_step` needs the ``likelihood`` keyword.
        """
        return self.top_k is not None

    def n_free_params(self, n_features, n_experts):
        """Number of free gate parameters.

        ``(n_experts - 1) * (n_features + 1)`` without an activation (a learned
        temperature replaces the scale it normalises away); ``n_experts *
        (n_features + 1)``, plus one for a learned temperature, with an
        activation; 0 for a single expert.

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
        if self.activation is None:
            return (n_experts - 1) * (n_features + 1)
        if n_experts == 1:
            return 0
        return n_experts * (n_features + 1) + int(bool(self.learn_temperature))

    # --------------------------------------------------------------- init
    def init(self, X, sample_weight, n_experts, rng):
        """Random hyperplanes through the weighted mean of ``X``.

        Slopes are standard normal divided by the weighted standard deviation
        of each feature, so the starting partition does not depend on the
        units of ``X``, on the row order or on the number of rows. A schedule
        starts at ``initial_temperature``.

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
            ``gate_coef``, ``gate_intercept`` (and ``gate_extra`` when the
            temperature is learned or scheduled).
        """
        mean, std = _weighted_moments(X, sample_weight)
        coef = rng.standard_normal((n_experts, X.shape[1])) / std
        if self.activation is None:
            coef[-1] = 0.0
        intercept = -(coef @ mean)
        fields = {"gate_coef": coef, "gate_intercept": intercept}
        start = self.temperature
        if self.schedule is not None and self.anneal_iter > 0:
            start = self.initial_temperature
        fields = self._with_temperature(fields, start)
        if self._sparse(n_experts) and self.anneal_iter > 0:
            extra = dict(fields.get("gate_extra", {}))
            extra["top_k_smoothing"] = np.array([SMOOTHING_START])
            fields["gate_extra"] = extra
        return fields

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate (see :meth:`Gating.random_params`).

        Without an activation the draw is the default one (last row zero);
        with an activation all rows are drawn. The true temperature is
        ``temperature`` (the end of a schedule).

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Norm of the gate slopes.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields in the family's normalisation.
        """
        if self.activation is None:
            fields = super().random_params(n_features, n_experts, gate_scale, rng)
        else:
            coef = _random_directions(rng, n_experts, n_features) * gate_scale
            intercept = 0.5 * rng.standard_normal(n_experts)
            fields = {"gate_coef": coef, "gate_intercept": intercept}
        return self._with_temperature(fields, self.temperature)

    # ------------------------------------------------------------ weights
    def _logits(self, X, coef, intercept, tau):
        # logits beyond float64's range are +-inf: the kernels give the
        # gate's limit there (see log_weights)
        with np.errstate(over="ignore"):
            Z = X @ coef.T
            Z += intercept
            if self.activation is not None:
                Z = _activate(Z, self.activation)[0]
            if tau != 1.0:
                Z /= tau
        return Z

    def log_weights(self, X, params):
        """Log softmax of the (activated, tempered) logits, top-K if asked.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_samples, n_experts)
            Log gating weights; ``-inf`` where a gate is exactly zero. Logits
            beyond float64's range (``+-inf``) give the limit of the weights:
            the largest logits share the weight equally.
        """
        Z = self._logits(X, params.gate_coef, params.gate_intercept,
                         self._temperature(params))
        if self._sparse(Z.shape[1]):
            smoothing = self._smoothing(params)
            if smoothing > 0:
                return soft_topk_log_weights(Z, Z, int(self.top_k), smoothing)
            return topk_log_softmax_rows(Z, int(self.top_k))
        return log_softmax_rows(Z)

    def linear_logits(self, params):
        """The tempered logits' slopes and intercepts of a dense, plain gate.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        linear : tuple of (ndarray, ndarray) or None
            ``(gate_coef / tau, gate_intercept / tau)`` without activation
            and top-K selection; None otherwise.
        """
        if self.activation is not None or self._sparse(params.n_experts):
            return None
        tau = self._temperature(params)
        return (as_kernel_array(params.gate_coef / tau),
                as_kernel_array(params.gate_intercept / tau))

    # ----------------------------------------------------- normalisation
    def normalize(self, params):
        """Gate fields in the family's identifiability normalisation.

        Without an activation: last expert's row zero (and, for a learned
        temperature, centred rows of unit norm with the scale in the
        temperature). With an activation: unchanged (zeros for one expert).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised ``gate_coef`` and ``gate_intercept`` (and
            ``gate_extra`` for a learned temperature).
        """
        if self.activation is None:
            fields = super().normalize(params)  # last expert's row zero
            if self.learn_temperature:
                return _rescaled(fields["gate_coef"], fields["gate_intercept"],
                                 self._temperature(params), params.gate_extra)
            return fields
        if params.n_experts == 1:
            return {"gate_coef": np.zeros_like(params.gate_coef),
                    "gate_intercept": np.zeros_like(params.gate_intercept)}
        return {"gate_coef": params.gate_coef.copy(),
                "gate_intercept": params.gate_intercept.copy()}

    def pack(self, params):
        """Free gate parameters as one vector.

        Without an activation: rows ``0 .. K-2`` of the shift-normalised
        ``[gate_coef | gate_intercept]`` (divided by the temperature when it is
        learned: the scaled gate is the free parameter). With an activation:
        all ``K`` rows, then ``log(temperature)`` if it is learned.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """
        if self.activation is None:
            theta = super().pack(params)
            if self.learn_temperature:
                theta = theta / self._temperature(params.replace(
                    **self.normalize(params)))
            return theta
        if params.n_experts == 1:
            return np.zeros(0)
        full = np.hstack([params.gate_coef, params.gate_intercept[:, None]]).ravel()
        if self.learn_temperature:
            full = np.append(full, np.log(self._temperature(params)))
        return full

    def unpack(self, theta, params):
        """Gate fields from a free-parameter vector; inverse of :meth:`pack`.

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes (and any fixed values).

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept`` (and ``gate_extra`` when the
            temperature is learned).
        """
        K, d = params.n_experts, params.n_features
        theta = np.asarray(theta, dtype=np.float64)
        if self.activation is None:
            fields = super().unpack(theta, params)
            if self.learn_temperature:
                return _rescaled(fields["gate_coef"], fields["gate_intercept"], 1.0,
                                 params.gate_extra)
            return fields
        if K == 1:
            return self.normalize(params)
        full = theta[: K * (d + 1)].reshape(K, d + 1)
        fields = {"gate_coef": np.ascontiguousarray(full[:, :d]),
                  "gate_intercept": np.ascontiguousarray(full[:, d])}
        if self.learn_temperature:
            fields["gate_extra"] = {**params.gate_extra,
                                    "temperature": np.exp(theta[-1:])}
        return fields

    # ----------------------------------------------------------- gradient
    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        With logits ``L = act(X coef^T + intercept) / tau``, ``dL_ij = G_ij -
        g_ij sum_k G_ik``; the chain rule through the activation and the
        temperature gives the rest. Without an activation the last expert's
        row (the fixed reference) is not free.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters (in the family's normalisation).
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights; zero where the gate is zero.

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        """
        K = params.n_experts
        smoothing = self._smoothing(params)
        if self.activation is None:
            if smoothing > 0:
                Z = self._logits(X, params.gate_coef, params.gate_intercept,
                                 self._temperature(params))
                dz = self._smoothed_dlogits(Z, G, smoothing)
            else:
                g = np.exp(self.log_weights(X, params))
                dz = G - g * G.sum(axis=1, keepdims=True)
            if not self.learn_temperature:
                dz /= self._temperature(params)
            full = np.hstack([dz.T @ X, dz.sum(axis=0)[:, None]])
            return full[:-1].ravel()
        if K == 1:
            return np.zeros(0)
        tau = self._temperature(params)
        Z = X @ params.gate_coef.T + params.gate_intercept
        A, dA = _activate(Z, self.activation)
        L = np.ascontiguousarray(A / tau)
        if smoothing > 0:
            dL = self._smoothed_dlogits(L, G, smoothing)
        else:
            if self._sparse(K):
                log_w = topk_log_softmax_rows(L, int(self.top_k))
            else:
                log_w = log_softmax_rows(L)
            g = np.exp(log_w)
            dL = G - g * G.sum(axis=1, keepdims=True)
        dZ = dL * dA / tau
        full = np.hstack([dZ.T @ X, dZ.sum(axis=0)[:, None]]).ravel()
        if self.learn_temperature:
            full = np.append(full, -np.sum(dL * L))
        return full

    def _smoothed_dlogits(self, L, G, smoothing):
        """Gradient in the logits of the smoothed top-K log-weights."""
        L = as_kernel_array(L)
        d_scores, d_rank = soft_topk_vjp(as_kernel_array(G), L, L, int(self.top_k),
                                         smoothing)
        return d_scores + d_rank

    # ------------------------------------------------------------- update
    def m_step(self, X, R, params, *, likelihood=None):
        """Gate update of (generalised) EM; see the class Notes.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).
        likelihood : GateLikelihood, default=None
            The observed log-likelihood as a function of the gate; used by
            top-K gates (an ECME step).

        Returns
        -------
        fields : dict
            New ``gate_coef`` and ``gate_intercept`` (and ``gate_extra``).
        """
        K = params.n_experts
        sparse = self._sparse(K)
        if sparse and self._smoothing(params) == 0:
            dense = clone(self).set_params(top_k=None)
            return sparse_gate_m_step(self, dense, X, R, params, likelihood)
        if self.activation is None and not sparse:
            coef, intercept = newton_softmax_ascent(
                X, R, *self._scaled_gate(params), self._max_newton_iter
            )
            return self.newton_gate_fields(coef, intercept, params)
        if K == 1:
            return self.normalize(params)
        # activation or smoothed top-K selection: not concave, L-BFGS ascent
        mask = R > 0

        def fun(theta):
            p = params.replace(**self.unpack(theta, params))
            log_w = self.log_weights(X, p)
            return float(np.sum(R[mask] * log_w[mask])), self.grad(X, p, R)

        # gradient entries are sums of R_ik times O(1) factors: 1e-10 of the
        # total weight is far below any useful gradient and above round-off
        theta, _ = maximize_monotone(fun, self.pack(params),
                                     max_iter=self._max_ascent_iter,
                                     grad_tol=1e-10 * R.sum())
        return self.unpack(theta, params)

    def newton_gate(self, params):
        """The scaled gate on which :meth:`m_step` takes its Newton step.

        Without an activation or top-K selection, :meth:`m_step` improves
        the normalised gate divided by the temperature (the objective depends
        on ``theta / tau`` only) by damped Newton steps.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        gate : tuple of two ndarray or None
            ``(coef / tau, intercept / tau)`` of the normalised gate (last row
            zero); None with an activation or top-K selection, for a
            subclass that overrides :meth:`m_step`, or when :meth:`m_step`
            takes more than one Newton step.
        """
        if (self.activation is not None or self._sparse(params.n_experts)
                or type(self).m_step is not SoftmaxGating.m_step
                or self._max_newton_iter != 1):
            return None
        return self._scaled_gate(params)

    def _scaled_gate(self, params):
        """The normalised gate divided by the temperature (see m_step)."""
        norm = self.normalize(params)
        if self.learn_temperature:
            tau = float(norm["gate_extra"]["temperature"][0])
        else:
            tau = self._temperature(params)
        return (as_kernel_array(norm["gate_coef"] / tau),
                as_kernel_array(norm["gate_intercept"] / tau))

    def newton_gate_fields(self, coef, intercept, params):
        """Gate fields of an improved scaled gate (see :meth:`newton_gate`).

        Parameters
        ----------
        coef : ndarray of shape (n_experts, n_features)
            Improved scaled slopes, last row zero.
        intercept : ndarray of shape (n_experts,)
            Improved scaled intercepts, last entry zero.
        params : MoEParams
            Parameters before the update (their temperature).

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept`` times the temperature; with a
            learned temperature, the gate renormalised with its new
            temperature in ``gate_extra``.
        """
        if self.learn_temperature:
            return _rescaled(coef, intercept, 1.0, params.gate_extra)
        tau = self._temperature(params)
        return {"gate_coef": coef * tau, "gate_intercept": intercept * tau}

    def newton_terms(self, X, R, params):
        """Gradient and negative Hessian of the EM gate objective (online EM).

        The dense gate without an activation, learned temperature or schedule
        (see :meth:`online_reason`): with the fixed temperature ``tau`` the
        logits are ``theta / tau``, so the terms of the Numba kernel in the
        scaled gate are divided by ``tau`` and ``tau ** 2``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Model parameters.

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        neg_hess : ndarray of shape (n_free_params, n_free_params)
            Negative Hessian, positive semi-definite.
        """
        norm = self.normalize(params)
        tau = self._temperature(params)
        _, grad, neg_hess = softmax_gate_objective(
            X, as_kernel_array(norm["gate_coef"] / tau),
            as_kernel_array(norm["gate_intercept"] / tau), R, True,
        )
        return grad / tau, neg_hess / tau**2

    def online_reason(self, n_experts):
        """Why ``partial_fit`` cannot fit this configuration, or None.

        Online EM needs the concave dense objective: no ``activation``, no
        ``top_k`` below ``n_experts``, no ``learn_temperature`` and no
        ``schedule``.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            The reason, or None when ``partial_fit`` can fit it.
        """
        for name, value, off in (
            ("activation", self.activation, None),
            ("learn_temperature", self.learn_temperature, False),
            ("schedule", self.schedule, None),
        ):
            if value != off:
                return (f"{name}={value!r} is not supported by online EM (it "
                        f"needs the concave dense softmax; use {name}={off!r})")
        if self._sparse(n_experts):
            return (f"top_k={self.top_k} is not supported by online EM (its "
                    "objective is discontinuous in the gate; use top_k=None)")
        return None

    # ----------------------------------------------------------- schedule
    def em_only_reason(self, n_experts):
        """Why only EM can fit this configuration, or None.

        A temperature ``schedule`` and the annealed top-K selection
        (``top_k < n_experts`` with ``anneal_iter > 0``) run over EM
        iterations; the exact top-K gate (``anneal_iter=0``) is fine.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            The reason, or None when gradient solvers can fit it.
        """
        if self.schedule is not None:
            return (f"schedule={self.schedule!r} anneals the temperature over "
                    "EM iterations")
        if self.top_k is not None and self.top_k < n_experts and self.anneal_iter > 0:
            return (f"top_k={self.top_k} starts from a smoothed selection "
                    f"annealed over EM iterations (anneal_iter={self.anneal_iter}); "
                    "set anneal_iter=0 to fit the exact top-K gate directly")
        return None

    def at_iteration(self, params, iteration, max_iter):
        """One step of the annealing schedules (nothing without one).

        The schedules' state is in ``params.gate_extra`` (the current
        temperature, the current top-K smoothing), so a warm start continues
        them where they stopped; ``max_iter`` sets the step size (a run
        anneals over ``min(anneal_iter, max_iter // 2)`` iterations) and
        ``iteration`` is not needed.

        Parameters
        ----------
        params : MoEParams
            Parameters after the M-step.
        iteration : int
            EM iteration number of the current run, from 1.
        max_iter : int
            Maximum number of EM iterations of the run.

        Returns
        -------
        fields : dict
            The new ``gate_extra`` while the temperature moves, else empty.
        """
        n_steps = anneal_steps(self.anneal_iter, max_iter)
        extra = dict(params.gate_extra)
        changed = False
        smoothing = self._smoothing(params)
        if smoothing > 0:
            extra["top_k_smoothing"] = np.array([next_smoothing(smoothing, n_steps)])
            changed = True
        if self.schedule is not None:
            tau = self._temperature(params)
            new = self._next_temperature(tau, n_steps)
            if new != tau:
                extra["temperature"] = np.array([new])
                changed = True
        return {"gate_extra": extra} if changed else {}

    def _next_temperature(self, tau, n_steps):
        target = float(self.temperature)
        if tau == target:
            return tau
        start = float(self.initial_temperature)
        toward = 1.0 if target > tau else -1.0
        if self.schedule == "geometric":
            step = abs(np.log(start / target)) / n_steps
            new = tau * np.exp(toward * step)
        else:
            step = abs(start - target) / n_steps
            new = tau + toward * step
        # snap to the target at the end (and when the start equals it)
        if step == 0 or (new - target) * (tau - target) <= 0 or (
            abs(new - target) <= 1e-9 * target
        ):
            new = target
        return float(new)



def _unpack(theta, K, d):
    full = np.zeros((K, d + 1))
    full[:-1] = theta.reshape(K - 1, d + 1)
    return np.ascontiguousarray(full[:, :d]), np.ascontiguousarray(full[:, d])


def _damped_cholesky(neg_hess, eye):
    """Cholesky factor of ``neg_hess + lambda I`` with the smallest working ridge.

    ``lambda`` starts at ``1e-12`` times the mean diagonal and grows tenfold
    until the factorisation succeeds (it does once the ridge dominates).
    """
    lam = 1e-12 * max(np.trace(neg_hess) / neg_hess.shape[0], 1e-300)
    for _ in range(400):
        try:
            return cho_factor(neg_hess + lam * eye)
        except LinAlgError:
            lam *= 10.0
    return None  # pragma: no cover


class NewtonProposal:
    """One damped Newton step of :func:`newton_softmax_ascent`, to be tested.

    Built from the objective's value, gradient and negative Hessian at the
    gate ``(coef, intercept)``; ``status`` says what the step needs:

    - ``"stay"``: no ascent direction (or no factorisation), the gate is kept;
    - ``"take"``: the predicted gain is below the objective's round-off; the
      step is taken if it keeps the objective within that round-off
      (:meth:`accepts`), else the gate is kept (see
      :func:`newton_softmax_ascent`);
    - ``"test"``: the full step must pass the Armijo test
      :meth:`accepts`, else :meth:`backtrack` halves it.

    ``coef`` and ``intercept`` are the full step's gate (the start, also in
    ``start``, for ``"stay"``). The fused EM solver tests the full step in
    its next E-step pass, where the trial gate's logits are computed anyway.

    Parameters
    ----------
    coef : ndarray of shape (n_experts, n_features)
        Starting slopes (last row zero).
    intercept : ndarray of shape (n_experts,)
        Starting intercepts (last entry zero).
    terms : tuple
        ``(value, grad, neg_hess)`` of the objective at the start.
    noise : float
        Round-off bound of the objective.
    """

    def __init__(self, coef, intercept, terms, noise):
        K, d = coef.shape
        self.shape = (K, d)
        self.value, grad, neg_hess = terms
        self.noise = noise
        self.theta = np.hstack([coef, intercept[:, None]])[:-1].ravel()
        self.status = "stay"
        self.start = (coef, intercept)
        self.coef, self.intercept = coef, intercept
        if K == 1:  # no free gate parameter
            return
        factor = _damped_cholesky(neg_hess, np.eye(neg_hess.shape[0]))
        if factor is None:  # pragma: no cover - damping always succeeds
            return
        self.step = cho_solve(factor, grad)
        self.slope = float(grad @ self.step)
        if not self.slope > 0:
            return
        self.status = "take" if 0.5 * self.slope <= noise else "test"
        self.coef, self.intercept = self.at(1.0)

    def at(self, t):
        """The gate at step length ``t``."""
        return _unpack(self.theta + t * self.step, *self.shape)

    def accepts(self, value, t=1.0):
        """Test of the objective ``value`` at step length ``t``.

        The Armijo condition for a ``"test"`` step. A ``"take"`` step only
        has to keep the objective within its round-off ``noise``: its
        predicted gain is below it, but the quadratic model behind the
        prediction holds only near the start, and a nearly singular Hessian
        (a saturated gate) makes the step long.
        """
        if self.status == "take":
            return value >= self.value - self.noise
        return value >= self.value + 1e-4 * t * self.slope

    def backtrack(self, objective):
        """Halve the rejected full step until :meth:`accepts`, at most 39 times.

        A rejected ``"take"`` step is not halved (its gain is below round-off
        at any length): None.

        Returns
        -------
        gate : tuple of (ndarray, ndarray) or None
            The accepted gate, or None when no halving is accepted.
        """
        if self.status == "take":
            return None
        t = 1.0
        for _ in range(39):
            t *= 0.5
            coef, intercept = self.at(t)
            if self.accepts(objective(coef, intercept), t):
                return coef, intercept
        return None


def objective_noise(value, n_samples):
    """Round-off bound of ``value``, a sum of ``n_samples`` non-positive terms.

    Each term summed with relative error eps, of total magnitude ``|value|``.
    """
    return n_samples * np.finfo(np.float64).eps * (abs(value) + 1.0)


def newton_softmax_ascent(X, R, coef, intercept, max_iter):
    """Damped Newton ascent of ``sum_ik R_ik log softmax_k(X coef^T + intercept)``.

    The last row of ``coef``/``intercept`` must be zero and stays zero. Each
    step solves ``(-H + lambda I) delta = g`` with the exact Hessian
    (``lambda`` is a tiny ridge that grows only until the Cholesky
    factorisation succeeds) and backtracks until the Armijo condition holds
    (at most 40 evaluations), so every evaluated step increases the
    objective (see :class:`NewtonProposal`).

    Near the optimum the predicted gain of a Newton step, ``g^T delta / 2``,
    falls below the round-off of the objective itself (a sum over the
    samples); comparing two objective values with the Armijo test is then a
    coin toss, and two runs that differ only by round-off (for example
    integer weights and repeated rows) could take different branches. Such a
    step ends the loop and is taken unless it lowers the objective by more
    than that round-off, in which case the gate is kept. Near the optimum the
    quadratic model is accurate and the test passes by a margin far above
    round-off; it fails, by far, only when the step is long: the Hessian of
    a saturated gate (a softmax that separates its rows perfectly, objective
    near 0) is nearly singular, and a step of predicted gain 1e-23 moved a
    slope by 1.2e5 and the objective from -1e-23 to -5.9e6 (issue 15, which
    made EM decrease with a hierarchical gate). Every decision of the loop is
    thus made on differences far above round-off, and the result is a
    continuous function of the data.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    R : ndarray of shape (n_samples, n_experts)
        Weighted responsibilities ``sample_weight[i] * r_ik``.
    coef : ndarray of shape (n_experts, n_features)
        Starting gate slopes (last row zero).
    intercept : ndarray of shape (n_experts,)
        Starting gate intercepts (last entry zero).
    max_iter : int
        Maximum number of Newton steps.

    Returns
    -------
    coef, intercept : ndarray
        The improved gate.
    """
    K, d = coef.shape
    if K == 1:
        return coef, intercept

    def objective(c, i):
        return softmax_gate_objective(X, c, i, R, False)[0]

    terms = softmax_gate_objective(X, coef, intercept, R, True)
    noise = objective_noise(terms[0], X.shape[0])
    for it in range(max_iter):
        step = NewtonProposal(coef, intercept, terms, noise)
        if step.status == "stay":
            break
        if step.status == "take":
            if step.accepts(objective(step.coef, step.intercept)):
                return step.coef, step.intercept
            break
        if step.accepts(objective(step.coef, step.intercept)):
            coef, intercept = step.coef, step.intercept
        else:
            halved = step.backtrack(objective)
            if halved is None:
                break
            coef, intercept = halved
        if it + 1 < max_iter:
            terms = softmax_gate_objective(X, coef, intercept, R, True)
    return coef, intercept
