"""Data drawn from a known mixture of experts (the truth returned as MoEParams)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ._params import MoEParams
from ._real_data import (
    load_co2,
    load_mcycle,
    load_mehta,
    load_npreg,
    load_patent,
    load_tonedata,
)
from .experts import Experts, resolve_experts
from .gating import Gating, resolve_gating

__all__ = [
    "add_outliers",
    "load_co2",
    "load_mcycle",
    "load_mehta",
    "load_npreg",
    "load_patent",
    "load_tonedata",
    "make_moe_regression",
    "make_orthogonal_moe_regression",
    "sample_moe_regression",
]


def _check_positive_int(name, value, minimum=1):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _draw_X(n_samples, n_features, x_distribution, rng):
    if x_distribution == "normal":
        return rng.standard_normal((n_samples, n_features))
    if x_distribution == "uniform":
        return rng.uniform(-3.0, 3.0, size=(n_samples, n_features))
    raise ValueError(
        f"x_distribution must be 'normal' or 'uniform'; got {x_distribution!r}."
    )


def _check_objective(objective):
    if objective not in ("likelihood", "least_squares"):
        raise ValueError(
            "objective must be 'likelihood' or 'least_squares'; got "
            f"{objective!r}."
        )


def _check_trials(n_trials, n_samples):
    """``n_trials`` as a float array of shape (n_samples,), or a ValueError."""
    trials = np.asarray(n_trials)
    if trials.ndim == 0:
        trials = np.full(n_samples, trials)
    ok = (trials.shape == (n_samples,) and np.issubdtype(trials.dtype, np.number)
          and np.all(np.isfinite(trials)) and np.all(trials >= 1)
          and np.all(trials == np.floor(trials)))
    if not ok:
        raise ValueError(
            "n_trials must be a positive whole number or an array of them of "
            f"shape ({n_samples},); got {n_trials!r}."
        )
    return trials.astype(np.float64)


def sample_moe_regression(params, n_samples, *, x_distribution="normal",
                          objective="likelihood", n_trials=None,
                          random_state=None):
    """Draw ``(X, y)`` from a given mixture of experts.

    Parameters
    ----------
    params : MoEParams
        The true model.
    n_samples : int
        Number of rows.
    x_distribution : {"normal", "uniform"}, default="normal"
        Inputs are standard normal, or uniform on ``[-3, 3]`` per feature (the
        design of the DeepSeekMoE paper's experiments).
    objective : {"likelihood", "least_squares"}, default="likelihood"
        The setting the data are drawn for. ``"likelihood"``: from the
        Gaussian mixture :math:`p(y \\mid x)` (an expert is drawn from the
        gate, then its Gaussian noise). ``"least_squares"``: the regression
        model of the convergence-rate papers, :math:`y = f(x) + \\varepsilon`
        with :math:`f(x) = \\sum_k g_k(x) h(x; \\eta_k)` the mixture mean and
        Gaussian :math:`\\varepsilon` of variance ``params.variance[0]`` (the
        variances must then all be equal; Gaussian models only).
    n_trials : int or array-like of shape (n_samples,), default=None
        Numbers of trials of a binomial model (``params.noise`` binomial):
        ``y`` is then the proportion of successes (None: one trial each).
        The other noise models do not use it.
    random_state : int, RandomState instance or None, default=None
        Controls the inputs, the expert labels and the noise. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Target values.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression, sample_moe_regression
    >>> _, _, truth = make_moe_regression(10, 2, 3, random_state=0)
    >>> X, y = sample_moe_regression(truth, 100, random_state=1)
    >>> X.shape, y.shape
    ((100, 2), (100,))
    """
    if not isinstance(params, MoEParams):
        raise ValueError(f"params must be an MoEParams; got {type(params).__name__}.")
    n_samples = _check_positive_int("n_samples", n_samples)
    _check_objective(objective)
    rng = check_random_state(random_state)
    X = _draw_X(n_samples, params.n_features, x_distribution, rng)
    trials = None if n_trials is None else _check_trials(n_trials, n_samples)
    if objective == "least_squares":
        if params.noise.lacks("gaussian") is not None:
            raise ValueError(
                "objective='least_squares' draws Gaussian noise; got params "
                f"with noise={params.noise.name!r}."
            )
        if not np.all(params.variance == params.variance[0]):
            raise ValueError(
                "objective='least_squares' draws y = f(x) + noise with one "
                "noise variance: params.variance must have equal entries; got "
                f"{params.variance!r}."
            )
        noise = rng.standard_normal(n_samples)
        return X, params.predict(X) + np.sqrt(params.variance[0]) * noise
    y = params.sample_y(X, random_state=rng, sample_weight=trials)
    return X, y


def _check_noise_and_gate_scale(noise, gate_scale):
    if not (isinstance(noise, Real) and noise > 0):
        raise ValueError(f"noise must be a positive float; got {noise!r}.")
    if not (isinstance(gate_scale, Real) and gate_scale >= 0):
        raise ValueError(
            f"gate_scale must be a non-negative float; got {gate_scale!r}."
        )


def make_moe_regression(n_samples=1000, n_features=2, n_experts=3, *,
                        gating="softmax", experts="linear", activation=None,
                        noise=0.3, gate_scale=3.0, x_distribution="normal",
                        objective="likelihood", n_shared_experts=0,
                        shared_weight=0.5, shared_experts=None,
                        noise_df=None, response="gaussian", n_trials=1,
                        n_targets=None, random_state=None):
    """Generate regression data from a random mixture of experts.

    The true model is drawn first, then ``(X, y)`` from it:

    - the gate by the gating family's :meth:`~skmoe.Gating.random_params`:
      for the softmax, slopes are random directions of norm ``gate_scale``
      (the last expert's row is zero, the identifiability normalisation used
      by the estimator) and intercepts standard normal times 0.5; every family
      draws its truth in its own normalisation (all rows for the normalized
      sigmoid, both levels for the hierarchical softmax, the temperature for
      learned or scheduled temperatures);
    - expert parameters from the family's ``random_params``: for linear and
      polynomial experts, coefficients standard normal and intercepts spread
      evenly over ``[-2, 2]`` in random order (well separated experts); for
      FFN experts see :meth:`skmoe.FFNExperts.random_params`;
    - shared experts (``n_shared_experts > 0``): drawn by their family's
      ``random_params`` like the routed experts, with the intercepts of all
      ``n_experts + n_shared_experts`` components spread together over
      ``[-2, 2]``, and weights :math:`\\omega` from a Dirichlet(2, ..., 2)
      distribution (1 for a single shared expert), mixed with the routed part
      by ``shared_weight``;
    - all noise variances ``noise ** 2`` (squared scales of a Student-t
      noise with ``noise_df`` degrees of freedom when ``noise_df`` is given);
    - with ``response="poisson"`` or ``"binomial"``, no noise variance: the
      experts' outputs are the linear predictors of Poisson counts (log
      means) or binomial proportions of ``n_trials`` trials (log-odds), the
      truth has that noise model and ``y`` is drawn from its law;
    - with ``n_targets=m``, several responses sharing the gate: each expert
      has one row of expert parameters per response, drawn by the family's
      ``random_params`` response by response (the intercepts of every
      response spread over ``[-2, 2]``), and a full covariance matrix
      :math:`\\Sigma_k = \\mathrm{noise}^2 C_k` with :math:`C_k` the
      correlation matrix of :math:`A A^\\top + (m / 2) I`, ``A`` an ``m x m``
      standard normal matrix (correlations of either sign, up to about 0.8 in
      absolute value); the truth has
      :class:`~skmoe.noise.MultivariateGaussianNoise` and ``y`` has shape
      (n_samples, m).

    With ``objective="likelihood"`` the data follow the Gaussian mixture of
    experts; with ``objective="least_squares"`` they follow the regression
    model of the convergence-rate papers, ``y = f(x) + noise * eps`` with
    ``f`` the mixture mean and ``eps`` standard normal (see
    :func:`sample_moe_regression`).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_features : int, default=2
        Number of input features.
    n_experts : int, default=3
        Number of experts of the true model.
    gating : str or Gating, default="softmax"
        Gating family of the truth: a name registered in
        :data:`skmoe.gating.GATINGS` or a gating object.
    experts : {"linear", "polynomial", "ffn"} or Experts, default="linear"
        Expert family of the truth.
    activation : {"tanh", "sigmoid", "relu", "gelu"}, default=None
        Activation of the experts when ``experts`` is a name whose family has
        an ``activation`` hyper-parameter (``"ffn"``); None keeps the family's
        default. An error for other families and for expert objects (set the
        object's own ``activation`` instead).
    noise : float, default=0.3
        Standard deviation of each expert's Gaussian noise.
    gate_scale : float, default=3.0
        Norm of the true gate slopes: larger is a sharper partition of x.
    x_distribution : {"normal", "uniform"}, default="normal"
        Distribution of each input feature (standard normal, or uniform on
        ``[-3, 3]``).
    objective : {"likelihood", "least_squares"}, default="likelihood"
        Draw ``y`` from the Gaussian mixture, or as the mixture mean plus
        Gaussian noise (the least-squares setting).
    n_shared_experts : int, default=0
        Number of shared experts of the truth (0: the plain model).
    shared_weight : float, default=0.5
        Weight of the shared part, in the open interval (0, 1).
    shared_experts : str, Experts or None, default=None
        Family of the shared experts; None uses ``experts``.
    noise_df : float or None, default=None
        None: Gaussian expert noise. A float in ``[1, 1e6]``: Student-t
        expert noise with these degrees of freedom and scale ``noise``
        (the truth has ``noise="student_t"``; no shared experts). For gross
        outliers see :func:`add_outliers`.
    response : {"gaussian", "poisson", "binomial"}, default="gaussian"
        The law of ``y`` given an expert. ``"gaussian"``: noise around the
        experts' means (Gaussian, or Student-t with ``noise_df``).
        ``"poisson"``: counts with log means given by the experts (the truth
        has ``noise="poisson"``). ``"binomial"``: proportions of successes in
        ``n_trials`` trials with log-odds given by the experts
        (``noise="binomial"``; fit with ``sample_weight=n_trials``). For both,
        ``noise`` is not used and ``noise_df``, shared experts and
        ``objective="least_squares"`` are not available.
    n_trials : int or array-like of shape (n_samples,), default=1
        Numbers of trials of ``response="binomial"`` (positive whole
        numbers); must be 1 for the other responses.
    n_targets : int or None, default=None
        None: one response, ``y`` of shape (n_samples,). An int ``m >= 1``:
        ``m`` Gaussian responses with a full covariance per expert (see
        above), ``y`` of shape (n_samples, m); not available with
        ``noise_df``, shared experts, another ``response`` or
        ``objective="least_squares"``.
    random_state : int, RandomState instance or None, default=None
        Controls the true parameters and the data. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    true_params : MoEParams
        The model the data were drawn from.

    See Also
    --------
    sample_moe_regression : Draw data from a given true model.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, truth = make_moe_regression(200, n_features=2, n_experts=3,
    ...                                   random_state=0)
    >>> X.shape, truth.n_experts
    ((200, 2), 3)
    >>> X, counts, truth = make_moe_regression(200, 2, 2, response="poisson",
    ...                                        random_state=0)
    >>> truth.noise, bool((counts == counts.round()).all())
    (PoissonNoise(), True)
    >>> X, Y, truth = make_moe_regression(200, 1, 2, n_targets=2, random_state=0)
    >>> Y.shape, truth.expert_params.shape, truth.variance.shape
    ((200, 2), (2, 2, 2), (2, 2, 2))
    """
    n_samples = _check_positive_int("n_samples", n_samples)
    n_features = _check_positive_int("n_features", n_features)
    K = _check_positive_int("n_experts", n_experts)
    _check_noise_and_gate_scale(noise, gate_scale)
    _check_objective(objective)
    S = _check_positive_int("n_shared_experts", n_shared_experts, minimum=0)
    _check_response(response, n_trials, noise_df, S, objective)
    _check_n_targets(n_targets, response, noise_df, S, objective)
    if not (isinstance(shared_weight, Real) and 0 < shared_weight < 1):
        raise ValueError(
            "shared_weight must be a float in the open interval (0, 1); got "
            f"{shared_weight!r}."
        )
    gating = gating if isinstance(gating, Gating) else resolve_gating(gating)
    if isinstance(experts, Experts):
        if activation is not None:
            raise ValueError(
                "activation is only used with experts given by name; set the "
                f"activation of the experts object {experts!r} instead."
            )
    else:
        experts = resolve_experts(experts)
        if activation is not None:
            if "activation" not in experts.get_params():
                raise ValueError(
                    f"activation={activation!r} does not apply to "
                    f"{type(experts).__name__}, which has no activation."
                )
            experts.set_params(activation=activation)
    gating._validate_params()
    experts._validate_params()
    gating.check_n_experts(K, n_features)
    if shared_experts is None:
        shared_experts = experts
    elif not isinstance(shared_experts, Experts):
        shared_experts = resolve_experts(shared_experts)
    shared_experts._validate_params()
    rng = check_random_state(random_state)
    gate_fields = gating.random_params(n_features, K, gate_scale, rng)
    expert_params = experts.random_params(n_features, K, rng)
    shared = {}
    if S:
        shared_params = shared_experts.random_params(n_features, S, rng)
        spread = rng.permutation(np.linspace(-2.0, 2.0, K + S))
        for family, params, values in ((experts, expert_params, spread[:K]),
                                       (shared_experts, shared_params, spread[K:])):
            block = family.param_blocks(n_features).get("intercept")
            if block is not None:
                params[:, block] = values[:, None]
        # project back: a family that holds its intercept fixed keeps it at 0
        expert_params = experts.unpack(experts.pack(expert_params), K, n_features)
        shared_params = shared_experts.unpack(
            shared_experts.pack(shared_params), S, n_features
        )
        weights = rng.dirichlet(np.full(S, 2.0)) if S > 1 else np.ones(1)
        shared = dict(shared_params=shared_params,
                      shared_variance=np.full(S, float(noise) ** 2),
                      shared_weights=weights, shared_weight=float(shared_weight),
                      shared_experts=shared_experts)
    law = dict(variance=np.full(K, float(noise) ** 2))
    if noise_df is not None:
        law.update(noise="student_t", noise_df=np.full(K, noise_df, dtype=float))
    if response != "gaussian":
        law = dict(noise=response)  # no variance: held at 1
    if n_targets is not None:
        expert_params, law = _several_responses(
            experts, n_features, K, n_targets, expert_params, float(noise), rng)
    truth = MoEParams(
        expert_params=expert_params,
        gating=gating,
        experts=experts,
        **gate_fields,
        **shared,
        **law,
    )
    X, y = sample_moe_regression(
        truth, n_samples, x_distribution=x_distribution, objective=objective,
        n_trials=n_trials if response == "binomial" else None, random_state=rng)
    return X, y, truth


def _check_n_targets(n_targets, response, noise_df, n_shared_experts, objective):
    """ValueError for several responses with settings that have no such law."""
    if n_targets is None:
        return
    _check_positive_int("n_targets", n_targets)
    others = [(response != "gaussian", f"response={response!r}"),
              (noise_df is not None, f"noise_df={noise_df!r}"),
              (n_shared_experts > 0, f"n_shared_experts={n_shared_experts}"),
              (objective != "likelihood", f"objective={objective!r}")]
    for bad, what in others:
        if bad:
            raise ValueError(
                f"n_targets={n_targets!r} draws several Gaussian responses "
                f"(noise='multivariate_gaussian'): {what} is not available with "
                "it."
            )


def _several_responses(experts, n_features, n_experts, m, first, noise, rng):
    """Expert rows of ``m`` responses and full covariances (see the docstring).

    ``first`` holds the first response's rows (drawn before, so that the
    random stream of one response is unchanged up to that point).
    """
    rows = [first] + [experts.random_params(n_features, n_experts, rng)
                      for _ in range(m - 1)]
    cov = np.empty((n_experts, m, m))
    for k in range(n_experts):
        A = rng.standard_normal((m, m))
        W = A @ A.T + 0.5 * m * np.eye(m)
        s = 1.0 / np.sqrt(np.diag(W))
        cov[k] = noise ** 2 * (W * s[:, None] * s[None, :])
    return (np.stack(rows, axis=1),
            dict(variance=cov, noise="multivariate_gaussian"))


def _check_response(response, n_trials, noise_df, n_shared_experts, objective):
    """ValueError for a response that cannot go with the other settings."""
    if response not in ("gaussian", "poisson", "binomial"):
        raise ValueError(
            "response must be 'gaussian', 'poisson' or 'binomial'; got "
            f"{response!r}."
        )
    if response != "binomial" and not (np.ndim(n_trials) == 0 and n_trials == 1):
        raise ValueError(
            f"n_trials is only used with response='binomial'; got n_trials="
            f"{n_trials!r} with response={response!r}."
        )
    if response == "gaussian":
        return
    others = [(noise_df is not None, f"noise_df={noise_df!r}"),
              (n_shared_experts > 0, f"n_shared_experts={n_shared_experts}"),
              (objective != "likelihood", f"objective={objective!r}")]
    for bad, what in others:
        if bad:
            raise ValueError(
                f"response={response!r} has no Gaussian noise: {what} is not "
                "available with it."
            )


def make_orthogonal_moe_regression(n_samples=1000, n_features=10, n_experts=3, *,
                                   noise=0.1, gate_scale=3.0, random_state=None):
    """Generate the Gaussian-input model of the tensor method's guarantee.

    The setting of Makkuva et al., arXiv:1802.07417: standard normal inputs,
    a softmax gate and linear experts without intercepts, with orthonormal
    expert slopes ``a_k`` and gate slopes orthogonal to all of them, and one
    noise variance. The slopes are the first ``n_experts`` columns of a
    random orthogonal matrix; the ``n_experts - 1`` non-zero gate rows (the
    last row is the zero reference) have norm ``gate_scale`` and random
    directions in the span of the next ``n_experts - 1`` columns.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_features : int, default=10
        Input dimension; at least ``2 * n_experts - 1``.
    n_experts : int, default=3
        Number of experts.
    noise : float, default=0.1
        Noise standard deviation of every expert.
    gate_scale : float, default=3.0
        Norm of the non-zero gate slopes.
    random_state : int, RandomState instance or None, default=None
        Controls the parameters and the draws. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    y : ndarray of shape (n_samples,)
        Target values.
    true_params : MoEParams
        The true model.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.datasets import make_orthogonal_moe_regression
    >>> X, y, truth = make_orthogonal_moe_regression(50, 5, 3, random_state=0)
    >>> coef = truth.expert_params[:, :5]
    >>> bool(np.allclose(truth.gate_coef @ coef.T, 0.0))
    True
    """
    n_samples = _check_positive_int("n_samples", n_samples)
    K = _check_positive_int("n_experts", n_experts)
    d = _check_positive_int("n_features", n_features)
    _check_noise_and_gate_scale(noise, gate_scale)
    if d < 2 * K - 1:
        raise ValueError(
            "make_orthogonal_moe_regression puts the expert slopes and the gate "
            f"slopes in orthogonal subspaces: expected n_features >= 2 * n_experts "
            f"- 1 = {2 * K - 1}, got n_features={d}."
        )
    rng = check_random_state(random_state)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    coef = Q[:, :K].T
    gate_coef = np.zeros((K, d))
    if K > 1:
        mix = rng.standard_normal((K - 1, K - 1))
        mix /= np.linalg.norm(mix, axis=1, keepdims=True)
        gate_coef[:-1] = gate_scale * mix @ Q[:, K:2 * K - 1].T
    truth = MoEParams(
        gate_coef=gate_coef, gate_intercept=np.zeros(K),
        expert_params=np.hstack([coef, np.zeros((K, 1))]),
        variance=np.full(K, float(noise) ** 2),
    )
    X, y = sample_moe_regression(truth, n_samples, random_state=rng)
    return X, y, truth


def add_outliers(y, fraction=0.05, *, magnitude=(10.0, 20.0), random_state=None):
    """Contaminate targets with gross outliers (for robustness studies).

    ``round(fraction * n)`` rows, drawn uniformly without replacement, get
    ``y_i + s_i m_i sd(y)``: a random sign ``s_i``, a magnitude ``m_i``
    uniform on ``magnitude`` and ``sd(y)`` the standard deviation of the
    clean targets. The inputs are untouched, so the outliers are in ``y``
    only (vertical outliers).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Clean targets.
    fraction : float, default=0.05
        Fraction of contaminated rows, in ``[0, 1]``.
    magnitude : tuple of two floats, default=(10.0, 20.0)
        Range of the shifts, in standard deviations of ``y``.
    random_state : int, RandomState instance or None, default=None
        Controls the rows, signs and magnitudes. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    y_contaminated : ndarray of shape (n_samples,)
        A new array with the outliers.
    is_outlier : ndarray of bool of shape (n_samples,)
        True for the contaminated rows.

    Examples
    --------
    >>> from skmoe.datasets import add_outliers, make_moe_regression
    >>> X, y, truth = make_moe_regression(200, 2, 2, random_state=0)
    >>> y_out, is_outlier = add_outliers(y, 0.05, random_state=0)
    >>> int(is_outlier.sum())
    10
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    if not (isinstance(fraction, Real) and 0 <= fraction <= 1):
        raise ValueError(f"fraction must be a float in [0, 1]; got {fraction!r}.")
    low, high = magnitude
    if not (0 <= low <= high):
        raise ValueError(
            f"magnitude must be (low, high) with 0 <= low <= high; got {magnitude!r}."
        )
    rng = check_random_state(random_state)
    n = y.shape[0]
    rows = rng.choice(n, int(round(fraction * n)), replace=False)
    shift = rng.choice([-1.0, 1.0], rows.size) * rng.uniform(low, high, rows.size)
    out = y.copy()
    out[rows] += shift * y.std()
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[rows] = True
    return out, is_outlier
