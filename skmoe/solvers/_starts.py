"""Starting parameters from data alone: a given model, random gates, clusters.

Besides the single starts of ``init_params`` (a given model, random gates,
weighted k-means), three kinds of *candidate* starts feed the
``init_params="auto"`` pool (:mod:`skmoe.solvers._auto`), one per part of the
model: clusters of the standardised ``(X, y)`` (:func:`joint_clusters_start`,
the start of ``init_params="kmeans"``),
cells of the standardised ``X``, the gate's view (:func:`input_cells_start`),
and clusters around regression lines, the experts' view
(:func:`regression_clusters_start`). All three draw rows by inverting the
cumulative sample weights along the lexicographic order of the rows
(:func:`canonical_rows`) and use weighted means only, so neither the order
of the rows nor replacing integer sample weights by repeated rows changes
the start (up to round-off); they use NumPy only (no threads), so they are
bit-identical for any number of threads.
"""

import numpy as np

from .._params import MoEParams
from ..utils._arrays import as_kernel_array
from ._result import Degenerate


def given_start(method, spec, n_features):
    """A copy of a user-given ``MoEParams`` with the spec's families.

    Parameters
    ----------
    method : MoEParams
        The given start.
    spec : FitSpec
        The fit's settings (families, sizes, variance floor).
    n_features : int
        Number of features of the data.

    Returns
    -------
    params : MoEParams
        Variances floored at ``spec.var_floor``.
    """
    K, d = spec.n_experts, n_features
    experts = spec.experts
    if method.n_experts != K or method.n_features != d:
        raise ValueError(
            "init_params as MoEParams must have n_experts="
            f"{K} and n_features={d}; got n_experts={method.n_experts} and "
            f"n_features={method.n_features}."
        )
    q = experts.n_params(d)
    if method.expert_params.shape[-1] != q:
        raise ValueError(
            f"init_params.expert_params must have {q} columns for "
            f"{type(experts).__name__}; got {method.expert_params.shape[-1]}."
        )
    if method.n_shared_experts != spec.n_shared_experts:
        raise ValueError(
            f"init_params must have n_shared_experts={spec.n_shared_experts}; "
            f"got {method.n_shared_experts}."
        )
    shared = {}
    if spec.n_shared_experts:
        shared = dict(
            shared_params=method.shared_params.copy(),
            shared_variance=np.maximum(method.shared_variance, spec.var_floor),
            shared_weights=method.shared_weights.copy(),
            shared_weight=spec.shared_weight,
            shared_experts=spec.shared_family,
        )
    return MoEParams(
        gate_coef=method.gate_coef.copy(),
        gate_intercept=method.gate_intercept.copy(),
        expert_params=method.expert_params.copy(),
        variance=spec.noise.floor_variance(method.variance, spec.var_floor),
        gating=spec.gating,
        experts=experts,
        gate_extra={k: v.copy() for k, v in method.gate_extra.items()},
        **shared,
        noise=spec.noise,
    )


def from_responsibilities(X, y, R, spec, gate_fields, sample_weight=None):
    """Experts and variances fitted to given weighted responsibilities.

    The experts start from the noise model's
    :meth:`~skmoe.noise.NoiseModel.init_experts` (the experts' own start for
    Gaussian and Student-t noise, on the working response of a GLM family);
    the variances are the weighted residual variances, or ones for a law
    without variance.

    Parameters
    ----------
    X, y : ndarray
        The data.
    R : ndarray of shape (n_samples, n_experts)
        Row weight times starting responsibility.
    spec : FitSpec
        The fit's settings.
    gate_fields : dict
        The starting gate.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        The data's weights (for the noise model).

    Returns
    -------
    params : MoEParams
    """
    experts, noise = spec.experts, spec.noise
    expert_params = noise.init_experts(experts, X, y, R, spec.rng, sample_weight)
    variance = noise.start_variance(experts, X, y, R, expert_params, spec.var_floor)
    if not (np.isfinite(expert_params).all() and np.isfinite(variance).all()):
        raise Degenerate("non-finite starting parameters")
    return MoEParams(
        gate_coef=gate_fields["gate_coef"],
        gate_intercept=gate_fields["gate_intercept"],
        expert_params=expert_params,
        variance=variance,
        gating=spec.gating,
        experts=experts,
        gate_extra=gate_fields.get("gate_extra", {}),
        noise=noise,
    )


