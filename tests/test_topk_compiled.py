"""The top-K selections' compiled update against the Python ECME step.

The softmax and normalized sigmoid gates with ``top_k < n_experts`` update
by one kernel (``skmoe/_kernels/_topk_steps.py``, ``topk_step``), which
their ``m_step`` and their compiled program call: monotone L-BFGS on the
complete-data objective while the selection anneals, the ECME step on the
observed likelihood for the exact selection. Its reference is the Python
code it replaces, :func:`~skmoe.gating._ascent.sparse_gate_m_step` and
:func:`~skmoe.gating._ascent.maximize_monotone` on the gates' ``log_weights``
and ``grad`` (NumPy), which the activated softmax
gates still run. The compiled EM against the batch loop for these gates is
in ``tests/test_compiled.py`` (the ``*top*`` cases).
"""

import warnings

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

from skmoe import (
    FFNExperts,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe._kernels import _topk_steps
from skmoe.datasets import make_moe_regression
from skmoe.gating._ascent import maximize_monotone, sparse_gate_m_step
from skmoe.solvers import _compiled as compiled_module
from skmoe.solvers import _em as em_module
from skmoe.solvers._em import _compilable, gate_likelihood, run_em

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

GATES = {
    "softmax_top1": SoftmaxGating(top_k=1, anneal_iter=10),
    "softmax_top2": SoftmaxGating(top_k=2, anneal_iter=10),
    "softmax_top2_temperature": SoftmaxGating(0.5, top_k=2, anneal_iter=10),
    # a learned temperature: the kernel runs on the logits' rows (pack) at
    # temperature 1, and unpack renormalises them into the temperature
    "softmax_top1_learned": SoftmaxGating(0.5, top_k=1, learn_temperature=True,
                                          anneal_iter=10),
    "softmax_top2_learned": SoftmaxGating(top_k=2, learn_temperature=True,
                                          anneal_iter=10),
    "sigmoid_top1": NormalizedSigmoidGating(1, anneal_iter=10),
    "sigmoid_top2": NormalizedSigmoidGating(2, anneal_iter=10),
    "sigmoid_top2_unpinned": NormalizedSigmoidGating(2, anneal_iter=10,
                                                     pin_last=False),
}


def _python_m_step(gating, X, R, params, likelihood):
    """The Python update the kernel replaces (the code of the gates' m_step
    before it): the ECME step of the exact selection, else L-BFGS on the
    complete-data objective of the smoothed one."""
    if isinstance(gating, NormalizedSigmoidGating):
        if gating.pin_last:
            params = params.replace(**gating.normalize(params))
        dense = NormalizedSigmoidGating(pin_last=gating.pin_last)
    else:
        dense = clone(gating).set_params(top_k=None)
    if gating._smoothing(params) == 0:
        return sparse_gate_m_step(gating, dense, X, R, params, likelihood)
    mask = R > 0

    def fun(theta):
        p = params.replace(**gating.unpack(theta, params))
        log_w = gating.log_weights(X, p)
        return float(np.sum(R[mask] * log_w[mask])), gating.grad(X, p, R)

    theta, _ = maximize_monotone(fun, gating.pack(params),
                                 max_iter=gating._max_ascent_iter,
                                 grad_tol=1e-10 * R.sum())
    return gating.unpack(theta, params)


def _fit_start(gating, n=300, seed=0, n_shared=0, experts=None, n_iter=3):
    """Data and the parameters after ``n_iter`` batch iterations."""
    X, y, _ = make_moe_regression(n_samples=n, n_features=2, n_experts=3,
                                  random_state=seed)
    w = np.random.RandomState(seed).uniform(0.5, 2.0, n)
    kw = {} if experts is None else {"experts": experts}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MixtureOfExpertsRegressor(
            3, gating=gating, max_iter=n_iter, tol=0.0, random_state=seed,
            init_params="random", n_shared_experts=n_shared, **kw,
        ).fit(X, y, sample_weight=w)
    return X, y, w, est.params_


def _posterior_weights(X, y, w, params):
    R = params._posterior(X, y, w)[0][:, :params.n_experts] * w[:, None]
    return np.ascontiguousarray(R)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("n_shared", [0, 1])
@pytest.mark.parametrize("case", sorted(GATES))
def test_kernel_update_equals_python_update(case, n_shared, exact):
    # one update from the same point: the kernel sums in row order where
    # NumPy sums pairwise or by BLAS (round-off of sums of 300 terms of
    # size <= 1e2 relative to a total of 1e2-1e3: ~1e-13), through at most
    # one dense Newton step and 5 L-BFGS steps on a well-conditioned
    # objective: agreement to rtol 1e-9 (measured: <= 1e-11)
    gating = GATES[case]
    X, y, w, params = _fit_start(gating, n_shared=n_shared)
    # the smoothing of an annealed run's first iterations, or the exact gate
    params = params.replace(gate_extra={
        **params.gate_extra,
        "top_k_smoothing": np.array([0.0 if exact else 0.5])})
    assert (gating._smoothing(params) == 0) == exact
    R = _posterior_weights(X, y, w, params)
    likelihood = gate_likelihood(X, y, w, params)
    got = gating.m_step(X, R, params, likelihood=likelihood)
    want = _python_m_step(gating, X, R, params, likelihood)
    moved = False
    for field in ("gate_coef", "gate_intercept"):
        assert_allclose(got[field], want[field], rtol=1e-9, atol=1e-12,
                        err_msg=field)
        moved |= not np.array_equal(got[field], getattr(params, field))
    # the update is not the start (the comparison is not vacuous), except
    # where the exact top-1 gate's objective is locally constant (no L-BFGS
    # step) and the dense proposal can be rejected
    assert moved or (exact and gating.top_k == 1)
    # the kernel's objective does not decrease
    new = params.replace(**got)
    if exact:
        assert (likelihood.value(gating.log_weights(X, new))
                >= likelihood.value(gating.log_weights(X, params)))


@pytest.mark.parametrize("case", ["softmax_top1", "softmax_top2",
                                  "softmax_top1_learned", "softmax_top2_learned",
                                  "sigmoid_top1", "sigmoid_top2"])
@pytest.mark.parametrize("anneal_iter", [0, 10])
def test_compiled_trajectory_equals_python_ecme_trajectory(monkeypatch, case,
                                                           anneal_iter):
    # 25 iterations of the compiled path against the batch loop running the
    # Python update it replaces: the trajectories agree to round-off,
    # compounded over 25 iterations (rtol 1e-9 on the log-likelihoods, as
    # tests/test_compiled.py against the batch loop)
    gating = clone(GATES[case]).set_params(anneal_iter=anneal_iter)
    X, y, w, start = _fit_start(gating, n_iter=1)
    assert _compilable(start, X.shape[0])
    kw = dict(max_iter=25, tol=0.0, var_floor=1e-6)
    compiled = compiled_module.run_compiled(X, y, w, start, **kw)
    cls = type(gating)
    kernel_m_step = cls.m_step

    def python_m_step(self, X, R, params, *, likelihood=None):
        if self._sparse(params.n_experts):
            return _python_m_step(self, X, R, params, likelihood)
        return kernel_m_step(self, X, R, params, likelihood=likelihood)

    monkeypatch.setattr(cls, "m_step", python_m_step)
    python = run_em(X, y, w, start, fused=False, **kw)
    assert_allclose(compiled.history, python.history, rtol=1e-9)
    for field in ("gate_coef", "gate_intercept", "variance"):
        assert_allclose(getattr(compiled.params, field),
                        getattr(python.params, field), rtol=1e-7, atol=1e-9,
                        err_msg=field)


@pytest.mark.parametrize("case", ["softmax_top1", "softmax_top2",
                                  "softmax_top2_learned",
                                  "sigmoid_top1", "sigmoid_top2"])
@pytest.mark.parametrize("n_shared", [0, 1])
def test_compiled_ecme_is_monotone(case, n_shared):
    # the exact selection's ECME step raises the observed log-likelihood (or
    # keeps the gate), the experts' and variances' steps are exact M-steps:
    # the log-likelihood never decreases beyond the round-off of its sum
    gating = clone(GATES[case]).set_params(anneal_iter=0)
    X, y, w, start = _fit_start(gating, n_iter=1, n_shared=n_shared)
    result = compiled_module.run_compiled(X, y, w, start, max_iter=40, tol=0.0,
                                          var_floor=1e-6)
    h = result.history
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))
    assert h[-1] > h[0] + 1.0  # EM moved (not a vacuous check)


