"""Compare an estimated mixture of experts with the truth (never by index)."""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import linear_sum_assignment, minimize
from scipy.special import logsumexp

from ._params import MoEParams
from .utils._abilities import Requirements, check_requirements


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


# --------------------------------------------------------------------------
# Voronoi losses (PAPERS.md section 4; Nguyen et al., arXiv:2505.10860)
# --------------------------------------------------------------------------
_KINDS = ("auto", "D1", "D2", "D3", "D4")


#: what the Voronoi losses need of a model's gate
VORONOI = Requirements("voronoi_cells and voronoi_loss", gating=("atoms",))

#: density_distance integrates Gaussian densities on a grid of standard
#: deviations
DENSITY_DISTANCE = Requirements(
    "density_distance", noise=("gaussian",),
    hint="It integrates Gaussian densities on a grid of +-width standard "
         "deviations.",
)


def _gate_kind(params):
    """``"softmax"`` (shift-invariant), ``"softmax_fixed"`` or ``"sigmoid"``.

    From the gate's declarations: its Voronoi family (``voronoi_family``)
    and whether its slopes are defined up to a common translation.
    """
    gating = params.gating
    check_requirements(VORONOI, gating=gating, n_experts=params.n_experts)
    if gating.voronoi_family == "sigmoid":
        return "sigmoid"
    return "softmax" if gating.shift_invariant() else "softmax_fixed"


def _is_linear(experts):
    return experts.lacks("linear") is None


def _atom_weights(params, gate_intercept):
    return params.gating.atom_weights(gate_intercept)


def _routed_locations(params, gate_coef):
    """Atom locations ``(beta_1, canonical eta, nu)``, one row per expert."""
    return np.hstack([gate_coef, _canonical_experts(params), params.variance[:, None]])


def _shared_locations(params):
    canon = params.shared_experts.canonicalize(params.shared_params)
    return np.hstack([canon, params.shared_variance[:, None]])


