"""Binomial responses (logit link): mixtures of logistic regressions."""

import numpy as np
from scipy.special import bdtr, expit, gammaln, logit, xlogy

from ._glm import _GLMNoise

#: a proportion times its number of trials must be a whole number to this
#: relative precision (``s / n * n`` differs from ``s`` by a few ulps)
_WHOLE_RTOL = 1e-9


def _log_binom(trials, s):
    """``log C(trials, s)`` by log-gamma functions."""
    return gammaln(trials + 1.0) - gammaln(s + 1.0) - gammaln(trials - s + 1.0)


class BinomialNoise(_GLMNoise):
    """Binomial responses with the logit link: the mixture of logistic regressions.

    ``y`` is a proportion of successes and ``sample_weight`` the number of
    trials :math:`a_i` of each row (R's ``glm`` convention for a binomial
    response given as a proportion, with ``weights`` the trials); without
    ``sample_weight`` every row is one trial and ``y`` is 0 or 1. Given
    expert ``k``, the number of successes :math:`a_i y_i` is binomial with
    :math:`a_i` trials and success probability :math:`\\mu_k(x) =
    1 / (1 + e^{-\\eta_k(x)})`, :math:`\\eta_k(x) = h(x; \\eta_k)` the
    expert's linear predictor:

    .. math::

        p(y_i \\mid x_i) = \\sum_{k=1}^K g_k(x_i) \\binom{a_i}{a_i y_i}
        \\mu_k(x_i)^{a_i y_i} (1 - \\mu_k(x_i))^{a_i (1 - y_i)}.

    **A row is one binomial observation**: all its trials share the row's
    latent expert (flexmix's ``cbind(successes, failures)`` response), so
    the rows count once in the log-likelihood and in the gate's update
    (:meth:`row_weights` are ones) and the trials enter the law. This is
    not the same model as ``a_i`` repeated Bernoulli rows, each with its own
    expert (the two agree for one expert, ``n_experts=1``, which is
    :class:`~sklearn.linear_model.LogisticRegression` with the successes
    and failures as weighted rows). The trials must be positive whole
    numbers and ``a_i y_i`` whole numbers.

    The law has no variance (``MoEParams.variance`` is held at 1 and not
    counted by BIC/AIC). EM fits the experts by iteratively reweighted least
    squares (:meth:`expert_step`: working response :math:`\\eta + (y -
    \\mu) / (\\mu (1 - \\mu))`, working weights :math:`r_{ik} a_i \\mu (1 -
    \\mu)`, step-halving so that the EM objective never decreases), as
    flexmix's ``FLXMRglm(family = "binomial")`` [1]_. The log-likelihood
    includes the binomial coefficient (as R's ``dbinom``).

    ``predict`` is the mixture's success probability :math:`\\sum_k g_k(x)
    \\mu_k(x)` (the mean proportion); ``predict_experts`` gives the experts'
    :math:`\\mu_k(x)` and :meth:`~skmoe.MoEParams.expert_predictors` their
    log-odds; quantiles and draws are proportions on the grid
    :math:`j / a_i` (pass the trials as ``sample_weight``; one trial by
    default).

    References
    ----------
    .. [1] Grün, B. and Leisch, F. (2008). FlexMix version 2: finite
       mixtures with concomitant variables and varying and constant
       parameters. Journal of Statistical Software 28(4), 1-35.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import binom
    >>> from skmoe.noise import BinomialNoise
    >>> logp = BinomialNoise().log_pdf(np.array([0.3]), np.zeros((1, 1)),
    ...                                np.ones(1), None, np.array([10.0]))
    >>> bool(np.isclose(logp[0, 0], binom.logpmf(3, 10, 0.5)))
    True
    """

    name = "binomial"
    _unit = "proportion"

    def row_weights(self, sample_weight):
        """Ones: each row is one binomial observation (its weight is trials).

        Parameters
        ----------
        sample_weight : ndarray of shape (n_samples,)
            The numbers of trials.

        Returns
        -------
        row_weights : ndarray of shape (n_samples,)
            Ones.
        """
        return np.ones_like(sample_weight, dtype=np.float64)

    def _trials(self, sample_weight, n_samples):
        if sample_weight is None:
            return np.ones(n_samples)
        return np.asarray(sample_weight, dtype=np.float64)

    _law = 1  # skmoe._kernels._glm.BINOMIAL

    def _log_const(self, y, trials):
        return _log_binom(trials, trials * y)

    def mean(self, means):
        """The inverse of the logit link, :math:`\\mu = 1 / (1 + e^{-\\eta})`.

        Parameters
        ----------
        means : ndarray
            Linear predictors (log-odds).

        Returns
        -------
        mean : ndarray
            Success probabilities.
        """
        return expit(means)

    def _mu_eta(self, eta):
        return expit(eta) * expit(-eta)

    def _link(self, mu):
        return logit(mu)

    def _mustart(self, y, trials):
        return (trials * y + 0.5) / (trials + 1.0)

    def _saturated(self, y, trials):
        s = trials * y
        return _log_binom(trials, s) + xlogy(s, y) + xlogy(trials - s, 1.0 - y)

    def check_y(self, y, sample_weight=None):
        """Raise a ValueError for proportions or trials the law cannot take.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Proportions of successes, in ``[0, 1]``.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Numbers of trials: positive whole numbers (None: one each).
        """
        y = self._check_1d(y)
        if np.any((y < 0) | (y > 1)):
            bad = y[(y < 0) | (y > 1)][:3]
            raise ValueError(
                "y must hold proportions in [0, 1] for noise='binomial' (with "
                "sample_weight the number of trials); got values such as "
                f"{bad.tolist()}."
            )
        trials = self._check_trials(sample_weight, y.shape[0])
        s = trials * y
        whole = np.abs(s - np.rint(s)) <= _WHOLE_RTOL * np.maximum(trials, 1.0)
        if not np.all(whole):
            raise ValueError(
                "y times sample_weight (the number of successes) must be whole "
                "numbers for noise='binomial'; got proportions "
                f"{y[~whole][:3].tolist()} with trials {trials[~whole][:3].tolist()}."
            )

    def _check_trials(self, sample_weight, n_samples):
        """The trials as floats; a ValueError unless positive whole numbers."""
        if sample_weight is None:
            return np.ones(n_samples)
        trials = np.asarray(sample_weight, dtype=np.float64)
        if trials.shape != (n_samples,):
            raise ValueError(
                "sample_weight (the number of trials) must have one entry per "
                f"row of y for noise='binomial'; got shape {trials.shape} for "
                f"{n_samples} rows."
            )
        good = np.isfinite(trials) & (trials > 0) & (trials == np.floor(trials))
        if not np.all(good):
            bad = trials[~good][:3]
            raise ValueError(
                "sample_weight is the number of trials for noise='binomial' and "
                f"must hold positive whole numbers; got values such as "
                f"{bad.tolist()}."
            )
        return trials

    def component_cdf(self, y, means, variance, df, sample_weight=None):
        """Binomial distribution functions of the proportion, :math:`P(Y \\le y)`.

        Parameters
        ----------
        y : ndarray of shape (n, m, 1)
            Proportions.
        means : ndarray of shape (n, 1, K)
            Linear predictors.
        variance : ndarray of shape (K,)
            Unused.
        df : None
            Unused.
        sample_weight : ndarray of shape (n,) or None, default=None
            Numbers of trials (one each by default).

        Returns
        -------
        cdf : ndarray of shape (n, m, K)
            ``bdtr(floor(a y), a, mu)`` (``a y`` rounded up by ``1e-9``
            first, so that a proportion ``j / a`` computed in floating point
            counts ``j`` successes); 0 below 0 and 1 from ``y = 1`` on.
        """
        trials = self._check_trials(sample_weight, y.shape[0])[:, None, None]
        k = np.floor(trials * y + 1e-9)
        inside = np.clip(k, 0.0, trials).astype(np.int64)
        cdf = bdtr(inside, trials.astype(np.int64), self.mean(means))
        return np.where(k < 0, 0.0, np.where(k >= trials, 1.0, cdf))

    def lattice(self, sample_weight, n_samples):
        """Return the lattice of proportions ``j / a`` of ``a`` trials.

        Parameters
        ----------
        sample_weight : ndarray of shape (n_samples,) or None
            Numbers of trials (one each by default).
        n_samples : int
            Number of rows.

        Returns
        -------
        step : ndarray of shape (n_samples,)
            ``1 / a``.
        top : ndarray of shape (n_samples,)
            ``a``.
        """
        trials = self._check_trials(sample_weight, n_samples)
        return 1.0 / trials, trials

    def draw(self, rng, comp, means, variance, df, sample_weight=None):
        """Draw proportions of successes from each row's component.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each row (unused: ``means`` are the row's).
        means : ndarray of shape (n,)
            Log-odds of each row's component.
        variance : ndarray of shape (n,)
            Unused.
        df : None
            Unused.
        sample_weight : ndarray of shape (n,) or None, default=None
            Numbers of trials (one each by default).

        Returns
        -------
        y : ndarray of shape (n,)
            Proportions ``successes / trials``.
        """
        trials = self._check_trials(sample_weight, means.shape[0])
        return rng.binomial(trials.astype(np.int64), self.mean(means)) / trials
