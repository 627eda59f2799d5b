"""Linear experts: closed-form weighted least squares."""

import numpy as np

from .._kernels._linear import linear_expert_suffstats
from ..utils._arrays import as_kernel_array
from ._base import Experts


def _solve_weighted_lstsq(gram, moment, weight_sums, old, threshold):
    """Solve the K normal equations; keep ``old`` for experts without mass.

    A singular system (fewer effective samples than parameters) gets its
    minimum-norm solution, which is still an exact maximiser.
    """
    new = old.copy()
    for k in range(gram.shape[0]):
        if weight_sums[k] <= threshold:
            continue
        new[k] = np.linalg.lstsq(gram[k], moment[k], rcond=None)[0]
    return new


class _LinearInFeatures(Experts):
    """Experts linear in a fixed feature map: ``h(x) = coef^T phi(x) + intercept``.

    The shared numerics of :class:`LinearExperts` (``phi(x) = x``) and
    :class:`~skmoe.PolynomialExperts` (``phi`` the monomials of ``x``): the
    expert update is closed-form weighted least squares on the design
    ``[phi(x), 1]``. A subclass has a ``fit_intercept`` hyper-parameter and
    overrides :meth:`_features` and :meth:`_n_features_out`. An expert's row
    holds the ``m`` coefficients of ``phi(x)`` followed by the intercept.
    """

    def _features(self, X):
        """The feature map ``phi(X)``, a C-contiguous (n_samples, m) array."""
        return X

    def _n_features_out(self, n_features):
        """``m``, the number of columns of ``phi(X)``."""
        return n_features

    def n_params(self, n_features):
        """Row length: the coefficients of the features, then the intercept.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            The number of parameters.
        """
        return self._n_features_out(n_features) + 1

    def n_free_params(self, n_features):
        """Free parameters per expert: the coefficients (+1 with an intercept).

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            The number of parameters.
        """
        return self._n_features_out(n_features) + int(self.fit_intercept)

    def predict(self, X, expert_params):
        """Expert means ``phi(X) @ coef.T + intercept``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        means : ndarray of shape (n_samples, n_experts)
            Expert means ``h(x_i; eta_k)``.
        """
        F = self._features(X)
        m = F.shape[1]
        means = F @ expert_params[:, :m].T
        means += expert_params[:, m]
        return means

    def linear_means(self, expert_params):
        """Slopes and intercepts when the feature map is the identity.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        linear : tuple of (ndarray, ndarray) or None
            ``(coef, intercept)`` for :class:`LinearExperts`; None for a
            non-trivial feature map.
        """
        if type(self)._features is not _LinearInFeatures._features:
            return None
        # as in predict: slopes, then the intercept column (zero when not
        # fitted)
        return (as_kernel_array(expert_params[:, :-1]),
                as_kernel_array(expert_params[:, -1]))

    def pack(self, expert_params):
        """Free parameters: all coefficients, and the intercepts if fitted.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        theta : ndarray
            The free parameters, row by row.
        """
        if self.fit_intercept:
            return np.asarray(expert_params, dtype=np.float64).ravel().copy()
        return np.asarray(expert_params, dtype=np.float64)[:, :-1].ravel().copy()

    def unpack(self, theta, n_experts, n_features):
        """Expert parameters from the free vector (zero intercepts if not fitted).

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
        theta = np.asarray(theta, dtype=np.float64)
        m = self._n_features_out(n_features)
        if self.fit_intercept:
            return np.ascontiguousarray(theta.reshape(n_experts, m + 1))
        out = np.zeros((n_experts, m + 1))
        out[:, :-1] = theta.reshape(n_experts, m)
        return out

    def grad(self, X, expert_params, G):
        """Gradient of ``sum_ik G_ik h(x_i; eta_k)``: ``G^T [phi(X), 1]``.

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
        """
        slopes = G.T @ self._features(X)
        if not self.fit_intercept:
            return slopes.ravel()
        return np.hstack([slopes, G.sum(axis=0)[:, None]]).ravel()

    def m_step(self, X, y, R, expert_params):
        """Weighted least squares for each expert.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities ``sample_weight[i] * r_ik``.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.
        """
        gram, moment = self._suffstats(X, y, R)
        return self._solve(gram, moment, R.sum(axis=0), expert_params)

    def _suffstats(self, X, y, R):
        """Weighted Gram matrices and moments of the design ``[phi(X), 1]``."""
        F = as_kernel_array(self._features(X))
        # the intercept column is implicit: X is never copied
        return linear_expert_suffstats(F, y, R, bool(self.fit_intercept))

    def _solve(self, gram, moment, sums, expert_params):
        """Weighted least squares from the statistics of :meth:`_suffstats`."""
        threshold = 1e-10 * sums.sum()
        if self.fit_intercept:
            return _solve_weighted_lstsq(gram, moment, sums, expert_params, threshold)
        m = gram.shape[1]
        new = np.zeros_like(expert_params)
        new[:, :m] = _solve_weighted_lstsq(
            gram, moment, sums, expert_params[:, :m], threshold
        )
        return new

    def linear_m_step(self):
        """Weighted least squares from the statistics of ``[x, 1]``.

        The fused EM solver's expert update (see
        :meth:`~skmoe.Experts.linear_m_step`); without ``fit_intercept`` the
        intercept's row and column are dropped.

        Returns
        -------
        step : callable or None
            ``step(gram, moment, mass, expert_params) -> expert_params``, as
            :meth:`m_step` computes them; None for a non-trivial feature map
            or a subclass that overrides :meth:`m_step`.
        """
        cls = type(self)
        if (cls._features is not _LinearInFeatures._features
                or cls.m_step is not _LinearInFeatures.m_step
                or cls._suffstats is not _LinearInFeatures._suffstats):
            return None
        return self._statistics_m_step

    def _statistics_m_step(self, gram, moment, mass, expert_params):
        if not self.fit_intercept:
            gram = np.ascontiguousarray(gram[:, :-1, :-1])
            moment = np.ascontiguousarray(moment[:, :-1])
        return self._solve(gram, moment, mass, expert_params)

    def online_statistics(self, X, y, R):
        """Weighted Gram matrices, moments, sums of ``y**2`` and masses.

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
            ``gram`` of shape (n_experts, p, p), ``sum_i R_ik f_i f_i^T``;
            ``moment`` of shape (n_experts, p), ``sum_i R_ik f_i y_i``;
            ``yy`` of shape (n_experts,), ``sum_i R_ik y_i^2``; ``mass`` of
            shape (n_experts,), ``sum_i R_ik``; ``f_i`` the design row
            (``phi(x_i)`` and a 1 if ``fit_intercept``).
        """
        gram, moment = self._suffstats(X, y, R)
        return gram, moment, R.T @ (y * y), R.sum(axis=0)

    def online_m_step(self, stats, expert_params):
        """Weighted least squares from averaged :meth:`online_statistics`.

        The residual sum of squares of expert ``k`` at the solution
        ``b_k`` is ``yy_k - 2 b_k^T moment_k + b_k^T gram_k b_k`` (clipped at
        0 against round-off).

        Parameters
        ----------
        stats : tuple of ndarray
            ``(gram, moment, yy, mass)`` as returned by
            :meth:`online_statistics`, or a weighted average of several.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters (kept for an expert without mass).

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            The weighted least-squares solution, a new array.
        rss : ndarray of shape (n_experts,)
            Weighted residual sums of squares at the solution.
        mass : ndarray of shape (n_experts,)
            Total weighted responsibility of every expert.
        """
        gram, moment, yy, mass = stats
        new = self._solve(gram, moment, mass, expert_params)
        p = gram.shape[1]
        b = new[:, :p]
        rss = (yy - 2.0 * np.einsum("kp,kp->k", b, moment)
               + np.einsum("kp,kpq,kq->k", b, gram, b))
        return new, np.maximum(rss, 0.0), mass.copy()


class LinearExperts(_LinearInFeatures):
    """Linear experts :math:`h(x; \\eta) = \\eta_1^\\top x + \\eta_0`.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether each expert has an intercept :math:`\\eta_0`. When False the
        intercept column of ``expert_params`` is held at zero.

    Notes
    -----
    ``expert_params`` has one row per expert: the ``n_features`` slopes
    :math:`\\eta_1` followed by the intercept :math:`\\eta_0`.

    The EM update is closed-form weighted least squares per expert; the
    weighted Gram matrices of all K experts are accumulated in one pass over
    the data by a Numba kernel. Linear experts are *not* strongly identifiable
    (their gradient in :math:`\\eta_1` equals ``x`` times their gradient in
    :math:`\\eta_0`), which makes over-specified fits converge slowly [1]_.

    References
    ----------
    .. [1] Nguyen, H., Nguyen, T. and Ho, N. (2023). Demystifying softmax
       gating function in Gaussian mixture of experts. NeurIPS.
       arXiv:2305.03288.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import LinearExperts
    >>> experts = LinearExperts()
    >>> experts.predict(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0, 0.5]]))
    array([[3.5]])
    """

    _parameter_constraints: dict = {"fit_intercept": ["boolean"]}
    supports_moment_methods = True

    def __init__(self, fit_intercept=True):
        self.fit_intercept = fit_intercept

    def param_blocks(self, n_features):
        """Name the blocks ``coef`` (the slopes) and ``intercept``.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        blocks : dict of str to slice
            Block name to the slice of an expert's parameter row.
        """
        return {
            "coef": slice(0, n_features),
            "intercept": slice(n_features, n_features + 1),
        }
