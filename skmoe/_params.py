"""MoEParams: one container for a true or a fitted mixture of experts."""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from .experts import Experts, resolve_experts
from .gating import Gating, resolve_gating
from .noise import NoiseModel, resolve_noise
from .utils._arrays import as_kernel_array
from .utils._text import format_number, html_table, labelled_frame, text_table
from .utils._validation import check_probabilities

#: largest lattice index of a discrete quantile: 2**53, the last integer up
#: to which every integer is a float
_LATTICE_CAP = 2.0 ** 53


def _resolve_gating(gating):
    return gating if isinstance(gating, Gating) else resolve_gating(gating)


def _resolve_experts(experts):
    return experts if isinstance(experts, Experts) else resolve_experts(experts)


_BLOCK_ORDER = {"gate": 0, "expert": 1, "noise": 2}


def _by_expert(rows):
    """Labelled rows grouped by expert (in order), then block, stably."""
    experts = list(dict.fromkeys(r["expert"] for r in rows if r["expert"] != "all"))
    rank = {e: i for i, e in enumerate(experts)}
    return sorted(rows, key=lambda r: (rank.get(r["expert"], len(rank)),
                                       _BLOCK_ORDER[r["block"]]))


@dataclass(frozen=True, eq=False)
class MoEParams:
    """Parameters of a mixture of experts, true or estimated.

    The model with ``K`` experts is

    .. math::

        p(y \\mid x) = \\sum_{k=1}^K g_k(x) \\,
        \\mathcal{N}(y \\mid h(x; \\eta_k), \\nu_k),

    where the gate ``g`` is given by ``gating`` and its parameters
    (``gate_coef``, ``gate_intercept``, ``gate_extra``), and the expert means
    ``h`` by ``experts`` and ``expert_params``. Other noise models replace
    the Gaussian law (``noise``): the Student-t law around the same means,
    or a GLM response family (``"poisson"``, ``"binomial"``) whose experts'
    outputs ``h`` are the linear predictors and whose means are
    :math:`g^{-1}(h)` (:meth:`expert_predictors` gives ``h``,
    :meth:`expert_means` the means). The same type holds a true
    model (returned by :func:`skmoe.datasets.make_moe_regression`) and a
    fitted one (``MixtureOfExpertsRegressor.params_``), so every comparison
    utility in :mod:`skmoe.metrics` takes two of them.

    Parameters
    ----------
    gate_coef : array-like of shape (n_experts, n_gate_features)
        Gate slopes :math:`\\beta_{1k}`, one row per expert and one column per
        feature the gate reads: all ``n_features`` of them, unless the gate
        is a :class:`~skmoe.gating.ColumnGating` (``gate_features`` of the
        estimator), which knows ``n_features``.
    gate_intercept : array-like of shape (n_experts,)
        Gate intercepts :math:`\\beta_{0k}`.
    expert_params : array-like of shape (n_experts, n_expert_params) or \
            (n_experts, n_targets, n_expert_params)
        Expert parameters :math:`\\eta_k`, laid out as the expert family
        documents (for :class:`~skmoe.LinearExperts`: the ``n_features`` slopes
        followed by the intercept); one row per response with
        ``noise="multivariate_gaussian"``.
    variance : array-like of shape (n_experts,), default=None
        Noise variances :math:`\\nu_k` (variances, not standard deviations).
        Required unless the noise model has no variance (Poisson, binomial:
        None gives ones, the only value allowed). With
        ``noise="multivariate_gaussian"``: covariance matrices of shape
        (n_experts, n_targets, n_targets), or variances of shape (n_experts,
        n_targets) for ``MultivariateGaussianNoise(covariance_type="diag")``;
        their shape gives the number of responses.
    gating : str or Gating, default="softmax"
        Gating family; a string is resolved to the default object of that name.
    experts : str or Experts, default="linear"
        Expert family; a string is resolved to the default object of that name.
    gate_extra : dict of str to ndarray, default=None
        Extra gate parameters of families that need them.
    shared_params : array-like of shape (n_shared_experts, n_shared_params), \
            default=None
        Parameters :math:`\\kappa_s` of the shared experts, in the layout of
        ``shared_experts``; None (the default) for a model without shared
        experts.
    shared_variance : array-like of shape (n_shared_experts,), default=None
        Noise variances :math:`\\tau_s` of the shared experts (required with
        ``shared_params``).
    shared_weights : array-like of shape (n_shared_experts,), default=None
        Covariate-free weights :math:`\\omega_s` of the shared experts, a
        point of the simplex; None gives equal weights.
    shared_weight : float, default=0.5
        Weight :math:`\\lambda \\in (0, 1)` of the shared part (ignored
        without shared experts).
    shared_experts : str or Experts, default=None
        Family of the shared experts; None uses ``experts``.
    noise : {"gaussian", "student_t", "poisson", "binomial"} or NoiseModel, \
            default="gaussian"
        Noise model of the experts (:mod:`skmoe.noise`): Gaussian, Student-t
        (then ``variance`` holds the squared scales :math:`\\sigma_k^2`, see
        :class:`~skmoe.noise.StudentTNoise`), or the Poisson and binomial
        response families (:class:`~skmoe.noise.PoissonNoise`,
        :class:`~skmoe.noise.BinomialNoise`; ``variance`` held at 1). Only
        the Gaussian model is available with shared experts.
    noise_df : array-like of shape (n_experts,), default=None
        Degrees of freedom :math:`\\nu_k` of a Student-t noise (None with
        Gaussian noise; for ``"student_t"``, None gives the noise model's
        fixed ``df`` or 4).

    Attributes
    ----------
    n_experts : int
        Number of routed experts ``K``.
    n_features : int
        Number of input features.
    n_shared_experts : int
        Number of shared experts ``S`` (0 without them).

    Notes
    -----
    The instance is immutable at the field level (a frozen dataclass) but its
    arrays are ordinary writeable float64 arrays: use :meth:`copy` before
    changing them, or :meth:`replace` to build a modified container. Equality
    is not defined by ``==``; use :meth:`allclose`.

    The softmax gate is invariant to a common shift of all logits; the
    containers built by skmoe keep the last expert's gate row at zero (each
    gating family documents its own normalisation).

    **Shared experts** (DeepSeekMoE, [1]_). With ``S >= 1`` shared experts
    the model is

    .. math::

        p(y \\mid x) = \\lambda \\sum_{s=1}^S \\omega_s \\,
        \\mathcal{N}(y \\mid h_{sh}(x; \\kappa_s), \\tau_s)
        + (1 - \\lambda) \\sum_{k=1}^K g_k(x) \\,
        \\mathcal{N}(y \\mid h(x; \\eta_k), \\nu_k),

    a mixture of ``K + S`` components whose shared weights do not depend on
    ``x``. :meth:`gates` and :meth:`expert_means` describe the routed part
    only; :meth:`component_weights` and :meth:`component_means` give all
    ``K + S`` components (routed first), and every distributional method
    (:meth:`predict`, :meth:`log_density`, :meth:`cdf`, :meth:`quantiles`,
    :meth:`sample_y`) uses the full model. Without shared experts every
    method computes exactly what it computes for the plain model.

    References
    ----------
    .. [1] Nguyen, H., Doan, T., Pham, Q., Bui, N., Ho, N. and Rinaldo, A.
       (2025). On DeepSeekMoE: statistical benefits of shared experts and
       normalized sigmoid gating. arXiv:2505.10860.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MoEParams
    >>> params = MoEParams(
    ...     gate_coef=[[2.0], [0.0]], gate_intercept=[0.0, 0.0],
    ...     expert_params=[[1.0, 0.0], [-1.0, 1.0]], variance=[0.1, 0.1])
    >>> params.n_experts, params.n_features
    (2, 1)
    >>> params.predict(np.array([[0.0]]))
    array([0.5])
    """

    gate_coef: np.ndarray
    gate_intercept: np.ndarray
    expert_params: np.ndarray
    variance: np.ndarray = None
    gating: object = "softmax"
    experts: object = "linear"
    gate_extra: dict = field(default_factory=dict)
    shared_params: object = None
    shared_variance: object = None
    shared_weights: object = None
    shared_weight: float = 0.5
    shared_experts: object = None
    noise: object = "gaussian"
    noise_df: object = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "gating", _resolve_gating(self.gating))
        set_(self, "experts", _resolve_experts(self.experts))
        noise = self.noise if isinstance(self.noise, NoiseModel) else (
            resolve_noise(self.noise))
        set_(self, "noise", noise)
        gate_coef = as_kernel_array(self.gate_coef)
        if gate_coef.ndim != 2:
            raise ValueError(
                "gate_coef must be a 2-D array of shape (n_experts, n_features); "
                f"got shape {gate_coef.shape}."
            )
        K, width = gate_coef.shape
        if K < 1:
            raise ValueError("gate_coef must have at least one row (one expert).")
        # the gate knows the width of the data (all of gate_coef's columns,
        # or the columns of X it selects)
        d = int(self.gating.n_inputs(width))
        set_(self, "_n_features", d)
        blocks = self.gating.param_blocks(d, K)
        expected = blocks["gate_coef"][0]
        if gate_coef.shape != tuple(expected):
            raise ValueError(
                f"gate_coef must have shape {tuple(expected)} for n_experts={K}, "
                f"n_features={d} and {type(self.gating).__name__}; got shape "
                f"{gate_coef.shape}."
            )
        if self.variance is None:
            if noise.has_variance:
                raise ValueError(
                    f"variance is required with noise={noise.name!r} (one "
                    "variance per expert)."
                )
            set_(self, "variance", np.ones(K))
        # several responses: the law's variance block gives m, the experts'
        # parameters get a response axis (K, m, q)
        m = noise.n_targets(self.variance)
        if m is not None:
            set_(self, "variance", noise.check_variance(self.variance, K))
        q = self.experts.n_params(d)
        checks = {
            "gate_intercept": (as_kernel_array(self.gate_intercept), (K,)),
            "expert_params": (
                np.atleast_2d(as_kernel_array(self.expert_params)),
                (K, q) if m is None else (K, m, q),
            ),
            "variance": (as_kernel_array(self.variance), np.shape(self.variance)
                         if m is not None else (K,)),
        }
        set_(self, "gate_coef", gate_coef)
        for name, (arr, shape) in checks.items():
            if arr.shape != shape:
                raise ValueError(
                    f"{name} must have shape {shape} for n_experts={K}, "
                    f"n_features={d} and {type(self.experts).__name__}; "
                    f"got shape {arr.shape}."
                )
            set_(self, name, arr)
        extra = {k: as_kernel_array(v) for k, v in dict(self.gate_extra).items()}
        set_(self, "gate_extra", extra)
        # ndarray.all, not np.all: the same test without the dispatch of
        # np.all, which cost more than the test on these small arrays (this
        # runs for every start of a fit)
        if m is None and not (np.isfinite(self.variance)
                              & (self.variance > 0)).all():
            raise ValueError(
                f"variance must be finite and strictly positive; got "
                f"{self.variance!r}."
            )
        if not noise.has_variance and not np.all(self.variance == 1.0):
            raise ValueError(
                f"noise={noise.name!r} has no variance parameter: variance must "
                f"be ones (or None); got {self.variance!r}."
            )
        for name in ("gate_coef", "gate_intercept", "expert_params"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} must be finite.")
        self.gating.check_n_experts(K, d)
        # the family's extra gate fields, as it declares them (param_blocks)
        for name, (shape, _) in blocks.items():
            key = name[len("gate_extra."):] if name.startswith("gate_extra.") else None
            if key is not None and key in extra and extra[key].shape != tuple(shape):
                raise ValueError(
                    f"gate_extra[{key!r}] must have shape {tuple(shape)} for "
                    f"n_experts={K}, n_features={d} and {self.gating!r}; got "
                    f"shape {extra[key].shape}."
                )
        self._set_shared(d)
        set_(self, "noise_df", self.noise.check_df(self.noise_df, K))
        if self.n_shared_experts:
            reason = self.noise.lacks("shared_experts")
            if reason is not None:
                raise ValueError(
                    f"noise={self.noise.name!r} does not support shared "
                    f"experts ({reason}); got {self.n_shared_experts} shared "
                    "experts."
                )

    def _set_shared(self, d):
        """Validate and store the shared-expert fields."""
        set_ = object.__setattr__
        if self.shared_params is None:
            if self.shared_variance is not None or self.shared_weights is not None:
                raise ValueError(
                    "shared_variance and shared_weights need shared_params; got "
                    "shared_params=None."
                )
            set_(self, "shared_experts", None)
            return
        family = (
            self.experts if self.shared_experts is None
            else _resolve_experts(self.shared_experts)
        )
        set_(self, "shared_experts", family)
        params = np.atleast_2d(as_kernel_array(self.shared_params))
        S = params.shape[0]
        if params.shape != (S, family.n_params(d)) or S < 1:
            raise ValueError(
                f"shared_params must have shape (n_shared_experts, "
                f"{family.n_params(d)}) for n_features={d} and "
                f"{type(family).__name__}; got shape {params.shape}."
            )
        if self.shared_variance is None:
            raise ValueError("shared_variance is required with shared_params.")
        variance = as_kernel_array(self.shared_variance)
        weights = (
            np.full(S, 1.0 / S) if self.shared_weights is None
            else as_kernel_array(self.shared_weights)
        )
        for name, arr in (("shared_variance", variance), ("shared_weights", weights)):
            if arr.shape != (S,):
                raise ValueError(
                    f"{name} must have shape ({S},) for {S} shared experts; got "
                    f"shape {arr.shape}."
                )
        if not np.all(np.isfinite(params)):
            raise ValueError("shared_params must be finite.")
        if not np.all(np.isfinite(variance) & (variance > 0)):
            raise ValueError(
                f"shared_variance must be finite and strictly positive; got "
                f"{variance!r}."
            )
        if not (np.all(np.isfinite(weights) & (weights >= 0))
                and abs(weights.sum() - 1.0) <= 1e-8):
            raise ValueError(
                f"shared_weights must be non-negative and sum to one; got "
                f"{weights!r}."
            )
        lam = self.shared_weight
        if not (isinstance(lam, Real) and 0 < lam < 1):
            raise ValueError(
                f"shared_weight must be a float in the open interval (0, 1); got "
                f"{lam!r}."
            )
        set_(self, "shared_params", params)
        set_(self, "shared_variance", variance)
        set_(self, "shared_weights", weights)
        set_(self, "shared_weight", float(lam))

    def _all_finite(self):
        """Whether every number of the model is finite (gate extras included)."""
        arrays = [self.gate_coef, self.gate_intercept, self.expert_params,
                  self.variance, *self.gate_extra.values()]
        if self.noise_df is not None:
            arrays.append(self.noise_df)
        if self.n_shared_experts:
            arrays += [self.shared_params, self.shared_variance,
                       self.shared_weights]
        return all(np.all(np.isfinite(a)) for a in arrays)

    # ------------------------------------------------------------------ shape
    @property
    def n_experts(self):
        """Number of experts."""
        return self.gate_coef.shape[0]

    @property
    def n_features(self):
        """Number of input features (columns of ``X``).

        ``gate_coef``'s width, unless the gate reads a selection of the
        columns (:class:`~skmoe.gating.ColumnGating`: one ``gate_coef``
        column per selected feature).
        """
        return self._n_features

    @property
    def n_shared_experts(self):
        """Number of shared experts (0 without them)."""
        return 0 if self.shared_params is None else self.shared_params.shape[0]

    @property
    def n_targets(self):
        """Number of responses ``m`` of a law of several responses, else None.

        None: one response per row (``y`` of shape (n_samples,)); an int:
        ``y`` of shape (n_samples, m), known from the noise model's variance
        block (:class:`~skmoe.noise.MultivariateGaussianNoise`).
        """
        return self.noise.n_targets(self.variance)

    # --------------------------------------------------------- construction
    def replace(self, **changes):
        """Return a new container with some fields replaced.

        Parameters
        ----------
        **changes : dict
            Field names and their new values.

        Returns
        -------
        params : MoEParams
            A new, validated container.
        """
        return dataclasses.replace(self, **changes)

    def copy(self):
        """Return a deep copy (new arrays, cloned family objects).

        Returns
        -------
        params : MoEParams
            The copy.
        """
        shared = {}
        if self.n_shared_experts:
            shared = dict(
                shared_params=self.shared_params.copy(),
                shared_variance=self.shared_variance.copy(),
                shared_weights=self.shared_weights.copy(),
                shared_weight=self.shared_weight,
                shared_experts=clone(self.shared_experts),
            )
        return MoEParams(
            gate_coef=self.gate_coef.copy(),
            gate_intercept=self.gate_intercept.copy(),
            expert_params=self.expert_params.copy(),
            variance=self.variance.copy(),
            gating=clone(self.gating),
            experts=clone(self.experts),
            gate_extra={k: v.copy() for k, v in self.gate_extra.items()},
            **shared,
            noise=clone(self.noise),
            noise_df=None if self.noise_df is None else self.noise_df.copy(),
        )

    def permute(self, order, shared_order=None):
        """Reorder the experts and re-apply the gate's normalisation.

        Parameters
        ----------
        order : array-like of int of shape (n_experts,)
            New position ``j`` holds old routed expert ``order[j]``.
        shared_order : array-like of int of shape (n_shared_experts,), \
                default=None
            New position ``j`` holds old shared expert ``shared_order[j]``;
            None keeps their order.

        Returns
        -------
        params : MoEParams
            The same model with its experts relabelled: its predictions,
            densities and gates (up to the permutation) are unchanged.
        """
        order = np.asarray(order)
        if sorted(order.tolist()) != list(range(self.n_experts)):
            raise ValueError(
                f"order must be a permutation of range({self.n_experts}); "
                f"got {order!r}."
            )
        permuted = self.gating.permute(self, order)
        if shared_order is not None:
            shared_order = np.asarray(shared_order)
            if sorted(shared_order.tolist()) != list(range(self.n_shared_experts)):
                raise ValueError(
                    "shared_order must be a permutation of "
                    f"range({self.n_shared_experts}); got {shared_order!r}."
                )
            permuted.update(
                shared_params=self.shared_params[shared_order],
                shared_variance=self.shared_variance[shared_order],
                shared_weights=self.shared_weights[shared_order],
            )
        return self.replace(
            expert_params=self.expert_params[order],
            variance=self.variance[order],
            noise_df=None if self.noise_df is None else self.noise_df[order],
            **permuted,
        )

    def allclose(self, other, *, rtol=1e-7, atol=0.0):
        """Whether two containers hold the same model, expert by expert.

        Parameters
        ----------
        other : MoEParams
            The container to compare with (same expert order).
        rtol, atol : float
            Tolerances of :func:`numpy.allclose`.

        Returns
        -------
        equal : bool
            True if every field agrees within the tolerances.
        """
        if type(self.gating) is not type(other.gating):
            return False
        if type(self.experts) is not type(other.experts):
            return False
        if type(self.noise) is not type(other.noise):
            return False
        pairs = [
            (self.gate_coef, other.gate_coef),
            (self.gate_intercept, other.gate_intercept),
            (self.expert_params, other.expert_params),
            (self.variance, other.variance),
        ]
        if self.noise_df is not None:
            pairs.append((self.noise_df, other.noise_df))
        if set(self.gate_extra) != set(other.gate_extra):
            return False
        pairs += [(self.gate_extra[k], other.gate_extra[k]) for k in self.gate_extra]
        if self.n_shared_experts != other.n_shared_experts:
            return False
        if self.n_shared_experts:
            if type(self.shared_experts) is not type(other.shared_experts):
                return False
            pairs += [
                (self.shared_params, other.shared_params),
                (self.shared_variance, other.shared_variance),
                (self.shared_weights, other.shared_weights),
                (np.array([self.shared_weight]), np.array([other.shared_weight])),
            ]
        return all(
            a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol)
            for a, b in pairs
        )

    # ----------------------------------------------------------- the model
    def _check_X(self, X):
        X = as_kernel_array(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}); got {X.shape}."
            )
        return X

    def log_gates(self, X):
        """Log gating weights :math:`\\log g_k(x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_gates : ndarray of shape (n_samples, n_experts)
            ``-inf`` where a sparse gate gives an expert weight zero.
        """
        return self.gating.log_weights(self._check_X(X), self)

    def gates(self, X):
        """Gating weights :math:`g_k(x)`; rows lie on the simplex.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        gates : ndarray of shape (n_samples, n_experts)
            Gating weights; each row is non-negative and sums to one.
        """
        return np.exp(self.log_gates(X))

    def expert_predictors(self, X):
        """The experts' outputs :math:`h(x; \\eta_k)`.

        For Gaussian and Student-t noise these are the experts' means (equal
        to :meth:`expert_means`); for a GLM response family (Poisson,
        binomial) the linear predictors, the means on the link scale (log
        means, log-odds).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        outputs : ndarray of shape (n_samples, n_experts)
            ``h(x_i; eta_k)``.
        """
        return self.noise.predictors(self.experts, self._check_X(X),
                                     self.expert_params)

    def expert_means(self, X):
        """The experts' means :math:`E[y \\mid x, k]`.

        The experts' outputs :math:`h(x; \\eta_k)` through the noise
        model's inverse link (:meth:`skmoe.noise.NoiseModel.mean`): ``h``
        itself for Gaussian and Student-t noise, :math:`e^h` for Poisson
        counts, :math:`1 / (1 + e^{-h})` for binomial proportions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts)
            Expert means.
        """
        return self.noise.mean(self.expert_predictors(X))

    def shared_means(self, X):
        """Shared expert regression functions :math:`h_{sh}(x; \\kappa_s)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        means : ndarray of shape (n_samples, n_shared_experts)
            Shared expert means (no columns without shared experts).
        """
        X = self._check_X(X)
        if not self.n_shared_experts:
            return np.zeros((X.shape[0], 0))
        return self.shared_experts.predict(X, self.shared_params)

    def _components(self, X):
        """Log weights, outputs and variances of all ``K + S`` components.

        Without shared experts: exactly ``log_gates``, ``expert_predictors``
        and ``variance``.
        """
        if not self.n_shared_experts:
            return (self.log_gates(X), as_kernel_array(self.expert_predictors(X)),
                    self.variance)
        lam = self.shared_weight
        with np.errstate(divide="ignore"):
            log_shared = np.log(lam) + np.log(self.shared_weights)
        n = X.shape[0]
        log_w = np.hstack([
            np.log1p(-lam) + self.log_gates(X),
            np.broadcast_to(log_shared, (n, self.n_shared_experts)),
        ])
        means = np.hstack([self.expert_predictors(X), self.shared_means(X)])
        variance = np.concatenate([self.variance, self.shared_variance])
        return as_kernel_array(log_w), as_kernel_array(means), variance

    def _posterior(self, X, y, sample_weight=None):
        """E-step of the noise model over all components.

        Returns the responsibilities, the per-sample log-likelihood and the
        noise model's latent variables (None for Gaussian noise), computed by
        :meth:`skmoe.noise.NoiseModel.posterior` (``sample_weight``: the
        data's weights, read by a law whose densities depend on them).
        """
        return self.noise.posterior(self._check_X(X), y, self, sample_weight)

    def component_weights(self, X):
        """Mixture weights of all components, routed then shared.

        ``(1 - shared_weight) * g_k(x)`` for the routed experts and
        ``shared_weight * shared_weights[s]`` for the shared ones; without
        shared experts, :meth:`gates`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        weights : ndarray of shape (n_samples, n_experts + n_shared_experts)
            Each row is non-negative and sums to one.
        """
        return np.exp(self._components(self._check_X(X))[0])

    def component_means(self, X):
        """Component means, routed experts then shared experts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts + n_shared_experts)
            :meth:`expert_means` followed by ``h_sh(x; kappa_s)``.
        """
        return self.noise.mean(self._components(self._check_X(X))[1])

    def predict(self, X):
        """Regression function :math:`E[y \\mid x]`, the mixture mean.

        ``sum_k g_k(x) mu_k(x)`` with :math:`\\mu_k` the experts' means
        (:meth:`expert_means`: ``h(x; eta_k)`` itself for Gaussian and
        Student-t noise, through the inverse link for a GLM family); with
        shared experts, the mean of the full model (:meth:`component_weights`
        times :meth:`component_means`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
            Mixture mean for every sample.
        """
        X = self._check_X(X)
        if self.n_targets is not None:  # several responses: (n, K, m) means
            return np.einsum("nk,nkm->nm", self.gates(X), self.expert_means(X))
        if self.n_shared_experts:
            log_w, means, _ = self._components(X)
            return np.sum(np.exp(log_w) * self.noise.mean(means), axis=1)
        return np.sum(self.gates(X) * self.expert_means(X), axis=1)

    def _check_y(self, X, y):
        m = self.n_targets
        y = as_kernel_array(y)
        y = y.ravel() if m is None else as_kernel_array(y.reshape(y.shape[0], -1))
        if m is not None and y.shape[1] != m:
            raise ValueError(
                f"y must have {m} columns (one per response); got shape "
                f"{y.shape}."
            )
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y must have the same number of rows; got {X.shape[0]} "
                f"and {y.shape[0]}."
            )
        return y

    def _check_weights(self, X, sample_weight):
        if sample_weight is None:
            return None
        sample_weight = as_kernel_array(sample_weight).ravel()
        if sample_weight.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight must have one entry per row of X ({X.shape[0]}); "
                f"got {sample_weight.shape[0]}."
            )
        return sample_weight

    def log_density(self, X, y, sample_weight=None):
        """Per-sample conditional log-density :math:`\\log p(y_i \\mid x_i)`.

        For a discrete law (Poisson, binomial) the log-probability, with its
        normalising terms (:math:`-\\log y!`, the log binomial coefficient).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            The numbers of trials of a binomial response (None: one each);
            the other noise models' densities do not depend on it.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Conditional log-density of every sample.
        """
        X = self._check_X(X)
        y = self._check_y(X, y)
        return self._posterior(X, y, self._check_weights(X, sample_weight))[1]

    def cdf(self, X, y, sample_weight=None):
        """Conditional distribution function :math:`P(Y \\le y \\mid x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, m)
            One or ``m`` evaluation points per sample.
        sample_weight : array-like of shape (n_samples,), default=None
            The numbers of trials of a binomial response (None: one each);
            unused by the other noise models.

        Returns
        -------
        cdf : ndarray of the shape of ``y``
            Conditional distribution function at ``y``.
        """
        X = self._check_X(X)
        y = np.asarray(y, dtype=np.float64)
        sample_weight = self._check_weights(X, sample_weight)
        if self.n_targets is not None:
            return self._marginal_cdf(X, y)
        log_w, means, variance = self._components(X)
        gates = np.exp(log_w)
        yy = y.reshape(X.shape[0], -1, 1)
        cdf = self.noise.component_cdf(yy, means[:, None, :], variance,
                                       self.noise_df, sample_weight)
        return np.sum(gates[:, None, :] * cdf, axis=2).reshape(y.shape)

    def quantiles(self, X, q, sample_weight=None):
        """Conditional quantiles of the mixture, by bisection on :meth:`cdf`.

        For a continuous law, accurate to ``1e-10`` times the spread of the
        mixture. For a discrete law (Poisson counts, binomial proportions
        ``j / a`` with ``a`` trials) the exact quantile, the smallest lattice
        point ``y`` with :math:`P(Y \\le y \\mid x) \\ge q`, found by
        bisection on the lattice index.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        q : float or array-like of shape (n_quantiles,)
            Probabilities in (0, 1).
        sample_weight : array-like of shape (n_samples,), default=None
            The numbers of trials of a binomial response (None: one each);
            unused by the other noise models.

        Returns
        -------
        quantiles : ndarray of shape (n_samples,) or (n_samples, n_quantiles)
            One column per probability (no column axis for a scalar ``q``).
        """
        X = self._check_X(X)
        q_arr = check_probabilities(q)
        sample_weight = self._check_weights(X, sample_weight)
        if self.n_targets is not None:
            out = self._marginal_quantiles(X, q_arr)
            return out[..., 0] if np.ndim(q) == 0 else out
        if self.noise.discrete:
            out = self._lattice_quantiles(X, q_arr, sample_weight)
            return out[:, 0] if np.ndim(q) == 0 else out
        n = X.shape[0]
        _, means, variance = self._components(X)
        sd = np.sqrt(variance)
        # the mixture quantile lies between the extreme component quantiles
        if self.noise_df is None:
            width = 40.0 * sd.max()
            lo = np.repeat((means.min(axis=1) - width)[:, None], q_arr.size, axis=1)
            hi = np.repeat((means.max(axis=1) + width)[:, None], q_arr.size, axis=1)
        else:  # heavy tails: the exact bracket min_k Q_k(q) <= Q(q) <= max_k Q_k(q)
            z = self.noise.ppf(np.broadcast_to(q_arr[:, None], (q_arr.size, sd.size)),
                               self.noise_df)
            comp_q = means[:, None, :] + sd * z
            lo, hi = comp_q.min(axis=2), comp_q.max(axis=2)
        target = np.broadcast_to(q_arr, (n, q_arr.size))
        # bisection halves the bracket: 80 halvings reach round-off
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = self.cdf(X, mid) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        out = 0.5 * (lo + hi)
        return out[:, 0] if np.ndim(q) == 0 else out

    # ------------------------------------------------ several responses
    def _marginal_cdf(self, X, y):
        """Marginal distribution functions of the responses, ``y`` (n, m[, q])."""
        m = self.n_targets
        if y.ndim not in (2, 3) or y.shape[:2] != (X.shape[0], m):
            raise ValueError(
                f"y must have shape (n_samples, {m}) or (n_samples, {m}, "
                f"n_points) for a model of {m} responses; got shape {y.shape}."
            )
        yy = y.reshape(X.shape[0], m, -1)
        cdf = self.noise.marginal_cdf(yy, self.expert_predictors(X), self.variance)
        return np.einsum("nk,njqk->njq", self.gates(X), cdf).reshape(y.shape)

    def _marginal_quantiles(self, X, q):
        """Quantiles of each response's marginal mixture, (n, m, n_quantiles).

        Bisection on :meth:`_marginal_cdf` inside the bracket of the
        one-response Gaussian case (the component means -/+ 40 of the largest
        standard deviation of the response).
        """
        n, m = X.shape[0], self.n_targets
        means = self.expert_predictors(X)  # (n, K, m)
        width = 40.0 * np.sqrt(self.noise.marginal_variances(self.variance)
                               .max(axis=0))  # (m,)
        lo = np.repeat((means.min(axis=1) - width)[:, :, None], q.size, axis=2)
        hi = np.repeat((means.max(axis=1) + width)[:, :, None], q.size, axis=2)
        target = np.broadcast_to(q, (n, m, q.size))
        for _ in range(80):  # 80 halvings of the bracket reach round-off
            mid = 0.5 * (lo + hi)
            below = self._marginal_cdf(X, mid) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def _lattice_quantiles(self, X, q, sample_weight):
        """Smallest lattice points ``j * step`` whose mixture cdf reaches ``q``.

        ``j = -1`` has cdf 0 < q; the upper end starts at the largest
        component mean and doubles until its cdf reaches ``q`` (at most the
        lattice's top, where the cdf is 1); then bisection on the integer
        ``j`` keeps ``cdf(lo) < q <= cdf(hi)``.
        """
        n = X.shape[0]
        step, top = self.noise.lattice(sample_weight, n)
        # the largest index searched: the lattice's top, and at most 2**53
        # (above it floats no longer hold every integer)
        cap = np.full(n, _LATTICE_CAP) if top is None else np.minimum(top,
                                                                      _LATTICE_CAP)
        target = np.broadcast_to(q, (n, q.size))
        with np.errstate(invalid="ignore"):
            mean = np.nan_to_num(self.expert_means(X).max(axis=1) / step,
                                 nan=_LATTICE_CAP, posinf=_LATTICE_CAP)
        lo = np.full((n, q.size), -1.0)
        hi = np.repeat(np.ceil(np.minimum(mean, cap))[:, None], q.size, axis=1)

        def reaches(j):
            return self.cdf(X, j * step[:, None], sample_weight) >= target

        for _ in range(60):  # doubling from 0 reaches 2**53 in 54 steps
            ok = reaches(hi) | (hi >= cap[:, None])
            if ok.all():
                break
            lo = np.where(ok, lo, hi)
            hi = np.where(ok, hi, np.minimum(2.0 * hi + 1.0, cap[:, None]))
        while np.any(hi - lo > 1):
            mid = np.floor(0.5 * (lo + hi))
            ok = reaches(mid)
            lo = np.where(ok, lo, mid)
            hi = np.where(ok, mid, hi)
        return hi * step[:, None]

    def sample_y(self, X, random_state=None, sample_weight=None):
        """Draw one ``y`` per row of ``X`` from :math:`p(y \\mid x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        random_state : int, RandomState instance or None, default=None
            Controls the draws. Pass an int for reproducible output across
            multiple function calls.
        sample_weight : array-like of shape (n_samples,), default=None
            The numbers of trials of a binomial response (None: one each;
            the draws are proportions of successes); unused by the other
            noise models.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Target values.
        """
        rng = check_random_state(random_state)
        X = self._check_X(X)
        sample_weight = self._check_weights(X, sample_weight)
        log_w, means, variance = self._components(X)
        gates = np.exp(log_w)
        u = rng.random_sample(X.shape[0])
        cum = np.cumsum(gates, axis=1)
        comp = np.minimum((u[:, None] > cum).sum(axis=1), gates.shape[1] - 1)
        rows = np.arange(X.shape[0])
        return self.noise.draw(rng, comp, means[rows, comp], variance[comp],
                               self.noise_df, sample_weight)

    def n_free_params(self):
        """Number of free parameters, as counted by BIC and AIC.

        Returns
        -------
        n_params : int
            Gate parameters after the identifiability constraint, expert
            parameters and the noise model's parameters
            (:meth:`skmoe.noise.NoiseModel.n_free_params`: the variances,
            the estimated degrees of freedom of a Student-t noise, nothing
            for the Poisson and binomial families); with ``S`` shared experts
            also their parameters, their ``S`` variances and ``S - 1`` free
            weights (``shared_weight`` is a fixed hyper-parameter, not
            counted).
        """
        K, d = self.n_experts, self.n_features
        m = self.n_targets
        count = (
            self.gating.n_free_params(d, K)
            + K * self.experts.n_free_params(d) * (1 if m is None else m)
            + self.noise.n_free_params(K, n_targets=m)
        )
        S = self.n_shared_experts
        if S:
            count += S * self.shared_experts.n_free_params(d) + S + (S - 1)
        return count

    # --------------------------------------------------------- reporting
    def _feature_names(self, feature_names=None):
        """Names of the ``n_features`` input columns (``x0, x1, ...`` by default)."""
        d = self.n_features
        if feature_names is None:
            return [f"x{j}" for j in range(d)]
        names = [str(n) for n in feature_names]
        if len(names) != d:
            raise ValueError(
                f"feature_names must have one name per feature ({d}); got "
                f"{len(names)}."
            )
        return names

    def _labels(self, feature_names=None, *, fixed_variance=False):
        """Every number of the model with its label, one dict per entry.

        Keys: ``expert`` (the routed expert's index, ``"shared s"`` for a
        shared expert, ``"all"`` for a gate field of no expert), ``block``
        (``"gate"``, ``"expert"`` or ``"noise"``), ``term`` (a feature name,
        ``"(Intercept)"``, ``"variance"``, ...), ``field`` and ``index`` (where
        the number lives in the container) and ``value``. The gate fields
        (in the order of the family's :meth:`~skmoe.Gating.param_blocks`),
        ``expert_params`` and ``variance`` come first, in the order of the
        standard errors' field vector (:mod:`skmoe.inference`); then the
        degrees of freedom of a Student-t noise and the shared experts. A noise
        model without variance (Poisson, binomial) holds ``variance`` at 1:
        its rows are left out unless ``fixed_variance`` (the field vector of
        the standard errors has them).
        """
        names = self._feature_names(feature_names)
        d, K = self.n_features, self.n_experts
        gate_names = [names[j] for j in self.gating.input_columns(d)]
        rows = []

        def add(expert, block, term, field, index, value):
            rows.append(dict(expert=expert, block=block, term=term, field=field,
                             index=index, value=float(value)))

        labels = self.gating.summary_fields(d, K)
        for name, (shape, per_expert) in self.gating.param_blocks(d, K).items():
            label = labels.get(name, (None, False))[0]
            key = name[len("gate_extra."):] if name.startswith("gate_extra.") else None
            if key is not None and key not in self.gate_extra:
                continue
            value = self.gate_extra[key] if key is not None else getattr(self, name)
            value = np.reshape(value, shape)
            for index in np.ndindex(*shape):
                expert = index[0] if per_expert else "all"
                rest = index[1:] if per_expert else index
                if name == "gate_coef":
                    term = gate_names[rest[0]] if label is None else (
                        f"{label} {gate_names[rest[0]]}")
                elif name == "gate_intercept":
                    term = "(Intercept)" if label is None else label
                elif key.endswith("coef") and len(rest) and shape[-1] == len(
                        gate_names):
                    term = (f"{key}[{', '.join(map(str, rest[:-1]))}] "
                            f"{gate_names[rest[-1]]}")
                elif tuple(shape) == (1,):
                    term = key
                else:
                    term = key + (f"[{', '.join(map(str, rest))}]" if rest else "")
                add(expert, "gate", term, name, index, value[index])
        expert_names = self.experts.param_names(names)
        if self.n_targets is not None:  # several responses: y0, y1, ...
            self._response_labels(add, expert_names)
        else:
            for k in range(K):
                for j, term in enumerate(expert_names):
                    add(k, "expert", term, "expert_params", (k, j),
                        self.expert_params[k, j])
        if self.n_targets is None and (self.noise.has_variance or fixed_variance):
            for k in range(K):
                add(k, "noise", "variance", "variance", (k,), self.variance[k])
        if self.noise_df is not None:
            for k in range(K):
                add(k, "noise", "df", "noise_df", (k,), self.noise_df[k])
        if self.n_shared_experts:
            shared_names = self.shared_experts.param_names(names)
            for s in range(self.n_shared_experts):
                label = f"shared {s}"
                add(label, "gate", "weight", "shared_weights", (s,),
                    self.shared_weights[s])
                for j, term in enumerate(shared_names):
                    add(label, "expert", term, "shared_params", (s, j),
                        self.shared_params[s, j])
                add(label, "noise", "variance", "shared_variance", (s,),
                    self.shared_variance[s])
        return rows

    def _response_labels(self, add, expert_names):
        """The experts' rows and covariances of several responses, labelled.

        Responses are named ``y0, y1, ...``: an expert's parameter is
        ``"y1 x0"``, a covariance entry ``"covariance y0 y1"`` (upper
        triangle) and a variance ``"variance y1"``.
        """
        m, V = self.n_targets, self.variance
        for k in range(self.n_experts):
            for r in range(m):
                for j, term in enumerate(expert_names):
                    add(k, "expert", f"y{r} {term}", "expert_params", (k, r, j),
                        self.expert_params[k, r, j])
            for r in range(m):
                if V.ndim == 2:  # uncorrelated responses: variances
                    add(k, "noise", f"variance y{r}", "variance", (k, r), V[k, r])
                    continue
                for c in range(r, m):
                    term = (f"variance y{r}" if c == r
                            else f"covariance y{r} y{c}")
                    add(k, "noise", term, "variance", (k, r, c), V[k, r, c])

    def to_frame(self, feature_names=None):
        """All the numbers of the model in one table (flexmix's ``parameters``).

        Parameters
        ----------
        feature_names : sequence of str, default=None
            Names of the ``n_features`` input columns (the estimator's
            ``feature_names_in_``); None gives ``x0, x1, ...``.

        Returns
        -------
        frame : pandas.DataFrame
            One row per number, indexed by ``(expert, block, term)``:
            ``block`` is ``"gate"`` (gate coefficients by feature and
            ``"(Intercept)"``, and the family's extra fields), ``"expert"``
            (an expert's parameters, named by its family:
            :meth:`~skmoe.Experts.param_names`) or ``"noise"``
            (``"variance"``, and ``"df"`` for Student-t noise); ``expert`` is
            the routed expert's index, ``"shared s"`` for a shared expert, or
            ``"all"`` for a gate field of no expert. The column ``value``
            holds the number.
        """
        rows = _by_expert(self._labels(feature_names))
        return labelled_frame({"value": [r["value"] for r in rows]},
                              [(r["expert"], r["block"], r["term"]) for r in rows],
                              ["expert", "block", "term"])

    #: at most this many parameter columns in the repr (the others elided)
    _REPR_COLUMNS = 12

    def _grid(self, feature_names=None):
        """Title, header, rows and the expert-free entries of the repr."""
        rows = self._labels(feature_names)
        columns, grid, general = [], {}, []
        for r in rows:
            if r["expert"] == "all":
                general.append(f"{r['block']} {r['term']} = "
                               f"{format_number(r['value'])}")
                continue
            column = r["term"] if r["block"] != "gate" else f"gate {r['term']}"
            if column not in columns:
                columns.append(column)
            grid.setdefault(r["expert"], {})[column] = format_number(r["value"])
        if len(columns) > self._REPR_COLUMNS:
            half = self._REPR_COLUMNS // 2
            columns = columns[:half] + ["..."] + columns[-half:]
        header = ["expert", *columns]
        table = [[label, *(values.get(c, "...") if c == "..." else values.get(c, "")
                           for c in columns)] for label, values in grid.items()]
        noise = self.noise.name if hasattr(self.noise, "name") else repr(self.noise)
        title = (f"MoEParams: {self.n_experts} experts"
                 + (f" + {self.n_shared_experts} shared (shared_weight="
                    f"{self.shared_weight:g}, shared_experts="
                    f"{self.shared_experts!r})" if self.n_shared_experts else "")
                 + f", {self.n_features} features; gating={self.gating!r}, "
                 f"experts={self.experts!r}, noise={noise}")
        return title, header, table, general

    def __repr__(self):
        title, header, table, general = self._grid()
        lines = [title, *text_table(header, table, right=set(
            range(1, len(header))), indent="  ")]
        return "\n".join(lines + [f"  {g}" for g in general])

    def _repr_html_(self):
        title, header, table, general = self._grid()
        extra = "".join(f"<br>{html.escape(g)}" for g in general)
        return (f"<div><p>{html.escape(title)}</p>"
                f"{html_table(header, table)}{extra}</div>")
