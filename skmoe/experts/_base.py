"""The Experts interface shared by every expert family."""

from abc import ABCMeta, abstractmethod
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator

from ..utils._abilities import Family


class LinearStatistics(NamedTuple):
    """Sufficient statistics of K weighted least-squares fits on ``[phi(x), 1]``.

    The statistics of experts that are linear in a feature map ``phi`` (for
    the ability ``"linear"``, ``phi(x) = x``: the fused EM's kernel computes
    them in its E-step pass), taken **at given experts** ``at`` (one row of
    coefficients of ``f = [phi(x), 1]`` per expert, the experts' parameter
    rows): sums over the samples with the weights ``R`` of the residuals
    ``e_ik = y_i - f_i . at[k]``,

    - ``gram[k] = sum_i R_ik f_i f_i^T``,
    - ``moment[k] = sum_i R_ik f_i e_ik``,
    - ``mass[k] = sum_i R_ik``,
    - ``rss[k] = sum_i R_ik e_ik**2``,

    ``f_i = [phi(x_i), 1]`` (the intercept column always last, also when the
    intercept is not fitted). At ``at = 0`` these are the plain moments
    ``sum_i R_ik f_i y_i`` and ``sum_i R_ik y_i**2``. In this residual form
    the update solves ``gram[k] delta_k = moment[k]`` for the *change*
    ``delta_k`` of each expert, and the residual sum of squares at any experts
    ``at + delta`` is ``rss - 2 delta . moment + delta^T gram delta`` (at the
    solution, ``rss - delta . moment``): the variances need no second pass
    over the data, and the cancellation is only that of the change, which
    vanishes as EM converges.
    """

    gram: np.ndarray
    moment: np.ndarray
    mass: np.ndarray
    rss: np.ndarray
    at: np.ndarray

    def residual_ss(self, coef):
        """Weighted residual sums of squares at the experts ``coef``.

        Parameters
        ----------
        coef : ndarray of shape (n_experts, p)
            Coefficient rows of ``[phi(x), 1]``.

        Returns
        -------
        rss : ndarray of shape (n_experts,)
            ``sum_i R_ik (y_i - f_i . coef[k])**2``, clipped at 0 against
            round-off.
        """
        delta = coef - self.at
        rss = (self.rss - 2.0 * np.einsum("kp,kp->k", delta, self.moment)
               + np.einsum("kp,kpq,kq->k", delta, self.gram, delta))
        return np.maximum(rss, 0.0)

    def recentred(self, at):
        """The same statistics taken at the experts ``at`` (exact algebra).

        Parameters
        ----------
        at : ndarray of shape (n_experts, p)
            The new point.

        Returns
        -------
        stats : LinearStatistics
        """
        delta = at - self.at
        G_delta = np.einsum("kpq,kq->kp", self.gram, delta)
        rss = (self.rss - 2.0 * np.einsum("kp,kp->k", delta, self.moment)
               + np.einsum("kp,kp->k", delta, G_delta))
        return LinearStatistics(self.gram, self.moment - G_delta, self.mass, rss,
                                at)

    def mix(self, other, weight):
        """``(1 - weight) * self + weight * other``, at ``other``'s experts.

        The running average of online EM: both statistics are first taken at
        the same experts (:meth:`recentred`), where sums of statistics are
        the statistics of the union of their samples.

        Parameters
        ----------
        other : LinearStatistics
            The newer statistics.
        weight : float
            The weight of ``other``, in ``[0, 1]``.

        Returns
        -------
        stats : LinearStatistics
        """
        old = self if np.array_equal(self.at, other.at) else self.recentred(other.at)
        return LinearStatistics(
            *((1.0 - weight) * a + weight * b
              for a, b in zip(old[:4], other[:4], strict=True)),
            other.at)


