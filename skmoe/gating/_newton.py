"""Damped Newton steps on the weighted softmax objective.

The gate update of :class:`~skmoe.SoftmaxGating` (dense, plain logits) and of
each level of :class:`~skmoe.HierarchicalSoftmaxGating`: one damped Newton
step with an Armijo line search on ``sum_ik R_ik log softmax_k(X coef^T +
intercept)`` (last row zero). :class:`NewtonProposal` is that step before its
line-search test; batch EM (:func:`newton_softmax_ascent`), the fused EM and
online EM all build it from the same statistics (the objective's value,
gradient and negative Hessian).
"""

import numpy as np
from scipy.linalg import LinAlgError, cho_factor

from .. import _kernels
from ..utils._arrays import as_kernel_array
from ..utils._threads import use_threads
from ._base import free_rows


def _status_name(code):
    """The status ``"stay"``, ``"take"`` or ``"test"`` of a kernel code."""
    steps = _kernels._softmax_steps
    return {steps.STAY: "stay", steps.TAKE: "take"}.get(code, "test")


def _status_code(name):
    """The kernel module's code of the status ``name``."""
    steps = _kernels._softmax_steps
    return {"stay": steps.STAY, "take": steps.TAKE}.get(name, steps.TEST)


def softmax_objective(n_rows):
    """The kernel of the softmax gate objective for ``n_rows`` rows.

    :func:`~skmoe._kernels._softmax.softmax_gate_objective`, or its parallel
    twin in a fit with threads over many rows
    (:func:`~skmoe.utils._threads.use_threads`): the same bits either way.

    Parameters
    ----------
    n_rows : int
        Number of rows of the data.

    Returns
    -------
    kernel : callable
        ``kernel(X, coef, intercept, R, compute_hessian) -> (value, grad,
        neg_hess)``.
    """
    if use_threads(n_rows):
        return _kernels._softmax.softmax_gate_objective_parallel
    return _kernels._softmax.softmax_gate_objective


def _unpack(theta, K, d):
    full = np.zeros((K, d + 1))
    full[:-1] = theta.reshape(K - 1, d + 1)
    return np.ascontiguousarray(full[:, :d]), np.ascontiguousarray(full[:, d])


def _damped_cholesky(neg_hess, eye):
    """Cholesky factor of ``neg_hess + lambda I`` with the smallest working ridge.

    ``lambda`` starts at ``1e-12`` times the mean diagonal and grows tenfold
    until the factorisation succeeds (it does once the ridge dominates).
    """
    lam = 1e-12 * max(np.trace(neg_hess) / neg_hess.shape[0], 1e-300)
    for _ in range(400):
        try:
            return cho_factor(neg_hess + lam * eye)
        except LinAlgError:
            lam *= 10.0
    return None  # pragma: no cover


class NewtonProposal:
    """One damped Newton step of :func:`newton_softmax_ascent`, to be tested.

    Built from the objective's value, gradient and negative Hessian at the
    gate ``(coef, intercept)``; ``status`` says what the step needs:

    - ``"stay"``: no ascent direction (or no factorisation), the gate is kept;
    - ``"take"``: the predicted gain is below the objective's round-off; the
      step is taken if it keeps the objective within that round-off
      (:meth:`accepts`), else the gate is kept (see
      :func:`newton_softmax_ascent`);
    - ``"test"``: the full step must pass the Armijo test
      :meth:`accepts`, else :meth:`backtrack` halves it.

    ``coef`` and ``intercept`` are the full step's gate (the start, also in
    ``start``, for ``"stay"``). The fused EM solver tests the full step in
    its next E-step pass, where the trial gate's logits are computed anyway.

    Parameters
    ----------
    coef : ndarray of shape (n_experts, n_features)
        Starting slopes (last row zero).
    intercept : ndarray of shape (n_experts,)
        Starting intercepts (last entry zero).
    terms : tuple
        ``(value, grad, neg_hess)`` of the objective at the start.
    noise : float
        Round-off bound of the objective.
    to_fields : callable or None, default=None
        ``to_fields(coef, intercept) -> dict``, the gate fields of a gate in
        these coordinates (see :meth:`fields`).
    """

    def __init__(self, coef, intercept, terms, noise, to_fields=None):
        K, d = coef.shape
        self.shape = (K, d)
        self.value, grad, neg_hess = terms[:3]
        self.noise = noise
        self.theta = free_rows(coef, intercept)
        self.status = "stay"
        self.to_fields = to_fields
        self.start = (coef, intercept)
        self.coef, self.intercept = coef, intercept
        if K == 1:  # no free gate parameter
            return
        # the kernels of the compiled softmax step: one implementation
        self.step = np.empty(grad.shape[0])
        steps = _kernels._softmax_steps
        self.slope = float(steps.newton_direction(as_kernel_array(neg_hess),
                                                  as_kernel_array(grad), self.step))
        self.status = _status_name(steps.newton_status(self.slope, noise))
        if self.status == "stay":
            return
        self.coef, self.intercept = self.at(1.0)

    def fields(self, gate=None):
        """Gate fields of ``gate`` (default: the full step's gate).

        Parameters
        ----------
        gate : tuple of (ndarray, ndarray) or None, default=None
            ``(coef, intercept)`` in the step's coordinates.

        Returns
        -------
        fields : dict
            The family's gate fields.
        """
        coef, intercept = (self.coef, self.intercept) if gate is None else gate
        return self.to_fields(coef, intercept)

    def at(self, t):
        """The gate at step length ``t``."""
        return _unpack(self.theta + t * self.step, *self.shape)

    def accepts(self, value, t=1.0):
        """Test of the objective ``value`` at step length ``t``.

        The Armijo condition for a ``"test"`` step. A ``"take"`` step only
        has to keep the objective within its round-off ``noise``: its
        predicted gain is below it, but the quadratic model behind the
        prediction holds only near the start, and a nearly singular Hessian
        (a saturated gate) makes the step long.
        """
        return _kernels._softmax_steps.newton_accepts(
            _status_code(self.status), value, self.value, self.slope, self.noise, t)

    def line_search(self, objective):
        """The gate this step leads to: accepted, halved, or the start.

        ``"stay"`` keeps the start; ``"take"`` and ``"test"`` evaluate
        ``objective`` at the full step (:meth:`accepts`); a rejected ``"test"``
        step is halved (:meth:`backtrack`), and the start is kept when no
        halving is accepted (or the ``"take"`` step is rejected).

        Parameters
        ----------
        objective : callable
            ``objective(coef, intercept) -> float``.

        Returns
        -------
        coef, intercept : ndarray
            The gate after the step.
        """
        if self.status == "stay":
            return self.start
        if self.accepts(objective(self.coef, self.intercept)):
            return self.coef, self.intercept
        halved = self.backtrack(objective)
        return self.start if halved is None else halved

    def backtrack(self, objective):
        """Halve the rejected full step until :meth:`accepts`, at most 39 times.

        A rejected ``"take"`` step is not halved (its gain is below round-off
        at any length): None.

        Returns
        -------
        gate : tuple of (ndarray, ndarray) or None
            The accepted gate, or None when no halving is accepted.
        """
        if self.status == "take":
            return None
        t = 1.0
        for _ in range(39):
            t *= 0.5
            coef, intercept = self.at(t)
            if self.accepts(objective(coef, intercept), t):
                return coef, intercept
        return None


