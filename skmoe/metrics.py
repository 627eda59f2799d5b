"""Compare an estimated mixture of experts with the truth (never by index)."""

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._params import MoEParams


def _check_pair(estimated, true):
    for name, p in (("estimated", estimated), ("true", true)):
        if not isinstance(p, MoEParams):
            raise ValueError(f"{name} must be an MoEParams; got {type(p).__name__}.")
    if estimated.n_features != true.n_features:
        raise ValueError(
            "estimated and true must have the same n_features; got "
            f"{estimated.n_features} and {true.n_features}."
        )
    if estimated.expert_params.shape[1] != true.expert_params.shape[1]:
        raise ValueError(
            "estimated and true must have expert parameter rows of the same "
            f"length; got {estimated.expert_params.shape[1]} and "
            f"{true.expert_params.shape[1]}."
        )


def _canonical_experts(params):
    """Expert parameters in the family's canonical form (see ``canonicalize``)."""
    return params.experts.canonicalize(params.expert_params)


def _centered_gate(params):
    full = np.hstack([params.gate_coef, params.gate_intercept[:, None]])
    return full - full.mean(axis=0)


def match_experts(estimated, true):
    """Match estimated experts to true experts (Hungarian algorithm).

    The cost of pairing estimated expert ``i`` with true expert ``j`` is the
    squared Euclidean distance between their expert parameters and variances,
    plus, when both models have the same number of experts, between their
    centred gate rows (gate rows minus their mean over experts, which does not
    depend on the labelling or on the shift normalisation of the gate).
    Expert parameters are compared in the canonical form of their family
    (:meth:`skmoe.Experts.canonicalize`), so parameters that describe the
    same expert function, such as the sign-flipped ``(-a, -b, -c, e)`` of a
    tanh FFN expert, are at distance zero.

    Parameters
    ----------
    estimated : MoEParams
        Fitted model.
    true : MoEParams
        Reference model.

    Returns
    -------
    est_index : ndarray of int
        Indices of estimated experts.
    true_index : ndarray of int
        The matched true experts, ``true_index[m]`` paired with
        ``est_index[m]``; sorted, and of length ``min(K_est, K_true)``.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.metrics import match_experts
    >>> _, _, truth = make_moe_regression(10, 2, 3, random_state=0)
    >>> est_index, true_index = match_experts(truth.permute([2, 0, 1]), truth)
    >>> est_index.tolist(), true_index.tolist()
    ([1, 2, 0], [0, 1, 2])
    """
    _check_pair(estimated, true)
    a = np.hstack([_canonical_experts(estimated), estimated.variance[:, None]])
    b = np.hstack([_canonical_experts(true), true.variance[:, None]])
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    if estimated.n_experts == true.n_experts:
        ga, gb = _centered_gate(estimated), _centered_gate(true)
        cost = cost + ((ga[:, None, :] - gb[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    order = np.argsort(cols)
    return rows[order], cols[order]


def parameter_error(estimated, true):
    """Compute parameter errors after matching estimated experts to the truth.

    Parameters
    ----------
    estimated : MoEParams
        Fitted model.
    true : MoEParams
        Reference model.

    Returns
    -------
    errors : dict of str to ndarray
        Euclidean error per matched true expert (arrays indexed like
        ``true_index``) for each parameter block: ``"gate_coef"`` and
        ``"gate_intercept"`` (only when both models have the same number of
        experts; gate rows are compared after centring, i.e. subtracting
        their mean over experts, which removes the softmax's shift freedom
        without depending on which expert is the reference), one
        ``"expert_<block>"`` per block of the expert family (for linear
        experts ``"expert_coef"`` and ``"expert_intercept"``; expert
        parameters are compared in their family's canonical form, see
        :meth:`skmoe.Experts.canonicalize`), and ``"variance"``.
        ``"true_index"`` and ``"est_index"`` give the matching.
        When both models have shared experts, these are matched separately
        (Hungarian algorithm on their canonical parameters and variances) and
        the result also holds ``"shared_expert_<block>"``,
        ``"shared_variance"`` and ``"shared_weights"`` (absolute error of
        :math:`\\omega`) per matched true shared expert, with
        ``"shared_true_index"`` and ``"shared_est_index"``.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.metrics import parameter_error
    >>> _, _, truth = make_moe_regression(10, 2, 3, random_state=0)
    >>> err = parameter_error(truth.permute([1, 2, 0]), truth)
    >>> round(float(max(err["expert_coef"].max(), err["gate_coef"].max())), 12)
    0.0
    """
    est_index, true_index = match_experts(estimated, true)
    d = true.n_features
    out = {"est_index": est_index, "true_index": true_index}
    if estimated.n_experts == true.n_experts:
        diff = _centered_gate(estimated)[est_index] - _centered_gate(true)[true_index]
        out["gate_coef"] = np.linalg.norm(diff[:, :d], axis=1)
        out["gate_intercept"] = np.abs(diff[:, d])
    est_experts, true_experts = _canonical_experts(estimated), _canonical_experts(true)
    for name, block in true.experts.param_blocks(d).items():
        diff = est_experts[est_index, block] - true_experts[true_index, block]
        out[f"expert_{name}"] = np.linalg.norm(diff, axis=1)
    out["variance"] = np.abs(estimated.variance[est_index] - true.variance[true_index])
    if estimated.n_shared_experts and true.n_shared_experts:
        out.update(_shared_error(estimated, true))
    return out


def _shared_error(estimated, true):
    """Errors of the shared experts, matched among themselves."""
    if (estimated.shared_params.shape[1] != true.shared_params.shape[1]):
        raise ValueError(
            "estimated and true must have shared expert parameter rows of the "
            f"same length; got {estimated.shared_params.shape[1]} and "
            f"{true.shared_params.shape[1]}."
        )
    est_shared = estimated.shared_experts.canonicalize(estimated.shared_params)
    true_shared = true.shared_experts.canonicalize(true.shared_params)
    a = np.hstack([est_shared, estimated.shared_variance[:, None]])
    b = np.hstack([true_shared, true.shared_variance[:, None]])
    rows, cols = linear_sum_assignment(((a[:, None] - b[None]) ** 2).sum(axis=2))
    order = np.argsort(cols)
    est_index, true_index = rows[order], cols[order]
    out = {"shared_est_index": est_index, "shared_true_index": true_index}
    for name, block in true.shared_experts.param_blocks(true.n_features).items():
        diff = est_shared[est_index, block] - true_shared[true_index, block]
        out[f"shared_expert_{name}"] = np.linalg.norm(diff, axis=1)
    out["shared_variance"] = np.abs(
        estimated.shared_variance[est_index] - true.shared_variance[true_index]
    )
    out["shared_weights"] = np.abs(
        estimated.shared_weights[est_index] - true.shared_weights[true_index]
    )
    return out