class Experts(Family, BaseEstimator, metaclass=ABCMeta):
    """Base class of expert families (the K regression functions ``h(x; eta_k)``).

    An experts object is a *parameter object*, like a gating object: it stores
    hyper-parameters only; the expert parameters of all K experts live in
    ``MoEParams.expert_params`` (one row per expert, in the layout documented
    by the family and described by :meth:`param_blocks`).

    **The contract.** A family implements :meth:`n_params`,
    :meth:`param_blocks` and :meth:`predict`, and its EM update either as
    :meth:`m_step` or through sufficient statistics (:meth:`statistics`,
    :meth:`update`: then :meth:`m_step` is their composition). Optional
    methods come with an *ability* declared in ``provides`` (see
    :mod:`skmoe.utils._abilities`):

    .. list-table::
       :header-rows: 1

       * - ability
         - methods
         - unlocks
       * - ``"gradient"``
         - :meth:`grad` (with :meth:`pack`, :meth:`unpack`)
         - gradient solvers, standard errors
       * - ``"statistics"``
         - :meth:`statistics`, :meth:`update`, :meth:`residual_ss`
         - ``partial_fit``, fused EM
       * - ``"linear"``
         - :meth:`linear_means` (affine means, exact weighted least squares
           on ``[x, 1]``, blocks ``"coef"`` and ``"intercept"``)
         - fused EM, moment methods, the D2 Voronoi loss
       * - ``"compiled"``
         - :meth:`compiled_program`
         - the compiled EM path

    Notes
    -----
    ``R`` denotes weighted responsibilities, ``R[i, k] = sample_weight[i] *
    r_ik``. The noise variances are updated by the noise model, not by the
    family.
    """

    _parameter_constraints: dict = {}

    #: Whether the family is strongly identifiable in the sense of the
    #: convergence-rate papers (PAPERS.md section 2): its parameters converge
    #: at polynomial rates, and its Voronoi loss is D1 (False: D2 for linear
    #: experts).
    strongly_identifiable = False

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

    def input_columns(self, n_features):
        """The columns of ``X`` the experts read (all of them by default).

        Parameters
        ----------
        n_features : int
            Number of columns of ``X``.

        Returns
        -------
        columns : ndarray of int
            Indices into the columns of ``X``; a family on a selection
            (:class:`~skmoe.experts.ColumnExperts`) reads fewer.
        """
        return np.arange(n_features)

    def param_names(self, feature_names):
        """Name the entries of an expert's parameter row.

        Built from :meth:`param_blocks`: the ``"coef"`` block takes the names
        of the input features, ``"intercept"`` is ``"(Intercept)"`` (as in
        R), another one-entry block its name and the entries of a longer
        block ``"<block>[<i>]"``. Used by the summary and the standard-error
        tables; a family whose entries have better names overrides it.

        Parameters
        ----------
        feature_names : sequence of str
            Names of the features the experts read (one per input column).

        Returns
        -------
        names : list of str
            One name per entry of an expert's row (``n_params`` of them).
        """
        d = len(feature_names)
        names = [f"param[{j}]" for j in range(self.n_params(d))]
        for block, part in self.param_blocks(d).items():
            index = range(*part.indices(len(names)))
            for i, j in enumerate(index):
                if block == "coef" and len(index) == d:
                    names[j] = str(feature_names[i])
                elif block == "intercept" and len(index) == 1:
                    names[j] = "(Intercept)"
                elif len(index) == 1:
                    names[j] = block
                else:
                    names[j] = f"{block}[{i}]"
        return names

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

    def design_degree(self):
        """Largest total degree in ``x`` of the products the update forms.

        The data-scale check of ``fit`` (``skmoe.utils._validation``) bounds
        the monomials of this degree. 1 by default (features used as they
        are); :class:`~skmoe.PolynomialExperts` returns its ``degree``.

        Returns
        -------
        degree : int
            The degree.
        """
        return 1

    def linear_means(self, expert_params):
        """The experts as affine functions of ``X`` (ability ``"linear"``).

        ``predict(X, expert_params)`` equals ``X @ coef.T + intercept`` for
        all ``X`` (up to round-off).

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert, one row per expert.

        Returns
        -------
        coef : ndarray of shape (n_experts, n_features)
            Slopes, C-contiguous float64.
        intercept : ndarray of shape (n_experts,)
            Intercepts.
        """
        raise self._no("linear")

    def _no(self, ability):
        return NotImplementedError(
            f"{type(self).__name__} lacks the ability {ability!r}: "
            f"{self.lacks(ability)}."
        )

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

        Notes
        -----
        The default is ``update(statistics(X, y, R, expert_params),
        expert_params)``, for families with the ability ``"statistics"``;
        other families override it.
        """
        return self.update(self.statistics(X, y, R, expert_params), expert_params)

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
        """
        raise self._no("gradient")

    def statistics(self, X, y, R, expert_params):
        """Sufficient statistics of the expert update (ability ``"statistics"``).

        Arrays that are sums over the samples, taken at the experts
        ``expert_params``, so that a weighted average of the statistics of
        several batches taken at the same experts is the statistic of their
        union (``LinearStatistics.mix`` moves them to common experts first).
        Batch EM (:meth:`m_step`), the fused EM (whose kernel computes the
        same sums in its E-step pass) and online EM (running averages) all
        update the experts by :meth:`update` from them.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        expert_params : ndarray of shape (n_experts, n_params)
            The experts at which the statistics are taken (the current ones:
            the residual form of :class:`LinearStatistics`).

        Returns
        -------
        stats : tuple of ndarray
            The family's statistics; their ``mass`` field is ``sum_i R_ik``,
            and their ``mix(other, weight)`` is the running average ``(1 -
            weight) * stats + weight * other`` of online EM.
        """
        raise self._no("statistics")

    def update(self, stats, expert_params):
        """The expert M-step from statistics (ability ``"statistics"``).

        Parameters
        ----------
        stats : tuple of ndarray
            Statistics of :meth:`statistics`, or a weighted average of several.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters (kept for an expert without mass).

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            The maximiser of the weighted Gaussian log-likelihood given by
            ``stats``, a new array.
        """
        raise self._no("statistics")

    def residual_ss(self, stats, expert_params):
        """Weighted residual sums of squares from statistics (``"statistics"``).

        The variance update of the fused EM and of online EM, which see the
        statistics, not the experts' residuals.

        Parameters
        ----------
        stats : tuple of ndarray
            Statistics of :meth:`statistics`.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters at which the residuals are taken.

        Returns
        -------
        rss : ndarray of shape (n_experts,)
            ``sum_i R_ik (y_i - h(x_i; eta_k))^2``, non-negative.
        """
        raise self._no("statistics")

    def compiled_program(self, X, y, expert_params):
        """The experts' EM state and steps for the compiled EM path.

        Ability ``"compiled"``. The returned object holds the experts' rows
        (a copy of ``expert_params``) and runs the family's own update
        through compiled kernels, with these methods:

        - ``means(MU)``: the experts' outputs at the current rows into ``MU``
          (shape ``(n_samples, n_experts)``);
        - ``step(W, MU) -> finite``: :meth:`m_step` with the weights ``W``
          (the same kernel: equal to round-off), then the outputs at the new
          rows into ``MU``; whether the new rows are finite;
        - ``glm_step(law, rows, R, MU, control) -> finite``: the M-step of
          the experts under a GLM response law (Poisson, binomial): IRLS on
          the family's own update, all in the kernel
          :func:`~skmoe._kernels._glm.glm_irls` with the family's kind and
          settings; ``law`` the law's code, ``rows`` its row arrays ``(y,
          trials, const, sat)``, ``control`` ``(max_iter, tol,
          max_halvings)`` (see :meth:`skmoe.noise.PoissonNoise.expert_step`);
          the new outputs (linear predictors) into ``MU``;
        - ``params() -> ndarray``: the current rows.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples (kept by the program).
        y : ndarray of shape (n_samples,)
            Targets.
        expert_params : ndarray of shape (n_experts, n_params)
            The starting rows.

        Returns
        -------
        program : object
            The program.
        """
        raise self._no("compiled")

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
