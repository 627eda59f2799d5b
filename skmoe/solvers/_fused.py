"""Fused EM: two passes over the data per iteration, for the commonest model.

For Gaussian noise, a linear softmax gate (:meth:`~skmoe.Gating.linear_logits`)
whose update is a damped Newton step on the dense softmax objective
(:meth:`~skmoe.Gating.newton_gate`) and affine experts whose
update is determined by weighted normal equations
(:meth:`~skmoe.Experts.linear_means`, :meth:`~skmoe.Experts.linear_m_step`),
without shared experts, one EM iteration of :func:`~skmoe.solvers._em.run_em`
is the same computation with fewer passes over the data:

1. :func:`~skmoe._kernels._fused.fused_estep_statistics` at the current
   parameters: responsibilities, log-likelihood, the experts' weighted normal
   equations and the gate's objective, gradient and Hessian, in one pass,
   which also tests the previous gate step (see :class:`FusedSteps`);
2. the experts' weighted least squares from those statistics, and their
   residuals at the new means in
   :func:`~skmoe._kernels._fused.fused_residuals` (the variances);
3. the gate's Newton step from the terms of step 1
   (:class:`~skmoe.gating._softmax.NewtonProposal`).

The unfused loop makes six passes (E-step, weighting, experts' statistics,
expert means, residuals, gate Hessian) plus one per line-search trial. Both
loops run the same algorithm: their log-likelihoods agree to round-off
(tested), and a decision (a line-search test, the stopping rule) can differ
only when a value falls within round-off of its threshold.
"""

import numpy as np

from .._kernels._fused import fused_estep_statistics, fused_residuals
from .._kernels._softmax import softmax_gate_objective
from ..gating._softmax import NewtonProposal, objective_noise
from ._init import variances_from_rss


def fused_plan(params, expert_step, record):
    """Whether :class:`FusedSteps` can compute ``run_em``'s iterations.

    Parameters
    ----------
    params : MoEParams
        Starting parameters.
    expert_step : callable or None
        ``run_em``'s replacement expert update (not fused).
    record : callable or None
        ``run_em``'s per-iteration recorder (not fused).

    Returns
    -------
    fused : bool
    """
    return (
        expert_step is None
        and record is None
        and params.noise.name == "gaussian"
        and not params.n_shared_experts
        and params.gating.linear_logits(params) is not None
        and params.gating.newton_gate(params) is not None
        and params.experts.linear_means(params.expert_params) is not None
        and params.experts.linear_m_step() is not None
    )


class FusedSteps:
    """E- and M-steps of ``run_em`` by the two fused passes.

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
    halved on them (or, below round-off, dropped) exactly as
    :func:`newton_softmax_ascent` would, and the
    E-step pass is made again. When the gate's schedule moves the model
    after the M-step (:meth:`~skmoe.Gating.at_iteration`), the E-step pass
    sees a different gate, so the step is tested at once instead.
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
        if self.R is None:
            self.R = np.empty((self.X.shape[0], params.n_experts))
        gate = params.gating.newton_gate(params)
        experts = params.experts.linear_means(params.expert_params)
        (loglik, value, grad, neg_hess, gram, moment, mass, trial_value,
         gate_mass) = fused_estep_statistics(
            self.X, self.y, self.sample_weight, *gate, *experts, params.variance,
            self.R, trial)
        return dict(loglik=float(loglik), gate=gate, terms=(value, grad, neg_hess),
                    gram=gram, moment=moment, mass=mass, trial_value=trial_value,
                    gate_mass=gate_mass)

    def _objective(self, coef, intercept):
        """The gate objective of the current responsibilities."""
        return softmax_gate_objective(self.X, coef, intercept, self.R, False)[0]

    def _halved(self, step, before, params):
        """``params`` with the gate of ``step`` halved until accepted."""
        gate = step.backtrack(self._objective) or step.start
        return params.replace(**before.gating.newton_gate_fields(*gate, before))

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
                params = self._halved(step, before, params)
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
        return self.stats["gate_mass"], self.stats["mass"]

    def m_step(self, params, n_iter):
        """The M-step of ``run_em`` from the last E-step pass's statistics."""
        X, y, R, stats = self.X, self.y, self.R, self.stats
        experts, gating = params.experts, params.gating
        expert_params = experts.linear_m_step()(stats["gram"], stats["moment"],
                                                stats["mass"], params.expert_params)
        rss = fused_residuals(X, y, R, *experts.linear_means(expert_params))
        variance = variances_from_rss(rss, stats["mass"], params.variance,
                                      self.var_floor)
        step = NewtonProposal(*stats["gate"], stats["terms"],
                              objective_noise(stats["terms"][0], X.shape[0]))
        new = params.replace(
            expert_params=expert_params, variance=variance,
            **gating.newton_gate_fields(step.coef, step.intercept, params))
        if step.status != "stay":  # "test" and "take" steps are both tested
            if gating.at_iteration(new, n_iter, self.max_iter):
                # the schedule changes the gate the next pass would see
                if not step.accepts(self._objective(step.coef, step.intercept)):
                    new = self._halved(step, params, new)
            else:
                self.pending = (step, params)
        return new.replace(**new.noise.observed_step(X, y, self.sample_weight,
                                                     new, n_iter))
