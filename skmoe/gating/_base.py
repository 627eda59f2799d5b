"""The Gating interface shared by every gating family."""

from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator


class Gating(BaseEstimator, metaclass=ABCMeta):
    """Base class of gating families (the map from ``x`` to expert weights).

    A gating object is a *parameter object*: ``__init__`` stores its
    hyper-parameters and nothing else, it has no ``fit``, and it holds no
    fitted numbers. The numbers live in :class:`~skmoe.MoEParams`
    (``gate_coef``, ``gate_intercept``, ``gate_extra``); the methods below
    compute with them. This is what lets ``GridSearchCV`` clone gating objects
    and search nested keys such as ``gating__temperature``.

    A new family subclasses :class:`Gating`, declares
    ``_parameter_constraints`` and implements the abstract methods; see the
    "Extending skmoe" page of the documentation.

    Notes
    -----
    Methods receive validated, C-contiguous float64 arrays. ``R`` denotes
    *weighted responsibilities*: ``R[i, k] = sample_weight[i] * r_ik`` with
    ``r_ik`` the posterior probability that expert ``k`` generated sample ``i``.
    """

    _parameter_constraints: dict = {}

    def check_n_experts(self, n_experts, n_features):
        """Check hyper-parameters against the model size, before any kernel runs.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features.

        Raises
        ------
        ValueError
            If the combination is impossible (for example ``top_k > n_experts``).
        """

    @abstractmethod
    def n_free_params(self, n_features, n_experts):
        """Number of free gate parameters after identifiability constraints.

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

    @abstractmethod
    def init(self, X, sample_weight, n_experts, rng):
        """Random starting gate that depends on the data only through moments.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        sample_weight : ndarray of shape (n_samples,)
            Sample weights.
        n_experts : int
            Number of experts.
        rng : numpy.random.RandomState
            The estimator's random generator.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` and, if the family needs them,
            ``gate_extra`` values for :class:`~skmoe.MoEParams`.
        """

    @abstractmethod
    def log_weights(self, X, params):
        """Log gating weights.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_samples, n_experts)
            ``log g_k(x_i)``; ``-inf`` where the gate is exactly zero.
        """

    @abstractmethod
    def m_step(self, X, R, params):
        """Gate update of (generalised) EM.

        Increases, and never decreases, ``sum_ik R_ik log g_k(x_i)`` starting
        from the gate in ``params``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).

        Returns
        -------
        fields : dict
            New ``gate_coef``, ``gate_intercept`` (and ``gate_extra``).
        """

    def pack(self, params):
        """Free gate parameters as one vector (for gradient solvers).

        The default, for shift-invariant gates normalised by :meth:`normalize`,
        holds the rows ``0 .. K-2`` of ``[gate_coef | gate_intercept]``
        flattened row by row (the last row is the fixed reference).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """
        fields = self.normalize(params)
        full = np.hstack([fields["gate_coef"], fields["gate_intercept"][:, None]])
        return full[:-1].ravel().copy()

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
            ``gate_coef`` and ``gate_intercept`` (and ``gate_extra``).
        """
        K, d = params.n_experts, params.n_features
        full = np.zeros((K, d + 1))
        full[:-1] = np.asarray(theta, dtype=np.float64).reshape(K - 1, d + 1)
        return {
            "gate_coef": np.ascontiguousarray(full[:, :d]),
            "gate_intercept": np.ascontiguousarray(full[:, d]),
        }

    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        The vector-Jacobian product of :meth:`log_weights`, used by gradient
        solvers: with ``G = dL / dlog_weights`` it returns ``dL / dtheta`` for
        ``theta = pack(params)``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters (in the family's normalisation).
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights; must be 0 wherever the gate is
            exactly 0 (``log_weights`` is ``-inf``).

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.

        Raises
        ------
        NotImplementedError
            If the family provides no gradient (gradient solvers then refuse
            it with a clear error before fitting).
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement grad; it can be fitted "
            "by EM only."
        )

    def normalize(self, params):
        """Gate fields in the family's identifiability normalisation.

        The default, for gates invariant to a common shift of the logits,
        subtracts the last expert's row so that it becomes zero.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised ``gate_coef`` and ``gate_intercept``.
        """
        return {
            "gate_coef": params.gate_coef - params.gate_coef[-1],
            "gate_intercept": params.gate_intercept - params.gate_intercept[-1],
        }

    def permute(self, params, order):
        """Gate fields after relabelling the experts.

        Parameters
        ----------
        params : MoEParams
            Model parameters.
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.

        Returns
        -------
        fields : dict
            Gate fields of the relabelled model, normalised.
        """
        moved = params.replace(
            gate_coef=params.gate_coef[order],
            gate_intercept=params.gate_intercept[order],
        )
        return self.normalize(moved)

    def weighted_objective(self, X, R, params):
        """``sum_ik R_ik log g_k(x_i)``, the gate part of the EM objective.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities ``sample_weight[i] * r_ik``.
        params : MoEParams
            Model parameters.

        Returns
        -------
        value : float
            The objective value.
        """
        logw = self.log_weights(X, params)
        mask = R > 0
        return float(np.sum(R[mask] * logw[mask]))


def _weighted_moments(X, sample_weight):
    """Weighted column means and standard deviations (floored above 0)."""
    w = sample_weight / sample_weight.sum()
    mean = w @ X
    std = np.sqrt(np.maximum(w @ (X - mean) ** 2, 0.0))
    std = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
    return mean, std
