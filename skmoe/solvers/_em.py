"""The EM loop: E-step, M-step by the families' contracts, stopping rule.

:func:`run_em` runs the iterations of one restart from given parameters.
Each iteration is an M-step (experts through the noise model's weights,
variances and degrees of freedom by the noise model, the shared part, then
the gate), the gate's scheduled change, and the E-step at the new
parameters. The steps are computed either by the families' own methods
(:class:`_Steps`) or, for the models the fused EM covers, by two fused
passes over the data (:class:`~skmoe.solvers._fused.FusedSteps`); both go
through the same sufficient-statistics updates. The solver entry points
(:func:`skmoe.solvers.fit_em` and the moment methods) build the starts and
call it.
"""

import time

import numpy as np
from scipy.special import logsumexp

from ..diagnostics import top_k_experts
from ..gating import GateLikelihood
from ..noise import update_variances
from ..utils._abilities import missing
from ..utils._arrays import as_kernel_array
from ._compiled import COMPILED, run_compiled
from ._fused import FUSED, FusedSteps
from ._result import Degenerate, FitResult, converged_rule, print_iteration


def _estep(X, y, params):
    # responsibilities over all components (the K routed and S shared ones)
    # and the log-likelihood
    return params._posterior(X, y)[:2]


def _log_normal(y, means, variance):
    return -0.5 * np.log(2.0 * np.pi * variance) - 0.5 * (y[:, None] - means) ** 2 / (
        variance
    )


def gate_likelihood(X, y, sample_weight, params):
    """The observed log-likelihood as a function of the routed gate.

    Built with the current experts, variances and shared part, for gating
    families whose :meth:`~skmoe.Gating.needs_likelihood` is True.

    ``sample_weight`` is the data's weights; the gate sees the noise model's
    row weights (:meth:`~skmoe.noise.NoiseModel.row_weights`).

    Returns
    -------
    likelihood : GateLikelihood
    """
    noise = params.noise
    log_routed = noise.log_pdf(y, as_kernel_array(params.expert_predictors(X)),
                               params.variance, params.noise_df, sample_weight)
    log_shared = None
    if params.n_shared_experts:
        lam = params.shared_weight
        log_routed += np.log1p(-lam)
        with np.errstate(divide="ignore"):
            log_omega = np.log(lam) + np.log(params.shared_weights)
        log_shared = logsumexp(
            log_omega + _log_normal(y, params.shared_means(X), params.shared_variance),
            axis=1,
        )
    return GateLikelihood(noise.row_weights(sample_weight), log_routed, log_shared)


def _shared_mstep(X, y, R_shared, params, var_floor):
    """Shared experts by their family's update, variances, closed-form omega."""
    family = params.shared_experts
    shared_params = family.m_step(X, y, R_shared, params.shared_params)
    means = as_kernel_array(family.predict(X, shared_params))
    shared_variance = update_variances(y, means, R_shared, params.shared_variance,
                                       var_floor)
    mass = R_shared.sum(axis=0)
    total = mass.sum()
    # maximiser of sum_is R_is log omega_s on the simplex
    weights = mass / total if total > 0 else params.shared_weights
    return dict(shared_params=shared_params, shared_variance=shared_variance,
                shared_weights=weights)


def _mstep(X, y, R, params, var_floor, sample_weight, latent=None, n_iter=1,
           expert_step=None):
    K = params.n_experts
    shared = params.n_shared_experts
    R_routed = as_kernel_array(R[:, :K]) if shared else R
    experts = params.experts
    noise = params.noise
    if expert_step is None:
        # the experts' update under the noise model: weighted least squares
        # with its weights (R itself, or R times the t scale weights u), or
        # IRLS for a GLM response family
        expert_params = noise.expert_step(experts, X, y, R_routed, latent,
                                          params.expert_params, sample_weight)
    else:
        expert_params = expert_step(X, y, noise.expert_weights(R_routed, latent),
                                    params.expert_params)
    # the experts' outputs as the noise model lays them out (a response axis
    # for several responses)
    means = as_kernel_array(noise.predictors(experts, X, expert_params))
    variance, noise_df = noise.m_step(y, means, R_routed, latent, params.variance,
                                      params.noise_df, var_floor)
    changes = dict(expert_params=expert_params, variance=variance,
                   noise_df=noise_df)
    if shared:
        changes.update(_shared_mstep(X, y, as_kernel_array(R[:, K:]), params,
                                     var_floor))
    params = params.replace(**changes)
    gating = params.gating
    likelihood = None
    if gating.needs_likelihood():
        # ECME: the gate update sees the experts updated above
        likelihood = gate_likelihood(X, y, sample_weight, params)
    params = params.replace(**gating.m_step(X, R_routed, params,
                                            likelihood=likelihood))
    # ECME: noise parameters updated on the observed likelihood (if any)
    return params.replace(**params.noise.observed_step(X, y, sample_weight,
                                                       params, n_iter))


