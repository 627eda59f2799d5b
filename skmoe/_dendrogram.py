"""Dendrogram of mixing measures: choose K from one over-specified fit.

Hai, Mai, Nguyen, Ho, Nguyen and Drovandi (2025), arXiv:2510.12744, adapting
Do, Do, McKinley, Terhorst and Nguyen (2024), arXiv:2403.01684, to the
softmax-gated Gaussian mixture of experts.
"""

import warnings
from numbers import Real

import numpy as np
from scipy.cluster import hierarchy
from scipy.special import logsumexp
from sklearn.utils import check_array

from ._params import MoEParams
from .utils._abilities import Requirements, check_requirements
from .utils._sklearn import check_is_fitted
from .utils._warnings import EmptyExpertWarning

__all__ = ["MixingMeasureDendrogram", "mixing_measure_dendrogram"]


#: what the dendrogram needs of a model: atoms whose weights multiply the
#: softmax numerators (so that merging two atoms is defined) and Gaussian
#: experts (the merge rule of arXiv:2510.12744 defines no merged degrees of
#: freedom)
DENDROGRAM = Requirements(
    "mixing_measure_dendrogram", gating=("softmax_atoms",), noise=("gaussian",),
    shared_experts=False,
)


def _check_model(params):
    """Reject models whose atoms the merge rule does not define."""
    check_requirements(DENDROGRAM, gating=params.gating, noise=params.noise,
                       n_experts=params.n_experts,
                       n_shared_experts=params.n_shared_experts)
    if params.n_experts < 2:
        raise ValueError(
            "mixing_measure_dendrogram needs an over-specified model with at "
            f"least 2 experts; got n_experts={params.n_experts}."
        )


class _Atoms:
    """The atoms of a softmax mixing measure, in effective coordinates.

    ``log_mass`` are the logarithms of the atoms' weights, the average gate
    weight of every expert on ``X`` (see the Notes of
    :func:`mixing_measure_dendrogram`); ``log_w`` the effective gate
    intercepts ``beta_0 / tau``; ``slope`` the effective gate slopes
    ``beta_1 / tau``; ``eta`` the expert rows in canonical form; ``nu`` the
    variances. Every field has one row per atom; ``center`` is the mean of
    ``X``, where merged gate numerators add.
    """

    def __init__(self, params, X):
        tau = params.gating._temperature(params)
        self.center = X.mean(axis=0)
        self.log_w = params.gate_intercept / tau
        # in log space: an atom a nearly hard gate starves has a weight far
        # below the smallest float
        self.log_mass = (logsumexp(params.gating.log_weights(X, params), axis=0)
                         - np.log(X.shape[0]))
        self.slope = params.gate_coef / tau
        self.eta = np.array(params.experts.canonicalize(params.expert_params))
        self.nu = params.variance.copy()
        self.tau = tau
        blocks = params.experts.param_blocks(params.n_features)
        fast = np.zeros(self.eta.shape[1], dtype=bool)
        if "intercept" in blocks:
            fast[blocks["intercept"]] = True
        self.fast = fast

    def dissimilarity(self, i, j):
        """Rate-weighted dissimilarity of atoms ``i`` and ``j`` (see Notes)."""
        li, lj = self.log_mass[i], self.log_mass[j]
        # w_i w_j / (w_i + w_j), without 0 / 0 when both weights underflow
        harmonic = np.exp(li + lj - np.logaddexp(li, lj))
        deta = self.eta[i] - self.eta[j]
        fast = (np.sum((self.slope[i] - self.slope[j]) ** 2)
                + np.sum(deta[self.fast] ** 2))
        slow = np.sqrt(np.sum(deta[~self.fast] ** 2) + (self.nu[i] - self.nu[j]) ** 2)
        return float(harmonic * (fast + slow))

    def merge(self, i, j):
        """Replace atom ``i`` by the merge of ``i`` and ``j``; drop ``j``."""
        log_mass = np.logaddexp(self.log_mass[i], self.log_mass[j])
        a = np.exp(self.log_mass[i] - log_mass)
        b = np.exp(self.log_mass[j] - log_mass)
        old_slopes = self.slope[i].copy(), self.slope[j].copy()
        for name in ("slope", "eta", "nu"):
            arr = getattr(self, name)
            arr[i] = a * arr[i] + b * arr[j]
            setattr(self, name, np.delete(arr, j, axis=0))
        # the gate numerators add (the paper's rule), at the mean of X (the
        # paper's x = 0 for centred inputs); slope[i] is already merged
        at_center = np.logaddexp(self.log_w[i] + old_slopes[0] @ self.center,
                                 self.log_w[j] + old_slopes[1] @ self.center)
        self.log_w[i] = at_center - self.slope[i] @ self.center
        self.log_w = np.delete(self.log_w, j)
        self.log_mass[i] = log_mass
        self.log_mass = np.delete(self.log_mass, j)

    def to_params(self, template):
        """The mixture of experts of the current atoms (gate normalised).

        Every array is a copy: later merges update the atoms in place.
        """
        params = template.replace(
            gate_coef=self.slope * self.tau,
            gate_intercept=self.log_w * self.tau,
            expert_params=self.eta.copy(),
            variance=self.nu.copy(),
        )
        return params.replace(**params.gating.normalize(params))


