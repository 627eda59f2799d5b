"""Student-t expert noise: the t mixture of experts."""

from numbers import Real

import numpy as np
from scipy.special import stdtr, stdtrit

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import Interval
from ._base import NoiseModel, update_variances

#: bounds of the degrees of freedom estimated by EM. At 1 (Cauchy) the t law
#: already has no mean and gives a gross outlier the weight u = 2 / (1 + z**2),
#: so heavier tails are not needed to down-weight outliers; above 200 the t
#: and the Gaussian log-densities differ by less than about ``(z**4 - 2 z**2 -
#: 1) / (4 nu)``, i.e. a few thousandths at |z| <= 2, and the profile
#: likelihood in ``nu`` is flat, so the root is meaningless and slow to find.
DF_BOUNDS = (1.0, 200.0)
#: largest fixed ``df`` accepted: beyond it the t model is the Gaussian one to
#: about ``1e-6`` in log-density (the log-density kernel computes
#: ``lgamma((nu + 1) / 2) - lgamma(nu / 2)`` without cancellation at any
#: ``nu``, see ``_kernels._student_t.lgamma_half_difference``).
DF_MAX_FIXED = 1e6
#: starting degrees of freedom of an estimated ``df``: heavy tails, so that the
#: first E-step already down-weights gross outliers (u = 5 / (4 + z**2), 0.05 at
#: z = 10). Measured on the robustness study of the user guide (ECM updates of
#: df): starting at 10 left one of 8 contaminated data sets in a Gaussian-like
#: local optimum (both df at 200); starting at 4 did not.
DF_START = 4.0
#: EM iterations with the ECM update of df only, before the ECME step joins
#: (see StudentTNoise): the experts separate first, then df converges fast.
DF_ECME_AFTER = 20
#: absolute tolerance on ``log nu`` of the ECME step's bounded minimisation
ECME_XATOL = 1e-8



class _StudentTProgram:
    """The compiled EM state of Student-t noise: squared scales and ``df``.

    The E-step (:func:`~skmoe._kernels._student_t.student_t_estep_into`)
    leaves the scale weights ``u`` in ``U``; the experts' weights are ``R *
    u`` (:meth:`StudentTNoise.expert_weights`), the M-step the squared scales
    and the ECM root of the degrees of freedom (:meth:`StudentTNoise.m_step`,
    its statistic by the same kernel), and after ``DF_ECME_AFTER``
    iterations the ECME step of :meth:`StudentTNoise.observed_step` (the
    same code, on the program's arrays).
    """

    def __init__(self, noise, y, sample_weight, params, var_floor):
        self.noise = noise
        self.y = y
        self.sample_weight = sample_weight
        self.w = as_kernel_array(noise.row_weights(sample_weight))
        self.var = as_kernel_array(params.variance).copy()
        self.df = as_kernel_array(params.noise_df).copy()
        self.var_floor = float(var_floor)
        n, K = y.shape[0], params.n_experts
        self.U, self.RU = np.empty((n, K)), np.empty((n, K))
        self.mass = np.empty(K)

    def e_step(self, LW, MU, MUs, R, Rs):
        return _kernels._student_t.student_t_estep_into(
            LW, MU, self.var, self.df, self.y, self.w, R, self.U)

    def expert_step(self, experts, R, MU):
        # the weights R * u (expert_weights), kept for m_step
        return experts.step(np.multiply(R, self.U, out=self.RU), MU)

    def m_step(self, MU, R, MUs, Rs):
        # the weights R * u of this iteration's expert step
        finite = _kernels._student_t.student_t_scale_step(
            self.y, MU, R, self.RU, self.var, self.var_floor, self.mass)
        if self.noise.df is None:
            _ecm_df(R, self.U, self.mass, self.df)
        return finite and bool(np.isfinite(self.df).all())

    def observed_step(self, n_iter, LW, MU, MUs):
        if self.noise.df is None and n_iter > DF_ECME_AFTER:
            self.noise._ecme_df(LW, MU, self.var, self.df, self.y,
                                self.sample_weight)
        return True

    def log_densities(self, MU, MUs, A, a):
        # no shared experts (a stays -inf): the routed t log-densities
        A[:] = self.noise.log_pdf(self.y, MU, self.var, self.df,
                                  self.sample_weight)

    def fields(self):
        return {"variance": self.var.copy(), "noise_df": self.df.copy()}


