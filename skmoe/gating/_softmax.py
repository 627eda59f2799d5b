"""Softmax gating: temperature (fixed, learned or annealed), activation, top-K.

:class:`SoftmaxGating` is composed of three parts, each of which owns the
numerics of one of its variants (no method branches on the others):

- the **logit map**, :class:`_LinearLogits` (no activation: the rows are
  defined up to a common shift, the last one is the zero reference) or
  :class:`_ActivatedLogits` (``tanh``/``sigmoid`` of the linear logits: every
  row is free). It owns the parametrisation (``normalize``, ``pack``,
  ``unpack``, the free-parameter count) and the chain rule from the logits to
  it, including a learned temperature (the scale of the rows for linear
  logits, an extra free parameter for activated ones);
- the **temperature**, :class:`_Temperature`: fixed, learned or scheduled
  (dense-to-sparse), its value, where it is stored and its schedule;
- the **selection**, :class:`_Dense` or :class:`_TopK`: the log-weights of
  the tempered logits, their vector-Jacobian product, the annealed smoothing
  of a top-K selection and its schedule.

The public class keeps one hyper-parameter per variant (so ``GridSearchCV``
searches ``gating__top_k``, ``gating__activation``, ...), builds its parts
from them (:meth:`SoftmaxGating._parts`) and combines them; only the EM
update chooses between three algorithms by the parts' properties.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import expit
from sklearn.base import clone

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval, StrOptions
from ..utils._threads import use_threads
from ._ascent import maximize_monotone, sparse_gate_m_step
from ._base import NewtonTerms, _random_directions, _weighted_moments
from ._newton import NewtonProposal, objective_noise, softmax_objective
from ._rows import ShiftInvariantRows
from ._topk import (
    SMOOTHING_START,
    TopKProgram,
    _TopKGating,
    anneal_steps,
    next_smoothing,
)


def _activate(Z, activation):
    """Activation values and derivatives (``Z`` is not modified)."""
    if activation == "tanh":
        A = np.tanh(Z)
        return A, 1.0 - A * A
    A = expit(Z)
    return A, A * (1.0 - A)


def _rescaled(coef, intercept, tau, extra=None):
    """Shift- and scale-normalised gate of the logits ``(X coef^T + b) / tau``.

    Returns fields whose gate rows have the last row zero and centred rows of
    unit Frobenius norm, with the scale moved into the temperature
    ``1 / ||centred rows / tau||``. The centred norm does not depend on the
    labelling of the experts. A gate without any contrast (all rows equal)
    keeps ``tau``. Other entries of ``extra`` are kept.
    """
    u = np.hstack([coef, intercept[:, None]]) / tau
    u = u - u[-1]
    norm = float(np.linalg.norm(u - u.mean(axis=0)))
    if norm > 0 and np.isfinite(norm):
        u = u / norm
        tau = 1.0 / norm
    d = coef.shape[1]
    return {
        "gate_coef": np.ascontiguousarray(u[:, :d]),
        "gate_intercept": np.ascontiguousarray(u[:, d]),
        "gate_extra": {**(extra or {}), "temperature": np.array([tau])},
    }


def _rows(coef, intercept):
    return np.hstack([coef, intercept[:, None]])


# ------------------------------------------------------------- temperature
class _Temperature:
    """Fixed, learned or scheduled temperature of a softmax gate.

    ``value`` is ``temperature`` unless the gate stores its current value in
    ``gate_extra["temperature"]`` (learned or scheduled); a schedule starts at
    ``initial_temperature`` and moves towards ``temperature`` after every
    EM iteration (:meth:`step`).
    """

    def __init__(self, gating):
        self.target = float(gating.temperature)
        self.learned = bool(gating.learn_temperature)
        self.schedule = gating.schedule
        self.initial = float(gating.initial_temperature)
        self.anneal_iter = gating.anneal_iter
        self.stored = self.learned or self.schedule is not None

    def value(self, params):
        """The temperature of ``params``."""
        if self.stored:
            extra = params.gate_extra.get("temperature")
            if extra is not None:
                return float(extra[0])
        return self.target

    def start(self):
        """The temperature of a fit's start."""
        if self.schedule is not None and self.anneal_iter > 0:
            return self.initial
        return self.target

    def lacks(self, ability):
        if ability == "fixed_model" and self.schedule is not None:
            return (f"schedule={self.schedule!r} anneals the temperature over "
                    "EM iterations")
        return None

    def step(self, tau, n_steps):
        """The scheduled temperature after ``tau`` (``tau`` without schedule)."""
        if self.schedule is None or tau == self.target:
            return tau
        target, start = self.target, self.initial
        toward = 1.0 if target > tau else -1.0
        if self.schedule == "geometric":
            step = abs(np.log(start / target)) / n_steps
            new = tau * np.exp(toward * step)
        else:
            step = abs(start - target) / n_steps
            new = tau + toward * step
        # snap to the target at the end (and when the start equals it)
        if step == 0 or (new - target) * (tau - target) <= 0 or (
            abs(new - target) <= 1e-9 * target
        ):
            new = target
        return float(new)


