"""Uncertainty of a fitted mixture of experts: standard errors and intervals.

Two estimates of the sampling spread of the maximum-likelihood estimate:

- :func:`standard_errors` (also :meth:`MixtureOfExpertsRegressor.standard_errors
  <skmoe.MixtureOfExpertsRegressor.standard_errors>`): the inverse of the
  observed information, minus the Hessian of the weighted log-likelihood at
  the estimate;
- :func:`bootstrap_standard_errors`: the spread of refits on data drawn from
  the fitted model (parametric) or resampled from the data (nonparametric).

Both return a :class:`StandardErrors` whose blocks have the shapes of the
fields of :class:`~skmoe.MoEParams`.

The parametrisation
-------------------
The Hessian is taken in the free parameters of the gradient solvers,
``theta = [gate, experts, log-variances]``: the gate's identified parameters
(:meth:`skmoe.Gating.pack`; for the softmax without activation the rows
``0 .. K-2`` of ``[gate_coef | gate_intercept]``, the last row being the
fixed reference zero of :meth:`skmoe.Gating.normalize`), the experts'
parameters (:meth:`skmoe.Experts.pack`) and the log-variances
``s_k = log(nu_k)``. Standard errors of the fields of ``params_`` follow by
the delta method through the map from ``theta`` to the fields
(:meth:`skmoe.Gating.unpack`, :meth:`skmoe.Experts.unpack`, ``exp``): an entry
fixed by the normalisation (the reference row) has standard error 0, and the
variance has ``se(nu_k) = nu_k se(s_k)``. A law without variance (the Poisson
and binomial response families) has no log-variances in ``theta``: its
``variance`` is held at 1, with standard error 0.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_consistent_length, check_random_state

from .metrics import match_experts
from .solvers._gradient import FlatProblem
from .utils._abilities import Requirements, check_requirements
from .utils._arrays import as_kernel_array
from .utils._sklearn import _check_sample_weight, check_is_fitted
from .utils._text import labelled_frame
from .utils._validation import check_sample_weight
from .utils._warnings import SingularInformationWarning

__all__ = [
    "StandardErrors",
    "bootstrap_standard_errors",
    "observed_information",
    "standard_errors",
]

#: an information matrix scaled to unit diagonal with a condition number above
#: this (``1 / sqrt(machine epsilon)``, about 6.7e7) is near-singular: its
#: inverse then loses more than half of the significant digits, and some
#: combination of parameters is (nearly) not identified by the data
SINGULAR_CONDITION = 1.0 / np.sqrt(np.finfo(np.float64).eps)

#: relative step of the central differences of the gradient: ``eps ** (1/3)``
#: balances the truncation error ``O(h^2)`` against the round-off ``O(eps/h)``
_STEP = np.finfo(np.float64).eps ** (1.0 / 3.0)

_BLOCKS = ("gate_coef", "gate_intercept", "expert_params", "variance")


# --------------------------------------------------------------------- checks
def _check_likelihood_fit(params, objective, what):
    """ValueError for a least-squares fit or shared experts."""
    if objective != "likelihood":
        raise ValueError(
            f"{what} need a maximum-likelihood fit; got objective={objective!r} "
            "(a least-squares fit has no likelihood, nor a model to draw "
            "from). Fit with objective='likelihood'."
        )
    if params.n_shared_experts:
        raise ValueError(
            f"{what} are not available with shared experts (n_shared_experts="
            f"{params.n_shared_experts}): the parameter vector holds the gate "
            "and the routed experts only."
        )


#: what the observed information needs of a model: gradients of a smooth
#: likelihood in every free parameter (the gate's, the experts' and the noise
#: model's log-likelihood gradient), and one parameter vector (no shared
#: experts)
STANDARD_ERRORS = Requirements(
    "standard errors from the observed information",
    gating=("gradient", "smooth"),
    experts=("gradient",),
    noise=("gradient",),
    shared_experts=False,
    hint="Use bootstrap_standard_errors instead.",
)


#: the bootstrap's intervals of the variances are on the log scale, one
#: variance per expert
BOOTSTRAP = Requirements(
    "bootstrap standard errors", noise=("univariate",),
    hint="Refit on resampled rows (sklearn.utils.resample) and take the "
         "spread of the matched estimates (skmoe.metrics.match_experts).",
)


def _check_supported(params, objective):
    """ValueError for a model whose observed information is not available."""
    _check_likelihood_fit(params, objective, "standard errors")
    check_requirements(STANDARD_ERRORS, gating=params.gating,
                       experts=params.experts, noise=params.noise,
                       n_experts=params.n_experts,
                       n_shared_experts=params.n_shared_experts)


def _check_data(estimator, X, y, sample_weight):
    check_is_fitted(estimator)
    X, y, given = estimator._check_Xy(X, y, sample_weight)
    if given is None:
        given = as_kernel_array(check_sample_weight(None, X))
    return X, y, given


# ----------------------------------------------------------- the information
def _gate_blocks(params):
    """The gate fields of ``params`` in the family's order (its param_blocks)."""
    declared = params.gating.param_blocks(params.n_features, params.n_experts)
    names = [n for n in declared
             if not n.startswith("gate_extra.")
             or n[len("gate_extra."):] in params.gate_extra]
    return [(n, _get(params, n)) for n in names]


