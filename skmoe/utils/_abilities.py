"""Abilities: what a family provides and what a consumer requires, checked once.

Every family (gating, experts, noise) declares the abilities its class
provides in the class attribute ``provides``; a configuration that lacks one
of them (a top-K gate is not smooth, a scheduled temperature is not a fixed
model) says why in ``_lacks``. Every consumer (a solver, the standard errors,
the dendrogram, the Voronoi losses) declares what it requires in a
:class:`Requirements`, and :func:`check_requirements` checks the pair before
any computation, naming the consumer, the family and the missing ability in
its ``ValueError``. No consumer tests which family it has.

The table of abilities, with what each unlocks, is :data:`ABILITIES`; the
documentation's "Extending skmoe" page prints it.
"""

from dataclasses import dataclass

#: ability -> (what it means, what it unlocks)
ABILITIES = {
    "gradient": (
        "the vector-Jacobian product of the family's output in its free "
        "parameters (grad); for a noise model, the log-likelihood's gradient "
        "in the log gates, the experts' outputs and the variances "
        "(loglik_grad)",
        "solver='lbfgs', 'gd', 'two_loss', standard errors",
    ),
    "smooth": (
        "a log-likelihood twice continuously differentiable in the free "
        "parameters",
        "standard errors from the observed information",
    ),
    "fixed_model": (
        "a model that does not change between iterations (no schedule run "
        "over EM iterations)",
        "the gradient solvers",
    ),
    "statistics": (
        "additive sufficient statistics of the M-step and the M-step from "
        "them (statistics, update)",
        "partial_fit (online EM); with 'linear', the fused EM; several "
        "responses with full covariances",
    ),
    "linear": (
        "an affine map of x: linear softmax logits (gating), or means "
        "coef x + intercept fitted by exact weighted least squares (experts)",
        "the fused EM, the moment methods, the D2 Voronoi loss",
    ),
    "atoms": (
        "Voronoi atoms: a weight and a location per expert "
        "(atom_weights, atom_locations)",
        "voronoi_cells, voronoi_loss, near-true starts that split atoms",
    ),
    "softmax_atoms": (
        "atoms whose weights multiply the softmax numerators "
        "(exp(intercept)), so that merging two atoms is defined",
        "the dendrogram of mixing measures",
    ),
    "gaussian": (
        "Gaussian component densities with a variance per expert",
        "partial_fit, the fused EM, the moment methods, the least-squares "
        "objective, the dendrogram, density_distance",
    ),
    "compiled": (
        "the family's EM steps as compiled block kernels on flat arrays "
        "(compiled_program): its outputs into preallocated buffers and its "
        "M-step, exactly its m_step, one compiled call each",
        "the compiled EM path (one call per role and iteration, no "
        "MoEParams inside the loop)",
    ),
    "short_runs": (
        "a model whose EM runs of a few iterations rank their starts as the "
        "converged runs do (every expert sees every row; starts climb at "
        "comparable speeds)",
        "the pool of short runs of init_params='auto' (else the fit starts "
        "from init_params='random')",
    ),
    "shared_experts": (
        "a noise model that covariate-free shared experts can use",
        "n_shared_experts > 0",
    ),
    "univariate": (
        "a law of one response per row (y of shape (n_samples,)): one "
        "parameter row and one variance per expert",
        "the Voronoi losses, near-true starts, bootstrap standard errors, "
        "init_params='tensor'",
    ),
}


