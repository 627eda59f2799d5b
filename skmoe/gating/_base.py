"""The Gating contract shared by every gating family."""

from abc import ABCMeta, abstractmethod
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator

from ..utils._abilities import Family


class NewtonTerms(NamedTuple):
    """Statistics of a Newton gate update: the objective's local quadratic model.

    ``value``, ``grad`` and ``neg_hess`` of ``sum_ik R_ik log
    softmax_k(X coef^T + intercept)`` in the free rows ``theta`` (rows ``0 ..
    K-2`` of ``[coef | intercept]``, row by row, :func:`free_rows`) of the
    point where they are taken, and the number of samples they sum over
    (which sets the objective's round-off, :func:`objective_noise`). Sums
    over the samples: online EM averages ``neg_hess`` and ``grad + neg_hess
    @ theta``, the terms of the local quadratic model.
    """

    value: float
    grad: np.ndarray
    neg_hess: np.ndarray
    n_samples: int
    theta: np.ndarray

    @classmethod
    def at_gate(cls, value, grad, neg_hess, n_samples, coef, intercept):
        """The terms taken at the gate ``(coef, intercept)`` (last row zero).

        Parameters
        ----------
        value, grad, neg_hess : float, ndarray, ndarray
            The objective's value, gradient and negative Hessian.
        n_samples : int
            Number of samples summed over.
        coef, intercept : ndarray
            The gate of shapes (n_experts, n_features) and (n_experts,).

        Returns
        -------
        terms : NewtonTerms
        """
        return cls(value, grad, neg_hess, n_samples, free_rows(coef, intercept))


def free_rows(coef, intercept):
    """The free rows ``0 .. K-2`` of ``[coef | intercept]``, row by row."""
    return np.hstack([coef, intercept[:, None]])[:-1].ravel()


