"""Linear experts: closed-form weighted least squares."""

import numpy as np

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._threads import use_threads
from ._base import Experts, LinearStatistics

#: normal equations with more unknowns than this are solved by LAPACK
#: (``np.linalg.lstsq``, as before the compiled path): the compiled solve's
#: fallback for singular systems (cyclic Jacobi, O(m^3) per sweep) is meant
#: for the few unknowns of small fits, and a polynomial design of 30
#: features (496 unknowns) on 15 rows took minutes
_MAX_COMPILED_SOLVE = 64


#: below this many rows a start (:meth:`_LinearInFeatures.init`) is one call
#: of the compiled EM path's expert step (serial at every thread count, as
#: that path, which runs below ``skmoe.solvers._em.FUSED_FROM_N`` rows, the
#: same number): the first run compiles one expert kernel, not two; from
#: there on the start takes the statistics and the update (no (n, K) buffer)
_STEP_START_BELOW = 100_000


def _lstsq_update(gram, moment, mass, at, P, fit_intercept):
    """:func:`~skmoe._kernels._wls.wls_update` by ``np.linalg.lstsq``.

    ``P[k] = at[k] + delta_k`` with ``gram[k] delta_k = moment[k]`` (the
    residual form of :class:`LinearStatistics`; the minimum-norm change of a
    singular system, still an exact maximiser); an expert without mass keeps
    its row.
    """
    threshold = 1e-10 * mass.sum()
    m = gram.shape[1] if fit_intercept else gram.shape[1] - 1
    if not fit_intercept:
        P[:, -1] = 0.0
    for k in np.flatnonzero(mass > threshold):
        P[k, :m] = at[k, :m] + np.linalg.lstsq(gram[k, :m, :m], moment[k, :m],
                                               rcond=None)[0]


#: the FFN settings of the GLM kernel, unused by linear experts
_NO_COLUMNS = np.zeros(0, dtype=np.int64)


class _LinearProgram:
    """The compiled EM state of experts linear in a feature map: their rows.

    The features ``phi(X)`` are computed once; the step is the kernel of
    :meth:`_LinearInFeatures.update` on the statistics of the weights, taken
    at the current rows (the residual form of :class:`LinearStatistics`).
    """

    def __init__(self, experts, X, y, expert_params):
        self.experts, self.X = experts, X
        self.F = as_kernel_array(experts._features(X))
        self.y = y
        self.P = as_kernel_array(expert_params).copy()
        self.fit_intercept = bool(experts.fit_intercept)

    def means(self, MU):
        _kernels._wls.linear_means_into(self.F, self.P, MU)

    def step(self, W, MU):
        if self.F.shape[1] + 1 > _MAX_COMPILED_SOLVE:  # the family's update
            self.P = self.experts.m_step(self.X, self.y, W, self.P)
            _kernels._wls.linear_means_into(self.F, self.P, MU)
            return bool(np.isfinite(self.P).all())
        return _kernels._wls.wls_step(self.F, self.y, W, self.P,
                                      self.fit_intercept, MU)

    def params(self):
        return self.P.copy()

    def glm_step(self, law, rows, R, MU, control):
        glm = _kernels._glm
        return glm.glm_irls(law, glm.LINEAR, self.F, *rows, R, self.P,
                            self.fit_intercept, 0, _NO_COLUMNS, 0, 0, 0.0, 0.0, MU,
                            *control)


