"""Choosing the number of experts: BIC, ICL, cross-validation or a dendrogram."""

import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import check_cv
from sklearn.utils import check_array

from ._dendrogram import MixingMeasureDendrogram, mixing_measure_dendrogram
from ._params import MoEParams

__all__ = [
    "MixingMeasureDendrogram",
    "NExpertsSelection",
    "mixing_measure_dendrogram",
    "select_n_experts",
]

_CRITERIA = ("bic", "icl", "cv")


class NExpertsSelection:
    """Result of :func:`select_n_experts`: one row per number of experts.

    Every criterion is oriented so that **lower is better**.

    Parameters
    ----------
    n_experts : ndarray of int of shape (n_candidates,)
        The candidate numbers of experts, in the order given.
    criterion : {"bic", "icl", "cv"}
        The criterion that chose ``best_n_experts_``.
    scores : ndarray of shape (n_candidates,)
        The criterion value of every candidate (lower is better).
    log_likelihood : ndarray of shape (n_candidates,)
        Training log-likelihood of the fit on all data (NaN for a
        least-squares fit).
    n_iter : ndarray of int of shape (n_candidates,)
        Iterations of the fit on all data.
    converged : ndarray of bool of shape (n_candidates,)
        Whether the fit on all data converged.
    n_params : ndarray of int of shape (n_candidates,)
        Free parameters of every model (as counted by BIC).
    estimators : list of MixtureOfExpertsRegressor
        The fits on all data, one per candidate.
    cv_scores : ndarray of shape (n_candidates, n_splits) or None
        Held-out loss of every fold (``criterion="cv"`` only).
    criterion_label : str
        What ``scores`` measures, for tables and plots.

    Attributes
    ----------
    table : dict of str to ndarray
        Columns ``"n_experts"``, ``"criterion"``, ``"log_likelihood"``,
        ``"n_iter"``, ``"converged"``, ``"n_params"``, one entry per
        candidate.
    best_n_experts_ : int
        The candidate with the lowest criterion (the smallest one on ties).
    best_estimator_ : MixtureOfExpertsRegressor
        The estimator with ``best_n_experts_`` experts fitted on all data.
    """

    def __init__(self, n_experts, criterion, scores, log_likelihood, n_iter,
                 converged, n_params, estimators, cv_scores, criterion_label):
        self.n_experts = np.asarray(n_experts, dtype=int)
        self.criterion = criterion
        self.scores = np.asarray(scores, dtype=float)
        self.log_likelihood = np.asarray(log_likelihood, dtype=float)
        self.n_iter = np.asarray(n_iter, dtype=int)
        self.converged = np.asarray(converged, dtype=bool)
        self.n_params = np.asarray(n_params, dtype=int)
        self.estimators = list(estimators)
        self.cv_scores = cv_scores
        self.criterion_label = criterion_label
        # argmin returns the first minimum: ties go to the earliest candidate,
        # and the candidates are sorted, so to the smallest K
        best = int(np.argmin(self.scores))
        self.best_n_experts_ = int(self.n_experts[best])
        self.best_estimator_ = self.estimators[best]

    @property
    def table(self):
        """Columns of the result table, one entry per candidate.

        Returns
        -------
        table : dict of str to ndarray
            ``n_experts``, ``criterion``, ``log_likelihood``, ``n_iter``,
            ``converged`` and ``n_params``.
        """
        return {
            "n_experts": self.n_experts,
            "criterion": self.scores,
            "log_likelihood": self.log_likelihood,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "n_params": self.n_params,
        }

    def to_frame(self):
        """The table as a :class:`pandas.DataFrame` (pandas imported lazily).

        Returns
        -------
        frame : pandas.DataFrame
            One row per candidate, indexed by ``n_experts``.
        """
        import pandas as pd

        return pd.DataFrame(self.table).set_index("n_experts")

    def plot(self, ax=None):
        """Plot the criterion against the number of experts.

        The chosen number is marked. matplotlib is imported lazily.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None uses the current axes.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.gca()
        ax.plot(self.n_experts, self.scores, "o-", label=self.criterion_label)
        best = self.n_experts == self.best_n_experts_
        ax.plot(self.n_experts[best], self.scores[best], "*", markersize=14,
                label=f"chosen: K = {self.best_n_experts_}")
        ax.set_xlabel("number of experts K")
        ax.set_ylabel(f"{self.criterion_label} (lower is better)")
        ax.set_xticks(self.n_experts)
        ax.legend()
        return ax

    def __repr__(self):
        rows = ", ".join(
            f"{k}: {s:.6g}" for k, s in zip(self.n_experts, self.scores, strict=True)
        )
        return (
            f"NExpertsSelection(criterion={self.criterion!r}, "
            f"best_n_experts_={self.best_n_experts_}, scores={{{rows}}})"
        )


def _fit_one(estimator, K, X, y):
    est = clone(estimator).set_params(n_experts=K)
    init = est.get_params()["init_params"]
    if isinstance(init, MoEParams) and init.n_experts != K:
        # a given start fits its own number of experts only (see
        # select_n_experts)
        est.set_params(init_params="random")
    return est.fit(X, y)


def _fold_loss(estimator, K, X, y, train, test, objective):
    est = _fit_one(estimator, K, X[train], y[train])
    if objective == "likelihood":
        return -float(np.mean(est.log_density(X[test], y[test])))
    return float(np.mean((y[test] - est.predict(X[test])) ** 2))


def select_n_experts(estimator, X, y, n_experts=range(1, 8), criterion="bic",
                     cv=5, n_jobs=None):
    """Choose the number of experts by BIC, ICL or cross-validation.

    ``estimator`` is cloned and refitted with ``set_params(n_experts=K)`` for
    every candidate ``K`` on all of ``(X, y)``; every other hyper-parameter
    (gate, experts, solver, ``n_init``, ``random_state``...) is kept.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        The model to size (unfitted or fitted; it is not modified).
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,)
        Targets.
    n_experts : iterable of int, default=range(1, 8)
        Candidate numbers of experts, each at least 1 (sorted, duplicates
        removed).
    criterion : {"bic", "icl", "cv"}, default="bic"
        ``"bic"``: :meth:`~skmoe.MixtureOfExpertsRegressor.bic` of the fit
        on all data. ``"icl"``: :meth:`~skmoe.MixtureOfExpertsRegressor.icl`
        (BIC plus twice the entropy of the responsibilities). ``"cv"``: the
        held-out loss averaged over the folds of ``cv``: minus the mean
        held-out log-density per sample, :math:`-\\frac{1}{n_{test}}
        \\sum_{i \\in test} \\log p(y_i \\mid x_i)`, for
        ``objective="likelihood"``; the held-out mean squared error of
        ``predict`` for ``objective="least_squares"`` (the only criterion
        such a fit supports: it estimates no density).
    cv : int, cross-validation generator or iterable, default=5
        Splitting strategy for ``criterion="cv"``, as in
        :func:`sklearn.model_selection.check_cv` (an int gives unshuffled
        :class:`~sklearn.model_selection.KFold`). Ignored otherwise.
    n_jobs : int, default=None
        Number of fits run in parallel by joblib (candidates, and folds for
        ``"cv"``). None means 1; -1 uses all processors.

    Returns
    -------
    result : NExpertsSelection
        The table (criterion, log-likelihood, iterations, convergence and
        number of parameters per ``K``), ``best_n_experts_`` and
        ``best_estimator_`` (the fit with that ``K`` on all data), with a
        :meth:`~NExpertsSelection.plot`.

    Raises
    ------
    ValueError
        If ``criterion`` is unknown, a candidate is not a positive integer, or
        ``criterion`` is ``"bic"`` or ``"icl"`` for an estimator with
        ``objective="least_squares"`` (no likelihood to penalise).

    See Also
    --------
    skmoe.MixtureOfExpertsRegressor.bic : The Bayesian information criterion.
    skmoe.MixtureOfExpertsRegressor.icl : The integrated completed likelihood.

    Notes
    -----
    Every criterion is oriented so that lower is better, and ties go to the
    smallest ``K``. An estimator whose ``init_params`` is an
    :class:`~skmoe.MoEParams` starts from it the candidate with its number of
    experts; the other candidates start from ``init_params="random"`` (a
    ``UserWarning`` says so), since a start of another size does not exist.
    With shared experts, ``n_experts`` is the number of routed experts
    (``n_shared_experts`` is kept). BIC is consistent for the number
    of components of a well-specified mixture; ICL penalises overlapping
    experts and prefers well separated ones; cross-validation needs no
    parameter count (useful for FFN experts, whose parameter count
    overstates their flexibility) but costs ``cv`` extra fits per candidate.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.model_selection import select_n_experts
    >>> X, y, _ = make_moe_regression(400, 1, 2, random_state=0)
    >>> est = MixtureOfExpertsRegressor(n_init=2, tol=1e-4, random_state=0)
    >>> result = select_n_experts(est, X, y, n_experts=[1, 2, 3])
    >>> result.best_n_experts_
    2
    >>> result.table["converged"].tolist()
    [True, True, True]
    """
    if criterion not in _CRITERIA:
        raise ValueError(
            f"criterion must be one of {list(_CRITERIA)}; got {criterion!r}."
        )
    candidates = sorted(set(n_experts))
    if not candidates or not all(
        isinstance(k, Integral) and not isinstance(k, bool) and k >= 1
        for k in candidates
    ):
        raise ValueError(
            "n_experts must be a non-empty iterable of integers >= 1; got "
            f"{n_experts!r}."
        )
    candidates = [int(k) for k in candidates]
    init = estimator.get_params()["init_params"]
    if isinstance(init, MoEParams) and candidates != [init.n_experts]:
        others = ", ".join(str(k) for k in candidates if k != init.n_experts)
        warnings.warn(
            f"init_params is an MoEParams with n_experts={init.n_experts}: it "
            f"starts the fits with K={init.n_experts} only; the fits with "
            f"K={others} start from init_params='random'.",
            UserWarning, stacklevel=2,
        )
    objective = estimator.get_params()["objective"]
    if objective != "likelihood" and criterion != "cv":
        raise ValueError(
            f"criterion={criterion!r} needs the likelihood, and "
            f"objective={objective!r} estimates no conditional density; use "
            "criterion='cv' (held-out mean squared error) or "
            "objective='likelihood'."
        )
    X = check_array(X, dtype=np.float64)
    y = check_array(y, dtype=np.float64, ensure_2d=False)

    parallel = Parallel(n_jobs=n_jobs)
    fits = parallel(delayed(_fit_one)(estimator, K, X, y) for K in candidates)
    cv_scores = None
    if criterion == "bic":
        scores = [est.bic(X, y) for est in fits]
        label = "BIC"
    elif criterion == "icl":
        scores = [est.icl(X, y) for est in fits]
        label = "ICL"
    else:
        splits = list(check_cv(cv).split(X, y))
        losses = parallel(
            delayed(_fold_loss)(estimator, K, X, y, train, test, objective)
            for K in candidates for train, test in splits
        )
        cv_scores = np.asarray(losses).reshape(len(candidates), len(splits))
        scores = cv_scores.mean(axis=1)
        label = ("held-out -log-density per sample" if objective == "likelihood"
                 else "held-out mean squared error")
    loglik = [getattr(est, "log_likelihood_", np.nan) for est in fits]
    return NExpertsSelection(
        n_experts=candidates,
        criterion=criterion,
        scores=scores,
        log_likelihood=loglik,
        n_iter=[est.n_iter_ for est in fits],
        converged=[est.converged_ for est in fits],
        n_params=[est.params_.n_free_params() for est in fits],
        estimators=fits,
        cv_scores=cv_scores,
        criterion_label=label,
    )