# -------------------------------------------------------------- logit maps
class _LinearLogits:
    """Logits ``(X coef^T + intercept) / tau``, defined up to a common shift.

    The last expert's row is the zero reference; the free parameters are the
    other rows. With a learned temperature the scale of the rows moves into
    the temperature (:func:`_rescaled`) and the free parameters are the
    scaled rows.
    """

    shift_invariant = True

    def __init__(self, temperature):
        self.temperature = temperature

    def n_free(self, n_features, n_experts):
        return (n_experts - 1) * (n_features + 1)

    def start_rows(self, coef):
        coef[-1] = 0.0
        return coef

    def draw(self, gating, n_features, n_experts, gate_scale, rng):
        return ShiftInvariantRows.random_params(gating, n_features, n_experts,
                                                gate_scale, rng)

    def with_temperature(self, fields, tau):
        if self.temperature.learned:
            return _rescaled(fields["gate_coef"], fields["gate_intercept"], tau)
        if self.temperature.stored:
            fields["gate_extra"] = {"temperature": np.array([float(tau)])}
        return fields

    def logits(self, X, params):
        # logits beyond float64's range are +-inf: the kernels give the
        # gate's limit there (see log_weights)
        with np.errstate(over="ignore"):
            Z = X @ params.gate_coef.T
            Z += params.gate_intercept
            tau = self.temperature.value(params)
            if tau != 1.0:
                Z /= tau
        return Z

    def normalize(self, gating, params):
        fields = ShiftInvariantRows.normalize(gating, params)  # last row zero
        if self.temperature.learned:
            return _rescaled(fields["gate_coef"], fields["gate_intercept"],
                             self.temperature.value(params), params.gate_extra)
        return fields

    def pack(self, gating, params):
        theta = ShiftInvariantRows.pack(gating, params)
        if self.temperature.learned:
            theta = theta / self.temperature.value(params.replace(
                **gating.normalize(params)))
        return theta

    def unpack(self, gating, theta, params):
        fields = ShiftInvariantRows.unpack(gating, theta, params)
        if self.temperature.learned:
            return _rescaled(fields["gate_coef"], fields["gate_intercept"], 1.0,
                             params.gate_extra)
        return fields

    def to_logits(self, gating, params):
        """The normalised rows divided by the temperature (the logits' rows)."""
        norm = self.normalize(gating, params)
        if self.temperature.learned:
            tau = float(norm["gate_extra"]["temperature"][0])
        else:
            tau = self.temperature.value(params)
        return (as_kernel_array(norm["gate_coef"] / tau),
                as_kernel_array(norm["gate_intercept"] / tau))

    def from_logits(self, coef, intercept, params):
        """Gate fields of logits' rows: times the temperature, or renormalised
        with a new learned temperature."""
        if self.temperature.learned:
            return _rescaled(coef, intercept, 1.0, params.gate_extra)
        tau = self.temperature.value(params)
        return {"gate_coef": coef * tau, "gate_intercept": intercept * tau}

    def grad(self, X, params, L, dL):
        """Gradient in the free rows from ``dL`` (the gradient in the logits)."""
        if not self.temperature.learned:
            dL /= self.temperature.value(params)
        full = np.hstack([dL.T @ X, dL.sum(axis=0)[:, None]])
        return full[:-1].ravel()

    def lacks(self, ability, learned):
        if ability == "atoms" and learned:
            return ("learn_temperature=True moves the scale of the gate into "
                    "the temperature, so exp(intercept) is not an atom weight")
        return None


class _ActivatedLogits:
    """Logits ``act(X coef^T + intercept) / tau``: bounded, every row free.

    A learned temperature is an extra free parameter, ``log(tau)``.
    """

    shift_invariant = False

    def __init__(self, temperature, activation):
        self.temperature = temperature
        self.activation = activation

    def n_free(self, n_features, n_experts):
        if n_experts == 1:
            return 0
        return n_experts * (n_features + 1) + int(self.temperature.learned)

    def start_rows(self, coef):
        return coef

    def draw(self, gating, n_features, n_experts, gate_scale, rng):
        coef = _random_directions(rng, n_experts, n_features) * gate_scale
        intercept = 0.5 * rng.standard_normal(n_experts)
        return {"gate_coef": coef, "gate_intercept": intercept}

    def with_temperature(self, fields, tau):
        if self.temperature.stored:
            fields["gate_extra"] = {"temperature": np.array([float(tau)])}
        return fields

    def _activated(self, X, params):
        with np.errstate(over="ignore"):  # +-inf logits: the activation's limit
            Z = X @ params.gate_coef.T
            Z += params.gate_intercept
            return _activate(Z, self.activation)

    def logits(self, X, params):
        Z = self._activated(X, params)[0]
        tau = self.temperature.value(params)
        if tau != 1.0:
            Z /= tau
        return Z

    def normalize(self, gating, params):
        if params.n_experts == 1:
            return {"gate_coef": np.zeros_like(params.gate_coef),
                    "gate_intercept": np.zeros_like(params.gate_intercept)}
        return {"gate_coef": params.gate_coef.copy(),
                "gate_intercept": params.gate_intercept.copy()}

    def pack(self, gating, params):
        if params.n_experts == 1:
            return np.zeros(0)
        full = _rows(params.gate_coef, params.gate_intercept).ravel()
        if self.temperature.learned:
            full = np.append(full, np.log(self.temperature.value(params)))
        return full

    def unpack(self, gating, theta, params):
        K, d = params.n_experts, params.n_features
        theta = np.asarray(theta, dtype=np.float64)
        if K == 1:
            return gating.normalize(params)
        full = theta[: K * (d + 1)].reshape(K, d + 1)
        fields = {"gate_coef": np.ascontiguousarray(full[:, :d]),
                  "gate_intercept": np.ascontiguousarray(full[:, d])}
        if self.temperature.learned:
            fields["gate_extra"] = {**params.gate_extra,
                                    "temperature": np.exp(theta[-1:])}
        return fields

    def grad(self, X, params, L, dL):
        """Gradient in all rows (and ``log tau``) through the activation."""
        if params.n_experts == 1:
            return np.zeros(0)
        tau = self.temperature.value(params)
        dZ = dL * self._activated(X, params)[1] / tau
        full = np.hstack([dZ.T @ X, dZ.sum(axis=0)[:, None]]).ravel()
        if self.temperature.learned:
            full = np.append(full, -np.sum(dL * L))
        return full

    def lacks(self, ability, learned):
        if ability in ("statistics", "linear", "softmax_atoms", "compiled"):
            return (f"activation={self.activation!r} makes the logits "
                    "non-linear (the gate objective is not concave)")
        return None