def _warn_starved(log_mass, n_samples):
    """Warn about atoms with less than one sample's worth of gate weight."""
    starved = np.flatnonzero(log_mass < -np.log(n_samples))
    if starved.size:
        warnings.warn(
            f"mixing_measure_dendrogram: the gate gives expert(s) "
            f"{starved.tolist()} an average weight below 1/n_samples on X "
            f"(smallest exp({log_mass[starved].min():.4g})): the gate is "
            "(nearly) hard and routes no sample to them, so the merge heights "
            "of these atoms are near 0 whatever their parameters, and they are "
            "merged first. Refit with fewer experts, or check the fit's "
            "empty_experts_.",
            EmptyExpertWarning, stacklevel=3,
        )


class MixingMeasureDendrogram:
    """Result of :func:`mixing_measure_dendrogram`: the merge path K, ..., 1.

    Levels are listed from the over-specified model (``K`` atoms) down to a
    single atom; level index ``m`` has ``K - m`` experts.

    Parameters
    ----------
    levels : ndarray of int of shape (K,)
        Number of experts of every level: ``K, K - 1, ..., 1``.
    params : list of MoEParams
        The merged model of every level (``params[0]`` is the input model,
        with its gate in the family's normalisation).
    heights : ndarray of shape (K - 1,)
        ``heights[m]`` is the dissimilarity of the pair merged to go from
        level ``m`` (``K - m`` experts) to level ``m + 1``.
    linkage : ndarray of shape (K - 1, 4)
        The merges in :func:`scipy.cluster.hierarchy.linkage` format.
    leaves : list of list of ndarray of int
        ``leaves[m][k]`` holds the experts of the input model merged into
        expert ``k`` of level ``m``.
    log_likelihood : ndarray of shape (K,)
        Log-likelihood of ``(X, y)`` under every level's model.
    omega : float
        Weight :math:`\\omega_n` of the mean log-likelihood in the criterion.
    n_samples : int
        Number of samples of ``(X, y)``.

    Attributes
    ----------
    criterion : ndarray of shape (K,)
        Dendrogram selection criterion of every level (lower is better); NaN
        for the one-expert level, which has no merge above it.
    n_experts_ : int
        The selected number of experts (the level with the lowest criterion;
        the smallest number of experts on ties).
    best_params_ : MoEParams
        The merged model with ``n_experts_`` experts.
    table : dict of str to ndarray
        Columns ``"n_experts"``, ``"height"`` (NaN at one expert),
        ``"log_likelihood"`` and ``"criterion"``, one entry per level.
    """

    def __init__(self, levels, params, heights, linkage, leaves, log_likelihood,
                 omega, n_samples):
        self.levels = np.asarray(levels, dtype=int)
        self.params = list(params)
        self.heights = np.asarray(heights, dtype=float)
        self.linkage = np.asarray(linkage, dtype=float)
        self.leaves = leaves
        self.log_likelihood = np.asarray(log_likelihood, dtype=float)
        self.omega = float(omega)
        self.n_samples = int(n_samples)
        mean_ll = self.log_likelihood / self.n_samples
        crit = np.full(self.levels.shape, np.nan)
        crit[:-1] = -(self.heights + self.omega * mean_ll[:-1])
        self.criterion = crit
        # levels run from K down: the last minimum is the fewest experts
        candidates = crit[:-1]
        best = int(np.flatnonzero(candidates == candidates.min())[-1])
        self.n_experts_ = int(self.levels[best])
        self.best_params_ = self.params[best]

    @property
    def table(self):
        """Columns of the result table, one entry per level.

        Returns
        -------
        table : dict of str to ndarray
            ``n_experts``, ``height``, ``log_likelihood`` and ``criterion``.
        """
        return {
            "n_experts": self.levels,
            "height": np.append(self.heights, np.nan),
            "log_likelihood": self.log_likelihood,
            "criterion": self.criterion,
        }

    def to_frame(self):
        """The table as a :class:`pandas.DataFrame` (pandas imported lazily).

        Returns
        -------
        frame : pandas.DataFrame
            One row per level, indexed by ``n_experts``.
        """
        import pandas as pd

        return pd.DataFrame(self.table).set_index("n_experts")

    def labels(self, n_experts):
        """Which merged expert every input expert belongs to at a level.

        Parameters
        ----------
        n_experts : int
            The level, between 1 and ``K``.

        Returns
        -------
        labels : ndarray of int of shape (K,)
            ``labels[i]`` is the expert of the ``n_experts`` level that input
            expert ``i`` was merged into.
        """
        K = int(self.levels[0])
        if n_experts not in range(1, K + 1):
            raise ValueError(
                f"n_experts must be an integer between 1 and {K}; got "
                f"{n_experts!r}."
            )
        out = np.empty(K, dtype=int)
        for k, members in enumerate(self.leaves[K - n_experts]):
            out[members] = k
        return out

    def plot(self, axes=None):
        """Draw the dendrogram and the criterion along the merge path.

        matplotlib is imported lazily. The dendrogram is drawn by
        :func:`scipy.cluster.hierarchy.dendrogram` from :attr:`linkage`
        (leaves labelled by input expert index); the selected level is
        marked on both panels (on the dendrogram, by a cut halfway between
        the merges entering and leaving it).

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, default=None
            Axes for the dendrogram and the criterion; None creates a figure
            with two panels.

        Returns
        -------
        axes : sequence of two matplotlib Axes
            The axes drawn on.
        """
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 4))
        ax_tree, ax_crit = axes
        hierarchy.dendrogram(self.linkage, ax=ax_tree, color_threshold=0,
                   above_threshold_color="C0")
        K = int(self.levels[0])
        best = K - self.n_experts_  # level index of the selection
        # cut between the merge entering the chosen level and the one leaving it
        below = self.heights[best - 1] if best > 0 else 0.0
        ax_tree.axhline(0.5 * (below + self.heights[best]), color="C3",
                        linestyle="--", label=f"chosen: K = {self.n_experts_}")
        ax_tree.set_xlabel("expert of the over-specified fit")
        ax_tree.set_ylabel("merge height")
        ax_tree.legend()
        ks, crit = self.levels[:-1], self.criterion[:-1]
        ax_crit.plot(ks, crit, "o-", label="DSC")
        ax_crit.plot([self.n_experts_], [crit[best]], "*", markersize=14,
                     label=f"chosen: K = {self.n_experts_}")
        ax_crit.set_xlabel("number of experts K")
        ax_crit.set_ylabel("criterion (lower is better)")
        ax_crit.set_xticks(ks)
        ax_crit.legend()
        return axes

    def __repr__(self):
        return (
            f"MixingMeasureDendrogram(n_experts_={self.n_experts_}, "
            f"heights={np.round(self.heights, 6).tolist()})"
        )