def objective_noise(value, n_samples):
    """Round-off bound of ``value``, a sum of ``n_samples`` non-positive terms.

    Each term summed with relative error eps, of total magnitude ``|value|``.
    """
    return _kernels._softmax_steps.objective_round_off(value, n_samples)


def newton_softmax_ascent(X, R, coef, intercept, max_iter):
    """Damped Newton ascent of ``sum_ik R_ik log softmax_k(X coef^T + intercept)``.

    The last row of ``coef``/``intercept`` must be zero and stays zero. Each
    step solves ``(-H + lambda I) delta = g`` with the exact Hessian
    (``lambda`` is a tiny ridge that grows only until the Cholesky
    factorisation succeeds) and backtracks until the Armijo condition holds
    (at most 40 evaluations), so every evaluated step increases the
    objective (see :class:`NewtonProposal`).

    Near the optimum the predicted gain of a Newton step, ``g^T delta / 2``,
    falls below the round-off of the objective itself (a sum over the
    samples); comparing two objective values with the Armijo test is then a
    coin toss, and two runs that differ only by round-off (for example
    integer weights and repeated rows) could take different branches. Such a
    step ends the loop and is taken unless it lowers the objective by more
    than that round-off, in which case the gate is kept. Near the optimum the
    quadratic model is accurate and the test passes by a margin far above
    round-off; it fails, by far, only when the step is long: the Hessian of
    a saturated gate (a softmax that separates its rows perfectly, objective
    near 0) is nearly singular, and a step of predicted gain 1e-23 moved a
    slope by 1.2e5 and the objective from -1e-23 to -5.9e6 (issue 15, which
    made EM decrease with a hierarchical gate). Every decision of the loop is
    thus made on differences far above round-off, and the result is a
    continuous function of the data.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Input samples.
    R : ndarray of shape (n_samples, n_experts)
        Weighted responsibilities ``sample_weight[i] * r_ik``.
    coef : ndarray of shape (n_experts, n_features)
        Starting gate slopes (last row zero).
    intercept : ndarray of shape (n_experts,)
        Starting gate intercepts (last entry zero).
    max_iter : int
        Maximum number of Newton steps.

    Returns
    -------
    coef, intercept : ndarray
        The improved gate.
    """
    if not use_threads(X.shape[0]):  # the compiled step, serial
        coef = as_kernel_array(coef).copy()
        intercept = as_kernel_array(intercept).copy()
        none = np.empty((0, coef.shape[0]))
        _kernels._softmax_steps.softmax_newton_ascent(
            as_kernel_array(X), as_kernel_array(R), coef, intercept, max_iter,
            none, none, False)
        return coef, intercept
    K, d = coef.shape
    if K == 1:
        return coef, intercept

    gate_objective = softmax_objective(X.shape[0])

    def objective(c, i):
        return gate_objective(X, c, i, R, False)[0]

    terms = gate_objective(X, coef, intercept, R, True)
    noise = objective_noise(terms[0], X.shape[0])
    for it in range(max_iter):
        step = NewtonProposal(coef, intercept, terms, noise)
        if step.status == "stay":
            break
        if step.status == "take":
            if step.accepts(objective(step.coef, step.intercept)):
                return step.coef, step.intercept
            break
        if step.accepts(objective(step.coef, step.intercept)):
            coef, intercept = step.coef, step.intercept
        else:
            halved = step.backtrack(objective)
            if halved is None:
                break
            coef, intercept = halved
        if it + 1 < max_iter:
            terms = gate_objective(X, coef, intercept, R, True)
    return coef, intercept