def _response_partition(X, y, rows, spec):
    """Random soft partition by hyperplanes in the experts' standardised (x, y).

    The start of a gate that reads no column of ``X`` (covariate-free
    weights): its start weights are the same on every row, so experts fitted
    to them would all be equal. The rows are split instead by ``K`` random
    directions through the weighted mean of the experts' columns and ``y``
    (each standardised by its weighted standard deviation), a softmax of
    the projections; like the random gate, it depends on the data only
    through weighted sums.

    Parameters
    ----------
    X, y : ndarray
        The data.
    rows : ndarray of shape (n_samples,)
        The row weights (the noise model's ``row_weights``).
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    R : ndarray of shape (n_samples, n_experts)
        Row weight times starting responsibility.
    """
    K = spec.n_experts
    columns = spec.experts.input_columns(X.shape[1]).astype(np.intp)
    Z = np.hstack([X[:, columns], y.reshape(y.shape[0], -1)])  # per response
    w = rows / rows.sum()
    mean = w @ Z
    std = np.sqrt(np.maximum(w @ (Z - mean) ** 2, 0.0))
    std = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
    logits = ((Z - mean) / std) @ spec.rng.standard_normal((K, Z.shape[1])).T
    logits -= logits.max(axis=1, keepdims=True)
    R = np.exp(logits)
    R *= (rows / R.sum(axis=1))[:, None]
    return as_kernel_array(R)


def random_start(X, y, sample_weight, spec):
    """A random gate partition, experts fitted to it by weighted least squares.

    The gate is the family's :meth:`~skmoe.Gating.init` (random hyperplanes
    through the weighted mean); it depends on the data only through weighted
    sums, so it is independent of row order, and integer sample weights give
    the same start as repeated rows.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    params : MoEParams
    """
    K, d = spec.n_experts, X.shape[1]
    gating, experts = spec.gating, spec.experts
    rows = spec.noise.row_weights(sample_weight)
    gate_fields = gating.init(X, rows, K, spec.rng)
    if gating.input_columns(d).size == 0:
        # covariate-free weights: the gate partitions nothing, so the rows are
        # partitioned in the experts' (x, y) instead
        R = _response_partition(X, y, rows, spec)
        return from_responsibilities(X, y, R, spec, gate_fields, sample_weight)
    probe = MoEParams(
        expert_params=np.zeros((K, experts.n_params(d))),
        variance=np.ones(K),
        gating=gating,
        experts=experts,
        **gate_fields,
    )
    # in place: the gates are not needed after R (one (n, K) array fewer)
    R = as_kernel_array(np.exp(gating.log_weights(X, probe)))
    R *= rows[:, None]
    params = from_responsibilities(X, y, R, spec, gate_fields, sample_weight)
    n_params = params.expert_params.shape[-1]
    if n_params < np.count_nonzero(rows) and _coincide(params.expert_params):
        # the gate's partition does not separate the experts: when the
        # experts can fit every level the gate distinguishes (a binary
        # covariate in both, e.g. flexmix's Mehta data), all experts fit the
        # same weighted means, and EM stays at that symmetric point. The
        # experts start from a partition in their (x, y) instead. (Experts
        # with a parameter per row fit every partition exactly: no partition
        # separates them, and the start is kept.)
        R = _response_partition(X, y, rows, spec)
        params = from_responsibilities(X, y, R, spec, gate_fields, sample_weight)
    return params


