"""``init_params="auto"``: short EM runs from a pool of starts, the best run on.

The likelihood of a mixture of experts has several local maxima, and which
one EM climbs depends on the start. No single kind of start finds the best
one on every data set: on the classic mixture-of-regression data sets
(:mod:`skmoe.datasets`), clusters of ``(x, y)`` find the optimum of mcycle
with three experts in 29 of 30 starts and never with four, where cells of
``x`` find it in 17 of 30, and cells of ``x`` never find those of NPreg or
CO2 (the measurements are in the user guide, :ref:`starts`). The pool
therefore cycles through four kinds of starts of
:mod:`skmoe.solvers._starts`: random gates (the ``"random"`` start) and one
kind per part of the model:

1. clusters of the standardised ``(X, y)`` (the joint view);
2. cells of the standardised ``X`` (the gate's view);
3. clusters around regression lines (the experts' view);

and each runs ``short_iter`` EM iterations (fewer if it converges). The run
with the highest log-likelihood after them goes on to convergence, as
flexmix's ``initFlexmix`` runs its best short run (there, from random
memberships). flexmix takes the best of several short runs to a loose
tolerance; skmoe counts iterations instead, so that every candidate costs
the same and a slowly starting run is not discarded before it moves.

It is the default start for models whose gate has the ability
``"short_runs"`` (:data:`POOL`); the others (a top-K selection, the
hierarchical gate) start from ``init_params="random"``
(:func:`start_method`), where short runs ranked the starts worse. Every
candidate starts the gate's schedule where a random start does
(:meth:`~skmoe.Gating.start_extra`), so short runs of a scheduled
temperature are the first iterations of that schedule.

The continued run is the run that the chosen start would have made alone:
:func:`~skmoe.solvers._em.run_em` runs on from the short run's parameters
with the iteration numbers continued, and the history joins both parts.
"""

import numpy as np

from ..utils._abilities import Requirements, missing
from ._em import run_em
from ._result import Degenerate, FitResult
from ._starts import (
    input_cells_start,
    joint_clusters_start,
    random_start,
    regression_clusters_start,
)

#: what the pool needs of a model: a gate whose short runs rank the starts
#: (not a top-K selection, not the hierarchical gate); other models start
#: from init_params="random" (:func:`start_method`)
POOL = Requirements("init_params='auto'", gating=("short_runs",))


def start_method(spec):
    """The start a fit of ``spec`` uses, and why it is not the one asked for.

    ``init_params="auto"`` runs the pool only for models whose gate has the
    ability ``"short_runs"`` (:data:`POOL`); the others start from
    ``"random"``, the start they were measured with.

    Parameters
    ----------
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    method : str or MoEParams
        ``spec.init_params``, or ``"random"`` instead of ``"auto"``.
    reason : str or None
        Why ``"auto"`` fell back (a sentence), else None.
    """
    method = spec.init_params
    if not (isinstance(method, str) and method == "auto"):
        return method, None
    reason = missing(POOL, **spec.model())
    if reason is None:
        return method, None
    return "random", (f"{reason} It starts from init_params='random' "
                      "instead.")


#: the kinds of candidate starts, in the order the pool cycles through them
CANDIDATES = (
    ("random gates", random_start),
    ("clusters of (X, y)", joint_clusters_start),
    ("cells of X", input_cells_start),
    ("regression lines", regression_clusters_start),
)


