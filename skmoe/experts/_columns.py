"""ColumnExperts: an expert family that reads a selection of the columns of X."""

from numbers import Integral

from ..utils._columns import ColumnSelection
from ..utils._sklearn import Interval
from ._base import Experts

_LINEAR = ("it reads a selection of the columns of X, and the fused EM, the "
           "moment methods and the D2 Voronoi loss work on all of them")


class ColumnExperts(ColumnSelection, Experts):
    """An expert family that reads only some columns of ``X``.

    The experts of :class:`~skmoe.MixtureOfExpertsRegressor` with
    ``expert_features``: every method slices ``X[:, columns]`` and delegates
    to the wrapped family, whose parameter rows are those of a model with
    ``len(columns)`` features. An empty selection gives intercept-only
    experts (for :class:`~skmoe.LinearExperts`: a mixture of Gaussians whose
    weights depend on the gate's features, MoEClust's gating-only model).

    The wrapper has the abilities of the wrapped family except ``"linear"``
    (the model runs the general EM loop, not the fused one: both run the
    same algorithm).

    Parameters
    ----------
    experts : Experts
        The wrapped expert family (an object, not a name).
    columns : array-like of int
        Indices of the columns of ``X`` the experts read, in the order of
        their coefficients; empty for intercept-only experts.
    n_features : int
        Number of columns of ``X`` (the model's ``n_features``).

    See Also
    --------
    skmoe.gating.ColumnGating : The same for the gate.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import LinearExperts
    >>> from skmoe.experts import ColumnExperts
    >>> experts = ColumnExperts(LinearExperts(), columns=[1], n_features=2)
    >>> experts.n_params(2)  # the slope of column 1 and the intercept
    2
    >>> experts.predict(np.array([[10.0, 1.0]]), np.array([[2.0, 0.5]]))
    array([[2.5]])
    """

    _parameter_constraints: dict = {
        "experts": [Experts],
        "columns": ["array-like"],
        "n_features": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, experts, columns, n_features):
        self.experts = experts
        self.columns = columns
        self.n_features = n_features

    _wrapped_name = "experts"
    _lost = {"linear": _LINEAR}

    def compiled_program(self, X, y, expert_params):
        """The wrapped family's program on the selected columns.

        Ability ``"compiled"`` when the wrapped family has it; see
        :meth:`Experts.compiled_program`. The rows are the wrapped family's
        (those of a model with ``len(columns)`` features), the columns are
        copied once per run.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples (all columns).
        y : ndarray of shape (n_samples,)
            Targets.
        expert_params : ndarray of shape (n_experts, n_params)
            The starting rows.

        Returns
        -------
        program : object
            The wrapped family's program.
        """
        return self.experts.compiled_program(self._sub(X), y, expert_params)

    @property
    def strongly_identifiable(self):
        """The wrapped family's answer.

        Returns
        -------
        strongly_identifiable : bool
            Whether the wrapped family is strongly identifiable.
        """
        return self.experts.strongly_identifiable

    # ------------------------------------------------------ the contract
    def n_params(self, n_features):
        """The wrapped family's row length on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features (must be ``n_features``).

        Returns
        -------
        n_params : int
            The number of parameters of one expert.
        """
        return self.experts.n_params(self._width(n_features))

    def n_free_params(self, n_features):
        """The wrapped family's count on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        n_params : int
            The number of free parameters of one expert.
        """
        return self.experts.n_free_params(self._width(n_features))

    def param_blocks(self, n_features):
        """The wrapped family's blocks on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features.

        Returns
        -------
        blocks : dict of str to slice
            Block name to the slice of an expert's parameter row.
        """
        return self.experts.param_blocks(self._width(n_features))

    def param_names(self, feature_names):
        """The wrapped family's names for the selected features.

        Parameters
        ----------
        feature_names : sequence of str
            Names of all the columns of ``X``.

        Returns
        -------
        names : list of str
            One name per entry of an expert's row.
        """
        self._width(len(feature_names))
        return self.experts.param_names([feature_names[j] for j in self._cols()])

    def design_degree(self):
        """The wrapped family's degree in ``x`` (for the data-scale check).

        Returns
        -------
        degree : int
            The degree.
        """
        return self.experts.design_degree()

    def predict(self, X, expert_params):
        """The wrapped family's means on ``X[:, columns]``.

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
        return self.experts.predict(self._sub(X), expert_params)

    def m_step(self, X, y, R, expert_params):
        """The wrapped family's EM update on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        return self.experts.m_step(self._sub(X), y, R, expert_params)

    def pack(self, expert_params):
        """The wrapped family's free parameters.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert.

        Returns
        -------
        theta : ndarray
            The free parameters.
        """
        return self.experts.pack(expert_params)

    def unpack(self, theta, n_experts, n_features):
        """Expert parameters from the wrapped family's free parameters.

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
        return self.experts.unpack(theta, n_experts, self._width(n_features))

    def grad(self, X, expert_params, G):
        """The wrapped family's gradient on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert.
        G : ndarray of shape (n_samples, n_experts)
            Weights of the expert means.

        Returns
        -------
        grad : ndarray
            Gradient in the layout of :meth:`pack`.
        """
        return self.experts.grad(self._sub(X), expert_params, G)

    def statistics(self, X, y, R, expert_params):
        """The wrapped family's statistics on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        expert_params : ndarray of shape (n_experts, n_params)
            The experts at which the statistics are taken.

        Returns
        -------
        stats : tuple of ndarray
            The wrapped family's statistics.
        """
        return self.experts.statistics(self._sub(X), y, R, expert_params)

    def update(self, stats, expert_params):
        """The wrapped family's update from :meth:`statistics`.

        Parameters
        ----------
        stats : tuple of ndarray
            Statistics of :meth:`statistics`.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        return self.experts.update(stats, expert_params)

    def residual_ss(self, stats, expert_params):
        """The wrapped family's residual sums of squares.

        Parameters
        ----------
        stats : tuple of ndarray
            Statistics of :meth:`statistics`.
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters at which the residuals are taken.

        Returns
        -------
        rss : ndarray of shape (n_experts,)
            Weighted residual sums of squares.
        """
        return self.experts.residual_ss(stats, expert_params)

    def init(self, X, y, R, rng):
        """The wrapped family's start on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        y : ndarray of shape (n_samples,)
            Target values.
        R : ndarray of shape (n_samples, n_experts)
            Weighted starting responsibilities.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            The starting parameters.
        """
        return self.experts.init(self._sub(X), y, R, rng)

    def canonicalize(self, expert_params):
        """The wrapped family's canonical representatives.

        Parameters
        ----------
        expert_params : ndarray of shape (n_experts, n_params)
            Parameters of every expert.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        return self.experts.canonicalize(expert_params)

    def random_params(self, n_features, n_experts, rng):
        """Random parameters of the wrapped family on the selected columns.

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
        return self.experts.random_params(self._width(n_features), n_experts, rng)
