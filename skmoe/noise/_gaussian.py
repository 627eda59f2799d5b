"""Gaussian expert noise."""

import numpy as np
from scipy.special import ndtr, ndtri

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._threads import use_threads
from ._base import NoiseModel, update_variances


class _GaussianProgram:
    """The compiled EM state of Gaussian noise: variances and the shared part.

    Shared experts (``S > 0``) add their variances, their weights ``omega``
    and the fixed shared weight ``lambda``: the routed components' log-weights
    are shifted by ``log(1 - lambda)``, the shared ones are ``log lambda +
    log omega_s`` (as :meth:`skmoe.MoEParams._components`).
    """

    def __init__(self, y, sample_weight, params, var_floor):
        self.y = y
        self.w = as_kernel_array(params.noise.row_weights(sample_weight))
        self.var = as_kernel_array(params.variance).copy()
        self.var_floor = float(var_floor)
        self.shared = bool(params.n_shared_experts)
        if self.shared:
            lam = params.shared_weight
            self.shift = float(np.log1p(-lam))
            self.log_lambda = float(np.log(lam))
            self.var_s = as_kernel_array(params.shared_variance).copy()
            self.omega = as_kernel_array(params.shared_weights).copy()
            with np.errstate(divide="ignore"):
                self.logw_s = np.log(lam) + np.log(self.omega)
        else:
            self.shift = 0.0
            self.var_s = self.omega = self.logw_s = np.zeros(0)

    def e_step(self, LW, MU, MUs, R, Rs):
        return _kernels._gaussian_steps.gaussian_estep_into(
            LW, MU, self.var, self.shift, MUs, self.var_s, self.logw_s, self.y,
            self.w, R, Rs)

    def expert_step(self, experts, R, MU):
        return experts.step(R, MU)

    def m_step(self, MU, R, MUs, Rs):
        steps = _kernels._gaussian_steps
        finite = steps.gaussian_variance_step(self.y, MU, R, self.var, self.var_floor)
        if self.shared:
            finite &= steps.gaussian_variance_step(self.y, MUs, Rs, self.var_s,
                                                   self.var_floor)
            steps.shared_weights_step(Rs, self.omega, self.log_lambda, self.logw_s)
        return finite

    def observed_step(self, n_iter, LW, MU, MUs):
        return True

    def log_densities(self, MU, MUs, A, a):
        _kernels._gaussian_steps.gaussian_log_densities_into(
            MU, self.var, self.shift, MUs, self.var_s, self.logw_s, self.y, A, a)

    def fields(self):
        fields = {"variance": self.var.copy()}
        if self.shared:
            fields.update(shared_variance=self.var_s.copy(),
                          shared_weights=self.omega.copy())
        return fields


