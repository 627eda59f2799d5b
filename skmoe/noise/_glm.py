"""Response families of generalised linear models as noise models (IRLS).

The shared part of :class:`~skmoe.noise.PoissonNoise` and
:class:`~skmoe.noise.BinomialNoise`: the experts' outputs are the linear
predictors :math:`\\eta_{ik} = h(x_i; \\eta_k)`, the mean of ``y`` given
expert ``k`` is :math:`\\mu_{ik} = g^{-1}(\\eta_{ik})` with the family's
canonical link :math:`g`, and the experts' M-step is iteratively reweighted
least squares (IRLS) on the experts' own weighted least squares. A family
file defines the law (:meth:`_GLMNoise._log_pmf`, the inverse link and its
derivative, the starting means, the saturated log-likelihood, the lattice,
the distribution function, the draws and the checks of ``y``). The
log-probabilities, the E-step and the IRLS of experts with a compiled
program (linear, polynomial, FFN) are the kernels of
:mod:`skmoe._kernels._glm`, which the compiled EM path (``_GLMProgram``)
runs too.
"""

import numpy as np

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ._base import NoiseModel

#: largest number of IRLS iterations of one M-step, and the stopping rule
#: ``|D - D_old| / (|D| + 0.1) < IRLS_TOL`` on the expert's weighted deviance
#: ``D``: R's ``glm.control()`` (``maxit = 25``, ``epsilon = 1e-8``), which
#: flexmix's FLXMRglm uses for its M-step
IRLS_MAX_ITER = 25
IRLS_TOL = 1e-8
#: step halvings tried before an expert keeps its parameters: ``2**-30`` of
#: an IRLS step is below the round-off of any parameter that moved
MAX_HALVINGS = 30
#: smallest derivative of the inverse link in the working weights and
#: responses (R's ``.Machine$double.eps`` in ``poisson()$mu.eta`` and
#: ``binomial()$mu.eta``)
EPS = np.finfo(np.float64).eps


def _weighted_sums(R, values):
    """``sum_i R_ik values_ik`` per column, with ``0 * (-inf) = 0``."""
    return np.where(R > 0, R * values, 0.0).sum(axis=0)


#: the stopping rule and halvings of the experts' IRLS, as the kernel takes them
_CONTROL = (IRLS_MAX_ITER, IRLS_TOL, MAX_HALVINGS)


class _GLMProgram:
    """The compiled EM state of a GLM response family: its fixed row terms.

    The law has no parameter of its own: the program holds the trials, the
    constant terms of the log-probabilities and the saturated
    log-probabilities of the rows (computed once), the E-step is
    :func:`~skmoe._kernels._glm.glm_estep_into` (that of
    :meth:`_GLMNoise.estep`) and the experts' step their program's
    ``glm_step``, the IRLS kernel :func:`~skmoe._kernels._glm.glm_irls` on
    their own update (that of :meth:`_GLMNoise.expert_step`).
    """

    def __init__(self, noise, y, sample_weight):
        n = y.shape[0]
        self.noise, self.sample_weight = noise, sample_weight
        self.law, self.y = noise._law, y
        self.trials = as_kernel_array(noise._trials(sample_weight, n))
        self.const = as_kernel_array(noise._log_const(y, self.trials))
        self.sat = as_kernel_array(noise._saturated(y, self.trials))
        self.w = as_kernel_array(noise.row_weights(sample_weight))
        self.loglik = np.empty(n)
        self.rows = (self.y, self.trials, self.const, self.sat)

    def e_step(self, LW, MU, MUs, R, Rs):
        return _kernels._glm.glm_estep_into(self.law, LW, MU, self.y, self.trials,
                                            self.const, self.w, R, self.loglik)

    def expert_step(self, experts, R, MU):
        return experts.glm_step(self.law, self.rows, R, MU, _CONTROL)

    def m_step(self, MU, R, MUs, Rs):
        return True

    def observed_step(self, n_iter, LW, MU, MUs):
        return True

    def log_densities(self, MU, MUs, A, a):
        # no shared experts (a stays -inf): the routed log-probabilities
        A[:] = self.noise.log_pdf(self.y, MU, None, None, self.sample_weight)

    def fields(self):
        return {}