class Gating(Family, BaseEstimator, metaclass=ABCMeta):
    """Base class of gating families (the map from ``x`` to expert weights).

    A gating object is a *parameter object*: ``__init__`` stores its
    hyper-parameters and nothing else, it has no ``fit``, and it holds no
    fitted numbers. The numbers live in :class:`~skmoe.MoEParams`
    (``gate_coef``, ``gate_intercept`` and the family's extra fields in
    ``gate_extra``); the methods below compute with them and return
    dictionaries of fields. This is what lets ``GridSearchCV`` clone gating
    objects and search nested keys such as ``gating__temperature``.

    **The contract.** A family implements the abstract methods (the model:
    :meth:`n_free_params`, :meth:`init`, :meth:`random_params`,
    :meth:`log_weights`; its parametrisation: :meth:`normalize`,
    :meth:`pack`, :meth:`unpack`; its EM update: :meth:`m_step`). The other
    methods have defaults that are right for every family whose extra fields
    are declared in :meth:`param_blocks`. Optional methods come with an
    *ability* declared in ``provides`` (see :mod:`skmoe.utils._abilities`);
    consumers check abilities, never classes:

    .. list-table::
       :header-rows: 1

       * - ability
         - methods
         - unlocks
       * - ``"gradient"``
         - :meth:`grad`
         - gradient solvers, standard errors
       * - ``"smooth"``
         - (a declaration)
         - standard errors
       * - ``"fixed_model"``
         - (a declaration: no :meth:`at_iteration` schedule)
         - gradient solvers, ``partial_fit``
       * - ``"statistics"``
         - :meth:`statistics`, :meth:`update`
         - ``partial_fit``, fused EM
       * - ``"linear"``
         - :meth:`linear_logits`
         - fused EM
       * - ``"atoms"``
         - :meth:`atom_weights`, :meth:`split_atoms`, ``voronoi_family``
         - Voronoi losses, near-true starts
       * - ``"softmax_atoms"``
         - (atom weights are ``exp(intercept)``)
         - the dendrogram
       * - ``"compiled"``
         - :meth:`compiled_program`
         - the compiled EM path

    A configuration that lacks an ability its class provides (a top-K gate
    is not smooth) says why in ``_lacks(ability, n_experts)``.

    Notes
    -----
    Methods receive validated, C-contiguous float64 arrays. ``R`` denotes
    *weighted responsibilities*: ``R[i, k] = sample_weight[i] * r_ik`` with
    ``r_ik`` the posterior probability that routed expert ``k`` generated
    sample ``i``. With shared experts (``MoEParams.n_shared_experts > 0``) the
    rows of ``R`` sum to less than the sample weight: the rest of the mass
    belongs to the shared experts, whose weights do not depend on the gate.
    """

    _parameter_constraints: dict = {}

    # ------------------------------------------------------------ the size
    def check_n_experts(self, n_experts, n_features):
        """Check hyper-parameters against the model size, before any kernel runs.

        Also the place for checks between hyper-parameters of the family
        (after ``_validate_params`` has checked each one alone).

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

    def n_inputs(self, gate_width):
        """Number of input features of a model whose ``gate_coef`` has this width.

        :class:`~skmoe.MoEParams` takes its ``n_features`` from here. The
        default, for a gate that reads every feature, is ``gate_width``; a
        gate on a selection of the columns
        (:class:`~skmoe.gating.ColumnGating`) knows the width of the data.

        Parameters
        ----------
        gate_width : int
            Number of columns of ``gate_coef``.

        Returns
        -------
        n_features : int
            The number of columns of ``X``.
        """
        return gate_width

    def input_columns(self, n_features):
        """The columns of ``X`` the gate reads (all of them by default).

        Parameters
        ----------
        n_features : int
            Number of columns of ``X``.

        Returns
        -------
        columns : ndarray of int
            Indices into the columns of ``X``, in the order of the columns of
            ``gate_coef``.
        """
        return np.arange(n_features)

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

    def param_blocks(self, n_features, n_experts):
        """Every gate field of the family, with its shape.

        ``MoEParams`` checks the shapes, :meth:`permute` reorders the
        per-expert blocks, and the standard errors and near-true starts lay
        out the fields by this table, so a family with extra fields in
        ``gate_extra`` declares them here (keys ``"gate_extra.<name>"``).

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        blocks : dict of str to tuple
            Field -> ``(shape, per_expert)``; ``per_expert`` is True when the
            first axis is the expert (the block moves with its expert).
        """
        return {
            "gate_coef": ((n_experts, n_features), True),
            "gate_intercept": ((n_experts,), True),
        }

    def summary_fields(self, n_features, n_experts):
        """How a summary labels the gate fields and whether it tests them.

        A Wald test of zero is meaningful for a coefficient of the logits
        (zero: the covariate does not move the gate) and not for, say, a
        centre, a log-weight or a precision. The default tests
        ``gate_coef``, ``gate_intercept`` and every extra field whose name
        ends in ``_coef`` or ``_intercept``, and labels them by feature
        name and ``"(Intercept)"``.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.

        Returns
        -------
        fields : dict of str to tuple
            Field (as in :meth:`param_blocks`) -> ``(label, wald)``:
            ``label`` is None (the default names) or the name of the field,
            put before the feature name of a ``gate_coef`` entry and used as
            the term of a ``gate_intercept`` entry; ``wald`` is True when a
            Wald test of zero is meaningful for the field's entries.
        """
        return {name: (None, name in ("gate_coef", "gate_intercept")
                       or name.endswith(("_coef", "_intercept")))
                for name in self.param_blocks(n_features, n_experts)}

    # ----------------------------------------------------------- the model
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

    def start_extra(self, n_experts):
        """The ``gate_extra`` state a fit starts from, whatever its gate rows.

        The state of a schedule run over EM iterations (a scheduled
        temperature, the smoothing of an annealed top-K selection) that
        :meth:`init` puts in ``gate_extra`` besides the random rows. Starts
        that fit the gate to clusters instead of drawing it
        (``init_params="kmeans"``, the candidates of ``"auto"``) begin from
        this state, so that the schedule runs as from a random start. The
        base class has none.

        Parameters
        ----------
        n_experts : int
            Number of experts.

        Returns
        -------
        extra : dict
            Name -> array of ``gate_extra`` (empty without a schedule).
        """
        return {}

    @abstractmethod
    def random_params(self, n_features, n_experts, gate_scale, rng):
        """A random true gate in the family's normalisation, for data generators.

        Parameters
        ----------
        n_features : int
            Number of input features.
        n_experts : int
            Number of experts.
        gate_scale : float
            Scale of the gate's dependence on ``x``: larger is a sharper
            partition of ``x``.
        rng : numpy.random.RandomState
            Random generator.

        Returns
        -------
        fields : dict
            Gate fields for :class:`~skmoe.MoEParams`.
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

    # ------------------------------------------------------ parametrisation
    @abstractmethod
    def normalize(self, params):
        """Gate fields in the family's identifiability normalisation.

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        fields : dict
            Normalised gate fields; the model is unchanged.
        """

    @abstractmethod
    def pack(self, params):
        """Free gate parameters as one vector.

        Used by the gradient solvers, online EM, the standard errors and the
        near-true starts (which perturb free parameters only, so a field the
        family holds fixed is never perturbed).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        theta : ndarray of shape (n_free_params,)
            The free parameters.
        """

    @abstractmethod
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
            Gate fields.
        """

    def permute(self, params, order):
        """Gate fields after relabelling the experts.

        The default moves every per-expert block of :meth:`param_blocks` with
        its expert and re-applies :meth:`normalize`.

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
        blocks = self.param_blocks(params.n_features, params.n_experts)
        moved = {}
        extra = dict(params.gate_extra)
        for name, (_, per_expert) in blocks.items():
            if not per_expert:
                continue
            if name.startswith("gate_extra."):
                key = name[len("gate_extra."):]
                extra[key] = extra[key][order]
                moved["gate_extra"] = extra
            else:
                moved[name] = getattr(params, name)[order]
        return self.normalize(params.replace(**moved))

    def convention(self):
        """The family's identifiability convention, in words.

        What :meth:`normalize` holds fixed, for example ``"last row at
        zero"`` (the softmax of linear logits, the pinned normalized sigmoid)
        or ``"all rows free"``. Studies check that a truth follows the
        fitted family's convention and the Voronoi loss D4 that its reference
        does (:mod:`skmoe.convergence`, :mod:`skmoe.metrics`). The default is
        None (no convention to check).

        Returns
        -------
        convention : str or None
            The convention.
        """
        return None

    def canonical_order(self, mass):
        """Order of the experts in a fitted model, from their gating mass.

        ``MixtureOfExpertsRegressor.fit`` relabels the experts of every fit
        with this order (through :meth:`permute`), so that two fits of the
        same data can be compared without matching. The default sorts by
        decreasing mass, ties by index; a family whose :meth:`permute`
        accepts only some permutations overrides it.

        Parameters
        ----------
        mass : ndarray of shape (n_experts,)
            Average gating weight of every expert on the training data.

        Returns
        -------
        order : ndarray of int of shape (n_experts,)
            New position ``j`` holds old expert ``order[j]``.
        """
        return np.argsort(-np.asarray(mass), kind="stable")

    # ------------------------------------------------------------------ EM
    @abstractmethod
    def m_step(self, X, R, params, *, likelihood=None):
        """Gate update of (generalised) EM.

        Increases, and never decreases, ``sum_ik R_ik log g_k(x_i)`` starting
        from the gate in ``params`` (:meth:`weighted_objective`); this is
        what keeps EM monotone. A family whose :meth:`needs_likelihood` is
        True receives ``likelihood`` and may increase that instead (an ECME
        step).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples.
        R : ndarray of shape (n_samples, n_experts)
            Weighted responsibilities.
        params : MoEParams
            Current parameters (the starting point).
        likelihood : GateLikelihood or None, default=None
            The observed log-likelihood as a function of the gate, passed
            only when :meth:`needs_likelihood` is True.

        Returns
        -------
        fields : dict
            New gate fields.
        """

    def needs_likelihood(self):
        """Whether :meth:`m_step` needs the observed likelihood of the gate.

        When True, the EM solver passes ``likelihood=GateLikelihood(...)`` to
        :meth:`m_step`, built with the experts and variances already updated
        in the same iteration (an ECME step, monotone in the observed
        log-likelihood). The top-K gates need it: their EM surrogate is
        ``-inf`` as soon as an input's selected set changes. The default is
        False.

        Returns
        -------
        needs : bool
            Whether to pass ``likelihood``.
        """
        return False

    def at_iteration(self, params, iteration, max_iter):
        """Scheduled change of the gate after an EM iteration's M-step.

        The EM solver calls it after every M-step (before the E-step that
        evaluates the new parameters). A non-empty result changes the model
        (the log-likelihood may then decrease once), and EM does not declare
        convergence on that iteration. Keep the schedule's state in
        ``gate_extra`` so that a warm start continues it. A family with a
        schedule lacks the ability ``"fixed_model"`` while it runs. The
        default schedules nothing.

        Parameters
        ----------
        params : MoEParams
            Parameters after the M-step.
        iteration : int
            EM iteration number of the current run, from 1.
        max_iter : int
            Maximum number of EM iterations of the run.

        Returns
        -------
        fields : dict
            Gate fields to replace in ``params``; empty when nothing changes.
        """
        return {}

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

    # ------------------------------------------------------------ abilities
    def _no(self, ability):
        return NotImplementedError(
            f"{type(self).__name__} lacks the ability {ability!r}: "
            f"{self.lacks(ability)}."
        )

    def grad(self, X, params, G):
        """Gradient of ``sum_ik G_ik log g_k(x_i)`` in the free parameters.

        Ability ``"gradient"``. The vector-Jacobian product of
        :meth:`log_weights`: with ``G = dL / dlog_weights`` it returns ``dL /
        dtheta`` for ``theta = pack(params)``.

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
        """
        raise self._no("gradient")

    def statistics(self, X, R, params):
        """Sufficient statistics of the gate update at ``params``.

        Ability ``"statistics"``: sums over the samples (so that averages of
        several batches' statistics are meaningful), from which
        :meth:`update` computes the M-step. Batch EM (:meth:`m_step`), the
        fused EM (whose kernel computes the same sums in its E-step pass)
        and online EM (running averages) all go through :meth:`update`.

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
            The family's statistics.
        """
        raise self._no("statistics")

    def update(self, stats, params):
        """The gate update from :meth:`statistics` (ability ``"statistics"``).

        Parameters
        ----------
        stats : tuple
            Statistics, possibly averaged over batches.
        params : MoEParams
            Current parameters.

        Returns
        -------
        step : object
            The family's proposal (for the softmax, a
            :class:`~skmoe.gating._newton.NewtonProposal`).
        """
        raise self._no("statistics")

    def compiled_program(self, X, params):
        """The gate's EM state and steps for the compiled EM path.

        Ability ``"compiled"``. The returned object holds the gate as flat
        arrays (built from ``params`` once) and runs the family's own update
        through compiled kernels, with these methods:

        - ``log_weights(LW)``: the log gating weights of the current gate
          into ``LW`` (shape ``(n_samples, n_experts)``);
        - ``step(R, LW, n_iter, max_iter) -> (finite, scheduled)``: the gate's
          :meth:`m_step` from the weighted responsibilities ``R`` (the same
          kernel: equal to round-off), then :meth:`at_iteration`, leaving the
          log-weights of the new gate in ``LW``; ``finite`` says whether the
          new gate is finite, ``scheduled`` whether the schedule changed the
          model. On entry ``LW`` holds what the program's last
          ``log_weights`` or ``step`` left there (the compiled EM never
          writes it), which the step may take as the current gate's;
        - ``fields() -> dict``: the gate fields of the current gate, for
          :class:`~skmoe.MoEParams`.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input samples (kept by the program).
        params : MoEParams
            The starting parameters.

        Returns
        -------
        program : object
            The program.
        """
        raise self._no("compiled")

    def linear_logits(self, params):
        """The gate as a plain linear softmax (ability ``"linear"``).

        ``log_weights(X, params)`` equals ``log_softmax(X @ coef.T +
        intercept)`` for all ``X`` (up to round-off).

        Parameters
        ----------
        params : MoEParams
            Model parameters.

        Returns
        -------
        coef : ndarray of shape (n_experts, n_features)
            Slopes of the logits, C-contiguous float64.
        intercept : ndarray of shape (n_experts,)
            Intercepts of the logits.
        """
        raise self._no("linear")

    #: which Voronoi losses of PAPERS.md section 4 measure a family with the
    #: ability "atoms": "softmax" (D1, D2: atom weights exp(beta_0)) or
    #: "sigmoid" (D3, D4: atom weights sigmoid(beta_0)); None without atoms
    voronoi_family = None

    def shift_invariant(self):
        """Tell whether a common shift of all gate rows leaves the gate unchanged.

        True for the softmax of linear logits: the Voronoi losses then
        compare slopes up to a common translation (see
        :func:`skmoe.metrics.voronoi_loss`). The default is False.

        Returns
        -------
        invariant : bool
            True if the gate is invariant to a common shift of its rows.
        """
        return False

    def atom_weights(self, gate_intercept):
        """Weight of every expert's Voronoi atom (ability ``"atoms"``).

        Parameters
        ----------
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts (in the family's normalisation).

        Returns
        -------
        weights : ndarray of shape (n_experts,)
            ``exp(beta_0k)`` for the softmax, ``sigmoid(beta_0k)`` for the
            normalized sigmoid (PAPERS.md section 4).
        """
        raise self._no("atoms")

    def split_atoms(self, gate_intercept, counts):
        """Divide every atom weight by ``counts`` (ability ``"atoms"``).

        The near-true start of an over-specified model gives ``m`` copies of
        a true expert ``1 / m`` of its weight each.

        Parameters
        ----------
        gate_intercept : ndarray of shape (n_experts,)
            Gate intercepts.
        counts : ndarray of int of shape (n_experts,)
            Divisor of every expert's atom weight.

        Returns
        -------
        gate_intercept : ndarray of shape (n_experts,)
            The intercepts of the divided atom weights.
        """
        raise self._no("atoms")


