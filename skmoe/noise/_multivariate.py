"""Multivariate Gaussian expert noise: several responses sharing one gate."""

import numpy as np
from scipy.special import ndtr

from .. import _kernels
from ..utils._abilities import Requirements
from ..utils._arrays import as_kernel_array
from ..utils._sklearn import StrOptions
from ._base import NoiseModel

#: an expert whose mass is at most this fraction of the total keeps its
#: covariance (as :func:`~skmoe.noise.variances_from_rss` keeps a variance)
EMPTY_MASS = 1e-10
#: relative asymmetry accepted in a given covariance matrix (round-off of a
#: product such as ``A @ A.T``); it is symmetrised
SYMMETRY_RTOL = 1e-10


class MultivariateGaussianNoise(NoiseModel):
    """Multivariate Gaussian expert noise: ``m`` responses, one gate.

    With ``y`` of shape (n_samples, n_targets), the model is

    .. math::

        p(y \\mid x) = \\sum_{k=1}^K g_k(x) \\,
        \\mathcal{N}_m\\big(y \\mid B_k \\phi(x), \\Sigma_k\\big),

    where expert ``k`` maps ``x`` to the ``m`` responses with an ``m x (p +
    1)`` coefficient matrix :math:`B_k` (one row of the expert family's
    layout per response: ``expert_params`` has shape (n_experts, n_targets,
    n_params)) and has an ``m x m`` noise covariance :math:`\\Sigma_k`
    (``variance`` of shape (n_experts, n_targets, n_targets); of shape
    (n_experts, n_targets) with ``covariance_type="diag"``, the
    variances of uncorrelated responses). The gate :math:`g` is shared by the
    responses: this is the covariate-dependent gate of MoEClust's models
    with several responses and flexmix's ``FLXMCmvnorm``/``FLXMRglm`` with a
    concomitant model, with a linear expert per component.

    ``noise="gaussian"`` becomes this law (with a full covariance) when
    ``y`` is 2-D; a 1-D ``y`` under this law is the one-response
    :class:`~skmoe.noise.GaussianNoise`.

    Parameters
    ----------
    covariance_type : {"full", "diag"}, default="full"
        ``"full"``: an unrestricted covariance per expert (``m (m + 1) / 2``
        parameters each). ``"diag"``: uncorrelated responses given the expert
        (``m`` variances each). Even with ``"diag"`` the fit is *not* ``m``
        separate fits: the responses share one gate and one latent expert
        per row, so each response's evidence moves the responsibilities of
        all of them.

    Notes
    -----
    **EM.** The E-step evaluates the ``m``-variate densities through the
    Cholesky factors of the covariances (a Numba kernel). The experts'
    update is the weighted least-squares fit of each response on the same
    design with the responsibilities as weights: with identical regressors
    in every equation, the generalised least-squares estimate under any
    covariance equals equation-by-equation least squares (the
    seemingly-unrelated-regressions result of Zellner 1962, [1]_), so this
    is the exact maximiser of the expected complete-data log-likelihood
    whatever :math:`\\Sigma_k`. It needs experts fitted by exact weighted
    least squares in a feature map common to the responses (the ability
    ``"statistics"``: linear and polynomial experts) when the covariance is
    full; with ``"diag"`` the responses separate and any expert family whose
    update does not increase its weighted squared error keeps EM monotone.
    The covariance update is the weighted scatter of the residuals.

    **Floor.** ``reg_var`` is relative to each response's variance: with
    :math:`f_j` = ``reg_var`` times the weighted variance of response ``j``
    and :math:`D = \\mathrm{diag}(f)`, every eigenvalue of :math:`D^{-1/2}
    \\Sigma_k D^{-1/2}` is kept at least 1 (``"diag"``: every variance
    :math:`\\sigma_{kj}^2 \\ge f_j`). Clipping the eigenvalues of the scaled
    scatter matrix is the exact maximiser under that constraint (the
    eigenvalue-constrained M-step of Ingrassia 2004, [2]_), so EM stays
    monotone; for one response it is the univariate floor.

    **Marginals.** :meth:`~skmoe.MoEParams.quantiles` and ``cdf`` of a model
    with this law are per response: the marginal law of response ``j`` is the
    one-dimensional mixture :math:`\\sum_k g_k(x) \\mathcal{N}(\\mu_{kj}(x),
    \\Sigma_{k,jj})`.

    References
    ----------
    .. [1] Zellner, A. (1962). An efficient method of estimating seemingly
       unrelated regressions and tests for aggregation bias. Journal of the
       American Statistical Association 57(298), 348-368.
    .. [2] Ingrassia, S. (2004). A likelihood-based constrained algorithm for
       multivariate normal mixture models. Statistical Methods and
       Applications 13(2), 151-166.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.noise import MultivariateGaussianNoise
    >>> noise = MultivariateGaussianNoise()
    >>> noise.n_targets(np.ones((3, 2, 2)))
    2
    >>> noise.n_free_params(3, n_targets=2)
    9
    """

    name = "multivariate_gaussian"
    # no "gaussian" (the one-response kernels, online statistics, fused EM,
    # moment methods, least squares and dendrogram), no "gradient" (the
    # gradient solvers and standard errors), no "shared_experts", no
    # "univariate" (the Voronoi losses, near-true starts, bootstrap
    # intervals of one variance per expert)
    provides = frozenset()
    multi_output = True
    multi_output_law = "multivariate_gaussian"
    single_output_law = "gaussian"
    _parameter_constraints: dict = {
        "covariance_type": [StrOptions({"full", "diag"})],
    }

    def __init__(self, covariance_type="full"):
        self.covariance_type = covariance_type

    def _spelling(self):
        # not repr(self): the tag of the estimator spells it on every call
        return (f"MultivariateGaussianNoise(covariance_type="
                f"{self.covariance_type!r}) (several responses per row)")

    def _full(self):
        return self.covariance_type == "full"

    # ------------------------------------------------------------ the shape
    def n_targets(self, variance):
        """The number of responses ``m`` from the shape of the variances.

        Parameters
        ----------
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances (``"full"``) or variances (``"diag"``).

        Returns
        -------
        n_targets : int
            ``m``.
        """
        variance = np.asarray(variance)
        if variance.ndim < 2:
            raise ValueError(
                f"variance must have shape (n_experts, n_targets"
                f"{', n_targets' if self._full() else ''}) with noise="
                f"{self._spelling()}; got shape {variance.shape}."
            )
        return variance.shape[1]

    def check_variance(self, variance, n_experts):
        """Validate the container's ``variance``; return the stored array.

        Parameters
        ----------
        variance : array-like
            Covariance matrices of shape (n_experts, m, m) (``"full"``:
            symmetric positive definite, symmetrised when asymmetric to
            round-off) or variances of shape (n_experts, m) (``"diag"``:
            positive).
        n_experts : int
            Number of experts.

        Returns
        -------
        variance : ndarray
            A C-contiguous float64 array.
        """
        variance = as_kernel_array(variance)
        m = self.n_targets(variance)
        shape = (n_experts, m, m) if self._full() else (n_experts, m)
        if variance.shape != shape or m < 1:
            raise ValueError(
                f"variance must have shape {shape} for n_experts={n_experts} and "
                f"{m} responses with noise={self._spelling()}; got shape "
                f"{variance.shape}."
            )
        if not np.all(np.isfinite(variance)):
            raise ValueError("variance must be finite; got NaN or infinity.")
        if not self._full():
            if not np.all(variance > 0):
                raise ValueError(
                    f"variance must be strictly positive; got {variance!r}.")
            return variance
        transposed = np.swapaxes(variance, 1, 2)
        scale = np.abs(variance).max()
        if np.abs(variance - transposed).max() > SYMMETRY_RTOL * scale:
            raise ValueError(
                "variance must hold symmetric covariance matrices; got "
                f"{variance!r}."
            )
        variance = as_kernel_array(0.5 * (variance + transposed))
        try:
            np.linalg.cholesky(variance)
        except np.linalg.LinAlgError:
            raise ValueError(
                "variance must hold positive definite covariance matrices; got "
                f"{variance!r}."
            ) from None
        return variance

    def n_free_params(self, n_experts, n_targets=None):
        """Free covariance parameters (for BIC/AIC).

        Parameters
        ----------
        n_experts : int
            Number of experts.
        n_targets : int
            Number of responses ``m``.

        Returns
        -------
        n_params : int
            ``n_experts * m * (m + 1) / 2`` (``"full"``) or ``n_experts * m``
            (``"diag"``).
        """
        m = int(n_targets)
        per_expert = m * (m + 1) // 2 if self._full() else m
        return n_experts * per_expert

    def requirements(self):
        """A full covariance needs experts fitted by exact least squares.

        Returns
        -------
        requirements : Requirements or None
            For ``"full"``, the experts' ability ``"statistics"`` (exact
            weighted least squares in a feature map common to the responses,
            which makes equation-by-equation least squares the generalised
            least-squares update); None for ``"diag"``.
        """
        if not self._full():
            return None
        return Requirements(
            f"noise={self._spelling()}", experts=("statistics",),
            hint="Use experts='linear' or 'polynomial', or "
                 "MultivariateGaussianNoise(covariance_type='diag').",
        )

    # ----------------------------------------------------------- the means
    def predictors(self, experts, X, expert_params):
        """The experts' outputs for every response.

        Parameters
        ----------
        experts : Experts
            The expert family (one row of its layout per response).
        X : ndarray of shape (n, d)
            Inputs.
        expert_params : ndarray of shape (K, m, n_params)
            Parameters of every expert and response.

        Returns
        -------
        outputs : ndarray of shape (n, K, m)
            ``h(x_i; eta_kj)``.
        """
        K, m, q = expert_params.shape
        flat = experts.predict(X, as_kernel_array(expert_params.reshape(K * m, q)))
        return as_kernel_array(flat.reshape(X.shape[0], K, m))

    def _responses(self, step, y, expert_params):
        """``step(y_j, params_j)`` for every response ``j``, stacked."""
        return np.stack([
            step(as_kernel_array(y[:, j]), None if expert_params is None
                 else as_kernel_array(expert_params[:, j]))
            for j in range(y.shape[1])
        ], axis=1)

    def expert_step(self, experts, X, y, R, latent, expert_params,
                    sample_weight=None):
        """Weighted least squares of each response on the same design.

        The exact maximiser of the expected complete-data log-likelihood in
        the experts for any covariances (seemingly unrelated regressions with
        identical regressors, see Notes of the class).

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n, m)
            Targets.
        R : ndarray of shape (n, K)
            Row weight times responsibility.
        latent : None
            Unused.
        expert_params : ndarray of shape (K, m, n_params)
            Current parameters.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        expert_params : ndarray of shape (K, m, n_params)
            ``experts.m_step`` of each response, stacked.
        """
        W = self.expert_weights(R, latent)
        return self._responses(lambda yj, pj: experts.m_step(X, yj, W, pj),
                               y, expert_params)

    def init_experts(self, experts, X, y, R, rng, sample_weight=None):
        """Starting experts: the family's start for each response.

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n, m)
            Targets.
        R : ndarray of shape (n, K)
            Row weight times starting responsibility.
        rng : numpy.random.RandomState
            Random generator of the fit.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        expert_params : ndarray of shape (K, m, n_params)
            ``experts.init`` of each response, stacked.
        """
        return self._responses(lambda yj, _: experts.init(X, yj, R, rng), y, None)

    # ------------------------------------------------------ the covariances
    def _as_full(self, variance):
        """Covariance matrices, shape (..., m, m), from either storage."""
        if self._full():
            return variance
        out = np.zeros(variance.shape + variance.shape[-1:])
        idx = np.arange(variance.shape[-1])
        out[..., idx, idx] = variance
        return out

    def _cholesky(self, variance):
        """Lower Cholesky factors of the covariances, shape (K, m, m)."""
        if self._full():
            return as_kernel_array(np.linalg.cholesky(variance))
        return as_kernel_array(self._as_full(np.sqrt(variance)))

    def marginal_variances(self, variance):
        """The variance of each response given each expert.

        Parameters
        ----------
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances or variances.

        Returns
        -------
        variances : ndarray of shape (K, m)
            The diagonals :math:`\\Sigma_{k,jj}`.
        """
        if self._full():
            return np.diagonal(variance, axis1=1, axis2=2).copy()
        return np.asarray(variance).copy()

    def _floor(self, cov, var_floor):
        """Covariances floored relative to each response's scale (see Notes)."""
        m = cov.shape[1]
        f = np.broadcast_to(np.asarray(var_floor, dtype=np.float64), (m,))
        if not self._full():
            return np.maximum(cov, f)
        if not np.all(f > 0):  # reg_var = 0: no floor
            return cov
        s = np.sqrt(f)
        scaled = cov / (s[:, None] * s[None, :])
        w, V = np.linalg.eigh(scaled)
        out = cov.copy()
        for k in np.flatnonzero(w.min(axis=1) < 1.0):
            C = (V[k] * np.maximum(w[k], 1.0)) @ V[k].T
            C = 0.5 * (C + C.T)
            out[k] = C * (s[:, None] * s[None, :])
        return out

    def m_step(self, y, means, R, latent, variance, df, var_floor):
        """Weighted residual covariances, floored.

        Parameters
        ----------
        y : ndarray of shape (n, m)
            Targets.
        means : ndarray of shape (n, K, m)
            Updated experts' outputs.
        R : ndarray of shape (n, K)
            Row weight times responsibility.
        latent : None
            Unused.
        variance : ndarray of shape (K, m, m) or (K, m)
            Current covariances (kept for empty experts).
        df : None
            Unused.
        var_floor : ndarray of shape (m,) or float
            The floor of each response's variance (``reg_var`` times its
            variance), see Notes of the class.

        Returns
        -------
        variance : ndarray of shape (K, m, m) or (K, m)
            Updated covariances.
        df : None
            No degrees of freedom.
        """
        scatter = _kernels._multivariate.weighted_scatter(y, as_kernel_array(means), R)
        if not self._full():
            scatter = np.diagonal(scatter, axis1=1, axis2=2)
        sums = R.sum(axis=0)
        empty = sums <= EMPTY_MASS * sums.sum()
        shape = (-1,) + (1,) * (scatter.ndim - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = np.where(empty.reshape(shape), variance,
                           scatter / np.where(empty, 1.0, sums).reshape(shape))
        return as_kernel_array(self._floor(cov, var_floor)), None

    def start_variance(self, experts, X, y, R, expert_params, var_floor):
        """Starting covariances: the weighted residual scatter, floored.

        Parameters
        ----------
        experts : Experts
            The expert family.
        X : ndarray of shape (n, d)
            Inputs.
        y : ndarray of shape (n, m)
            Targets.
        R : ndarray of shape (n, K)
            Row weight times starting responsibility.
        expert_params : ndarray of shape (K, m, n_params)
            The starting experts.
        var_floor : ndarray of shape (m,) or float
            The floor of each response's variance.

        Returns
        -------
        variance : ndarray of shape (K, m, m) or (K, m)
            Identity matrices (unit variances) for experts without mass.
        """
        K, m = R.shape[1], y.shape[1]
        old = np.tile(np.eye(m), (K, 1, 1)) if self._full() else np.ones((K, m))
        means = self.predictors(experts, X, expert_params)
        return self.m_step(y, means, R, None, old, None, var_floor)[0]

    def floor_variance(self, variance, var_floor):
        """A given start's covariances, floored as in :meth:`m_step`.

        Parameters
        ----------
        variance : ndarray of shape (K, m, m) or (K, m)
            The start's covariances.
        var_floor : ndarray of shape (m,) or float
            The floor of each response's variance.

        Returns
        -------
        variance : ndarray of shape (K, m, m) or (K, m)
            The floored covariances.
        """
        return as_kernel_array(self._floor(np.asarray(variance, dtype=np.float64),
                                           var_floor))

    # ------------------------------------------------------------ densities
    def estep(self, log_w, means, variance, df, y, sample_weight=None):
        """E-step: responsibilities and joint log-likelihood of the responses.

        Parameters
        ----------
        log_w : ndarray of shape (n, K)
            Log mixture weights.
        means : ndarray of shape (n, K, m)
            Expert means.
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances.
        df : None
            Unused.
        y : ndarray of shape (n, m)
            Targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        resp : ndarray of shape (n, K)
            Responsibilities.
        loglik : ndarray of shape (n,)
            Per-sample joint log-density :math:`\\log p(y_i \\mid x_i)`.
        latent : None
            No latent variable.
        """
        resp, loglik = _kernels._multivariate.mvn_estep(
            as_kernel_array(log_w), as_kernel_array(means), self._cholesky(variance),
            as_kernel_array(y))
        return resp, loglik, None

    def log_pdf(self, y, means, variance, df, sample_weight=None):
        """Joint component log-densities of the responses.

        Parameters
        ----------
        y : ndarray of shape (n, m)
            Targets.
        means : ndarray of shape (n, K, m)
            Expert means.
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances.
        df : None
            Unused.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        logpdf : ndarray of shape (n, K)
            :math:`\\log \\mathcal{N}_m(y_i \\mid \\mu_{ik}, \\Sigma_k)`.
        """
        return _kernels._multivariate.mvn_log_pdf(
            as_kernel_array(means), self._cholesky(variance), as_kernel_array(y))

    def marginal_cdf(self, y, means, variance):
        """Marginal distribution functions of each response given each expert.

        Parameters
        ----------
        y : ndarray of shape (n, m, q)
            ``q`` evaluation points per row and response.
        means : ndarray of shape (n, K, m)
            Expert means.
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances.

        Returns
        -------
        cdf : ndarray of shape (n, m, q, K)
            :math:`P(Y_j \\le y \\mid k) = \\Phi((y - \\mu_{kj}) /
            \\Sigma_{k,jj}^{1/2})`.
        """
        sd = np.sqrt(self.marginal_variances(variance)).T  # (m, K)
        mu = np.transpose(means, (0, 2, 1))[:, :, None, :]  # (n, m, 1, K)
        return ndtr((y[..., None] - mu) / sd[None, :, None, :])

    def draw(self, rng, comp, means, variance, df, sample_weight=None):
        """One draw of the ``m`` responses per row from its component.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Random generator.
        comp : ndarray of int of shape (n,)
            Component of each row.
        means : ndarray of shape (n, m)
            The means of each row's component.
        variance : ndarray of shape (n, m, m) or (n, m)
            The covariance of each row's component.
        df : None
            Unused.
        sample_weight : ndarray of shape (n,) or None, default=None
            Unused.

        Returns
        -------
        y : ndarray of shape (n, m)
            ``means + L z`` with ``L`` the Cholesky factor of the covariance
            and ``z`` standard normal.
        """
        z = rng.standard_normal(means.shape)
        chol = self._cholesky(variance)
        return means + np.einsum("nij,nj->ni", chol, z)

    # -------------------------------------------------- coinciding experts
    def variance_divergence(self, variance, k, l):
        """The covariance part of :math:`KL(p_k \\| p_l)`.

        Parameters
        ----------
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances.
        k, l : int
            The two experts.

        Returns
        -------
        divergence : float
            :math:`(\\mathrm{tr}(A) - m - \\log\\det A) / 2` with
            :math:`A = \\Sigma_l^{-1} \\Sigma_k`.
        """
        full = self._as_full(variance)
        A = np.linalg.solve(full[l], full[k])
        m = A.shape[0]
        return 0.5 * (np.trace(A) - m - np.linalg.slogdet(A)[1])

    def mean_divergence(self, diff, variance, l):
        """The part of :math:`KL(p_k \\| p_l)` due to the means, row by row.

        Parameters
        ----------
        diff : ndarray of shape (n, m)
            The differences of the two experts' means.
        variance : ndarray of shape (K, m, m) or (K, m)
            Covariances.
        l : int
            The expert of the second argument of the divergence.

        Returns
        -------
        divergence : ndarray of shape (n,)
            :math:`d_i^\\top \\Sigma_l^{-1} d_i / 2`.
        """
        full = self._as_full(variance)
        return 0.5 * np.einsum("ij,ij->i", diff, np.linalg.solve(full[l], diff.T).T)
