"""Normalized sigmoid gating (DeepSeekMoE), dense or over the top-K scores."""

from numbers import Integral

import numpy as np
from scipy.special import expit, log_expit, logit

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval
from ._ascent import maximize_monotone, sparse_gate_m_step
from ._base import _random_directions, _weighted_moments
from ._topk import TopKProgram, _TopKGating, anneal_steps, next_smoothing


class _SigmoidProgram:
    """The compiled EM state of a dense normalized sigmoid gate: its rows.

    The step is the kernel of :meth:`NormalizedSigmoidGating.m_step`.
    """

    def __init__(self, gating, X, params):
        if gating.pin_last and params.n_experts > 1:
            params = params.replace(**gating.normalize(params))  # or raises
        self.X = X
        self.coef = as_kernel_array(params.gate_coef).copy()
        self.intercept = as_kernel_array(params.gate_intercept).copy()
        self.K = params.n_experts
        self.settings = (gating._max_newton_iter, gating._newton_step_tol,
                         bool(gating.pin_last))

    def log_weights(self, LW):
        _kernels._sigmoid_steps.sigmoid_log_weights_into(
            self.X, self.coef, self.intercept, LW)

    def step(self, R, LW, n_iter, max_iter):
        if self.K == 1:
            LW[:] = 0.0
            return True, False
        return _kernels._sigmoid_steps.sigmoid_newton_ascent(
            self.X, R, self.coef, self.intercept, *self.settings, LW), False

    def fields(self):
        return {"gate_coef": self.coef.copy(), "gate_intercept": self.intercept.copy()}