def _coincide(expert_params):
    """Tell whether all experts' starting parameters agree to round-off."""
    # the array methods, not np.ptp / np.max / np.all: the same values
    # without their Python dispatch (this runs for every random start)
    spread = expert_params.max(axis=0) - expert_params.min(axis=0)
    scale = 1.0 + np.abs(expert_params).max(axis=0)
    return expert_params.shape[0] > 1 and bool((spread <= 1e-8 * scale).all())


def labels_start(X, y, sample_weight, labels, spec):
    """Experts fitted to hard clusters, and one gate update towards them.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    labels : ndarray of int of shape (n_samples,)
        The cluster (expert) of every row.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    params : MoEParams
        Experts and variances by :func:`from_responsibilities` on the
        clusters; the gate is one :meth:`~skmoe.Gating.m_step` from the
        uniform gate (zero rows) in the state a schedule starts from
        (:meth:`~skmoe.Gating.start_extra`: a scheduled temperature, the
        smoothing of an annealed top-K selection), as a random start's.

    Raises
    ------
    Degenerate
        If the start is not finite, or the gate's update has no solution
        from hard clusters (a singular linear system; the Gaussian gate of a
        cluster with fewer distinct rows than features).
    """
    K, d = spec.n_experts, X.shape[1]
    rows = spec.noise.row_weights(sample_weight)
    R = np.zeros((X.shape[0], K))
    R[np.arange(X.shape[0]), labels] = rows
    R = as_kernel_array(R)
    gate_shape = spec.gating.param_blocks(d, K)["gate_coef"][0]
    # the uniform gate in the state a schedule starts from (a scheduled
    # temperature, the smoothing of an annealed top-K selection)
    gate = {"gate_coef": np.zeros(gate_shape), "gate_intercept": np.zeros(K),
            "gate_extra": spec.gating.start_extra(K)}
    params = from_responsibilities(X, y, R, spec, gate, sample_weight)
    try:
        gate = spec.gating.m_step(X, R, params)
    except np.linalg.LinAlgError as exc:
        raise Degenerate(f"the gate's update from the clusters failed ({exc})") from exc
    arrays = [v for k, v in gate.items() if k != "gate_extra"]
    if not all(np.all(np.isfinite(v)) for v in arrays):
        raise Degenerate("non-finite starting gate")
    return params.replace(**gate)


def kmeans_start(X, y, sample_weight, spec):
    """k-means on the standardised ``(X, y)``; experts and gate fit the clusters.

    Only the columns of ``X`` the gate or the experts read enter the
    clustering (:meth:`~skmoe.Gating.input_columns`), so columns outside a
    ``gate_features`` / ``expert_features`` selection change nothing.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    params : MoEParams
    """
    # weighted_kmeans (plain NumPy) rather than sklearn.cluster.KMeans: the
    # same greedy k-means++ seeding and Lloyd iterations, but one KMeans fit
    # of 150 rows costs 3-16 ms of CPU (its OpenMP Lloyd loop and
    # validation; the more the busier the machine) against 0.6 ms, more
    # than the EM run it starts (n_init=30 on tonedata: 1.0 s against
    # 0.03 s at load 4-5, benchmarks/bench_real_data.py), and this start
    # does not depend on the order of the rows
    rows = spec.noise.row_weights(sample_weight)
    columns = _used_columns(X, spec)
    # one column per response
    Z = _standardized(np.hstack([X[:, columns], y.reshape(y.shape[0], -1)]),
                      rows)
    labels = weighted_kmeans(Z, rows, spec.n_experts, spec.rng,
                             canonical_rows(X[:, columns], y))
    return labels_start(X, y, sample_weight, labels, spec)


def _used_columns(X, spec):
    """The columns of ``X`` that the gate or the experts read."""
    d = X.shape[1]
    used = np.union1d(spec.gating.input_columns(d), spec.experts.input_columns(d))
    return used.astype(np.intp)


