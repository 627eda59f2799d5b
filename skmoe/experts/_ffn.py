"""Two-layer feed-forward experts h(x) = a * act(b^T x + c) + e."""

import numpy as np

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import StrOptions
from ._base import Experts

#: the activations, by the name of their code in the kernel module
_ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu")


class _FFNProgram:
    """The compiled EM state of FFN experts: their rows.

    The step is the kernel of :meth:`FFNExperts.m_step`.
    """

    def __init__(self, experts, X, y, expert_params):
        self.X, self.y = as_kernel_array(X), y
        self.P = as_kernel_array(expert_params).copy()
        experts._check_frozen(self.P)
        self.code = experts._code()
        self.free = experts._free_index(X.shape[1])
        self.settings = (experts._max_gn_iter, experts._max_damping_tries,
                         experts._lambda0, experts._step_tol)

    def means(self, MU):
        _kernels._ffn_steps.ffn_means_into(self.X, self.P, self.code, MU)

    def step(self, W, MU):
        return _kernels._ffn_steps.ffn_lm_step(
            self.X, self.y, W, self.P, self.code, self.free, *self.settings, MU)

    def glm_step(self, law, rows, R, MU, control):
        glm = _kernels._glm
        return glm.glm_irls(law, glm.FFN, self.X, *rows, R, self.P, False,
                            self.code, self.free, *self.settings, MU, *control)

    def params(self):
        return self.P.copy()