def _get(params, name):
    if name.startswith("gate_extra."):
        return params.gate_extra[name[len("gate_extra."):]]
    return getattr(params, name)


def _field_vector(params):
    """The fields of ``params`` as one vector, in the order of :func:`_layout`."""
    parts = [np.ravel(value) for _, value in _gate_blocks(params)]
    parts += [params.expert_params.ravel(), params.variance.ravel()]
    return np.concatenate(parts)


def _layout(params):
    """``(name, shape)`` of every block of :func:`_field_vector`.

    The gate's blocks and their order are the family's
    (:meth:`skmoe.Gating.param_blocks`); extra fields are named
    ``gate_extra['<key>']``.
    """
    blocks = []
    for name, value in _gate_blocks(params):
        if name.startswith("gate_extra."):
            name = f"gate_extra[{name[len('gate_extra.'):]!r}]"
        blocks.append((name, np.shape(value)))
    blocks += [("expert_params", params.expert_params.shape),
               ("variance", params.variance.shape)]
    return blocks


def _loglik_grad(problem, theta):
    """Gradient of the weighted log-likelihood ``L`` in ``theta``."""
    f, g = problem.value_and_grad(theta)
    if not np.isfinite(f):
        raise ValueError(
            "the log-likelihood is not finite near the estimate; the observed "
            "information cannot be computed."
        )
    return -problem.W * g


def _hessian(problem, theta, steps):
    """Symmetrised central differences of the gradient of ``L``."""
    p = theta.size
    H = np.empty((p, p))
    for j in range(p):
        up, down = theta.copy(), theta.copy()
        up[j] += steps[j]
        down[j] -= steps[j]
        h = up[j] - down[j]  # the step actually taken, after rounding
        H[:, j] = (_loglik_grad(problem, up) - _loglik_grad(problem, down)) / h
    return 0.5 * (H + H.T)


def _steps(theta, hessian, total_weight):
    """Steps ``h_j = eps**(1/3) * min(tau_j, max(|theta_j|, 1))``.

    ``tau_j = sqrt(W / |H_jj|)`` is the change of ``theta_j`` that moves the
    per-sample log-likelihood by about one, the parameter's natural unit
    (it follows the units of ``X`` and ``y``). Without a first Hessian, or
    where its diagonal is not negative, ``tau_j`` is infinite.
    """
    default = np.maximum(np.abs(theta), 1.0)
    if hessian is None:
        return _STEP * default
    curv = -np.diag(hessian)
    with np.errstate(divide="ignore"):
        tau = np.where(curv > 0, np.sqrt(total_weight / np.where(curv > 0, curv, 1.0)),
                       np.inf)
    return _STEP * np.minimum(tau, default)


