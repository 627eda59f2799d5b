"""The EM solver: restarts of the EM loop from the starts of ``init_params``."""

from .._params import MoEParams
from ._auto import POOL_ROWS, auto_params, auto_start, run_on
from ._em import _routing_recorder, run_em
from ._init import initial_params, shared_start
from ._result import best_restart


def fit_em(X, y, sample_weight, spec):
    """Fit by EM with ``spec.n_init`` restarts; keep the highest log-likelihood.

    Every restart starts from ``spec.init_params`` (random, k-means and
    auto starts of models with shared experts by
    :func:`~skmoe.solvers._init.shared_start`), made a start of the noise
    model (:meth:`~skmoe.noise.NoiseModel.start`), and runs
    :func:`~skmoe.solvers._em.run_em`. An ``"auto"`` restart of a model
    without shared experts is the short-then-long schedule: the best of
    ``spec.n_candidates`` short runs (:func:`~skmoe.solvers._auto.auto_start`)
    run on to convergence (:func:`~skmoe.solvers._auto.run_on`); its history
    and iteration count include the short run. On more than
    :data:`~skmoe.solvers._auto.POOL_ROWS` rows the pool runs on a subsample
    and its best parameters start a run on the whole data
    (:func:`~skmoe.solvers._auto.auto_params`), whose history starts there.
    A warm start (``spec.start``) is one run from those parameters. With
    ``spec.record_routing_k = k``, every restart records the top-``k``
    routed experts of every training row
    (:func:`skmoe.diagnostics.top_k_experts` of the routed gate) at its start
    and after every iteration, in ``FitResult.routing``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Inputs.
    y : ndarray of shape (n_samples,)
        Targets.
    sample_weight : ndarray of shape (n_samples,)
        Sample weights.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    result : FitResult
        The best restart.

    Warns
    -----
    ConvergenceWarning
        When the best restart did not converge.
    DegenerateFitWarning
        For every restart discarded because it produced non-finite values.
    MultipleOptimaWarning
        When the converged restarts ended at clearly different optima and
        the best was reached by one of them only
        (:func:`~skmoe.solvers._result.distinct_optima`).
    """
    starts = ([spec.start] if spec.start is not None
              else [spec.init_params] * spec.n_init)
    record = (None if spec.record_routing_k is None
              else _routing_recorder(X, spec.n_experts, spec.record_routing_k))

    def fit_one(method, label):
        given = isinstance(method, MoEParams)
        if not given and method == "auto" and not spec.n_shared_experts:
            if X.shape[0] <= POOL_ROWS:
                short = auto_start(X, y, sample_weight, spec, record=record,
                                   label=label)
                return run_on(X, y, sample_weight, short, spec, record=record,
                              label=label)
            # the pool's parameters (already a start of the noise model)
            params = auto_params(X, y, sample_weight, spec, label=label)
        else:
            if spec.n_shared_experts and not given:
                params = shared_start(method, X, y, sample_weight, spec)
            else:
                params = initial_params(method, X, y, sample_weight, spec)
            params = spec.noise.start(params, method if given else None)
        return run_em(X, y, sample_weight, params, max_iter=spec.max_iter,
                      tol=spec.tol, var_floor=spec.var_floor,
                      verbose=spec.verbose, label=label, record=record)

    return best_restart(
        starts, fit_one, name="EM",
        optima=(spec.tol, float(sample_weight.sum())),
        not_converged=lambda best: (
            f"EM did not converge in max_iter={spec.max_iter} iterations "
            f"(tol={spec.tol}); increase max_iter or tol, or check the data "
            "scaling."
        ),
    )
