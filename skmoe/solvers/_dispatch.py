"""Which solver fits which objective and families, and the dispatch to it."""

from .._params import MoEParams
from ..experts import Experts
from ..gating import Gating
from ._em import fit_em
from ._gradient import fit_gradient
from ._tensor import check_moment_inputs, fit_tensor
from ._two_loss import fit_two_loss

#: solver -> the objectives it optimises
SOLVER_OBJECTIVES = {
    "em": ("likelihood",),
    "lbfgs": ("likelihood", "least_squares"),
    "gd": ("likelihood", "least_squares"),
    "tensor": ("likelihood",),
    "two_loss": ("likelihood",),
}

#: solvers (and ``init_params`` values) that are moment methods for Gaussian
#: inputs, checked by ``skmoe.solvers._tensor.check_moment_inputs``
MOMENT_METHODS = ("tensor", "two_loss")

#: solvers that need the gradients (``grad``) of the gate and of the experts
GRADIENT_SOLVERS = ("lbfgs", "gd", "two_loss")


def provides_grad(family):
    """Whether a gating or experts object implements ``grad``.

    A family provides a gradient when its class overrides ``Gating.grad`` or
    ``Experts.grad`` (the base methods raise ``NotImplementedError``).

    Parameters
    ----------
    family : Gating or Experts
        The object to inspect.

    Returns
    -------
    provides : bool
        True if the class overrides the base ``grad``.
    """
    base = Gating if isinstance(family, Gating) else Experts
    return type(family).grad is not base.grad


def check_compatible(solver, objective, gating, experts, n_experts=None,
                     n_shared_experts=0, noise=None):
    """Raise a ValueError if ``solver`` cannot fit ``objective`` with these families.

    Runs in Python before any kernel, so that an impossible combination gets
    a message naming the solver, the objective and the family, not a Numba
    error.

    Parameters
    ----------
    solver : {"em", "lbfgs", "gd", "tensor", "two_loss"}
        The fitting algorithm.
    objective : {"likelihood", "least_squares"}
        The objective.
    gating : Gating
        The gating family.
    experts : Experts
        The expert family.
    n_experts : int, default=None
        Number of routed experts (needed to ask the gate whether its
        configuration is EM-only, :meth:`skmoe.Gating.em_only_reason`).
    n_shared_experts : int, default=0
        Number of shared experts; the gradient solvers fit routed experts only.
    noise : NoiseModel or None, default=None
        Noise model of the experts; it rejects what it cannot be fitted with
        (:meth:`skmoe.noise.NoiseModel.check_compatible`).

    Raises
    ------
    ValueError
        If ``solver`` does not optimise ``objective`` (``"em"`` maximises the
        likelihood only), or if a gradient solver is paired with a family
        that does not implement ``grad``, with a gate configuration that only
        EM can fit, or with shared experts.
    """
    if solver not in SOLVER_OBJECTIVES:
        raise ValueError(
            f"solver must be one of {sorted(SOLVER_OBJECTIVES)}; got {solver!r}."
        )
    if noise is not None:
        noise.check_compatible(solver, objective, n_shared_experts)
    allowed = SOLVER_OBJECTIVES[solver]
    if objective not in allowed:
        others = sorted(s for s, objs in SOLVER_OBJECTIVES.items() if objective in objs)
        raise ValueError(
            f"solver={solver!r} cannot fit objective={objective!r} (it supports "
            f"{', '.join(repr(o) for o in allowed)}); use solver in {others} for "
            f"objective={objective!r}."
        )
    if solver in GRADIENT_SOLVERS:
        if n_shared_experts:
            raise ValueError(
                f"solver={solver!r} cannot fit shared experts (n_shared_experts="
                f"{n_shared_experts}): its parameter vector holds the gate and the "
                "routed experts only; use solver='em'."
            )
        reason = gating.em_only_reason(n_experts) if n_experts is not None else None
        if reason is not None:
            raise ValueError(
                f"solver={solver!r} cannot fit {gating!r}: {reason}. Use "
                "solver='em'."
            )
        for kind, family in (("gating", gating), ("experts", experts)):
            if not provides_grad(family):
                raise ValueError(
                    f"solver={solver!r} with objective={objective!r} needs the "
                    f"gradient of the {kind} family, and {type(family).__name__} "
                    f"does not implement grad; use solver='em' with "
                    f"{type(family).__name__}."
                )


def fit_moe(X, y, sample_weight, *, solver, objective, **kwargs):
    """Fit with ``solver`` after :func:`check_compatible`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    solver : {"em", "lbfgs", "gd", "tensor", "two_loss"}
    objective : {"likelihood", "least_squares"}
    **kwargs
        The keyword arguments of :func:`~skmoe.solvers.fit_em`.

    Returns
    -------
    result : FitResult
        ``history`` holds the log-likelihood (likelihood) or the weighted
        squared error (least squares); ``log_likelihood`` is NaN for least
        squares.
    """
    noise = kwargs.pop("noise", None)
    check_compatible(solver, objective, kwargs["gating"], kwargs["experts"],
                     kwargs["n_experts"], kwargs.get("n_shared_experts", 0), noise)
    init = kwargs.get("init_params")
    moment = [("solver", solver)] if solver in MOMENT_METHODS else []
    if kwargs.get("start") is None and isinstance(init, str) and init in MOMENT_METHODS:
        moment.append(("init_params", init))
    for parameter, method in moment:
        check_moment_inputs(X, sample_weight, kwargs["n_experts"], kwargs["experts"],
                            kwargs.get("n_shared_experts", 0), parameter=parameter,
                            method=method)
    if (solver in MOMENT_METHODS and kwargs.get("start") is None
            and isinstance(init, MoEParams)):
        # a user-given model replaces the moment estimate as the start of the
        # refinement (its expert directions are then held fixed)
        kwargs["start"] = init
    if solver == "tensor":
        return fit_tensor(X, y, sample_weight, **kwargs)
    if solver == "two_loss":
        return fit_two_loss(X, y, sample_weight, **kwargs)
    if solver == "em":
        return fit_em(X, y, sample_weight, noise=noise, **kwargs)
    return fit_gradient(X, y, sample_weight, solver=solver, objective=objective,
                        **kwargs)
