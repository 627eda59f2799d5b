"""Fused EM: one pass over the data per iteration, for the commonest model.

For Gaussian noise, a gate and experts that are both ``"linear"`` and have
``"statistics"`` (a linear softmax gate whose update is a damped Newton step
from its Newton terms, affine experts whose update is weighted least squares
from their normal equations), without shared experts, one EM iteration of
:func:`~skmoe.solvers._em.run_em` is the same computation with fewer passes
over the data:

1. :func:`~skmoe._kernels._fused.fused_estep_statistics` at the current
   parameters: responsibilities, log-likelihood, the experts' statistics
   (weighted normal equations in residual form at the current experts, a
   :class:`~skmoe.experts.LinearStatistics`) and the gate's statistics
   (Newton terms), in one pass, which also tests the previous gate step (see
   :class:`FusedSteps`);
2. the experts' :meth:`~skmoe.Experts.update` from those statistics, their
   residual sums of squares at the new experts from the same statistics
   (:meth:`~skmoe.Experts.residual_ss`: no second pass) and the variances
   (:func:`~skmoe.noise.variances_from_rss`);
3. the gate's :meth:`~skmoe.Gating.update` from its statistics (a
   :class:`~skmoe.gating._newton.NewtonProposal`).

These are the updates batch EM and online EM use, from the same statistics
(the sufficient-statistics protocol of the families), so the three agree by
construction. The unfused loop makes six passes (E-step, weighting, experts'
statistics, expert means, residuals, gate Hessian) plus one per line-search
trial. Both loops run the same algorithm: their log-likelihoods agree to
round-off (tested), and a decision (a line-search test, the stopping rule)
can differ only when a value falls within round-off of its threshold.

The pass runs serially, or in Numba's threads for large ``n`` when the fit
has ``n_jobs > 1`` (:func:`~skmoe.utils._threads.use_threads`): the same
bits either way.
"""

import numpy as np

from .. import _kernels
from ..experts import LinearStatistics
from ..gating import NewtonTerms
from ..gating._newton import softmax_objective
from ..noise import variances_from_rss
from ..utils._abilities import Requirements
from ..utils._threads import use_threads

#: what the fused EM needs of a model
FUSED = Requirements(
    "the fused EM",
    gating=("linear", "statistics"),
    experts=("linear", "statistics"),
    noise=("gaussian",),
    shared_experts=False,
)


class FusedSteps:
    """E- and M-steps of ``run_em`` by the fused pass.

    Holds the weighted responsibilities (one ``(n, K)`` array, rewritten in
    place by every E-step pass), the statistics of the last E-step pass and
    the gate step waiting for its line-search test.

    The gate's Newton step needs the objective at the full step (the Armijo
    test, or for a step of predicted gain below round-off the test that it
    keeps the objective within round-off, see
    :meth:`~skmoe.gating._softmax.NewtonProposal.accepts`) before it is
    accepted. The next E-step pass computes the logits of
    that gate anyway, so it also sums the objective of the previous
    responsibilities there, before overwriting them. In the rare case the
    test fails, the previous responsibilities are recomputed, the step is
    halved on them (or, below round-off, dropped) exactly as batch EM's line
    search would, and the E-step pass is made again. When the gate's schedule
    moves the model after the M-step (:meth:`~skmoe.Gating.at_iteration`),
    the E-step pass sees a different gate, so the step is tested at once
    instead.
    """

    def __init__(self, X, y, sample_weight, var_floor, max_iter):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.var_floor = var_floor
        self.max_iter = max_iter
        self.R = None
        self.stats = None
        self.pending = None

    def _pass(self, params, trial):
        """The E-step pass at ``params`` into ``self.R``; its statistics."""
        X = self.X
        if self.R is None:
            self.R = np.empty((X.shape[0], params.n_experts))
        gate = params.gating.linear_logits(params)
        experts = params.experts.linear_means(params.expert_params)
        kernel = (_kernels._fused.fused_estep_statistics_parallel
                  if use_threads(X.shape[0])
                  else _kernels._fused.fused_estep_statistics)
        (loglik, value, trial_value, grad, neg_hess, gram, moment, rss, mass,
         gate_mass) = kernel(X, self.y, self.sample_weight, *gate, *experts,
                             params.variance, self.R, trial)
        return dict(
            loglik=float(loglik), trial_value=trial_value, gate_mass=gate_mass,
            gate=NewtonTerms.at_gate(value, grad, neg_hess, X.shape[0], *gate),
            experts=LinearStatistics(gram, moment, mass, rss,
                                     params.expert_params),
        )

    def _objective(self, coef, intercept):
        """The gate objective of the current responsibilities."""
        objective = softmax_objective(self.X.shape[0])
        return objective(self.X, coef, intercept, self.R, False)[0]

    def _halved(self, step, params):
        """``params`` with the gate of ``step`` halved until accepted."""
        gate = step.backtrack(self._objective) or step.start
        return params.replace(**step.fields(gate))

    def e_step(self, params):
        """E-step pass at ``params``; returns them and the log-likelihood.

        The returned parameters differ from ``params`` only when the pass
        rejects the pending gate step: they then hold the halved step.
        """
        pending, self.pending = self.pending, None
        stats = self._pass(params, pending is not None)
        if pending is not None:
            step, before = pending
            if not step.accepts(stats["trial_value"]):
                self._pass(before, False)  # the responsibilities of the M-step
                params = self._halved(step, params)
                stats = self._pass(params, False)
        self.stats = stats
        return params, stats["loglik"]

    def masses(self):
        """Gate and responsibility masses of the last E-step pass.

        Returns
        -------
        masses : tuple of two ndarray of shape (n_experts,)
            ``sum_i w_i g_k(x_i)`` and ``sum_i w_i r_ik`` at the parameters of
            the last :meth:`e_step` (see :func:`~skmoe.solvers._finish.finish_fit`).
        """
        return self.stats["gate_mass"], self.stats["experts"].mass

    def m_step(self, params, n_iter):
        """The M-step of ``run_em`` from the last E-step pass's statistics."""
        X, y, stats = self.X, self.y, self.stats
        experts, gating = params.experts, params.gating
        expert_stats = stats["experts"]
        expert_params = experts.update(expert_stats, params.expert_params)
        rss = experts.residual_ss(expert_stats, expert_params)
        variance = variances_from_rss(rss, expert_stats.mass, params.variance,
                                      self.var_floor)
        step = gating.update(stats["gate"], params)
        new = params.replace(expert_params=expert_params, variance=variance,
                             **step.fields())
        if step.status != "stay":  # "test" and "take" steps are both tested
            if gating.at_iteration(new, n_iter, self.max_iter):
                # the schedule changes the gate the next pass would see
                if not step.accepts(self._objective(step.coef, step.intercept)):
                    new = self._halved(step, new)
            else:
                self.pending = (step, params)
        return new.replace(**new.noise.observed_step(X, y, self.sample_weight,
                                                     new, n_iter))
