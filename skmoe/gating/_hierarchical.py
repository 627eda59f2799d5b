"""Two-level hierarchical softmax gating."""

import math
from numbers import Integral

import numpy as np

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval, StrOptions
from ..utils._threads import use_threads
from ._base import Gating, _random_directions, _weighted_moments
from ._newton import newton_softmax_ascent


class _HierarchicalProgram:
    """The compiled EM state of a two-level softmax tree: both levels' rows.

    The step is the kernel of :meth:`HierarchicalSoftmaxGating.m_step`.
    """

    def __init__(self, gating, X, params):
        f = gating.normalize(params)
        self.gating = gating
        self.X = X
        self.gc = f["gate_extra"]["group_coef"].copy()
        self.gi = f["gate_extra"]["group_intercept"].copy()
        self.coef = f["gate_coef"].copy()
        self.intercept = f["gate_intercept"].copy()
        self.max_iter = gating._max_newton_iter

    def log_weights(self, LW):
        _kernels._softmax_steps.hierarchical_log_weights_into(
            self.X, self.gc, self.gi, self.coef, self.intercept, LW)

    def step(self, R, LW, n_iter, max_iter):
        return _kernels._softmax_steps.hierarchical_newton_step(
            self.X, R, self.gc, self.gi, self.coef, self.intercept, self.max_iter,
            LW), False

    def fields(self):
        return self.gating._fields(self.coef.copy(), self.intercept.copy(),
                                   self.gc.copy(), self.gi.copy())


