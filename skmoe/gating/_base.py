"""The Gating interface shared by every gating family."""

from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator


class Gating(BaseEstimator, metaclass=ABCMeta):
    """Base class of gating families (the map from ``x`` to expert weights).

    A gating object is a *parameter object*: ``__init__`` stores its
    hyper-parameters and nothing else, it has no ``fit``, and it holds no
    fitted numbers. The numbers live in :class:`~skmoe.MoEParams`
    (``gate_coef``, ``gate_intercept``, ``gate_extra``); the methods below
    compute with them. This is what lets ``GridSearchCV`` clone gating objects
    and search nested keys such as ``gating__temperature``.

    A new family subclasses :class:`Gating`, declares
    ``_parameter_constraints`` and implements the abstract methods; see the
    "Extending skmoe" page of the documentation.

    Notes
    -----
    Methods receive validated, C-contiguous float64 arrays. ``R`` denotes
    *weighted responsibilities*: ``R[i, k] = sample_weight[i] * r_ik`` with
    ``r_ik`` the posterior probability that routed expert ``k`` generated
    sample ``i``. With shared experts (``MoEParams.n_shared_experts > 0``) the
    rows of ``R`` sum to less than the sample weight: the rest of the mass
    belongs to the shared experts, whose weights do not depend on the gate.

    Three optional hooks let a family take part in EM beyond the plain gate
    update; their defaults do nothing, and the EM solver calls them for every
    family (it never tests which family it has):

    - :meth:`em_needs_likelihood`: if True, :meth:`m_step` receives the
      observed log-likelihood as a function of the gate (a
      :class:`GateLikelihood`, keyword ``likelihood``) and may increase it
      directly instead of the EM surrogate (an ECME step). Sparse (top-K)
      gates need this, because the EM surrogate is ``-inf`` as soon as an
      input's set of selected experts changes.
    - :meth:`at_iteration`: a scheduled change of the gate between EM
      iterations (a temperature annealed from dense to sparse).
    - :meth:`random_params`: a random true gate for
      :func:`~skmoe.datasets.make_moe_regression`.
    """

    _parameter_constraints: dict = {}

    def check_n_experts(self, n_experts, n_features):
        """Check hyper-parameters against the model size, before any kernel runs.

        Also the place for checks between hyper-parameters of the family
        (after ``_validate_params`` has checked each one alone).

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features.

        Raises
        ------
        ValueError
            If the combination is impossible (for example ``top_k > n_experts``).
        """

    @abstractmethod
    def n_free_params(self, n_features, n_experts):
        """Number of free gate parameters after identifiability constraints.

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

    @abstractmethod
    def init(self, X, sample_weight, n_experts, rng):
        """Random starting gate that depends on the data only through moments.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        sample_weight : ndarray of shape (n_samples,)
            Sample weights.
        n_experts : int
            Number of experts.
        rng : numpy.random.RandomState
            The estimator's random generator.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` and, if the family needs them,
            ``gate_extra`` values for :class:`~skmoe.MoEParams`.
        """

    @abstractmethod
    def log_weights(self, X, params):
        """Log gating weights.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_samples, n_experts)
            ``log g_k(x_i)``; ``-inf`` where the gate is exactly zero.
        """

    def linear_logits(self, params):
        """The gate as a plain linear softmax, if it is one.

        Capability hook for fused kernels: when ``log_weights(X, params)``
        equals ``log_softmax(X @ coef.T + intercept)`` for all ``X`` (up to
        round-off), return those arrays; otherwise None (the default), and
        solvers use :meth:`log_weights`.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        linear : tuple of two ndarray or None
            ``(coef, intercept)`` of the logits, C-contiguous float64, of shapes
            (n_experts, n_features) and (n_experts,).
        """
        return None

    def newton_gate(self, params):
        """The gate on which :meth:`m_step` takes damped Newton steps, if any.

        Capability hook for the fused EM solver: when :meth:`m_step` is the
        damped Newton ascent of :class:`~skmoe.SoftmaxGating` (a single step,
        exact Hessian, Armijo backtracking) on
        ``sum_ik R_ik log_softmax(X @ coef.T + intercept)`` from some
        ``(coef, intercept)`` (last row zero), followed by
        :meth:`newton_gate_fields`, return that starting point; otherwise
        None (the default), and the solver calls :meth:`m_step`.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        gate : tuple of two ndarray or None
            ``(coef, intercept)``, C-contiguous float64, of shapes
            (n_experts, n_features) and (n_experts,), last row zero.
        """
        return None

    def newton_gate_fields(self, coef, intercept, params):
        """Gate fields of the Newton-improved gate of :meth:`newton_gate`.

        Only called for families whose :meth:`newton_gate` is not None; the
        default returns ``coef`` and ``intercept`` as they are.

        Parameters
        ----------
        coef : ndarray of shape (n_experts, n_features)
            Improved slopes, in the parametrisation of :meth:`newton_gate`.
        intercept : ndarray of shape (n_experts,)
            Improved intercepts.
        params : MoEParams
            Parameters before the update.

        Returns
        -------
        fields : dict
            New ``gate_coef``, ``gate_intercept`` (and ``gate_extra``), as
            :meth:`m_step` returns them.
        """
        return {"gate_coef": coef, "gate_intercept": intercept}

    @abstractmethod
    def m_step(self, X, R, params):
        """Gate update of (generalised) EM.

        Increases, and never decreases, ``sum_ik R_ik log g_k(x_i)`` starting
        from the gate in ``params``. A family whose :meth:`em_needs_likelihood`
        is True also accepts a keyword ``likelihood`` (a
        :class:`GateLikelihood`) and may increase that instead.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).

        Returns
        -------
        fields : dict
            New ``gate_coef``, ``gate_intercept`` (and ``gate_extra``).
        """

    def em_needs_likelihood(self):
        """Whether :meth:`m_step` needs the observed likelihood of the gate.

        When True, the EM solver passes ``likelihood=GateLikelihood(...)`` to
        :meth:`m_step`, built with the experts and variances already updated
        in the same iteration (an ECME step, monotone in the observed
        log-likelihood). The default is False: :meth:`m_step` increases the
        EM surrogate ``sum_ik R_ik log g_k(x_i)``.

        Returns
        -------
        needs : bool
            Whether to pass ``likelihood``.
        """
        return False

    def em_only_reason(self, n_experts):
        """Why only EM can fit this configuration, or None.

        Gradient solvers optimise a fixed model and ignore :meth:`at_iteration`;
        a configuration whose fit depends on a schedule run over EM iterations
        returns a short reason here, and the gradient solvers refuse it with a
        ``ValueError`` before fitting. The default is None.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            A phrase that completes "cannot be fitted by a gradient solver
            because ...", or None.
        """
        return None

    def nonsmooth_reason(self, n_experts):
        """Why the log-likelihood is not smooth in the gate, or None.

        Standard errors from the observed information
        (:func:`skmoe.inference.standard_errors`) need a log-likelihood that
        is twice continuously differentiable in the free gate parameters
        (:meth:`pack`); they are refused with a ``ValueError`` quoting this
        reason otherwise. The default is None (a smooth gate).

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            A phrase that completes "the log-likelihood is not twice
            differentiable because ...", or None.
        """
        return None

    def at_iteration(self, params, iteration, max_iter):
        """Scheduled change of the gate after an EM iteration's M-step.

        The EM solver calls it after every M-step (before the E-step that
        evaluates the new parameters). A non-empty result changes the model
        (the log-likelihood may then decrease once), and EM does not declare
        convergence on that iteration. The default schedules nothing.

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
            Gate fields to replace in ``params``; empty when nothing changes.
        """
        return {}

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate, for data generators.

        The default (for gates invariant to a common shift of the logits)
        draws slopes as random directions of norm ``gate_scale`` and
        intercepts ``0.5 * N(0, 1)``, then sets the last expert's row to zero.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Norm of the gate slopes: larger is a sharper partition of x.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`, in the family's
            identifiability normalisation.
        """
        coef = _random_directions(rng, n_experts, n_features) * gate_scale
        coef[-1] = 0.0
        intercept = 0.5 * rng.standard_normal(n_experts)
        intercept[-1] = 0.0
        return {"gate_coef": coef, "gate_intercept": intercept}

    def pack(self, params):
        """Free gate parameters as one vector (for gradient solvers).

        The default, for shift-invariant gates normalised by :meth:`normalize`,
        holds the rows ``0 .. K-2`` of ``[gate_coef | gate_intercept]``
        flattened row by row (the last row is the fixed reference).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """
        fields = self.normalize(params)
        full = np.hstack([fields["gate_coef"], fields["gate_intercept"][:, None]])
        return full[:-1].ravel().copy()

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
            ``gate_coef`` and ``gate_intercept`` (and ``gate_extra``).
        """
        K, d = params.n_experts, params.n_features
        full = np.zeros((K, d + 1))
        full[:-1] = np.asarray(theta, dtype=np.float64).reshape(K - 1, d + 1)
        return {
            "gate_coef": np.ascontiguousarray(full[:, :d]),
            "gate_intercept": np.ascontiguousarray(full[:, d]),
        }

    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        The vector-Jacobian product of :meth:`log_weights`, used by gradient
        solvers: with ``G = dL / dlog_weights`` it returns ``dL / dtheta`` for
        ``theta = pack(params)``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters (in the family's normalisation).
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights; must be 0 wherever the gate is
            exactly 0 (``log_weights`` is ``-inf``).

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.

        Raises
        ------
        NotImplementedError
            If the family provides no gradient (gradient solvers then refuse
            it with a clear error before fitting).
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement grad; it can be fitted "
            "by EM only."
        )

    def newton_terms(self, X, R, params):
        """Gradient and negative Hessian of the EM gate objective (online EM).

        Of ``sum_ik R_ik log g_k(x_i)`` at ``params``, in the layout of
        :meth:`pack`. ``partial_fit`` keeps running averages of the local
        quadratic model these define (see
        :func:`skmoe.solvers._online.online_em_step`); a family that does not
        implement this method cannot be fitted by ``partial_fit``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Model parameters (in the family's normalisation).

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        neg_hess : ndarray of shape (n_free_params, n_free_params)
            Negative Hessian (positive semi-definite for a concave objective).

        Raises
        ------
        NotImplementedError
            If the family provides no Hessian.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement newton_terms; it cannot "
            "be fitted by partial_fit."
        )

    def online_reason(self, n_experts):
        """Why ``partial_fit`` cannot fit this configuration, or None.

        The default: None when the class implements :meth:`newton_terms`, a
        reason otherwise. A family that implements it for some
        configurations only overrides this method too.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            A phrase that completes "cannot be fitted by partial_fit
            because ...", or None.
        """
        if type(self).newton_terms is Gating.newton_terms:
            return (f"{type(self).__name__} does not implement newton_terms, the "
                    "gate statistics of online EM")
        return None

    def normalize(self, params):
        """Gate fields in the family's identifiability normalisation.

        The default, for gates invariant to a common shift of the logits,
        subtracts the last expert's row so that it becomes zero.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised ``gate_coef`` and ``gate_intercept``.
        """
        return {
            "gate_coef": params.gate_coef - params.gate_coef[-1],
            "gate_intercept": params.gate_intercept - params.gate_intercept[-1],
        }

    def permute(self, params, order):
        """Gate fields after relabelling the experts.

        Parameters
        ----------
        params : MoEParams
            Model parameters.
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.

        Returns
        -------
        fields : dict
            Gate fields of the relabelled model, normalised.
        """
        moved = params.replace(
            gate_coef=params.gate_coef[order],
            gate_intercept=params.gate_intercept[order],
        )
        return self.normalize(moved)

    def canonical_order(self, mass):
        """Order of the experts in a fitted model, from their gating mass.

        ``MixtureOfExpertsRegressor.fit`` relabels the experts of every fit
        with this order (through :meth:`permute`), so that two fits of the
        same data can be compared without matching. The default sorts by
        decreasing mass, ties by index; a family whose :meth:`permute`
        accepts only some permutations overrides it.

        Parameters
        ----------
        mass : ndarray of shape (n_experts,)
            Average gating weight of every expert on the training data.

        Returns
        -------
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.
        """
        return np.argsort(-np.asarray(mass), kind="stable")

    def weighted_objective(self, X, R, params):
        """``sum_ik R_ik log g_k(x_i)``, the gate part of the EM objective.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities ``sample_weight[i] * r_ik``.
        params : MoEParams
            Model parameters.

        Returns
        -------
        value : float
            The objective value.
        """
        logw = self.log_weights(X, params)
        mask = R > 0
        return float(np.sum(R[mask] * logw[mask]))


