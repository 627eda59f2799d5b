"""Starting parameters from data alone: a given model, random gates, k-means."""

import numpy as np
from sklearn.cluster import KMeans

from .._params import MoEParams
from ..noise import update_variances
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
    if method.expert_params.shape[1] != q:
        raise ValueError(
            f"init_params.expert_params must have {q} columns for "
            f"{type(experts).__name__}; got {method.expert_params.shape[1]}."
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
        variance=np.maximum(method.variance, spec.var_floor),
        gating=spec.gating,
        experts=experts,
        gate_extra={k: v.copy() for k, v in method.gate_extra.items()},
        **shared,
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
    K = R.shape[1]
    expert_params = noise.init_experts(experts, X, y, R, spec.rng, sample_weight)
    if noise.has_variance:
        means = experts.predict(X, expert_params)
        variance = update_variances(y, means, R, np.ones(K), spec.var_floor)
    else:
        variance = np.ones(K)
    if not (np.all(np.isfinite(expert_params)) and np.all(np.isfinite(variance))):
        raise Degenerate("non-finite starting parameters")
    return MoEParams(
        gate_coef=gate_fields["gate_coef"],
        gate_intercept=gate_fields["gate_intercept"],
        expert_params=expert_params,
        variance=variance,
        gating=spec.gating,
        experts=experts,
        gate_extra=gate_fields.get("gate_extra", {}),
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
    Z = np.hstack([X[:, columns], y[:, None]])
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
    n_params = params.expert_params.shape[1]
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
    spread = np.ptp(expert_params, axis=0)
    scale = 1.0 + np.max(np.abs(expert_params), axis=0)
    return expert_params.shape[0] > 1 and bool(np.all(spread <= 1e-8 * scale))


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
    K, d = spec.n_experts, X.shape[1]
    rows = spec.noise.row_weights(sample_weight)
    used = np.union1d(spec.gating.input_columns(d), spec.experts.input_columns(d))
    Z = np.hstack([X[:, used.astype(np.intp)], y[:, None]])
    Z = (Z - Z.mean(axis=0)) / np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)
    labels = KMeans(
        n_clusters=K, n_init=1,
        random_state=spec.rng.randint(np.iinfo(np.int32).max),
    ).fit(Z, sample_weight=rows).labels_
    R = np.zeros((X.shape[0], K))
    R[np.arange(X.shape[0]), labels] = rows
    R = as_kernel_array(R)
    gate_shape = spec.gating.param_blocks(d, K)["gate_coef"][0]
    zero_gate = {"gate_coef": np.zeros(gate_shape), "gate_intercept": np.zeros(K)}
    params = from_responsibilities(X, y, R, spec, zero_gate, sample_weight)
    gate = spec.gating.m_step(X, R, params)
    arrays = [v for k, v in gate.items() if k != "gate_extra"]
    if not all(np.all(np.isfinite(v)) for v in arrays):
        raise Degenerate("non-finite starting gate")
    return params.replace(**gate)
