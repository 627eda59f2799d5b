"""The NoiseModel contract, and the variance update every noise model shares."""

from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator

from .._kernels._gaussian import weighted_residual_ss
from ..utils._abilities import Family


class NoiseModel(Family, BaseEstimator, metaclass=ABCMeta):
    """Base class of noise models: the law of ``y`` given expert ``k``.

    A noise model is a parameter object like a gating or experts object. It
    owns the part of the model that is not the gate or the experts' means:
    the component densities, the E-step over the components, the variance
    (and, for the t law, degrees-of-freedom) update, and the standardised
    distribution used by ``cdf``, ``quantiles`` and ``sample_y``. The EM
    solver's iteration calls, in order, :meth:`expert_weights` (the weights
    of the experts' update from the responsibilities and the E-step's latent
    variables), :meth:`m_step` (variances, degrees of freedom), the gate's
    update, :meth:`observed_step` (ECME changes) and :meth:`posterior`. Every
    step must not decrease the log-likelihood, so that EM stays monotone.

    ``df`` below is the container's ``noise_df`` (None for a model without
    it); ``latent`` is what :meth:`estep` returns besides the
    responsibilities (None for Gaussian noise).

    Abilities (``provides``, see :mod:`skmoe.utils._abilities`):
    ``"gaussian"`` (Gaussian densities: the gradient solvers, standard
    errors, ``partial_fit``, the fused EM and the dendrogram need it) and
    ``"shared_experts"`` (models with shared experts).
    """

    #: the noise model's name in messages and in ``NOISES``
    name = ""

    def _spelling(self):
        """The estimator's spelling, ``'name'`` (for messages)."""
        return repr(self.name)

    def n_free_params(self, n_experts):
        """Free noise parameters besides the variances (for BIC/AIC).

        Parameters
        ----------
        n_experts : int
            Number of experts.

        Returns
        -------
        n_params : int
            0 unless the model estimates more than the variances.
        """
        return 0

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

    def posterior(self, X, y, params):
        """E-step of the model ``params`` over all its components.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Inputs.
        y : ndarray of shape (n_samples,)
            Targets.
        params : MoEParams
            The model (its noise model is this object).

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities over the routed, then the shared experts.
        loglik : ndarray of shape (n_samples,)
            Per-sample log-likelihood.
        latent : ndarray or None
            The latent variables of :meth:`estep`.
        """
        return self.estep(*params._components(X), params.noise_df, y)

    @abstractmethod
    def estep(self, log_w, means, variance, df, y):
        """Responsibilities, per-sample log-likelihood and latent variables.

        Parameters
        ----------
        log_w : ndarray of shape (n, K)
            Log mixture weights.
        means : ndarray of shape (n, K)
            Component means.
        variance : ndarray of shape (K,)
            Variances (squared scales).
        df : ndarray or None
            Degrees of freedom.
        y : ndarray of shape (n,)
            Targets.

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
    def log_pdf(self, y, means, variance, df):
        """Component log-densities, shape ``(n, K)``.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Component means.
        variance : ndarray of shape (K,)
            Variances (squared scales).
        df : ndarray or None
            Degrees of freedom.

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
            Sample weight times responsibility.
        latent : ndarray or None
            Latent variables of the E-step.

        Returns
        -------
        weights : ndarray of shape (n, K)
            ``R`` itself by default.
        """
        return R

    @abstractmethod
    def m_step(self, y, means, R, latent, variance, df, var_floor):
        """Updated ``(variance, df)`` given the new expert means.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Updated expert means.
        R : ndarray of shape (n, K)
            Sample weight times responsibility.
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

    @abstractmethod
    def cdf(self, z, df):
        """Standardised distribution function, ``z`` of shape (..., K).

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

    @abstractmethod
    def ppf(self, q, df):
        """Standardised quantile function, ``q`` of shape (..., K).

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

    @abstractmethod
    def standard_draws(self, rng, comp, df):
        """Standardised noise for samples drawn from components ``comp``.

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
    rss = weighted_residual_ss(y, means, R)
    if sums is None:
        sums = R.sum(axis=0)
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
    empty = sums <= 1e-10 * sums.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(empty, old, rss / np.where(empty, 1.0, sums))
    return np.maximum(var, var_floor)
