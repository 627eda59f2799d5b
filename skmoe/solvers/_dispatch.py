"""The solvers, what each requires of a model, and the dispatch to them."""

from dataclasses import dataclass

from .._params import MoEParams
from ..utils._abilities import Requirements, check_requirements
from ._auto import start_method
from ._em_solver import fit_em
from ._gradient import fit_gradient, gradient_requirements
from ._tensor import check_moment_inputs, fit_tensor, moment_requirements
from ._two_loss import fit_two_loss


@dataclass(frozen=True)
class Solver:
    """A fitting algorithm: its entry point, objectives and requirements.

    Parameters
    ----------
    fit : callable
        ``fit(X, y, sample_weight, spec) -> FitResult``.
    objectives : tuple of str
        The objectives it optimises.
    requires : Requirements
        What it needs of the model's families.
    """

    fit: object
    objectives: tuple
    requires: Requirements


#: name -> solver; ``solver="name"`` of the estimator
SOLVERS = {
    "em": Solver(fit_em, ("likelihood",), Requirements("solver='em'")),
    "lbfgs": Solver(fit_gradient, ("likelihood", "least_squares"),
                    gradient_requirements("lbfgs")),
    "gd": Solver(fit_gradient, ("likelihood", "least_squares"),
                 gradient_requirements("gd")),
    "tensor": Solver(fit_tensor, ("likelihood",), moment_requirements("tensor")),
    "two_loss": Solver(fit_two_loss, ("likelihood",),
                       moment_requirements("two_loss")),
}

#: solver -> the objectives it optimises
SOLVER_OBJECTIVES = {name: solver.objectives for name, solver in SOLVERS.items()}

#: models with shared experts need a noise model that supports them
SHARED_EXPERTS = Requirements("n_shared_experts > 0", noise=("shared_experts",),
                              hint="Use noise='gaussian'.")

#: a least-squares fit has no noise model: it is the Gaussian one's mean
LEAST_SQUARES = Requirements(
    "objective='least_squares'", noise=("gaussian",),
    hint="A least-squares fit estimates the regression function only (no "
         "noise model); use noise='gaussian', or objective='likelihood'.",
)

#: solvers and ``init_params`` values that are moment methods
MOMENT_METHODS = ("tensor", "two_loss")


def check_spec(spec):
    """Raise a ValueError if ``spec.solver`` cannot fit the model of ``spec``.

    The one check of a fit's settings, before any data are touched: the
    objective is one the solver optimises, and the model's families have the
    abilities the solver requires (and those of the noise model's law, of
    shared experts and of the least-squares objective).

    Parameters
    ----------
    spec : FitSpec
        The fit's settings.

    Raises
    ------
    ValueError
        Naming the solver, the objective, or the family and the ability it
        lacks.
    """
    if spec.solver not in SOLVERS:
        raise ValueError(
            f"solver must be one of {sorted(SOLVERS)}; got {spec.solver!r}."
        )
    solver = SOLVERS[spec.solver]
    if spec.objective not in solver.objectives:
        others = sorted(name for name, s in SOLVERS.items()
                        if spec.objective in s.objectives)
        raise ValueError(
            f"solver={spec.solver!r} cannot fit objective={spec.objective!r} (it "
            f"supports {', '.join(repr(o) for o in solver.objectives)}); use "
            f"solver in {others} for objective={spec.objective!r}."
        )
    model = spec.model()
    # what the noise model's law needs of the other families (the experts'
    # exact least squares for several responses with full covariances)
    own = spec.noise.requirements()
    if own is not None:
        check_requirements(own, **model)
    if spec.objective == "least_squares":
        check_requirements(LEAST_SQUARES, **model)
    if spec.n_shared_experts:
        check_requirements(SHARED_EXPERTS, **model)
    check_requirements(solver.requires, **model)
    if (spec.start is None and isinstance(spec.init_params, str)
            and spec.init_params in MOMENT_METHODS):
        check_requirements(moment_requirements(spec.init_params, "init_params"),
                           **model)


def start_used(spec):
    """The start a fit of ``spec`` makes, named as ``init_params_`` names it.

    Parameters
    ----------
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    start : str
        ``"warm_start"`` (``spec.start``), ``"given"`` (an
        :class:`~skmoe.MoEParams` as ``init_params``), the moment solver's
        name (``solver="tensor"`` or ``"two_loss"`` start from their own
        estimate), else the start method, ``"random"`` where
        ``init_params="auto"`` falls back (:func:`~skmoe.solvers._auto.start_method`).
    reason : str or None
        Why ``"auto"`` fell back, else None.
    """
    if spec.start is not None:
        return "warm_start", None
    if isinstance(spec.init_params, MoEParams):
        return "given", None
    if spec.solver in MOMENT_METHODS:
        return spec.solver, None
    return start_method(spec)


def fit_moe(X, y, sample_weight, spec):
    """Fit with ``spec.solver`` after :func:`check_spec`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Inputs (validated, C-contiguous float64).
    y : ndarray of shape (n_samples,)
        Targets.
    sample_weight : ndarray of shape (n_samples,)
        Sample weights.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    result : FitResult
        ``history`` holds the log-likelihood (likelihood) or the weighted
        squared error (least squares); ``log_likelihood`` is NaN for least
        squares.
    """
    check_spec(spec)
    if spec.start is None and spec.solver not in MOMENT_METHODS:
        method, reason = start_method(spec)
        if reason is not None:
            if spec.verbose:
                print(reason)
            spec = spec.replace(init_params=method)
    moment = [("solver", spec.solver)] if spec.solver in MOMENT_METHODS else []
    if (spec.start is None and isinstance(spec.init_params, str)
            and spec.init_params in MOMENT_METHODS):
        moment.append(("init_params", spec.init_params))
    for parameter, method in moment:
        check_moment_inputs(X, sample_weight, spec, parameter=parameter,
                            method=method)
    return SOLVERS[spec.solver].fit(X, y, sample_weight, spec)