def _weighted_moments(X, sample_weight):
    """Weighted column means and standard deviations (floored above 0)."""
    w = sample_weight / sample_weight.sum()
    mean = w @ X
    std = np.sqrt(np.maximum(w @ (X - mean) ** 2, 0.0))
    std = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
    return mean, std


def _random_directions(rng, n_rows, n_features):
    """Rows drawn uniformly on the unit sphere (standard normal, normalised)."""
    directions = rng.standard_normal((n_rows, n_features))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions


class GateLikelihood:
    """The observed log-likelihood as a function of the routed gate only.

    With the experts, variances and shared part held fixed, the weighted
    log-likelihood of the data is

    .. math::

        L(g) = \\sum_i w_i \\log\\Big(e^{a_i} + \\sum_k g_k(x_i) e^{A_{ik}}\\Big),

    with :math:`A_{ik} = \\log((1 - \\lambda) \\mathcal{N}(y_i \\mid h(x_i;
    \\eta_k), \\nu_k))` (no :math:`1 - \\lambda` without shared experts) and
    :math:`a_i` the log-density of the shared part (``-inf`` without shared
    experts). A gate update that increases :math:`L` increases the
    log-likelihood itself (an ECME step). The EM solver builds it for
    families whose :meth:`Gating.em_needs_likelihood` is True.

    Parameters
    ----------
    sample_weight : ndarray of shape (n_samples,)
        Sample weights :math:`w_i`.
    log_routed : ndarray of shape (n_samples, n_experts)
        :math:`A_{ik}`.
    log_shared : ndarray of shape (n_samples,) or None, default=None
        :math:`a_i`; None without shared experts.
    """

    def __init__(self, sample_weight, log_routed, log_shared=None):
        self.sample_weight = sample_weight
        self.log_routed = log_routed
        self.log_shared = log_shared

    def _joint(self, log_gates):
        """Joint log-densities and their row-wise log-sum-exp."""
        Z = log_gates + self.log_routed
        if self.log_shared is not None:
            Z = np.column_stack([Z, self.log_shared])
        # each row has a finite entry: a gate keeps at least one expert
        m = Z.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
        return Z, lse

    def value(self, log_gates):
        """Weighted log-likelihood for the given log gate weights.

        Parameters
        ----------
        log_gates : ndarray of shape (n_samples, n_experts)
            Log gating weights (``-inf`` allowed where a gate is zero).

        Returns
        -------
        value : float
            :math:`L(g)`.
        """
        return float(self.sample_weight @ self._joint(log_gates)[1][:, 0])

    def weights(self, log_gates):
        """Derivative of :math:`L` with respect to the log gate weights.

        Parameters
        ----------
        log_gates : ndarray of shape (n_samples, n_experts)
            Log gating weights (``-inf`` allowed where a gate is zero).

        Returns
        -------
        G : ndarray of shape (n_samples, n_experts)
            ``w_i`` times the posterior probability of routed expert ``k``
            under this gate: the weighted responsibilities it implies, exactly
            zero where the gate is zero.
        """
        Z, lse = self._joint(log_gates)
        K = log_gates.shape[1]
        return np.ascontiguousarray(
            self.sample_weight[:, None] * np.exp(Z[:, :K] - lse)
        )