def _routing_recorder(X, n_experts, k):
    """``params -> (n_samples, k)`` top-k routing of ``X``, smallest int dtype."""
    dtype = np.min_scalar_type(n_experts - 1)
    return lambda params: top_k_experts(params.gates(X), k).astype(dtype)


class _Steps:
    """E- and M-steps of ``run_em`` by the families' own methods.

    Holds the responsibilities and the noise model's latent variables of the
    last E-step. ``sample_weight`` is the data's weights (handed to the noise
    model's methods); the rows count with the noise model's
    :meth:`~skmoe.noise.NoiseModel.row_weights` (the same array for
    frequency weights).
    """

    def __init__(self, X, y, sample_weight, var_floor, expert_step, noise):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.row_weight = noise.row_weights(sample_weight)
        self.var_floor = var_floor
        self.expert_step = expert_step
        self.resp = self.latent = None

    def e_step(self, params):
        """E-step at ``params``; returns them and the weighted log-likelihood."""
        self.resp, loglik, self.latent = params._posterior(self.X, self.y,
                                                           self.sample_weight)
        return params, float(self.row_weight @ loglik)

    def masses(self):
        """None: the masses of the last E-step are not kept."""
        return None

    def m_step(self, params, n_iter):
        """M-step from the last E-step's responsibilities."""
        # in place, and released before the next E-step allocates its own (one
        # (n, K) array fewer at the peak)
        R = self.resp
        self.resp = None
        R *= self.row_weight[:, None]
        return _mstep(self.X, self.y, R, params, self.var_floor,
                      self.sample_weight, self.latent, n_iter, self.expert_step)


def _fusable(params):
    """Why the fused EM cannot run ``params``' iterations, or None."""
    return missing(FUSED, gating=params.gating, experts=params.experts,
                   noise=params.noise, n_experts=params.n_experts,
                   n_shared_experts=params.n_shared_experts)


#: the compiled path (serial) runs fits below this many rows; from here on the
#: fused EM or the batch loop, whose kernels have parallel twins (n_jobs > 1)
FUSED_FROM_N = 100_000


def _compilable(params, n_samples):
    """Whether the compiled path runs ``params``' iterations by default.

    It runs every model whose families have the ability ``"compiled"``
    below :data:`FUSED_FROM_N` rows (its kernels are serial; from there on the
    fused EM or the batch loop run, with their parallel twins when threads
    are allowed). The choice depends on the data's size only, never on the
    thread count.
    """
    if missing(COMPILED, gating=params.gating, experts=params.experts,
               noise=params.noise, n_experts=params.n_experts,
               n_shared_experts=params.n_shared_experts,
               shared_experts=params.shared_experts) is not None:
        return False
    return n_samples < FUSED_FROM_N


