"""After every fit: canonical order of the experts and empty-expert check."""

import warnings

import numpy as np

from ..utils._warnings import DegenerateFitWarning, EmptyExpertWarning

#: an expert holding less than this fraction of the total sample weight is
#: empty, whatever its number of parameters
EMPTY_FRACTION = 1e-3

#: two experts whose conditional densities differ by at most this
#: Kullback-Leibler divergence at every training row coincide: telling them
#: apart would take about a million observations per row (the divergence is
#: the expected log-likelihood ratio of one observation); for Gaussian
#: experts it means expert means within 1.4e-3 standard deviations and
#: variances within 0.3 % of each other
COINCIDE_KL = 1e-6


def coinciding_experts(params, X, sample_weight):
    """Pairs of routed experts whose densities coincide on the training data.

    Experts ``k`` and ``l`` coincide when the Kullback-Leibler divergence
    between their Gaussian densities ``N(h_k(x_i), nu_k)`` and ``N(h_l(x_i),
    nu_l)``, in both directions, is at most :data:`COINCIDE_KL` at every
    row of non-zero weight (for Student-t experts, with degrees of freedom
    within 0.1 % as well). The divergence is the noise model's
    (:meth:`~skmoe.noise.NoiseModel.variance_divergence` plus the largest
    :meth:`~skmoe.noise.NoiseModel.mean_divergence`): the multivariate
    Gaussian one for several responses. The gate is not compared: two coinciding experts
    are one expert with a split gate.

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
    pairs : list of tuple of int
        ``(k, l)`` with ``k < l``, in order.
    """
    v = params.variance
    df = params.noise_df
    K = params.n_experts
    noise = params.noise
    candidates = []
    for k in range(K):
        for l in range(k + 1, K):
            # the variance part of the divergence is the same at every row
            # (the noise model's; (r - 1 - log r) / 2 with r = nu_k / nu_l for
            # Gaussian experts)
            parts = (noise.variance_divergence(v, k, l),
                     noise.variance_divergence(v, l, k))
            if max(parts) > COINCIDE_KL:
                continue
            if df is not None and abs(df[k] - df[l]) > 1e-3 * max(df[k], df[l]):
                continue
            candidates.append((k, l, parts))
    if not candidates:
        return []
    # X itself when every row counts (a boolean index copies all of X)
    rows = sample_weight > 0
    means = params.expert_means(X if rows.all() else X[rows])
    pairs = []
    for k, l, (part_kl, part_lk) in candidates:
        diff = means[:, k] - means[:, l]
        kl = max(float(np.max(noise.mean_divergence(diff, v, l))) + part_kl,
                 float(np.max(noise.mean_divergence(diff, v, k))) + part_lk)
        if kl <= COINCIDE_KL:
            pairs.append((k, l))
    return pairs


def canonical_permutation(params, X, sample_weight, gate_mass=None):
    """The routed experts' canonical order (see :func:`canonical_order`).

    ``gate_mass``, if given, is ``sum_i w_i g_k(x_i)`` already computed.

    Returns
    -------
    order : ndarray of int of shape (n_experts,)
        Expert ``order[j]`` of ``params`` becomes expert ``j``.
    """
    if gate_mass is None:
        gate_mass = sample_weight @ params.gates(X)
    mass = gate_mass / sample_weight.sum()
    return np.asarray(params.gating.canonical_order(mass))


def canonical_order(params, X, sample_weight, gate_mass=None):
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
    gate_mass : ndarray of shape (n_experts,) or None, default=None
        ``sum_i w_i g_k(x_i)`` if already computed.

    Returns
    -------
    params : MoEParams
        The relabelled parameters (``params`` itself when the order is
        already canonical).
    """
    params, _ = _canonical(params, X, sample_weight, gate_mass)
    return params


def _canonical(params, X, sample_weight, gate_mass):
    """:func:`canonical_order` and the permutation of the routed experts."""
    order = canonical_permutation(params, X, sample_weight, gate_mass)
    shared_order = None
    if params.n_shared_experts:
        shared_order = np.argsort(-params.shared_weights, kind="stable")
        if np.array_equal(shared_order, np.arange(params.n_shared_experts)):
            shared_order = None
    if shared_order is None and np.array_equal(order, np.arange(params.n_experts)):
        return params, order
    return params.permute(order, shared_order=shared_order), order


def empty_experts(params, X, y, sample_weight, objective, resp_mass=None):
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
    resp_mass : ndarray of shape (n_experts,) or None, default=None
        The routed experts' masses ``sum_i w_i r_ik`` if already computed
        (``objective="likelihood"``).

    Returns
    -------
    empty : ndarray of bool of shape (n_experts,)
        True for the empty experts.
    """
    K = params.n_experts
    rows = params.noise.row_weights(sample_weight)
    if resp_mass is not None:
        mass = resp_mass
    elif objective == "likelihood":
        mass = rows @ params._posterior(X, y, sample_weight)[0][:, :K]
    else:
        mass = rows @ params.gates(X)
    total = rows.sum()
    n = int(np.count_nonzero(rows))
    threshold = max(EMPTY_FRACTION * total, total / n)
    return mass < threshold


def finish_fit(params, X, y, sample_weight, objective, masses=None):
    """Canonical order, then the empty- and coinciding-expert checks.

    Warns :class:`~skmoe.EmptyExpertWarning` for empty experts and
    :class:`~skmoe.DegenerateFitWarning` for coinciding ones
    (:func:`coinciding_experts`).

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
    masses : tuple of two ndarray or None, default=None
        The routed experts' gate and responsibility masses at ``params``
        (:attr:`FitResult.masses <skmoe.solvers.FitResult>`), which spare the
        passes over the data that compute them.

    Returns
    -------
    params : MoEParams
        Relabelled parameters (:func:`canonical_order`).
    empty : ndarray of bool of shape (n_experts,)
        :func:`empty_experts` of the relabelled parameters.
    """
    gate_mass, resp_mass = (None, None) if masses is None else masses
    params, order = _canonical(params, X, params.noise.row_weights(sample_weight),
                               gate_mass)
    if resp_mass is not None:
        resp_mass = resp_mass[order]
    empty = empty_experts(params, X, y, sample_weight, objective, resp_mass)
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
    pairs = coinciding_experts(params, X, sample_weight)
    if pairs:
        k, l = pairs[0]
        more = f" (and {len(pairs) - 1} more pairs)" if len(pairs) > 1 else ""
        warnings.warn(
            f"experts {k} and {l} coincide{more}: their conditional densities "
            f"differ by a Kullback-Leibler divergence of at most {COINCIDE_KL:g} "
            "at every training row, so the data do not tell them apart. The "
            "model has more experts than the data support (for example data "
            "that one expert fits exactly) or EM stayed at a symmetric start. "
            "Try fewer experts (skmoe.model_selection.select_n_experts) or more "
            "restarts.",
            DegenerateFitWarning,
            stacklevel=4,
        )
    return params, empty