def maximize_monotone(fun, theta, *, max_iter=20, memory=6, step_tol=1e-9,
                      grad_tol=0.0):
    """Limited-memory BFGS ascent in which every accepted step increases ``fun``.

    Each iteration takes the L-BFGS direction (the gradient when that is not
    an ascent direction) and backtracks from the unit step (from a step of
    length one along the gradient in the first iteration) until the Armijo
    condition holds; a step that cannot be accepted ends the loop. The value
    therefore never decreases, which is what a generalised EM needs, and the
    iteration converges to a stationary point of a smooth ``fun``.
    ``fun`` may return ``-inf`` (a step there is simply rejected).

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (value, grad)``.
    theta : ndarray of shape (n_params,)
        Starting point.
    max_iter : int, default=20
        Maximum number of accepted steps.
    memory : int, default=6
        Number of curvature pairs kept.
    step_tol : float, default=1e-9
        Stop when a step's largest entry is below ``step_tol * (1 +
        max|theta|)``.
    grad_tol : float, default=0.0
        Stop when the largest entry of the gradient is at most ``grad_tol``
        (the gradient is accurate to round-off long after the value's changes
        are lost in it, so this is the sharper test of convergence).

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The improved point.
    value : float
        ``fun(theta)[0]``, never below the starting value.
    """
    theta = np.asarray(theta, dtype=np.float64).copy()
    value, grad = fun(theta)
    if theta.size == 0 or not np.isfinite(value):
        return theta, value
    pairs = []
    for _ in range(max_iter):
        if np.max(np.abs(grad)) <= grad_tol:
            break
        # two-loop recursion on -fun: direction = H grad
        q = grad.copy()
        alphas = []
        for s, y in reversed(pairs):
            a = (s @ q) / (y @ s)
            alphas.append(a)
            q = q - a * y
        if pairs:
            s, y = pairs[-1]
            q = q * ((s @ y) / (y @ y))
        else:
            q = q / max(np.max(np.abs(q)), 1.0)
        for (s, y), a in zip(pairs, reversed(alphas), strict=True):
            b = (y @ q) / (y @ s)
            q = q + (a - b) * s
        direction = q
        slope = float(grad @ direction)
        if not slope > 0:
            direction = grad / max(np.max(np.abs(grad)), 1.0)
            slope = float(grad @ direction)
            pairs = []
        if not slope > 0:
            break
        t = 1.0
        for _ in range(40):
            new = theta + t * direction
            v_new, g_new = fun(new)
            if v_new >= value + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        step = new - theta
        y = -(g_new - grad)  # gradient difference of -fun
        if y @ step > 1e-12 * np.sqrt((y @ y) * (step @ step)):
            pairs.append((step, y))
            if len(pairs) > memory:
                pairs.pop(0)
        theta, value, grad = new, v_new, g_new
        if np.max(np.abs(step)) <= step_tol * (1.0 + np.max(np.abs(theta))):
            break
    return theta, value