def run_em(X, y, sample_weight, params, *, max_iter, tol, var_floor, verbose=0,
           label="", expert_step=None, record=None, fused=None, first_iter=1,
           stop_iter=None):
    """EM iterations from ``params`` (one restart, or a part of one).

    ``expert_step`` (a callable with the signature of
    :meth:`~skmoe.Experts.m_step`) replaces the experts' update, for solvers
    that restrict the experts (the tensor method holds their directions
    fixed); it must be an exact or generalised M-step to keep EM monotone.

    Each iteration is an M-step, the gate's scheduled change
    (:meth:`~skmoe.Gating.at_iteration`, usually none), then the E-step at the
    new parameters, so the recorded log-likelihood always belongs to the
    current parameters. Convergence is not declared on an iteration whose
    schedule changed the model. With ``record`` (a function of the
    parameters), ``record(params)`` is kept at the start and after every
    iteration and stacked in ``FitResult.routing``.

    ``fused`` chooses how the steps are computed: by the two passes of
    :mod:`skmoe.solvers._fused` (True; a ValueError when the model lacks an
    ability they need, see :data:`skmoe.solvers._fused.FUSED`) or the
    families' own methods (False); None (the default) takes the compiled
    path of :mod:`skmoe.solvers._compiled` when the model has its abilities
    (:func:`_compilable`), else fuses whenever the model allows it, provided
    there is no ``expert_step`` or ``record``. All run the same algorithm
    (equal to round-off).

    ``first_iter`` and ``stop_iter`` run a part of a restart: iterations
    ``first_iter, ..., stop_iter`` (default ``max_iter``) of a run of
    ``max_iter`` iterations, numbered as in that run (the gate's schedule and
    the noise model see those numbers). A run stopped at ``stop_iter`` and
    run on from its ``params`` with ``first_iter = n_iter + 1`` makes the
    same iterations as the uninterrupted run (the short runs of
    ``init_params="auto"``, :mod:`skmoe.solvers._auto`).

    Returns
    -------
    result : FitResult
        ``n_iter`` is the number of the last iteration made, ``history``
        holds the log-likelihood at ``params`` and after each iteration made.
    """
    # the fused EM's requirements only where they decide something (not on
    # the compiled path: each start of a fit comes through here)
    if fused:
        reason = _fusable(params)
        if reason is not None or expert_step is not None or record is not None:
            raise ValueError(
                reason or "the fused EM has no expert_step or record hook; got "
                f"expert_step={expert_step!r}, record={record!r}."
            )
    if fused is None:
        if expert_step is None and record is None and _compilable(params,
                                                                 X.shape[0]):
            return run_compiled(X, y, sample_weight, params, max_iter=max_iter,
                                tol=tol, var_floor=var_floor, verbose=verbose,
                                label=label, first_iter=first_iter,
                                stop_iter=stop_iter)
        fused = (expert_step is None and record is None
                 and _fusable(params) is None)
    steps = (FusedSteps(X, y, sample_weight, var_floor, max_iter) if fused
             else _Steps(X, y, sample_weight, var_floor, expert_step, params.noise))
    W = float(params.noise.row_weights(sample_weight).sum())
    try:
        with np.errstate(over="ignore", under="ignore"):
            params, current = steps.e_step(params)
    except (ValueError, FloatingPointError) as exc:  # pragma: no cover
        raise Degenerate(str(exc)) from exc
    history = [current]
    routing = None if record is None else [record(params)]
    converged = False
    n_iter = first_iter - 1
    last_iter = max_iter if stop_iter is None else stop_iter
    t0 = time.perf_counter()
    for n_iter in range(first_iter, last_iter + 1):
        try:
            with np.errstate(over="ignore", under="ignore"):
                new_params = steps.m_step(params, n_iter)
                scheduled = new_params.gating.at_iteration(new_params, n_iter,
                                                           max_iter)
                if scheduled:
                    new_params = new_params.replace(**scheduled)
                if not new_params._all_finite():
                    raise Degenerate("non-finite parameters after an M-step")
                new_params, new = steps.e_step(new_params)
        except ValueError as exc:
            raise Degenerate(str(exc)) from exc
        if not np.isfinite(new):
            raise Degenerate("non-finite log-likelihood")
        params = new_params
        history.append(new)
        if record is not None:
            routing.append(record(params))
        previous, current = current, new
        if verbose:
            print_iteration(label, n_iter, previous, current, t0)
        if not scheduled and converged_rule(previous, current, W, tol):
            converged = True
            break
    return FitResult(params, n_iter, converged, current, np.asarray(history),
                     None if record is None else np.stack(routing),
                     steps.masses())