# ------------------------------------------------ candidates of the auto pool
def _standardized(Z, sample_weight):
    """Columns centred and scaled by their weighted mean and standard deviation.

    A constant column is centred only.
    """
    w = sample_weight / sample_weight.sum()
    mean = w @ Z
    std = np.sqrt(np.maximum(w @ (Z - mean) ** 2, 0.0))
    return (Z - mean) / np.where(std > 0, std, 1.0)


def canonical_rows(X, y):
    """The rows of ``(X, y)`` in lexicographic order (first column first).

    Random rows are drawn along this order, so a draw does not depend on the
    order of the rows, and a row repeated ``c`` times (anywhere) takes the
    same place as the row once with weight ``c``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Inputs.
    y : ndarray of shape (n_samples,)
        Targets.

    Returns
    -------
    order : ndarray of int of shape (n_samples,)
        Row indices, sorted by ``X[:, 0]``, then ``X[:, 1]``, ..., then ``y``.
    """
    return np.lexsort(np.column_stack([X, y]).T[::-1])


def _draw_rows(weights, order, u):
    """Rows drawn with probabilities proportional to ``weights``.

    Inverse transform sampling along ``order`` (:func:`canonical_rows`): the
    row whose interval of cumulative weight holds ``u`` times the total, for
    every uniform draw ``u``. Rows of zero weight own an empty interval.
    """
    cumulative = np.cumsum(weights[order])
    rows = np.searchsorted(cumulative, u * cumulative[-1], side="right")
    return order[np.minimum(rows, cumulative.size - 1)]


def _squared_distances(Z, centers):
    """``(n, K)`` squared Euclidean distances of the rows to the centers."""
    d2 = (np.einsum("ij,ij->i", Z, Z)[:, None] - 2.0 * Z @ centers.T
          + np.einsum("ij,ij->i", centers, centers)[None, :])
    return np.maximum(d2, 0.0)


