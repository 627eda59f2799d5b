"""Online (stepwise) EM for ``partial_fit``: running averages of statistics.

The algorithm is the online EM of Cappé and Moulines (2009), applied to
mini-batches as the stepwise EM of Liang and Klein (2009). For batch ``t``
with sample weights ``w`` and responsibilities ``r`` computed at the current
parameters (the E-step), the per-unit-weight batch statistic ``s_t`` is
averaged into the running statistic

    S_t = (1 - gamma_t) S_{t-1} + gamma_t s_t,   gamma_t = (t + t0)^(-alpha),

(``S_1 = s_1``), and the M-step maps ``S_t`` to new parameters.

- Experts: the families' additive sufficient statistics
  (:meth:`~skmoe.Experts.statistics`; for linear experts the weighted
  Gram matrices, residual moments, masses and residual sums of squares at
  the current experts, a :class:`~skmoe.experts.LinearStatistics`, whose
  ``mix`` takes the running average at the current experts), and the
  families' own :meth:`~skmoe.Experts.update` from them, so the expert and
  variance updates are the exact EM maximisers of the averaged expected
  complete-data log-likelihood (the same update batch EM and the fused EM
  make from the statistics of one pass).
- Gate: the softmax M-step has no closed form and no finite statistic. Each
  batch contributes the local quadratic (Newton) model of its gate objective
  ``q_t(theta) = sum_ik R_ik log g_k(x_i; theta)`` at the current ``theta_t``:
  with ``g_t`` and ``H_t`` its gradient and negative Hessian (the gate's
  :meth:`~skmoe.Gating.statistics`, a :class:`~skmoe.gating.NewtonTerms`),
  ``q_t(theta) ~ const + (g_t + H_t theta_t)^T theta - theta^T H_t theta /
  2``. The running averages of ``H_t`` and ``g_t + H_t theta_t`` define the
  averaged quadratic model, and the gate M-step maximises it: ``theta =
  Hbar^{-1} vbar``, which is the gate's own Newton step
  (:meth:`~skmoe.Gating.update`) from the averaged model's gradient ``vbar -
  Hbar theta_t`` at the current gate, taken in full. At a fixed point
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

from ..gating import NewtonTerms
from ..noise import variances_from_rss
from ..utils._abilities import Requirements, check_requirements
from ..utils._arrays import as_kernel_array

#: what online EM needs of a model
ONLINE = Requirements(
    "partial_fit (online EM)",
    gating=("statistics", "fixed_model"),
    experts=("statistics",),
    noise=("gaussian",),
    shared_experts=False,
    hint="Use fit.",
)


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
    gate_theta : ndarray of shape (m,)
        The gate's free coordinates ``theta_t`` at ``params`` (where the last
        batch's statistics were taken).
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
    gate_theta: np.ndarray
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
        The experts' :meth:`~skmoe.Experts.statistics`.
    gate : NewtonTerms
        The gate's :meth:`~skmoe.Gating.statistics`.
    loglik : float
        Weighted mean log-likelihood of the batch at ``params``.
    """
    with np.errstate(over="ignore", under="ignore"):
        resp, loglik = params._posterior(X, y)[:2]
    W = float(sample_weight.sum())
    R = as_kernel_array(resp * (sample_weight / W)[:, None])
    expert_stats = params.experts.statistics(X, y, R, params.expert_params)
    gate = params.gating.statistics(X, R, params)
    return expert_stats, gate, float(sample_weight @ loglik) / W


def m_step_from_statistics(state, var_floor):
    """Parameters maximising the averaged statistics of ``state``.

    The experts' :meth:`~skmoe.Experts.update` and
    :meth:`~skmoe.Experts.residual_ss` from the averaged statistics, the
    variances by :func:`~skmoe.noise.variances_from_rss`, and the gate's full
    Newton step (:meth:`~skmoe.Gating.update`) to the maximiser of the
    averaged quadratic model.

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
    experts, gating = params.experts, params.gating
    stats = state.expert_stats
    expert_params = experts.update(stats, params.expert_params)
    rss = experts.residual_ss(stats, expert_params)
    variance = variances_from_rss(rss, stats.mass, params.variance, var_floor)
    theta = state.gate_theta
    model = NewtonTerms(0.0, state.gate_lin - state.gate_hess @ theta,
                        state.gate_hess, 0, theta)
    gate = gating.update(model, params).fields()
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
        expert_stats, gate, loglik = batch_statistics(X, y, sample_weight,
                                                      state.params)

    def mix(old, new):
        return (1.0 - gamma) * old + gamma * new

    new_state = OnlineState(
        params=state.params,
        # both at the current experts (the statistics' own average)
        expert_stats=state.expert_stats.mix(expert_stats, gamma),
        gate_hess=mix(state.gate_hess, gate.neg_hess),
        gate_lin=mix(state.gate_lin, gate.grad + gate.neg_hess @ gate.theta),
        gate_theta=gate.theta,
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
    if not (finite and new_state.params._all_finite()):
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
    expert_stats, gate, _ = batch_statistics(X, y, sample_weight, params)
    state = OnlineState(params=params, expert_stats=expert_stats,
                        gate_hess=gate.neg_hess,
                        gate_lin=gate.grad + gate.neg_hess @ gate.theta,
                        gate_theta=gate.theta, n_batches=1,
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


def check_online(spec):
    """Raise a ValueError if ``partial_fit`` cannot fit this configuration.

    Parameters
    ----------
    spec : FitSpec
        The fit's settings.

    Raises
    ------
    ValueError
        Naming the parameter: online EM maximises the likelihood and needs
        the model's abilities of :data:`ONLINE` (additive statistics of the
        gate and the experts, a gate that does not change over iterations,
        Gaussian noise, no shared experts).
    """
    if spec.objective != "likelihood":
        raise ValueError(
            f"partial_fit maximises the likelihood (online EM); objective="
            f"{spec.objective!r} is not supported. Use objective='likelihood'."
        )
    check_requirements(ONLINE, **spec.model())


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
