"""Poisson responses (log link): mixtures of Poisson regressions."""

import numpy as np
from scipy.special import gammaln, pdtr, xlogy

from ._glm import _GLMNoise


class PoissonNoise(_GLMNoise):
    """Poisson responses with the log link: the mixture of Poisson regressions.

    Given expert ``k``, the count ``y`` is Poisson with mean
    :math:`\\mu_k(x) = \\exp(\\eta_k(x))`, where the expert's output
    :math:`\\eta_k(x) = h(x; \\eta_k)` is its linear predictor (an affine
    map for :class:`~skmoe.LinearExperts`, a polynomial for
    :class:`~skmoe.PolynomialExperts`, one hidden unit for
    :class:`~skmoe.FFNExperts`):

    .. math::

        p(y \\mid x) = \\sum_{k=1}^K g_k(x) \\,
        \\frac{\\mu_k(x)^y e^{-\\mu_k(x)}}{y!}.

    The law has no variance (``MoEParams.variance`` is held at 1 and not
    counted by BIC/AIC). EM fits the experts by iteratively reweighted least
    squares (:meth:`expert_step`: working response :math:`\\eta + (y -
    \\mu) / \\mu`, working weights :math:`r_{ik} w_i \\mu`, step-halving so
    that the EM objective never decreases), the mixture of Poisson
    regressions of flexmix (``FLXMRglm(family = "poisson")``, [1]_) and of
    Wedel et al. [2]_ with a covariate-dependent gate. ``sample_weight`` are
    frequency weights (integer weights equal repeated rows). ``y`` must hold
    non-negative whole numbers. The log-likelihood includes
    :math:`-\\log y!` (as R's ``dpois``), so it compares with flexmix's and
    ``glm``'s.

    ``predict`` is the mixture mean :math:`\\sum_k g_k(x) \\mu_k(x)`;
    ``predict_experts`` gives the experts' means :math:`\\mu_k(x)` and
    :meth:`~skmoe.MoEParams.expert_predictors` their linear predictors;
    quantiles are counts (the smallest count whose mixture distribution
    function reaches ``q``).

    References
    ----------
    .. [1] Grün, B. and Leisch, F. (2008). FlexMix version 2: finite
       mixtures with concomitant variables and varying and constant
       parameters. Journal of Statistical Software 28(4), 1-35.
    .. [2] Wedel, M., DeSarbo, W. S., Bult, J. R. and Ramaswamy, V. (1993).
       A latent class Poisson regression model for heterogeneous count data.
       Journal of Applied Econometrics 8(4), 397-411.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import poisson
    >>> from skmoe.noise import PoissonNoise
    >>> logp = PoissonNoise().log_pdf(np.array([3.0]), np.log([[2.0]]),
    ...                               np.ones(1), None)
    >>> bool(np.isclose(logp[0, 0], poisson.logpmf(3, 2.0)))
    True
    """

    name = "poisson"
    _unit = "count"

    _law = 0  # skmoe._kernels._glm.POISSON

    def _log_const(self, y, trials):
        return -gammaln(y + 1.0)

    def mean(self, means):
        """The inverse of the log link, :math:`\\mu = e^{\\eta}`.

        Parameters
        ----------
        means : ndarray
            Linear predictors :math:`\\eta`.

        Returns
        -------
        mean : ndarray
            :math:`e^{\\eta}`.
        """
        with np.errstate(over="ignore"):
            return np.exp(means)

    def _mu_eta(self, eta):
        return np.exp(eta)

    def _link(self, mu):
        return np.log(mu)

    def _mustart(self, y, trials):
        return y + 0.1

    def _saturated(self, y, trials):
        return xlogy(y, y) - y - gammaln(y + 1.0)

    def check_y(self, y, sample_weight=None):
        """Raise a ValueError unless ``y`` holds non-negative whole counts.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Counts.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Frequency weights (checked by the estimator).
        """
        y = self._check_1d(y)
        if np.any(y < 0) or np.any(y != np.floor(y)):
            bad = y[(y < 0) | (y != np.floor(y))][:3]
            raise ValueError(
                "y must hold non-negative whole counts for noise='poisson'; got "
                f"values such as {bad.tolist()}."
            )

    def component_cdf(self, y, means, variance, df, sample_weight=None):
        """Poisson distribution functions :math:`P(Y \\le y \\mid k)`.

        Parameters
        ----------
        y : ndarray of shape (n, m, 1)
            Evaluation points.
        means : ndarray of shape (n, 1, K)
            Linear predictors.
        variance : ndarray of shape (K,)
            Unused.
        df : None
            Unused.
        sample_weight : ndarray or None, default=None
            Unused.

        Returns
        -------
        cdf : ndarray of shape (n, m, K)
            ``pdtr(floor(y), exp(eta))``, 0 below 0.
        """
        k = np.floor(y)
        with np.errstate(over="ignore"):
            cdf = pdtr(np.maximum(k, 0.0), np.exp(means))
        return np.where(k < 0, 0.0, cdf)

    def lattice(self, sample_weight, n_samples):
        """Return the lattice of counts: step 1, unbounded.

        Parameters
        ----------
        sample_weight : ndarray or None
            Unused.
        n_samples : int
            Number of rows.

        Returns
        -------
        step : ndarray of shape (n_samples,)
            Ones.
        top : None
            Counts are unbounded.
        """
        return np.ones(n_samples), None

    def draw(self, rng, comp, means, variance, df, sample_weight=None):
        """Draw Poisson counts with the means of each row's component.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each row (unused: ``means`` are the row's).
        means : ndarray of shape (n,)
            Linear predictors of each row's component.
        variance : ndarray of shape (n,)
            Unused.
        df : None
            Unused.
        sample_weight : ndarray or None, default=None
            Unused.

        Returns
        -------
        y : ndarray of shape (n,)
            Counts, as floats.
        """
        return rng.poisson(self.mean(means)).astype(np.float64)
