"""Top-K selection shared by the softmax and normalized sigmoid gates."""

import numpy as np

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