def _assign(est_loc, true_loc):
    """Index of the nearest true atom for every estimated atom (ties: lowest)."""
    dist = ((est_loc[:, None, :] - true_loc[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(dist, axis=1)


def voronoi_cells(estimated, true):
    """Voronoi cells of the true atoms among the estimated atoms.

    Every estimated expert is an atom located at ``theta_i = (beta_1i,
    eta_i, nu_i)`` (gate slope, expert parameters in the family's canonical
    form, see :meth:`skmoe.Experts.canonicalize`, and variance; **not** the
    gate intercept, which only enters the atom's weight). The cell of true
    atom ``j`` is ``A_j = {i : |theta_i - theta*_j| <= |theta_i - theta*_l|
    for all l}``; an estimated atom equidistant from several true atoms is
    put in the cell of the lowest true index. Shared experts are atoms
    located at ``(kappa_s, tau_s)`` and have cells among the true shared
    atoms only.

    Gate slopes are compared as stored: for a softmax gate, whose slopes are
    defined only up to a common translation, :func:`voronoi_loss` first
    translates the estimate (see its Notes) and then calls the same
    assignment.

    Parameters
    ----------
    estimated : MoEParams
        Fitted model.
    true : MoEParams
        True model.

    Returns
    -------
    cells : list of ndarray of int
        ``cells[j]`` holds the (sorted) indices of the estimated routed
        experts in the cell of true routed expert ``j``; possibly empty.
    shared_cells : list of ndarray of int
        The same for the shared experts (an empty list when either model has
        no shared experts).

    Examples
    --------
    >>> from skmoe import MoEParams
    >>> from skmoe.metrics import voronoi_cells
    >>> true = MoEParams([[1.0], [0.0]], [0.0, 0.0], [[1.0, 0.0], [-1.0, 0.0]],
    ...                  [0.1, 0.1])
    >>> est = MoEParams([[0.0], [1.1], [0.9]], [0.0, 0.0, 0.0],
    ...                 [[-1.0, 0.0], [1.0, 0.0], [1.0, 0.1]], [0.1, 0.1, 0.1])
    >>> [c.tolist() for c in voronoi_cells(est, true)[0]]
    [[1, 2], [0]]
    """
    _check_pair(estimated, true)
    return _cells(estimated, true, estimated.gate_coef)


def _cells(estimated, true, est_gate_coef):
    owner = _assign(
        _routed_locations(estimated, est_gate_coef),
        _routed_locations(true, true.gate_coef),
    )
    cells = [np.flatnonzero(owner == j) for j in range(true.n_experts)]
    shared_cells = []
    if estimated.n_shared_experts and true.n_shared_experts:
        _check_shared_pair(estimated, true)
        owner = _assign(_shared_locations(estimated), _shared_locations(true))
        shared_cells = [np.flatnonzero(owner == j)
                        for j in range(true.n_shared_experts)]
    return cells, shared_cells


def _check_shared_pair(estimated, true):
    if estimated.shared_params.shape[1] != true.shared_params.shape[1]:
        raise ValueError(
            "estimated and true must have shared expert parameter rows of the "
            f"same length; got {estimated.shared_params.shape[1]} and "
            f"{true.shared_params.shape[1]}."
        )


def _rbar(m):
    """``rbar(m)`` of PAPERS.md section 4 (m >= 4: the lower bound 7)."""
    return {2: 4.0, 3: 6.0}.get(int(m), 7.0)


def _block_diffs(experts, est_canon, true_canon, d, i, j):
    """Euclidean norms of the differences of each expert parameter block."""
    return {
        name: float(np.linalg.norm(est_canon[i, block] - true_canon[j, block]))
        for name, block in experts.param_blocks(d).items()
    }


def _cell_terms(kind, linear, w, m, dslope, blocks, deta, dnu, dint):
    """Contribution of one estimated atom in a cell of ``m`` atoms."""
    if m == 1 or kind == "D4":
        terms = dslope + deta + dnu
        if kind in ("D3", "D4"):
            return terms + dint
        return w * terms
    if kind == "D2" and linear:
        r = _rbar(m)
        return w * (dslope**r + blocks["coef"] ** (r / 2)
                    + blocks["intercept"] ** r + dnu ** (r / 2))
    terms = dslope**2 + deta**2 + dnu**2
    return terms if kind == "D3" else w * terms


def _voronoi_value(kind, estimated, true, t_slope, t_int):
    """The loss for the estimate's gate translated by ``(t_slope, t_int)``."""
    d = true.n_features
    est_coef = estimated.gate_coef + t_slope
    est_int = estimated.gate_intercept + t_int
    cells, shared_cells = _cells(estimated, true, est_coef)
    w_est = _atom_weights(estimated, est_int)
    w_true = _atom_weights(true, true.gate_intercept)
    est_canon, true_canon = _canonical_experts(estimated), _canonical_experts(true)
    linear = _is_linear(true.experts) and _is_linear(estimated.experts)
    total = 0.0
    for j, cell in enumerate(cells):
        m = cell.size
        if kind != "D4" and (kind != "D3" or m > 1):
            total += abs(w_est[cell].sum() - w_true[j])
        for i in cell:
            blocks = _block_diffs(true.experts, est_canon, true_canon, d, i, j)
            total += _cell_terms(
                kind, linear, w_est[i], m,
                float(np.linalg.norm(est_coef[i] - true.gate_coef[j])),
                blocks,
                float(np.linalg.norm(est_canon[i] - true_canon[j])),
                abs(estimated.variance[i] - true.variance[j]),
                abs(est_int[i] - true.gate_intercept[j]),
            )
    if shared_cells:
        est_sh = estimated.shared_experts.canonicalize(estimated.shared_params)
        true_sh = true.shared_experts.canonicalize(true.shared_params)
        shared_linear = (_is_linear(true.shared_experts)
                         and _is_linear(estimated.shared_experts))
        for j, cell in enumerate(shared_cells):
            m = cell.size
            if kind != "D4" and (kind != "D3" or m > 1):
                total += abs(estimated.shared_weights[cell].sum()
                             - true.shared_weights[j])
            for i in cell:
                blocks = _block_diffs(true.shared_experts, est_sh, true_sh, d, i, j)
                dw = abs(estimated.shared_weights[i] - true.shared_weights[j])
                total += _cell_terms(
                    kind, shared_linear, estimated.shared_weights[i], m, 0.0,
                    blocks, float(np.linalg.norm(est_sh[i] - true_sh[j])),
                    abs(estimated.shared_variance[i] - true.shared_variance[j]),
                    dw,
                )
    return float(total)


def _resolve_kind(kind, estimated, true, reference):
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}.")
    gates = {_gate_kind(estimated), _gate_kind(true)}
    if len(gates) != 1 and "sigmoid" in gates:
        raise ValueError(
            "estimated and true must use the same gating family; got "
            f"{type(estimated.gating).__name__} and {type(true.gating).__name__}."
        )
    if kind == "auto":
        if "sigmoid" in gates:
            kind = "D4" if reference is not None else "D3"
        elif _is_linear(true.experts):
            kind = "D2"
        else:
            kind = "D1"
    if kind == "D2" and not _is_linear(true.experts):
        raise ValueError(
            "kind='D2' is the loss of linear experts; got experts="
            f"{type(true.experts).__name__}."
        )
    if kind == "D4" and reference is None:
        raise ValueError(
            "kind='D4' compares with a reference model (the KL projection of "
            "the truth on the over-specified model): pass reference=MoEParams."
        )
    return kind


def _slope_translations(estimated, true):
    """Candidate common slope translations of a softmax gate.

    Each candidate moves one estimated gate slope onto one true gate slope;
    translating the estimate translates the set, and the order (sorted rows,
    duplicates removed) does not depend on the labelling.
    """
    cand = (true.gate_coef[None, :, :] - estimated.gate_coef[:, None, :])
    return np.unique(cand.reshape(-1, true.n_features), axis=0)


def _profiled_value(kind, estimated, true, t_slope):
    """``min over t_0`` of the loss at slope translation ``t_slope``.

    With ``u = exp(t_0)`` every routed weight is ``u exp(beta_0i)``, and the
    loss is ``sum_j |u m_j - w*_j| + u L + C`` (``m_j`` the cell masses at
    ``u = 1``, ``L`` the weighted distance terms, ``C`` the shared part): a
    convex piecewise-linear function of ``u`` whose minimum over ``u > 0``
    is at a breakpoint ``u = w*_j / m_j``.
    """
    cells, _ = _cells(estimated, true, estimated.gate_coef + t_slope)
    # in log space: softmax intercepts are defined up to a shift, and a fit
    # may carry intercepts beyond exp's range (> 709) with a finite loss
    log_u = [true.gate_intercept[j] - logsumexp(estimated.gate_intercept[c])
             for j, c in enumerate(cells) if c.size]
    return min(
        _voronoi_value(kind, estimated, true, t_slope, t0) for t0 in log_u
    )


def voronoi_loss(estimated, true, kind="auto", reference=None):
    """Voronoi loss between an estimated and a true mixture of experts.

    With atoms (weight ``w_i``, location ``theta_i``) as in
    :func:`voronoi_cells` and the cells ``A_j`` of the true atoms,

    .. math::

        D = \\sum_j \\Big| \\sum_{i \\in A_j} w_i - w^*_j \\Big|
          + \\sum_{j: |A_j| = 1} \\sum_{i \\in A_j} w_i
            (\\|\\Delta\\beta_1\\| + \\|\\Delta\\eta\\| + |\\Delta\\nu|)
          + \\sum_{j: |A_j| > 1} \\sum_{i \\in A_j} w_i
            (\\|\\Delta\\beta_1\\|^p + \\|\\Delta\\eta\\|^p + |\\Delta\\nu|^p),

    with ``Delta`` the difference between atom ``i`` and true atom ``j``
    (Euclidean norms; expert parameters in canonical form). Atom weights are
    ``exp(beta_0i)`` for a softmax gate, ``sigmoid(beta_0i)`` for the
    normalized sigmoid gate and ``omega_s`` for shared experts. The kinds
    (PAPERS.md section 4, [1]_):

    - ``"D1"`` (strongly identifiable experts, e.g. FFN): ``p = 2``.
    - ``"D2"`` (linear experts): over-fitted cells use
      ``w_i (|dbeta_1|^r + |deta_1|^(r/2) + |deta_0|^r + |dnu|^(r/2))``
      with ``eta_1`` the expert slopes, ``eta_0`` the intercept and
      ``r = rbar(|A_j|)``: ``rbar(2) = 4``, ``rbar(3) = 6``,
      ``rbar(m >= 4) = 7`` (a lower bound).
    - ``"D3"`` (normalized sigmoid, sparse regime): mass term only over
      cells with ``|A_j| > 1``; exact cells unweighted
      ``|dbeta_1| + |dbeta_0| + |deta| + |dnu|``; over-fitted cells
      unweighted with ``p = 2``.
    - ``"D4"`` (normalized sigmoid, dense regime): no mass term; every atom
      contributes the unweighted ``|dbeta_1| + |dbeta_0| + |deta| + |dnu|``
      to its nearest atom of ``reference``, an approximation of the KL
      projection of the truth on the over-specified model (a fit at very
      large ``n``). ``true`` is then only used for validation.
    - ``"auto"``: normalized sigmoid gate: ``"D4"`` when ``reference`` is
      given, else ``"D3"``; softmax gate with
      :class:`~skmoe.LinearExperts`: ``"D2"``; softmax gate with any other
      expert family: ``"D1"``.

    Shared atoms contribute the same terms with weights ``omega`` (and no
    gate-slope term); under ``"D2"`` shared linear experts use the ``rbar``
    exponents; under ``"D3"`` and ``"D4"`` ``|domega|`` takes the place of
    ``|dbeta_0|``.

    Parameters
    ----------
    estimated : MoEParams
        Fitted model (any number of experts).
    true : MoEParams
        True model.
    kind : {"auto", "D1", "D2", "D3", "D4"}, default="auto"
        Which loss.
    reference : MoEParams, default=None
        Reference model of ``"D4"``.

    Returns
    -------
    loss : float
        Non-negative; exactly 0 when ``estimated`` is ``true`` (up to
        round-off after a relabelling or a softmax translation) and invariant
        to permuting the estimate's experts.

    Notes
    -----
    **Softmax translation.** A softmax gate is unchanged by adding a common
    ``(t_1, t_0)`` to every row ``(beta_1i, beta_0i)``, so the slopes and
    the weights ``exp(beta_0i)`` of two fits are comparable only after
    fixing this freedom, and no fixed normalisation (last row zero, centred
    rows) is invariant to relabelling when the numbers of experts differ.
    Following the convergence analyses, which state the results for the
    equivalence classes of mixing measures under this translation
    (Nguyen et al., arXiv:2305.03288; Hai et al., arXiv:2510.12744), the
    loss of a softmax fit is

    .. math::

        D(G, G^*) = \\min_{t} D(G + t, G^*),

    minimised over translations of the estimate. For a fixed slope
    translation ``t_1`` the loss is a convex piecewise-linear function of
    ``u = exp(t_0)`` (every routed weight is multiplied by ``u``), minimised
    exactly at one of its breakpoints ``u = w*_j / m_j`` (``m_j`` the mass
    of cell ``j``). The slope translation is minimised by evaluating every
    ``t_1`` that puts one estimated gate slope on one true gate slope and
    refining the best with Nelder-Mead (fixed initial simplex of side 0.05).
    The candidate set moves with any translation of the estimate and does
    not depend on the labelling, so the result is invariant to both (up to
    round-off), and it is 0 at any translate of the truth. Nelder-Mead on a
    non-smooth function may stop at a local minimum: the value is then an
    upper bound of the minimum. Normalized sigmoid gates have no such
    symmetry and are compared as stored. Softmax gates with an activation
    are not shift-invariant and are also compared as stored.

    References
    ----------
    .. [1] Nguyen, H., Doan, T., Pham, Q., Bui, N., Ho, N. and Rinaldo, A.
       (2025). On DeepSeekMoE: statistical benefits of shared experts and
       normalized sigmoid gating. arXiv:2505.10860.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.metrics import voronoi_loss
    >>> _, _, truth = make_moe_regression(10, 1, 2, random_state=0)
    >>> round(voronoi_loss(truth.permute([1, 0]), truth), 10)
    0.0
    """
    _check_pair(estimated, true)
    kind = _resolve_kind(kind, estimated, true, reference)
    target = true
    if kind == "D4":
        if not isinstance(reference, MoEParams):
            raise ValueError(
                f"reference must be an MoEParams; got {type(reference).__name__}."
            )
        _check_pair(estimated, reference)
        target = reference
    d = true.n_features
    if _gate_kind(estimated) != "softmax":
        return _voronoi_value(kind, estimated, target, np.zeros(d), 0.0)
    cand = _slope_translations(estimated, target)
    values = [_profiled_value(kind, estimated, target, t) for t in cand]
    best = int(np.argmin(values))
    if values[best] == 0.0:
        return 0.0
    # Nelder-Mead on the slope translation, from the best candidate with a
    # fixed initial simplex (so that translated inputs follow the same path)
    start = cand[best]
    simplex = np.vstack([start, start + 0.05 * np.eye(d)])
    res = minimize(
        lambda t: _profiled_value(kind, estimated, target, t), start,
        method="Nelder-Mead",
        options={"initial_simplex": simplex, "xatol": 1e-10, "fatol": 1e-14,
                 "maxiter": 400 * d},
    )
    return float(min(values[best], res.fun))


# --------------------------------------------------------------------------
# Distances between regression functions and conditional densities
# --------------------------------------------------------------------------
def regression_distance(estimated, true, X):
    """Empirical L2 distance between two regression functions.

    .. math::

        \\Big(\\frac{1}{n} \\sum_{i=1}^n (f_{G}(x_i) - f_{G^*}(x_i))^2
        \\Big)^{1/2},

    with ``f_G(x) = E[y | x]`` the mixture mean (:meth:`MoEParams.predict`,
    shared experts included).

    Parameters
    ----------
    estimated : MoEParams
        Fitted model.
    true : MoEParams
        True model.
    X : array-like of shape (n_samples, n_features)
        Points where the regression functions are compared.

    Returns
    -------
    distance : float
        Non-negative; 0 at the truth, invariant to relabelling the experts.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.metrics import regression_distance
    >>> X, _, truth = make_moe_regression(50, 2, 3, random_state=0)
    >>> round(regression_distance(truth.permute([2, 0, 1]), truth, X), 10)
    0.0
    """
    _check_pair(estimated, true)
    diff = estimated.predict(X) - true.predict(X)
    return float(np.sqrt(np.mean(diff**2)))


def density_distance(estimated, true, X, *, metric="hellinger", n_grid=2001,
                     width=10.0):
    """Mean distance between two conditional densities ``p(y | x)``.

    For every row ``x`` of ``X`` the two densities are compared by
    ``metric`` and the distances are averaged over the rows:

    - ``"hellinger"``: ``H(x) = (1/2 int (sqrt p - sqrt q)^2 dy)^(1/2)``,
      in ``[0, 1]``;
    - ``"tv"``: total variation ``(1/2) int |p - q| dy``, in ``[0, 1]``.

    Parameters
    ----------
    estimated : MoEParams
        Fitted model.
    true : MoEParams
        True model.
    X : array-like of shape (n_samples, n_features)
        Points where the conditional densities are compared.
    metric : {"hellinger", "tv"}, default="hellinger"
        Distance between densities.
    n_grid : int, default=2001
        Number of points of the ``y`` grid.
    width : float, default=10.0
        The ``y`` grid of row ``x`` spans from the smallest component mean
        minus ``width`` standard deviations to the largest plus ``width``
        standard deviations, over the components of both models.

    Returns
    -------
    distance : float
        The mean over the rows of ``X``; 0 at the truth and invariant to
        relabelling the experts.

    Notes
    -----
    The integral over ``y`` is the composite trapezoidal rule on a uniform
    grid of ``n_grid`` points per row. The mass outside the grid is below
    the Gaussian tail beyond ``width`` standard deviations (``< 1e-22`` for
    the default 10). For the Hellinger integrand, smooth and vanishing with
    all its derivatives at both ends, the trapezoidal rule converges faster
    than any power of the spacing ``h`` (Euler-Maclaurin); with the default
    grid ``h`` is at most ``20 / 2000`` of the largest standard deviation
    plus the spread of the means, and the error is at round-off level as
    long as ``h`` is small against the smallest standard deviation. The
    total-variation integrand has kinks where ``p = q``, so its error is
    ``O(h^2)``.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.metrics import density_distance
    >>> X, _, truth = make_moe_regression(20, 2, 3, random_state=0)
    >>> round(density_distance(truth.permute([1, 2, 0]), truth, X), 10)
    0.0
    """
    _check_pair(estimated, true)
    for params in (estimated, true):
        # Gaussian components on a grid of +-width standard deviations: the
        # tails of a t law reach beyond it, a discrete law has no density
        check_requirements(DENSITY_DISTANCE, noise=params.noise,
                           n_experts=params.n_experts)
    if metric not in ("hellinger", "tv"):
        raise ValueError(f"metric must be 'hellinger' or 'tv'; got {metric!r}.")
    if not isinstance(n_grid, Integral) or isinstance(n_grid, bool) or n_grid < 3:
        raise ValueError(f"n_grid must be an integer >= 3; got {n_grid!r}.")
    if not (isinstance(width, Real) and np.isfinite(width) and width > 0):
        raise ValueError(f"width must be a positive number; got {width!r}.")
    X = true._check_X(X)
    out = np.empty(X.shape[0])
    chunk = max(1, 2_000_000 // n_grid)
    for start in range(0, X.shape[0], chunk):
        Xc = X[start:start + chunk]
        comps = [p._components(Xc) for p in (estimated, true)]
        means = np.hstack([c[1] for c in comps])
        sd = np.sqrt(np.concatenate([c[2] for c in comps]))
        lo = np.min(means - width * sd, axis=1)
        hi = np.max(means + width * sd, axis=1)
        grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, n_grid)
        dens = []
        for log_w, mu, var in comps:
            z = (grid[:, :, None] - mu[:, None, :]) / np.sqrt(var)
            log_c = log_w[:, None, :] - 0.5 * z**2 - 0.5 * np.log(2 * np.pi * var)
            dens.append(np.exp(logsumexp(log_c, axis=2)))
        p, q = dens
        if metric == "hellinger":
            f = 0.5 * (np.sqrt(p) - np.sqrt(q)) ** 2
        else:
            f = 0.5 * np.abs(p - q)
        h = (hi - lo) / (n_grid - 1)
        val = h * (f.sum(axis=1) - 0.5 * (f[:, 0] + f[:, -1]))
        out[start:start + chunk] = (
            np.sqrt(np.clip(val, 0.0, 1.0)) if metric == "hellinger"
            else np.clip(val, 0.0, 1.0)
        )
    return float(out.mean())