def auto_start(X, y, sample_weight, spec, *, record=None, label=""):
    """The best of ``spec.n_candidates`` short EM runs from the pool's starts.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings: ``n_candidates`` starts, ``short_iter`` EM
        iterations each (at most ``max_iter``), the stopping rule
        (``tol``), the random generator.
    record : callable or None, default=None
        Passed to :func:`~skmoe.solvers._em.run_em` (routing records).
    label : str, default=""
        Prefix of the verbose lines.

    Returns
    -------
    result : FitResult
        The short run with the highest final log-likelihood ``L``, or rather
        the first run within ``tol * max(|L|, W)`` of it (``W`` the total
        sample weight; differences below the stopping rule's resolution do
        not count, so round-off cannot change the choice); ``converged`` if
        it met the stopping rule within its short run.

    Raises
    ------
    Degenerate
        If every candidate degenerated (non-finite values).
    """
    runs, failures = [], []
    n = spec.n_candidates
    for i in range(n):
        kind, make = CANDIDATES[i % len(CANDIDATES)]
        try:
            params = spec.noise.start(make(X, y, sample_weight, spec), None)
            result = run_em(
                X, y, sample_weight, params, max_iter=spec.max_iter,
                stop_iter=min(spec.short_iter, spec.max_iter), tol=spec.tol,
                var_floor=spec.var_floor, verbose=spec.verbose,
                label=f"{label}[candidate {i + 1}/{n}: {kind}] ", record=record,
            )
        except Degenerate as exc:
            failures.append(f"{kind}: {exc}")
            continue
        runs.append(result)
    if not runs:
        raise Degenerate(f"all {n} candidate starts degenerated ({failures[0]})")
    values = np.array([run.history[-1] for run in runs])
    best = values.max()
    # a lead within the stopping rule's resolution is no lead: the first of
    # the near-best runs, so that round-off (weights or repeated rows, the
    # summation order) cannot change the choice
    slack = spec.tol * max(abs(best), float(sample_weight.sum()))
    return runs[int(np.flatnonzero(values >= best - slack)[0])]


#: rows of the pool's short runs: on larger data the candidates run on a
#: random subsample of this many rows (:func:`pool_rows`) and the chosen start
#: runs on the whole data. Ranking basins of attraction needs far fewer rows
#: than estimating the parameters, and 20 candidates x 10 iterations on the
#: whole data would cost more than the fit itself (at n = 1e6, 200 passes of
#: about half a second); on data of at most this many rows (every data set of
#: :mod:`skmoe.datasets`) the pool runs on all of them
POOL_ROWS = 5000


def pool_rows(n_samples, spec):
    """The rows of the pool's short runs.

    Parameters
    ----------
    n_samples : int
        Rows of the training data.
    spec : FitSpec
        The fit's settings (its random generator draws the subsample).

    Returns
    -------
    rows : ndarray of int of shape (POOL_ROWS,) or None
        None (every row) when ``n_samples <= POOL_ROWS``, else
        :data:`POOL_ROWS` rows drawn without replacement, in increasing order.
    """
    if n_samples <= POOL_ROWS:
        return None
    return np.sort(spec.rng.choice(n_samples, POOL_ROWS, replace=False))


def auto_params(X, y, sample_weight, spec, *, label=""):
    """The start of an ``"auto"`` restart: the pool's best parameters.

    The pool (:func:`auto_start`) runs on the rows of :func:`pool_rows`; the
    parameters its best short run reached are the start of a run on the
    whole data.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.
    label : str, default=""
        Prefix of the verbose lines.

    Returns
    -------
    params : MoEParams
        The start.
    """
    rows = pool_rows(X.shape[0], spec)
    if rows is None:
        return auto_start(X, y, sample_weight, spec, label=label).params
    return auto_start(X[rows], y[rows], sample_weight[rows], spec,
                      label=f"{label}[pool on {POOL_ROWS} of {X.shape[0]} "
                      "rows] ").params


def run_on(X, y, sample_weight, short, spec, *, record=None, label=""):
    """Run a short run on to convergence; the joined record of both parts.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    short : FitResult
        The short run (:func:`auto_start`).
    spec : FitSpec
        The fit's settings.
    record : callable or None, default=None
        Passed to :func:`~skmoe.solvers._em.run_em`.
    label : str, default=""
        Prefix of the verbose lines.

    Returns
    -------
    result : FitResult
        ``short`` itself when it converged or used all ``max_iter``
        iterations; else the joined run (history, routing and iteration
        count of both parts).
    """
    if short.converged or short.n_iter >= spec.max_iter:
        return short
    rest = run_em(X, y, sample_weight, short.params, max_iter=spec.max_iter,
                  tol=spec.tol, var_floor=spec.var_floor, verbose=spec.verbose,
                  label=label, record=record, first_iter=short.n_iter + 1)
    # rest starts with the log-likelihood (and routing) at short's parameters
    routing = None
    if short.routing is not None:
        routing = np.concatenate([short.routing, rest.routing[1:]])
    return FitResult(rest.params, rest.n_iter, rest.converged, rest.log_likelihood,
                     np.concatenate([short.history, rest.history[1:]]), routing,
                     rest.masses)