class _GLMNoise(NoiseModel):
    """A GLM response family with its canonical link, fitted by IRLS.

    The law has no variance (``has_variance = False``: the container's
    ``variance`` is held at 1 and not counted) and lives on a lattice
    (``discrete = True``). With the canonical link, :math:`\\partial \\log
    p / \\partial \\eta = a (y - \\mu)` and the derivative of the inverse
    link equals the variance function, so Fisher scoring is Newton's method
    and the IRLS working weights are :math:`a \\, d\\mu/d\\eta` (``a`` the
    number of trials of a binomial row, 1 otherwise).
    """

    has_variance = False
    discrete = True
    provides = frozenset({"gradient", "univariate", "compiled"})
    #: what its compiled program runs (see Family._compiled_methods)
    _compiled_methods = ("estep", "posterior", "log_pdf", "_log_pmf", "m_step",
                         "expert_step", "observed_step")
    _parameter_constraints: dict = {}
    #: the law's code in :mod:`skmoe._kernels._glm`
    _law = -1

    # ------------------------------------------------------------ the law
    def _trials(self, sample_weight, n_samples):
        """The number of trials of each row (1 unless the law has trials)."""
        return np.ones(n_samples)

    def _log_const(self, y, trials):
        """The constant term of each row's log-probability (``-log y!``...)."""
        raise NotImplementedError

    def _log_pmf(self, y, eta, trials):
        """``log p(y_i | eta_ik)``, normalising terms included, shape (n, K).

        The kernel :func:`~skmoe._kernels._glm.glm_log_pmf` of the law.
        """
        return _kernels._glm.glm_log_pmf(
            self._law, as_kernel_array(y), as_kernel_array(eta),
            as_kernel_array(trials), as_kernel_array(self._log_const(y, trials)))

    def _mu_eta(self, eta):
        """``d mu / d eta`` at ``eta`` (unclamped)."""
        raise NotImplementedError

    def _link(self, mu):
        """The canonical link ``g(mu)``."""
        raise NotImplementedError

    def _mustart(self, y, trials):
        """Starting means (R's ``family()$initialize``)."""
        raise NotImplementedError

    def _saturated(self, y, trials):
        """The log-pmf of each row at ``mu = y`` (the saturated model)."""
        raise NotImplementedError

    # ---------------------------------------------------------- contract
    def start(self, params, previous=None):
        """This noise model on starting parameters, variances held at 1.

        Parameters
        ----------
        params : MoEParams
            Starting parameters (any noise).
        previous : MoEParams or None, default=None
            Unused: the law has no other parameter.

        Returns
        -------
        params : MoEParams
            ``params`` with this noise model and unit variances.
        """
        return params.replace(noise=self, variance=np.ones(params.n_experts),
                              noise_df=None)

    def log_pdf(self, y, means, variance, df, sample_weight=None):
        """Component log-probabilities :math:`\\log p(y_i \\mid \\eta_{ik})`.

        The full log-probability mass, normalising terms included (as R's
        ``dpois`` and ``dbinom`` with ``log = TRUE``).

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Linear predictors :math:`\\eta_{ik}`.
        variance : ndarray of shape (K,)
            Unused (ones).
        df : None
            Unused.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights (the numbers of trials of a binomial law).

        Returns
        -------
        logpmf : ndarray of shape (n, K)
            Log-probabilities.
        """
        return self._log_pmf(y, means, self._trials(sample_weight, y.shape[0]))

    def estep(self, log_w, means, variance, df, y, sample_weight=None):
        """E-step: responsibilities and per-row log-likelihood.

        Parameters
        ----------
        log_w : ndarray of shape (n, K)
            Log mixture weights.
        means : ndarray of shape (n, K)
            Linear predictors.
        variance : ndarray of shape (K,)
            Unused (ones).
        df : None
            Unused.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        resp : ndarray of shape (n, K)
            Responsibilities.
        loglik : ndarray of shape (n,)
            Per-row log-likelihood :math:`\\log \\sum_k g_{ik}
            p(y_i \\mid \\eta_{ik})`.
        latent : None
            No latent variable.
        """
        n, K = np.shape(means)
        trials = as_kernel_array(self._trials(sample_weight, n))
        resp, loglik = np.empty((n, K)), np.empty(n)
        # the kernel of the compiled program's E-step, with unit row weights;
        # a row of all -inf joint densities gets its gate weights as
        # responsibilities (log-likelihood -inf)
        _kernels._glm.glm_estep_into(
            self._law, as_kernel_array(log_w), as_kernel_array(means),
            as_kernel_array(y), trials, as_kernel_array(self._log_const(y, trials)),
            np.ones(n), resp, loglik)
        return resp, loglik, None

    def m_step(self, y, means, R, latent, variance, df, var_floor):
        """No variance to update: ``variance`` (ones) is returned unchanged.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Targets.
        means : ndarray of shape (n, K)
            Linear predictors.
        R : ndarray of shape (n, K)
            Row weight times responsibility.
        latent : None
            Unused.
        variance : ndarray of shape (K,)
            Ones.
        df : None
            Unused.
        var_floor : float
            Unused.

        Returns
        -------
        variance : ndarray of shape (K,)
            ``variance``.
        df : None
            No degrees of freedom.
        """
        return variance, None

    def mean(self, means):
        """The inverse link: means of ``y`` from the linear predictors.

        Parameters
        ----------
        means : ndarray
            Linear predictors :math:`\\eta`.

        Returns
        -------
        mean : ndarray
            :math:`\\mu = g^{-1}(\\eta)`.
        """
        raise NotImplementedError  # pragma: no cover - every family defines it

    def _working(self, y, eta, trials):
        """IRLS working response and working weights (per unit ``R``)."""
        mu = self.mean(eta)
        d = np.maximum(self._mu_eta(eta), EPS)
        z = eta + (y[:, None] - mu) / d
        return z, trials[:, None] * d

    def init_experts(self, experts, X, y, R, rng, sample_weight=None):
        """Starting experts: one IRLS step from R's starting means.

        The working response and weights at the family's starting means
        (``y + 0.1`` for Poisson counts, ``(a y + 0.5) / (a + 1)`` for
        binomial proportions with ``a`` trials, as R's ``glm.fit``), fitted
        by the experts' own start (:meth:`skmoe.Experts.init`) with weights
        ``R`` times the working weights.

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
            Starting expert parameters.
        """
        trials = self._trials(sample_weight, y.shape[0])
        mu = self._mustart(y, trials)
        eta = self._link(mu)
        d = np.maximum(self._mu_eta(eta), EPS)
        z = as_kernel_array(eta + (y - mu) / d)
        return experts.init(X, z, as_kernel_array(R * (trials * d)[:, None]), rng)

    def expert_step(self, experts, X, y, R, latent, expert_params,
                    sample_weight=None):
        """The experts' M-step: IRLS with step-halving, expert by expert.

        Expert ``k`` maximises :math:`Q_k = \\sum_i R_{ik} \\log p(y_i \\mid
        h(x_i; \\eta_k))`. Each IRLS iteration (McCullagh and Nelder 1989,
        section 2.5; R's ``glm.fit``, which flexmix's ``FLXMRglm`` calls in
        its M-step) fits the experts' own weighted least squares
        (:meth:`skmoe.Experts.m_step`) to the working response
        :math:`z = \\eta + (y - \\mu) / \\mu'(\\eta)` with weights
        :math:`R_{ik} a_i \\mu'(\\eta)` (``a`` the trials, :math:`\\mu'`
        floored at machine epsilon as in R). When the new parameters lower
        :math:`Q_k`, the step is halved (towards the current parameters) up
        to ``MAX_HALVINGS`` times; if none raises it, the expert keeps its
        parameters. So :math:`Q_k` never decreases and EM stays monotone. The
        iterations stop as ``glm.fit``'s: after 25, or when the weighted
        deviance :math:`D_k = 2 \\sum_i R_{ik} (\\ell_i^{sat} - \\ell_{ik})`
        changes by less than ``1e-8 (|D_k| + 0.1)``. For linear and
        polynomial experts the weighted least squares is exact and an IRLS
        iteration is a Newton step; for FFN experts it is their
        Levenberg-Marquardt update (a generalised M-step). An expert whose
        mass is at most ``1e-10`` of the total keeps its parameters. Experts
        with the ability ``"compiled"`` (linear, polynomial and FFN experts)
        run this whole IRLS in one kernel,
        :func:`~skmoe._kernels._glm.glm_irls` (their program's
        ``glm_step``, the expert step of the compiled EM path); the others
        (a subclass with its own update) by the same loop in Python over
        their ``m_step``.

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
        latent : None
            Unused.
        expert_params : ndarray of shape (n_experts, n_params)
            Current parameters (the start of the iterations).
        sample_weight : ndarray of shape (n,) or None, default=None
            The data's weights.

        Returns
        -------
        expert_params : ndarray of shape (n_experts, n_params)
            A new array.
        """
        n, K = R.shape
        trials = self._trials(sample_weight, n)
        if experts.lacks("compiled") is None:
            # the compiled program's expert step: the same algorithm in one
            # kernel call
            y, trials = as_kernel_array(y), as_kernel_array(trials)
            program = experts.compiled_program(X, y, expert_params)
            rows = (y, trials, as_kernel_array(self._log_const(y, trials)),
                    as_kernel_array(self._saturated(y, trials)))
            program.glm_step(self._law, rows, as_kernel_array(R), np.empty((n, K)),
                             _CONTROL)
            return program.params()
        params = np.array(expert_params, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            eta = np.array(experts.predict(X, params), dtype=np.float64, order="C")
            q = _weighted_sums(R, self._log_pmf(y, eta, trials))
            saturated = R.T @ self._saturated(y, trials)
            mass = R.sum(axis=0)
            active = list(np.flatnonzero(mass > 1e-10 * mass.sum()))
            for _ in range(IRLS_MAX_ITER):
                if not active:
                    break
                z, w = self._working(y, eta, trials)
                still = []
                for k in active:
                    moved = self._irls_iteration(
                        experts, X, y, trials, R[:, k], z[:, k], w[:, k],
                        params[k:k + 1], q[k])
                    if moved is None:  # no step raises Q_k: converged
                        continue
                    params[k], eta[:, k], q_new = moved
                    dev_old = 2.0 * (saturated[k] - q[k])
                    dev = 2.0 * (saturated[k] - q_new)
                    q[k] = q_new
                    if abs(dev - dev_old) >= IRLS_TOL * (abs(dev) + 0.1):
                        still.append(k)
                active = still
        return params

    def _irls_iteration(self, experts, X, y, trials, r, z, w, old, q_old):
        """One IRLS iteration of one expert with step-halving.

        Returns the new row, its linear predictors and :math:`Q_k`, or None
        when no step (down to ``2**-MAX_HALVINGS``) raises :math:`Q_k`.
        """
        target = as_kernel_array(z)
        new = experts.m_step(X, target, as_kernel_array((r * w)[:, None]), old)
        step = new - old
        t = 1.0
        for _ in range(MAX_HALVINGS + 1):
            row = old + t * step if t < 1.0 else new
            eta = experts.predict(X, row)
            q = float(_weighted_sums(r[:, None], self._log_pmf(y, eta, trials))[0])
            if q >= q_old:
                return row[0], eta[:, 0], q
            t *= 0.5
        return None

    def compiled_program(self, y, sample_weight, params, var_floor):
        """The rows' fixed terms and the GLM steps, compiled.

        Ability ``"compiled"``; see
        :meth:`~skmoe.noise.NoiseModel.compiled_program`. The E-step is that
        of :meth:`estep` (times the row weights), the experts' step the IRLS
        of :meth:`expert_step` (the same kernels); there is no variance.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            Targets.
        sample_weight : ndarray of shape (n_samples,)
            The data's weights (the trials of a binomial law).
        params : MoEParams
            The starting parameters.
        var_floor : float
            Unused.

        Returns
        -------
        program : object
            The program.
        """
        return _GLMProgram(self, y, sample_weight)

    def loglik_grad(self, log_gate, means, variance, df, y, sample_weight):
        """Weighted log-likelihood and its gradients in the log gates and eta.

        With the responsibilities :math:`r_{ik}` and the row weights
        :math:`v_i` (:meth:`row_weights`): :math:`\\partial L / \\partial
        \\log g_{ik} = v_i r_{ik}` and, for the canonical link,
        :math:`\\partial L / \\partial \\eta_{ik} = v_i r_{ik} a_i (y_i -
        \\mu_{ik})`.

        Parameters
        ----------
        log_gate : ndarray of shape (n, K)
            Log gating weights.
        means : ndarray of shape (n, K)
            Linear predictors.
        variance : ndarray of shape (K,)
            Unused (ones).
        df : None
            Unused.
        y : ndarray of shape (n,)
            Targets.
        sample_weight : ndarray of shape (n,)
            The data's weights.

        Returns
        -------
        value : float
            The weighted log-likelihood.
        d_log_gate, d_means : ndarray of shape (n, K)
            Its gradients.
        d_var : None
            The law has no variance.
        """
        n = y.shape[0]
        trials = self._trials(sample_weight, n)
        rows = self.row_weights(sample_weight)
        resp, loglik, _ = self.estep(log_gate, means, variance, df, y, sample_weight)
        d_log_gate = resp * rows[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            score = trials[:, None] * (y[:, None] - self.mean(means))
            d_means = np.where(d_log_gate > 0, d_log_gate * score, 0.0)
        return float(rows @ loglik), d_log_gate, d_means, None

    def _check_1d(self, y):
        """``y`` as a 1-D float array; a ValueError naming the family."""
        arr = np.asarray(y)
        if arr.ndim != 1:
            raise ValueError(
                f"y must be a 1-D array of one {self._unit} per row for "
                f"noise={self.name!r}; got an array of shape {arr.shape}."
            )
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"y must hold numbers for noise={self.name!r}; got dtype "
                f"{arr.dtype}."
            ) from exc
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"y must hold finite {self._unit}s for noise={self.name!r}; "
                "got NaN or infinity."
            )
        return arr