# --------------------------------------------------------------- selections
class _Dense:
    """All experts: the log-softmax of the tempered logits."""

    sparse = False

    def log_weights(self, L, params):
        return _kernels._logspace.log_softmax_rows(L)

    def dlogits(self, L, G, params):
        g = np.exp(self.log_weights(L, params))
        return G - g * G.sum(axis=1, keepdims=True)

    def start_extra(self):
        return {}

    def exact(self, params):
        return False

    def step(self, extra, n_steps):
        return False

    def lacks(self, ability):
        return None


class _TopK:
    """The ``top_k`` largest logits, first through an annealed smoothed mask.

    The smoothing is stored in ``gate_extra["top_k_smoothing"]``: positive
    while the selection anneals (a smooth mask), 0 for the exact top-K gate.
    """

    sparse = True

    def __init__(self, gating):
        self.gating = gating
        self.top_k = int(gating.top_k)
        self.anneal_iter = gating.anneal_iter

    def _smoothing(self, params):
        return float(params.gate_extra.get("top_k_smoothing", np.zeros(1))[0])

    def exact(self, params):
        return self._smoothing(params) == 0

    def log_weights(self, L, params):
        smoothing = self._smoothing(params)
        if smoothing > 0:
            return _kernels._logspace.soft_topk_log_weights(L, L, self.top_k, smoothing)
        return _kernels._softmax.topk_log_softmax_rows(L, self.top_k)

    def dlogits(self, L, G, params):
        smoothing = self._smoothing(params)
        if smoothing > 0:
            L = as_kernel_array(L)
            d_scores, d_rank = _kernels._logspace.soft_topk_vjp(
                as_kernel_array(G), L, L, self.top_k, smoothing)
            return d_scores + d_rank
        g = np.exp(self.log_weights(L, params))
        return G - g * G.sum(axis=1, keepdims=True)

    def start_extra(self):
        if self.anneal_iter > 0:
            return {"top_k_smoothing": np.array([SMOOTHING_START])}
        return {}

    def step(self, extra, n_steps):
        """Advance the smoothing in ``extra`` (in place); True if it moved."""
        smoothing = float(extra.get("top_k_smoothing", np.zeros(1))[0])
        if smoothing <= 0:
            return False
        extra["top_k_smoothing"] = np.array([next_smoothing(smoothing, n_steps)])
        return True

    def lacks(self, ability):
        if ability in ("statistics", "linear", "softmax_atoms"):
            return (f"top_k={self.top_k} selects experts (the objective is "
                    "discontinuous in the gate)")
        return None

    def compiled(self, logits, temperature):
        """Whether the kernel of :meth:`_TopKGating._topk_step` runs the update."""
        return logits.shift_invariant

    def kernel_temperature(self, temperature, params):
        """The temperature the kernel divides the free rows by: 1 for a
        learned one (:meth:`pack` then holds the logits' rows), else its value."""
        return 1.0 if temperature.learned else temperature.value(params)


class _LearnedTopKProgram(TopKProgram):
    """:class:`TopKProgram` of a learned temperature with linear logits.

    With ``learn_temperature=True`` :meth:`SoftmaxGating.pack` holds the
    logits' rows (the scale is in the temperature), so the program runs the
    kernel with temperature 1 (no schedule: a learned temperature has none)
    and renormalises the rows into the temperature at the end, as
    :meth:`SoftmaxGating.unpack` does.
    """

    def fields(self):
        fields = super().fields()
        return _rescaled(fields["gate_coef"], fields["gate_intercept"], 1.0,
                         self.extra)


class _SoftmaxProgram:
    """The compiled EM state of a dense softmax gate with linear logits.

    The state is the gate in the coordinates of its Newton step, the logits'
    rows (:meth:`SoftmaxGating.linear_logits`: normalised, divided by the
    temperature); the step is the kernel of :meth:`SoftmaxGating.m_step`
    (one damped Newton step, its line search tested on the log-weights it
    leaves in ``LW``), then the temperature's schedule, which rescales the
    logits. The step also leaves the gate weights in ``prob``: with the
    log-weights it left in ``LW`` (the array ``lw_of_gate``), which the
    compiled EM does not change between steps, the next step sums its Newton
    terms from them without recomputing the softmax (the same bits).
    """

    def __init__(self, gating, X, params):
        _, self.temperature, _ = gating._parts(params.n_experts)
        self.anneal_iter = gating.anneal_iter
        self.X = X
        self.tau = self.temperature.value(params)
        self.extra = dict(params.gate_extra)
        coef, intercept = gating.linear_logits(params)
        self.coef, self.intercept = coef.copy(), intercept.copy()
        self.prob = np.empty((0, self.coef.shape[0]))
        self.lw_of_gate = None

    def log_weights(self, LW):
        self.lw_of_gate = None
        _kernels._softmax_steps.softmax_log_weights_into(
            self.X, self.coef, self.intercept, LW)

    def step(self, R, LW, n_iter, max_iter):
        if self.prob.shape[0] != LW.shape[0]:
            self.prob = np.empty(LW.shape)
        finite = _kernels._softmax_steps.softmax_newton_ascent(
            self.X, R, self.coef, self.intercept, 1, LW, self.prob,
            self.lw_of_gate is LW)
        self.lw_of_gate = LW
        if self.temperature.schedule is None:
            return finite, False
        new = self.temperature.step(self.tau,
                                    anneal_steps(self.anneal_iter, max_iter))
        if new == self.tau:
            return finite, False
        # the gate's rows stay, the logits are their quotient by the new value
        self.coef = (self.coef * self.tau) / new
        self.intercept = (self.intercept * self.tau) / new
        self.tau = new
        self.log_weights(LW)
        return finite, True

    def fields(self):
        if self.temperature.learned:
            return _rescaled(self.coef, self.intercept, 1.0, self.extra)
        fields = {"gate_coef": self.coef * self.tau,
                  "gate_intercept": self.intercept * self.tau}
        if self.temperature.stored:
            fields["gate_extra"] = {**self.extra,
                                    "temperature": np.array([self.tau])}
        return fields


