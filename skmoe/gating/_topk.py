"""Top-K selection shared by the softmax and normalized sigmoid gates."""

import numpy as np

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ._base import Gating


class _TopKGating(Gating):
    """A gate with an optional top-K selection (``self.top_k``).

    Holds what the softmax and normalized-sigmoid gates share about their
    ``top_k``: whether it selects, the current smoothing of an annealed
    selection, the abilities a selection removes, and the ECME update it
    needs.
    """

    #: whether the family's compiled program runs its top-K selection
    _compiled_topk = False

    def _sparse(self, n_experts):
        return self.top_k is not None and self.top_k < n_experts

    def _smoothing(self, params):
        """Current smoothing of an annealed top-K selection (0: exact)."""
        if not self._sparse(params.n_experts):
            return 0.0
        return float(params.gate_extra.get("top_k_smoothing", np.zeros(1))[0])

    def _start_smoothing(self, n_experts):
        """The ``gate_extra`` of an annealed top-K selection's start."""
        if self._sparse(n_experts) and self.anneal_iter > 0:
            return {"top_k_smoothing": np.array([SMOOTHING_START])}
        return {}

    def _lacks_topk(self, ability, n_experts):
        """Abilities a top-K selection removes (see ``Gating._lacks``).

        A selection (``top_k < n_experts``) is not smooth (the likelihood
        jumps where the selected set changes) and its annealed start
        (``anneal_iter > 0``) changes the model over EM iterations.
        """
        sparse = (self._sparse(n_experts) if n_experts is not None
                  else self.top_k is not None)
        if not sparse:
            return None
        if ability == "compiled" and not self._compiled_topk:
            return (f"top_k={self.top_k} selects experts (its ECME update "
                    "has no compiled program)")
        if ability == "smooth":
            return (f"top_k={self.top_k} selects experts by the order of the "
                    "logits (the likelihood jumps where the selected set "
                    "changes)")
        if ability == "short_runs":
            # measured: as the default start, the pool recovered top-2 truths
            # worse than random starts (tests/test_recovery_gating.py, seed 0
            # of the top-2 normalized sigmoid: log-likelihood 19 below the
            # truth's, where random starts end 12 or less below)
            return (f"top_k={self.top_k} selects experts: short runs of a "
                    "smoothed selection rank the starts of the exact one "
                    "poorly (top-2 truths were recovered worse than from "
                    "random starts)")
        if ability == "fixed_model" and self.anneal_iter > 0:
            return (f"top_k={self.top_k} starts from a smoothed selection "
                    f"annealed over EM iterations (anneal_iter={self.anneal_iter}"
                    "); set anneal_iter=0 to fit the exact top-K gate directly")
        return None

    def _topk_kernel(self):
        """The family's code in :mod:`skmoe._kernels._topk_steps` and its
        dense update's settings (``newton_iter, newton_tol, pin_last``)."""
        raise NotImplementedError

    def _topk_step(self, X, theta, tau, smoothing, R, likelihood, LW):
        """The kernel update of a top-K selection (``theta`` in place).

        :func:`~skmoe._kernels._topk_steps.topk_step` from the free rows
        ``theta`` (:meth:`pack`); ``likelihood`` is the observed likelihood
        as ``(w, A, a)`` (:class:`~skmoe.GateLikelihood`'s row weights,
        routed and shared log-densities). Returns whether the gate is finite.
        """
        family, *newton = self._topk_kernel()
        w, A, a = likelihood
        return _kernels._topk_steps.topk_step(
            family, X, theta, float(tau), int(self.top_k),
            float(smoothing), R, w, A, a, self._max_ascent_iter, *newton, LW)

    def _topk_m_step(self, X, R, params, likelihood, tau=1.0):
        """:meth:`m_step` of a top-K selection by the kernel of the compiled
        EM path: the ECME step of the exact selection on ``likelihood`` (a
        :class:`~skmoe.GateLikelihood`), L-BFGS while it anneals."""
        theta = self.pack(params)
        n = X.shape[0]
        a = (likelihood.log_shared if likelihood.log_shared is not None
             else np.full(n, -np.inf))
        self._topk_step(as_kernel_array(X), theta, tau, self._smoothing(params),
                        as_kernel_array(R),
                        (as_kernel_array(likelihood.sample_weight),
                         as_kernel_array(likelihood.log_routed),
                         as_kernel_array(a)),
                        np.empty((n, params.n_experts)))
        return self.unpack(theta, params)

    def needs_likelihood(self):
        """True for a top-K gate, whose update is an ECME step.

        Returns
        -------
        needs : bool
            Whether :meth:`m_step` needs the ``likelihood`` keyword.
        """
        return self.top_k is not None