class NormalizedSigmoidGating(_TopKGating):
    """Normalized sigmoid gate, optionally over the top-K scores (DeepSeek-V3).

    With logits :math:`z_k(x) = \\beta_{1k}^\\top x + \\beta_{0k}` and
    :math:`s_k = \\mathrm{sigmoid}(z_k) = 1 / (1 + e^{-z_k})`,

    .. math::

        g_k(x) = \\frac{s_k(x)}{\\sum_{j \\in T(x)} s_j(x)} \\quad (k \\in T(x)),
        \\qquad g_k(x) = 0 \\quad (k \\notin T(x)),

    where :math:`T(x)` holds the ``top_k`` experts with the largest scores
    (all experts when ``top_k`` is None).

    Parameters
    ----------
    top_k : int, default=None
        Keep only the ``top_k`` largest sigmoid scores of every input and
        renormalise them (the DeepSeek-V3 router); the others get weight
        exactly zero. None, or a value equal to the number of experts, is the
        dense gate. Must not exceed ``n_experts``.
    anneal_iter : int, default=50
        Number of EM iterations over which a top-K gate's smoothed selection
        is annealed to the exact one at the start of a fit (at most half of
        ``max_iter``), as for :class:`SoftmaxGating`; 0 starts with the exact
        selection. Ignored by the dense gate.
    pin_last : bool, default=True
        The identifiability convention (A.2) of [1]_: the last expert's gate
        row is held at :math:`(\\beta_{1K}, \\beta_{0K}) = (0, 0)`, so that
        only the first ``K - 1`` rows are estimated. False estimates all
        ``K`` rows (the unpinned form; see the Notes for its flat
        directions).

    Notes
    -----
    **Identifiability.** The gate is unchanged when every score
    :math:`s_k(x)` is multiplied by a common positive function :math:`c(x)`,
    and only then. For the softmax that symmetry is a common shift of the
    logits; for sigmoid scores it is much smaller. Making expert :math:`m`
    the pinned one needs :math:`c(x) = 1 / (2 s_m(x))`, which keeps every
    score a sigmoid of an affine logit only if (i) row :math:`m` already is
    :math:`(0, 0)` (:math:`c = 1`), or (ii) every slope is zero and
    :math:`c\\,\\mathrm{sigmoid}(\\beta_{0k}) < 1` for every :math:`k`
    (constant scores rescaled by a constant). Otherwise, if
    :math:`\\beta_{1m} \\ne 0`, the old pinned expert's new score
    :math:`1 / (4 s_m(x))` exceeds 1 where :math:`s_m(x) < 1/4`; and a
    score :math:`c\\,\\mathrm{sigmoid}(z)` with a constant :math:`c \\ne 1`
    and a non-zero slope is not a sigmoid of an affine logit (its logit is
    bounded on one side and unbounded on the other). Hence:

    - with ``pin_last=True`` (the default, the convention A.2 of [1]_, which
      its appendix on the normalized sigmoid keeps) the last row is
      :math:`(0, 0)` and the other rows are free; the pinned score is 1/2
      everywhere, so :math:`c \\equiv 1` and the gate parameters are
      identified (up to relabelling the other experts), in the sparse regime
      too;
    - with ``pin_last=False`` all ``K`` rows are free and the likelihood has
      flat and nearly flat directions: when every slope is zero (the "sparse
      regime") only the ratios of the :math:`\\mathrm{sigmoid}(\\beta_{0k})`
      are identified (a one-dimensional family of intercepts gives the same
      gate); a score saturated at 1 or 0 on the data lets its intercept and
      slope drift together; and as all intercepts tend to :math:`-\\infty`
      together the gate tends to the softmax of the logits. Maximum
      likelihood drifts along them (fits with slopes near 1700 and
      intercepts near -4900 were measured, with a higher likelihood than the
      pinned fit), so their parameters cannot be compared with a truth.

    **Relabelling a pinned gate.** By (i) and (ii) above, :meth:`permute`
    keeps a pinned model exactly when the expert moved into the last place
    has the row :math:`(0, 0)`, or when every slope is zero (the constant
    scores are then rescaled by :math:`c = 1 / (2\\,\\mathrm{sigmoid}
    (\\beta_{0m}))`, if every :math:`c\\,\\mathrm{sigmoid}(\\beta_{0k}) <
    1`); any other relabelling that moves the pinned expert has no pinned
    form and raises a ``ValueError``. The canonical order that ``fit``
    applies (:meth:`canonical_order`) therefore keeps the pinned expert last
    and orders the others. :meth:`normalize` re-pins a model whose last row
    is not zero in the same cases and raises otherwise, and so do
    :meth:`pack` and :meth:`m_step`: an unpinned ``init_params`` is rejected
    rather than silently changed.

    In the Voronoi losses of [1]_ an expert's atom weight is
    :math:`\\mathrm{sigmoid}(\\beta_{0k})`.

    **EM update.** The gate objective :math:`\\sum_{ik} R_{ik} \\log g_k(x_i)`
    is not concave. The dense update takes at most three Newton steps, with
    the exact Hessian when its negative is positive definite and otherwise
    the expected (Fisher) curvature, which always gives an ascent direction,
    each with a backtracking line search: every accepted step increases the
    objective (a generalised EM step); a step whose predicted gain is below
    the round-off of the objective's sum (``1e-13`` of it) is not taken.
    The top-K gate uses the same ECME update as :class:`SoftmaxGating` with
    ``top_k`` (dense proposal accepted only if it increases the observed
    log-likelihood, then a refinement while the selected sets stay fixed),
    after the same annealed smoothed
    selection: the mask :math:`\\mathrm{sigmoid}((z_k - t)/s)` multiplies the
    sigmoid scores, with :math:`s` decreasing from 2 to 0.01 and then set to
    exactly 0 (``params.gate_extra["top_k_smoothing"]``).

    References
    ----------
    .. [1] Nguyen, H., Doan, T., Pham, Q., Bui, N., Ho, N. and Rinaldo, A.
       (2025). On DeepSeekMoE: statistical benefits of shared experts and
       normalized sigmoid gating. arXiv:2505.10860.
    .. [2] DeepSeek-AI (2024). DeepSeek-V3 technical report. arXiv:2412.19437.
    .. [3] Nguyen, H., Ho, N. and Rinaldo, A. (2024). Sigmoid gating is more
       sample efficient than softmax gating in mixture of experts. NeurIPS.
       arXiv:2405.13997.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor, NormalizedSigmoidGating
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, truth = make_moe_regression(
    ...     500, 2, 3, gating=NormalizedSigmoidGating(), random_state=0)
    >>> est = MixtureOfExpertsRegressor(3, gating=NormalizedSigmoidGating(top_k=2),
    ...                                 random_state=0).fit(X, y)
    >>> gates = est.predict_gates(X[:2])
    >>> gates.sum(axis=1), (gates == 0).sum(axis=1)
    (array([1., 1.]), array([1, 1]))
    """

    _parameter_constraints: dict = {
        "top_k": [None, Interval(Integral, 1, None, closed="left")],
        "anneal_iter": [Interval(Integral, 0, None, closed="left")],
        "pin_last": ["boolean"],
    }

    #: abilities (see skmoe.utils._abilities)
    provides = frozenset({"gradient", "smooth", "fixed_model", "atoms",
                          "compiled", "short_runs"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("m_step", "log_weights", "at_iteration")

    #: maximum evaluated Newton steps in one EM gate update
    _max_newton_iter = 3
    #: relative step size at which the gate update has converged
    _newton_step_tol = 1e-9

    #: maximum L-BFGS steps of one update of a smoothed top-K gate
    _max_ascent_iter = 5
    _compiled_topk = True

    def __init__(self, top_k=None, *, anneal_iter=50, pin_last=True):
        self.top_k = top_k
        self.anneal_iter = anneal_iter
        self.pin_last = pin_last

    def check_n_experts(self, n_experts, n_features):
        """Reject ``top_k > n_experts``.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features.

        Raises
        ------
        ValueError
            If ``top_k`` exceeds ``n_experts``.
        """
        if self.top_k is not None and self.top_k > n_experts:
            raise ValueError(
                f"top_k={self.top_k!r} must be at most n_experts={n_experts} "
                "(top_k=None is the dense gate)."
            )

    def _lacks(self, ability, n_experts):
        """A top-K selection is not smooth; its annealed start not a fixed model."""
        return self._lacks_topk(ability, n_experts)

    voronoi_family = "sigmoid"

    def convention(self):
        """The last row at zero (A.2) with ``pin_last=True``, else all rows free.

        Returns
        -------
        convention : str
            ``"last row at zero"`` or ``"all rows free"``.
        """
        return "last row at zero" if self.pin_last else "all rows free"

    def atom_weights(self, gate_intercept):
        """Compute the atom weights ``sigmoid(beta_0k)`` (ability ``"atoms"``).

        Parameters
        ----------
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts.

        Returns
        -------
        weights : ndarray of shape (n_experts,)
            The atom weights.
        """
        return expit(gate_intercept)

    def split_atoms(self, gate_intercept, counts):
        """Divide the atom weights: ``logit(sigmoid(beta_0k) / counts_k)``.

        Parameters
        ----------
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts.
        counts : ndarray of int of shape (n_experts,)
            Divisor of every atom weight.

        Returns
        -------
        gate_intercept : ndarray of shape (n_experts,)
            The intercepts of the divided atom weights.
        """
        return logit(expit(gate_intercept) / counts)

    def param_blocks(self, n_features, n_experts):
        """The gate rows, and the top-K smoothing while a selection anneals.

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
        blocks = super().param_blocks(n_features, n_experts)
        if self.top_k is not None:
            blocks["gate_extra.top_k_smoothing"] = ((1,), False)
        return blocks

    def n_free_params(self, n_features, n_experts):
        """Number of free gate parameters.

        ``(n_experts - 1) * (n_features + 1)`` with ``pin_last=True`` (the
        last row is fixed), ``n_experts * (n_features + 1)`` without. Zero for
        a single expert, whose gate is constant.

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
        if n_experts == 1:
            return 0
        return (n_experts - int(bool(self.pin_last))) * (n_features + 1)

    def init(self, X, sample_weight, n_experts, rng):
        """Random hyperplanes through the weighted mean of ``X``.

        One per row; with ``pin_last=True`` the last row is then set to
        :math:`(0, 0)`.

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
            ``gate_coef`` and ``gate_intercept`` (and the starting smoothing
            of a top-K gate in ``gate_extra``).
        """
        mean, std = _weighted_moments(X, sample_weight)
        coef = rng.standard_normal((n_experts, X.shape[1])) / std
        intercept = -(coef @ mean)
        if n_experts == 1:
            coef, intercept = np.zeros_like(coef), np.zeros_like(intercept)
        elif self.pin_last:
            coef[-1], intercept[-1] = 0.0, 0.0
        fields = {"gate_coef": coef, "gate_intercept": intercept}
        extra = self.start_extra(n_experts)
        if extra:
            fields["gate_extra"] = extra
        return fields

    def start_extra(self, n_experts):
        """The starting smoothing of an annealed top-K selection, if any.

        Parameters
        ----------
        n_experts : int
            Number of experts.

        Returns
        -------
        extra : dict
            ``{"top_k_smoothing": [2.0]}`` for ``top_k < n_experts`` with
            ``anneal_iter > 0``, else empty.
        """
        return self._start_smoothing(n_experts)

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate (slopes of norm ``gate_scale``).

        Every row is drawn; with ``pin_last=True`` the last row is then set to
        :math:`(0, 0)` (the family's convention).

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
            ``gate_coef`` and ``gate_intercept`` (zeros for one expert).
        """
        coef = _random_directions(rng, n_experts, n_features) * gate_scale
        intercept = 0.5 * rng.standard_normal(n_experts)
        if n_experts == 1:
            coef, intercept = np.zeros_like(coef), np.zeros_like(intercept)
        elif self.pin_last:
            coef[-1], intercept[-1] = 0.0, 0.0
        return {"gate_coef": coef, "gate_intercept": intercept}

    def _logits(self, X, params):
        # logits beyond float64's range are +-inf: the kernels give the
        # gate's limit there (see log_weights)
        with np.errstate(over="ignore"):
            Z = X @ params.gate_coef.T
            Z += params.gate_intercept
        return Z

    def log_weights(self, X, params):
        """Log normalized sigmoid weights, over the top-K scores if asked.

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
            of ``-inf`` on every kept expert (beyond float64's range) give
            equal weights, the limit of the normalized sigmoids.
        """
        Z = self._logits(X, params)
        K = Z.shape[1]
        smoothing = self._smoothing(params)
        if smoothing > 0:
            return _kernels._logspace.soft_topk_log_weights(
                log_expit(Z), Z, int(self.top_k), smoothing)
        return _kernels._sigmoid.sigmoid_log_weights(
            Z, int(self.top_k) if self._sparse(K) else K)

    def normalize(self, params):
        """Gate fields in the family's convention.

        ``pin_last=False``: unchanged (no shift symmetry). ``pin_last=True``:
        unchanged when the last row is :math:`(0, 0)`; a model whose last row
        is not zero is re-pinned exactly when every slope is zero (constant
        scores rescaled, see the class Notes), and rejected otherwise. Zeros
        for one expert.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept``.

        Raises
        ------
        ValueError
            With ``pin_last=True``, if the last row is not zero and the model
            has no exact pinned form.
        """
        if params.n_experts == 1:
            return {"gate_coef": np.zeros_like(params.gate_coef),
                    "gate_intercept": np.zeros_like(params.gate_intercept)}
        coef, intercept = params.gate_coef, params.gate_intercept
        if not self.pin_last or (not np.any(coef[-1]) and intercept[-1] == 0):
            return {"gate_coef": coef.copy(), "gate_intercept": intercept.copy()}
        return _repin(coef, intercept)

    def permute(self, params, order):
        """Gate fields after relabelling the experts.

        With ``pin_last=True`` a relabelling that moves another expert into
        the pinned last place is exact only in the cases of the class Notes
        (that expert's row is :math:`(0, 0)`, or every slope is zero); any
        other raises.

        Parameters
        ----------
        params : MoEParams
            Model parameters.
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.

        Returns
        -------
        fields : dict
            Gate fields of the relabelled model, in the family's convention.

        Raises
        ------
        ValueError
            If the relabelled model has no exact pinned form.
        """
        order = np.asarray(order)
        try:  # relabel, then normalize (re-pin exactly, or refuse)
            return super().permute(params, order)
        except ValueError:
            m = int(order[-1])
            raise ValueError(
                f"NormalizedSigmoidGating(pin_last=True) cannot relabel the "
                f"experts with order={order.tolist()}: it moves expert {m}, whose "
                f"gate row is (beta_1, beta_0) = "
                f"({params.gate_coef[m].tolist()}, {float(params.gate_intercept[m])}), "
                "into the pinned last place, and a normalized sigmoid gate with "
                "non-zero slopes has no exact form with another row pinned (it "
                "is not invariant to a common shift of the logits). Keep the "
                "last expert last (as canonical_order does), or use "
                "pin_last=False."
            ) from None

    def canonical_order(self, mass):
        """Order of the experts after a fit.

        ``pin_last=False``: decreasing mass, ties by index. ``pin_last=True``:
        the pinned last expert stays last (no other expert can take its place
        exactly, see the class Notes) and the others are sorted by decreasing
        mass, ties by index.

        Parameters
        ----------
        mass : ndarray of shape (n_experts,)
            Average gating weight of every expert on the training data.

        Returns
        -------
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.
        """
        mass = np.asarray(mass)
        if not self.pin_last or mass.shape[0] == 1:
            return super().canonical_order(mass)
        head = np.argsort(-mass[:-1], kind="stable")
        return np.append(head, mass.shape[0] - 1)

    def pack(self, params):
        """Pack the free rows of ``[gate_coef | gate_intercept]``, row by row.

        All ``K`` rows with ``pin_last=False``; rows ``0 .. K-2`` of the
        pinned form (:meth:`normalize`) with ``pin_last=True``.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters (empty for one expert).
        """
        if params.n_experts == 1:
            return np.zeros(0)
        fields = self.normalize(params)
        full = np.hstack([fields["gate_coef"], fields["gate_intercept"][:, None]])
        if self.pin_last:
            full = full[:-1]
        return full.ravel().copy()

    def unpack(self, theta, params):
        """Gate fields from a free-parameter vector; inverse of :meth:`pack`.

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes.

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept`` (the last row zero with
            ``pin_last=True``).
        """
        K, d = params.n_experts, params.n_features
        if K == 1:
            return self.normalize(params)
        full = np.zeros((K, d + 1))
        rows = K - 1 if self.pin_last else K
        full[:rows] = np.asarray(theta, dtype=np.float64).reshape(rows, d + 1)
        return {"gate_coef": np.ascontiguousarray(full[:, :d]),
                "gate_intercept": np.ascontiguousarray(full[:, d])}

    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        ``dL/dz_ij = (1 - s_ij) (G_ij - g_ij sum_k G_ik)`` with ``s =
        sigmoid(z)``, then ``[X, 1]`` by the chain rule.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights; zero where the gate is zero.

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        """
        if params.n_experts == 1:
            return np.zeros(0)
        Z = self._logits(X, params)
        smoothing = self._smoothing(params)
        if smoothing > 0:
            d_scores, d_rank = _kernels._logspace.soft_topk_vjp(
                as_kernel_array(G), log_expit(Z), Z, int(self.top_k), smoothing)
            dz = d_scores * expit(-Z) + d_rank
        else:
            g = np.exp(self.log_weights(X, params))
            dz = expit(-Z) * (G - g * G.sum(axis=1, keepdims=True))
        full = np.hstack([dz.T @ X, dz.sum(axis=0)[:, None]])
        return (full[:-1] if self.pin_last else full).ravel()

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
            The observed log-likelihood as a function of the gate; used by the
            top-K gate (an ECME step).

        Returns
        -------
        fields : dict
            New ``gate_coef`` and ``gate_intercept``.
        """
        K = params.n_experts
        if K == 1:
            return self.normalize(params)
        if self.pin_last:  # an unpinned start is re-pinned exactly or rejected
            params = params.replace(**self.normalize(params))
        if self._sparse(K):
            if likelihood is not None:
                # the kernel of the compiled EM path: the ECME step of the
                # exact selection, monotone L-BFGS while it anneals
                return self._topk_m_step(X, R, params, likelihood)
            if self._smoothing(params) == 0:
                dense = NormalizedSigmoidGating(pin_last=self.pin_last)
                return sparse_gate_m_step(self, dense, X, R, params, likelihood)
            mask = R > 0

            def fun(theta):
                p = params.replace(**self.unpack(theta, params))
                log_w = self.log_weights(X, p)
                return float(np.sum(R[mask] * log_w[mask])), self.grad(X, p, R)

            theta, _ = maximize_monotone(fun, self.pack(params),
                                         max_iter=self._max_ascent_iter,
                                         grad_tol=1e-10 * R.sum())
            return self.unpack(theta, params)
        coef, intercept = newton_sigmoid_ascent(
            X, R, params.gate_coef, params.gate_intercept, self._max_newton_iter,
            self._newton_step_tol, pin_last=self.pin_last,
        )
        return {"gate_coef": coef, "gate_intercept": intercept}

    def compiled_program(self, X, params):
        """The gate's state and steps for the compiled EM path.

        Ability ``"compiled"``: the rows (re-pinned as :meth:`m_step` does),
        updated by the kernel of :meth:`m_step` (the Newton ascent of the
        dense gate; for a top-K selection the free rows of :meth:`pack`
        and the ECME step, whose program's ``needs_likelihood`` is True);
        see :meth:`Gating.compiled_program`.

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
        if self._sparse(params.n_experts):
            if self.pin_last:  # an unpinned start is re-pinned or rejected
                params = params.replace(**self.normalize(params))
            return TopKProgram(self, X, params)
        return _SigmoidProgram(self, X, params)

    def _topk_kernel(self):
        # the dense gate's Newton settings (its m_step is the proposal)
        return (_kernels._topk_steps.SIGMOID, self._max_newton_iter,
                self._newton_step_tol, bool(self.pin_last))

    def at_iteration(self, params, iteration, max_iter):
        """One step of the top-K smoothing schedule (nothing when dense).

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
            The new ``gate_extra`` while the smoothing decreases, else empty.
        """
        smoothing = self._smoothing(params)
        if smoothing <= 0:
            return {}
        n_steps = anneal_steps(self.anneal_iter, max_iter)
        extra = dict(params.gate_extra)
        extra["top_k_smoothing"] = np.array([next_smoothing(smoothing, n_steps)])
        return {"gate_extra": extra}


def newton_sigmoid_ascent(X, R, coef, intercept, max_iter, step_tol, *,
                          pin_last=False):
    """Safeguarded Newton ascent of the weighted normalized-sigmoid objective.

    Each step solves with the exact negative Hessian when it is positive
    definite (a Cholesky factorisation with a negligible ridge succeeds), and
    otherwise with the Fisher matrix (positive semi-definite, ridge-damped
    until it factorises), so the step is an ascent direction; a backtracking
    line search then enforces the Armijo condition. The objective never
    decreases. The loop ends after ``max_iter`` steps, when no ascent is
    possible, when the step is below ``step_tol * (1 + max|theta|)``, or
    when a step's predicted gain is below the round-off of the objective's
    sum (``1e-13`` of it; the step is not taken).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    R : ndarray of shape (n_samples, n_experts)
        Weighted responsibilities.
    coef : ndarray of shape (n_experts, n_features)
    intercept : ndarray of shape (n_experts,)
    max_iter : int
        Maximum number of steps.
    step_tol : float
        Relative step size at which the iteration has converged.
    pin_last : bool, default=False
        Hold the last row at its value (the pinned convention); the steps
        then use the blocks of the first ``K - 1`` rows.

    Returns
    -------
    coef, intercept : ndarray
        The improved gate.
    """
    coef = as_kernel_array(coef).copy()
    intercept = as_kernel_array(intercept).copy()
    # the kernel of the compiled EM path: one implementation
    _kernels._sigmoid_steps.sigmoid_newton_ascent(
        as_kernel_array(X), as_kernel_array(R), coef, intercept, int(max_iter),
        float(step_tol), bool(pin_last), np.empty((0, coef.shape[0])))
    return coef, intercept


def _repin(coef, intercept):
    """Exact pinned form of a constant-score gate, or a ValueError.

    Only a gate whose slopes are all zero can take another pinned row: its
    scores ``sigmoid(beta_0k)`` are rescaled by ``c = 1 / (2
    sigmoid(beta_0K))`` so that the last becomes ``sigmoid(0)``; every
    rescaled score must stay below 1.
    """
    if np.any(coef):
        raise ValueError(
            "NormalizedSigmoidGating(pin_last=True) holds the last expert's gate "
            "row at (beta_1, beta_0) = (0, 0) (the identifiability convention "
            "A.2 of arXiv:2505.10860); got gate_coef[-1]="
            f"{coef[-1].tolist()} and gate_intercept[-1]={float(intercept[-1])}. With "
            "non-zero gate slopes the model has no exact form with the last "
            "row at zero (the gate is not invariant to a common shift of the "
            "logits). Pass parameters whose last row is zero, or use "
            "pin_last=False."
        )
    log_c = -np.log(2.0) - log_expit(intercept[-1])
    log_s = log_c + log_expit(intercept)
    if np.any(log_s >= 0):
        raise ValueError(
            "NormalizedSigmoidGating(pin_last=True) holds the last expert's gate "
            "row at (0, 0); the given constant gate (all slopes zero, "
            f"gate_intercept={intercept.tolist()}) would need scores "
            f"{np.exp(log_s).tolist()}, not all below 1, to be written with its "
            "last row at zero. Pass parameters whose last row is zero, or use "
            "pin_last=False."
        )
    new = log_s - np.log(-np.expm1(log_s))  # logit from the log-probability
    new[-1] = 0.0
    return {"gate_coef": np.zeros_like(coef), "gate_intercept": new}