def sparse_gate_m_step(gating, dense, X, R, params, likelihood=None, *,
                       max_iter=5):
    """Gate update of a top-K gate: dense proposal, then monotone refinement.

    A top-K gate is discontinuous in its parameters (the selected set changes
    with them) and, for ``top_k = 1``, piecewise constant in the likelihood.
    The update therefore

    1. proposes the update of the *dense* gate of the same family
       (``dense``, the same object with ``top_k=None``), fitted to the
       posterior responsibilities that the dense gate would give (or to ``R``
       without a likelihood), which can move experts into and out of an
       input's selected set; the proposal, or the largest of the steps
       ``1/2, 1/4, ...`` towards it, is accepted only if it increases the
       objective;
    2. refines the result by :func:`maximize_monotone` on the objective,
       which is smooth while the selected sets stay fixed (it does nothing
       for ``top_k = 1``, whose objective is locally constant).

    The objective is the observed log-likelihood ``likelihood`` when given
    (an ECME step), else ``gating.weighted_objective``, which is ``-inf`` when
    ``R`` has mass on an expert the gate excludes; from ``-inf`` the proposal
    is accepted as it is. The objective therefore never decreases.

    Parameters
    ----------
    gating : Gating
        The sparse gating object (its ``pack``, ``unpack``, ``log_weights``
        and ``grad`` are used).
    dense : Gating
        The same family without sparsity, whose ``m_step`` gives the proposal.
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    R : ndarray of shape (n_samples, n_experts)
        Weighted responsibilities.
    params : MoEParams
        Current parameters (the starting point).
    likelihood : GateLikelihood or None, default=None
        The observed likelihood as a function of the gate.
    max_iter : int, default=5
        Maximum number of refinement steps.

    Returns
    -------
    fields : dict
        New gate fields.
    """
    def objective(p, log_w):
        if likelihood is not None:
            return likelihood.value(log_w)
        mask = R > 0
        return float(np.sum(R[mask] * log_w[mask]))

    def evaluate(theta):
        p = params.replace(**gating.unpack(theta, params))
        log_w = gating.log_weights(X, p)
        return p, log_w, objective(p, log_w)

    theta0 = gating.pack(params)
    _, log_w0, v0 = evaluate(theta0)
    if likelihood is not None:
        T = likelihood.weights(dense.log_weights(X, params))
    else:
        T = R
    proposal = params.replace(**dense.m_step(X, T, params))
    theta1 = gating.pack(proposal)
    theta, value = theta0, v0
    if not np.isfinite(v0):
        theta, value = theta1, evaluate(theta1)[2]
    else:
        # a relative margin far above round-off keeps a converged gate fixed
        margin = 1e-12 * max(abs(v0), 1.0)
        t = 1.0
        for _ in range(6):
            cand = theta0 + t * (theta1 - theta0)
            v = evaluate(cand)[2]
            if v > v0 + margin:
                theta, value = cand, v
                break
            t *= 0.5
    if np.isfinite(value):

        def fun(th):
            p, log_w, v = evaluate(th)
            if not np.isfinite(v):
                return v, np.zeros_like(th)
            G = likelihood.weights(log_w) if likelihood is not None else R
            return v, gating.grad(X, p, G)

        scale = likelihood.sample_weight.sum() if likelihood is not None else R.sum()
        theta, _ = maximize_monotone(fun, theta, max_iter=max_iter,
                                     grad_tol=1e-10 * scale)
    return gating.unpack(theta, params)