#: smoothing of an annealed top-K selection at the start of a fit (logit units)
SMOOTHING_START = 2.0
#: smoothing below which the annealed selection becomes the exact top-K
SMOOTHING_END = 1e-2


def anneal_steps(anneal_iter, max_iter):
    """Number of EM iterations a schedule takes: ``anneal_iter``, at most half
    of ``max_iter`` (at least 1), so that a run ends on the final model."""
    return max(1, min(int(anneal_iter), int(max_iter) // 2))


def next_smoothing(smoothing, n_steps):
    """One geometric step of the top-K smoothing from SMOOTHING_START towards
    SMOOTHING_END, then exactly 0 (the exact top-K gate)."""
    if smoothing <= 0:
        return 0.0
    new = smoothing * (SMOOTHING_END / SMOOTHING_START) ** (1.0 / n_steps)
    return 0.0 if new <= SMOOTHING_END * (1.0 + 1e-9) else float(new)


class TopKProgram:
    """The compiled EM state of a top-K selection: its free rows.

    The state is the free rows of the gate's ``pack`` (the normalised gate),
    its temperature and smoothing; the step is the kernel of the gate's
    ``m_step`` (:meth:`_TopKGating._topk_step`: monotone L-BFGS on the
    complete-data objective while the selection anneals, the ECME step on
    the observed likelihood for the exact selection), then the schedules of
    the gate's ``at_iteration`` (the smoothing, and a scheduled
    ``temperature``, an object with ``value`` and ``step`` as the softmax
    gate's, if given).
    """

    #: the ECME step needs the observed likelihood (see run_compiled)
    needs_likelihood = True

    def __init__(self, gating, X, params, temperature=None):
        self.gating, self.X = gating, X
        self.K, self.d = params.n_experts, X.shape[1]
        self.theta = gating.pack(params)
        self.temperature = temperature
        self.tau = 1.0 if temperature is None else temperature.value(params)
        self.extra = dict(params.gate_extra)
        self.smoothing = gating._smoothing(params)
        self.family = gating._topk_kernel()[0]
        self.coef, self.intercept = np.empty((self.K, self.d)), np.empty(self.K)
        self.L = np.empty((X.shape[0], self.K))

    def log_weights(self, LW):
        steps = _kernels._topk_steps
        steps.topk_logits_into(self.X, self.theta, self.tau, self.coef,
                               self.intercept, self.L)
        LW[:] = steps.topk_log_weights(self.family, self.L,
                                       int(self.gating.top_k), self.smoothing)

    def step(self, R, LW, n_iter, max_iter, likelihood):
        finite = self.gating._topk_step(self.X, self.theta, self.tau,
                                        self.smoothing, R, likelihood, LW)
        n_steps = anneal_steps(self.gating.anneal_iter, max_iter)
        scheduled = self.smoothing > 0
        if scheduled:
            self.smoothing = next_smoothing(self.smoothing, n_steps)
            self.extra["top_k_smoothing"] = np.array([self.smoothing])
        if self.temperature is not None and self.temperature.schedule is not None:
            new = self.temperature.step(self.tau, n_steps)
            if new != self.tau:
                self.tau = new
                self.extra["temperature"] = np.array([new])
                scheduled = True
        if scheduled:
            self.log_weights(LW)
        return finite, scheduled

    def fields(self):
        p = self.d + 1
        rows = self.theta.shape[0] // p
        full = np.zeros((self.K, p))
        full[:rows] = self.theta.reshape(rows, p)
        fields = {"gate_coef": np.ascontiguousarray(full[:, :self.d]),
                  "gate_intercept": np.ascontiguousarray(full[:, self.d])}
        if self.extra:
            fields["gate_extra"] = dict(self.extra)
        return fields