def observed_information(params, X, y, sample_weight=None):
    """Observed information of a model: minus the Hessian of its log-likelihood.

    The Hessian of the weighted log-likelihood :math:`L(\\theta) = \\sum_i w_i
    \\log p(y_i \\mid x_i; \\theta)` in the free parameters ``theta = [gate,
    experts, log-variances]`` (see the module docstring), by central
    differences of the analytic gradient (the gradient solvers' kernels and
    the families' ``grad``): column ``j`` is ``(grad L(theta + h_j e_j) -
    grad L(theta - h_j e_j)) / (2 h_j)``, then the matrix is symmetrised.
    The steps are ``h_j = eps**(1/3) * min(tau_j, max(|theta_j|, 1))`` with
    ``tau_j = sqrt(W / |H_jj|)`` the natural unit of the parameter, from a
    first pass with ``tau_j`` infinite (``W`` the total weight), so that the
    result does not depend on the units of ``X`` and ``y``. The error is
    ``O(h^2)`` relative, about ``1e-10``.

    Parameters
    ----------
    params : MoEParams
        The model, usually a fitted ``params_``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples,)
        Target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (frequency weights); None gives weight 1 to every row.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The free parameters of ``params``.
    information : ndarray of shape (n_params, n_params)
        ``-d^2 L / dtheta^2``, symmetric.

    Raises
    ------
    ValueError
        For a model without a smooth likelihood or gradient (see
        :func:`standard_errors`).

    Warns
    -----
    SingularInformationWarning
        When the step of a parameter is below two spacings of its value
        (``2 * numpy.spacing(theta_j)``): its natural unit ``tau_j`` is below
        the round-off of ``theta_j``, central differences cannot resolve its
        curvature, and its row and column of the information are NaN. This
        happens only for variances tiny relative to the scale of the other
        parameters (a fit with ``reg_var=0``, or a hand-made model); it is
        the only case in which the result holds NaN.
    """
    _check_supported(params, "likelihood")
    problem = _problem(params, X, y, sample_weight)
    theta = problem.pack(params)
    first = _hessian(problem, theta, _steps(theta, None, problem.W))
    steps = _steps(theta, first, problem.W)
    # a step below two spacings of theta_j rounds to (nearly) nothing: the
    # parameter's natural unit is below the round-off of its value
    floor = 2.0 * np.spacing(np.abs(theta))
    unresolved = ~(steps >= floor)
    H = _hessian(problem, theta, np.maximum(steps, floor))
    if unresolved.any():
        H[unresolved, :] = np.nan
        H[:, unresolved] = np.nan
        warnings.warn(
            f"the observed information is not defined in float64 for "
            f"{int(unresolved.sum())} of {theta.size} free parameters (indices "
            f"{np.flatnonzero(unresolved).tolist()} of theta): the change of "
            "each that moves the log-likelihood by one per sample is below "
            "the round-off of its value, so central differences cannot "
            "resolve its curvature (a variance tiny relative to the scale of "
            "the parameters, e.g. a fit with reg_var=0); their rows and "
            "columns are NaN.",
            SingularInformationWarning, stacklevel=2,
        )
    return theta, -H


def _problem(params, X, y, sample_weight):
    X = params._check_X(X)
    y = as_kernel_array(np.asarray(y, dtype=np.float64).ravel())
    check_consistent_length(X, y)
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                         ensure_non_negative=True)
    return FlatProblem(X, y, as_kernel_array(sample_weight), params,
                       "likelihood", 0.0)


