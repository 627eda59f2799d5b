"""Starting parameters for the solvers."""

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from .._params import MoEParams
from ..utils._arrays import as_kernel_array
from ..utils._warnings import DegenerateFitWarning


class Degenerate(Exception):
    """A run produced non-finite values; its restart is discarded."""


def best_restart(starts, fit_one, *, name, not_converged, maximize=True):
    """Run one fit per start and keep the one with the best final objective.

    Shared by every solver: a restart that raises :class:`Degenerate` is
    discarded with a :class:`~skmoe.DegenerateFitWarning`, all restarts
    degenerating is a ``ValueError``, and a ``ConvergenceWarning`` is raised
    only when the kept restart did not converge (GaussianMixture's rule).

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

    Returns
    -------
    result : FitResult
        The best restart.
    """
    best = best_value = None
    failures = []
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
    return best


def update_variances(y, means, R, old, var_floor, sums=None):
    """Weighted residual variances, floored; ``old`` kept for empty experts.

    ``sum_i R_ik r_ik^2 / sums_k`` with ``sums`` the column sums of ``R`` by
    default (a noise model may divide by other masses, e.g. the Student-t
    scale update).
    """
    from .._kernels._gaussian import weighted_residual_ss

    rss = weighted_residual_ss(y, means, R)
    if sums is None:
        sums = R.sum(axis=0)
    return variances_from_rss(rss, sums, old, var_floor)


def variances_from_rss(rss, sums, old, var_floor):
    """``rss / sums`` floored at ``var_floor``; ``old`` kept for empty experts.

    An expert is empty when its mass is at most ``1e-10`` of the total.
    """
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


def initial_params(method, X, y, sample_weight, n_experts, gating, experts, rng,
                   var_floor, *, n_shared_experts=0, shared_weight=0.5,
                   shared_experts=None):
    """Starting parameters of one EM run.

    Parameters
    ----------
    method : {"random", "kmeans", "tensor"} or MoEParams
        ``"tensor"``: the cross-moment tensor estimate of the experts
        (arXiv:1802.07417), then EM on the gate with the experts' directions
        fixed (``skmoe.solvers._tensor.tensor_init``).
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
        A ``MoEParams`` start must have this many shared experts; random and
        k-means starts of models with shared experts are built by
        ``skmoe.solvers._em.shared_start`` (this function then builds the
        plain part only).
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
    if method == "random":
        gate_fields = gating.init(X, sample_weight, K, rng)
        probe = MoEParams(
            expert_params=np.zeros((K, experts.n_params(d))),
            variance=np.ones(K),
            gating=gating,
            experts=experts,
            **gate_fields,
        )
        # in place: the gates are not needed after R (one (n, K) array fewer)
        R = as_kernel_array(np.exp(gating.log_weights(X, probe)))
        R *= sample_weight[:, None]
        return _from_responsibilities(X, y, R, gating, experts, rng, var_floor,
                                      gate_fields)
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
        return params.replace(**gate)
    if method == "tensor":
        from ._tensor import tensor_init

        return tensor_init(X, y, sample_weight, K, gating, experts, rng, var_floor)
    raise ValueError(  # pragma: no cover - guarded by _parameter_constraints
        f"init_params must be 'random', 'kmeans' or an MoEParams; got {method!r}."
    )