class Family:
    """Mixin of every family: declared abilities and the check of one.

    A subclass lists the abilities of all its configurations in
    ``provides`` and overrides :meth:`_lacks` for configurations that lose
    one (for example a gate whose ``top_k`` makes the likelihood
    non-smooth).
    """

    #: abilities that the class provides (see ABILITIES)
    provides = frozenset()
    #: the methods whose computation the class's ``compiled_program`` runs in
    #: compiled code: a subclass that overrides one of them (and not
    #: ``compiled_program``) lacks the ability "compiled"
    _compiled_methods = ()

    def _lacks(self, ability, n_experts):
        """Why this configuration lacks an ability its class provides, or None."""
        return None

    def _lacks_compiled(self):
        """A method overridden below the class that wrote the compiled program."""
        cls = type(self)
        owner = next((c for c in cls.__mro__ if "compiled_program" in vars(c)),
                     None)
        for name in getattr(owner, "_compiled_methods", ()):
            if getattr(cls, name) is not getattr(owner, name):
                return (f"{cls.__name__} overrides {name}, which the compiled "
                        f"program of {owner.__name__} does not run")
        return None

    def _spelling(self):
        """How a user wrote this family (for messages): its repr by default."""
        return repr(self)

    def lacks(self, ability, n_experts=None):
        """Why the family does not provide ``ability``, or None if it does.

        Parameters
        ----------
        ability : str
            A key of :data:`skmoe.utils._abilities.ABILITIES`.
        n_experts : int or None, default=None
            Number of experts of the model, for abilities that depend on it
            (a top-K gate with ``top_k = n_experts`` is dense).

        Returns
        -------
        reason : str or None
            A phrase that completes "... because ...", or None when the
            ability is provided.
        """
        if ability not in ABILITIES:  # pragma: no cover - a programming error
            raise KeyError(f"unknown ability {ability!r}")
        if ability not in self.provides:
            return (f"{type(self).__name__} does not provide {ability!r} "
                    f"({ABILITIES[ability][0]})")
        if ability == "compiled":
            reason = self._lacks_compiled()
            if reason is not None:
                return reason
        return self._lacks(ability, n_experts)


@dataclass(frozen=True)
class Requirements:
    """What a consumer needs from the families of a model.

    Parameters
    ----------
    consumer : str
        How the consumer is named in messages (``"solver='lbfgs'"``).
    gating, experts, noise : tuple of str
        Abilities required of each role.
    shared_experts : bool
        Whether the consumer handles models with shared experts.
    hint : str
        What the user can do instead, appended to the message.
    """

    consumer: str
    gating: tuple = ()
    experts: tuple = ()
    noise: tuple = ()
    shared_experts: bool = True
    hint: str = ""


def missing(requirements, *, gating=None, experts=None, noise=None, n_experts=None,
            n_shared_experts=0, shared_experts=None):
    """The first requirement a model does not meet, as a message, or None.

    Parameters
    ----------
    requirements : Requirements
        The consumer's requirements.
    gating, experts, noise : Family or None
        The model's families (None: not checked).
    n_experts : int or None
        Number of routed experts.
    n_shared_experts : int, default=0
        Number of shared experts.
    shared_experts : Family or None
        The shared experts' family (checked like ``experts``).

    Returns
    -------
    message : str or None
        A complete sentence for a ``ValueError``, or None.
    """
    hint = f" {requirements.hint}" if requirements.hint else ""
    if n_shared_experts and not requirements.shared_experts:
        return (f"{requirements.consumer} does not support shared experts "
                f"(n_shared_experts={n_shared_experts}).{hint}")
    roles = [("gating", gating, requirements.gating),
             ("experts", experts, requirements.experts),
             ("noise", noise, requirements.noise)]
    if n_shared_experts and shared_experts is not None:
        roles.append(("shared_experts", shared_experts, requirements.experts))
    for role, family, needed in roles:
        if family is None:
            continue
        for ability in needed:
            reason = family.lacks(ability, n_experts)
            if reason is not None:
                return (f"{requirements.consumer} needs {role} with the ability "
                        f"{ability!r} (used for: {ABILITIES[ability][1]}); "
                        f"{role}={family._spelling()} lacks it: {reason}.{hint}")
    return None


def check_requirements(requirements, **model):
    """Raise a ValueError naming the first requirement the model does not meet.

    Parameters
    ----------
    requirements : Requirements
        The consumer's requirements.
    **model
        The keyword arguments of :func:`missing`.

    Raises
    ------
    ValueError
        If a family lacks a required ability, or shared experts are not
        supported.
    """
    message = missing(requirements, **model)
    if message is not None:
        raise ValueError(message)