def _field_jacobian(problem, theta, steps):
    """Jacobian of the field vector in ``theta`` (central differences).

    The map is linear in the gate and expert blocks for the built-in families
    without a learned temperature (central differences are then exact up to
    round-off); the variances are replaced by the exact delta method.
    """
    base = _field_vector(problem.unpack(theta))
    J = np.empty((base.size, theta.size))
    for j in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[j] += steps[j]
        down[j] -= steps[j]
        J[:, j] = (_field_vector(problem.unpack(up))
                   - _field_vector(problem.unpack(down))) / (up[j] - down[j])
    return J


def _invert_information(information):
    """Covariance ``I^-1``, the scaled condition number, and a warning flag.

    The information is first scaled to unit diagonal, ``C = D^-1/2 I D^-1/2``
    with ``D = diag(I)``, so that the criterion does not depend on the units
    of the parameters; it is near-singular when ``C`` is not positive definite
    or its condition number exceeds :data:`SINGULAR_CONDITION`.
    """
    p = information.shape[0]
    if p == 0:
        return np.zeros((0, 0)), 1.0, False
    diag = np.diag(information)
    if np.any(~np.isfinite(information)) or np.any(diag <= 0):
        return np.full((p, p), np.nan), np.inf, True
    scale = 1.0 / np.sqrt(diag)
    C = information * scale[:, None] * scale[None, :]
    eig = np.linalg.eigvalsh(C)
    cond = np.inf if eig[0] <= 0 else float(eig[-1] / eig[0])
    singular = not cond <= SINGULAR_CONDITION
    cov = np.linalg.pinv(C, hermitian=True) * scale[:, None] * scale[None, :]
    return cov, cond, singular


