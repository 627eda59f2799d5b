"""Gradient-based fitting: L-BFGS-B and gradient descent on all parameters.

The model is flattened into one vector ``theta = [gate, experts, log-variances]``
(the log-variances only for the likelihood of a noise model with variances):
the gate and expert blocks are the families' free parameters (``Gating.pack`` /
``Experts.pack``), and the value and gradient of the objective come from the
noise model (:meth:`~skmoe.noise.NoiseModel.loglik_grad`; for Gaussian noise
one Numba pass over the data, ``skmoe._kernels._objectives``) followed by the
families' vector-Jacobian products (``Gating.grad`` / ``Experts.grad``).

Objectives, both divided by the total sample weight ``W`` inside the
optimiser (so that its tolerances are relative, as EM's):

- ``"likelihood"``: minus the weighted log-likelihood ``L = sum_i w_i log
  p(y_i | x_i)`` (``w`` the noise model's row weights); the variances are
  ``exp(s_k)`` with ``s_k >= log(var_floor)`` (a bound of L-BFGS-B, a
  projection for gradient descent), absent for a law without variance
  (Poisson, binomial);
- ``"least_squares"``: ``S = sum_i w_i (y_i - f(x_i))^2`` with ``f`` the
  mixture mean. The variances do not enter ``S``; after the fit every expert
  gets the weighted residual variance ``S / W`` (floored), the noise
  variance of the model ``y = f(x) + eps``.
"""

import time

import numpy as np
from scipy.optimize import Bounds, minimize
from threadpoolctl import threadpool_limits

from .. import _kernels
from ..utils._abilities import Requirements
from ..utils._arrays import as_kernel_array
from ._init import initial_params
from ._result import Degenerate, FitResult, best_restart, converged_rule


def gradient_requirements(solver):
    """What a gradient solver needs of a model.

    Parameters
    ----------
    solver : {"lbfgs", "gd"}
        The solver.

    Returns
    -------
    requirements : Requirements
        The gradients of the gate, the experts and the log-likelihood (the
        noise model's :meth:`~skmoe.noise.NoiseModel.loglik_grad`), a gate
        that does not change over iterations, no shared experts (the
        parameter vector holds the gate and the routed experts only).
    """
    return Requirements(
        f"solver={solver!r}", gating=("gradient", "fixed_model"),
        experts=("gradient",), noise=("gradient",), shared_experts=False,
        hint="Use solver='em'.",
    )


class FlatProblem:
    """A model seen as a flat parameter vector, for gradient solvers.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    template : MoEParams
        Gives the families, the sizes and (for least squares) the variances.
    objective : {"likelihood", "least_squares"}
    var_floor : float
        Lower bound of the variances.
    expert_basis : ndarray of shape (n_expert_free, m) or None, default=None
        Restricts the experts to an affine subspace: their free vector
        (``Experts.pack``) is ``e0 + expert_basis @ phi`` with ``e0`` that of
        ``template``, and ``theta`` holds the ``m`` coordinates ``phi`` in
        place of the expert block (gradient ``expert_basis.T @ grad``). ``m =
        0`` holds the experts fixed. ``None``: every expert parameter is free.
    """

    def __init__(self, X, y, sample_weight, template, objective, var_floor,
                 expert_basis=None):
        self.X, self.y, self.w = X, y, sample_weight
        self.noise = template.noise
        self.W = float(self.noise.row_weights(sample_weight).sum())
        self.template = template
        self.gating, self.experts = template.gating, template.experts
        self.likelihood = objective == "likelihood"
        # the log-variances are free parameters of a likelihood with variances
        self.free_variance = self.likelihood and self.noise.has_variance
        self.var_floor = var_floor
        self.n_gate = self.gating.pack(template).size
        self.expert_offset = self.experts.pack(template.expert_params)
        self.expert_basis = expert_basis
        self.n_expert = (self.expert_offset.size if expert_basis is None
                         else expert_basis.shape[1])
        self.K, self.d = template.n_experts, template.n_features

    # -------------------------------------------------------------- layout
    def pack(self, params):
        """``theta`` of ``params`` (variances clipped to the floor)."""
        expert = self.experts.pack(params.expert_params)
        if self.expert_basis is not None:  # coordinates in the subspace
            expert = np.linalg.lstsq(self.expert_basis, expert - self.expert_offset,
                                     rcond=None)[0]
        parts = [self.gating.pack(params), expert]
        if self.free_variance:
            parts.append(np.log(np.maximum(params.variance, self.var_floor)))
        return np.concatenate(parts)

    def unpack(self, theta, variance=None):
        """``MoEParams`` of ``theta``; raises ValueError on non-finite values."""
        g, e = self.n_gate, self.n_gate + self.n_expert
        fields = self.gating.unpack(theta[:g], self.template)
        expert = theta[g:e]
        if self.expert_basis is not None:
            expert = self.expert_offset + self.expert_basis @ expert
        expert_params = self.experts.unpack(expert, self.K, self.d)
        if variance is None:
            variance = (np.exp(theta[e:]) if self.free_variance
                        else self.template.variance)
        return self.template.replace(
            expert_params=expert_params, variance=variance, **fields
        )

    def bounds(self):
        """L-BFGS-B bounds: only the log-variances are bounded (below)."""
        n = self.n_gate + self.n_expert
        lower = np.full(n + (self.K if self.free_variance else 0), -np.inf)
        if self.var_floor > 0:
            lower[n:] = np.log(self.var_floor)
        return Bounds(lower, np.full(lower.size, np.inf))

    def project(self, theta):
        """Clip the log-variances to their bound (for gradient descent)."""
        n = self.n_gate + self.n_expert
        if self.free_variance and self.var_floor > 0:
            theta = theta.copy()
            theta[n:] = np.maximum(theta[n:], np.log(self.var_floor))
        return theta

    # ----------------------------------------------------------- objective
    def total(self, f):
        """The reported objective (``L`` or ``S``) from the scaled value."""
        return -f * self.W if self.likelihood else f * self.W

    def value_and_grad(self, theta):
        """Scaled objective (minimised) and its gradient in ``theta``.

        Non-finite parameters or values give ``(inf, 0)``, which makes a line
        search step back.
        """
        try:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                params = self.unpack(theta)
                return self._value_and_grad(params)
        except (ValueError, FloatingPointError):
            return np.inf, np.zeros_like(theta)

    def _value_and_grad(self, params):
        X = self.X
        log_gate = as_kernel_array(self.gating.log_weights(X, params))
        means = as_kernel_array(self.experts.predict(X, params.expert_params))
        if self.likelihood:
            value, d_gate, d_means, d_var = self.noise.loglik_grad(
                log_gate, means, params.variance, params.noise_df, self.y, self.w
            )
            sign = -1.0
            # chain rule for s = log(nu)
            tail = [d_var * params.variance] if self.free_variance else []
        else:
            value, d_gate, d_means = _kernels._objectives.least_squares_grad(
                log_gate, means, self.y, self.w
            )
            sign = 1.0
            tail = []
        if not np.isfinite(value):
            raise ValueError("non-finite objective")
        d_expert = self.experts.grad(X, params.expert_params, d_means)
        if self.expert_basis is not None:
            d_expert = self.expert_basis.T @ d_expert
        grad = np.concatenate([self.gating.grad(X, params, d_gate), d_expert, *tail])
        scale = sign / self.W
        return scale * value, scale * grad

    def finish(self, theta):
        """Final ``MoEParams``; least squares gets the residual variance."""
        if self.likelihood:
            return self.unpack(theta)
        f, _ = self.value_and_grad(theta)
        var = max(f, self.var_floor)  # S / W, the weighted residual variance
        return self.unpack(theta, variance=np.full(self.K, var))


