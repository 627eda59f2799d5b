"""After every fit: canonical order of the experts and empty-expert check."""

import warnings

import numpy as np

from ..utils._warnings import EmptyExpertWarning

#: an expert holding less than this fraction of the total sample weight is
#: empty, whatever its number of parameters
EMPTY_FRACTION = 1e-3


def canonical_order(params, X, sample_weight):
    """Relabel the experts in the canonical order.

    Routed experts: by decreasing average gating weight on the training
    data, :math:`m_k = \\sum_i w_i g_k(x_i) / \\sum_i w_i`, ties by index
    (:meth:`skmoe.Gating.canonical_order`; a hierarchical gate orders its
    groups, then the experts within each group). Shared experts: by
    decreasing weight :math:`\\omega_s`, ties by index. The relabelling goes
    through :meth:`skmoe.MoEParams.permute`, which re-applies the gate's
    normalisation; the model is unchanged up to round-off.

    Parameters
    ----------
    params : MoEParams
        Fitted parameters.
    X : ndarray of shape (n_samples, n_features)
        Training inputs.
    sample_weight : ndarray of shape (n_samples,)
        Training sample weights.

    Returns
    -------
    params : MoEParams
        The relabelled parameters (``params`` itself when the order is
        already canonical).
    """
    mass = sample_weight @ params.gates(X) / sample_weight.sum()
    order = np.asarray(params.gating.canonical_order(mass))
    shared_order = None
    if params.n_shared_experts:
        shared_order = np.argsort(-params.shared_weights, kind="stable")
        if np.array_equal(shared_order, np.arange(params.n_shared_experts)):
            shared_order = None
    if shared_order is None and np.array_equal(order, np.arange(params.n_experts)):
        return params
    return params.permute(order, shared_order=shared_order)


def empty_experts(params, X, y, sample_weight, objective):
    """Which routed experts ended the fit with (nearly) no responsibility.

    The mass of expert ``k`` is its total weighted responsibility
    :math:`\\sum_i w_i r_{ik}` (``objective="likelihood"``; posterior
    probabilities over all components, shared ones included) or its total
    weighted gate :math:`\\sum_i w_i g_k(x_i)` (``"least_squares"``, which
    has no posterior). The expert is empty when its mass is below
    ``max(1e-3 W, W / n)``: a thousandth of the total weight ``W``, or the
    weight of one average sample (``n`` samples of non-zero weight) -- less
    than one observation's worth of data behind it. An expert with a few
    samples' worth of responsibility but more parameters than that is
    under-determined, not empty (its variance then sits at the floor); it is
    not flagged.

    Parameters
    ----------
    params : MoEParams
        Fitted parameters.
    X : ndarray of shape (n_samples, n_features)
        Training inputs.
    y : ndarray of shape (n_samples,)
        Training targets.
    sample_weight : ndarray of shape (n_samples,)
        Training sample weights.
    objective : {"likelihood", "least_squares"}
        The fitted objective.

    Returns
    -------
    empty : ndarray of bool of shape (n_experts,)
        True for the empty experts.
    """
    K = params.n_experts
    if objective == "likelihood":
        resp, _ = params._posterior(X, y)
        weights = resp[:, :K]
    else:
        weights = params.gates(X)
    mass = sample_weight @ weights
    total = sample_weight.sum()
    n = int(np.count_nonzero(sample_weight))
    threshold = max(EMPTY_FRACTION * total, total / n)
    return mass < threshold


def finish_fit(params, X, y, sample_weight, objective):
    """Canonical order, then the empty-expert check with its warning.

    Parameters
    ----------
    params : MoEParams
        Parameters returned by the solver.
    X : ndarray of shape (n_samples, n_features)
        Training inputs.
    y : ndarray of shape (n_samples,)
        Training targets.
    sample_weight : ndarray of shape (n_samples,)
        Training sample weights.
    objective : {"likelihood", "least_squares"}
        The fitted objective.

    Returns
    -------
    params : MoEParams
        Relabelled parameters (:func:`canonical_order`).
    empty : ndarray of bool of shape (n_experts,)
        :func:`empty_experts` of the relabelled parameters.
    """
    params = canonical_order(params, X, sample_weight)
    empty = empty_experts(params, X, y, sample_weight, objective)
    if empty.any():
        warnings.warn(
            f"{int(empty.sum())} of {params.n_experts} experts ended the fit "
            f"with (nearly) no responsibility (experts "
            f"{np.flatnonzero(empty).tolist()} after the canonical ordering; "
            "see empty_experts_): the model has more experts than the data "
            "support, or the fit is a poor local optimum. Try fewer experts "
            "(skmoe.model_selection.select_n_experts) or more restarts.",
            EmptyExpertWarning,
            stacklevel=4,
        )
    return params, empty