class GaussianNoise(NoiseModel):
    """Gaussian expert noise, :math:`y \\mid k \\sim \\mathcal{N}(h_k(x), \\nu_k)`.

    The default noise model of :class:`~skmoe.MixtureOfExpertsRegressor`
    (``noise="gaussian"``). It has no parameter besides the variances. For a
    ``y`` of several responses (2-D) the estimator uses its multivariate
    counterpart, :class:`~skmoe.noise.MultivariateGaussianNoise`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.noise import GaussianNoise
    >>> GaussianNoise().cdf(np.array([0.0]), None)
    array([0.5])
    """

    name = "gaussian"
    provides = frozenset({"gaussian", "gradient", "shared_experts", "univariate",
                          "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("estep", "posterior", "log_pdf", "m_step",
                         "expert_weights", "expert_step", "observed_step")
    #: a 2-D ``y`` takes the multivariate Gaussian law (full covariances)
    multi_output_law = "multivariate_gaussian"
    _parameter_constraints: dict = {}

    def posterior(self, X, y, params, sample_weight=None):
        """E-step over all components; one fused pass for linear models.

        When the gate has linear softmax logits and the experts are affine
        (both declare the ability ``"linear"``) and there are no shared
        experts, one kernel computes the logits, the expert means, the
        responsibilities and the log-likelihood in a single pass over the
        data; otherwise :meth:`estep` on the components.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Inputs.
        y : ndarray of shape (n_samples,)
            Targets.
        params : MoEParams
            The model.
        sample_weight : ndarray of shape (n_samples,) or None, default=None
            Unused (frequency weights do not change the densities).

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities.
        loglik : ndarray of shape (n_samples,)
            Per-sample log-likelihood.
        latent : None
            Gaussian noise has no latent variable.
        """
        K = params.n_experts
        if (not params.n_shared_experts
                and params.gating.lacks("linear", K) is None
                and params.experts.lacks("linear", K) is None):
            kernel = (_kernels._gaussian.gaussian_estep_linear_parallel
                      if use_threads(X.shape[0])
                      else _kernels._gaussian.gaussian_estep_linear)
            resp, loglik = kernel(
                X, y, *params.gating.linear_logits(params),
                *params.experts.linear_means(params.expert_params),
                params.variance)
            return resp, loglik, None
        return super().posterior(X, y, params, sample_weight)

    def estep(self, log_w, means, variance, df, y, sample_weight=None):
        """E-step: responsibilities and log-likelihood (no scale weights).

        Parameters
        ----------
        log_w : ndarray of shape (n, K)
            Log mixture weights.
        means : ndarray of shape (n, K)
            Expert means.
        variance : ndarray of shape (K,)
            Variances.
        df : None
            Unused.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        resp : ndarray of shape (n, K)
            Responsibilities.
        loglik : ndarray of shape (n,)
            Per-sample log-likelihood.
        scale : None
            No latent scale.
        """
        resp, loglik = _kernels._gaussian.gaussian_estep(
            log_w, means, as_kernel_array(variance), y)
        return resp, loglik, None

    def log_pdf(self, y, means, variance, df, sample_weight=None):
        """Gaussian component log-densities, one column per expert.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Expert means.
        variance : ndarray of shape (K,)
            Variances.
        df : None
            Unused.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        logpdf : ndarray of shape (n, K)
            Log-densities.
        """
        return (-0.5 * np.log(2.0 * np.pi * variance)
                - 0.5 * (y[:, None] - means) ** 2 / variance)

    def m_step(self, y, means, R, latent, variance, df, var_floor):
        """Weighted mean squared residuals, floored.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Updated expert means.
        R : ndarray of shape (n, K)
            Sample weight times responsibility.
        latent : None
            Unused.
        variance : ndarray of shape (K,)
            Current variances (kept for empty experts).
        df : None
            Unused.
        var_floor : float
            Lower bound of the variances.

        Returns
        -------
        variance : ndarray of shape (K,)
            Updated variances.
        df : None
            No degrees of freedom.
        """
        return update_variances(y, means, R, variance, var_floor), None

    def compiled_program(self, y, sample_weight, params, var_floor):
        """The variances (and shared part) and the Gaussian steps, compiled.

        Ability ``"compiled"``; see
        :meth:`~skmoe.noise.NoiseModel.compiled_program`. The E-step is that
        of :meth:`estep` over the routed and shared components, the M-step
        the weighted residual variances of :meth:`m_step` (and, with shared
        experts, their variances and weights).

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            Targets.
        sample_weight : ndarray of shape (n_samples,)
            Frequency weights.
        params : MoEParams
            The starting parameters.
        var_floor : float
            Lower bound of the variances.

        Returns
        -------
        program : object
            The program.
        """
        return _GaussianProgram(y, sample_weight, params, var_floor)

    def loglik_grad(self, log_gate, means, variance, df, y, sample_weight):
        """Weighted log-likelihood and its gradients (one Numba pass).

        The kernel ``gaussian_loglik_grad``: with the responsibilities
        :math:`r_{ik}`, :math:`\\partial L / \\partial \\log g_{ik} = w_i
        r_{ik}`, :math:`\\partial L / \\partial \\mu_{ik} = w_i r_{ik} (y_i -
        \\mu_{ik}) / \\nu_k` and :math:`\\partial L / \\partial \\nu_k =
        \\sum_i w_i r_{ik} ((y_i - \\mu_{ik})^2 / \\nu_k - 1) / (2 \\nu_k)`.

        Parameters
        ----------
        log_gate : ndarray of shape (n, K)
            Log gating weights.
        means : ndarray of shape (n, K)
            Expert means.
        variance : ndarray of shape (K,)
            Variances.
        df : None
            Unused.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,)
            Frequency weights :math:`w_i`.

        Returns
        -------
        value : float
            The weighted log-likelihood.
        d_log_gate, d_means : ndarray of shape (n, K)
            Its gradients in the log gates and the means.
        d_var : ndarray of shape (K,)
            Its gradient in the variances.
        """
        return _kernels._objectives.gaussian_loglik_grad(
            log_gate, means, as_kernel_array(variance), y, sample_weight)

    def cdf(self, z, df):
        """Standard normal distribution function.

        Parameters
        ----------
        z : ndarray
            Standardised values.
        df : None
            Unused.

        Returns
        -------
        cdf : ndarray
            :math:`\\Phi(z)`.
        """
        return ndtr(z)

    def ppf(self, q, df):
        """Standard normal quantile function.

        Parameters
        ----------
        q : ndarray
            Probabilities.
        df : None
            Unused.

        Returns
        -------
        z : ndarray
            :math:`\\Phi^{-1}(q)`.
        """
        return ndtri(q)

    def standard_draws(self, rng, comp, df):
        """Standard normal draws, one per sample.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each sample (unused).
        df : None
            Unused.

        Returns
        -------
        noise : ndarray of shape (n,)
            Standard normal draws.
        """
        return rng.standard_normal(comp.shape[0])

