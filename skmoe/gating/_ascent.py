"""Monotone ascent helpers for gate updates (for family authors).

:func:`maximize_monotone` is a limited-memory BFGS ascent whose every
accepted step increases its objective, the update of gates whose objective
is not concave; :func:`sparse_gate_m_step` is the ECME update of top-K
gates. Both keep EM monotone.
"""

import numpy as np


def maximize_monotone(fun, theta, *, max_iter=20, memory=6, step_tol=1e-9,
                      grad_tol=0.0):
    """Limited-memory BFGS ascent in which every accepted step increases ``fun``.

    Each iteration takes the L-BFGS direction (the gradient when that is not
    an ascent direction) and backtracks from the unit step (from a step of
    length one along the gradient in the first iteration) until the Armijo
    condition holds; a step that cannot be accepted ends the loop. The value
    therefore never decreases, which is what a generalised EM needs, and the
    iteration converges to a stationary point of a smooth ``fun``.
    ``fun`` may return ``-inf`` (a step there is simply rejected).

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (value, grad)``.
    theta : ndarray of shape (n_params,)
        Starting point.
    max_iter : int, default=20
        Maximum number of accepted steps.
    memory : int, default=6
        Number of curvature pairs kept.
    step_tol : float, default=1e-9
        Stop when a step's largest entry is below ``step_tol * (1 +
        max|theta|)``.
    grad_tol : float, default=0.0
        Stop when the largest entry of the gradient is at most ``grad_tol``
        (the gradient is accurate to round-off long after the value's changes
        are lost in it, so this is the sharper test of convergence).

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The improved point.
    value : float
        ``fun(theta)[0]``, never below the starting value.
    """
    theta = np.asarray(theta, dtype=np.float64).copy()
    value, grad = fun(theta)
    if theta.size == 0 or not np.isfinite(value):
        return theta, value
    pairs = []
    for _ in range(max_iter):
        if np.max(np.abs(grad)) <= grad_tol:
            break
        # two-loop recursion on -fun: direction = H grad
        q = grad.copy()
        alphas = []
        for s, y in reversed(pairs):
            a = (s @ q) / (y @ s)
            alphas.append(a)
            q = q - a * y
        if pairs:
            s, y = pairs[-1]
            q = q * ((s @ y) / (y @ y))
        else:
            q = q / max(np.max(np.abs(q)), 1.0)
        for (s, y), a in zip(pairs, reversed(alphas), strict=True):
            b = (y @ q) / (y @ s)
            q = q + (a - b) * s
        direction = q
        slope = float(grad @ direction)
        if not slope > 0:
            direction = grad / max(np.max(np.abs(grad)), 1.0)
            slope = float(grad @ direction)
            pairs = []
        if not slope > 0:
            break
        t = 1.0
        for _ in range(40):
            new = theta + t * direction
            v_new, g_new = fun(new)
            if v_new >= value + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        step = new - theta
        y = -(g_new - grad)  # gradient difference of -fun
        if y @ step > 1e-12 * np.sqrt((y @ y) * (step @ step)):
            pairs.append((step, y))
            if len(pairs) > memory:
                pairs.pop(0)
        theta, value, grad = new, v_new, g_new
        if np.max(np.abs(step)) <= step_tol * (1.0 + np.max(np.abs(theta))):
            break
    return theta, value


def sparse_gate_m_step(gating, dense, X, R, params, likelihood=None, *,
                       max_iter=5):
    """Gate update of a top-K gate: dense proposal, then monotone refinement.

    A top-K gate is discontinuous in its parameters (the selected set changes
    with them) and, for ``top_k = 1``, piecewise constant in the likelihood.
    The update therefore

    1. proposes the update of the *dense* gate of the same family
       (``dense``, the same object with ``top_k=None``), fitted to the
       posterior responsibilities that the dense gate would give (or to ``R``
       without a likelihood), which can move experts into and out of an
       input's selected set; the proposal, or the largest of the steps
       ``1/2, 1/4, ...`` towards it, is accepted only if it increases the
       objective;
    2. refines the result by :func:`maximize_monotone` on the objective,
       which is smooth while the selected sets stay fixed (it does nothing
       for ``top_k = 1``, whose objective is locally constant).

    The objective is the observed log-likelihood ``likelihood`` when given
    (an ECME step), else ``gating.weighted_objective``, which is ``-inf`` when
    ``R`` has mass on an expert the gate excludes; from ``-inf`` the proposal
    is accepted as it is. The objective therefore never decreases.

    Parameters
    ----------
    gating : Gating
        The sparse gating object (its ``pack``, ``unpack``, ``log_weights``
        and ``grad`` are used).
    dense : Gating
        The same family without sparsity, whose ``m_step`` gives the proposal.
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    R : ndarray of shape (n_samples, n_experts)
        Weighted responsibilities.
    params : MoEParams
        Current parameters (the starting point).
    likelihood : GateLikelihood or None, default=None
        The observed likelihood as a function of the gate.
    max_iter : int, default=5
        Maximum number of refinement steps.

    Returns
    -------
    fields : dict
        New gate fields.
    """
    def objective(p, log_w):
        if likelihood is not None:
            return likelihood.value(log_w)
        mask = R > 0
        return float(np.sum(R[mask] * log_w[mask]))

    def evaluate(theta):
        p = params.replace(**gating.unpack(theta, params))
        log_w = gating.log_weights(X, p)
        return p, log_w, objective(p, log_w)

    theta0 = gating.pack(params)
    _, log_w0, v0 = evaluate(theta0)
    if likelihood is not None:
        T = likelihood.weights(dense.log_weights(X, params))
    else:
        T = R
    proposal = params.replace(**dense.m_step(X, T, params))
    theta1 = gating.pack(proposal)
    theta, value = theta0, v0
    if not np.isfinite(v0):
        theta, value = theta1, evaluate(theta1)[2]
    else:
        # a relative margin far above round-off keeps a converged gate fixed
        margin = 1e-12 * max(abs(v0), 1.0)
        t = 1.0
        for _ in range(6):
            cand = theta0 + t * (theta1 - theta0)
            v = evaluate(cand)[2]
            if v > v0 + margin:
                theta, value = cand, v
                break
            t *= 0.5
    if np.isfinite(value):

        def fun(th):
            p, log_w, v = evaluate(th)
            if not np.isfinite(v):
                return v, np.zeros_like(th)
            G = likelihood.weights(log_w) if likelihood is not None else R
            return v, gating.grad(X, p, G)

        scale = likelihood.sample_weight.sum() if likelihood is not None else R.sum()
        theta, _ = maximize_monotone(fun, theta, max_iter=max_iter,
                                     grad_tol=1e-10 * scale)
    return gating.unpack(theta, params)