def standard_errors(estimator, X, y, sample_weight=None):
    """Standard errors of a fitted model from its observed information.

    The covariance of the maximum-likelihood estimate is estimated by the
    inverse of the observed information :math:`I = -\\nabla^2 L(\\hat\\theta)`
    (:func:`observed_information`) in the identified parametrisation
    ``theta = [gate, experts, log-variances]``, and carried to the fields of
    ``estimator.params_`` by the delta method (see :mod:`skmoe.inference`).
    Pass the training data: the observed information is a sum over it, and
    scikit-learn estimators keep no training data.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        A fitted estimator (``objective="likelihood"``).
    X : array-like of shape (n_samples, n_features)
        The training inputs.
    y : array-like of shape (n_samples,)
        The training targets.
    sample_weight : array-like of shape (n_samples,), default=None
        The training sample weights (frequency weights).

    Returns
    -------
    result : StandardErrors
        Standard errors in the shapes of ``params_``, with ``covariance`` and
        ``information`` in ``theta``.

    Raises
    ------
    ValueError
        Before any computation, for configurations without a smooth
        likelihood in all parameters: ``objective="least_squares"``, shared
        experts (``n_shared_experts > 0``), a family without ``grad``, or a
        gate that says why its likelihood is not smooth
        (:meth:`skmoe.Gating.nonsmooth_reason`: a top-K gate with ``top_k <
        n_experts``), ``noise="student_t"`` (use
        :func:`bootstrap_standard_errors`), or a fit by ``solver="tensor"``
        or ``"two_loss"`` (not a maximum of the likelihood).

    Warns
    -----
    ConvergenceWarning
        When the fit did not converge (``estimator.converged_`` is False).
    SingularInformationWarning
        When the information, scaled to unit diagonal, is not positive
        definite or has a condition number above ``1 / sqrt(eps)`` (about
        6.7e7): an over-specified model (more experts than the data
        support), an expert with almost no data, or a fit that did not reach
        a maximum. Its standard errors are then unreliable.

    Notes
    -----
    The intervals are first-order (Wald) and assume a regular model: the
    estimate in the interior of the parameter space (no variance at the
    floor ``reg_var * Var(y)``), a converged fit, and enough data per
    expert. For a variance on the floor or a near-singular information, the
    parametric bootstrap (:func:`bootstrap_standard_errors`) is the safer
    answer.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, _ = make_moe_regression(500, 1, 2, noise=0.2, random_state=0)
    >>> est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    >>> se = est.standard_errors(X, y)
    >>> se.expert_params.shape, se.variance.shape
    ((2, 2), (2,))
    >>> bool((se.variance > 0).all())
    True
    """
    check_is_fitted(estimator)
    params = estimator.params_
    if estimator.solver in ("tensor", "two_loss"):
        raise ValueError(
            "standard errors from the observed information need a maximum-"
            f"likelihood fit; solver={estimator.solver!r} holds the expert "
            "directions at the moment estimate, which is not a maximum of the "
            "likelihood. Refit with solver='em' (init_params='tensor' keeps "
            "the moment start)."
        )
    _check_supported(params, getattr(estimator, "_fitted_objective",
                                     estimator.objective))
    X, y, sample_weight = _check_data(estimator, X, y, sample_weight)
    if not getattr(estimator, "converged_", True):
        warnings.warn(
            "the fit did not converge: the observed information is taken at a "
            "point that may not be a maximum of the likelihood. Refit with a "
            "larger max_iter.",
            ConvergenceWarning, stacklevel=2,
        )
    theta, information = observed_information(params, X, y, sample_weight)
    cov, cond, singular = _invert_information(information)
    if singular:
        warnings.warn(
            f"the observed information is near-singular (condition number "
            f"{cond:.3g} of the information scaled to unit diagonal, above "
            f"1/sqrt(eps) = {SINGULAR_CONDITION:.3g}, or not positive "
            "definite): some parameters are (nearly) not identified, for "
            "example an over-specified number of experts; the standard errors "
            "are unreliable.",
            SingularInformationWarning, stacklevel=2,
        )
    problem = _problem(params, X, y, sample_weight)
    J = _field_jacobian(problem, theta,
                        _steps(theta, -information, problem.W))
    field_var = np.einsum("ij,jk,ik->i", J, cov, J)
    se = np.sqrt(np.where(field_var >= 0, field_var, np.nan))
    n_var = params.n_experts
    if problem.free_variance:
        log_var = np.diag(cov)[-n_var:]
        se_log = np.sqrt(np.where(log_var >= 0, log_var, np.nan))
        se[-n_var:] = params.variance * se_log  # delta method, exactly
    else:  # a law without variance: held at 1, standard error 0
        se_log = np.zeros(n_var)
    return StandardErrors(
        params, se, se_log, method="observed_information",
        covariance=cov, information=information, condition_number=cond,
        feature_names=getattr(estimator, "feature_names_in_", None),
    )


# ------------------------------------------------------------------ bootstrap
def _refit(estimator, X, y, sample_weight, method, seed):
    """One bootstrap refit, matched to the estimate; fields and convergence."""
    params = estimator.params_
    rng = np.random.RandomState(seed)
    if method == "parametric":
        # the weights are the binomial trials of the draws (ignored otherwise)
        y_b = params.sample_y(X, random_state=rng, sample_weight=sample_weight)
        X_b, w_b = X, sample_weight
    else:
        rows = rng.randint(X.shape[0], size=X.shape[0])
        X_b, y_b, w_b = X[rows], y[rows], sample_weight[rows]
    est = clone(estimator).set_params(
        init_params=params, n_init=1, warm_start=False, verbose=0,
        random_state=rng.randint(np.iinfo(np.int32).max),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X_b, y_b, sample_weight=w_b)
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False  # counted, and reported once by the caller
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    fitted = est.params_
    est_index, true_index = match_experts(fitted, params)
    order = np.empty(params.n_experts, dtype=int)
    order[true_index] = est_index
    return _field_vector(fitted.permute(order)), converged