def _print_iteration(label, n_iter, objective_name, current, previous, t0):
    print(
        f"{label}iter {n_iter:4d}  {objective_name} {current: .8e}  "
        f"change {current - previous: .3e}  "
        f"time {time.perf_counter() - t0:8.3f}s"
    )


def run_lbfgs(X, y, sample_weight, params, *, objective, max_iter, tol, var_floor,
              verbose=0, label="", expert_basis=None):
    """One L-BFGS-B run from ``params``.

    ``expert_basis`` (see :class:`FlatProblem`) restricts the experts to an
    affine subspace through those of ``params``: ``solver="two_loss"`` fits
    the gate, the variances and each expert's scale along its fixed direction
    and intercept. An array with no columns holds the experts fixed.

    ``ftol = tol`` gives L-BFGS-B EM's stopping rule (a relative change of the
    objective of at most ``tol``, or of the per-sample objective when it is
    close to zero), and ``gtol = tol`` stops it when every entry of the
    projected gradient of the per-sample objective is at most ``tol``.

    Returns
    -------
    result : FitResult
        ``history`` holds the objective (``L``, or ``S`` for least squares)
        at the start and after every iteration; ``log_likelihood`` is ``L``,
        or NaN for least squares.
    """
    problem = FlatProblem(X, y, sample_weight, params, objective, var_floor,
                          expert_basis)
    theta0 = problem.project(problem.pack(params))
    f0, _ = problem.value_and_grad(theta0)
    if not np.isfinite(f0):
        raise Degenerate("non-finite objective at the start")
    cache = {"theta": theta0, "f": f0}

    def fun(theta):
        f, g = problem.value_and_grad(theta)
        cache["theta"], cache["f"] = theta.copy(), f
        return f, g

    history = [problem.total(f0)]
    name = "log-lik" if problem.likelihood else "sq-error"
    t0 = time.perf_counter()

    def callback(theta):
        if np.array_equal(theta, cache["theta"]):
            f = cache["f"]
        else:  # pragma: no cover - L-BFGS-B reports its last evaluated point
            f = problem.value_and_grad(theta)[0]
        history.append(problem.total(f))
        if verbose:
            _print_iteration(label, len(history) - 1, name, history[-1],
                             history[-2], t0)

    # L-BFGS-B's own work is O(m p) vector algebra on a few dozen parameters:
    # threaded BLAS only adds synchronisation (measured on 2 cores: 2.6 ms per
    # L-BFGS-B call with 2 OpenBLAS threads against 0.1 ms with one), so the
    # BLAS pools are limited to one thread for the run and restored after
    with np.errstate(over="ignore", under="ignore"), \
            threadpool_limits(limits=1, user_api="blas"):
        res = minimize(
            fun, theta0, jac=True, method="L-BFGS-B",
            bounds=problem.bounds(),
            callback=callback,
            options={"maxiter": max_iter, "ftol": tol, "gtol": tol,
                     "maxfun": max(15000, 20 * max_iter)},
        )
    theta = res.x
    if not np.all(np.isfinite(theta)):  # pragma: no cover - inf values step back
        raise Degenerate("non-finite parameters")
    final = problem.finish(theta)
    f, _ = problem.value_and_grad(theta)
    if not np.isfinite(f):  # pragma: no cover
        raise Degenerate("non-finite objective")
    if len(history) == 1:  # converged before a first step: one null iteration
        history.append(history[0])
    history[-1] = problem.total(f)
    n_iter = len(history) - 1
    value = problem.total(f)
    result = FitResult(final, n_iter, res.status == 0,
                       value if problem.likelihood else np.nan, np.asarray(history))
    result.message = str(res.message)
    return result


