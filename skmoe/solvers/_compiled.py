"""The compiled EM path: the families' EM steps on flat arrays, a few calls each.

For a model whose families all have the ability ``"compiled"``, one EM
iteration of :func:`~skmoe.solvers._em.run_em` is computed without building
:class:`~skmoe.MoEParams` or any other Python object: every family holds its
parameters as flat arrays in a *program*
(:meth:`~skmoe.Gating.compiled_program`,
:meth:`~skmoe.Experts.compiled_program`,
:meth:`~skmoe.noise.NoiseModel.compiled_program`), and the iteration is one
compiled call per role into buffers allocated once per run:

1. the experts' update under the noise model's law (its program's
   ``expert_step``: the experts' weighted least squares with the weights of
   :meth:`~skmoe.noise.NoiseModel.expert_weights` for a location-scale law,
   IRLS on the experts' design for a GLM response family), which leaves
   their outputs at the new parameters in ``MU`` (the shared experts'
   update likewise);
2. the noise model's update (variances, the shared weights);
3. the gate's update from the routed responsibilities and its schedule,
   which leaves the log-weights of the new gate in ``LW`` (a line search
   tests its trial gates on them); a gate program whose ``needs_likelihood``
   is True (an ECME step: the top-K selections) also receives the observed
   likelihood of :class:`~skmoe.GateLikelihood` as ``(w, A, a)``, the row
   weights and the components' log-densities that the noise program's
   ``log_densities(MU, MUs, A, a)`` computes at the updated experts;
4. the noise model's observed-likelihood step, if it has one;
5. the E-step over the routed and shared components into ``R`` and ``Rs``.

The kernels are the families' own updates (the Python ``m_step`` of each
family calls the same kernel), so the compiled path runs the algorithm of
the batch loop, equal to round-off; a decision (a line-search test, the
stopping rule) can differ only when a value falls within round-off of its
threshold. The stopping rule, warnings and printing stay in Python. Every
kernel is serial, so the path does not depend on the thread count.
"""

import math
import time

import numpy as np

from ..utils._abilities import Requirements
from ..utils._arrays import as_kernel_array
from ._result import Degenerate, FitResult, converged_rule, print_iteration

#: what the compiled EM path needs of a model (shared experts included: their
#: family is checked like the routed experts')
COMPILED = Requirements(
    "the compiled EM",
    gating=("compiled",),
    experts=("compiled",),
    noise=("compiled", "univariate"),
)


def run_compiled(X, y, sample_weight, params, *, max_iter, tol, var_floor,
                 verbose=0, label="", first_iter=1, stop_iter=None):
    """EM iterations from ``params`` by the families' compiled programs.

    The arguments and the result are those of
    :func:`~skmoe.solvers._em.run_em`, which calls this function for models
    with the abilities of :data:`COMPILED`.

    Returns
    -------
    result : FitResult
    """
    n = X.shape[0]
    K, S = params.n_experts, params.n_shared_experts
    LW, MU, R = np.empty((n, K)), np.empty((n, K)), np.empty((n, K))
    MUs, Rs = np.empty((n, S)), np.empty((n, S))
    W = float(params.noise.row_weights(sample_weight).sum())
    try:
        # a program refuses a start its family's update refuses (a pinned
        # sigmoid gate whose last row is not zero): a degenerate start, as
        # the batch loop reports it at its first update
        gate = params.gating.compiled_program(X, params)
        experts = params.experts.compiled_program(X, y, params.expert_params)
        shared = (params.shared_experts.compiled_program(X, y,
                                                         params.shared_params)
                  if S else None)
        noise = params.noise.compiled_program(y, sample_weight, params,
                                              var_floor)
        # a gate whose update is an ECME step (a top-K selection) sees the
        # observed likelihood: the components' log-densities at the updated
        # experts and variances (GateLikelihood), filled by the noise program
        observed = getattr(gate, "needs_likelihood", False)
        if observed:
            A, a = np.empty((n, K)), np.full(n, -np.inf)
            likelihood = (as_kernel_array(
                params.noise.row_weights(sample_weight)), A, a)
        gate.log_weights(LW)
        experts.means(MU)
        if shared is not None:
            shared.means(MUs)
        current = noise.e_step(LW, MU, MUs, R, Rs)
    except ValueError as exc:
        raise Degenerate(str(exc)) from exc
    history = [current]
    converged = False
    n_iter = first_iter - 1
    last_iter = max_iter if stop_iter is None else stop_iter
    t0 = time.perf_counter()
    for n_iter in range(first_iter, last_iter + 1):
        try:
            finite = noise.expert_step(experts, R, MU)
            if shared is not None:
                finite &= shared.step(Rs, MUs)
            finite &= noise.m_step(MU, R, MUs, Rs)
            if observed:
                noise.log_densities(MU, MUs, A, a)
                gate_finite, scheduled = gate.step(R, LW, n_iter, max_iter,
                                                   likelihood)
            else:
                gate_finite, scheduled = gate.step(R, LW, n_iter, max_iter)
            finite &= gate_finite
            finite &= noise.observed_step(n_iter, LW, MU, MUs)
            if not finite:
                raise Degenerate("non-finite parameters after an M-step")
            new = noise.e_step(LW, MU, MUs, R, Rs)
        except ValueError as exc:
            raise Degenerate(str(exc)) from exc
        if not math.isfinite(new):
            raise Degenerate("non-finite log-likelihood")
        history.append(new)
        previous, current = current, new
        if verbose:
            print_iteration(label, n_iter, previous, current, t0)
        if not scheduled and converged_rule(previous, current, W, tol):
            converged = True
            break
    try:
        # a gate normalised only here (the Gaussian gate's normal form) can
        # fail as its batch update would have
        fields = dict(gate.fields(), expert_params=experts.params(),
                      **noise.fields())
    except ValueError as exc:
        raise Degenerate(str(exc)) from exc
    if shared is not None:
        fields["shared_params"] = shared.params()
    # the masses of finish_fit, from the last E-step: sum_i v_i g_ik with the
    # row weights v, and sum_i R_ik
    rows = params.noise.row_weights(sample_weight)
    masses = (rows @ np.exp(LW), R.sum(axis=0))
    return FitResult(params.replace(**fields), n_iter, converged, current,
                     np.asarray(history), None, masses)