def bootstrap_standard_errors(estimator, X, y, *, sample_weight=None, n_boot=200,
                              method="parametric", n_jobs=None,
                              random_state=None):
    """Bootstrap standard errors of a fitted model.

    Every replicate draws a data set, refits a clone of ``estimator`` on it
    starting from ``estimator.params_`` (``init_params=params_``,
    ``n_init=1``: one local run, which avoids label switching), relabels the
    refit's experts to the estimate's with :func:`skmoe.metrics.match_experts`
    (the refit's canonical order may differ when two experts have similar
    gating mass), and records its fields. The standard error of a field is the
    standard deviation of its replicates (``ddof=1``).

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        A fitted estimator (``objective="likelihood"``).
    X : array-like of shape (n_samples, n_features)
        The training inputs.
    y : array-like of shape (n_samples,)
        The training targets.
    sample_weight : array-like of shape (n_samples,), default=None
        The training sample weights; resampled with the rows
        (nonparametric), kept (parametric).
    n_boot : int, default=200
        Number of bootstrap replicates (at least 2).
    method : {"parametric", "nonparametric"}, default="parametric"
        ``"parametric"``: new targets drawn from the fitted model at the same
        inputs (:meth:`skmoe.MoEParams.sample_y`). ``"nonparametric"``: rows
        drawn with replacement.
    n_jobs : int, default=None
        Number of refits run in parallel by joblib (None: one, -1: all
        cores). Warnings of the refits other than their
        ``ConvergenceWarning`` are re-emitted in the worker (visible with
        the sequential and threading backends).
    random_state : int, RandomState instance or None, default=None
        Seeds of the replicates (one seed per replicate is drawn first, so
        the result does not depend on ``n_jobs``). Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    result : StandardErrors
        Standard errors in the shapes of ``params_``; ``replicates`` holds
        the fields of every refit, one row each, and ``n_not_converged`` the
        number of refits that stopped at ``max_iter``.

    Raises
    ------
    ValueError
        If ``method`` or ``n_boot`` is invalid, or for a least-squares fit
        (no model to draw from), shared experts or several responses (whose
        covariance matrices have no log-scale intervals).

    Warns
    -----
    ConvergenceWarning
        Once, when some refits did not converge (``n_not_converged``).

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.inference import bootstrap_standard_errors
    >>> X, y, _ = make_moe_regression(300, 1, 2, noise=0.2, random_state=0)
    >>> est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    >>> boot = bootstrap_standard_errors(est, X, y, n_boot=5, random_state=0)
    >>> boot.replicates.shape, boot.expert_params.shape
    ((5, 10), (2, 2))
    """
    if method not in ("parametric", "nonparametric"):
        raise ValueError(
            f"method must be 'parametric' or 'nonparametric'; got {method!r}."
        )
    if (not isinstance(n_boot, Integral) or isinstance(n_boot, bool)
            or n_boot < 2):
        raise ValueError(f"n_boot must be an integer of at least 2; got {n_boot!r}.")
    check_is_fitted(estimator)
    params = estimator.params_
    _check_likelihood_fit(
        params, getattr(estimator, "_fitted_objective", estimator.objective),
        "bootstrap standard errors")
    check_requirements(BOOTSTRAP, noise=params.noise, n_experts=params.n_experts)
    X, y, sample_weight = _check_data(estimator, X, y, sample_weight)
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_boot)
    out = Parallel(n_jobs=n_jobs)(
        delayed(_refit)(estimator, X, y, sample_weight, method, seed)
        for seed in seeds
    )
    replicates = np.array([fields for fields, _ in out])
    se = replicates.std(axis=0, ddof=1)
    K = params.n_experts
    se_log = np.log(replicates[:, -K:]).std(axis=0, ddof=1)
    result = StandardErrors(params, se, se_log, method=f"{method}_bootstrap",
                            feature_names=getattr(estimator, "feature_names_in_",
                                                  None))
    result.replicates = replicates
    result.n_not_converged = int(sum(not ok for _, ok in out))
    if result.n_not_converged:
        warnings.warn(
            f"{result.n_not_converged} of {n_boot} bootstrap refits did not "
            f"converge in max_iter={estimator.max_iter} iterations; their "
            "estimates are included. Increase max_iter or tol.",
            ConvergenceWarning, stacklevel=2,
        )
    return result