class _TopKGating(Gating):
    """A gate with an optional top-K selection (``self.top_k``).

    Holds what the softmax and normalized-sigmoid gates share about their
    ``top_k``: whether it selects, the current smoothing of an annealed
    selection, and why it makes the likelihood non-smooth.
    """

    def _sparse(self, n_experts):
        return self.top_k is not None and self.top_k < n_experts

    def _smoothing(self, params):
        """Current smoothing of an annealed top-K selection (0: exact)."""
        if not self._sparse(params.n_experts):
            return 0.0
        return float(params.gate_extra.get("top_k_smoothing", np.zeros(1))[0])

    def nonsmooth_reason(self, n_experts):
        """Why the log-likelihood is not smooth in the gate, or None.

        A top-K gate (``top_k < n_experts``) selects its experts by the order
        of the logits: the likelihood jumps where the selected set changes.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.

        Returns
        -------
        reason : str or None
            The reason, or None for the dense gate.
        """
        if self._sparse(n_experts):
            return (f"top_k={self.top_k} < n_experts={n_experts} selects "
                    "experts by the order of the logits (the likelihood jumps "
                    "where the selected set changes)")
        return None


#: smoothing of an annealed top-K selection at the start of a fit (logit units)
SMOOTHING_START = 2.0
#: smoothing below which the annealed selection becomes the exact top-K
SMOOTHING_END = 1e-2


def anneal_steps(anneal_iter, max_iter):
    """Number of EM iterations a schedule takes: ``anneal_iter``, at most half
    of ``max_iter`` (at least 1), so that a run ends on the final model."""
    return max(1, min(int(anneal_iter), int(max_iter) // 2))


def next_smoothing(smoothing, n_steps):
    """One geometric step of the top-K smoothing from SMOOTHING_START towards
    SMOOTHING_END, then exactly 0 (the exact top-K gate)."""
    if smoothing <= 0:
        return 0.0
    new = smoothing * (SMOOTHING_END / SMOOTHING_START) ** (1.0 / n_steps)
    return 0.0 if new <= SMOOTHING_END * (1.0 + 1e-9) else float(new)