def _kernel_args(family, n=200, d=2, K=4, seed=0, shared=True):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    R = rng.dirichlet(np.ones(K), n) * rng.uniform(0.5, 2.0, (n, 1))
    w = rng.uniform(0.5, 2.0, n)
    A = rng.standard_normal((n, K)) - 1.0
    a = rng.standard_normal(n) - 2.0 if shared else np.full(n, -np.inf)
    rows = K - 1
    theta = rng.standard_normal(rows * (d + 1))
    return X, np.ascontiguousarray(R), w, A, a, theta


def _value_grad(family, theta, X, tau, top_k, smoothing, kind, R, w, A, a):
    n, K = R.shape
    grad = np.empty_like(theta)
    value = _topk_steps.topk_evaluate(
        family, theta, X, tau, top_k, smoothing, kind, R, w, A, a,
        np.empty((K, X.shape[1])), np.empty(K), np.empty((n, K)),
        np.empty((n, K)), grad)
    return value, grad


@pytest.mark.parametrize("family", ["SOFTMAX", "SIGMOID"])
@pytest.mark.parametrize("kind", ["COMPLETE", "OBSERVED"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("top_k", [1, 2])
def test_kernel_gradient_equals_central_differences(family, kind, smoothing,
                                                    top_k):
    # central differences with h = 1e-6: truncation error h^2 |f'''| / 6 ~
    # 1e-12 * 1e3 and round-off eps |f| / h ~ 2e-16 * 1e3 / 1e-6 = 2e-7 for
    # an objective of size ~1e3 with gradients of size ~1e1-1e2: rtol 1e-5
    # of the gradient's largest entry. The exact selection is smooth where
    # the selected sets do not change (no logit within 1e-6 of a tie here);
    # its complete-data objective needs R to vanish outside the selection.
    family_code = getattr(_topk_steps, family)
    kind_code = getattr(_topk_steps, kind)
    X, R, w, A, a, theta = _kernel_args(family_code)
    tau = 0.7 if family == "SOFTMAX" else 1.0
    if kind == "COMPLETE" and smoothing == 0:
        n, K = R.shape
        L = np.empty((n, K))
        _topk_steps.topk_logits_into(X, theta, tau, np.empty((K, 2)),
                                     np.empty(K), L)
        LW = _topk_steps.topk_log_weights(family_code, L, top_k, 0.0)
        R = np.ascontiguousarray(np.where(np.isfinite(LW), R, 0.0))
    args = (X, tau, top_k, smoothing, kind_code, R, w, A, a)
    value, grad = _value_grad(family_code, theta, *args)
    assert np.isfinite(value)
    h = 1e-6
    fd = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        fd[j] = (_value_grad(family_code, theta + e, *args)[0]
                 - _value_grad(family_code, theta - e, *args)[0]) / (2 * h)
    if top_k == 1 and smoothing == 0:
        # the exact top-1 gate is locally constant: its gradient vanishes
        assert np.all(grad == 0) and np.all(fd == 0)
        return
    assert_allclose(grad, fd, rtol=0, atol=1e-5 * np.max(np.abs(fd)))
    assert np.max(np.abs(fd)) > 1.0  # a gradient to compare


@pytest.mark.parametrize("family", ["SOFTMAX", "SIGMOID"])
@pytest.mark.parametrize("top_k", [1, 2])
def test_exact_observed_pass_is_the_general_evaluation(family, top_k):
    # the one-pass evaluation of the exact selection's observed likelihood
    # runs the operations of the general one (logits, log-weights, objective,
    # gradient as separate passes) row by row: the same bits
    code = getattr(_topk_steps, family)
    X, R, w, A, a, theta = _kernel_args(code)
    tau = 0.7 if family == "SOFTMAX" else 1.0
    n, K = R.shape
    coef, intercept = np.empty((K, 2)), np.empty(K)
    L, G = np.empty((n, K)), np.empty((n, K))
    _topk_steps.topk_logits_into(X, theta, tau, coef, intercept, L)
    LW = _topk_steps.topk_log_weights(code, L, top_k, 0.0)
    want = _topk_steps.topk_objective(_topk_steps.OBSERVED, LW, R, w, A, a, G)
    want_grad = np.empty_like(theta)
    _topk_steps.topk_gradient(code, X, L, LW, G, top_k, 0.0, tau, want_grad)
    grad = np.empty_like(theta)
    got = _topk_steps.exact_observed(code, theta, X, tau, top_k, w, A, a, coef,
                                     intercept, True, grad)
    assert got == want
    assert np.array_equal(grad, want_grad)
    assert _topk_steps.exact_observed(code, theta, X, tau, top_k, w, A, a, coef,
                                      intercept, False, grad) == want


def test_observed_objective_equals_gate_likelihood():
    # the kernel's observed likelihood and its weights against
    # GateLikelihood (NumPy), to round-off of sums of 200 terms
    from skmoe.gating import GateLikelihood
    X, R, w, A, a, theta = _kernel_args(_topk_steps.SOFTMAX)
    n, K = R.shape
    LW = np.log(np.random.RandomState(1).dirichlet(np.ones(K), n))
    LW[:, 1] = -np.inf  # an excluded expert
    G = np.empty((n, K))
    value = _topk_steps.topk_objective(_topk_steps.OBSERVED, LW, R, w, A, a, G)
    ref = GateLikelihood(w, A, a)
    assert_allclose(value, ref.value(LW), rtol=1e-13)
    assert_allclose(G, ref.weights(LW), rtol=1e-13, atol=1e-300)
    assert np.all(G[:, 1] == 0)


@pytest.mark.parametrize("noise", ["gaussian", "student_t", "poisson"])
def test_noise_log_densities_equal_gate_likelihood(noise):
    # the noise programs' log_densities against the batch loop's
    # gate_likelihood (NumPy/SciPy), shared experts included for Gaussian
    gating = SoftmaxGating(top_k=2, anneal_iter=0)
    n_shared = 2 if noise == "gaussian" else 0
    response = {"response": "poisson"} if noise == "poisson" else {}
    X, y, _ = make_moe_regression(n_samples=200, n_features=2, n_experts=3,
                                  random_state=0, **response)
    w = np.random.RandomState(0).uniform(0.5, 2.0, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = MixtureOfExpertsRegressor(
            3, gating=gating, noise=noise, n_shared_experts=n_shared,
            max_iter=2, random_state=0, init_params="random",
        ).fit(X, y, sample_weight=w).params_
    program = params.noise.compiled_program(y, w, params, 1e-6)
    MU = np.ascontiguousarray(params.expert_predictors(X))
    MUs = (np.ascontiguousarray(params.shared_means(X)) if n_shared
           else np.empty((200, 0)))
    A, a = np.empty((200, 3)), np.full(200, -np.inf)
    program.log_densities(MU, MUs, A, a)
    ref = gate_likelihood(X, y, w, params)
    assert_allclose(A, ref.log_routed, rtol=1e-13)
    if n_shared:
        assert_allclose(a, ref.log_shared, rtol=1e-13)
    else:
        assert np.all(a == -np.inf)


two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="Numba was started with one thread")


@two_threads
@pytest.mark.parametrize("gating", [SoftmaxGating(top_k=2, anneal_iter=5),
                                    SoftmaxGating(top_k=2, anneal_iter=5,
                                                  learn_temperature=True),
                                    NormalizedSigmoidGating(1, anneal_iter=5)])
@pytest.mark.parametrize("compiled", [True, False])
def test_topk_fit_bit_identical_for_n_jobs_1_and_2(monkeypatch, gating,
                                                   compiled):
    # the update's kernel is serial: fits with 1 and 2 threads give the same
    # bits on the compiled path and on the batch loop (whose other kernels
    # run their parallel twins with n_jobs=2 from PARALLEL_MIN_ROWS rows)
    from skmoe.utils import _threads
    monkeypatch.setattr(_threads, "PARALLEL_MIN_ROWS", 100)
    if not compiled:
        monkeypatch.setattr(em_module, "FUSED_FROM_N", 0)
    X, y, _ = make_moe_regression(n_samples=400, n_features=2, n_experts=4,
                                  random_state=0)
    fits = [MixtureOfExpertsRegressor(
        4, gating=gating, experts=FFNExperts("relu", fit_intercept=False,
                                             fit_bias=False),
        max_iter=20, tol=0.0, random_state=0, init_params="random",
        n_jobs=n_jobs).fit(X, y) for n_jobs in (1, 2)]
    a, b = (f.params_ for f in fits)
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(fits[0].history_, fits[1].history_)
