"""ColumnGating: a gating family that reads a selection of the columns of X."""

from numbers import Integral

from ..utils._arrays import as_kernel_array
from ..utils._columns import ColumnSelection
from ..utils._sklearn import Interval
from ._base import Gating

#: the gate fields of MoEParams (what a gating family may read and replace)
GATE_FIELDS = ("gate_coef", "gate_intercept", "gate_extra")

#: abilities a column selection loses, with the reason
_LOST = {
    "linear": "it reads a selection of the columns of X, and the fused EM and "
              "the moment methods work on all of them",
    "atoms": "the Voronoi losses compare gate rows over all the columns of X",
    "softmax_atoms": "the dendrogram merges gate rows over all the columns of X",
}


class _GateView:
    """The model as the wrapped gate sees it: the gate fields of a selection.

    A gating family reads only the gate fields and the sizes of its
    ``params`` and changes only gate fields through ``params.replace`` (the
    contract of :class:`~skmoe.Gating`); this view has exactly those, with
    ``n_features`` the number of selected columns.
    """

    __slots__ = ("gate_coef", "gate_intercept", "gate_extra", "n_features")

    def __init__(self, gate_coef, gate_intercept, gate_extra, n_features):
        self.gate_coef = gate_coef
        self.gate_intercept = gate_intercept
        self.gate_extra = gate_extra
        self.n_features = n_features

    @property
    def n_experts(self):
        return self.gate_coef.shape[0]

    def replace(self, **changes):
        unknown = set(changes) - set(GATE_FIELDS)
        if unknown:
            raise TypeError(
                f"a gating family changes gate fields only; got {sorted(unknown)}."
            )
        fields = {name: getattr(self, name) for name in GATE_FIELDS}
        fields.update(changes)
        return _GateView(as_kernel_array(fields["gate_coef"]),
                         as_kernel_array(fields["gate_intercept"]),
                         {k: as_kernel_array(v)
                          for k, v in dict(fields["gate_extra"]).items()},
                         self.n_features)