def mixing_measure_dendrogram(estimator, X, y, *, omega=None):
    """Merge the experts of an over-specified fit into a dendrogram; choose K.

    The fitted softmax mixture of experts with ``K`` experts is the mixing
    measure :math:`G = \\sum_k w_k \\delta_{(\\beta_{1k}, a_k, b_k,
    \\nu_k)}` (gate slope, expert slopes and intercept, variance), with the
    weight :math:`w_k = \\frac{1}{n} \\sum_{m=1}^n g_k(x_m)` of every atom
    its average gate weight on ``X`` (see Notes). Starting from it, the two
    atoms with the smallest dissimilarity

    .. math::

        d(i, j) = \\frac{w_i w_j}{w_i + w_j} \\Big(
            \\lVert \\beta_{1i} - \\beta_{1j} \\rVert^2 + (b_i - b_j)^2
            + \\big\\lVert (a_i - a_j, \\nu_i - \\nu_j) \\big\\rVert \\Big)

    are merged into one atom of weight :math:`w_i + w_j` located at the
    weight-averaged parameters :math:`(w_i \\theta_i + w_j \\theta_j) / (w_i
    + w_j)`, whose gate numerator at the mean :math:`\\bar x` of ``X`` is the
    sum of theirs, :math:`e^{\\beta_{0i} + \\beta_{1i}^\\top \\bar x} +
    e^{\\beta_{0j} + \\beta_{1j}^\\top \\bar x}`, until one atom remains.
    With the height :math:`h^{(\\kappa)}` of the merge that leaves the level
    of :math:`\\kappa` atoms and the mean log-likelihood
    :math:`\\bar\\ell_n^{(\\kappa)}` of that level's model, the number of
    experts minimises the dendrogram selection criterion [1]_

    .. math::

        \\mathrm{DSC}(\\kappa) = -\\big(h^{(\\kappa)}
            + \\omega_n \\bar\\ell_n^{(\\kappa)}\\big),
        \\qquad \\kappa = 2, \\dots, K.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor or MoEParams
        The over-specified fit (its ``params_``), or a model. Its gate must
        be a dense :class:`~skmoe.SoftmaxGating` without activation (any
        temperature), without shared experts.
    X : array-like of shape (n_samples, n_features)
        Inputs of the log-likelihood along the path (normally the training
        data).
    y : array-like of shape (n_samples,)
        Targets.
    omega : float, default=None
        Weight :math:`\\omega_n > 0` of the mean log-likelihood; None uses
        :math:`\\log n`.

    Returns
    -------
    dendrogram : MixingMeasureDendrogram
        The merged model of every level, the heights, the
        :func:`scipy.cluster.hierarchy.linkage` matrix, the log-likelihood
        and the criterion along the path, the selected ``n_experts_`` and a
        :meth:`~MixingMeasureDendrogram.plot`.

    Raises
    ------
    ValueError
        If the model has fewer than 2 experts, a gate other than the dense
        softmax without activation, or shared experts; if ``omega`` is not
        a positive number; or if ``X`` has another number of features than
        the model.

    Warns
    -----
    EmptyExpertWarning
        When the gate gives an expert an average weight below ``1 /
        n_samples`` on ``X`` (see Notes).

    See Also
    --------
    select_n_experts : One fit per candidate K, scored by BIC, ICL or
        cross-validation.

    Notes
    -----
    **Units.** The dissimilarity adds squared gate slopes (units of
    ``1 / x``), squared expert intercepts (units of ``y``) and the norm of
    the expert slopes and variance differences, as the paper's does: the
    heights, and so the chosen ``K``, depend on the units of ``X`` and ``y``
    (the likelihood term does not). Standardise ``X`` and ``y`` before the
    over-specified fit; the comparison with BIC in the user guide used inputs
    and targets of unit order.

    **Choices.** The paper's dissimilarity weighs each coordinate by its
    convergence rate in the over-specified model: the gate slope and the
    expert intercept (exponent :math:`\\bar r` in the Voronoi loss) are
    squared, the expert slopes and the variance (exponent :math:`\\bar r /
    2`) enter through their norm, and the pair is weighted by the harmonic
    combination :math:`w_i w_j / (w_i + w_j)` of the atom weights, as in [2]_.
    The authors' reference code leaves the gate slope out of the
    dissimilarity; skmoe keeps it (its difference between two atoms does
    not depend on the softmax translation, and the Voronoi loss it follows
    contains it). **Weights.** The paper weighs atom :math:`k` by
    :math:`e^{\\beta_{0k}}`, the gate's numerator at :math:`x = 0`
    (normalised to sum to one, the gate at :math:`x = 0`). That point may
    lie far outside the data, and where the gate is nearly hard it gives
    every expert but one a weight that underflows: on mcycle
    (:func:`skmoe.datasets.load_mcycle`, times from 2.4 to 57.6 ms) with six
    experts every height was 0, from :math:`0 / 0`. skmoe weighs each atom
    by its average gate weight on ``X`` instead, the mixing proportion the
    expert has on the data (computed in log space, merged by adding them),
    and adds the gate numerators of a merge at the mean of ``X`` (the
    paper's :math:`x = 0` for centred inputs): the weights and the merged
    models do not depend on where the origin of ``X`` lies nor on the
    softmax translation, and a weight vanishes only for an expert the gate
    routes no sample to. Such atoms (average weight below :math:`1 / n`) have merge
    heights near 0 whatever their parameters and are merged first; an
    :class:`~skmoe.EmptyExpertWarning` names them. For a gate that is smooth
    on the data and centred inputs the two weights are close.
    :math:`\\omega_n = \\log n` as in the reference code.
    Expert parameters are merged in their family's canonical form
    (:meth:`skmoe.Experts.canonicalize`); the blocks other than
    ``"intercept"`` count as slopes. For linear and polynomial experts the
    merged expert mean is the weighted mean of the merged means; the theory
    covers linear experts. With a temperature :math:`\\tau` everything is
    computed on the effective gate :math:`\\beta / \\tau`.

    **Levels.** The height of a level is that of the merge *leaving* it,
    so the one-expert level has no criterion and ``n_experts_ >= 2``. When
    the fit has the true ``K*`` atoms in well separated groups, the merges
    above level ``K*`` join atoms of the same group (heights near 0, the
    likelihood unchanged) and the merge leaving level ``K*`` joins two
    different experts (a large height), while below ``K*`` the likelihood
    drops by a constant times :math:`\\omega_n \\to \\infty`: the criterion
    is consistent for ``K*`` [1]_. The heights are not monotone in general
    (:func:`scipy.cluster.hierarchy.dendrogram` draws them as given).
    Ties in the dissimilarity go to the lowest pair of current indices.

    References
    ----------
    .. [1] Hai, D. T., Mai, T. N., Nguyen, T., Ho, N., Nguyen, B. T. and
       Drovandi, C. (2025). Dendrograms of mixing measures for softmax-gated
       Gaussian mixture of experts: consistency without model sweeps.
       arXiv:2510.12744.
    .. [2] Do, D., Do, L., McKinley, S. A., Terhorst, J. and Nguyen, X.
       (2024). Dendrogram of mixing measures: hierarchical clustering and
       model selection for finite mixture models. arXiv:2403.01684.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.model_selection import mixing_measure_dendrogram
    >>> X, y, _ = make_moe_regression(500, 1, 2, random_state=0)
    >>> est = MixtureOfExpertsRegressor(n_experts=4, n_init=2, tol=1e-4,
    ...                                 random_state=2).fit(X, y)
    >>> tree = mixing_measure_dendrogram(est, X, y)
    >>> tree.n_experts_
    2
    >>> tree.linkage.shape
    (3, 4)
    """
    if not isinstance(estimator, MoEParams):
        check_is_fitted(estimator)
    params = estimator if isinstance(estimator, MoEParams) else estimator.params_
    _check_model(params)
    if omega is not None and not (
        isinstance(omega, Real) and np.isfinite(omega) and omega > 0
    ):
        raise ValueError(f"omega must be a positive number or None; got {omega!r}.")
    X = check_array(X, dtype=np.float64)
    y = check_array(y, dtype=np.float64, ensure_2d=False)
    n = X.shape[0]
    omega = float(np.log(n)) if omega is None else float(omega)
    if X.shape[1] != params.n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model has "
            f"{params.n_features}."
        )
    K = params.n_experts
    atoms = _Atoms(params, X)
    _warn_starved(atoms.log_mass, n)
    ids = list(range(K))  # scipy cluster id of every current atom
    members = [np.array([k]) for k in range(K)]
    levels_params = [atoms.to_params(params)]
    leaves = [list(members)]
    heights, linkage = [], []
    for step in range(K - 1):
        m = len(ids)
        best, pair = np.inf, None
        for i in range(m):
            for j in range(i + 1, m):
                dij = atoms.dissimilarity(i, j)
                if dij < best:
                    best, pair = dij, (i, j)
        i, j = pair
        a, b = sorted((ids[i], ids[j]))
        merged = np.sort(np.concatenate([members[i], members[j]]))
        linkage.append([a, b, best, merged.size])
        heights.append(best)
        atoms.merge(i, j)
        ids[i] = K + step
        members[i] = merged
        del ids[j], members[j]
        levels_params.append(atoms.to_params(params))
        leaves.append(list(members))
    loglik = [float(p.log_density(X, y).sum()) for p in levels_params]
    return MixingMeasureDendrogram(
        levels=np.arange(K, 0, -1),
        params=levels_params,
        heights=heights,
        linkage=linkage,
        leaves=leaves,
        log_likelihood=loglik,
        omega=omega,
        n_samples=n,
    )
