"""The Experts interface shared by every expert family."""

from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator


class Experts(BaseEstimator, metaclass=ABCMeta):
    """Base class of expert families (the K regression functions ``h(x; eta_k)``).

    An experts object is a *parameter object*, like a gating object: it stores
    hyper-parameters only; the expert parameters of all K experts live in
    ``MoEParams.expert_params`` (one row per expert, in the layout documented
    by the family and described by :meth:`param_blocks`).

    Notes
    -----
    ``R`` denotes weighted responsibilities, ``R[i, k] = sample_weight[i] *
    r_ik``. The noise variances are updated by the solver, not by the family.
    """

    _parameter_constraints: dict = {}

    #: Whether the moment methods (``solver="tensor"``, ``init_params=
    #: "tensor"``) can fit the family: True only for a family whose mean is
    #: ``coef^T x + intercept`` with :meth:`param_blocks` ``"coef"`` (the
    #: ``n_features`` slopes) and ``"intercept"``, and whose :meth:`m_step`
    #: is exact weighted least squares, so that it can refit one expert on
    #: the single feature ``u^T x`` (its direction ``u`` held fixed).
    supports_moment_methods = False

    @abstractmethod
    def n_params(self, n_features):
        """Length of one expert's parameter row in ``expert_params``.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            The number of parameters.
        """

    def n_free_params(self, n_features):
        """Number of free parameters of one expert (for BIC/AIC).

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            Defaults to :meth:`n_params`.
        """
        return self.n_params(n_features)

    @abstractmethod
    def param_blocks(self, n_features):
        """Named blocks of an expert's parameter row.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        blocks : dict of str to slice
            For example ``{"coef": slice(0, d), "intercept": slice(d, d + 1)}``.
        """

    def linear_means(self, expert_params):
        """The experts as affine functions of ``X``, if they are.

        Capability hook for fused kernels: when ``predict(X, expert_params)``
        equals ``X @ coef.T + intercept`` for all ``X`` (up to round-off),
        return those arrays; otherwise None (the default), and solvers use
        :meth:`predict`.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        linear : tuple of two ndarray or None
            ``(coef, intercept)``, C-contiguous float64, of shapes
            (n_experts, n_features) and (n_experts,).
        """
        return None

    def linear_m_step(self):
        """The M-step as a function of the affine design's statistics, if any.

        Capability hook for the fused EM solver, which computes the weighted
        statistics of the design ``f_i = [x_i, 1]`` in its E-step pass. A
        family whose :meth:`m_step` is determined by them returns a function
        ``step(gram, moment, mass, expert_params) -> expert_params`` that
        returns what :meth:`m_step` returns for the same responsibilities,
        with ``gram`` of shape (n_experts, n_features + 1, n_features + 1)
        holding ``sum_i R_ik f_i f_i^T``, ``moment`` of shape
        (n_experts, n_features + 1) holding ``sum_i R_ik f_i y_i`` and
        ``mass`` of shape (n_experts,) holding ``sum_i R_ik``. The default
        returns None (the solver calls :meth:`m_step`). Only consulted for
        families whose :meth:`linear_means` is not None.

        Returns
        -------
        step : callable or None
            The update from the statistics, or None when there is none.
        """
        return None

    @abstractmethod
    def predict(self, X, expert_params):
        """Expert means.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts)
            ``h(x_i; eta_k)``.
        """

    @abstractmethod
    def m_step(self, X, y, R, expert_params):
        """Expert update of (generalised) EM.

        Increases, and never decreases, ``sum_ik R_ik log N(y_i | h(x_i;
        eta_k), nu_k)`` over the expert parameters for any fixed variances,
        starting from ``expert_params``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters (the starting point, kept for an expert whose
            total responsibility is zero).

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """

    def pack(self, expert_params):
        """Free expert parameters as one vector (for gradient solvers).

        The default: every entry of ``expert_params``, row by row.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        theta : ndarray
            The free parameters.
        """
        return np.asarray(expert_params, dtype=np.float64).ravel().copy()

    def unpack(self, theta, n_experts, n_features):
        """Expert parameters from a free-parameter vector; inverse of :meth:`pack`.

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
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        shape = (n_experts, self.n_params(n_features))
        return np.ascontiguousarray(np.asarray(theta, dtype=np.float64).reshape(shape))

    def grad(self, X, expert_params, G):
        """Gradient of ``sum_ik G_ik h(x_i; eta_k)`` in the free parameters.

        The vector-Jacobian product of :meth:`predict`, used by gradient
        solvers: with ``G = dL / dmeans`` it returns ``dL / dtheta`` for
        ``theta = pack(expert_params)``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.
        G : ndarray of shape (n_samples, n_experts)
            Weights of the expert means.

        Returns
        -------
        grad : ndarray
            Gradient in the layout of :meth:`pack`.

        Raises
        ------
        NotImplementedError
            If the family provides no gradient.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement grad; it can be fitted "
            "by EM only."
        )

    def online_statistics(self, X, y, R):
        """Sufficient statistics of the expert update, for online EM.

        Arrays that are sums over the samples, so that a weighted average of
        the statistics of several batches is the statistic of their union
        (``partial_fit`` keeps such running averages). A family whose
        update is not a function of additive statistics does not implement
        this method and cannot be fitted by ``partial_fit``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.

        Returns
        -------
        stats : tuple of ndarray
            The statistics, in a layout that :meth:`online_m_step` reads.

        Raises
        ------
        NotImplementedError
            If the family has no additive sufficient statistics.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement online_statistics; it "
            "cannot be fitted by partial_fit."
        )

    def online_m_step(self, stats, expert_params):
        """Expert update from (averaged) :meth:`online_statistics`.

        Parameters
        ----------
        stats : tuple of ndarray
            Statistics in the layout of :meth:`online_statistics`.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters (kept for an expert without mass).

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            The maximiser of the weighted Gaussian log-likelihood given by
            ``stats``, a new array.
        rss : ndarray of shape (n_experts,)
            The weighted residual sums of squares at the new parameters.
        mass : ndarray of shape (n_experts,)
            The total weighted responsibility of every expert.

        Raises
        ------
        NotImplementedError
            If the family has no additive sufficient statistics.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement online_m_step; it "
            "cannot be fitted by partial_fit."
        )

    def init(self, X, y, R, rng):
        """Starting expert parameters from starting responsibilities.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted starting responsibilities.
        rng : numpy.random.RandomState
            Random generator of the estimator.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            The default fits each expert by :meth:`m_step` from zeros.
        """
        zeros = np.zeros((R.shape[1], self.n_params(X.shape[1])))
        return self.m_step(X, y, R, zeros)

    def canonicalize(self, expert_params):
        """One representative of each expert's parameter symmetry class.

        Families whose parameters are identified only up to a symmetry (a
        sign flip, a rescaling) map every row to a canonical representative,
        so that two rows describing the same function compare equal. The
        comparison utilities (:func:`skmoe.metrics.match_experts`,
        :func:`skmoe.metrics.parameter_error`) call it on both models before
        comparing them. The default, for families without such symmetries,
        returns a copy.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array with every row canonical; ``predict`` is unchanged.
        """
        return np.array(expert_params, dtype=np.float64)

    def random_params(self, n_features, n_experts, rng):
        """Random true expert parameters, for data generators.

        Used by :func:`skmoe.datasets.make_moe_regression`. The default draws
        standard normal entries, spreads an ``"intercept"`` block (if the
        family has one) evenly over ``[-2, 2]`` in random order so that the
        experts are well separated, and projects the result onto the family's
        parameter set (``unpack(pack(.))``, which zeroes parameters the family
        holds fixed).

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
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        K = n_experts
        blocks = self.param_blocks(n_features)
        expert_params = rng.standard_normal((K, self.n_params(n_features)))
        if "intercept" in blocks:
            spread = np.linspace(-2.0, 2.0, K) if K > 1 else np.zeros(1)
            expert_params[:, blocks["intercept"]] = rng.permutation(spread)[:, None]
        return self.unpack(self.pack(expert_params), K, n_features)