def weighted_kmeans(Z, sample_weight, n_clusters, rng, order, max_iter=100):
    """Weighted k-means: greedy k-means++ seeding, then Lloyd iterations.

    The seeding is scikit-learn's greedy k-means++ (Arthur and Vassilvitskii
    2007; ``2 + log K`` candidate rows per center, the one that lowers the
    weighted potential most is kept), with rows drawn along ``order`` by
    inverting the cumulative weights; Lloyd's iterations stop when no label
    changes (at most ``max_iter``). Everything depends on the data through
    those draws and weighted means only, so neither the order of the rows
    nor replacing integer weights by repeated rows changes the clusters (up
    to round-off of the weighted means); plain NumPy, no threads.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_columns)
        The points.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights, positive sum.
    n_clusters : int
        Number of clusters.
    rng : numpy.random.RandomState
        Random generator.
    order : ndarray of int of shape (n_samples,)
        The order of the draws (:func:`canonical_rows`).
    max_iter : int, default=100
        Maximum number of Lloyd iterations.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)
        The cluster of every row (a cluster can be empty when the data have
        fewer distinct points than clusters).
    """
    w = sample_weight
    n_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, Z.shape[1]))
    centers[0] = Z[_draw_rows(w, order, rng.uniform())]
    closest = _squared_distances(Z, centers[:1])[:, 0]
    for c in range(1, n_clusters):
        trials = _draw_rows(w * closest, order, rng.uniform(size=n_trials))
        candidates = np.minimum(closest[:, None],
                                _squared_distances(Z, Z[trials]))
        best = int(np.argmin(w @ candidates))
        centers[c] = Z[trials[best]]
        closest = candidates[:, best]
    labels = None
    for _ in range(max_iter):
        new = np.argmin(_squared_distances(Z, centers), axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        onehot = (labels[:, None] == np.arange(n_clusters)) * w[:, None]
        mass = onehot.sum(axis=0)
        filled = mass > 0  # an empty cluster keeps its center
        centers[filled] = (onehot.T @ Z)[filled] / mass[filled, None]
    return labels


def joint_clusters_start(X, y, sample_weight, spec):
    """Candidate: weighted k-means clusters of the standardised ``(X, y)``.

    The joint view: experts whose lines are apart in ``y`` (overlapping
    regression lines, the classic mixture of regressions).

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    params : MoEParams
    """
    # the start of init_params="kmeans", one candidate of the pool
    return kmeans_start(X, y, sample_weight, spec)


def input_cells_start(X, y, sample_weight, spec):
    """Candidate: weighted k-means cells of the standardised ``X``.

    The gate's view: one expert per region of the inputs (in one dimension,
    one per segment), as in piecewise regressions.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    params : MoEParams
    """
    rows = spec.noise.row_weights(sample_weight)
    columns = spec.gating.input_columns(X.shape[1]).astype(np.intp)
    if columns.size == 0:
        # a gate on no column (covariate-free weights) has no cells: the
        # experts' columns stand in
        columns = spec.experts.input_columns(X.shape[1]).astype(np.intp)
    order = canonical_rows(X[:, _used_columns(X, spec)], y)
    labels = weighted_kmeans(_standardized(X[:, columns], rows), rows,
                             spec.n_experts, spec.rng, order)
    return labels_start(X, y, sample_weight, labels, spec)


def _closest_expert(X, y, sample_weight, R, spec):
    """Experts fitted to ``R``; the label of the closest expert mean per row.

    The experts start as the noise model starts them
    (:meth:`~skmoe.noise.NoiseModel.init_experts`); the mean of ``y`` is the
    noise model's (the inverse link of a GLM family).
    """
    experts, noise = spec.experts, spec.noise
    expert_params = noise.init_experts(experts, X, y, as_kernel_array(R), spec.rng,
                                       sample_weight)
    n = X.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        # an expert fitted to a few drawn rows may have no finite fit (a
        # Poisson or binomial GLM through rows that it separates): its means
        # overflow, and it is then the closest expert of no row
        means = noise.mean(noise.predictors(experts, X, expert_params))
        # squared distances summed over the responses (one response: (n, K, 1))
        gaps = y.reshape(n, 1, -1) - means.reshape(n, means.shape[1], -1)
        distances = np.sum(gaps ** 2, axis=2)
    distances[~np.isfinite(distances)] = np.inf
    return np.argmin(distances, axis=1)


def regression_clusters_start(X, y, sample_weight, spec, max_iter=10):
    """Candidate: clusters around regression lines (k-lines), the experts' view.

    Each expert is first fitted to ``q + 1`` rows drawn with probabilities
    proportional to the weights (``q`` its number of parameters: a line
    through three points for a linear expert of one feature); every row
    then goes to the expert whose mean is closest to its ``y``, the experts
    are refitted to their rows, and so on until no label changes (at most
    ``max_iter`` times), as Lloyd's algorithm does with lines for centers
    (the K-regressions of Spath 1979).

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.
    max_iter : int, default=10
        Maximum number of reassignments.

    Returns
    -------
    params : MoEParams
    """
    n, K = X.shape[0], spec.n_experts
    q = spec.experts.n_params(X.shape[1])
    weights = spec.noise.row_weights(sample_weight)
    order = canonical_rows(X[:, _used_columns(X, spec)], y)
    drawn = _draw_rows(weights, order,
                       spec.rng.uniform(size=(K, q + 1)))
    R = np.zeros((n, K))
    # counts of draws: a row drawn twice counts twice, like two drawn copies
    np.add.at(R, (drawn, np.arange(K)[:, None]), 1.0)
    labels = _closest_expert(X, y, sample_weight, R, spec)
    for _ in range(max_iter):
        R = np.zeros((n, K))
        R[np.arange(n), labels] = weights
        new = _closest_expert(X, y, sample_weight, R, spec)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels_start(X, y, sample_weight, labels, spec)