def run_gd(X, y, sample_weight, params, *, objective, max_iter, tol, var_floor,
           verbose=0, label=""):
    """Projected gradient descent with Armijo backtracking, from ``params``.

    The step size starts at 1 (for the per-sample objective), is halved until
    the Armijo condition ``f(theta_new) <= f(theta) - 1e-4 * grad .
    (theta - theta_new)`` holds, and is doubled after every accepted step.
    The run stops with EM's rule (relative change of the objective at most
    ``tol``), or when no step decreases the objective (then it has not
    converged).

    Returns
    -------
    result : FitResult
        As :func:`run_lbfgs`.
    """
    problem = FlatProblem(X, y, sample_weight, params, objective, var_floor)
    theta = problem.project(problem.pack(params))
    f, g = problem.value_and_grad(theta)
    if not np.isfinite(f):
        raise Degenerate("non-finite objective at the start")
    history = [problem.total(f)]
    name = "log-lik" if problem.likelihood else "sq-error"
    t0 = time.perf_counter()
    step = 1.0
    converged = False
    message = f"max_iter={max_iter} reached"
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        for _ in range(60):
            candidate = problem.project(theta - step * g)
            f_new, g_new = problem.value_and_grad(candidate)
            if f_new <= f - 1e-4 * float(g @ (theta - candidate)):
                break
            step *= 0.5
        else:
            message = "no step decreases the objective"
            n_iter -= 1
            break
        theta, previous, f, g = candidate, f, f_new, g_new
        history.append(problem.total(f))
        if verbose:
            _print_iteration(label, n_iter, name, history[-1], history[-2], t0)
        step *= 2.0
        if converged_rule(previous, f, 1.0, tol):
            converged = True
            message = "relative change of the objective below tol"
            break
    if n_iter == 0:  # no step possible from the start: one null iteration
        n_iter = 1
        history.append(history[0])
    final = problem.finish(theta)
    value = problem.total(f)
    result = FitResult(final, n_iter, converged,
                       value if problem.likelihood else np.nan, np.asarray(history))
    result.message = message
    return result


_RUNNERS = {"lbfgs": run_lbfgs, "gd": run_gd}


def fit_gradient(X, y, sample_weight, spec):
    """Fit by ``spec.solver`` ("lbfgs" or "gd") with ``spec.n_init`` restarts.

    The starting points are those of EM (``initial_params``). The restart
    with the best objective (highest log-likelihood, or smallest squared
    error) is kept.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings (:func:`skmoe.solvers.fit_moe` has checked the
        model against :func:`gradient_requirements`).

    Returns
    -------
    result : FitResult
        The best restart.

    Warns
    -----
    ConvergenceWarning
        When the best restart did not converge.
    DegenerateFitWarning
        For every restart discarded because it produced non-finite values.
    MultipleOptimaWarning
        For the likelihood, when the converged restarts ended at clearly
        different optima (as for EM).
    """
    solver, objective = spec.solver, spec.objective
    run = _RUNNERS[solver]
    likelihood = objective == "likelihood"
    starts = ([spec.start] if spec.start is not None
              else [spec.init_params] * spec.n_init)

    def fit_one(method, label):
        params = initial_params(method, X, y, sample_weight, spec)
        if likelihood:  # the noise model's start (unit variances of a GLM)
            given = not isinstance(method, str)
            params = spec.noise.start(params, method if given else None)
        return run(X, y, sample_weight, params, objective=objective,
                   max_iter=spec.max_iter, tol=spec.tol, var_floor=spec.var_floor,
                   verbose=spec.verbose, label=label)

    return best_restart(
        starts, fit_one, name=solver, maximize=likelihood,
        optima=(spec.tol, float(sample_weight.sum())) if likelihood else None,
        not_converged=lambda best: (
            f"solver={solver!r} did not converge in max_iter={spec.max_iter} "
            f"iterations (tol={spec.tol}): {best.message}; increase max_iter or "
            "tol, or check the data scaling."
        ),
    )