class _LinearInFeatures(Experts):
    """Experts linear in a fixed feature map: ``h(x) = coef^T phi(x) + intercept``.

    The shared numerics of :class:`LinearExperts` (``phi(x) = x``) and
    :class:`~skmoe.PolynomialExperts` (``phi`` the monomials of ``x``): the
    expert update is closed-form weighted least squares on the design
    ``[phi(x), 1]``, from the :class:`LinearStatistics` of that design (the
    ability ``"statistics"``). A subclass has a ``fit_intercept``
    hyper-parameter and overrides :meth:`_features` and
    :meth:`_n_features_out`. An expert's row holds the ``m`` coefficients of
    ``phi(x)`` followed by the intercept.
    """

    provides = frozenset({"gradient", "statistics", "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("m_step", "update", "statistics", "predict")

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

    def statistics(self, X, y, R, expert_params):
        """Weighted Gram matrices and residual moments at ``expert_params``.

        One pass of a Numba kernel over the design ``[phi(X), 1]`` (the
        intercept column is implicit: ``X`` is never copied).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        expert_params : ndarray of shape (n_experts, n_params)
            The experts whose residuals the statistics sum.

        Returns
        -------
        stats : LinearStatistics
            ``gram`` of shape (n_experts, p, p), ``moment`` of shape
            (n_experts, p), ``mass`` and ``rss`` of shape (n_experts,), at
            ``expert_params``, with ``p`` the number of features of ``phi``
            plus one.
        """
        F = as_kernel_array(self._features(X))
        at = as_kernel_array(expert_params)
        kernel = (_kernels._linear.linear_expert_suffstats_parallel
                  if use_threads(F.shape[0])
                  else _kernels._linear.linear_expert_suffstats)
        gram, moment, rss, mass = kernel(F, y, R, at, True)
        return LinearStatistics(gram, moment, mass, rss, at)

    def update(self, stats, expert_params):
        """Weighted least squares for each expert from the statistics.

        Solves each expert's normal equations for its change from the
        experts the statistics were taken at (``stats.at``). Without
        ``fit_intercept`` the intercept's row and column are dropped and the
        intercept stays zero. An expert whose mass is at most ``1e-10`` of the
        total keeps its parameters; a singular system (fewer effective samples
        than parameters) gets the minimum-norm change, still an exact
        maximiser.

        Parameters
        ----------
        stats : LinearStatistics
            Statistics of :meth:`statistics`, or a weighted average of
            several batches' statistics.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        new = as_kernel_array(expert_params).copy()
        # the kernel of the compiled EM path's expert step: one implementation
        solve = (_kernels._wls.wls_update
                 if stats.gram.shape[1] <= _MAX_COMPILED_SOLVE else _lstsq_update)
        solve(as_kernel_array(stats.gram), as_kernel_array(stats.moment),
              as_kernel_array(stats.mass), as_kernel_array(stats.at), new,
              bool(self.fit_intercept))
        return new

    def init(self, X, y, R, rng):
        """Starting rows: weighted least squares from zeros (:meth:`m_step`).

        Below ``_STEP_START_BELOW`` rows by the kernel of the compiled EM
        path's step (the statistics summed in row order), else by
        :meth:`statistics` and :meth:`update`: the same solution to
        round-off, and by a rule that depends on the number of rows only,
        not on the thread count.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted starting responsibilities.
        rng : numpy.random.RandomState
            Unused.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        F = as_kernel_array(self._features(X))
        if (F.shape[0] >= _STEP_START_BELOW or np.ndim(y) != 1
                or F.shape[1] + 1 > _MAX_COMPILED_SOLVE):
            return super().init(X, y, R, rng)
        P = np.zeros((R.shape[1], F.shape[1] + 1))
        _kernels._wls.wls_step(F, as_kernel_array(y), as_kernel_array(R), P,
                               bool(self.fit_intercept),
                               np.empty((F.shape[0], R.shape[1])))
        return P

    def compiled_program(self, X, y, expert_params):
        """The experts' state and steps for the compiled EM path.

        Ability ``"compiled"``: the rows, updated by weighted least squares
        on ``[phi(X), 1]`` (the kernel of :meth:`update`); see
        :meth:`Experts.compiled_program`.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Targets.
        expert_params : ndarray of shape (n_experts, n_params)
            The starting rows.

        Returns
        -------
        program : object
            The program.
        """
        return _LinearProgram(self, X, y, expert_params)

    def residual_ss(self, stats, expert_params):
        """Residual sums of squares from the statistics, without the data.

        ``rss - 2 delta . moment + delta^T gram delta`` with ``delta =
        expert_params - stats.at`` (see :class:`LinearStatistics`), clipped at
        0 against round-off.

        Parameters
        ----------
        stats : LinearStatistics
            Statistics of :meth:`statistics` (or their average).
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters at which the residuals are taken.

        Returns
        -------
        rss : ndarray of shape (n_experts,)
            Weighted residual sums of squares.
        """
        return stats.residual_ss(expert_params)


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
    provides = frozenset({"gradient", "statistics", "linear", "compiled"})

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

    def linear_means(self, expert_params):
        """Return the slopes and intercepts of the experts (ability ``"linear"``).

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        coef : ndarray of shape (n_experts, n_features)
            The slopes.
        intercept : ndarray of shape (n_experts,)
            The intercept column (zero when not fitted).
        """
        return (as_kernel_array(expert_params[:, :-1]),
                as_kernel_array(expert_params[:, -1]))
