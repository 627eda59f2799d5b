"""The NoiseModel contract, and the variance update every noise model shares."""

from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator

from .. import _kernels
from ..utils._abilities import Family
from ..utils._arrays import as_kernel_array


class NoiseModel(Family, BaseEstimator, metaclass=ABCMeta):
    """Base class of noise models: the law of ``y`` given expert ``k``.

    A noise model is a parameter object like a gating or experts object. It
    owns the part of the model that is not the gate or the experts' outputs:
    the component densities, the E-step over the components, the variance
    (and, for the t law, degrees-of-freedom) update, the experts' update
    under this law, the link between the experts' outputs and the mean of
    ``y``, and the distribution functions and draws used by ``cdf``,
    ``quantiles`` and ``sample_y``. The EM solver's iteration calls, in
    order, :meth:`expert_step` (the experts' update, by default their
    weighted least squares with the weights of :meth:`expert_weights`),
    :meth:`m_step` (variances, degrees of freedom), the gate's update,
    :meth:`observed_step` (ECME changes) and :meth:`posterior`. Every step
    must not decrease the log-likelihood, so that EM stays monotone.

    ``df`` below is the container's ``noise_df`` (None for a model without
    it); ``latent`` is what :meth:`estep` returns besides the
    responsibilities (None for Gaussian noise). ``means`` are the experts'
    outputs :math:`h(x; \\eta_k)`: the component means for a location-scale
    law, the linear predictors (the means on the link scale) for a GLM
    response family; :meth:`mean` maps them to the means of ``y``.

    ``sample_weight`` is the data's weight array as the user passed it to
    ``fit``. For most laws it holds frequency weights: the rows' log-densities
    do not depend on it and the log-likelihood is :math:`\\sum_i w_i \\log
    p(y_i \\mid x_i)`. A law whose weights mean something else (the number
    of trials of a binomial response) says how the rows count in
    :meth:`row_weights` and reads the weights in its data methods (their
    ``sample_weight`` argument; None means one per row).

    **The contract.** Required: :meth:`estep`, :meth:`log_pdf`,
    :meth:`m_step`. Defaults right for the location-scale laws (Gaussian,
    Student-t), each overridden by the GLM response families
    (:class:`~skmoe.noise.PoissonNoise`,
    :class:`~skmoe.noise.BinomialNoise`): :meth:`row_weights` (the
    weights), :meth:`check_y` (nothing to check), :meth:`mean` (the
    identity link), :meth:`expert_step` (the experts' weighted least squares),
    :meth:`init_experts` (the experts' own start), :meth:`n_free_params`
    (one variance per expert), :meth:`start`, :meth:`posterior`,
    :meth:`component_cdf`, :meth:`draw` (location-scale, from :meth:`cdf`
    and :meth:`standard_draws`); the class attributes ``has_variance``
    (False: the law has no variance, ``MoEParams.variance`` is held at 1
    and not counted) and ``discrete`` (True: ``y`` lives on a lattice, see
    :meth:`lattice`, and quantiles are lattice points).

    Abilities (``provides``, see :mod:`skmoe.utils._abilities`):
    ``"gradient"`` (:meth:`loglik_grad`, the log-likelihood's gradient:
    the gradient solvers and the standard errors need it), ``"gaussian"``
    (Gaussian densities: ``partial_fit``, the fused EM, the moment methods,
    the least-squares objective and the dendrogram need it) and
    ``"shared_experts"`` (models with shared experts) and ``"compiled"``
    (:meth:`compiled_program`: the compiled EM path).
    """

    #: the noise model's name in messages and in ``NOISES``
    name = ""
    #: whether the law has a variance (a squared scale) per expert, the
    #: container's ``variance``; False: ``variance`` is held at 1, not
    #: estimated and not counted by BIC/AIC
    has_variance = True
    #: whether ``y`` lives on a lattice (:meth:`lattice`): quantiles are then
    #: the smallest lattice points whose distribution function reaches ``q``
    discrete = False
    #: whether the law is one of several responses per row (``y`` of shape
    #: (n_samples, n_targets)); False: one response per row, ``y`` of shape
    #: (n_samples,)
    multi_output = False
    #: the name in ``NOISES`` of the law this one becomes for several
    #: responses per row (None: it has none, a 2-D ``y`` is refused)
    multi_output_law = None
    #: the name in ``NOISES`` of the law this one becomes for one response per
    #: row (None: itself); set by the laws of several responses
    single_output_law = None

    def _spelling(self):
        """The estimator's spelling, ``'name'`` (for messages)."""
        return repr(self.name)

    def n_free_params(self, n_experts, n_targets=None):
        """Free noise parameters (for BIC/AIC): the variances and the others.

        Parameters
        ----------
        n_experts : int
            Number of experts.
        n_targets : int or None, default=None
            Number of responses of a law of several responses (None: one;
            unused by the laws of one response).

        Returns
        -------
        n_params : int
            ``n_experts`` (one variance per expert) when ``has_variance``,
            else 0.
        """
        return n_experts if self.has_variance else 0

    def check_y(self, y, sample_weight=None):
        """Raise a ValueError for targets (or weights) the law cannot take.

        Called by the estimator's ``fit`` on ``y`` as given (before
        scikit-learn's validation, so that a ``y`` of the wrong shape is
        reported with the law's name). The default accepts every real ``y``
        (the estimator's validation then rejects NaN and infinity).

        Parameters
        ----------
        y : array-like
            The targets as passed to ``fit``.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            The weights as passed to ``fit``.
        """

    def row_weights(self, sample_weight):
        """How much each row counts in the log-likelihood and the gate.

        The log-likelihood is :math:`\\sum_i v_i \\log p(y_i \\mid x_i)`
        with these weights :math:`v_i`, and the gate's update and the
        experts' masses use :math:`v_i r_{ik}`.

        Parameters
        ----------
        sample_weight : ndarray of shape (n_samples,)
            The data's weights.

        Returns
        -------
        row_weights : ndarray of shape (n_samples,)
            ``sample_weight`` itself by default (frequency weights).
        """
        return sample_weight

    def n_targets(self, variance):
        """The number of responses per row of a model with these variances.

        Parameters
        ----------
        variance : ndarray
            The container's ``variance`` field.

        Returns
        -------
        n_targets : int or None
            None for a law of one response per row (the default): ``y``,
            the experts' outputs and the predictions have no response axis.
        """
        return None

    def requirements(self):
        """What the law needs of the other families (checked with the solver's).

        Returns
        -------
        requirements : Requirements or None
            A :class:`~skmoe.utils._abilities.Requirements` naming this
            noise model as the consumer, checked by
            :func:`~skmoe.solvers._dispatch.check_spec` before a fit; None
            (the default) needs nothing.
        """
        return None

    def predictors(self, experts, X, expert_params):
        """The experts' outputs :math:`h(x_i; \\eta_k)` under this law.

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        expert_params : ndarray
            The container's ``expert_params``.

        Returns
        -------
        outputs : ndarray of shape (n, K)
            ``experts.predict(X, expert_params)`` by default (one output per
            expert; a law of several responses adds a response axis).
        """
        return experts.predict(X, expert_params)

    def start_variance(self, experts, X, y, R, expert_params, var_floor):
        """Starting variances of experts fitted to starting responsibilities.

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n,)
            Targets.
        R : ndarray of shape (n, K)
            Row weight times starting responsibility.
        expert_params : ndarray
            The starting expert parameters.
        var_floor : float
            Lower bound of the variances.

        Returns
        -------
        variance : ndarray of shape (K,)
            The weighted residual variances, floored (ones for an expert
            without mass); ones for a law without variance.
        """
        K = R.shape[1]
        if not self.has_variance:
            return np.ones(K)
        means = self.predictors(experts, X, expert_params)
        return update_variances(y, means, R, np.ones(K), var_floor)

    def floor_variance(self, variance, var_floor):
        """A given start's variances, floored (a user-given or warm start).

        Parameters
        ----------
        variance : ndarray of shape (K,)
            The start's variances.
        var_floor : float
            Lower bound of the variances.

        Returns
        -------
        variance : ndarray of shape (K,)
            ``maximum(variance, var_floor)``; ones for a law without
            variance.
        """
        if not self.has_variance:
            return np.ones_like(variance)
        return np.maximum(variance, var_floor)

    def variance_divergence(self, variance, k, l):
        """The part of :math:`KL(p_k \\| p_l)` that no row changes.

        Used by the check of coinciding experts after a fit: two experts
        coincide when :meth:`variance_divergence` plus the largest
        :meth:`mean_divergence` over the rows is tiny in both directions.

        Parameters
        ----------
        variance : ndarray of shape (K,)
            Variances.
        k, l : int
            The two experts.

        Returns
        -------
        divergence : float
            For Gaussian components, :math:`(r - 1 - \\log r) / 2` with
            :math:`r = \\nu_k / \\nu_l`.
        """
        ratio = variance[k] / variance[l]
        return 0.5 * (ratio - 1.0 - np.log(ratio))

    def mean_divergence(self, diff, variance, l):
        """The part of :math:`KL(p_k \\| p_l)` due to the means, row by row.

        Parameters
        ----------
        diff : ndarray of shape (n,)
            The differences :math:`\\mu_{ik} - \\mu_{il}` of the two
            experts' means.
        variance : ndarray of shape (K,)
            Variances.
        l : int
            The expert of the second argument of the divergence.

        Returns
        -------
        divergence : ndarray of shape (n,)
            For Gaussian components, :math:`d_i^2 / (2 \\nu_l)`.
        """
        return 0.5 * diff ** 2 / variance[l]

    def mean(self, means):
        """The means of ``y`` from the experts' outputs (the inverse link).

        Parameters
        ----------
        means : ndarray
            Experts' outputs :math:`h(x; \\eta_k)`.

        Returns
        -------
        mean : ndarray
            ``means`` itself by default (identity link: the experts' outputs
            are the means).
        """
        return means

    def check_df(self, df, n_experts):
        """Validate the container's ``noise_df``; return the stored value.

        Parameters
        ----------
        df : array-like or None
            The container's ``noise_df``.
        n_experts : int
            Number of experts.

        Returns
        -------
        df : ndarray or None
            The value to store (None for a model without degrees of freedom).
        """
        if df is not None:
            raise ValueError(
                f"noise_df must be None with noise={self.name!r}; got {df!r}."
            )
        return None

    def start(self, params, previous=None):
        """Starting noise parameters added to a Gaussian start (EM start).

        Parameters
        ----------
        params : MoEParams
            Starting parameters.
        previous : MoEParams or None, default=None
            A user-given start whose noise parameters may be kept.

        Returns
        -------
        params : MoEParams
            ``params`` with this noise model.
        """
        return params

    def posterior(self, X, y, params, sample_weight=None):
        """E-step of the model ``params`` over all its components.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Inputs.
        y : ndarray of shape (n_samples,)
            Targets.
        params : MoEParams
            The model (its noise model is this object).
        sample_weight : ndarray of shape (n_samples,) or None, default=None
            The data's weights (read by laws whose densities depend on
            them).

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities over the routed, then the shared experts.
        loglik : ndarray of shape (n_samples,)
            Per-sample log-likelihood.
        latent : ndarray or None
            The latent variables of :meth:`estep`.
        """
        return self.estep(*params._components(X), params.noise_df, y,
                          sample_weight)

    @abstractmethod
    def estep(self, log_w, means, variance, df, y, sample_weight=None):
        """Responsibilities, per-sample log-likelihood and latent variables.

        Parameters
        ----------
        log_w : ndarray of shape (n, K)
            Log mixture weights.
        means : ndarray of shape (n, K)
            Experts' outputs.
        variance : ndarray of shape (K,)
            Variances (squared scales).
        df : ndarray or None
            Degrees of freedom.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        resp : ndarray of shape (n, K)
            Responsibilities.
        loglik : ndarray of shape (n,)
            Per-sample log-likelihood.
        latent : ndarray or None
            Latent variables of the noise model (None for Gaussian noise).
        """

    @abstractmethod
    def log_pdf(self, y, means, variance, df, sample_weight=None):
        """Component log-densities (log-probabilities of a discrete law).

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Experts' outputs.
        variance : ndarray of shape (K,)
            Variances (squared scales).
        df : ndarray or None
            Degrees of freedom.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        logpdf : ndarray of shape (n, K)
            Component log-densities.
        """

    def expert_weights(self, R, latent):
        """Compute the weights of the experts' weighted least-squares update.

        Parameters
        ----------
        R : ndarray of shape (n, K)
            Row weight times responsibility.
        latent : ndarray or None
            Latent variables of the E-step.

        Returns
        -------
        weights : ndarray of shape (n, K)
            ``R`` itself by default.
        """
        return R

    def expert_step(self, experts, X, y, R, latent, expert_params,
                    sample_weight=None):
        """The experts' M-step under this law.

        Must never decrease the expected complete-data log-likelihood
        :math:`\\sum_{ik} R_{ik} \\log p(y_i \\mid h(x_i; \\eta_k))` of any
        expert (with the noise parameters fixed): this keeps EM monotone.

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n,)
            Targets.
        R : ndarray of shape (n, K)
            Row weight times responsibility.
        latent : ndarray or None
            Latent variables of the E-step.
        expert_params : ndarray of shape (n_experts, n_params)
            Current expert parameters.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            The updated parameters. The default is the experts' weighted
            least squares with the weights of :meth:`expert_weights`,
            ``experts.m_step(X, y, expert_weights(R, latent),
            expert_params)``, the exact update of a location-scale law.
        """
        return experts.m_step(X, y, self.expert_weights(R, latent), expert_params)

    def init_experts(self, experts, X, y, R, rng, sample_weight=None):
        """Starting expert parameters from starting responsibilities.

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n,)
            Targets.
        R : ndarray of shape (n, K)
            Row weight times starting responsibility.
        rng : numpy.random.RandomState
            Random generator of the fit.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            ``experts.init(X, y, R, rng)`` by default.
        """
        return experts.init(X, y, R, rng)

    @abstractmethod
    def m_step(self, y, means, R, latent, variance, df, var_floor):
        """Updated ``(variance, df)`` given the new expert means.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Updated experts' outputs.
        R : ndarray of shape (n, K)
            Row weight times responsibility.
        latent : ndarray or None
            Latent variables of the E-step.
        variance : ndarray of shape (K,)
            Current variances (kept for empty experts).
        df : ndarray or None
            Current degrees of freedom.
        var_floor : float
            Lower bound of the variances.

        Returns
        -------
        variance : ndarray of shape (K,)
            Updated variances, floored.
        df : ndarray or None
            Updated degrees of freedom (None without them).
        """

    def observed_step(self, X, y, sample_weight, params, n_iter):
        """Change ``params`` to increase the observed log-likelihood (ECME).

        Parameters
        ----------
        X, y, sample_weight : ndarray
            The data.
        params : MoEParams
            Current parameters.
        n_iter : int
            EM iteration, from 1.

        Returns
        -------
        changes : dict
            Fields of ``params`` to replace; empty by default.
        """
        return {}

    def compiled_program(self, y, sample_weight, params, var_floor):
        """The noise model's EM state and steps for the compiled EM path.

        Ability ``"compiled"``. The returned object holds the variances (and
        the noise model's other parameters, the shared experts' variances
        and weights) as flat arrays and runs :meth:`estep`, :meth:`m_step`
        and :meth:`observed_step` through compiled kernels, with these
        methods (``LW``, ``MU``, ``R`` of shape ``(n_samples, n_experts)``,
        ``MUs``, ``Rs`` of shape ``(n_samples, n_shared_experts)``):

        - ``e_step(LW, MU, MUs, R, Rs) -> float``: the posterior over the
          routed and shared components, times the row weights, into ``R``
          and ``Rs``; returns the weighted log-likelihood;
        - ``expert_step(experts, R, MU) -> finite``: the experts' update
          under this law (:meth:`expert_step`) on the experts' program
          ``experts``, which leaves their outputs at the new rows in ``MU``:
          ``experts.step(W, MU)`` with the weights ``W`` of
          :meth:`expert_weights` for a location-scale law,
          ``experts.glm_step`` (IRLS) for a GLM response family;
        - ``m_step(MU, R, MUs, Rs) -> finite``: the variances (and the
          shared part) at the experts' new outputs;
        - ``observed_step(n_iter, LW, MU, MUs) -> finite``: :meth:`observed_step`;
        - ``log_densities(MU, MUs, A, a)``: the components' log-densities of
          :class:`~skmoe.GateLikelihood` at the current parameters, the
          routed ones (``log(1 - lambda)`` included) into ``A`` and the
          shared part's log-sum-exp into ``a`` (left ``-inf`` without
          shared experts), for the ECME step of a top-K gate;
        - ``fields() -> dict``: the fields of :class:`~skmoe.MoEParams` it
          holds.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            Targets.
        sample_weight : ndarray of shape (n_samples,)
            The data's weights.
        params : MoEParams
            The starting parameters.
        var_floor : float
            Lower bound of the variances.

        Returns
        -------
        program : object
            The program.
        """
        raise NotImplementedError(
            f"{type(self).__name__} lacks the ability 'compiled': "
            f"{self.lacks('compiled')}."
        )

    def loglik_grad(self, log_gate, means, variance, df, y, sample_weight):
        """Weighted log-likelihood and its gradients (ability ``"gradient"``).

        :math:`L = \\sum_i v_i \\log \\sum_k g_{ik} p(y_i \\mid m_{ik})`
        with :math:`v` the :meth:`row_weights`, and its gradients in the
        log gates, the experts' outputs :math:`m_{ik}` and the variances.

        Parameters
        ----------
        log_gate : ndarray of shape (n, K)
            Log gating weights (``-inf``: an expert with zero weight).
        means : ndarray of shape (n, K)
            Experts' outputs.
        variance : ndarray of shape (K,)
            Variances.
        df : ndarray or None
            Degrees of freedom.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,)
            The data's weights.

        Returns
        -------
        value : float
            :math:`L`.
        d_log_gate : ndarray of shape (n, K)
            :math:`\\partial L / \\partial \\log g_{ik}`.
        d_means : ndarray of shape (n, K)
            :math:`\\partial L / \\partial m_{ik}`.
        d_var : ndarray of shape (K,) or None
            :math:`\\partial L / \\partial \\nu_k`; None without variances.
        """
        raise NotImplementedError(
            f"{type(self).__name__} lacks the ability 'gradient': "
            f"{self.lacks('gradient')}."
        )

    def component_cdf(self, y, means, variance, df, sample_weight=None):
        """Distribution functions of the components at ``y``.

        Parameters
        ----------
        y : ndarray of shape (n, m, 1)
            Evaluation points, ``m`` per sample.
        means : ndarray of shape (n, 1, K)
            Experts' outputs.
        variance : ndarray of shape (K,)
            Variances.
        df : ndarray or None
            Degrees of freedom.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        cdf : ndarray of shape (n, m, K)
            :math:`P(Y \\le y \\mid k)`. The default is the location-scale
            law, :meth:`cdf` of ``(y - means) / sqrt(variance)``.
        """
        return self.cdf((y - means) / np.sqrt(variance), df)

    def lattice(self, sample_weight, n_samples):
        """The lattice of a discrete law: ``y`` is ``j * step``, ``0 <= j <= top``.

        Parameters
        ----------
        sample_weight : ndarray of shape (n_samples,) or None
            The data's weights.
        n_samples : int
            Number of rows.

        Returns
        -------
        step : ndarray of shape (n_samples,)
            The lattice spacing of each row.
        top : ndarray of shape (n_samples,) or None
            The largest ``j`` of each row (None: unbounded).
        """
        raise NotImplementedError(f"{type(self).__name__} is not a discrete law.")

    def draw(self, rng, comp, means, variance, df, sample_weight=None):
        """One draw of ``y`` per row, from the component ``comp`` of the row.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each row.
        means : ndarray of shape (n,)
            The output of each row's component.
        variance : ndarray of shape (n,)
            The variance of each row's component.
        df : ndarray or None
            Degrees of freedom (of all components).
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        y : ndarray of shape (n,)
            The draws; the default is the location-scale law, ``means +
            sqrt(variance) * standard_draws(rng, comp, df)``.
        """
        return means + np.sqrt(variance) * self.standard_draws(rng, comp, df)

    def cdf(self, z, df):
        """Standardised distribution function of a location-scale law.

        Parameters
        ----------
        z : ndarray
            Standardised values.
        df : ndarray or None
            Degrees of freedom.

        Returns
        -------
        cdf : ndarray
            The distribution function at ``z``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} is not a location-scale law.")

    def ppf(self, q, df):
        """Standardised quantile function of a location-scale law.

        Parameters
        ----------
        q : ndarray
            Probabilities.
        df : ndarray or None
            Degrees of freedom.

        Returns
        -------
        z : ndarray
            The quantiles.
        """
        raise NotImplementedError(
            f"{type(self).__name__} is not a location-scale law.")

    def standard_draws(self, rng, comp, df):
        """Standardised noise of a location-scale law, one draw per row.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each sample.
        df : ndarray or None
            Degrees of freedom.

        Returns
        -------
        noise : ndarray of shape (n,)
            Standardised draws.
        """
        raise NotImplementedError(
            f"{type(self).__name__} is not a location-scale law.")


def update_variances(y, means, R, old, var_floor, sums=None):
    """Weighted residual variances, floored; ``old`` kept for empty experts.

    ``sum_i R_ik (y_i - means_ik)^2 / sums_k`` with ``sums`` the column sums
    of ``R`` by default (a noise model may divide by other masses, e.g. the
    Student-t scale update).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Targets.
    means : ndarray of shape (n, K)
        Component means.
    R : ndarray of shape (n, K)
        Weights of the squared residuals.
    old : ndarray of shape (K,)
        Current variances.
    var_floor : float
        Lower bound.
    sums : ndarray of shape (K,) or None, default=None
        Denominators; the column sums of ``R`` by default.

    Returns
    -------
    variance : ndarray of shape (K,)
        The updated variances.
    """
    if sums is None:
        # the compiled EM's variance step (the same kernels, the masses
        # summed in row order): one kernel fewer to compile on a first run
        var = as_kernel_array(old).copy()
        _kernels._gaussian_steps.gaussian_variance_step(
            as_kernel_array(y), as_kernel_array(means), as_kernel_array(R), var,
            float(var_floor))
        return var
    rss = _kernels._gaussian.weighted_residual_ss(y, means, R)
    return variances_from_rss(rss, sums, old, var_floor)


def variances_from_rss(rss, sums, old, var_floor):
    """``rss / sums`` floored at ``var_floor``; ``old`` kept for empty experts.

    An expert is empty when its mass is at most ``1e-10`` of the total. This
    is the variance M-step of batch EM, of the fused EM (``rss`` from a
    residual pass) and of online EM (``rss`` from averaged statistics).

    Parameters
    ----------
    rss : ndarray of shape (K,)
        Weighted residual sums of squares.
    sums : ndarray of shape (K,)
        Masses.
    old : ndarray of shape (K,)
        Current variances.
    var_floor : float
        Lower bound.

    Returns
    -------
    variance : ndarray of shape (K,)
        The updated variances.
    """
    var = as_kernel_array(old).copy()
    # the kernel of the compiled EM path: one implementation
    _kernels._gaussian_steps.variances_from_rss_into(
        as_kernel_array(rss), as_kernel_array(sums), var, float(var_floor))
    return var
