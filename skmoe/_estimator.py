"""MixtureOfExpertsRegressor: the scikit-learn estimator."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

from ._params import MoEParams
from .experts import EXPERTS, ColumnExperts, Experts, resolve_experts
from .gating import GATINGS, ColumnGating, Gating, resolve_gating
from .noise import (
    DF_BOUNDS,
    DF_MAX_FIXED,
    NOISES,
    NoiseModel,
    noise_for_targets,
    resolve_noise,
)
from .solvers import SOLVER_OBJECTIVES, FitSpec, check_spec, fit_moe, start_used
from .solvers._finish import canonical_permutation, finish_fit
from .solvers._online import check_online, partial_fit_online
from .utils._arrays import as_kernel_array
from .utils._sklearn import (
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
)
from .utils._threads import numba_threads
from .utils._validation import (
    check_data_scale,
    check_sample_weight,
    check_target,
    check_warm_start,
    validate_Xy,
    variance_floor,
)


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
    gating : str or Gating, default="softmax"
        Gating family: a name registered in :data:`skmoe.gating.GATINGS`
        (``"softmax"``, ``"normalized_sigmoid"``, ``"hierarchical_softmax"``,
        ``"gaussian"``, ...) or a gating object such as
        :class:`~skmoe.SoftmaxGating`. The object is cloned in
        ``fit`` and never modified. To tune its hyper-parameters in a grid
        search (nested keys such as ``gating__temperature``) pass an object,
        not a string.
    experts : {"linear", "polynomial", "ffn"} or Experts, default="linear"
        Expert family: a registered name or an experts object such as
        :class:`~skmoe.LinearExperts`, :class:`~skmoe.PolynomialExperts` or
        :class:`~skmoe.FFNExperts`, cloned in ``fit``.
    gate_features : array-like or None, default=None
        The columns of ``X`` the gate reads: column indices, feature names
        (with a pandas DataFrame, see ``feature_names_in_``) or a boolean mask
        of length ``n_features_in_``; None reads all of them. An empty
        selection (``[]``) gives **covariate-free weights**
        :math:`g_k = \\mathrm{softmax}(\\beta_0)_k`, the classic mixture of
        linear regressions (flexmix's default ``FLXPconstant``, mixtools'
        ``regmixEM``). The fitted gate is then a
        :class:`~skmoe.gating.ColumnGating` around ``gating``, and
        ``params_.gate_coef`` has one column per selected feature, in the
        order given. A feature may serve both the gate and the experts. See
        :ref:`covariates`.
    expert_features : array-like or None, default=None
        The columns of ``X`` the experts (routed and shared) read, given as
        for ``gate_features``; None reads all of them. An empty selection
        gives intercept-only experts (for linear experts a mixture of
        Gaussians whose weights depend on the gate's features, MoEClust's
        gating-only model). The fitted experts are then a
        :class:`~skmoe.experts.ColumnExperts` around ``experts``, and an
        expert's row in ``params_.expert_params`` holds the parameters of the
        selected features only. A selection of all columns in their order is
        the same as None.
    solver : {"em", "lbfgs", "gd", "tensor", "two_loss"}, default="em"
        Fitting algorithm. ``"em"``: expectation-maximisation (likelihood
        only), with the experts' and the gate's own updates (monotone).
        ``"lbfgs"``: :func:`scipy.optimize.minimize` with ``method="L-BFGS-B"``
        on all parameters at once (gate, experts and, for the likelihood,
        log-variances bounded below by the variance floor). ``"gd"``: plain
        gradient descent with Armijo backtracking, the baseline of the
        convergence-rate papers. The gradient solvers need families that
        implement ``grad``; an impossible combination raises a ``ValueError``
        naming the solver, the objective and the family before fitting.
        ``"tensor"``: the cross-moment tensor method of arXiv:1802.07417 for
        linear experts and (approximately) Gaussian inputs: expert directions
        from moments of the whitened data, then EM on the gate, variances and
        expert scales/intercepts with the directions fixed (see
        :ref:`tensor_method`; needs ``n_experts <= n_features`` and enough
        samples for third-order moments). ``"two_loss"``: two losses
        minimised by gradient methods, after arXiv:1906.02777: a
        landscape-designed loss (no spurious local minima) for the experts,
        on the same moment tensor, then the conditional likelihood for the
        gate, variances and expert scales/intercepts by L-BFGS-B with the
        expert directions fixed (same requirements; the gate family must
        implement ``grad``).
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
        Number of restarts; the one with the best objective is kept. With
        ``init_params="auto"`` every restart is an independent pool: its own
        20 candidate starts and short runs, its best run on to convergence
        (``n_init`` pools cost ``n_init`` times one). One pool reached the
        best known optimum on the real data sets of :mod:`skmoe.datasets`
        (see :ref:`starts`), hence the default 1. With two or more
        restarts, a :class:`~skmoe.MultipleOptimaWarning` says when the
        converged restarts ended at clearly different optima and the best
        was reached by one of them only.
    init_params : {"auto", "random", "kmeans", "tensor"} or MoEParams, \
            default="auto"
        Starting point. ``"auto"`` (the default): 20 candidate starts, in
        turn random gate hyperplanes (as ``"random"``), weighted k-means
        clusters of the standardised ``(X, y)``, k-means cells of the
        standardised ``X`` and clusters around regression lines through
        random rows; each runs 10 EM iterations, and the one with the
        highest log-likelihood after them runs on to convergence (its
        ``history_`` and ``n_iter_`` include those 10 iterations). It costs
        about 200 EM iterations more than a single start, and on the
        classic data sets of :mod:`skmoe.datasets` it reaches the best known
        optimum where a single random or k-means start often does not (see
        :ref:`starts`); integer sample weights are equivalent to repeated
        rows. The pool runs for models whose gate has the ability
        ``"short_runs"`` (softmax, normalized sigmoid and Gaussian gates);
        a top-K selection (``top_k < n_experts``) and the hierarchical gate
        start from ``"random"`` instead, where short runs ranked the starts
        worse (``verbose`` says so; ``init_params_`` names the start used).
        With ``solver="lbfgs"`` or ``"gd"`` the chosen short EM run is the
        gradient solver's start. ``"random"``: random gate hyperplanes
        through the data mean with experts fitted to that soft partition
        (it depends on the data only through weighted sums, so integer
        sample weights are equivalent to repeated rows). ``"kmeans"``:
        weighted k-means clusters (k-means++ seeding, Lloyd iterations) of
        the standardised ``(X, y)``, independent of the row order. An
        :class:`~skmoe.MoEParams`: start from these parameters, as the
        convergence-rate papers do. ``"tensor"``: the fit of
        ``solver="tensor"`` with 100 gate EM iterations (same requirements).
        ``solver="tensor"`` and ``"two_loss"`` start from their own moment
        estimate and ignore the strings; an :class:`~skmoe.MoEParams`
        replaces the moment estimate (its expert directions are then held
        fixed).
    random_state : int, RandomState instance or None, default=None
        Controls the random starting points. Pass an int for reproducible
        output across multiple function calls.
    warm_start : bool, default=False
        If True and the estimator is already fitted, ``fit`` continues from
        ``params_`` (one run, ``n_init`` ignored). The gating and expert
        families must be those of the previous fit (same classes and
        parameter layouts; other hyper-parameters may change), otherwise a
        ``ValueError`` says so.
    reg_var : float, default=1e-6
        Variance floor, relative to the weighted variance of ``y``: every
        expert variance is kept at least ``reg_var * Var(y)``, which bounds the
        likelihood and prevents a component from collapsing onto a few points.
        For a ``y`` constant to float64's precision (its computed variance is
        round-off) the floor is ``reg_var`` times the mean of ``y**2`` (times 1
        for ``y = 0``).
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
    learning_decay : float, default=0.7
        Exponent :math:`\\alpha \\in (0.5, 1]` of the step sizes
        :math:`\\gamma_t = (t + t_0)^{-\\alpha}` of :meth:`partial_fit`
        (online EM): the weight of batch ``t`` in the running averages of the
        sufficient statistics. Values in (0.5, 1] satisfy the Robbins-Monro
        conditions. Used by :meth:`partial_fit` only.
    learning_offset : float, default=10.0
        Offset :math:`t_0 \\geq 0` of the step sizes of :meth:`partial_fit`;
        larger values down-weight the early batches less abruptly. With
        ``learning_decay=1`` and ``learning_offset=0`` the running statistics
        are the plain average of the batches' statistics. Used by
        :meth:`partial_fit` only.
    noise : {"gaussian", "student_t", "poisson", "binomial", \
            "multivariate_gaussian"} or NoiseModel, default="gaussian"
        Noise model of the experts (the law of ``y`` given an expert).
        ``"gaussian"`` with a 2-D ``y`` of shape (n_samples, n_targets):
        several responses sharing the gate, each expert a linear map with a
        full ``n_targets x n_targets`` noise covariance
        (:class:`~skmoe.noise.MultivariateGaussianNoise`; pass
        ``MultivariateGaussianNoise(covariance_type="diag")`` for
        uncorrelated responses); ``predict`` then returns (n_samples,
        n_targets) and :meth:`log_density` is the joint density. Only with
        ``solver="em"``, ``objective="likelihood"``, no shared experts and
        (for full covariances) linear or polynomial experts; the other noise
        models take a 1-D ``y`` (otherwise a ``ValueError`` naming ``y``).
        ``"student_t"``: the t mixture of experts (Chamroukhi 2016,
        arXiv:1701.07429), robust to outliers and heavy tails, fitted by EM
        with latent scale weights (:class:`~skmoe.noise.StudentTNoise`);
        ``params_.variance`` then holds the squared scales and
        ``params_.noise_df`` the degrees of freedom. Only with
        ``solver="em"``, ``objective="likelihood"`` and no shared experts
        (otherwise a ``ValueError`` before fitting). ``"poisson"`` and
        ``"binomial"``: GLM experts for counts (log link) and proportions
        (logit link; ``sample_weight`` is then the number of trials of each
        row), fitted by EM with an IRLS update of the experts; the experts'
        outputs are the linear predictors, ``predict`` is the mixture mean
        and ``params_.variance`` is held at 1 (no variance parameter). With
        ``solver="em"``, ``"lbfgs"`` or ``"gd"`` and
        ``objective="likelihood"``, without shared experts (see
        :class:`~skmoe.noise.PoissonNoise`,
        :class:`~skmoe.noise.BinomialNoise` and the user guide).
    noise_df : float or None, default=None
        Degrees of freedom of ``noise="student_t"``: None estimates one per
        expert (in ``[1, 200]``, counted by :meth:`bic`); a float in ``[1,
        1e6]`` fixes them. Must be None with the other noise models.
    record_routing : bool, default=False
        If True (EM only), keep the top-``routing_k`` routed experts of every
        training row at the start and after every EM iteration of the kept
        restart, in ``routing_history_`` (router diagnostics along EM,
        :mod:`skmoe.diagnostics`). Memory: ``(n_iter_ + 1) * n_samples *
        routing_k`` small integers (one byte each up to 256 experts), e.g.
        200 MB for 1000 iterations on 100 000 rows with ``routing_k=2``;
        every restart records, and the record of the kept one is stored.
        :meth:`partial_fit` records nothing, but refuses the values ``fit``
        refuses (``solver`` other than ``"em"``, ``routing_k >
        n_experts``).
    routing_k : int, default=1
        Size ``k`` of the recorded top-k sets, at most ``n_experts``: 1 is
        the argmax of the gate; for a top-K gate use its ``top_k``. Ignored
        unless ``record_routing=True``.
    n_jobs : int or None, default=None
        Number of Numba threads of the row-parallel kernels during ``fit``,
        ``partial_fit``, ``predict``, ``log_density``, ``bic``, ``aic``,
        ``icl`` and ``standard_errors``: None means 1 (unless in a
        :func:`joblib.parallel_config` context), -1 all CPUs, as in
        scikit-learn. The previous Numba setting
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
        experts, not counting the plain fit that gives the EM start). After
        :meth:`partial_fit`: the number of batches of the stream, as
        ``n_batches_``.
    init_params_ : str
        The start the last :meth:`fit` made: ``"auto"``, ``"random"``
        (asked for, or ``init_params="auto"`` falling back for a gate
        without the ability ``"short_runs"``), ``"kmeans"``, ``"tensor"``,
        ``"given"`` (an :class:`~skmoe.MoEParams`), ``"warm_start"``, or the
        moment solver's name (``solver="tensor"`` or ``"two_loss"``). Not set
        by :meth:`partial_fit`.
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
    n_batches_ : int
        Number of batches seen by :meth:`partial_fit` since the stream
        started. Only set by :meth:`partial_fit`.
    routing_history_ : ndarray of int of shape (`n_iter_` + 1, n_samples, \
            routing_k)
        Only with ``record_routing=True``: ``routing_history_[t, i]`` holds the
        ``routing_k`` routed experts with the largest gate weights
        :math:`g_k(x_i)` on training row ``i`` (rows of zero weight included)
        at the start (``t = 0``) and after EM iteration ``t`` of the kept
        restart, largest first, ties to the lower index
        (:func:`skmoe.diagnostics.top_k_experts`), with the experts labelled
        as in ``params_`` (canonical order). A routing table for
        :func:`skmoe.diagnostics.router_saturation`,
        :func:`~skmoe.diagnostics.router_change_rate` and (one checkpoint)
        :func:`~skmoe.diagnostics.expert_utilization`.
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

    **Scale of the data.** ``fit`` and :meth:`partial_fit` refuse, with a
    ``ValueError`` naming ``X``, ``y`` or ``sample_weight``, data whose
    magnitudes leave the range ``[2**-256, 2**256]`` in which the solvers'
    weighted sums of squares neither overflow nor lose precision (the
    largest ``|x_ij|`` of every column, the largest ``|y_i|``, the total
    sample weight; for polynomial experts of degree ``D`` the columns of
    ``X`` within ``[2**(-256/D), 2**(256/D)]``). Data inside the range are
    fitted unchanged; rescale data beyond it (the parameters follow the
    units). See :ref:`the user guide <data_scale>`.

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
        "gate_features": [None, "array-like"],
        "expert_features": [None, "array-like"],
        "solver": [StrOptions(set(SOLVER_OBJECTIVES))],
        "objective": [StrOptions({"likelihood", "least_squares"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"auto", "random", "kmeans", "tensor"}),
                        MoEParams],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "reg_var": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "n_shared_experts": [Interval(Integral, 0, None, closed="left")],
        "shared_weight": [Interval(Real, 0, 1, closed="neither")],
        "shared_experts": [None, StrOptions(set(EXPERTS)), Experts],
        "learning_decay": [Interval(Real, 0.5, 1, closed="right")],
        "learning_offset": [Interval(Real, 0, None, closed="left")],
        "noise": [StrOptions(set(NOISES)), NoiseModel],
        "noise_df": [None, Interval(Real, DF_BOUNDS[0], DF_MAX_FIXED,
                                    closed="both")],
        "record_routing": ["boolean"],
        "routing_k": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        n_experts=3,
        *,
        gating="softmax",
        experts="linear",
        gate_features=None,
        expert_features=None,
        solver="em",
        objective="likelihood",
        max_iter=300,
        tol=1e-6,
        n_init=1,
        init_params="auto",
        random_state=None,
        warm_start=False,
        reg_var=1e-6,
        verbose=0,
        n_shared_experts=0,
        shared_weight=0.5,
        shared_experts=None,
        learning_decay=0.7,
        learning_offset=10.0,
        noise="gaussian",
        noise_df=None,
        record_routing=False,
        routing_k=1,
        n_jobs=None,
    ):
        self.n_experts = n_experts
        self.gating = gating
        self.experts = experts
        self.gate_features = gate_features
        self.expert_features = expert_features
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
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.noise = noise
        self.noise_df = noise_df
        self.record_routing = record_routing
        self.routing_k = routing_k
        self.n_jobs = n_jobs

    # ----------------------------------------------------------------- fit
    def _selection(self, name, n_features):
        """Column indices of ``gate_features`` / ``expert_features``.

        None when the parameter is None or selects every column in order
        (the family then reads all of ``X`` and is not wrapped).
        """
        value = getattr(self, name)
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            items = list(value)
        else:  # an array, a pandas Index or Series: Python scalars
            array = np.asarray(value)
            if array.ndim != 1:
                raise ValueError(f"{name} must be 1-D; got {value!r}.")
            items = array.tolist()
        names = getattr(self, "feature_names_in_", None)
        if all(isinstance(v, (bool, np.bool_)) for v in items) and items:
            if len(items) != n_features:
                raise ValueError(
                    f"{name} as a boolean mask must have one entry per feature "
                    f"({n_features}); got {len(items)}."
                )
            columns = [j for j, v in enumerate(items) if v]
        elif all(isinstance(v, str) for v in items):
            if items and names is None:
                raise ValueError(
                    f"{name} names features ({items[0]!r}), but X has no "
                    "feature names: fit with a pandas DataFrame, or give "
                    "column indices."
                )
            position = {} if names is None else {
                str(n): j for j, n in enumerate(names)}
            columns = []
            for v in items:
                if v not in position:
                    raise ValueError(
                        f"{name}: unknown feature {v!r}; the features are "
                        f"{', '.join(map(str, names))}."
                    )
                columns.append(position[v])
        elif all(isinstance(v, (Integral, np.integer))
                 and not isinstance(v, (bool, np.bool_)) for v in items):
            columns = [int(v) for v in items]
            for j in columns:
                if not 0 <= j < n_features:
                    raise ValueError(
                        f"{name}: column index {j} is outside [0, {n_features}) "
                        f"for X with {n_features} features."
                    )
        else:
            raise ValueError(
                f"{name} must hold column indices, feature names or a boolean "
                f"mask; got {value!r}."
            )
        seen = set()
        for j in columns:
            if j in seen:
                label = repr(str(names[j])) if names is not None else f"column {j}"
                raise ValueError(f"{name} lists {label} twice.")
            seen.add(j)
        return None if columns == list(range(n_features)) else columns

    def _spec(self, var_floor=0.0, rng=None, start=None, n_features=None):
        """The fit specification of the hyper-parameters (families resolved).

        Every family is resolved (a registered name, or a clone of the given
        object) and validated; the estimator's own parameters were validated
        by ``_fit_context``. With ``n_features`` (the data's width), a gate
        or experts on a column selection (``gate_features``,
        ``expert_features``) are wrapped in :class:`~skmoe.gating.ColumnGating`
        / :class:`~skmoe.experts.ColumnExperts`; without it (no data) they are
        not, which changes no ability but ``"linear"``.
        """
        S = self.n_shared_experts
        gating = resolve_gating(self.gating)
        experts = resolve_experts(self.experts)
        shared = None
        if S and self.shared_experts is not None:
            shared = resolve_experts(self.shared_experts)
        if n_features is not None:
            columns = self._selection("gate_features", n_features)
            if columns is not None:
                gating = ColumnGating(gating, columns, n_features)
            columns = self._selection("expert_features", n_features)
            if columns is not None:
                experts = ColumnExperts(experts, columns, n_features)
                if shared is not None:
                    shared = ColumnExperts(shared, columns, n_features)
        return FitSpec(
            n_experts=self.n_experts,
            gating=gating,
            experts=experts,
            noise=resolve_noise(self.noise, self.noise_df),
            solver=self.solver,
            objective=self.objective,
            init_params=self.init_params,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            var_floor=var_floor,
            rng=rng,
            verbose=self.verbose,
            start=start,
            n_shared_experts=S,
            shared_weight=self.shared_weight,
            shared_experts=shared,
            record_routing_k=self._check_record_routing(),
            learning_decay=self.learning_decay,
            learning_offset=self.learning_offset,
        )

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
            rows. For ``noise="binomial"``: the number of trials of each row
            (positive whole numbers; ``y`` is then the proportion of
            successes), each row counting once.

        Returns
        -------
        self : MixtureOfExpertsRegressor
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid data, naming the input; in particular for data
            beyond float64's comfortable range: a column of ``X``, ``y`` or
            the total sample weight of magnitude outside ``[2**-256,
            2**256]`` (about ``[8.6e-78, 1.2e77]``; for polynomial experts of
            degree ``D`` every column of ``X`` within ``[2**(-256/D),
            2**(256/D)]``), see :ref:`the user guide <data_scale>`.
        """
        # the noise model for the shape of y (several responses: the law of
        # several responses), then the response family's own checks (a y of
        # the wrong shape, a negative count): the errors name y and the family
        spec = self._spec_for(y, self._several_responses() is None)
        _check_for_targets(check_spec, spec, y)
        spec.noise.check_y(y, sample_weight)
        X, y = validate_Xy(self, X, y, y_numeric=True, dtype=np.float64, order="C",
                           multi_output=spec.noise.multi_output)
        sample_weight = check_sample_weight(sample_weight, X)
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
        # the column selections need the data's width; the noise model is
        # the one chosen for the shape of y
        spec = self._spec(n_features=n_features).replace(noise=spec.noise)
        spec.gating.check_n_experts(K, n_features)
        check_data_scale(X, y, sample_weight, spec.experts,
                         spec.shared_experts if self.n_shared_experts else None)
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
            _check_n_targets("init_params", init, y)
        var_floor = variance_floor(y, sample_weight, self.reg_var)
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
            _check_n_targets("warm_start=True: the previous fit", start, y)
            for role in ("gating", "experts"):
                before = getattr(start, role).input_columns(n_features)
                now = getattr(spec, role).input_columns(n_features)
                if not np.array_equal(before, now):
                    which = "gate" if role == "gating" else "expert"
                    raise ValueError(
                        f"warm_start=True needs the same {which}_features as "
                        f"the previous fit; the {role} read columns "
                        f"{before.tolist()} before and {now.tolist()} now."
                    )
            check_warm_start(start, spec.gating, spec.experts,
                             spec.shared_experts if S else None)
        spec = spec.replace(var_floor=var_floor,
                            rng=check_random_state(self.random_state), start=start)
        with numba_threads(self.n_jobs):
            result = fit_moe(X, y, sample_weight, spec)
            params, self.empty_experts_ = finish_fit(
                result.params, X, y, sample_weight, self.objective, result.masses
            )
        gating, experts = spec.gating, spec.experts
        self.gating_ = gating
        self.experts_ = experts
        self.params_ = params
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.init_params_ = start_used(spec)[0]
        self._fitted_objective = self.objective
        if self.objective == "likelihood":
            self.log_likelihood_ = result.log_likelihood
        else:
            self.__dict__.pop("log_likelihood_", None)  # from an earlier fit
        self.history_ = result.history
        self.__dict__.pop("routing_history_", None)  # from an earlier fit
        if result.routing is not None:
            # solver labels -> the canonical labels of params_
            order = canonical_permutation(
                result.params, X, result.params.noise.row_weights(sample_weight))
            label = np.empty_like(order)
            label[order] = np.arange(order.size)
            self.routing_history_ = label.astype(result.routing.dtype)[
                result.routing]
        self.__dict__.pop("_online_state", None)  # fit ends any stream
        self.__dict__.pop("n_batches_", None)
        return self

    def _check_online(self):
        """``partial_fit`` exists only for configurations online EM supports.

        Invalid hyper-parameters return True so that ``partial_fit`` itself
        reports them (``InvalidParameterError``); for an unsupported valid
        configuration the ``ValueError`` of ``check_online``, naming the
        parameter, becomes the cause of ``available_if``'s ``AttributeError``.
        """
        try:
            self._validate_params()
            spec = self._spec()
        except ValueError:
            return True
        check_online(spec)
        return True

    @available_if(_check_online)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one batch of data (online EM).

        The first call starts a stream: it fits the batch by ``fit``'s
        algorithm (``solver``, ``init_params``, ``n_init``, ``max_iter``,
        ``tol``, ``random_state``) and takes that fit's sufficient statistics
        as the running averages. Every later call is one step of online EM
        [1]_: an E-step on the batch at the current parameters, running
        averages of the statistics with weight :math:`\\gamma_t = (t +
        t_0)^{-\\alpha}` (``learning_offset``, ``learning_decay``) for batch
        ``t``, and the M-step from the averages. The experts' statistics are
        exact (for linear experts: weighted Gram matrices, cross-products,
        sums of squares); the softmax gate has none, so the running averages
        hold its local quadratic (Newton) model, see Notes. Calling
        :meth:`fit` ends the stream, and a ``partial_fit`` after ``fit``
        starts a new one from its batch (the fitted ``params_`` and
        ``warm_start`` are not used).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of inputs (the same features in every call).
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the batch's total weight must be positive.

        Returns
        -------
        self : MixtureOfExpertsRegressor
            The updated estimator.

        Raises
        ------
        AttributeError
            On access, for a configuration online EM does not support (the
            method then does not exist, ``hasattr(est, "partial_fit")`` is
            False, as for scikit-learn's parameter-dependent methods). Its
            cause is a ``ValueError`` naming the parameter:
            ``objective="least_squares"``,
            ``n_shared_experts > 0``, a gate without
            :meth:`~skmoe.Gating.newton_terms` (only the dense
            :class:`~skmoe.SoftmaxGating` without ``activation``,
            ``learn_temperature`` or ``schedule`` has them) or experts without
            :meth:`~skmoe.Experts.online_statistics` (such as
            :class:`~skmoe.FFNExperts`).
        ValueError
            If the batch has a different number of features than the first
            one, or only zero sample weights, or data beyond float64's
            comfortable range (as in :meth:`fit`).

        Notes
        -----
        Online EM keeps, for every expert ``k``, running averages of the
        per-unit-weight statistics :math:`\\sum_i w_i r_{ik} f_i f_i^\\top`,
        :math:`\\sum_i w_i r_{ik} f_i y_i`, :math:`\\sum_i w_i r_{ik} y_i^2`
        and :math:`\\sum_i w_i r_{ik}` (``f_i`` the design row); the experts
        and variances are the closed-form maximisers given the averages. For
        the gate, batch ``t`` contributes the gradient :math:`g_t` and
        negative Hessian :math:`H_t` of :math:`\\sum_{ik} w_i r_{ik} \\log
        g_k(x_i; \\theta)` at the current :math:`\\theta_t`; the running
        averages :math:`\\bar H` of :math:`H_t` and :math:`\\bar v` of
        :math:`g_t + H_t \\theta_t` give the new gate :math:`\\theta = \\bar
        H^{-1} \\bar v`, the maximiser of the averaged quadratic models. At a
        fixed point the averaged gradient vanishes, which is the stationarity
        condition of the gate's EM update on the averaged statistics.

        Fitted attributes after a call: ``params_`` (canonical order on the
        current batch), ``empty_experts_`` (on the current batch),
        ``gating_``, ``experts_``, ``n_batches_`` and ``n_iter_`` (both the
        number of batches of the stream; the EM iterations of the first
        batch's fit are not counted). ``converged_``, ``log_likelihood_`` and
        ``history_`` describe a batch fit and are not set.

        References
        ----------
        .. [1] Cappé, O. and Moulines, E. (2009). On-line
           expectation-maximization algorithm for latent data models. Journal
           of the Royal Statistical Society B 71(3), 593-613.
           arXiv:0712.4273.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y, truth = make_moe_regression(2000, 2, 2, random_state=0)
        >>> est = MixtureOfExpertsRegressor(n_experts=2, random_state=0)
        >>> for start in range(0, 2000, 500):
        ...     est = est.partial_fit(X[start:start + 500], y[start:start + 500])
        >>> est.n_batches_
        4
        """
        first = not hasattr(self, "_online_state")
        # online EM has no law of several responses: a 2-D y is refused by
        # check_online, naming y
        spec = self._spec_for(y, False)
        _check_for_targets(check_online, spec, y)
        X, y = validate_Xy(self, X, y, y_numeric=True, dtype=np.float64, order="C",
                           reset=first)
        sample_weight = check_sample_weight(sample_weight, X)
        X, y = as_kernel_array(X), as_kernel_array(y)
        sample_weight = as_kernel_array(sample_weight)
        K = self.n_experts
        # with the record_routing checks of fit
        spec = self._spec(n_features=X.shape[1])
        check_data_scale(X, y, sample_weight, spec.experts)
        spec.gating.check_n_experts(K, X.shape[1])
        check_online(spec)
        if first and np.count_nonzero(sample_weight) < max(2, K):
            raise ValueError(
                f"The first partial_fit batch has {np.count_nonzero(sample_weight)} "
                f"samples of non-zero weight, too few for n_experts={K}."
            )

        def first_fit(X, y, sample_weight, var_floor):
            return fit_moe(X, y, sample_weight, spec.replace(
                var_floor=var_floor, rng=check_random_state(self.random_state),
                record_routing_k=None)).params

        with numba_threads(self.n_jobs):
            state, loglik = partial_fit_online(
                None if first else self._online_state, X, y, sample_weight,
                reg_var=self.reg_var, learning_decay=spec.learning_decay,
                learning_offset=spec.learning_offset, first_fit=first_fit,
            )
            params, self.empty_experts_ = finish_fit(
                state.params, X, y, sample_weight, "likelihood"
            )
        if self.verbose:
            print(f"batch {state.n_batches:6d}  mean log-lik before update "
                  f"{loglik: .8e}")
        self._online_state = state
        self.gating_ = spec.gating
        self.experts_ = spec.experts
        self.params_ = params
        self.n_batches_ = self.n_iter_ = state.n_batches
        self.__dict__.pop("init_params_", None)  # from an earlier fit
        self._fitted_objective = "likelihood"
        for name in ("converged_", "log_likelihood_", "history_",
                     "routing_history_"):
            self.__dict__.pop(name, None)
        return self

    # -------------------------------------------------- several responses
    def _several_responses(self):
        """Why this configuration cannot fit several responses (None: it can).

        It can when the noise model's law has a counterpart for a 2-D ``y``
        (``noise="gaussian"``: :class:`~skmoe.noise.MultivariateGaussianNoise`)
        and the solver, the objective and the families meet the requirements
        of that law (:func:`~skmoe.solvers.check_spec`): EM on the
        likelihood, no shared experts, experts fitted by exact least squares
        for full covariances.
        """
        # the families as declared (a registered name's default object, a
        # given object as is): the tags are asked on every validation, so the
        # clones and parameter validation of _spec are not repeated here
        try:
            spec = FitSpec(
                n_experts=self.n_experts, gating=_declared(self.gating, GATINGS),
                experts=_declared(self.experts, EXPERTS),
                noise=noise_for_targets(_declared(self.noise, NOISES), (2, 2)),
                solver=self.solver, objective=self.objective,
                init_params=self.init_params,
                n_shared_experts=self.n_shared_experts,
                shared_experts=(None if self.shared_experts is None
                                else _declared(self.shared_experts, EXPERTS)),
            )
            check_spec(spec)
        except (KeyError, TypeError, ValueError) as exc:
            return str(exc)
        return None

    def _spec_for(self, y, several):
        """The fit specification with the noise model for the shape of ``y``.

        A 2-D ``y`` of several responses takes the law of several responses;
        a column vector (n_samples, 1) too when ``several`` (this
        configuration can fit several responses, :meth:`_several_responses`),
        else it is one response, which scikit-learn's validation ravels with
        a ``DataConversionWarning``. ``y`` of more than two dimensions, or of
        several responses under a law of one response, gets a ValueError
        naming ``y`` and the noise model.
        """
        spec = self._spec()
        try:
            shape = np.asarray(y).shape
        except (TypeError, ValueError):  # a ragged sequence: validate_Xy names it
            return spec
        if len(shape) == 2 and shape[1] == 1 and not several:
            shape = shape[:1]
        return spec.replace(noise=noise_for_targets(spec.noise, shape))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = self._several_responses() is None
        return tags

    def _check_record_routing(self):
        """``routing_k`` when routing is recorded, else None; ValueError if
        impossible."""
        if not self.record_routing:
            return None
        if self.solver != "em":
            raise ValueError(
                "record_routing=True records the routing along EM iterations; "
                f"got solver={self.solver!r}. Use solver='em'."
            )
        if self.routing_k > self.n_experts:
            raise ValueError(
                f"routing_k={self.routing_k} must not exceed n_experts="
                f"{self.n_experts}."
            )
        return self.routing_k

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
        X = validate_Xy(self, X, reset=False, dtype=np.float64, order="C")
        return as_kernel_array(X)

    def predict(self, X):
        """Mixture mean :math:`E[y \\mid x] = \\sum_k g_k(x) \\mu_k(x)`.

        :math:`\\mu_k(x)` is expert ``k``'s mean (:meth:`predict_experts`):
        its output :math:`h(x; \\eta_k)` for Gaussian and Student-t noise,
        :math:`e^{h}` for Poisson counts, :math:`1 / (1 + e^{-h})` for
        binomial proportions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Mixture mean for every sample (of every response, for a model
            fitted to a 2-D ``y``).
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
        """Mean of every routed expert, :math:`E[y \\mid x, k]`.

        The experts' outputs :math:`h(x; \\eta_k)` for Gaussian and
        Student-t noise; for ``noise="poisson"`` and ``"binomial"`` the
        means :math:`g^{-1}(h(x; \\eta_k))` (counts, success
        probabilities), whose linear predictors are
        ``params_.expert_predictors(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts) or \
                (n_samples, n_experts, n_targets)
            Expert means (of every response, for a model fitted to a 2-D
            ``y``).
        """
        X = self._check_X(X)
        return self.params_.expert_means(X)

    def _check_Xy(self, X, y, sample_weight=None):
        """Validated ``X``, ``y`` and weights (None when not given).

        ``y`` and the weights also pass the noise model's
        :meth:`~skmoe.noise.NoiseModel.check_y` (counts, proportions and
        trials of a GLM family).
        """
        X = self._check_X(X)
        self.params_.noise.check_y(y, sample_weight)
        y = check_target(y, X.shape[0], self.params_.n_targets)
        if sample_weight is not None:
            sample_weight = as_kernel_array(check_sample_weight(sample_weight, X))
        return X, y, sample_weight

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination :math:`R^2` of :meth:`predict`.

        As :meth:`sklearn.base.RegressorMixin.score`, with ``y`` checked
        first (a ``ValueError`` naming ``y`` for values that are not finite
        real numbers). For several responses, the mean of the responses'
        :math:`R^2` (``multioutput="uniform_average"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            :math:`R^2` of ``predict(X)`` with respect to ``y``.
        """
        y_pred = self.predict(X)
        y = check_target(y, y_pred.shape[0], self.params_.n_targets)
        # lazy: sklearn.metrics is most of what import skmoe adds to sklearn
        from sklearn.metrics import r2_score

        return r2_score(y, y_pred, sample_weight=sample_weight)

    def predict_membership(self, X, y, sample_weight=None):
        """Posterior probability of every component given ``x`` and ``y``.

        :math:`p(z_i = k \\mid x_i, y_i) = g_k(x_i)\\, p_k(y_i \\mid x_i) /
        \\sum_j g_j(x_i)\\, p_j(y_i \\mid x_i)`, the responsibilities of the
        E-step (flexmix's ``posterior``). The columns are the routed experts,
        then the shared experts if any, as in
        :meth:`predict_component_weights`: a shared expert is a component of
        the mixture like the routed ones, and leaving it out would make the
        rows sum to less than one. For Student-t noise the posterior of the t
        mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            For ``noise="binomial"``: the number of trials of each row (None:
            one). Unused by the other noise models.

        Returns
        -------
        membership : ndarray of shape (n_samples, n_experts + n_shared_experts)
            Rows are non-negative and sum to one.
        """
        X, y, sample_weight = self._check_Xy(X, y, sample_weight)
        self._check_density_defined("predict_membership")
        with numba_threads(self.n_jobs):
            return self.params_._posterior(X, y, sample_weight)[0]

    def predict_cluster(self, X, y, sample_weight=None):
        """Hard assignment of every sample to its most probable component.

        The argmax of :meth:`predict_membership` (flexmix's ``clusters``,
        numbered from 0 like the columns of ``params_``; ties go to the lower
        index). Shared experts are numbered after the routed ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            For ``noise="binomial"``: the number of trials of each row.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,)
            Component indices in ``[0, n_experts + n_shared_experts)``.
        """
        return np.argmax(self.predict_membership(X, y, sample_weight), axis=1)

    def summary(self, X, y, sample_weight=None):
        """The fitted model's report: parameters with standard errors, sizes, fit.

        Like R's ``summary(flexmix)`` and ``parameters()``: the experts'
        priors (mean mixture weight) and sizes (hard assignments,
        :meth:`predict_cluster`), every gate and expert coefficient named by
        feature (``feature_names_in_``, or ``x0, x1, ...``) with its standard
        error from the observed information, Wald ``z`` and two-sided ``p``
        value, the variances with their standard errors, and the
        log-likelihood, degrees of freedom, AIC, BIC, ICL, ``n``, iterations
        and convergence. Where a number is not defined, a note says why (the
        gate's reference expert, Student-t noise, a top-K gate, shared
        experts, a least-squares fit).

        Pass the training data: the standard errors are a sum over it (see
        :meth:`standard_errors`), and so are the sizes, the priors and ICL;
        scikit-learn estimators keep no training data (a fitted estimator
        stays small, and pickling it stores no data). The report says when
        the log-likelihood of the data given is not the fit's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training inputs.
        y : array-like of shape (n_samples,)
            The training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            The training sample weights (frequency weights: sizes are sums of
            weights, ``n`` in BIC the total weight, as :meth:`bic`; for
            ``noise="binomial"`` the numbers of trials).

        Returns
        -------
        summary : MoESummary
            Printable (``print(summary)``), shown as HTML in a notebook;
            ``summary.to_frame()`` gives the coefficient table,
            ``to_frame("components")`` and ``to_frame("statistics")`` the
            others.

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_moe_regression
        >>> X, y, _ = make_moe_regression(500, 1, 2, noise=0.2, random_state=0)
        >>> est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
        >>> report = est.summary(X, y)
        >>> frame = report.to_frame()
        >>> list(frame.columns)
        ['estimate', 'std_error', 'z', 'p_value', 'note']
        >>> frame.loc[(1, "gate", "x0"), "note"]
        'reference'
        """
        from ._summary import summarize

        return summarize(self, X, y, sample_weight=sample_weight)

    def _loglik_and_size(self, X, y, sample_weight, method):
        """Total log-likelihood, responsibilities and number of observations.

        With weights: :math:`\\sum_i v_i \\log p(y_i \\mid x_i)` and
        :math:`n = \\sum_i v_i`, ``v`` the noise model's row weights
        (the frequency weights; ones for binomial trials).
        """
        X, y, sample_weight = self._check_Xy(X, y, sample_weight)
        self._check_density_defined(method)
        with numba_threads(self.n_jobs):
            resp, loglik, _ = self.params_._posterior(X, y, sample_weight)
        if sample_weight is None:
            return float(loglik.sum()), resp, None, X.shape[0]
        rows = self.params_.noise.row_weights(sample_weight)
        return float(rows @ loglik), resp, rows, float(rows.sum())

    def log_density(self, X, y, sample_weight=None):
        """Per-sample conditional log-density :math:`\\log p(y_i \\mid x_i)`.

        For ``noise="poisson"`` and ``"binomial"`` the log-probability of the
        count or proportion, normalising terms included (:math:`-\\log y!`,
        the log binomial coefficient), as R's ``dpois`` and ``dbinom``. For
        several responses, the joint density of the row's responses.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            For ``noise="binomial"``: the number of trials of each row (None:
            one). The other noise models' densities do not depend on it.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Conditional log-density of every sample.
        """
        X, y, sample_weight = self._check_Xy(X, y, sample_weight)
        self._check_density_defined("log_density")
        with numba_threads(self.n_jobs):
            return self.params_.log_density(X, y, sample_weight)

    def bic(self, X, y, sample_weight=None):
        """Bayesian information criterion on ``(X, y)``; lower is better.

        ``-2 log L + n_params log n``, with ``n_params`` the free parameters
        (gate after the identifiability constraint, experts, the noise
        model's parameters: variances, estimated degrees of freedom; none for
        ``noise="poisson"`` and ``"binomial"``; for several responses
        ``m (m + 1) / 2`` covariance entries per expert, ``m`` with
        ``covariance_type="diag"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights: :math:`\\log L = \\sum_i w_i \\log p(y_i
            \\mid x_i)` and :math:`n = \\sum_i w_i`. For
            ``noise="binomial"``, the number of trials of each row (each row
            counts once). None: every row once.

        Returns
        -------
        bic : float
            The criterion value.
        """
        loglik, _, _, n = self._loglik_and_size(X, y, sample_weight, "bic")
        return float(-2.0 * loglik + self.params_.n_free_params() * np.log(n))

    def aic(self, X, y, sample_weight=None):
        """Akaike information criterion on ``(X, y)``; lower is better.

        ``-2 log L + 2 n_params``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`bic`.

        Returns
        -------
        aic : float
            The criterion value.
        """
        loglik, _, _, _ = self._loglik_and_size(X, y, sample_weight, "aic")
        return float(-2.0 * loglik + 2.0 * self.params_.n_free_params())

    def icl(self, X, y, sample_weight=None):
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
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`bic` (the entropy is weighted alike).

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
        loglik, resp, rows, n = self._loglik_and_size(X, y, sample_weight, "icl")
        positive = resp > 0
        if rows is None:
            entropy = -float(np.sum(resp[positive] * np.log(resp[positive])))
        else:
            terms = np.where(positive, resp * np.log(np.where(positive, resp, 1.0)),
                             0.0)
            entropy = -float(rows @ terms.sum(axis=1))
        n_params = self.params_.n_free_params()
        return float(-2.0 * loglik + n_params * np.log(n) + 2.0 * entropy)

    def sample_y(self, X, random_state=None, sample_weight=None):
        """Draw one target per row from the fitted :math:`p(y \\mid x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        random_state : int, RandomState instance or None, default=None
            Controls the draws. Pass an int for reproducible output across
            multiple function calls.
        sample_weight : array-like of shape (n_samples,), default=None
            For ``noise="binomial"``: the number of trials of each row (None:
            one); the draws are proportions of successes. Unused by the
            other noise models.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Target values (a joint draw of the responses of a model fitted
            to a 2-D ``y``).
        """
        X = self._check_X(X)
        self._check_density_defined("sample_y")
        return self.params_.sample_y(X, random_state=random_state,
                                     sample_weight=sample_weight)

    def predict_quantiles(self, X, q, sample_weight=None):
        """Compute quantiles of the fitted distribution :math:`p(y \\mid x)`.

        The mixture distribution function is inverted by bisection; for
        ``noise="poisson"`` and ``"binomial"`` the quantiles are the
        smallest counts (proportions ``j / a`` of ``a`` trials) whose mixture
        distribution function reaches ``q``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        q : float or array-like of shape (n_quantiles,)
            Probabilities in (0, 1).
        sample_weight : array-like of shape (n_samples,), default=None
            For ``noise="binomial"``: the number of trials of each row (None:
            one). Unused by the other noise models.

        Returns
        -------
        quantiles : ndarray of shape (n_samples,) or (n_samples, n_quantiles)
            One column per probability (no column axis for a scalar ``q``).
            For several responses, the quantiles of each response's marginal
            mixture, of shape (n_samples, n_targets[, n_quantiles]).
        """
        X = self._check_X(X)
        self._check_density_defined("predict_quantiles")
        return self.params_.quantiles(X, q, sample_weight=sample_weight)

    def predict_interval(self, X, coverage=0.9, sample_weight=None):
        """Central prediction interval of the fitted :math:`p(y \\mid x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        coverage : float, default=0.9
            Probability mass inside the interval, in (0, 1).
        sample_weight : array-like of shape (n_samples,), default=None
            For ``noise="binomial"``: the number of trials of each row (None:
            one). Unused by the other noise models.

        Returns
        -------
        interval : ndarray of shape (n_samples, 2)
            Lower and upper bounds, the ``(1 - coverage) / 2`` and
            ``(1 + coverage) / 2`` quantiles. For a discrete law (counts,
            proportions) the interval holds at least ``coverage`` of the
            mass when its ends are included. For several responses,
            marginal intervals of shape (n_samples, n_targets, 2).
        """
        if not (isinstance(coverage, Real) and 0 < coverage < 1):
            raise ValueError(f"coverage must be a float in (0, 1); got {coverage!r}.")
        check_is_fitted(self)
        self._check_density_defined("predict_interval")
        alpha = (1.0 - coverage) / 2.0
        return self.predict_quantiles(X, [alpha, 1.0 - alpha],
                                      sample_weight=sample_weight)

    def standard_errors(self, X, y, sample_weight=None):
        """Standard errors of ``params_`` from the observed information.

        The inverse of minus the Hessian of the weighted log-likelihood at the
        estimate, in the gate's identified parametrisation and the
        log-variances, carried to the fields of ``params_`` by the delta
        method; see :func:`skmoe.inference.standard_errors`, which this
        calls. Pass the training data: estimators keep none.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training inputs.
        y : array-like of shape (n_samples,)
            The training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            The training sample weights.

        Returns
        -------
        result : skmoe.inference.StandardErrors
            Standard errors in the shapes of ``params_``, with Wald
            intervals (``confidence_intervals``) and a flat ``table``.
        """
        from .inference import standard_errors

        with numba_threads(self.n_jobs):
            return standard_errors(self, X, y, sample_weight=sample_weight)


def _declared(value, registry):
    """A family given by name (its default object) or by object (as is)."""
    return registry[value]() if isinstance(value, str) else value


def _check_for_targets(check, spec, y):
    """``check(spec)`` for several responses; its ValueError names ``y``.

    A solver, objective, start or family that cannot take several responses
    is refused by the check of its requirements; the message then starts
    with ``y``'s shape and the law of several responses it asked for.
    """
    if not spec.noise.multi_output:
        return  # one response: checked where it always was, after the data
    try:
        check(spec)
    except ValueError as exc:
        raise ValueError(
            f"y has shape {np.asarray(y).shape}: noise="
            f"{spec.noise._spelling()}, which this configuration cannot fit: "
            f"{exc}"
        ) from None


def _check_n_targets(what, params, y):
    """A start (``init_params``, the previous fit) must have ``y``'s responses."""
    m = None if y.ndim == 1 else y.shape[1]
    if params.n_targets != m:
        raise ValueError(
            f"{what} must have the responses of y: n_targets={m} (None: a 1-D "
            f"y); got n_targets={params.n_targets}."
        )
