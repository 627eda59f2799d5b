"""Starting parameters for the solvers."""

import numpy as np
from sklearn.cluster import KMeans

from .._kernels._logspace import log_softmax_rows
from .._params import MoEParams
from ..gating._base import _weighted_moments
from ..utils._arrays import as_kernel_array


class Degenerate(Exception):
    """A run produced non-finite values; its restart is discarded."""


def update_variances(y, means, R, old, var_floor):
    """Weighted residual variances, floored; ``old`` kept for empty experts."""
    from .._kernels._gaussian import weighted_residual_ss

    rss = weighted_residual_ss(y, means, R)
    sums = R.sum(axis=0)
    empty = sums <= 1e-10 * sums.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(empty, old, rss / np.where(empty, 1.0, sums))
    return np.maximum(var, var_floor)


def _from_responsibilities(X, y, R, gating, experts, rng, var_floor, gate_fields):
    """Experts, variances and gate fitted to given weighted responsibilities."""
    K = R.shape[1]
    expert_params = experts.init(X, y, R, rng)
    means = experts.predict(X, expert_params)
    variance = update_variances(y, means, R, np.ones(K), var_floor)
    if not (np.all(np.isfinite(expert_params)) and np.all(np.isfinite(variance))):
        raise Degenerate("non-finite starting parameters")
    params = MoEParams(
        gate_coef=gate_fields["gate_coef"],
        gate_intercept=gate_fields["gate_intercept"],
        expert_params=expert_params,
        variance=variance,
        gating=gating,
        experts=experts,
        gate_extra=gate_fields.get("gate_extra", {}),
    )
    return params


def _with_shared(params, X, y, sample_weight, n_shared, shared_weight,
                 shared_experts, rng, var_floor):
    """Add ``n_shared`` shared experts to starting parameters.

    The shared experts are fitted by their family's ``init`` to the first
    ``n_shared`` columns of a random soft partition into ``n_shared + 1``
    cells (random hyperplanes through the weighted mean, as the gate's
    start), so that each starts from a different random region rather than
    from one global fit, with equal weights. Like the routed start, it depends
    on the data only through weighted sums.
    """
    if not n_shared:
        return params
    family = params.experts if shared_experts is None else shared_experts
    mean, std = _weighted_moments(X, sample_weight)
    coef = rng.standard_normal((n_shared + 1, X.shape[1])) / std
    Z = as_kernel_array(X @ coef.T - coef @ mean)
    cells = np.exp(log_softmax_rows(Z))[:, :n_shared]
    R = as_kernel_array(cells * sample_weight[:, None])
    shared_params = family.init(X, y, R, rng)
    means = as_kernel_array(family.predict(X, shared_params))
    variance = update_variances(y, means, R, np.ones(n_shared), var_floor)
    if not (np.all(np.isfinite(shared_params)) and np.all(np.isfinite(variance))):
        raise Degenerate("non-finite starting shared experts")
    return params.replace(
        shared_params=shared_params, shared_variance=variance,
        shared_weights=np.full(n_shared, 1.0 / n_shared),
        shared_weight=shared_weight, shared_experts=family,
    )


def initial_params(method, X, y, sample_weight, n_experts, gating, experts, rng,
                   var_floor, *, n_shared_experts=0, shared_weight=0.5,
                   shared_experts=None):
    """Starting parameters of one EM run.

    Parameters
    ----------
    method : {"random", "kmeans"} or MoEParams
        ``"random"``: a random gate partition (random hyperplanes through the
        weighted mean), experts fitted by weighted least squares to that soft
        partition. It depends on the data only through weighted sums, so it is
        independent of row order, and integer sample weights give the same
        start as repeated rows. ``"kmeans"``: k-means on the standardised
        ``(X, y)``, experts and gate fitted to the hard clusters.
        ``MoEParams``: the given parameters.
    X, y, sample_weight : ndarray
    n_experts : int
    gating, experts : Gating, Experts
    rng : numpy.random.RandomState
    var_floor : float
    n_shared_experts : int, default=0
        Shared experts added to the start (see ``_with_shared``); a
        ``MoEParams`` start must already have this many.
    shared_weight : float, default=0.5
    shared_experts : Experts or None, default=None

    Returns
    -------
    params : MoEParams
    """
    K = n_experts
    d = X.shape[1]
    if isinstance(method, MoEParams):
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
        if method.n_shared_experts != n_shared_experts:
            raise ValueError(
                f"init_params must have n_shared_experts={n_shared_experts}; got "
                f"{method.n_shared_experts}."
            )
        shared = {}
        if n_shared_experts:
            shared = dict(
                shared_params=method.shared_params.copy(),
                shared_variance=np.maximum(method.shared_variance, var_floor),
                shared_weights=method.shared_weights.copy(),
                shared_weight=shared_weight,
                shared_experts=(
                    experts if shared_experts is None else shared_experts
                ),
            )
        return MoEParams(
            gate_coef=method.gate_coef.copy(),
            gate_intercept=method.gate_intercept.copy(),
            expert_params=method.expert_params.copy(),
            variance=np.maximum(method.variance, var_floor),
            gating=gating,
            experts=experts,
            gate_extra={k: v.copy() for k, v in method.gate_extra.items()},
            **shared,
        )
    shared = (n_shared_experts, shared_weight, shared_experts, rng, var_floor)
    if method == "random":
        gate_fields = gating.init(X, sample_weight, K, rng)
        probe = MoEParams(
            expert_params=np.zeros((K, experts.n_params(d))),
            variance=np.ones(K),
            gating=gating,
            experts=experts,
            **gate_fields,
        )
        gates = np.exp(gating.log_weights(X, probe))
        R = as_kernel_array(gates * sample_weight[:, None])
        params = _from_responsibilities(X, y, R, gating, experts, rng, var_floor,
                                        gate_fields)
        return _with_shared(params, X, y, sample_weight, *shared)
    if method == "kmeans":
        Z = np.hstack([X, y[:, None]])
        Z = (Z - Z.mean(axis=0)) / np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)
        labels = KMeans(
            n_clusters=K, n_init=1, random_state=rng.randint(np.iinfo(np.int32).max)
        ).fit(Z, sample_weight=sample_weight).labels_
        R = np.zeros((X.shape[0], K))
        R[np.arange(X.shape[0]), labels] = sample_weight
        R = as_kernel_array(R)
        zero_gate = {"gate_coef": np.zeros((K, d)), "gate_intercept": np.zeros(K)}
        params = _from_responsibilities(X, y, R, gating, experts, rng, var_floor,
                                        zero_gate)
        gate = gating.m_step(X, R, params)
        arrays = [v for k, v in gate.items() if k != "gate_extra"]
        if not all(np.all(np.isfinite(v)) for v in arrays):
            raise Degenerate("non-finite starting gate")
        return _with_shared(params.replace(**gate), X, y, sample_weight, *shared)
    raise ValueError(  # pragma: no cover - guarded by _parameter_constraints
        f"init_params must be 'random', 'kmeans' or an MoEParams; got {method!r}."
    )