class HierarchicalSoftmaxGating(Gating):
    """Two-level softmax tree: a softmax over groups times a softmax within them.

    The ``K`` experts are split into ``G = n_groups`` consecutive groups of
    ``m = K / G`` experts; expert ``k = a m + b`` is expert ``b`` of group
    ``a``. With group logits :math:`u_a(x) = \\alpha_{1a}^\\top x +
    \\alpha_{0a}` and expert logits :math:`z_k(x) = \\beta_{1k}^\\top x +
    \\beta_{0k}`,

    .. math::

        g_{am + b}(x) = \\frac{\\exp u_a(x)}{\\sum_{a'} \\exp u_{a'}(x)} \\cdot
            \\frac{\\exp z_{am + b}(x)}{\\sum_{b'} \\exp z_{am + b'}(x)}.

    Parameters
    ----------
    n_groups : int or "auto", default="auto"
        Number of groups ``G`` of the first level; ``n_experts`` must be a
        multiple of it. One group is the flat softmax; ``n_groups =
        n_experts`` is the flat softmax of the group logits. ``"auto"``: the
        largest divisor of ``n_experts`` that is at most
        :math:`\\sqrt{K}` (groups of about :math:`\\sqrt{K}` experts: 2
        groups for 4, 6 or 8 experts, 3 for 9 or 12), which divides every
        ``n_experts``, so the gate fits with the estimator's default
        ``n_experts=3`` and in a grid search over ``n_experts``; for a prime
        ``n_experts`` (2, 3, 5, 7, ...) it is 1 group, the flat softmax.

    Notes
    -----
    The expert logits are ``gate_coef`` and ``gate_intercept`` (one row per
    expert, as for every gate); the group logits are
    ``params.gate_extra["group_coef"]`` (shape ``(G, n_features)``) and
    ``params.gate_extra["group_intercept"]`` (shape ``(G,)``).

    **Identifiability.** Each softmax is invariant to a common shift of its
    logits, so the last group's row and the last expert's row of every group
    are fixed at zero; there are ``(G - 1 + G (m - 1)) (n_features + 1)``
    free parameters. Relabelling experts keeps the model only if groups are
    moved as blocks (and experts within them), so :meth:`permute` rejects
    other permutations.

    **EM update.** The gate objective separates into the group level, a
    weighted multinomial logistic regression on the group responsibilities
    :math:`\\sum_{k \\in a} R_{ik}`, and one such regression per group on its
    own columns of ``R``. Each is concave and increased by one damped Newton
    step with a line search (the update of :class:`SoftmaxGating`), so the
    update never decreases the objective.

    References
    ----------
    .. [1] Jordan, M. I. and Jacobs, R. A. (1994). Hierarchical mixtures of
       experts and the EM algorithm. Neural Computation 6(2), 181-214.
    .. [2] Nguyen, H., Ho, N. and Rinaldo, A. (2025). Convergence rates for
       softmax gating mixture of experts. arXiv:2503.03213.

    Examples
    --------
    >>> from skmoe import HierarchicalSoftmaxGating, MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> gating = HierarchicalSoftmaxGating(n_groups=2)
    >>> X, y, truth = make_moe_regression(500, 2, 4, gating=gating, random_state=0)
    >>> est = MixtureOfExpertsRegressor(4, gating=gating, random_state=0).fit(X, y)
    >>> est.params_.gate_extra["group_coef"].shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        "n_groups": [Interval(Integral, 1, None, closed="left"),
                     StrOptions({"auto"})],
    }

    #: abilities (see skmoe.utils._abilities)
    #: not "short_runs": its random-gate starts climb slowly (at the 10th EM
    #: iteration still 50-85 log-likelihood units per iteration on the
    #: recovery data of tests/test_recovery_gating.py, seed 1), so the pool of
    #: init_params="auto" ranked a stalled regression-line start first and
    #: ended 180 units below the random start's optimum; it starts randomly
    provides = frozenset({"gradient", "smooth", "fixed_model", "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("m_step", "log_weights", "at_iteration")

    #: Newton steps per softmax in one EM gate update (see SoftmaxGating)
    _max_newton_iter = 1

    def __init__(self, n_groups="auto"):
        self.n_groups = n_groups

    def groups(self, n_experts):
        """The number of groups for ``n_experts`` experts (resolves ``"auto"``).

        Parameters
        ----------
        n_experts : int
            Number of experts.

        Returns
        -------
        n_groups : int
            ``n_groups``, or for ``"auto"`` the largest divisor of
            ``n_experts`` that is at most its square root.
        """
        if self.n_groups != "auto":
            return int(self.n_groups)
        return max(g for g in range(1, math.isqrt(n_experts) + 1)
                   if n_experts % g == 0)

    def _sizes(self, n_experts):
        G = self.groups(n_experts)
        return G, n_experts // G

    def check_n_experts(self, n_experts, n_features):
        """Reject ``n_experts`` that ``n_groups`` does not divide.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features.

        Raises
        ------
        ValueError
            If ``n_experts`` is not a multiple of ``n_groups``.
        """
        G = self.groups(n_experts)
        if n_experts % G != 0:
            divisors = [g for g in range(1, n_experts + 1) if n_experts % g == 0]
            raise ValueError(
                f"n_experts={n_experts} must be a multiple of "
                f"n_groups={self.n_groups!r}: every group holds n_experts / "
                f"n_groups experts. Set n_groups to one of {divisors} (or "
                "'auto'), or n_experts to a multiple of it."
            )

    def n_free_params(self, n_features, n_experts):
        """Number of free gate parameters, ``(G - 1 + G (m - 1)) (d + 1)``.

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
        G, m = self._sizes(n_experts)
        return (G - 1 + G * (m - 1)) * (n_features + 1)

    def _fields(self, coef, intercept, group_coef, group_intercept):
        return {
            "gate_coef": as_kernel_array(coef),
            "gate_intercept": as_kernel_array(intercept),
            "gate_extra": {"group_coef": as_kernel_array(group_coef),
                           "group_intercept": as_kernel_array(group_intercept)},
        }

    def init(self, X, sample_weight, n_experts, rng):
        """Random hyperplanes through the weighted mean of ``X``, at both levels.

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
            ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        G, m = self._sizes(n_experts)
        d = X.shape[1]
        mean, std = _weighted_moments(X, sample_weight)
        group_coef = rng.standard_normal((G, d)) / std
        coef = rng.standard_normal((n_experts, d)) / std
        group_coef[-1] = 0.0
        coef.reshape(G, m, d)[:, -1] = 0.0
        return self._fields(coef, -(coef @ mean), group_coef, -(group_coef @ mean))

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate: slopes of norm ``gate_scale`` at both levels.

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
        G, m = self._sizes(n_experts)
        group_coef = _random_directions(rng, G, n_features) * gate_scale
        group_intercept = 0.5 * rng.standard_normal(G)
        coef = _random_directions(rng, n_experts, n_features) * gate_scale
        intercept = 0.5 * rng.standard_normal(n_experts)
        raw = self._fields(coef, intercept, group_coef, group_intercept)
        return self._normalized(raw, n_experts)

    def log_weights(self, X, params):
        """Log group weight plus log weight within the group.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.

        Returns
        -------
        log_weights : ndarray of shape (n_samples, n_experts)
            Log gating weights.
        """
        n = X.shape[0]
        K = params.n_experts
        G, m = self._sizes(K)
        extra = params.gate_extra
        # logits beyond float64's range are +-inf: log_softmax_rows gives the
        # limit of each softmax there
        with np.errstate(over="ignore"):
            U = X @ extra["group_coef"].T
            U += extra["group_intercept"]
            Z = X @ params.gate_coef.T
            Z += params.gate_intercept
        log_softmax_rows = _kernels._logspace.log_softmax_rows
        log_group = log_softmax_rows(U)
        log_within = log_softmax_rows(Z.reshape(n * G, m)).reshape(n, K)
        with np.errstate(over="ignore"):  # a product of weights below 1e-308
            return log_within + np.repeat(log_group, m, axis=1)

    def _normalized(self, fields, n_experts):
        G, m = self._sizes(n_experts)
        coef = fields["gate_coef"]
        intercept = fields["gate_intercept"]
        d = coef.shape[1]
        c3 = coef.reshape(G, m, d)
        i2 = intercept.reshape(G, m)
        gc = fields["gate_extra"]["group_coef"]
        gi = fields["gate_extra"]["group_intercept"]
        return self._fields((c3 - c3[:, -1:]).reshape(n_experts, d),
                            (i2 - i2[:, -1:]).ravel(), gc - gc[-1], gi - gi[-1])

    def normalize(self, params):
        """Last group's row and each group's last expert row set to zero.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        extra = params.gate_extra
        if "group_coef" not in extra:
            # a gate given without its group rows (the k-means start fits the
            # gate from an all-zero one): equal group weights
            G, _ = self._sizes(params.n_experts)
            extra = {**extra, "group_coef": np.zeros((G, params.n_features)),
                     "group_intercept": np.zeros(G)}
        return self._normalized(
            {"gate_coef": params.gate_coef, "gate_intercept": params.gate_intercept,
             "gate_extra": extra},
            params.n_experts,
        )

    def permute(self, params, order):
        """Gate fields after relabelling experts, groups moved as blocks.

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

        Raises
        ------
        ValueError
            If ``order`` splits a group (the relabelled model would not be a
            two-level tree with the same groups).
        """
        K = params.n_experts
        G, m = self._sizes(K)
        order = np.asarray(order)
        old_groups = order.reshape(G, m) // m
        if not np.all(old_groups == old_groups[:, :1]):
            raise ValueError(
                f"HierarchicalSoftmaxGating(n_groups={G}) can only relabel experts "
                f"within groups and move groups of {m} experts as blocks; got "
                f"order={order.tolist()}."
            )
        group_order = old_groups[:, 0]
        extra = params.gate_extra
        moved = self._fields(params.gate_coef[order], params.gate_intercept[order],
                             extra["group_coef"][group_order],
                             extra["group_intercept"][group_order])
        return self._normalized(moved, K)

    def canonical_order(self, mass):
        """Order groups by decreasing total mass, experts within a group likewise.

        Ties by index. Groups move as blocks, as :meth:`permute` requires.

        Parameters
        ----------
        mass : ndarray of shape (n_experts,)
            Average gating weight of every expert on the training data.

        Returns
        -------
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.
        """
        mass = np.asarray(mass)
        G, m = self._sizes(mass.shape[0])
        blocks = mass.reshape(G, m)
        groups = np.argsort(-blocks.sum(axis=1), kind="stable")
        return np.concatenate([
            g * m + np.argsort(-blocks[g], kind="stable") for g in groups
        ])

    def pack(self, params):
        """Free rows of the group level, then of every group, row by row.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """
        K, d = params.n_experts, params.n_features
        G, m = self._sizes(K)
        f = self.normalize(params)
        group = np.hstack([f["gate_extra"]["group_coef"],
                           f["gate_extra"]["group_intercept"][:, None]])
        within = np.hstack([f["gate_coef"], f["gate_intercept"][:, None]])
        within = within.reshape(G, m, d + 1)[:, :-1]
        return np.concatenate([group[:-1].ravel(), within.ravel()])

    def unpack(self, theta, params):
        """Gate fields from a free-parameter vector; inverse of :meth:`pack`.

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes.

        Returns
        -------
        fields : dict
            ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        K, d = params.n_experts, params.n_features
        G, m = self._sizes(K)
        theta = np.asarray(theta, dtype=np.float64)
        n_group = (G - 1) * (d + 1)
        group = np.zeros((G, d + 1))
        group[:-1] = theta[:n_group].reshape(G - 1, d + 1)
        within = np.zeros((G, m, d + 1))
        within[:, :-1] = theta[n_group:].reshape(G, m - 1, d + 1)
        within = within.reshape(K, d + 1)
        return self._fields(within[:, :d], within[:, d], group[:, :d], group[:, d])

    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        The group logits receive ``Gg_a - p_a sum_a Gg_a`` with ``Gg_a =
        sum_{k in a} G_ik`` and ``p`` the group weights; the expert logits of
        group ``a`` receive ``G_ik - q_k sum_{k' in a} G_ik'`` with ``q`` the
        weights within the group.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        params : MoEParams
            Model parameters.
        G : ndarray of shape (n_samples, n_experts)
            Weights of the log gating weights.

        Returns
        -------
        grad : ndarray of shape (n_free_params,)
            Gradient in the layout of :meth:`pack`.
        """
        n = X.shape[0]
        K, d = params.n_experts, params.n_features
        n_groups, m = self._sizes(K)
        extra = params.gate_extra
        U = X @ extra["group_coef"].T + extra["group_intercept"]
        Z = X @ params.gate_coef.T + params.gate_intercept
        log_softmax_rows = _kernels._logspace.log_softmax_rows
        p = np.exp(log_softmax_rows(as_kernel_array(U)))
        q = np.exp(log_softmax_rows(as_kernel_array(Z.reshape(n * n_groups, m))))
        G3 = G.reshape(n, n_groups, m)
        Gg = G3.sum(axis=2)
        du = Gg - p * Gg.sum(axis=1, keepdims=True)
        dz = (G3 - q.reshape(n, n_groups, m) * Gg[:, :, None]).reshape(n, K)
        group = np.hstack([du.T @ X, du.sum(axis=0)[:, None]])[:-1]
        within = np.hstack([dz.T @ X, dz.sum(axis=0)[:, None]])
        within = within.reshape(n_groups, m, d + 1)[:, :-1]
        return np.concatenate([group.ravel(), within.ravel()])

    def convention(self):
        """The last group's row and each group's last expert row at zero.

        Returns
        -------
        convention : str
            ``"last row of each softmax at zero"``.
        """
        return "last row of each softmax at zero"

    def param_blocks(self, n_features, n_experts):
        """The expert rows and the group rows (in ``gate_extra``).

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        blocks : dict of str to tuple
            Field -> ``(shape, per_expert)``.
        """
        G, _ = self._sizes(n_experts)
        return {
            **super().param_blocks(n_features, n_experts),
            "gate_extra.group_coef": ((G, n_features), False),
            "gate_extra.group_intercept": ((G,), False),
        }

    def compiled_program(self, X, params):
        """The gate's state and steps for the compiled EM path.

        Ability ``"compiled"``: the rows of both levels, updated by the
        Newton kernel of :meth:`m_step`; see :meth:`Gating.compiled_program`.

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
        return _HierarchicalProgram(self, X, params)

    def m_step(self, X, R, params, *, likelihood=None):
        """Damped Newton ascent of the group softmax and of each group's softmax.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).
        likelihood : GateLikelihood or None, default=None
            Not used (the update is monotone in the EM surrogate).

        Returns
        -------
        fields : dict
            New ``gate_coef``, ``gate_intercept`` and ``gate_extra``.
        """
        f = self.normalize(params)
        if use_threads(X.shape[0]):  # the levels' ascents with threads
            return self._threaded_m_step(X, R, f)
        gc = f["gate_extra"]["group_coef"].copy()
        gi = f["gate_extra"]["group_intercept"].copy()
        coef = f["gate_coef"].copy()
        intercept = f["gate_intercept"].copy()
        # the kernel of the compiled EM path: one implementation (its
        # objective sums are those of the threaded objective, bit for bit)
        _kernels._softmax_steps.hierarchical_newton_step(
            X, as_kernel_array(R), gc, gi, coef, intercept, self._max_newton_iter,
            np.empty((0, params.n_experts)))
        return self._fields(coef, intercept, gc, gi)

    def _threaded_m_step(self, X, R, f):
        """:meth:`m_step` by :func:`newton_softmax_ascent` on each level.

        The same steps as the compiled kernel; its objective (the parallel
        twin in a fit with threads) gives the same bits.
        """
        n = X.shape[0]
        G, m = self._sizes(R.shape[1])
        R3 = R.reshape(n, G, m)
        gc, gi = newton_softmax_ascent(
            X, as_kernel_array(R3.sum(axis=2)), f["gate_extra"]["group_coef"],
            f["gate_extra"]["group_intercept"], self._max_newton_iter)
        coef = f["gate_coef"].copy()
        intercept = f["gate_intercept"].copy()
        for a in range(G):
            block = slice(a * m, (a + 1) * m)
            coef[block], intercept[block] = newton_softmax_ascent(
                X, as_kernel_array(R[:, block]), as_kernel_array(coef[block]),
                as_kernel_array(intercept[block]), self._max_newton_iter)
        return self._fields(coef, intercept, gc, gi)
