"""FitSpec: the one object that carries a fit's settings to every solver."""

import dataclasses
from dataclasses import dataclass

from ..noise import GaussianNoise


@dataclass(frozen=True)
class FitSpec:
    """Everything a solver needs besides the data.

    :class:`~skmoe.MixtureOfExpertsRegressor` builds one from its
    hyper-parameters (with resolved, validated family objects) and hands it
    to :func:`skmoe.solvers.fit_moe`; every solver entry point has the
    signature ``fit(X, y, sample_weight, spec)``. Adding an estimator option
    touches the estimator, this class and the code that uses the option.

    Parameters
    ----------
    n_experts : int
        Number of routed experts ``K``.
    gating : Gating
        Gating family (resolved and validated).
    experts : Experts
        Expert family of the routed experts.
    noise : NoiseModel, default=GaussianNoise()
        Noise model of the experts.
    solver : str, default="em"
        A key of :data:`skmoe.solvers.SOLVERS`.
    objective : {"likelihood", "least_squares"}, default="likelihood"
        The objective.
    init_params : {"auto", "random", "kmeans", "tensor"} or MoEParams, \
            default="auto"
        Starting point of every restart; ``"auto"``: the best of
        ``n_candidates`` short EM runs (:mod:`skmoe.solvers._auto`).
    n_init : int, default=1
        Number of restarts (each ``"auto"`` restart draws its own pool).
    n_candidates : int, default=20
        Number of candidate starts of an ``"auto"`` restart.
    short_iter : int, default=10
        EM iterations of every candidate of an ``"auto"`` restart before the
        best one is run on.
    max_iter : int, default=300
        Maximum number of iterations per restart.
    tol : float, default=1e-6
        Convergence threshold (relative change of the objective).
    var_floor : float or ndarray of shape (n_targets,), default=0.0
        Absolute lower bound of the variances; for several responses, one
        bound per response (see
        :class:`~skmoe.noise.MultivariateGaussianNoise`).
    rng : numpy.random.RandomState or None, default=None
        The fit's random generator (drawn from by every restart in turn).
    verbose : int, default=0
        Print one line per iteration when positive.
    start : MoEParams or None, default=None
        Warm start: a single run from these parameters (``n_init`` ignored).
    n_shared_experts : int, default=0
        Number of shared experts.
    shared_weight : float, default=0.5
        Weight of the shared part, in (0, 1).
    shared_experts : Experts or None, default=None
        Family of the shared experts (None: ``experts``).
    record_routing_k : int or None, default=None
        EM records the top-``k`` routed experts of every training row along
        its iterations.
    learning_decay, learning_offset : float, default=0.7, 10.0
        Step sizes of online EM (``partial_fit``).
    """

    n_experts: int
    gating: object
    experts: object
    noise: object = dataclasses.field(default_factory=GaussianNoise)
    solver: str = "em"
    objective: str = "likelihood"
    init_params: object = "auto"
    n_init: int = 1
    n_candidates: int = 20
    short_iter: int = 10
    max_iter: int = 300
    tol: float = 1e-6
    var_floor: float = 0.0
    rng: object = None
    verbose: int = 0
    start: object = None
    n_shared_experts: int = 0
    shared_weight: float = 0.5
    shared_experts: object = None
    record_routing_k: object = None
    learning_decay: float = 0.7
    learning_offset: float = 10.0

    @property
    def shared_family(self):
        """The shared experts' family (``experts`` when not given)."""
        return self.experts if self.shared_experts is None else self.shared_experts

    def replace(self, **changes):
        """A copy with some settings changed.

        Parameters
        ----------
        **changes : dict
            Settings and their new values.

        Returns
        -------
        spec : FitSpec
            The new specification.
        """
        return dataclasses.replace(self, **changes)

    def model(self):
        """The keyword arguments of :func:`skmoe.utils._abilities.missing`.

        Returns
        -------
        model : dict
            The families and sizes of the model, for ability checks.
        """
        return dict(gating=self.gating, experts=self.experts, noise=self.noise,
                    n_experts=self.n_experts,
                    n_shared_experts=self.n_shared_experts,
                    shared_experts=self.shared_family)