class FFNExperts(Experts):
    """Two-layer feed-forward experts :math:`a \\sigma(b^\\top x + c) + e`.

    Each expert is one hidden unit: input weights :math:`b \\in \\mathbb{R}^d`,
    bias :math:`c`, output weight :math:`a` and output intercept :math:`e`,
    with an activation :math:`\\sigma` among sigmoid, tanh, ReLU and GELU. They
    are the strongly identifiable experts of the convergence-rate papers
    [1]_ [2]_, whose parameters converge at :math:`n^{-1/2}` (exactly
    specified) or :math:`n^{-1/4}` (over-specified) instead of the much slower
    rates of linear experts.

    Parameters
    ----------
    activation : {"tanh", "sigmoid", "relu", "gelu"}, default="tanh"
        Activation :math:`\\sigma`: ``tanh``; ``sigmoid`` :math:`1 / (1 +
        e^{-z})`; ``relu`` :math:`\\max(z, 0)`; ``gelu`` :math:`z \\Phi(z)`
        with :math:`\\Phi` the standard normal distribution function.
    fit_intercept : bool, default=True
        Whether each expert has the output intercept :math:`e`. When False the
        intercept column of ``expert_params`` is held at zero and the experts
        are exactly the papers' :math:`a \\sigma(b^\\top x + c)`.
    fit_bias : bool, default=True
        Whether each expert has the hidden bias :math:`c`. When False the bias
        column of ``expert_params`` is held at zero; with
        ``fit_intercept=False`` too the experts are the routed experts
        :math:`\\eta_2 \\mathrm{ReLU}(\\eta_1^\\top x)` of the DeepSeekMoE
        paper [2]_.

    Notes
    -----
    **Layout.** ``expert_params`` has one row per expert, ``[a, b_1, ...,
    b_d, c, e]`` (``n_features + 3`` entries); :meth:`param_blocks` names the
    blocks ``"output_weight"`` (:math:`a`), ``"coef"`` (:math:`b`), ``"bias"``
    (:math:`c`) and ``"intercept"`` (:math:`e`). A column that is not fitted
    (``fit_bias=False``, ``fit_intercept=False``) is held at zero: it is not
    packed for the gradient solvers, the update leaves it at zero, and a
    start whose frozen column is not zero is rejected with a ``ValueError``
    instead of being kept fixed at its value.

    **EM update (generalised EM).** There is no closed form: the update of
    expert :math:`k` decreases its weighted squared error :math:`\\sum_i
    R_{ik} (y_i - h(x_i; \\eta_k))^2` by at most three Levenberg-Marquardt
    (damped Gauss-Newton) steps from the current parameters. The weighted
    Gauss-Newton matrices of all experts are accumulated in one pass over the
    data by a Numba kernel; a step is accepted only if it does not increase
    the squared error (otherwise the damping grows tenfold and the step is
    retried, and after ten failures the expert keeps its parameters; a step
    whose predicted decrease is below the round-off of the sum, ``1e-13`` of
    the squared error, is not tried: the expert has converged). For any
    fixed variances this never decreases the EM objective, so the
    log-likelihood never decreases from one EM iteration to the next.
    Starting parameters (:meth:`init`): the best of six candidate units per
    expert (three random input directions, drawn from the estimator's
    generator, with both signs), each centred on the expert's weighted mean
    of ``x``, with :math:`a, e` fitted by weighted least squares and one
    update as above. The start depends on the data only through weighted
    sums, so integer sample weights are equivalent to repeated rows.

    **Local maxima.** An FFN expert is flexible enough to imitate the gate: fed
    a blend of two regimes, it can fit the jump between them with a steep
    unit, and EM then stalls at a poor local maximum where the gate does
    nothing. The random soft partition of ``init_params="random"`` invites
    this; ``init_params="kmeans"`` (clusters of ``(x, y)``) and ``n_init``
    restarts avoid it in most cases, and the default ``"auto"`` has such
    clusters among its candidates.

    **Symmetries.** Different parameters give the same expert:

    - ``tanh`` is odd: :math:`(a, b, c, e) \\sim (-a, -b, -c, e)`;
    - ``sigmoid`` satisfies :math:`\\sigma(-z) = 1 - \\sigma(z)`:
      :math:`(a, b, c, e) \\sim (-a, -b, -c, e + a)`;
    - ``relu`` is positively homogeneous: :math:`(a, b, c, e) \\sim (s a, b /
      s, c / s, e)` for every :math:`s > 0` (so one parameter per expert is
      redundant, which :meth:`n_free_params` accounts for);
    - ``gelu`` has none of these.

    :meth:`canonicalize` maps parameters to one representative (:math:`a \\ge
    0` for tanh and sigmoid; :math:`\\|(b, c)\\| = 1` for ReLU), and the
    metrics of :mod:`skmoe.metrics` compare canonical parameters, so a fit
    that found a sign-flipped expert has zero error. ReLU experts are not
    twice differentiable at the kink (the derivative there is taken as 0).

    References
    ----------
    .. [1] Nguyen, H., Ho, N. and Rinaldo, A. (2025). Convergence rates for
       softmax gating mixture of experts. arXiv:2503.03213.
    .. [2] Nguyen, H., Doan, T., Pham, Q., Bui, N., Ho, N. and Rinaldo, A.
       (2025). On DeepSeekMoE: statistical benefits of shared experts and
       normalized sigmoid gating. arXiv:2505.10860.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import FFNExperts
    >>> experts = FFNExperts(activation="relu")
    >>> # 2 * relu(x1 - x2 + 0.5) + 1 at x = (1, 0)
    >>> experts.predict(np.array([[1.0, 0.0]]),
    ...                 np.array([[2.0, 1.0, -1.0, 0.5, 1.0]]))
    array([[4.]])
    >>> FFNExperts(activation="tanh").canonicalize(
    ...     np.array([[-2.0, 1.0, -1.0, 0.5, 1.0]])).tolist()
    [[2.0, -1.0, 1.0, -0.5, 1.0]]
    """

    #: abilities (see skmoe.utils._abilities): the update is
    #: Levenberg-Marquardt steps on the data, not a function of statistics
    provides = frozenset({"gradient", "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("m_step", "predict")
    strongly_identifiable = True

    _parameter_constraints: dict = {
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "fit_intercept": ["boolean"],
        "fit_bias": ["boolean"],
    }

    #: largest number of accepted Levenberg-Marquardt steps per EM update
    _max_gn_iter = 3
    #: damping increases tried before an expert keeps its parameters
    _max_damping_tries = 10
    #: starting Marquardt parameter (relative to the Gauss-Newton diagonal)
    _lambda0 = 1e-3
    #: relative step size below which an expert's update has converged
    _step_tol = 1e-10
    #: random input directions tried per expert by ``init`` (each with both
    #: signs)
    _n_init_directions = 3

    def __init__(self, activation="tanh", fit_intercept=True, fit_bias=True):
        self.activation = activation
        self.fit_intercept = fit_intercept
        self.fit_bias = fit_bias

    def _code(self):
        # SIGMOID, TANH, RELU or GELU of the kernel module
        return getattr(_kernels._ffn, self.activation.upper())

    def _free_columns(self, n_features):
        free = np.ones(n_features + 3, dtype=bool)
        free[-1] = bool(self.fit_intercept)
        free[-2] = bool(self.fit_bias)
        return free

    def _free_index(self, n_features):
        """The fitted columns of a row, as int64 indices (for the kernels)."""
        return np.flatnonzero(self._free_columns(n_features)).astype(np.int64)

    def _check_frozen(self, expert_params):
        """Reject parameters whose frozen columns are not zero."""
        P = np.asarray(expert_params)
        names = {P.shape[1] - 2: ("bias c", "fit_bias"),
                 P.shape[1] - 1: ("output intercept e", "fit_intercept")}
        for col in np.flatnonzero(~self._free_columns(P.shape[1] - 3)):
            if np.any(P[:, col]):
                what, flag = names[col]
                raise ValueError(
                    f"FFNExperts({flag}=False) holds the {what} at 0 (column "
                    f"{col} of expert_params); got {P[:, col].tolist()}. Pass "
                    f"parameters with that column at zero, or use {flag}=True."
                )

    def n_params(self, n_features):
        """Row length ``n_features + 3``: ``a``, ``b``, ``c``, ``e``.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            The number of parameters.
        """
        return n_features + 3

    def n_free_params(self, n_features):
        """Free parameters per expert, for BIC and AIC.

        ``n_features + 1`` (``a``, ``b``), plus one with the hidden bias
        ``c``, plus one with the output intercept ``e``, minus one for ReLU
        (its positive homogeneity makes one parameter redundant).

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            The number of parameters.
        """
        return (n_features + 1 + int(bool(self.fit_bias))
                + int(bool(self.fit_intercept)) - int(self.activation == "relu"))

    def param_blocks(self, n_features):
        """Name the blocks ``output_weight``, ``coef``, ``bias`` and ``intercept``.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        blocks : dict of str to slice
            Block name to the slice of an expert's parameter row.
        """
        d = n_features
        return {
            "output_weight": slice(0, 1),
            "coef": slice(1, d + 1),
            "bias": slice(d + 1, d + 2),
            "intercept": slice(d + 2, d + 3),
        }

    def predict(self, X, expert_params):
        """Expert means ``a * act(X @ b + c) + e``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        expert_params : ndarray of shape (n_experts, n_features + 3)
            Parameters of every expert, one row per expert.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts)
            Expert means ``h(x_i; eta_k)``.
        """
        return _kernels._ffn.ffn_predict(
            as_kernel_array(X), as_kernel_array(expert_params), self._code()
        )

    def pack(self, expert_params):
        """Free parameters: every entry except the columns held at zero.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            Parameters of every expert, one row per expert.

        Returns
        -------
        theta : ndarray
            The free parameters, row by row.
        """
        P = np.asarray(expert_params, dtype=np.float64)
        self._check_frozen(P)
        return P[:, self._free_columns(P.shape[1] - 3)].ravel().copy()

    def unpack(self, theta, n_experts, n_features):
        """Expert parameters from the free vector (frozen columns at zero).

        Parameters
        ----------
        theta : ndarray
            The free parameters.
        n_experts : int
            Number of experts.
        n_features : int
            Number of input features.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            A new array.
        """
        theta = np.asarray(theta, dtype=np.float64)
        free = self._free_columns(n_features)
        out = np.zeros((n_experts, n_features + 3))
        out[:, free] = theta.reshape(n_experts, int(free.sum()))
        return out

    def grad(self, X, expert_params, G):
        """Gradient of ``sum_ik G_ik h(x_i; eta_k)`` (one Numba pass).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        expert_params : ndarray of shape (n_experts, n_features + 3)
            Parameters of every expert, one row per expert.
        G : ndarray of shape (n_samples, n_experts)
            Weights of the expert means.

        Returns
        -------
        grad : ndarray
            Gradient in the layout of :meth:`pack`.
        """
        full = _kernels._ffn.ffn_vjp(
            as_kernel_array(X),
            as_kernel_array(expert_params),
            as_kernel_array(G),
            self._code(),
        )
        return full[:, self._free_columns(X.shape[1])].ravel()

    def m_step(self, X, y, R, expert_params):
        """Levenberg-Marquardt steps on each expert's weighted squared error.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities ``sample_weight[i] * r_ik``.
        expert_params : ndarray of shape (n_experts, n_features + 3)
            Current parameters (the starting point).

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            A new array; no expert's weighted squared error is larger than at
            the start.
        """
        P = as_kernel_array(expert_params).copy()
        self._check_frozen(P)
        # the kernel of the compiled EM path: one implementation
        _kernels._ffn_steps.ffn_lm_update(
            as_kernel_array(X), as_kernel_array(y), as_kernel_array(R), P,
            self._code(), self._free_index(X.shape[1]), self._max_gn_iter,
            self._max_damping_tries, self._lambda0, self._step_tol)
        return P

    def compiled_program(self, X, y, expert_params):
        """The experts' state and steps for the compiled EM path.

        Ability ``"compiled"``: the rows, updated by the Levenberg-Marquardt
        kernel of :meth:`m_step`; see :meth:`Experts.compiled_program`.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Targets.
        expert_params : ndarray of shape (n_experts, n_features + 3)
            The starting rows (frozen columns at zero).

        Returns
        -------
        program : object
            The program.
        """
        return _FFNProgram(self, X, y, expert_params)

    def init(self, X, y, R, rng):
        """Best of a few random hidden units per expert.

        For every expert, ``_n_init_directions`` random input directions and
        their opposites are tried (a ReLU or GELU unit cannot turn its
        direction around by small steps, so both signs are needed): each
        candidate unit is centred on the expert's weighted mean of ``x`` (it
        passes through the origin with ``fit_bias=False``), its ``a`` and
        ``e`` are fitted by weighted least squares, and it gets one
        :meth:`m_step`; the candidate with the smallest weighted squared
        error is kept.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted starting responsibilities (their row sums are the sample
            weights).
        rng : numpy.random.RandomState
            Random generator of the estimator.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            Starting parameters.
        """
        X = as_kernel_array(X)
        y = as_kernel_array(y)
        R = as_kernel_array(R)
        n, d = X.shape
        K = R.shape[1]
        w = R.sum(axis=1)
        total = w.sum()
        mean = (w @ X) / total
        std = np.sqrt(np.maximum(w @ (X - mean) ** 2 / total, 0.0))
        std = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
        # candidate input weights: (K, C, d), C = 2 * directions (both signs);
        # z = b^T (x - centre) has a standard deviation of order one
        b = rng.standard_normal((K, self._n_init_directions, d))
        b /= std * np.sqrt(d)
        b = np.concatenate([b, -b], axis=1)
        C = b.shape[1]
        sums = R.sum(axis=0)
        safe = np.where(sums > 0, sums, 1.0)[:, None]
        centre = np.where((sums > 0)[:, None], (R.T @ X) / safe, mean)
        P = np.zeros((K, C, d + 3))
        P[..., 0] = 1.0
        P[..., 1:d + 1] = b
        if self.fit_bias:  # centred on the expert's mean; else through 0
            P[..., d + 1] = -np.einsum("kcj,kj->kc", b, centre)
        P = P.reshape(K * C, d + 3)
        RC = as_kernel_array(np.repeat(R, C, axis=1))  # column k * C + c
        S = self.predict(X, P)  # act(b^T x + c), as a = 1 and e = 0
        for j in range(K * C):
            r = RC[:, j]
            F = S[:, j:j + 1]
            if self.fit_intercept:
                F = np.column_stack([F, np.ones(n)])
            coef = np.linalg.lstsq(F.T @ (F * r[:, None]), F.T @ (r * y),
                                   rcond=None)[0]
            P[j, 0] = coef[0]
            if self.fit_intercept:
                P[j, d + 2] = coef[1]
        P = self.m_step(X, y, RC, P)
        sse = _kernels._ffn.ffn_nls(X, y, RC, P, self._code(), False)[0].reshape(K, C)
        best = np.argmin(sse, axis=1)
        return np.ascontiguousarray(P.reshape(K, C, d + 3)[np.arange(K), best])

    def canonicalize(self, expert_params):
        """Canonical representatives under the activation's symmetries.

        ``tanh``: rows with ``a < 0`` become ``(-a, -b, -c, e)``. ``sigmoid``:
        they become ``(-a, -b, -c, e + a)``, only with ``fit_intercept=True``
        (without the intercept the flipped row is not in the family, so rows
        are left as they are). ``relu``: rows are rescaled to ``(s a, b / s,
        c / s, e)`` with ``s = ||(b, c)||`` (unit input weights). ``gelu``:
        unchanged. Frozen columns stay at zero.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            Parameters of every expert, one row per expert.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            A new array describing the same experts.
        """
        P = np.array(expert_params, dtype=np.float64)
        if self.activation == "tanh" or (self.activation == "sigmoid"
                                         and self.fit_intercept):
            flip = P[:, 0] < 0
            if self.activation == "sigmoid":
                P[flip, -1] += P[flip, 0]
            P[flip, :-1] *= -1.0
        elif self.activation == "relu":
            s = np.linalg.norm(P[:, 1:-1], axis=1)
            pos = s > 0
            P[pos, 0] *= s[pos]
            P[pos, 1:-1] /= s[pos, None]
        return P

    def random_params(self, n_features, n_experts, rng):
        """Random true experts with clearly nonlinear, separated units.

        ``|a|`` uniform on ``[1, 2]`` with a random sign, ``b`` a random
        direction of norm uniform on ``[1, 2]`` (so that ``b^T x`` spans the
        nonlinear range of the activation for standardised inputs), ``c``
        normal with standard deviation 0.5 (zero with ``fit_bias=False``),
        ``e`` spread evenly over ``[-2, 2]`` in random order (zero without
        intercept); returned canonical.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_features + 3)
            A new array.
        """
        K, d = n_experts, n_features
        a = rng.uniform(1.0, 2.0, K) * np.where(rng.random_sample(K) < 0.5, -1, 1)
        direction = rng.standard_normal((K, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        b = direction * rng.uniform(1.0, 2.0, K)[:, None]
        c = 0.5 * rng.standard_normal(K)
        if not self.fit_bias:
            c = np.zeros(K)
        spread = np.linspace(-2.0, 2.0, K) if K > 1 else np.zeros(1)
        e = rng.permutation(spread) if self.fit_intercept else np.zeros(K)
        return self.canonicalize(np.column_stack([a, b, c, e]))