class StudentTNoise(NoiseModel):
    """Student-t expert noise: the t mixture of experts (Chamroukhi 2016).

    Given expert ``k``, ``y`` follows a location-scale t law,

    .. math::

        t(y \\mid \\mu, \\sigma^2, \\nu) =
        \\frac{\\Gamma(\\frac{\\nu+1}{2})}
             {\\Gamma(\\frac{\\nu}{2}) \\sqrt{\\pi \\nu \\sigma^2}}
        \\Big(1 + \\frac{(y - \\mu)^2}{\\nu \\sigma^2}\\Big)^{-\\frac{\\nu+1}{2}},

    with :math:`\\mu = h(x; \\eta_k)`, squared scale
    :math:`\\sigma_k^2` (stored in ``variance``; the variance of the noise is
    :math:`\\sigma_k^2 \\nu_k / (\\nu_k - 2)` for :math:`\\nu_k > 2`) and
    degrees of freedom :math:`\\nu_k` (stored in ``noise_df``). Writing the t
    law as a Gaussian scale mixture, :math:`y \\mid k, u \\sim
    \\mathcal{N}(\\mu, \\sigma^2 / u)` with :math:`u \\sim
    \\mathrm{Gamma}(\\nu/2, \\nu/2)`, EM (an ECME algorithm [1]_, [2]_, [3]_)
    has

    - E-step: responsibilities :math:`\\tau_{ik}` with the t densities, and
      :math:`u_{ik} = (\\nu_k + 1) / (\\nu_k + r_{ik}^2 / \\sigma_k^2)`,
      :math:`r_{ik} = y_i - h(x_i; \\eta_k)`, the conditional mean of the
      scale variable;
    - CM-steps on the expected complete-data log-likelihood: experts by
      weighted least squares with weights :math:`w_i \\tau_{ik} u_{ik}`;
      :math:`\\sigma_k^2 = \\sum_i w_i \\tau_{ik} u_{ik} r_{ik}^2 / \\sum_i
      w_i \\tau_{ik}` (floored); each estimated :math:`\\nu_k` as the root of
      (ECM, [1]_, [2]_)

      .. math::

          \\log\\frac{\\nu}{2} - \\psi\\Big(\\frac{\\nu}{2}\\Big) + 1
          + \\frac{\\sum_i w_i \\tau_{ik} (\\log u_{ik} - u_{ik})}
                 {\\sum_i w_i \\tau_{ik}}
          + \\psi\\Big(\\frac{\\nu_k^{old} + 1}{2}\\Big)
          - \\log\\frac{\\nu_k^{old} + 1}{2} = 0

      (Brent's method; the left side decreases in :math:`\\nu` and the
      objective is concave in :math:`\\nu`, so the root clipped to ``[1,
      200]`` is the constrained maximiser); the gate by its own update on
      :math:`\\tau`;
    - after the first 20 iterations, also a CM-step on the observed
      log-likelihood (ECME, [3]_): each :math:`\\nu_k` in turn maximises
      :math:`\\sum_i w_i \\log p(y_i \\mid x_i)` with everything else fixed,
      by bounded Brent search on :math:`\\log \\nu_k \\in [\\log 1, \\log
      200]`; the best of that point, the two bounds and the current value is
      kept.

    Every step increases the observed log-likelihood (monotone, up to
    round-off). Why both (measured on data with 5% gross outliers, see the
    user guide): ECM alone moves the degrees of freedom of a nearly Gaussian
    expert slowly along a flat ridge of the likelihood (up to 429
    iterations); ECME from the first iteration converges in 22-71 iterations
    but, while the experts still overlap, makes one expert Gaussian and the
    other Cauchy at once, and 3 of 6 starts on one data set ended in that
    outlier-absorbing optimum. ECM first, then ECME: no such failure in 16
    starts, 25-57 iterations.

    Parameters
    ----------
    df : float or None, default=None
        Degrees of freedom. None: estimated per expert by EM, in ``[1,
        200]`` (1 is the Cauchy law, the heaviest tails allowed; above 200
        the t law is a Gaussian to a few thousandths in log-density and the
        likelihood is flat in ``df``). A float in ``[1, 1e6]`` fixes all
        experts' degrees of freedom. ``predict`` returns
        :math:`\\sum_k g_k(x) h(x; \\eta_k)`, which is :math:`E[y \\mid x]`
        when every :math:`\\nu_k > 1` (at :math:`\\nu_k = 1` the expert has
        no mean and :math:`h` is its median).

    References
    ----------
    .. [1] Chamroukhi, F. (2016). Robust mixture of experts modeling using
       the t distribution. Neural Networks 79, 20-36. arXiv:1701.07429.
    .. [2] Peel, D. and McLachlan, G. J. (2000). Robust mixture modelling
       using the t distribution. Statistics and Computing 10, 339-348.
    .. [3] Liu, C. and Rubin, D. B. (1995). ML estimation of the t
       distribution using EM and its extensions, ECM and ECME. Statistica
       Sinica 5, 19-39.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import t
    >>> from skmoe.noise import StudentTNoise
    >>> logpdf = StudentTNoise().log_pdf(np.array([1.0]), np.zeros((1, 1)),
    ...                                  np.array([1.0]), np.array([3.0]))
    >>> bool(np.isclose(logpdf[0, 0], t.logpdf(1.0, 3.0)))
    True
    """

    name = "student_t"
    # no "gaussian" (the gradient kernels, online statistics, fused EM and
    # dendrogram are Gaussian) and no "shared_experts"
    provides = frozenset({"univariate", "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("estep", "posterior", "m_step", "expert_weights",
                         "expert_step", "observed_step")
    _parameter_constraints: dict = {
        "df": [None, Interval(Real, DF_BOUNDS[0], DF_MAX_FIXED, closed="both")],
    }

    def __init__(self, df=None):
        self.df = df

    def n_free_params(self, n_experts, n_targets=None):
        """Number of squared scales and estimated degrees of freedom.

        Parameters
        ----------
        n_experts : int
            Number of experts.
        n_targets : None, default=None
            Unused (one response per row).

        Returns
        -------
        n_params : int
            ``2 * n_experts`` when ``df`` is None (estimated), else
            ``n_experts`` (the squared scales).
        """
        return n_experts + (n_experts if self.df is None else 0)

    def check_df(self, df, n_experts):
        """Validate the degrees of freedom of a container.

        Parameters
        ----------
        df : array-like of shape (n_experts,) or None
            Degrees of freedom; None uses ``self.df`` (or the starting
            value when it is estimated).
        n_experts : int
            Number of experts.

        Returns
        -------
        df : ndarray of shape (n_experts,)
            The validated degrees of freedom.
        """
        if df is None:
            df = DF_START if self.df is None else self.df
        df = as_kernel_array(np.broadcast_to(np.asarray(df, dtype=np.float64),
                                             (n_experts,)) if np.ndim(df) == 0
                             else df)
        if df.shape != (n_experts,):
            raise ValueError(
                f"noise_df must have shape ({n_experts},); got shape {df.shape}."
            )
        if not np.all((df >= DF_BOUNDS[0]) & (df <= DF_MAX_FIXED)):
            raise ValueError(
                f"noise_df must lie in [{DF_BOUNDS[0]}, {DF_MAX_FIXED:g}]; got "
                f"{df!r}."
            )
        return df

    def start(self, params, previous=None):
        """Add starting degrees of freedom to Gaussian starting parameters.

        Parameters
        ----------
        params : MoEParams
            Starting parameters (any noise).
        previous : MoEParams or None, default=None
            A user-given start; its degrees of freedom are kept when it is a
            t model and ``df`` is estimated.

        Returns
        -------
        params : MoEParams
            ``params`` with this noise model and its degrees of freedom.
        """
        K = params.n_experts
        if self.df is not None:
            df = np.full(K, float(self.df))
        elif previous is not None and getattr(previous, "noise_df", None) is not None:
            df = np.clip(previous.noise_df, *DF_BOUNDS)
        else:
            df = np.full(K, DF_START)
        return params.replace(noise=self, noise_df=df)

    def estep(self, log_w, means, variance, df, y, sample_weight=None):
        """E-step: responsibilities, log-likelihood and scale weights ``u``.

        Parameters
        ----------
        log_w : ndarray of shape (n, K)
            Log mixture weights.
        means : ndarray of shape (n, K)
            Expert locations.
        variance : ndarray of shape (K,)
            Squared scales.
        df : ndarray of shape (K,)
            Degrees of freedom.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused (frequency weights do not change the densities).

        Returns
        -------
        resp : ndarray of shape (n, K)
            Responsibilities :math:`\\tau_{ik}`.
        loglik : ndarray of shape (n,)
            Per-sample log-likelihood.
        scale : ndarray of shape (n, K)
            :math:`u_{ik}`.
        """
        return _kernels._student_t.student_t_estep(
            log_w, means, as_kernel_array(variance), as_kernel_array(df), y)

    def log_pdf(self, y, means, variance, df, sample_weight=None):
        """Student-t component log-densities, one column per expert.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Expert locations.
        variance : ndarray of shape (K,)
            Squared scales.
        df : ndarray of shape (K,)
            Degrees of freedom.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        logpdf : ndarray of shape (n, K)
            Log-densities.
        """
        return _kernels._student_t.student_t_logpdf(
            as_kernel_array(means), as_kernel_array(variance), as_kernel_array(df),
            as_kernel_array(y))

    def expert_weights(self, R, latent):
        """Multiply the responsibilities by the scale weights ``u``.

        Parameters
        ----------
        R : ndarray of shape (n, K)
            Sample weight times responsibility.
        latent : ndarray of shape (n, K)
            Scale weights :math:`u_{ik}`.

        Returns
        -------
        weights : ndarray of shape (n, K)
            Their product.
        """
        return as_kernel_array(R * latent)

    def m_step(self, y, means, R, latent, variance, df, var_floor):
        """Squared scales (CM-step); the degrees of freedom are unchanged.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Updated expert locations.
        R : ndarray of shape (n, K)
            Sample weight times responsibility.
        latent : ndarray of shape (n, K)
            Scale weights :math:`u_{ik}` of the E-step.
        variance : ndarray of shape (K,)
            Current squared scales (kept for empty experts).
        df : ndarray of shape (K,)
            Current degrees of freedom (updated by :meth:`observed_step`).
        var_floor : float
            Lower bound of the squared scales.

        Returns
        -------
        variance : ndarray of shape (K,)
            Updated squared scales.
        df : ndarray of shape (K,)
            ``df``, unchanged.
        """
        scale = latent
        mass = R.sum(axis=0)
        # sum_i R_ik u_ik r_ik^2 / sum_i R_ik
        new_var = update_variances(y, means, as_kernel_array(R * scale), variance,
                                   var_floor, sums=mass)
        if self.df is not None:
            return new_var, df
        new_df = df.copy()
        _ecm_df(as_kernel_array(R), as_kernel_array(scale), mass, new_df)
        return new_var, new_df

    def observed_step(self, X, y, sample_weight, params, n_iter):
        """ECME step: each estimated :math:`\\nu_k` maximises the likelihood.

        Parameters
        ----------
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,)
            Sample weights.
        params : MoEParams
            Current parameters (after the other CM-steps).
        n_iter : int
            The EM iteration (from 1); the step runs after ``DF_ECME_AFTER``
            iterations only.

        Returns
        -------
        changes : dict
            ``{"noise_df": ...}`` with the updated degrees of freedom, or
            empty when they are fixed.
        """
        if self.df is not None or n_iter <= DF_ECME_AFTER:
            return {}
        log_w, means, variance = params._components(X)
        df = params.noise_df.copy()
        self._ecme_df(log_w, means, variance, df, y, sample_weight)
        return {"noise_df": df}

    def _ecme_df(self, log_w, means, variance, df, y, sample_weight):
        """The ECME step of :meth:`observed_step` on arrays: ``df`` in place
        (:func:`~skmoe._kernels._student_t.ecme_df_step`)."""
        _kernels._student_t.ecme_df_step(
            as_kernel_array(log_w), as_kernel_array(means), as_kernel_array(variance),
            df, as_kernel_array(y), as_kernel_array(sample_weight), *DF_BOUNDS,
            ECME_XATOL)

    def compiled_program(self, y, sample_weight, params, var_floor):
        """The squared scales, the degrees of freedom and the t steps, compiled.

        Ability ``"compiled"``; see
        :meth:`~skmoe.noise.NoiseModel.compiled_program`. The E-step is that
        of :meth:`estep` (times the row weights), the M-step that of
        :meth:`m_step` and the ECME step that of :meth:`observed_step`.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            Targets.
        sample_weight : ndarray of shape (n_samples,)
            Frequency weights.
        params : MoEParams
            The starting parameters.
        var_floor : float
            Lower bound of the squared scales.

        Returns
        -------
        program : object
            The program.
        """
        return _StudentTProgram(self, y, sample_weight, params, var_floor)

    def cdf(self, z, df):
        """Standard t distribution function, one ``df`` per last-axis entry.

        Parameters
        ----------
        z : ndarray of shape (..., K)
            Standardised values ``(y - mu) / sigma``.
        df : ndarray of shape (K,)
            Degrees of freedom.

        Returns
        -------
        cdf : ndarray of shape (..., K)
            The t distribution function.
        """
        return stdtr(df, z)

    def ppf(self, q, df):
        """Standard t quantile function, one ``df`` per last-axis entry.

        Parameters
        ----------
        q : ndarray of shape (..., K)
            Probabilities.
        df : ndarray of shape (K,)
            Degrees of freedom.

        Returns
        -------
        z : ndarray of shape (..., K)
            The t quantiles.
        """
        return stdtrit(df, q)

    def standard_draws(self, rng, comp, df):
        """Standard t draws with the degrees of freedom of each sample's expert.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each sample.
        df : ndarray of shape (K,)
            Degrees of freedom.

        Returns
        -------
        noise : ndarray of shape (n,)
            Standard t draws.
        """
        return rng.standard_t(df[comp])


def _ecm_df(R, U, mass, df):
    """The ECM update of every estimated ``df`` (an expert with mass), in place.

    ``df[k]`` becomes the root of the ECM equation, clipped to
    ``DF_BOUNDS`` (:func:`~skmoe._kernels._student_t.ecm_df_update`), with
    the statistic ``sum_i R_ik (log u_ik - u_ik) / mass_k``.
    """
    _kernels._student_t.ecm_df_update(R, U, as_kernel_array(mass), df, *DF_BOUNDS)


def _solve_df(mean_log_u_minus_u, df_old):
    """The ECM update of one ``df``, clipped to ``DF_BOUNDS``
    (:func:`~skmoe._kernels._student_t.solve_df`)."""
    return _kernels._student_t.solve_df(float(mean_log_u_minus_u), float(df_old),
                                        *DF_BOUNDS)