# --------------------------------------------------------------------- result
class StandardErrors:
    """Standard errors of a fitted mixture of experts, block by block.

    Returned by :func:`standard_errors` (and
    :meth:`MixtureOfExpertsRegressor.standard_errors
    <skmoe.MixtureOfExpertsRegressor.standard_errors>`) and by
    :func:`bootstrap_standard_errors`. The blocks have the shapes of the
    fields of :class:`~skmoe.MoEParams`; entries fixed by the gate's
    normalisation (the reference row of a softmax gate) have standard error
    0.

    Parameters
    ----------
    params : MoEParams
        The estimate.
    std_errors : ndarray of shape (n_fields,)
        Standard errors of the fields, in the order ``gate_coef``,
        ``gate_intercept``, the ``gate_extra`` entries (sorted by key),
        ``expert_params``, ``variance`` (each flattened row by row).
    log_variance_std_errors : ndarray of shape (n_experts,)
        Standard errors of the log-variances, for the variance intervals.
    method : str
        ``"observed_information"``, ``"parametric_bootstrap"`` or
        ``"nonparametric_bootstrap"``.
    covariance : ndarray of shape (n_params, n_params), default=None
        Covariance of the free parameters ``theta`` (observed information).
    information : ndarray of shape (n_params, n_params), default=None
        Observed information in ``theta``.
    condition_number : float, default=None
        Condition number of the information scaled to unit diagonal.
    feature_names : sequence of str, default=None
        Names of the input features, for the rows of :meth:`table` (the
        estimator's ``feature_names_in_``); None gives ``x0, x1, ...``.

    Attributes
    ----------
    params : MoEParams
        The estimate.
    gate_coef : ndarray of shape (n_experts, n_features)
        Standard errors of ``params.gate_coef``.
    gate_intercept : ndarray of shape (n_experts,)
        Standard errors of ``params.gate_intercept``.
    gate_extra : dict of ndarray
        Standard errors of the ``params.gate_extra`` entries.
    expert_params : ndarray of shape (n_experts, n_params)
        Standard errors of ``params.expert_params``.
    variance : ndarray of shape (n_experts,)
        Standard errors of ``params.variance`` (delta method from the
        log-variance for the observed information).
    method : str
        How they were computed.
    covariance, information : ndarray or None
        In the free parameters ``theta`` (observed information only).
    condition_number : float or None
        Of the scaled information (observed information only).
    replicates : ndarray of shape (n_boot, n_fields)
        Bootstrap only: the fields of every refit, matched to the estimate.
    n_not_converged : int
        Bootstrap only: number of refits that did not converge.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, _ = make_moe_regression(500, 1, 2, noise=0.2, random_state=0)
    >>> est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    >>> se = est.standard_errors(X, y)
    >>> lower, upper = se.confidence_intervals(0.95)["expert_params"]
    >>> bool((lower < est.params_.expert_params).all())
    True
    >>> table = se.table()
    >>> table["parameter"][:3].tolist()
    ['gate[0] x0', 'gate[1] x0', 'gate[0] (Intercept)']
    """

    def __init__(self, params, std_errors, log_variance_std_errors, *, method,
                 covariance=None, information=None, condition_number=None,
                 feature_names=None):
        self.params = params
        self.feature_names = (None if feature_names is None
                              else [str(n) for n in feature_names])
        self.method = method
        self.covariance = covariance
        self.information = information
        self.condition_number = condition_number
        self._estimate = _field_vector(params)
        self._se = np.asarray(std_errors, dtype=np.float64)
        self._se_log = np.asarray(log_variance_std_errors, dtype=np.float64)
        self.gate_extra = {}
        for name, block in self._split(self._se).items():
            if name.startswith("gate_extra["):
                self.gate_extra[name[len("gate_extra['"):-2]] = block
            else:
                setattr(self, name, block)

    def _split(self, flat):
        """Blocks of a field vector, by name."""
        out, start = {}, 0
        for name, shape in _layout(self.params):
            size = int(np.prod(shape))
            out[name] = flat[start:start + size].reshape(shape)
            start += size
        return out

    def _bounds(self, level):
        if not isinstance(level, Real) or not 0 < level < 1:
            raise ValueError(f"level must lie in (0, 1); got {level!r}.")
        z = norm.ppf(0.5 + level / 2.0)
        lower = self._estimate - z * self._se
        upper = self._estimate + z * self._se
        K = self.params.n_experts
        nu = self.params.variance
        lower[-K:] = nu * np.exp(-z * self._se_log)
        upper[-K:] = nu * np.exp(z * self._se_log)
        return lower, upper

    def confidence_intervals(self, level=0.95):
        """Wald confidence intervals, block by block.

        ``estimate -/+ z * se`` with ``z`` the ``(1 + level) / 2`` normal
        quantile; for the variances the interval is computed for the
        log-variance and transformed back, ``nu * exp(-/+ z * se(log nu))``
        (always positive, and closer to its nominal level at small ``n``).

        Parameters
        ----------
        level : float, default=0.95
            Confidence level, in (0, 1).

        Returns
        -------
        intervals : dict
            For every block (``"gate_coef"``, ``"gate_intercept"``,
            ``"expert_params"``, ``"variance"`` and ``"gate_extra['key']"``
            entries), a pair ``(lower, upper)`` of arrays in the block's shape.
        """
        lower, upper = self._bounds(level)
        lo, up = self._split(lower), self._split(upper)
        return {name: (lo[name], up[name]) for name in lo}

    def _labels(self):
        """The labels of the field vector (:meth:`MoEParams._labels`)."""
        labels = self.params._labels(self.feature_names, fixed_variance=True)
        return labels[:self._estimate.size]

    def table(self, level=0.95):
        """All parameters in one flat table, named by feature.

        Parameters
        ----------
        level : float, default=0.95
            Level of the intervals (see :meth:`confidence_intervals`).

        Returns
        -------
        table : dict of ndarray
            Columns ``"parameter"`` (a name such as ``"expert[0] x1"``:
            the block, the expert and the term), ``"expert"``, ``"block"``
            (``"gate"``, ``"expert"``, ``"noise"``), ``"term"`` (a feature
            name from ``feature_names``, ``"(Intercept)"``, ``"variance"``),
            ``"estimate"``, ``"std_error"``, ``"lower"`` and ``"upper"``, in
            the order of the fields of :class:`~skmoe.MoEParams`.
        """
        lower, upper = self._bounds(level)
        labels = self._labels()
        return {
            "parameter": np.array([f"{r['block']}[{r['expert']}] {r['term']}"
                                   for r in labels]),
            "expert": np.array([r["expert"] for r in labels], dtype=object),
            "block": np.array([r["block"] for r in labels]),
            "term": np.array([r["term"] for r in labels]),
            "estimate": self._estimate.copy(), "std_error": self._se.copy(),
            "lower": lower, "upper": upper,
        }

    def to_frame(self, level=0.95):
        """The flat table of :meth:`table` as a pandas DataFrame.

        Parameters
        ----------
        level : float, default=0.95
            Level of the intervals.

        Returns
        -------
        frame : pandas.DataFrame
            Indexed by ``(expert, block, term)``, with the columns of
            :meth:`table`.
        """
        table = self.table(level)
        keys = list(zip(table.pop("expert"), table.pop("block"), table.pop("term"),
                        strict=True))
        return labelled_frame(table, keys, ["expert", "block", "term"])

    def __repr__(self):
        return (f"StandardErrors(method={self.method!r}, "
                f"n_experts={self.params.n_experts}, "
                f"n_features={self.params.n_features})")
