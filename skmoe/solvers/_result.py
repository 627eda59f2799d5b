"""What every solver returns, and the restarts and stopping rule they share."""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..utils._warnings import DegenerateFitWarning, MultipleOptimaWarning

#: two converged restarts whose log-likelihoods differ by more than
#: ``max(OPTIMA_GAP, OPTIMA_SLACK * tol * max(|L|, W))`` ended at different
#: optima (see :func:`distinct_optima`)
OPTIMA_GAP = 1.0
OPTIMA_SLACK = 100.0


@dataclass
class FitResult:
    """Outcome of one solver run.

    Attributes
    ----------
    params : MoEParams
        Final parameters.
    n_iter : int
        Number of iterations performed (at least 1).
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    log_likelihood : float
        Weighted total log-likelihood at ``params``.
    history : ndarray of shape (n_iter + 1,)
        Log-likelihood at the start and after each iteration.
    routing : ndarray of shape (n_iter + 1, n_samples, k) or None
        Top-k routing of the training rows at the start and after each
        iteration (EM with ``record_routing_k``), else None.
    masses : tuple of two ndarray or None
        The routed experts' gate and responsibility masses on the training
        data at ``params``, ``sum_i w_i g_k(x_i)`` and ``sum_i w_i r_ik``,
        when the solver's last E-step computed them (the fused EM), else None;
        :func:`~skmoe.solvers._finish.finish_fit` then needs no pass of its
        own.
    """

    params: object
    n_iter: int
    converged: bool
    log_likelihood: float
    history: np.ndarray
    routing: object = None
    masses: object = None


class Degenerate(Exception):
    """A run produced non-finite values; its restart is discarded."""


def distinct_optima(results, tol, total_weight):
    """The message when converged restarts ended at clearly different optima.

    Rule: among the restarts that converged, the best log-likelihood ``L``
    was reached by one restart only, and another ended more than ``gap =
    max(1, 100 tol max(|L|, W))`` below it (``W`` the total sample weight).
    One log-likelihood unit is a difference a likelihood-ratio test or AIC
    notices; ``100 tol max(|L|, W)`` is a hundred times the stopping rule's
    last change, how far below its limit a slowly converging EM run may
    stop, so a run that stopped early on the same optimum is not taken
    for another optimum.

    Parameters
    ----------
    results : list of FitResult
        The restarts that did not degenerate.
    tol : float
        The stopping rule's threshold.
    total_weight : float
        Total sample weight ``W``.

    Returns
    -------
    message : str or None
        The warning text, or None when the rule does not hold.
    """
    values = np.array([r.history[-1] for r in results if r.converged])
    if values.size < 2:
        return None
    best = values.max()
    gap = max(OPTIMA_GAP, OPTIMA_SLACK * tol * max(abs(best), total_weight))
    if np.sum(values >= best - gap) > 1:
        return None
    lower = []  # the other optima, highest first, one value within gap of each
    for v in np.sort(values[values < best - gap])[::-1]:
        if not lower or v < lower[-1] - gap:
            lower.append(v)
    others = ", ".join(f"{v:.6g}" for v in lower[:5])
    more = f" and {len(lower) - 5} more" if len(lower) > 5 else ""
    return (
        f"The restarts ended at clearly different optima: the best "
        f"log-likelihood {best:.6g} was reached by 1 of {values.size} converged "
        f"restarts, others ended at {others}{more} (more than {gap:.3g} "
        "lower). The likelihood has several local maxima on these data and a "
        "higher one may have been missed: increase n_init."
    )


def best_restart(starts, fit_one, *, name, not_converged, maximize=True,
                 optima=None):
    """Run one fit per start and keep the one with the best final objective.

    Shared by every solver: a restart that raises :class:`Degenerate` is
    discarded with a :class:`~skmoe.DegenerateFitWarning`, all restarts
    degenerating is a ``ValueError``, and a ``ConvergenceWarning`` is raised
    only when the kept restart did not converge (GaussianMixture's rule).
    With ``optima``, a :class:`~skmoe.MultipleOptimaWarning` is raised when
    the converged restarts ended at clearly different optima and the best
    was reached once (:func:`distinct_optima`).

    Parameters
    ----------
    starts : list
        One ``init_params`` value (or start) per restart.
    fit_one : callable
        ``fit_one(method, label) -> FitResult``; ``label`` prefixes verbose
        lines when there are several restarts.
    name : str
        The solver's name in messages ("EM", "lbfgs", ...).
    not_converged : callable
        ``not_converged(result) -> str``, the warning text for the kept run.
    maximize : bool, default=True
        Whether the objective in ``result.history`` is maximised (a
        log-likelihood) or minimised (a squared error).
    optima : tuple of two float or None, default=None
        ``(tol, total_weight)`` of a log-likelihood fit, to check the
        restarts for different optima; None does not check.

    Returns
    -------
    result : FitResult
        The best restart.
    """
    best = best_value = None
    failures, results = [], []
    for i, method in enumerate(starts):
        label = f"[init {i + 1}/{len(starts)}] " if len(starts) > 1 else ""
        try:
            result = fit_one(method, label)
        except Degenerate as exc:
            failures.append(str(exc))
            # stacklevel 4: best_restart, the solver, fit_moe, the estimator
            warnings.warn(
                f"{name} restart {i + 1} of {len(starts)} degenerated ({exc}) and "
                "was discarded.",
                DegenerateFitWarning,
                stacklevel=4,
            )
            continue
        results.append(result)
        value = result.history[-1] if maximize else -result.history[-1]
        if best is None or value > best_value:
            best, best_value = result, value
    if best is None:
        raise ValueError(
            f"All {len(starts)} {name} restarts degenerated ({failures[0]}); try a "
            "larger reg_var, fewer experts or a different init_params."
        )
    if not best.converged:
        warnings.warn(not_converged(best), ConvergenceWarning, stacklevel=4)
    message = None if optima is None else distinct_optima(results, *optima)
    if message is not None:
        warnings.warn(f"{name}: {message}", MultipleOptimaWarning, stacklevel=4)
    return best


def print_iteration(label, n_iter, previous, current, t0):
    """The line an EM loop prints per iteration with ``verbose``."""
    print(
        f"{label}iter {n_iter:4d}  log-lik {current: .8e}  "
        f"change {current - previous: .3e}  "
        f"time {time.perf_counter() - t0:8.3f}s"
    )


def converged_rule(previous, current, total_weight, tol):
    """EM stopping rule: relative change of the total log-likelihood.

    ``|L_t - L_{t-1}| < tol * max(|L_{t-1}|, W)`` with ``W`` the total sample
    weight, i.e. a relative change when ``|L|`` is large and an absolute change
    of the mean per-sample log-likelihood when it is close to zero. The
    inequality is strict, as in scikit-learn's ``GaussianMixture``: ``tol=0``
    runs exactly ``max_iter`` iterations (with ``<=``, two successive values
    that happen to be equal to the last bit would stop it, a round-off coin
    toss).
    """
    return abs(current - previous) < tol * max(abs(previous), total_weight)