class ColumnGating(ColumnSelection, Gating):
    """A gating family that reads only some columns of ``X``.

    The gate of :class:`~skmoe.MixtureOfExpertsRegressor` with
    ``gate_features``: every method slices ``X[:, columns]`` and delegates to
    the wrapped family, which sees a model with ``len(columns)`` features.
    ``gate_coef`` then has one column per selected feature; an empty
    selection gives covariate-free weights ``softmax(gate_intercept)``, the
    classic mixture of regressions (flexmix's default ``FLXPconstant``,
    mixtools' ``regmixEM``).

    The wrapper has the abilities of the wrapped family except ``"linear"``
    (so the model runs the general EM loop, not the fused one: both run the
    same algorithm), ``"atoms"`` and ``"softmax_atoms"`` (the Voronoi losses
    and the dendrogram compare gate rows over all of ``X``).

    Parameters
    ----------
    gating : Gating
        The wrapped gating family (an object, not a name).
    columns : array-like of int
        Indices of the columns of ``X`` the gate reads, in the order of the
        columns of ``gate_coef``; empty for covariate-free weights.
    n_features : int
        Number of columns of ``X`` (the model's ``n_features``).

    See Also
    --------
    skmoe.experts.ColumnExperts : The same for the experts.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import MoEParams, SoftmaxGating
    >>> from skmoe.gating import ColumnGating
    >>> # a gate on the second of two features, experts on both
    >>> params = MoEParams(
    ...     gate_coef=[[3.0], [0.0]], gate_intercept=[0.0, 0.0],
    ...     expert_params=[[1.0, 0.0, 0.0], [-1.0, 0.0, 1.0]], variance=[0.1, 0.1],
    ...     gating=ColumnGating(SoftmaxGating(), columns=[1], n_features=2))
    >>> params.n_features
    2
    >>> params.gates(np.array([[5.0, 0.0], [-5.0, 0.0]]))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """

    _parameter_constraints: dict = {
        "gating": [Gating],
        "columns": ["array-like"],
        "n_features": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, gating, columns, n_features):
        self.gating = gating
        self.columns = columns
        self.n_features = n_features

    _wrapped_name = "gating"
    _lost = _LOST

    def _view(self, params):
        return _GateView(params.gate_coef, params.gate_intercept,
                         params.gate_extra, self._cols().size)

    def n_inputs(self, gate_width):
        """``n_features``, after checking ``gate_coef``'s width.

        Parameters
        ----------
        gate_width : int
            Number of columns of ``gate_coef``.

        Returns
        -------
        n_features : int
            The number of columns of ``X``.
        """
        m = self._cols().size
        if gate_width != m:
            raise ValueError(
                f"gate_coef must have one column per gate feature ({m}, columns "
                f"{self._cols().tolist()}); got {gate_width}."
            )
        return int(self.n_features)

    # ------------------------------------------------------ the contract
    def check_n_experts(self, n_experts, n_features):
        """Check the data's width and the wrapped family on the selection.

        Parameters
        ----------
        n_experts : int
            Number of experts of the model.
        n_features : int
            Number of input features (must be ``n_features``).
        """
        self.gating.check_n_experts(n_experts, self._width(n_features))

    def n_free_params(self, n_features, n_experts):
        """The wrapped family's count on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        n_params : int
            The number of free gate parameters.
        """
        return self.gating.n_free_params(self._width(n_features), n_experts)

    def param_blocks(self, n_features, n_experts):
        """The wrapped family's blocks on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        blocks : dict of str to tuple
            Field -> ``(shape, per_expert)``, ``gate_coef`` with one column
            per selected feature.
        """
        return self.gating.param_blocks(self._width(n_features), n_experts)

    def summary_fields(self, n_features, n_experts):
        """The wrapped family's labels and tests on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        fields : dict of str to tuple
            Field -> ``(label, wald)``.
        """
        return self.gating.summary_fields(self._width(n_features), n_experts)

    def init(self, X, sample_weight, n_experts, rng):
        """The wrapped family's start on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        sample_weight : ndarray of shape (n_samples,)
            Sample weights.
        n_experts : int
            Number of experts.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.init(self._sub(X), sample_weight, n_experts, rng)

    def start_extra(self, n_experts):
        """The wrapped family's starting ``gate_extra`` state.

        Parameters
        ----------
        n_experts : int
            Number of experts.

        Returns
        -------
        extra : dict
            See :meth:`skmoe.Gating.start_extra`.
        """
        return self.gating.start_extra(n_experts)

    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random gate of the wrapped family on the selected columns.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Scale of the gate's dependence on ``x``.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.random_params(self._width(n_features), n_experts, gate_scale,
                                         rng)

    def log_weights(self, X, params):
        """Log gating weights of the wrapped family on ``X[:, columns]``.

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
        return self.gating.log_weights(self._sub(X), self._view(params))

    def normalize(self, params):
        """The wrapped family's normalisation.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.normalize(self._view(params))

    def pack(self, params):
        """The wrapped family's free parameters.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """
        return self.gating.pack(self._view(params))

    def unpack(self, theta, params):
        """Gate fields from the wrapped family's free parameters.

        Parameters
        ----------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        params : MoEParams
            Model parameters giving the sizes.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.unpack(theta, self._view(params))

    def permute(self, params, order):
        """The wrapped family's relabelling.

        Parameters
        ----------
        params : MoEParams
            Model parameters.
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.permute(self._view(params), order)

    def convention(self):
        """The wrapped family's identifiability convention.

        Returns
        -------
        convention : str or None
            The convention.
        """
        return self.gating.convention()

    def canonical_order(self, mass):
        """The wrapped family's canonical order.

        Parameters
        ----------
        mass : ndarray of shape (n_experts,)
            Average gating weight of every expert.

        Returns
        -------
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.
        """
        return self.gating.canonical_order(mass)

    def m_step(self, X, R, params, *, likelihood=None):
        """The wrapped family's EM update on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters.
        likelihood : GateLikelihood or None, default=None
            Passed on.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.m_step(self._sub(X), R, self._view(params),
                                  likelihood=likelihood)

    def compiled_program(self, X, params):
        """The wrapped family's program on the selected columns.

        Ability ``"compiled"`` when the wrapped family has it; see
        :meth:`~skmoe.Gating.compiled_program`. The program sees the view of
        :meth:`m_step` (the gate fields, ``len(columns)`` features) and the
        selected columns, copied once per run; its fields are the gate
        fields of the model.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples (all columns).
        params : MoEParams
            The starting parameters.

        Returns
        -------
        program : object
            The wrapped family's program.
        """
        return self.gating.compiled_program(self._sub(X), self._view(params))

    def needs_likelihood(self):
        """The wrapped family's answer.

        Returns
        -------
        needs : bool
            Whether the EM solver passes the observed likelihood.
        """
        return self.gating.needs_likelihood()

    def at_iteration(self, params, iteration, max_iter):
        """The wrapped family's schedule.

        Parameters
        ----------
        params : MoEParams
            Parameters after the M-step.
        iteration : int
            EM iteration number, from 1.
        max_iter : int
            Maximum number of EM iterations.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
        """
        return self.gating.at_iteration(self._view(params), iteration, max_iter)

    def weighted_objective(self, X, R, params):
        """The wrapped family's gate objective on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Model parameters.

        Returns
        -------
        value : float
            ``sum_ik R_ik log g_k(x_i)``.
        """
        return self.gating.weighted_objective(self._sub(X), R, self._view(params))

    def grad(self, X, params, G):
        """The wrapped family's gradient on the selected columns.

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
        return self.gating.grad(self._sub(X), self._view(params), G)

    def statistics(self, X, R, params):
        """The wrapped family's statistics on the selected columns.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters.

        Returns
        -------
        stats : tuple
            The wrapped family's statistics.
        """
        return self.gating.statistics(self._sub(X), R, self._view(params))

    def update(self, stats, params):
        """The wrapped family's update from :meth:`statistics`.

        Parameters
        ----------
        stats : tuple
            Statistics of :meth:`statistics`.
        params : MoEParams
            Current parameters.

        Returns
        -------
        step : object
            The wrapped family's proposal.
        """
        return self.gating.update(stats, self._view(params))

    def shift_invariant(self):
        """The wrapped family's answer.

        Returns
        -------
        invariant : bool
            True if a common shift of the gate rows changes nothing.
        """
        return self.gating.shift_invariant()
