"""MixtureOfExpertsRegressor: the scikit-learn estimator."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import check_random_state

from ._params import MoEParams
from .experts import EXPERTS, Experts, resolve_experts
from .gating import GATINGS, Gating, resolve_gating
from .solvers import SOLVER_OBJECTIVES, check_compatible, fit_moe
from .solvers._finish import finish_fit
from .utils._arrays import as_kernel_array
from .utils._sklearn import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from .utils._threads import numba_threads


class MixtureOfExpertsRegressor(RegressorMixin, BaseEstimator):
    """Gaussian mixture-of-experts regression fitted by maximum likelihood.

    The model with ``K = n_experts`` experts is

    .. math::

        p(y \\mid x) = \\sum_{k=1}^{K} g_k(x) \\,
        \\mathcal{N}\\big(y \\mid h(x; \\eta_k), \\nu_k\\big),

    with a gate ``g`` (by default softmax, :math:`g_k(x) \\propto
    \\exp(\\beta_{1k}^\\top x + \\beta_{0k})`), expert regression functions
    ``h`` (by default linear, :math:`h(x; \\eta_k) = \\eta_{1k}^\\top x +
    \\eta_{0k}`) and noise variances :math:`\\nu_k`. It is fitted by maximum
    likelihood (EM, L-BFGS or gradient descent), or by least squares on the
    regression function (``objective="least_squares"``); the inner loops run
    in Numba-compiled kernels.

    Parameters
    ----------
    n_experts : int, default=3
        Number of experts ``K``.
    gating : {"softmax", "normalized_sigmoid", "hierarchical_softmax"} or \
            Gating, default="softmax"
        Gating family: a registered name or a gating object such as
        :class:`~skmoe.SoftmaxGating`, :class:`~skmoe.NormalizedSigmoidGating`
        or :class:`~skmoe.HierarchicalSoftmaxGating`. The object is cloned in
        ``fit`` and never modified. To tune its hyper-parameters in a grid
        search (nested keys such as ``gating__temperature``) pass an object,
        not a string.
    experts : {"linear", "polynomial", "ffn"} or Experts, default="linear"
        Expert family: a registered name or an experts object such as
        :class:`~skmoe.LinearExperts`, :class:`~skmoe.PolynomialExperts` or
        :class:`~skmoe.FFNExperts`, cloned in ``fit``.
    solver : {"em", "lbfgs", "gd"}, default="em"
        Fitting algorithm. ``"em"``: expectation-maximisation (likelihood
        only), with the experts' and the gate's own updates (monotone).
        ``"lbfgs"``: :func:`scipy.optimize.minimize` with ``method="L-BFGS-B"``
        on all parameters at once (gate, experts and, for the likelihood,
        log-variances bounded below by the variance floor). ``"gd"``: plain
        gradient descent with Armijo backtracking, the baseline of the
        convergence-rate papers. The gradient solvers need families that
        implement ``grad``; an impossible combination raises a ``ValueError``
        naming the solver, the objective and the family before fitting.
    objective : {"likelihood", "least_squares"}, default="likelihood"
        ``"likelihood"``: maximum likelihood of the Gaussian mixture of
        experts. ``"least_squares"``: minimise the weighted squared error of
        the regression function, :math:`\\sum_i w_i (y_i - f(x_i))^2` with
        :math:`f(x) = \\sum_k g_k(x) h(x; \\eta_k)` (the estimator of the
        convergence-rate papers; solvers ``"lbfgs"`` and ``"gd"``). Its model
        is :math:`y = f(x) + \\varepsilon` with one noise variance, estimated
        after the fit as the weighted mean squared residual and stored for
        every expert in ``params_.variance``; the methods that need the
        mixture density (:meth:`log_density`, :meth:`bic`, :meth:`aic`,
        :meth:`icl`, :meth:`sample_y`, :meth:`predict_quantiles`,
        :meth:`predict_interval`) raise a ``ValueError`` for it.
    max_iter : int, default=300
        Maximum number of iterations per restart (EM iterations, L-BFGS
        iterations or gradient steps).
    tol : float, default=1e-6
        Convergence threshold on the relative change of the objective,
        ``|L_t - L_{t-1}| < tol * max(|L_{t-1}|, W)`` with ``W`` the total
        sample weight (``ftol`` of L-BFGS-B is the same rule; L-BFGS-B also
        stops when every entry of the projected gradient of the per-sample
        objective is at most ``tol``).
    n_init : int, default=1
        Number of restarts; the one with the best objective is kept.
    init_params : {"random", "kmeans"} or MoEParams, default="random"
        Starting point. ``"random"``: random gate hyperplanes through the data
        mean with experts fitted to that soft partition (it depends on the data
        only through weighted sums, so integer sample weights are equivalent to
        repeated rows). ``"kmeans"``: k-means clusters of the standardised
        ``(X, y)``. An :class:`~skmoe.MoEParams`: start from these parameters,
        as the convergence-rate papers do.
    random_state : int, RandomState instance or None, default=None
        Controls the random starting points. Pass an int for reproducible
        output across multiple function calls.
    warm_start : bool, default=False
        If True and the estimator is already fitted, ``fit`` continues from
        ``params_`` (one run, ``n_init`` ignored).
    reg_var : float, default=1e-6
        Variance floor, relative to the weighted variance of ``y``: every
        expert variance is kept at least ``reg_var * Var(y)``, which bounds the
        likelihood and prevents a component from collapsing onto a few points.
    verbose : int, default=0
        If positive, print one line per iteration (iteration, log-likelihood,
        change, elapsed seconds).
    n_shared_experts : int, default=0
        Number of shared experts (DeepSeekMoE): mixture components with
        covariate-free weights :math:`\\omega_s`, mixed with the routed part
        by ``shared_weight`` (see Notes). 0 is the plain model.
    shared_weight : float, default=0.5
        Weight :math:`\\lambda` of the shared part, in the open interval (0,
        1); a fixed hyper-parameter (1/2 in the DeepSeekMoE paper). Ignored
        when ``n_shared_experts=0``.
    shared_experts : {"linear"}, Experts or None, default=None
        Family of the shared experts; None uses the family of ``experts``.
        Cloned in ``fit``.
    n_jobs : int or None, default=None
        Number of Numba threads of the row-parallel kernels during ``fit`` and
        ``predict``: None means 1 (unless in a :func:`joblib.parallel_config`
        context), -1 all CPUs, as in scikit-learn. The previous Numba setting
        is restored afterwards. Results are bit-identical for any value (rows
        are reduced in a fixed number of chunks in a fixed order). BLAS
        threads are not changed; limit them with ``threadpoolctl``.

    Attributes
    ----------
    params_ : MoEParams
        Fitted parameters (gate, experts, variances, and the shared experts
        if any), in the gating family's identifiability normalisation (for the
        softmax the last expert's gate row is zero), with the experts in the
        canonical order: decreasing average gating weight on the training
        data, :math:`\\sum_i w_i g_k(x_i) / \\sum_i w_i`, ties by index
        (:meth:`skmoe.Gating.canonical_order`; shared experts by decreasing
        weight :math:`\\omega_s`). Two fits that reach the same optimum
        therefore have the same ``params_`` without matching; the
        relabelling does not change the model.
    empty_experts_ : ndarray of bool of shape (n_experts,)
        True for the routed experts that ended the fit with (nearly) no
        responsibility: total weighted responsibility below
        ``max(1e-3 W, W / n)``, ``W`` the total sample weight and ``n`` the
        number of samples of non-zero weight (a thousandth of the data, or
        less than one average sample; the weighted gate for
        ``objective="least_squares"``). Always set; when any entry is True,
        ``fit`` also emits an :class:`~skmoe.EmptyExpertWarning`.
    gating_ : Gating
        The fitted clone of ``gating``.
    experts_ : Experts
        The fitted clone of ``experts``.
    n_iter_ : int
        Number of iterations of the kept restart (at least 1; with shared
        experts, not counting the plain fit that gives the EM start).
    converged_ : bool
        Whether the kept restart met the convergence rule.
    log_likelihood_ : float
        Total (sample-weighted) log-likelihood of the training data at
        ``params_``. Only set for ``objective="likelihood"``: a least-squares
        fit estimates no conditional density, so the attribute does not exist
        (rather than holding a number that would not mean anything).
    history_ : ndarray of shape (`n_iter_` + 1,)
        The objective at the start and after each iteration of the kept
        restart. ``objective="likelihood"``: the total log-likelihood,
        non-decreasing up to round-off, except while a gate's schedule changes
        the model (a temperature ``schedule``, or the annealed selection that
        starts a top-K gate's fit). ``objective="least_squares"``: the total
        weighted squared error :math:`\\sum_i w_i (y_i - f(x_i))^2`,
        non-increasing.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    skmoe.MoEParams : The container of a fitted or true model.
    skmoe.datasets.make_moe_regression : Data drawn from a known model.

    Notes
    -----
    EM iteration: the E-step computes the responsibilities in log space; the
    M-step fits each expert by weighted least squares (closed form for linear
    and polynomial experts, Levenberg-Marquardt steps for FFN experts), sets
    each variance to the weighted mean squared residual (floored), and
    increases the weighted multinomial log-likelihood of the gate by damped
    Newton steps. Every step increases the likelihood, so ``history_`` is
    non-decreasing.

    The gradient solvers work on one vector of all free parameters; the
    value and gradient of the objective take one Numba pass over the data
    plus the families' vector-Jacobian products. They start from the same
    points as EM (``init_params``) and stop with the same rule.

    With ``S = n_shared_experts > 0`` the model is

    .. math::

        p(y \\mid x) = \\lambda \\sum_{s=1}^{S} \\omega_s \\,
        \\mathcal{N}\\big(y \\mid h_{sh}(x; \\kappa_s), \\tau_s\\big)
        + (1 - \\lambda) \\sum_{k=1}^{K} g_k(x) \\,
        \\mathcal{N}\\big(y \\mid h(x; \\eta_k), \\nu_k\\big),

    a mixture of ``K + S`` components (PAPERS.md section 3, [3]_). EM then
    computes responsibilities over all of them, updates the shared experts
    by their family's closed form and :math:`\\omega` in closed form, and the
    gate from the routed responsibilities only. :meth:`predict_gates` keeps
    returning the routed gate :math:`g(x)` (rows sum to one);
    :meth:`predict_component_weights` gives the weights of all ``K + S``
    components.

    ``predict`` returns the mixture mean :math:`E[y \\mid x]`; ``score`` is
    the :math:`R^2` of that mean. The conditional log-density is
    :meth:`log_density` (it is not called ``score_samples`` because
    scikit-learn calls that method with ``X`` only).

    References
    ----------
    .. [1] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation 6(2), 181-214.
    .. [2] Nguyen, H., Ho, N. and Rinaldo, A. (2025). Convergence rates for
       softmax gating mixture of experts. arXiv:2503.03213.
    .. [3] Nguyen, H., Doan, T., Pham, Q., Bui, N., Ho, N. and Rinaldo, A.
       (2025). On DeepSeekMoE: statistical benefits of shared experts and
       normalized sigmoid gating. arXiv:2505.10860.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, truth = make_moe_regression(2000, 2, 3, random_state=0)
    >>> est = MixtureOfExpertsRegressor(n_experts=3, n_init=3, random_state=0)
    >>> est = est.fit(X, y)
    >>> est.predict_gates(X[:3]).shape
    (3, 3)
    >>> from skmoe.metrics import parameter_error
    >>> errors = parameter_error(est.params_, truth)  # experts matched to truth
    >>> bool(errors["expert_coef"].max() < 0.1)
    True
    """

    _parameter_constraints: dict = {
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "gating": [StrOptions(set(GATINGS)), Gating],
        "experts": [StrOptions(set(EXPERTS)), Experts],
        "solver": [StrOptions(set(SOLVER_OBJECTIVES))],
        "objective": [StrOptions({"likelihood", "least_squares"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"random", "kmeans"}), MoEParams],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "reg_var": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "n_shared_experts": [Interval(Integral, 0, None, closed="left")],
        "shared_weight": [Interval(Real, 0, 1, closed="neither")],
        "shared_experts": [None, StrOptions(set(EXPERTS)), Experts],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        n_experts=3,
        *,
        gating="softmax",
        experts="linear",
        solver="em",
        objective="likelihood",
        max_iter=300,
        tol=1e-6,
        n_init=1,
        init_params="random",
        random_state=None,
        warm_start=False,
        reg_var=1e-6,
        verbose=0,
        n_shared_experts=0,
        shared_weight=0.5,
        shared_experts=None,
        n_jobs=None,
    ):
        self.n_experts = n_experts
        self.gating = gating
        self.experts = experts
        self.solver = solver
        self.objective = objective
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.reg_var = reg_var
        self.verbose = verbose
        self.n_shared_experts = n_shared_experts
        self.shared_weight = shared_weight
        self.shared_experts = shared_experts
        self.n_jobs = n_jobs

    # ----------------------------------------------------------------- fit
    def _resolve_families(self):
        gating = (
            resolve_gating(self.gating)
            if isinstance(self.gating, str)
            else clone(self.gating)
        )
        experts = (
            resolve_experts(self.experts)
            if isinstance(self.experts, str)
            else clone(self.experts)
        )
        gating._validate_params()
        experts._validate_params()
        return gating, experts

    def _resolve_shared_experts(self):
        if not self.n_shared_experts or self.shared_experts is None:
            return None
        if isinstance(self.shared_experts, str):
            shared = resolve_experts(self.shared_experts)
        else:
            shared = clone(self.shared_experts)
        shared._validate_params()
        return shared

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the mixture of experts (maximum likelihood or least squares).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights are equivalent to repeating
            rows.

        Returns
        -------
        self : MixtureOfExpertsRegressor
            The fitted estimator.
        """
        X, y = validate_data(
            self, X, y, y_numeric=True, dtype=np.float64, order="C"
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        X = as_kernel_array(X)
        y = as_kernel_array(y)
        sample_weight = as_kernel_array(sample_weight)
        n_samples, n_features = X.shape
        K = self.n_experts
        n_support = int(np.count_nonzero(sample_weight))
        n_components = K + self.n_shared_experts
        if n_samples < 2 or n_support < n_components:
            shared = (f" + n_shared_experts={self.n_shared_experts}"
                      if self.n_shared_experts else "")
            raise ValueError(
                f"n_samples={n_samples} (with {n_support} of non-zero weight) is "
                f"too few for n_experts={K}{shared}: need at least max(2, "
                "n_experts + n_shared_experts) samples of non-zero weight."
            )
        gating, experts = self._resolve_families()
        check_compatible(self.solver, self.objective, gating, experts,
                         self.n_experts, self.n_shared_experts)
        gating.check_n_experts(K, n_features)
        shared_experts = self._resolve_shared_experts()
        S = self.n_shared_experts
        if isinstance(self.init_params, MoEParams):
            init = self.init_params
            if init.n_experts != K or init.n_features != n_features:
                raise ValueError(
                    f"init_params must have n_experts={K} and "
                    f"n_features={n_features}; got n_experts={init.n_experts} and "
                    f"n_features={init.n_features}."
                )
            if init.n_shared_experts != S:
                raise ValueError(
                    f"init_params must have n_shared_experts={S}; got "
                    f"{init.n_shared_experts}."
                )
        rng = check_random_state(self.random_state)
        w = sample_weight / sample_weight.sum()
        var_y = float(w @ (y - w @ y) ** 2)
        var_floor = self.reg_var * (var_y if var_y > 0 else 1.0)
        start = None
        if self.warm_start and hasattr(self, "params_"):
            start = self.params_
            if start.n_experts != K or start.n_features != n_features:
                raise ValueError(
                    "warm_start=True needs the same n_experts and n_features as "
                    f"the previous fit; got n_experts={K}, n_features={n_features} "
                    f"after n_experts={start.n_experts}, "
                    f"n_features={start.n_features}."
                )
            if start.n_shared_experts != S:
                raise ValueError(
                    "warm_start=True needs the same n_shared_experts as the "
                    f"previous fit; got {S} after {start.n_shared_experts}."
                )
        with numba_threads(self.n_jobs):
            result = fit_moe(
                X, y, sample_weight, solver=self.solver, objective=self.objective,
                n_experts=K, gating=gating, experts=experts,
                init_params=self.init_params, n_init=self.n_init,
                max_iter=self.max_iter, tol=self.tol, var_floor=var_floor,
                rng=rng, verbose=self.verbose, start=start,
                n_shared_experts=S, shared_weight=self.shared_weight,
                shared_experts=shared_experts,
            )
            params, self.empty_experts_ = finish_fit(
                result.params, X, y, sample_weight, self.objective
            )
        self.gating_ = gating
        self.experts_ = experts
        self.params_ = params
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self._fitted_objective = self.objective
        if self.objective == "likelihood":
            self.log_likelihood_ = result.log_likelihood
        else:
            self.__dict__.pop("log_likelihood_", None)  # from an earlier fit
        self.history_ = result.history
        return self

    def _check_density_defined(self, method):
        objective = getattr(self, "_fitted_objective", "likelihood")
        if objective != "likelihood":
            raise ValueError(
                f"{method} is not defined for objective="
                f"{objective!r}: a least-squares fit estimates the "
                "regression function E[y|x] only, not the conditional density "
                "p(y|x). Use predict, or fit with objective='likelihood'."
            )

    # ------------------------------------------------------------- predict
    def _check_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        return as_kernel_array(X)

    def predict(self, X):
        """Mixture mean :math:`E[y \\mid x] = \\sum_k g_k(x) h(x; \\eta_k)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Mixture mean for every sample.
        """
        X = self._check_X(X)
        with numba_threads(self.n_jobs):
            return self.params_.predict(X)

    def predict_gates(self, X):
        """Gating weights :math:`g_k(x)` of every routed expert.

        With shared experts this is still the routed gate (rows sum to one);
        the mixture weight of routed expert ``k`` is ``(1 - shared_weight)``
        times it, see :meth:`predict_component_weights`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        gates : ndarray of shape (n_samples, n_experts)
            Rows are non-negative and sum to one; exact zeros where a sparse
            (top-K) gate excludes an expert.
        """
        X = self._check_X(X)
        return self.params_.gates(X)

    def predict_component_weights(self, X):
        """Mixture weights of all components, routed experts then shared ones.

        ``(1 - shared_weight) * g_k(x)`` for the ``n_experts`` routed experts
        and ``shared_weight * omega_s`` for the ``n_shared_experts`` shared
        ones; :meth:`predict_gates` without shared experts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        weights : ndarray of shape (n_samples, n_experts + n_shared_experts)
            Rows are non-negative and sum to one. ``predict`` is the sum of
            these weights times :meth:`predict_component_means`.
        """
        X = self._check_X(X)
        return self.params_.component_weights(X)

    def predict_component_means(self, X):
        """Mean of every component, routed experts then shared ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts + n_shared_experts)
            :meth:`predict_experts` followed by the shared experts' means.
        """
        X = self._check_X(X)
        return self.params_.component_means(X)

    def predict_experts(self, X):
        """Mean of every routed expert, :math:`h(x; \\eta_k)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts)
            Expert means ``h(x_i; eta_k)``.
        """
        X = self._check_X(X)
        return self.params_.expert_means(X)

    def _check_Xy(self, X, y):
        X = self._check_X(X)
        y = as_kernel_array(np.asarray(y, dtype=np.float64).ravel())
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must have one value per row of X ({X.shape[0]}); got "
                f"{y.shape[0]}."
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("y must not contain NaN or infinity.")
        return X, y

    def log_density(self, X, y):
        """Per-sample conditional log-density :math:`\\log p(y_i \\mid x_i)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Conditional log-density of every sample.
        """
        X, y = self._check_Xy(X, y)
        self._check_density_defined("log_density")
        return self.params_.log_density(X, y)

    def bic(self, X, y):
        """Bayesian information criterion on ``(X, y)``; lower is better.

        ``-2 log L + n_params log n``, with ``n_params`` the free parameters
        (gate after the identifiability constraint, experts, variances).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        bic : float
            The criterion value.
        """
        X, y = self._check_Xy(X, y)
        self._check_density_defined("bic")
        loglik = self.params_.log_density(X, y).sum()
        return float(-2.0 * loglik + self.params_.n_free_params() * np.log(X.shape[0]))

    def aic(self, X, y):
        """Akaike information criterion on ``(X, y)``; lower is better.

        ``-2 log L + 2 n_params``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        aic : float
            The criterion value.
        """
        X, y = self._check_Xy(X, y)
        self._check_density_defined("aic")
        loglik = self.params_.log_density(X, y).sum()
        return float(-2.0 * loglik + 2.0 * self.params_.n_free_params())

    def icl(self, X, y):
        """Integrated completed likelihood (ICL-BIC) on ``(X, y)``; lower is better.

        .. math::

            \\mathrm{ICL} = \\mathrm{BIC}
            - 2 \\sum_{i=1}^n \\sum_{k} r_{ik} \\log r_{ik},

        the BIC plus twice the entropy of the posterior responsibilities
        :math:`r_{ik} = p(z_i = k \\mid x_i, y_i)` (over all ``K + S``
        components with shared experts; :math:`0 \\log 0 = 0`). Overlapping
        experts, whose responsibilities are uncertain, are penalised, so ICL
        tends to choose fewer, better separated experts than BIC [1]_.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        icl : float
            The criterion value.

        References
        ----------
        .. [1] Biernacki, C., Celeux, G. and Govaert, G. (2000). Assessing a
           mixture model for clustering with the integrated completed
           likelihood. IEEE Transactions on Pattern Analysis and Machine
           Intelligence 22(7), 719-725.
        """
        from ._kernels._gaussian import gaussian_estep

        X, y = self._check_Xy(X, y)
        self._check_density_defined("icl")
        resp, loglik = gaussian_estep(*self.params_._components(X), y)
        positive = resp > 0
        entropy = -float(np.sum(resp[positive] * np.log(resp[positive])))
        n_params = self.params_.n_free_params()
        return float(-2.0 * loglik.sum() + n_params * np.log(X.shape[0])
                     + 2.0 * entropy)

    def sample_y(self, X, random_state=None):
        """Draw one target per row from the fitted :math:`p(y \\mid x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        random_state : int, RandomState instance or None, default=None
            Controls the draws. Pass an int for reproducible output across
            multiple function calls.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Target values.
        """
        X = self._check_X(X)
        self._check_density_defined("sample_y")
        return self.params_.sample_y(X, random_state=random_state)

    def predict_quantiles(self, X, q):
        """Compute quantiles of the fitted distribution :math:`p(y \\mid x)`.

        The mixture distribution function is inverted by bisection.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        q : float or array-like of shape (n_quantiles,)
            Probabilities in (0, 1).

        Returns
        -------
        quantiles : ndarray of shape (n_samples,) or (n_samples, n_quantiles)
            One column per probability (no column axis for a scalar ``q``).
        """
        X = self._check_X(X)
        self._check_density_defined("predict_quantiles")
        return self.params_.quantiles(X, q)

    def predict_interval(self, X, coverage=0.9):
        """Central prediction interval of the fitted :math:`p(y \\mid x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        coverage : float, default=0.9
            Probability mass inside the interval, in (0, 1).

        Returns
        -------
        interval : ndarray of shape (n_samples, 2)
            Lower and upper bounds, the ``(1 - coverage) / 2`` and
            ``(1 + coverage) / 2`` quantiles.
        """
        if not (isinstance(coverage, Real) and 0 < coverage < 1):
            raise ValueError(f"coverage must be a float in (0, 1); got {coverage!r}.")
        check_is_fitted(self)
        self._check_density_defined("predict_interval")
        alpha = (1.0 - coverage) / 2.0
        return self.predict_quantiles(X, [alpha, 1.0 - alpha])
