"""Online (stepwise) EM for ``partial_fit``: running averages of statistics.

The algorithm is the online EM of Cappé and Moulines (2009), applied to
mini-batches as the stepwise EM of Liang and Klein (2009). For batch ``t``
with sample weights ``w`` and responsibilities ``r`` computed at the current
parameters (the E-step), the per-unit-weight batch statistic ``s_t`` is
averaged into the running statistic

    S_t = (1 - gamma_t) S_{t-1} + gamma_t s_t,   gamma_t = (t + t0)^(-alpha),

(``S_1 = s_1``), and the M-step maps ``S_t`` to new parameters.

- Experts: the families' additive sufficient statistics
  (:meth:`~skmoe.Experts.online_statistics`; for linear experts the weighted
  Gram matrices, cross-products, sums of ``y**2`` and masses), so the expert
  and variance updates are the exact EM maximisers of the averaged
  expected complete-data log-likelihood.
- Gate: the softmax M-step has no closed form and no finite statistic. Each
  batch contributes the local quadratic (Newton) model of its gate objective
  ``q_t(theta) = sum_ik R_ik log g_k(x_i; theta)`` at the current ``theta_t``:
  with ``g_t`` and ``H_t`` its gradient and negative Hessian
  (:meth:`~skmoe.Gating.newton_terms`), ``q_t(theta) ~ const + (g_t + H_t
  theta_t)^T theta - theta^T H_t theta / 2``. The running averages of
  ``H_t`` and ``g_t + H_t theta_t`` define the averaged quadratic model, and
  the gate M-step maximises it: ``theta = Hbar^{-1} vbar``. At a fixed point
  ``theta_t = theta`` this is ``mean(g_t) = 0``: the averaged gradient of the
  gate objective vanishes, the stationarity condition of the exact EM gate
  M-step on the averaged statistics, so the iteration has the fixed points of
  online EM (a stochastic Newton method with an averaged Hessian).

``gamma_t`` satisfies the Robbins-Monro conditions (``sum gamma = inf``,
``sum gamma^2 < inf``) for ``alpha`` in (0.5, 1]; with ``alpha = 1`` and
``t0 = 0``, ``gamma_t = 1 / t`` and ``S_t`` is the plain average of the batch
statistics.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from ..experts import Experts
from ..utils._arrays import as_kernel_array
from ._em import _is_finite


@dataclass
class OnlineState:
    """Running state of online EM.

    Attributes
    ----------
    params : MoEParams
        Current parameters (in the solver's expert order).
    expert_stats : tuple of ndarray
        Running averages of the experts' statistics (per unit weight).
    gate_hess : ndarray of shape (m, m)
        Running average of the gate's negative Hessians (per unit weight).
    gate_lin : ndarray of shape (m,)
        Running average of ``g_t + H_t theta_t`` (per unit weight).
    n_batches : int
        Number of batches averaged in.
    weight_seen : float
        Total sample weight seen.
    y_moments : ndarray of shape (2,)
        Weighted mean of ``y`` and of ``y**2`` over all batches (equal
        weights per unit weight, for the variance floor).
    """

    params: object
    expert_stats: tuple
    gate_hess: np.ndarray
    gate_lin: np.ndarray
    n_batches: int
    weight_seen: float
    y_moments: np.ndarray


def step_size(t, learning_decay, learning_offset):
    """Step size ``gamma_t = (t + t0)^(-alpha)`` of batch ``t >= 2`` (1 for t=1).

    Parameters
    ----------
    t : int
        Batch number, from 1.
    learning_decay : float
        ``alpha``, in (0.5, 1].
    learning_offset : float
        ``t0 >= 0``.

    Returns
    -------
    gamma : float
        The weight of batch ``t`` in the running averages.
    """
    if t == 1:
        return 1.0
    return float((t + learning_offset) ** (-learning_decay))


def batch_statistics(X, y, sample_weight, params):
    """E-step on one batch and its per-unit-weight statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    params : MoEParams

    Returns
    -------
    expert_stats : tuple of ndarray
    gate_hess : ndarray
    gate_lin : ndarray
    loglik : float
        Weighted mean log-likelihood of the batch at ``params``.
    """
    with np.errstate(over="ignore", under="ignore"):
        resp, loglik = params._posterior(X, y)[:2]
    W = float(sample_weight.sum())
    R = as_kernel_array(resp * (sample_weight / W)[:, None])
    expert_stats = params.experts.online_statistics(X, y, R)
    grad, neg_hess = params.gating.newton_terms(X, R, params)
    theta = params.gating.pack(params)
    return (expert_stats, neg_hess, grad + neg_hess @ theta,
            float(sample_weight @ loglik) / W)


def _solve_psd(A, b):
    """``A^{-1} b`` for a positive semi-definite ``A``, with a minimal ridge.

    The ridge starts at ``1e-12`` of the mean diagonal and grows tenfold until
    the Cholesky factorisation succeeds.
    """
    if b.size == 0:
        return b.copy()
    eye = np.eye(A.shape[0])
    lam = 1e-12 * max(np.trace(A) / A.shape[0], 1e-300)
    for _ in range(400):
        try:
            return cho_solve(cho_factor(A + lam * eye), b)
        except LinAlgError:
            lam *= 10.0
    raise ValueError("the averaged gate Hessian is not finite")  # pragma: no cover


def m_step_from_statistics(state, var_floor):
    """Parameters maximising the averaged statistics of ``state``.

    Parameters
    ----------
    state : OnlineState
    var_floor : float
        Absolute lower bound of the variances.

    Returns
    -------
    params : MoEParams
    """
    params = state.params
    expert_params, rss, mass = params.experts.online_m_step(
        state.expert_stats, params.expert_params
    )
    empty = mass <= 1e-10 * mass.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(empty, params.variance,
                            rss / np.where(empty, 1.0, mass))
    variance = np.maximum(variance, var_floor)
    theta = _solve_psd(state.gate_hess, state.gate_lin)
    gate = params.gating.unpack(theta, params)
    new = params.replace(expert_params=expert_params, variance=variance, **gate)
    return new.replace(**new.gating.normalize(new))


def online_em_step(state, X, y, sample_weight, *, learning_decay, learning_offset,
                   var_floor):
    """Average one batch into ``state`` and update the parameters.

    Parameters
    ----------
    state : OnlineState
        The state before the batch (not modified).
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
        Positive total weight.
    learning_decay, learning_offset : float
        The step-size schedule, see :func:`step_size`.
    var_floor : float
        Absolute lower bound of the variances.

    Returns
    -------
    state : OnlineState
        A new state.
    loglik : float
        Weighted mean log-likelihood of the batch at the parameters *before*
        the update (a prequential score of the stream).

    Raises
    ------
    ValueError
        If the update gives non-finite parameters (``state`` is unchanged).
    """
    t = state.n_batches + 1
    gamma = step_size(t, learning_decay, learning_offset)
    # non-finite values are caught below, after the M-step
    with np.errstate(all="ignore"):
        expert_stats, hess, lin, loglik = batch_statistics(X, y, sample_weight,
                                                           state.params)

    def mix(old, new):
        return (1.0 - gamma) * old + gamma * new

    new_state = OnlineState(
        params=state.params,
        expert_stats=tuple(mix(a, b) for a, b in zip(state.expert_stats,
                                                     expert_stats, strict=True)),
        gate_hess=mix(state.gate_hess, hess),
        gate_lin=mix(state.gate_lin, lin),
        n_batches=t,
        weight_seen=state.weight_seen + float(sample_weight.sum()),
        y_moments=state.y_moments,
    )
    with np.errstate(all="ignore"):
        finite = all(np.all(np.isfinite(a)) for a in (*new_state.expert_stats,
                                                        new_state.gate_hess,
                                                        new_state.gate_lin))
        if finite:
            new_state.params = m_step_from_statistics(new_state, var_floor)
    if not (finite and _is_finite(new_state.params)):
        raise ValueError(
            f"The online EM step on batch {t} produced non-finite parameters; "
            "the batch was not used and the model is unchanged. Check the "
            "batch for extreme values, or scale the data."
        )
    return new_state, loglik


def start_online(params, X, y, sample_weight, var_floor):
    """Online state after the first batch, whose fit gave ``params``.

    The running statistics are the first batch's statistics at ``params``
    (``gamma_1 = 1``), and the parameters their M-step.

    Parameters
    ----------
    params : MoEParams
        Parameters fitted to the first batch.
    X, y, sample_weight : ndarray
        The first batch.
    var_floor : float

    Returns
    -------
    state : OnlineState
    """
    expert_stats, hess, lin, _ = batch_statistics(X, y, sample_weight, params)
    state = OnlineState(params=params, expert_stats=expert_stats, gate_hess=hess,
                        gate_lin=lin, n_batches=1,
                        weight_seen=float(sample_weight.sum()),
                        y_moments=update_y_moments(np.zeros(2), 0.0, y,
                                                   sample_weight))
    state.params = m_step_from_statistics(state, var_floor)
    return state


def update_y_moments(moments, weight_before, y, sample_weight):
    """Weighted means of ``y`` and ``y**2`` over the stream (exact averages).

    Parameters
    ----------
    moments : ndarray of shape (2,)
        Means over the ``weight_before`` units of weight seen so far.
    weight_before : float
    y, sample_weight : ndarray

    Returns
    -------
    moments : ndarray of shape (2,)
        Means over all the weight seen, including this batch.
    """
    W = float(sample_weight.sum())
    batch = np.array([sample_weight @ y, sample_weight @ (y * y)]) / W
    return moments + (W / (weight_before + W)) * (batch - moments)


def _var_floor(moments, reg_var):
    # Var(y) = E[y^2] - E[y]^2 is round-off for a constant y (the difference
    # of the two moments errs by a few eps E[y^2]): then the scale is E[y^2]
    # (1 for y = 0), as in fit (skmoe.utils._validation.variance_floor)
    var_y = float(moments[1] - moments[0] ** 2)
    if var_y <= 16 * np.finfo(np.float64).eps * moments[1]:
        var_y = float(moments[1]) if moments[1] > 0 else 1.0
    return reg_var * var_y


def check_online(objective, gating, experts, n_experts, n_shared_experts,
                 noise="gaussian"):
    """Raise a ValueError if ``partial_fit`` cannot fit this configuration.

    Parameters
    ----------
    objective : {"likelihood", "least_squares"}
    gating : Gating
    experts : Experts
    n_experts : int
    n_shared_experts : int
    noise : str, default="gaussian"
        The estimator's ``noise``; online EM keeps Gaussian statistics only.

    Raises
    ------
    ValueError
        Naming the parameter: online EM maximises the likelihood, has no
        statistics for shared experts, and needs a gate with
        :meth:`~skmoe.Gating.newton_terms` and experts with
        :meth:`~skmoe.Experts.online_statistics`.
    """
    if objective != "likelihood":
        raise ValueError(
            f"partial_fit maximises the likelihood (online EM); objective="
            f"{objective!r} is not supported. Use objective='likelihood'."
        )
    if noise != "gaussian":
        raise ValueError(
            f"partial_fit supports noise='gaussian' only (its running "
            f"statistics are those of Gaussian experts); got noise={noise!r}. "
            "Use fit for the t mixture of experts."
        )
    if n_shared_experts:
        raise ValueError(
            f"partial_fit does not support shared experts (n_shared_experts="
            f"{n_shared_experts}); use fit, or n_shared_experts=0."
        )
    reason = gating.online_reason(n_experts)
    if reason is not None:
        raise ValueError(f"partial_fit cannot fit gating={gating!r}: {reason}.")
    if type(experts).online_statistics is Experts.online_statistics:
        raise ValueError(
            f"partial_fit cannot fit experts={experts!r}: "
            f"{type(experts).__name__} has no additive sufficient statistics "
            "(online_statistics); use fit."
        )


def partial_fit_online(state, X, y, sample_weight, *, reg_var, learning_decay,
                       learning_offset, first_fit):
    """One ``partial_fit`` call: start the stream, or average a batch into it.

    Parameters
    ----------
    state : OnlineState or None
        None for the first batch.
    X, y, sample_weight : ndarray
        The batch (positive total weight).
    reg_var : float
        Variance floor relative to the variance of ``y`` over the stream so
        far.
    learning_decay, learning_offset : float
        The step-size schedule (:func:`step_size`).
    first_fit : callable
        ``first_fit(X, y, sample_weight, var_floor) -> MoEParams``, the batch
        fit of the first batch.

    Returns
    -------
    state : OnlineState
        The new state (``state`` is not modified).
    loglik : float
        Weighted mean log-likelihood of the batch at the parameters before
        its update (NaN for the first batch).
    """
    if state is None:
        moments = update_y_moments(np.zeros(2), 0.0, y, sample_weight)
        var_floor = _var_floor(moments, reg_var)
        params = first_fit(X, y, sample_weight, var_floor)
        return start_online(params, X, y, sample_weight, var_floor), float("nan")
    with np.errstate(all="ignore"):  # non-finite results are rejected below
        moments = update_y_moments(state.y_moments, state.weight_seen, y,
                                   sample_weight)
        var_floor = _var_floor(moments, reg_var)
    new, loglik = online_em_step(
        state, X, y, sample_weight, learning_decay=learning_decay,
        learning_offset=learning_offset, var_floor=var_floor,
    )
    new.y_moments = moments
    return new, loglik