class SoftmaxGating(_TopKGating):
    """Softmax gate: temperature (fixed, learned or annealed), activation, top-K.

    With logits :math:`z_k(x) = \\beta_{1k}^\\top x + \\beta_{0k}`, an optional
    activation :math:`\\sigma` and a temperature :math:`\\tau > 0`,

    .. math::

        g_k(x) = \\frac{\\exp\\big(\\sigma(z_k(x)) / \\tau\\big)}
            {\\sum_{j \\in T(x)} \\exp\\big(\\sigma(z_j(x)) / \\tau\\big)}
            \\quad (k \\in T(x)), \\qquad g_k(x) = 0 \\quad (k \\notin T(x)),

    where :math:`T(x)` holds the ``top_k`` experts with the largest logits
    (all experts when ``top_k`` is None) and :math:`\\sigma` is the identity
    when ``activation`` is None.

    Parameters
    ----------
    temperature : float, default=1.0
        Temperature :math:`\\tau > 0`: the fixed value, the starting value of
        a learned temperature, or the final value of a schedule. Small values
        make the gate closer to a hard (arg-max) partition.
    top_k : int, default=None
        Keep only the ``top_k`` largest logits of every input (the top-K
        sparse softmax gate); the others get weight exactly zero (log-weight
        ``-inf``). None, or a value equal to the number of experts, is the
        dense softmax. Must not exceed ``n_experts``.
    learn_temperature : bool, default=False
        Estimate :math:`\\tau` with the other gate parameters (see Notes for
        what is identifiable).
    schedule : {"linear", "geometric"}, default=None
        Anneal :math:`\\tau` from ``initial_temperature`` to ``temperature``
        over ``anneal_iter`` EM iterations (the dense-to-sparse gate): after
        each M-step the temperature moves one step (an equal difference, or an
        equal ratio), then stays at ``temperature``. None keeps it fixed.
        Incompatible with ``learn_temperature=True``.
    initial_temperature : float, default=10.0
        Starting temperature of a ``schedule`` (ignored without one).
    anneal_iter : int, default=50
        Number of EM iterations of the annealing schedules: the temperature
        ``schedule``, and for a top-K gate the smoothed selection that starts
        every fit (see Notes). A run anneals over at most half of its
        ``max_iter``, so that it always ends on the final model. 0 disables
        the smoothing of a top-K gate (and makes a schedule start at
        ``temperature``).
    activation : {"tanh", "sigmoid"}, default=None
        Activation applied to the logits before the temperature (the
        activation dense-to-sparse gate). None is the plain softmax.

    Notes
    -----
    **Identifiability.** Without an activation the softmax is invariant to a
    common shift of the logits, so the last expert's gate row is fixed at
    zero (:math:`\\beta_{1K} = 0`, :math:`\\beta_{0K} = 0`). The gate then
    depends on :math:`(\\beta, \\tau)` only through :math:`\\beta / \\tau`, so
    the temperature and the scale of the slopes are *not* separately
    identifiable (the partial differential equation
    :math:`\\tau \\, \\partial g / \\partial \\tau = -\\beta \\cdot \\partial g
    / \\partial \\beta` of [3]_). A fixed temperature therefore only rescales
    the fitted gate (the optimum scales with :math:`\\tau`), and with
    ``learn_temperature=True`` skmoe fixes the scale instead: the centred gate
    rows (rows minus their mean over experts, a labelling-free quantity) have
    unit Frobenius norm and :math:`\\tau` carries the scale, i.e.
    :math:`\\tau = 1 / \\lVert \\mathrm{centred}(\\beta / \\tau) \\rVert`, an
    inverse sharpness of the gate. The model, the EM path and the likelihood
    are then those of the plain softmax; only the reported parametrisation
    differs. With an activation (``"tanh"`` or ``"sigmoid"``, bounded and not
    homogeneous) neither symmetry exists: all ``K`` gate rows are free, and a
    learned temperature is identifiable; it is stored as
    ``params.gate_extra["temperature"]``, of shape ``(1,)``, as is the current
    temperature of a schedule. Positively homogeneous activations such as
    ReLU are not offered: :math:`\\mathrm{relu}(c z) / (c \\tau) =
    \\mathrm{relu}(z) / \\tau` would bring the scale symmetry back.

    **Schedules.** A schedule changes the model between EM iterations, so the
    log-likelihood may decrease while it runs and EM does not stop before it
    ends. Without an activation the temperature is absorbed by the slopes at
    every M-step (see above), so a schedule changes the path of EM, not its
    fixed points; with an activation the logits are bounded by
    :math:`1 / \\tau` and a decreasing temperature really makes the gate
    sparser.

    **EM update.** The dense gate without activation is updated by one damped
    Newton step per EM iteration on the weighted multinomial log-likelihood
    :math:`\\sum_{ik} R_{ik} \\log g_k(x_i)` (exact Hessian from a Numba
    kernel, backtracking line search), a generalised EM step that never
    decreases the objective; a step whose predicted gain is below the
    round-off of the objective is taken without the line-search comparison,
    so integer weights and repeated rows give the same fit. With an
    activation the objective is not concave and the update is a
    limited-memory BFGS ascent whose every step increases it. A top-K gate is
    discontinuous in its parameters and its EM surrogate is ``-inf`` as soon
    as an input's selected set changes, so its update
    increases the observed log-likelihood directly (an ECME step, see
    :class:`GateLikelihood`): the dense gate's update is proposed and
    accepted only if it increases the likelihood, then refined while the
    selected sets stay fixed. EM stays monotone; for ``top_k=1`` the
    likelihood is piecewise constant in the gate, so only the proposals move
    it.

    **Annealed top-K.** The top-K likelihood jumps at every input whose
    selected set changes (by an :math:`O(1)` amount for ``top_k < K``), so it
    has many local maxima and the ECME update alone rarely moves a bad start.
    A fit therefore starts from a smoothed selection: the mask
    :math:`\\mathrm{sigmoid}((L_k - t)/s)`, with :math:`t` midway between the
    ``top_k``-th and the next largest logit :math:`L`, multiplies the softmax
    weights; every weight is positive and smooth in the parameters, and EM
    (with a limited-memory BFGS gate update) is ordinary. The smoothing
    :math:`s` decreases geometrically from 2 to 0.01 over ``anneal_iter``
    iterations (stored as ``params.gate_extra["top_k_smoothing"]``), then
    becomes exactly 0, the exact top-K gate, which ECME finishes. The
    log-likelihood may decrease while the smoothing changes, and EM does not
    stop before it has ended. Measured with
    ``benchmarks/bench_gating_families.py`` on data from a top-2-of-3 gate
    (n=5000, seeds 0-2, one start each), the annealed fit ended 3 to 75
    log-likelihood units below the truth's, ECME alone (``anneal_iter=0``)
    165 to 464 units below.

    To tune the hyper-parameters in a grid search, pass a ``SoftmaxGating``
    object as ``gating`` and search nested keys such as
    ``gating__temperature`` or ``gating__top_k``.

    References
    ----------
    .. [1] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation 6(2), 181-214.
    .. [2] Nguyen, H., Ho, N. and Rinaldo, A. (2025). Convergence rates for
       softmax gating mixture of experts. arXiv:2503.03213.
    .. [3] Nguyen, H., Akbarian, P. and Ho, N. (2024). Is temperature sample
       efficient for softmax Gaussian mixture of experts? ICML.
       arXiv:2401.13875.
    .. [4] Nguyen, H., Akbarian, P., Yan, F. and Ho, N. (2024). Statistical
       perspective of top-K sparse softmax gating mixture of experts. ICLR.
       arXiv:2309.13850.
    .. [5] Shazeer, N. et al. (2017). Outrageously large neural networks: the
       sparsely-gated mixture-of-experts layer. arXiv:1701.06538.
    .. [6] Liu, C. and Rubin, D. B. (1994). The ECME algorithm: a simple
       extension of EM and ECM with faster monotone convergence. Biometrika
       81(4), 633-648.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor, SoftmaxGating
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, truth = make_moe_regression(500, 2, 3, random_state=0)
    >>> est = MixtureOfExpertsRegressor(3, gating=SoftmaxGating(top_k=2),
    ...                                 random_state=0).fit(X, y)
    >>> gates = est.predict_gates(X[:2])
    >>> gates.sum(axis=1), (gates == 0).sum(axis=1)
    (array([1., 1.]), array([1, 1]))
    """

    _parameter_constraints: dict = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "top_k": [None, Interval(Integral, 1, None, closed="left")],
        "learn_temperature": ["boolean"],
        "schedule": [None, StrOptions({"linear", "geometric"})],
        "initial_temperature": [Interval(Real, 0, None, closed="neither")],
        "anneal_iter": [Interval(Integral, 0, None, closed="left")],
        "activation": [None, StrOptions({"tanh", "sigmoid"})],
    }

    #: abilities (see skmoe.utils._abilities); _lacks lists the
    #: configurations without some of them
    provides = frozenset({"gradient", "smooth", "fixed_model", "statistics",
                          "linear", "atoms", "softmax_atoms", "compiled",
                          "short_runs"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("m_step", "statistics", "update", "log_weights",
                         "at_iteration")
    #: maximum L-BFGS steps of one gate update with an activation
    _max_ascent_iter = 5
    _compiled_topk = True

    def _topk_kernel(self):
        # the dense update is one damped Newton step (no settings)
        return _kernels._topk_steps.SOFTMAX, 0, 0.0, False

    def __init__(self, temperature=1.0, *, top_k=None, learn_temperature=False,
                 schedule=None, initial_temperature=10.0, anneal_iter=50,
                 activation=None):
        self.temperature = temperature
        self.top_k = top_k
        self.learn_temperature = learn_temperature
        self.schedule = schedule
        self.initial_temperature = initial_temperature
        self.anneal_iter = anneal_iter
        self.activation = activation

    # ---------------------------------------------------------------- parts
    def _parts(self, n_experts):
        """The logit map, temperature and selection of this configuration."""
        temperature = _Temperature(self)
        if self.activation is None:
            logits = _LinearLogits(temperature)
        else:
            logits = _ActivatedLogits(temperature, self.activation)
        selection = _TopK(self) if self._sparse(n_experts) else _Dense()
        return logits, temperature, selection

    def _temperature(self, params):
        """The temperature of ``params`` (stored when learned or scheduled)."""
        return _Temperature(self).value(params)

    def check_n_experts(self, n_experts, n_features):
        """Reject ``top_k > n_experts`` and a learned temperature with a schedule.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features.

        Raises
        ------
        ValueError
            If ``top_k`` exceeds ``n_experts``, or if ``learn_temperature=True``
            is combined with a ``schedule``.
        """
        if self.top_k is not None and self.top_k > n_experts:
            raise ValueError(
                f"top_k={self.top_k!r} must be at most n_experts={n_experts} "
                "(top_k=None is the dense gate)."
            )
        if self.learn_temperature and self.schedule is not None:
            raise ValueError(
                f"learn_temperature=True cannot be combined with "
                f"schedule={self.schedule!r}: a temperature is either learned or "
                "scheduled."
            )

    def _lacks(self, ability, n_experts):
        """Configurations without some of the class's abilities, by part.

        A top-K selection (``top_k < n_experts``) is neither smooth nor
        linear, and its annealed start (``anneal_iter > 0``) changes the model
        over EM iterations, as a temperature ``schedule`` does; an activation
        makes the logits non-linear; a learned temperature has no atoms of
        the Voronoi losses (the scale of the gate is in the temperature).
        """
        logits, temperature, selection = self._parts(
            n_experts if n_experts is not None else np.inf)
        return (temperature.lacks(ability)
                or self._lacks_topk(ability, n_experts)
                or selection.lacks(ability)
                or logits.lacks(ability, temperature.learned))

    # ------------------------------------------------------------- atoms
    voronoi_family = "softmax"

    def convention(self):
        """The last row at zero without an activation, else all rows free.

        Returns
        -------
        convention : str
            ``"last row at zero"`` or ``"all rows free"``.
        """
        return "last row at zero" if self.activation is None else "all rows free"

    def shift_invariant(self):
        """Tell whether a common shift of the rows cancels (no activation).

        Returns
        -------
        invariant : bool
            True without an activation.
        """
        return self.activation is None

    def atom_weights(self, gate_intercept):
        """Compute the atom weights ``exp(beta_0k)`` (ability ``"atoms"``).

        Parameters
        ----------
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts.

        Returns
        -------
        weights : ndarray of shape (n_experts,)
            The atom weights.
        """
        return np.exp(gate_intercept)

    def split_atoms(self, gate_intercept, counts):
        """Divide the atom weights: ``beta_0k - log(counts_k)`` (``"atoms"``).

        Parameters
        ----------
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts.
        counts : ndarray of int of shape (n_experts,)
            Divisor of every atom weight.

        Returns
        -------
        gate_intercept : ndarray of shape (n_experts,)
            The intercepts of the divided atom weights.
        """
        return gate_intercept - np.log(counts)

    # -------------------------------------------------------------- sizes
    def param_blocks(self, n_features, n_experts):
        """The gate rows, and the stored temperature and top-K smoothing.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        blocks : dict of str to tuple
            Field -> ``(shape, per_expert)``; the extra fields are present
            when learned or scheduled (the temperature) or while a top-K
            selection anneals (the smoothing).
        """
        blocks = super().param_blocks(n_features, n_experts)
        if _Temperature(self).stored:
            blocks["gate_extra.temperature"] = ((1,), False)
        if self.top_k is not None:
            blocks["gate_extra.top_k_smoothing"] = ((1,), False)
        return blocks

    def n_free_params(self, n_features, n_experts):
        """Number of free gate parameters.

        ``(n_experts - 1) * (n_features + 1)`` without an activation (a learned
        temperature replaces the scale it normalises away); ``n_experts *
        (n_features + 1)``, plus one for a learned temperature, with an
        activation; 0 for a single expert.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        n_params : int
            The number of parameters.
        """
        return self._parts(n_experts)[0].n_free(n_features, n_experts)

    # --------------------------------------------------------------- init
    def init(self, X, sample_weight, n_experts, rng):
        """Random hyperplanes through the weighted mean of ``X``.

        Slopes are standard normal divided by the weighted standard deviation
        of each feature, so the starting partition does not depend on the
        units of ``X``, on the row order or on the number of rows. A schedule
        starts at ``initial_temperature``; a top-K selection at its largest
        smoothing.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        sample_weight : ndarray of shape (n_samples,)
            Sample weights.
        n_experts : int
            Number of experts.
        rng : numpy.random.RandomState
            Random generator of the estimator.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` (and ``gate_extra`` when the
            temperature is learned or scheduled).
        """
        logits, temperature, selection = self._parts(n_experts)
        mean, std = _weighted_moments(X, sample_weight)
        coef = logits.start_rows(rng.standard_normal((n_experts, X.shape[1])) / std)
        intercept = -(coef @ mean)
        fields = logits.with_temperature(
            {"gate_coef": coef, "gate_intercept": intercept}, temperature.start())
        start = selection.start_extra()
        if start:
            fields["gate_extra"] = {**fields.get("gate_extra", {}), **start}
        return fields

    def start_extra(self, n_experts):
        """The starting temperature of a schedule and smoothing of a top-K.

        Parameters
        ----------
        n_experts : int
            Number of experts.

        Returns
        -------
        extra : dict
            ``"temperature"`` (``initial_temperature`` with a schedule) when
            the temperature is scheduled, ``"top_k_smoothing"`` for an
            annealed top-K selection; empty otherwise. A learned temperature
            starts at ``temperature``, its value when none is stored.
        """
        _, temperature, selection = self._parts(n_experts)
        extra = dict(selection.start_extra())
        if temperature.schedule is not None:
            extra["temperature"] = np.array([temperature.start()])
        return extra

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate (see :meth:`Gating.random_params`).

        Without an activation the last row is zero (the reference); with an
        activation all rows are drawn. The true temperature is
        ``temperature`` (the end of a schedule).

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Norm of the gate slopes.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields in the family's normalisation.
        """
        logits, temperature, _ = self._parts(n_experts)
        fields = logits.draw(self, n_features, n_experts, gate_scale, rng)
        return logits.with_temperature(fields, temperature.target)

    # ------------------------------------------------------------ weights
    def log_weights(self, X, params):
        """Log softmax of the (activated, tempered) logits, top-K if asked.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_samples, n_experts)
            Log gating weights; ``-inf`` where a gate is exactly zero. Logits
            beyond float64's range (``+-inf``) give the limit of the weights:
            the largest logits share the weight equally.
        """
        logits, temperature, selection = self._parts(params.n_experts)
        if (self.activation is None and not selection.sparse
                and temperature.value(params) == 1.0):
            # the compiled EM's kernel (logits and log-softmax in one pass):
            # one kernel fewer to compile on a first run
            LW = np.empty((X.shape[0], params.n_experts))
            _kernels._softmax_steps.softmax_log_weights_into(
                as_kernel_array(X), as_kernel_array(params.gate_coef),
                as_kernel_array(params.gate_intercept), LW)
            return LW
        return selection.log_weights(logits.logits(X, params), params)

    def linear_logits(self, params):
        """The tempered logits of the normalised gate (ability ``"linear"``).

        The gate objective depends on ``theta / tau`` only (see Notes):
        this is the point at which :meth:`statistics` are computed and from
        which :meth:`update` steps (last row zero).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        coef : ndarray of shape (n_experts, n_features)
            The normalised ``gate_coef / tau`` (last row zero).
        intercept : ndarray of shape (n_experts,)
            The normalised ``gate_intercept / tau`` (last entry zero).
        """
        return self._parts(params.n_experts)[0].to_logits(self, params)

    # ----------------------------------------------------- parametrisation
    def normalize(self, params):
        """Gate fields in the family's identifiability normalisation.

        Without an activation: last expert's row zero (and, for a learned
        temperature, centred rows of unit norm with the scale in the
        temperature). With an activation: unchanged (zeros for one expert).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised ``gate_coef`` and ``gate_intercept`` (and
            ``gate_extra`` for a learned temperature).
        """
        return self._parts(params.n_experts)[0].normalize(self, params)

    def pack(self, params):
        """Free gate parameters as one vector.

        Without an activation: rows ``0 .. K-2`` of the shift-normalised
        ``[gate_coef | gate_intercept]`` (divided by the temperature when it is
        learned: the scaled gate is the free parameter). With an activation:
        all ``K`` rows, then ``log(temperature)`` if it is learned.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """
        return self._parts(params.n_experts)[0].pack(self, params)

    def unpack(self, theta, params):
        """Gate fields from a free-parameter vector; inverse of :meth:`pack`.

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes (and any fixed values).

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept`` (and ``gate_extra`` when the
            temperature is learned).
        """
        return self._parts(params.n_experts)[0].unpack(self, theta, params)

    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        With tempered logits ``L``, the selection gives the gradient in
        ``L`` (``G - g sum_k G_k`` for the dense gate) and the logit map
        carries it to the free parameters (through the temperature, the
        activation and, for linear logits, without the fixed last row).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters (in the family's normalisation).
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights; zero where the gate is zero.

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        """
        logits, _, selection = self._parts(params.n_experts)
        L = as_kernel_array(logits.logits(X, params))
        return logits.grad(X, params, L, selection.dlogits(L, G, params))

    # ------------------------------------------------------------- update
    def m_step(self, X, R, params, *, likelihood=None):
        """Gate update of (generalised) EM; see the class Notes.

        One of three updates, by the parts: the exact top-K selection takes
        the ECME step of :func:`~skmoe.gating._ascent.sparse_gate_m_step`;
        linear logits with all experts take one damped Newton step from
        :meth:`statistics` (:meth:`update`); an activation or an annealing
        top-K selection (a non-concave objective) takes monotone L-BFGS
        steps (:func:`~skmoe.gating._ascent.maximize_monotone`).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).
        likelihood : GateLikelihood, default=None
            The observed log-likelihood as a function of the gate; used by
            top-K gates (an ECME step).

        Returns
        -------
        fields : dict
            New ``gate_coef`` and ``gate_intercept`` (and ``gate_extra``).
        """
        K = params.n_experts
        logits, temperature, selection = self._parts(K)
        if (selection.sparse and likelihood is not None
                and selection.compiled(logits, temperature)):
            # the kernel of the compiled EM path: the ECME step of the exact
            # selection, monotone L-BFGS while it anneals
            return self._topk_m_step(
                X, R, params, likelihood,
                selection.kernel_temperature(temperature, params))
        if selection.exact(params):
            dense = clone(self).set_params(top_k=None)
            return sparse_gate_m_step(self, dense, X, R, params, likelihood)
        if logits.shift_invariant and not selection.sparse:
            if K == 1:  # no free parameter: the start, in its normalisation
                return self.fields_from_newton(*self.linear_logits(params), params)
            if not use_threads(X.shape[0]):
                # one damped Newton step from the statistics (see update), by
                # the kernel of the compiled EM path
                coef, intercept = self.linear_logits(params)
                coef, intercept = coef.copy(), intercept.copy()
                none = np.empty((0, K))
                _kernels._softmax_steps.softmax_newton_ascent(
                    X, as_kernel_array(R), coef, intercept, 1, none, none, False)
                return self.fields_from_newton(coef, intercept, params)
            # one damped Newton step from the statistics (see update)
            step = self.update(self.statistics(X, R, params), params)
            objective = softmax_objective(X.shape[0])
            gate = step.line_search(lambda c, i: objective(X, c, i, R, False)[0])
            return step.fields(gate)
        if K == 1:
            return self.normalize(params)
        # activation or smoothed top-K selection: not concave, L-BFGS ascent
        mask = R > 0

        def fun(theta):
            p = params.replace(**self.unpack(theta, params))
            log_w = self.log_weights(X, p)
            return float(np.sum(R[mask] * log_w[mask])), self.grad(X, p, R)

        # gradient entries are sums of R_ik times O(1) factors: 1e-10 of the
        # total weight is far below any useful gradient and above round-off
        theta, _ = maximize_monotone(fun, self.pack(params),
                                     max_iter=self._max_ascent_iter,
                                     grad_tol=1e-10 * R.sum())
        return self.unpack(theta, params)

    def statistics(self, X, R, params):
        """Newton terms of the EM gate objective at :meth:`linear_logits`.

        Ability ``"statistics"`` (dense gate without activation): the value,
        gradient and negative Hessian of ``sum_ik R_ik log g_k(x_i)`` in the
        free rows of the scaled gate, sums over the samples computed by a
        Numba kernel.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Model parameters.

        Returns
        -------
        stats : NewtonTerms
            The terms and the number of samples.
        """
        coef, intercept = self.linear_logits(params)
        value, grad, neg_hess = softmax_objective(X.shape[0])(
            X, coef, intercept, R, True)
        return NewtonTerms.at_gate(value, grad, neg_hess, X.shape[0], coef,
                                   intercept)

    def update(self, stats, params):
        """One damped Newton step from :meth:`statistics`, before its test.

        Parameters
        ----------
        stats : NewtonTerms
            Statistics at :meth:`linear_logits` (possibly averaged over
            batches, as in online EM).
        params : MoEParams
            Model parameters (their linear logits are the start).

        Returns
        -------
        step : NewtonProposal
            The step; its ``fields`` method gives the gate fields
            (:meth:`fields_from_newton`).
        """
        return NewtonProposal(
            *self.linear_logits(params), stats,
            objective_noise(stats.value, stats.n_samples),
            lambda coef, intercept: self.fields_from_newton(coef, intercept,
                                                            params))

    def compiled_program(self, X, params):
        """The gate's state and steps for the compiled EM path.

        Ability ``"compiled"`` (linear logits): for the dense gate the logits' rows of
        :meth:`linear_logits`, for a top-K selection the free rows of
        :meth:`pack` (its program's ``needs_likelihood`` is True: its ECME
        step sees the observed likelihood), updated by the kernel of
        :meth:`m_step`; see :meth:`Gating.compiled_program`.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            The starting parameters.

        Returns
        -------
        program : object
            The program.
        """
        if self._sparse(params.n_experts):
            temperature = self._parts(params.n_experts)[1]
            if temperature.learned:
                return _LearnedTopKProgram(self, X, params)
            return TopKProgram(self, X, params, temperature)
        return _SoftmaxProgram(self, X, params)

    def fields_from_newton(self, coef, intercept, params):
        """Gate fields of a gate in the coordinates of :meth:`linear_logits`.

        Parameters
        ----------
        coef : ndarray of shape (n_experts, n_features)
            Scaled slopes, last row zero.
        intercept : ndarray of shape (n_experts,)
            Scaled intercepts, last entry zero.
        params : MoEParams
            Parameters before the update (their temperature).

        Returns
        -------
        fields : dict
            ``gate_coef`` and ``gate_intercept`` times the temperature; with a
            learned temperature, the gate renormalised with its new
            temperature in ``gate_extra``.
        """
        return self._parts(params.n_experts)[0].from_logits(coef, intercept, params)

    # ----------------------------------------------------------- schedule
    def at_iteration(self, params, iteration, max_iter):
        """One step of the annealing schedules (nothing without one).

        The schedules' state is in ``params.gate_extra`` (the current
        temperature, the current top-K smoothing), so a warm start continues
        them where they stopped; ``max_iter`` sets the step size (a run
        anneals over ``min(anneal_iter, max_iter // 2)`` iterations) and
        ``iteration`` is not needed.

        Parameters
        ----------
        params : MoEParams
            Parameters after the M-step.
        iteration : int
            EM iteration number of the current run, from 1.
        max_iter : int
            Maximum number of EM iterations of the run.

        Returns
        -------
        fields : dict
            The new ``gate_extra`` while the temperature moves, else empty.
        """
        _, temperature, selection = self._parts(params.n_experts)
        n_steps = anneal_steps(self.anneal_iter, max_iter)
        extra = dict(params.gate_extra)
        changed = selection.step(extra, n_steps)
        if temperature.schedule is not None:
            tau = temperature.value(params)
            new = temperature.step(tau, n_steps)
            if new != tau:
                extra["temperature"] = np.array([new])
                changed = True
        return {"gate_extra": extra} if changed else {}