def _weighted_moments(X, sample_weight):
    """Weighted column means and standard deviations (floored above 0)."""
    w = sample_weight / sample_weight.sum()
    mean = w @ X
    std = np.sqrt(np.maximum(w @ (X - mean) ** 2, 0.0))
    std = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
    return mean, std


def _random_directions(rng, n_rows, n_features):
    """Rows drawn uniformly on the unit sphere (standard normal, normalised)."""
    directions = rng.standard_normal((n_rows, n_features))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions


class GateLikelihood:
    """The observed log-likelihood as a function of the routed gate only.

    With the experts, variances and shared part held fixed, the weighted
    log-likelihood of the data is

    .. math::

        L(g) = \\sum_i w_i \\log\\Big(e^{a_i} + \\sum_k g_k(x_i) e^{A_{ik}}\\Big),

    with :math:`A_{ik} = \\log((1 - \\lambda) \\mathcal{N}(y_i \\mid h(x_i;
    \\eta_k), \\nu_k))` (no :math:`1 - \\lambda` without shared experts) and
    :math:`a_i` the log-density of the shared part (``-inf`` without shared
    experts). A gate update that increases :math:`L` increases the
    log-likelihood itself (an ECME step). The EM solver builds it for
    families whose :meth:`Gating.needs_likelihood` is True.

    Parameters
    ----------
    sample_weight : ndarray of shape (n_samples,)
        Sample weights :math:`w_i`.
    log_routed : ndarray of shape (n_samples, n_experts)
        :math:`A_{ik}`.
    log_shared : ndarray of shape (n_samples,) or None, default=None
        :math:`a_i`; None without shared experts.
    """

    def __init__(self, sample_weight, log_routed, log_shared=None):
        self.sample_weight = sample_weight
        self.log_routed = log_routed
        self.log_shared = log_shared

    def _joint(self, log_gates):
        """Joint log-densities and their row-wise log-sum-exp."""
        Z = log_gates + self.log_routed
        if self.log_shared is not None:
            Z = np.column_stack([Z, self.log_shared])
        # each row has a finite entry: a gate keeps at least one expert
        m = Z.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
        return Z, lse

    def value(self, log_gates):
        """Weighted log-likelihood for the given log gate weights.

        Parameters
        ----------
        log_gates : ndarray of shape (n_samples, n_experts)
            Log gating weights (``-inf`` allowed where a gate is zero).

        Returns
        -------
        value : float
            :math:`L(g)`.
        """
        return float(self.sample_weight @ self._joint(log_gates)[1][:, 0])

    def weights(self, log_gates):
        """Derivative of :math:`L` with respect to the log gate weights.

        Parameters
        ----------
        log_gates : ndarray of shape (n_samples, n_experts)
            Log gating weights (``-inf`` allowed where a gate is zero).

        Returns
        -------
        G : ndarray of shape (n_samples, n_experts)
            ``w_i`` times the posterior probability of routed expert ``k``
            under this gate: the weighted responsibilities it implies, exactly
            zero where the gate is zero.
        """
        Z, lse = self._joint(log_gates)
        K = log_gates.shape[1]
        return np.ascontiguousarray(
            self.sample_weight[:, None] * np.exp(Z[:, :K] - lse)
        )
