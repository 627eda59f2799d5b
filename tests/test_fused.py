"""The fused paths against the general ones.

``MoEParams._posterior`` takes the fused E-step kernel when the gate and the
experts declare the ability ``"linear"`` (:meth:`Gating.linear_logits`,
:meth:`Experts.linear_means`); it must compute what the general path
computes. Tolerances: rtol=1e-12 per call, as for the kernel twins (the two
paths sum in different orders); whole EM trajectories compound that
round-off over 20 iterations of a well-conditioned fit, rtol=1e-10.

``run_em`` takes the fused EM loop (two passes per iteration,
``skmoe/solvers/_fused.py``) when the model has the abilities it requires
(``skmoe.solvers._fused.FUSED``); it must take the same steps as the general
loop (tolerances below).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax

from skmoe import (
    LinearExperts,
    MixtureOfExpertsRegressor,
    PolynomialExperts,
    SoftmaxGating,
)
from skmoe._kernels import _fused as fused_kernels
from skmoe._kernels import _softmax as softmax_kernels
from skmoe._kernels._gaussian import gaussian_estep
from skmoe.datasets import make_moe_regression
from skmoe.gating import _newton as _newton_module
from skmoe.gating._softmax import SoftmaxGating as _Softmax
from skmoe.solvers import _em as em_module
from skmoe.solvers._em import _fusable, run_em
from skmoe.solvers._finish import canonical_permutation, finish_fit
from skmoe.utils._warnings import EmptyExpertWarning

# deliberately short fits (fixed iteration counts, tol=0)
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _fit(gating, experts, **kw):
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=3,
                                  random_state=0)
    est = MixtureOfExpertsRegressor(3, gating=gating, experts=experts,
                                    max_iter=20, tol=0.0, random_state=0, **kw)
    return X, y, est.fit(X, y)


@pytest.mark.parametrize("gating, experts", [
    (SoftmaxGating(), LinearExperts()),
    (SoftmaxGating(temperature=0.5), LinearExperts()),
    (SoftmaxGating(), LinearExperts(fit_intercept=False)),
])
def test_fused_posterior_equals_general(gating, experts):
    X, y, est = _fit(gating, experts)
    params = est.params_
    assert params.gating.lacks("linear", 3) is None
    coef, intercept = params.experts.linear_means(params.expert_params)
    assert coef.shape == (3, X.shape[1]) and intercept.shape == (3,)
    resp, loglik, scale = params._posterior(X, y)
    assert scale is None  # Gaussian noise has no latent scales
    resp_ref, loglik_ref = gaussian_estep(*params._components(X), y)
    assert_allclose(resp, resp_ref, rtol=1e-12, atol=1e-15)
    assert_allclose(loglik, loglik_ref, rtol=1e-12)


@pytest.mark.parametrize("gating, experts", [
    (SoftmaxGating(top_k=1), LinearExperts()),
    (SoftmaxGating(activation="tanh"), LinearExperts()),
    (SoftmaxGating(), PolynomialExperts(degree=2)),
])
def test_non_linear_models_lack_the_ability(gating, experts):
    X, y, est = _fit(gating, experts)
    params = est.params_
    assert (params.gating.lacks("linear", 3) is not None
            or params.experts.lacks("linear") is not None)


def test_em_trajectory_same_with_and_without_fusion(monkeypatch):
    # the fused E-step of the unfused EM loop against the general E-step
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=3,
                                  random_state=0)
    start = MixtureOfExpertsRegressor(3, max_iter=1, random_state=0).fit(X, y)
    w = np.ones(X.shape[0])
    fused = run_em(X, y, w, start.params_, max_iter=20, tol=0.0,
                   var_floor=1e-8, fused=False)
    monkeypatch.setattr(_Softmax, "provides", _Softmax.provides - {"linear"})
    general = run_em(X, y, w, start.params_, max_iter=20, tol=0.0,
                     var_floor=1e-8, fused=False)
    assert_allclose(fused.history, general.history, rtol=1e-10)
    assert np.all(np.diff(fused.history) >= -1e-9 * np.abs(fused.history[1:]))


# ---------------------------------------------------------------- fused EM
# ``run_em(fused=True)`` (two passes per iteration) against
# ``run_em(fused=False)`` (the families' own E-step and M-step): the same
# steps, summed in different orders. Over 40 iterations of these
# well-conditioned fits the two trajectories agree to 1e-15..1e-14 (measured);
# rtol=1e-11 leaves room for round-off growing through the iterations while
# any difference of algorithm (a skipped or repeated step) moves L by far more.

FUSED_CASES = {
    "softmax": (3, SoftmaxGating(), LinearExperts()),
    "temperature": (4, SoftmaxGating(temperature=0.5), LinearExperts()),
    "no_intercept": (3, SoftmaxGating(), LinearExperts(fit_intercept=False)),
    "learned_temperature": (3, SoftmaxGating(learn_temperature=True),
                            LinearExperts()),
    "schedule": (2, SoftmaxGating(schedule="geometric", anneal_iter=10),
                 LinearExperts()),
    "one_expert": (1, SoftmaxGating(), LinearExperts()),
}


def _start(K, gating, experts, n=1500, seed=1):
    X, y, _ = make_moe_regression(n_samples=n, n_features=3,
                                  n_experts=max(K, 2), random_state=seed)
    # a random start one iteration in: not yet in canonical order (the auto
    # start's best candidate already is)
    est = MixtureOfExpertsRegressor(K, gating=gating, experts=experts,
                                    init_params="random", max_iter=1,
                                    random_state=0).fit(X, y)
    w = np.random.RandomState(0).random_sample(n) * 2
    w[::7] = 0.0
    return X, y, w, est.params_


@pytest.mark.parametrize("case", list(FUSED_CASES))
def test_fused_em_equals_unfused_em(case):
    K, gating, experts = FUSED_CASES[case]
    X, y, w, start = _start(K, gating, experts)
    assert _fusable(start) is None
    runs = [run_em(X, y, w, start, max_iter=40, tol=0.0, var_floor=1e-6,
                   fused=fused) for fused in (True, False)]
    assert len(runs[0].history) == len(runs[1].history) == 41
    assert_allclose(runs[0].history, runs[1].history, rtol=1e-11)
    a, b = runs[0].params, runs[1].params
    for name in ("expert_params", "variance", "gate_coef", "gate_intercept"):
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-8,
                        atol=1e-10, err_msg=name)
    # EM is monotone (relative round-off of the total log-likelihood)
    h = runs[0].history
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))


@pytest.mark.parametrize("gating", [
    SoftmaxGating(),
    # the schedule moves the temperature after every M-step: the step is
    # tested at once instead of in the next E-step pass
    SoftmaxGating(schedule="geometric", initial_temperature=2.0, anneal_iter=10),
])
def test_fused_em_backtracking_line_search(monkeypatch, gating):
    # a saturated gate: its Hessian vanishes where the responsibilities
    # disagree with it, the first Newton step overshoots, and the line search
    # halves it with the gate objective's own kernel
    X, y, w, start = _start(3, gating, LinearExperts())
    start = start.replace(gate_coef=start.gate_coef * 0 + np.array(
        [[40.0, -30.0, 10.0], [-25.0, 35.0, 0.0], [0.0, 0.0, 0.0]]))
    calls = []
    original = softmax_kernels.softmax_gate_objective

    def counted(*args):
        calls.append(args[-1])
        return original(*args)

    monkeypatch.setattr(softmax_kernels, "softmax_gate_objective", counted)
    fused = run_em(X, y, w, start, max_iter=5, tol=0.0, var_floor=1e-6,
                   fused=True)
    assert calls and not any(calls)  # halved steps, objective only
    general = run_em(X, y, w, start, max_iter=5, tol=0.0, var_floor=1e-6,
                     fused=False)
    assert_allclose(fused.history, general.history, rtol=1e-11)
    assert np.all(np.diff(fused.history) >= -1e-12 * np.abs(fused.history[1:]))


@pytest.mark.parametrize("estimator, other", [
    (dict(noise="student_t"), {}),
    (dict(gating=SoftmaxGating(top_k=1)), {}),
    (dict(gating=SoftmaxGating(activation="tanh")), {}),
    (dict(gating="normalized_sigmoid"), {}),
    (dict(gating="hierarchical_softmax", n_experts=4), {}),
    (dict(experts=PolynomialExperts(degree=2)), {}),
    (dict(n_shared_experts=1), {}),
    ({}, dict(record=lambda params: None)),
    ({}, dict(expert_step=lambda *args: None)),
])
def test_fused_em_declines_what_it_does_not_compute(estimator, other):
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=2,
                                  random_state=0)
    kw = dict(n_experts=2, max_iter=1, random_state=0)
    kw.update(estimator)
    params = MixtureOfExpertsRegressor(**kw).fit(X, y).params_
    if other:  # a model the fused EM covers, with a hook it does not have
        assert _fusable(params) is None
        with pytest.raises(ValueError, match="no expert_step or record"):
            run_em(X, y, np.ones(300), params, max_iter=1, tol=0.0,
                   var_floor=1e-6, fused=True, **other)
    else:
        assert _fusable(params) is not None


def test_estimator_fits_use_the_fused_em(monkeypatch):
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=2,
                                  random_state=0)
    calls = []
    original = fused_kernels.fused_estep_statistics

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(fused_kernels, "fused_estep_statistics", counted)
    # below FUSED_FROM_N rows the compiled path runs these models
    # (tests/test_compiled.py); here the fused EM takes over from any size
    monkeypatch.setattr(em_module, "FUSED_FROM_N", 0)
    est = MixtureOfExpertsRegressor(2, max_iter=5, tol=0.0, random_state=0,
                                    init_params="random", n_init=2)
    est.fit(X, y)
    # one E-step pass at the start and one per iteration, for each restart
    assert len(calls) == est.n_init * 6
    # the auto start: 20 short runs (at most max_iter iterations each here),
    # the best of them already at max_iter
    calls.clear()
    MixtureOfExpertsRegressor(2, max_iter=5, tol=0.0, random_state=0,
                              init_params="auto").fit(X, y)
    assert len(calls) == 20 * 6


class _OwnStepGating(SoftmaxGating):
    """A subclass with its own gate update (here: the gate held fixed).

    Its update is not the softmax's update from statistics, so it declares
    that it lacks the ability.
    """

    provides = SoftmaxGating.provides - {"statistics"}

    def m_step(self, X, R, params, *, likelihood=None):
        return {"gate_coef": params.gate_coef, "gate_intercept": params.gate_intercept}


class _OwnStepExperts(LinearExperts):
    """A subclass with its own expert update (here: a halved step)."""

    provides = LinearExperts.provides - {"statistics"}

    def m_step(self, X, y, R, expert_params):
        return 0.5 * (expert_params + super().m_step(X, y, R, expert_params))


@pytest.mark.parametrize("gating, experts", [
    (_OwnStepGating(), LinearExperts()),
    (SoftmaxGating(), _OwnStepExperts()),
])
def test_subclasses_with_their_own_m_step_are_not_fused(gating, experts):
    X, y, w, start = _start(3, gating, experts)
    assert _fusable(start) is not None
    # and run_em takes their steps: the fixed gate stays fixed, the halved
    # expert step differs from the full one
    res = run_em(X, y, w, start, max_iter=3, tol=0.0, var_floor=1e-6)
    full = run_em(X, y, w, start.replace(gating=SoftmaxGating(),
                                         experts=LinearExperts()),
                  max_iter=3, tol=0.0, var_floor=1e-6)
    assert not np.allclose(res.history, full.history, rtol=1e-6)
    if isinstance(gating, _OwnStepGating):
        assert_allclose(res.params.gate_coef, start.gate_coef, rtol=0, atol=0)


def test_fused_em_returns_the_masses_of_its_last_pass():
    X, y, w, start = _start(3, SoftmaxGating(), LinearExperts())
    res = run_em(X, y, w, start, max_iter=7, tol=0.0, var_floor=1e-6)
    gate_mass, resp_mass = res.masses
    params = res.params
    # the kernel twins' tolerance (module docstring)
    assert_allclose(gate_mass, w @ params.gates(X), rtol=1e-12)
    assert_allclose(resp_mass, w @ params._posterior(X, y)[0], rtol=1e-12)
    unfused = run_em(X, y, w, start, max_iter=7, tol=0.0, var_floor=1e-6,
                     fused=False)
    assert unfused.masses is None


@pytest.mark.parametrize("empty", [False, True])
def test_finish_fit_with_the_masses_equals_finish_fit_without(empty):
    X, y, w, start = _start(4, SoftmaxGating(), LinearExperts())
    if empty:  # expert 1 gets no weight anywhere: flagged after the fit
        start = start.replace(gate_intercept=start.gate_intercept
                              + np.array([0.0, -60.0, 0.0, 0.0]))
    res = run_em(X, y, w, start, max_iter=3, tol=0.0, var_floor=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a, empty_a = finish_fit(res.params, X, y, w, "likelihood", res.masses)
        b, empty_b = finish_fit(res.params, X, y, w, "likelihood")
    order = canonical_permutation(res.params, X, w)
    assert not np.array_equal(order, np.arange(4))  # a real relabelling
    assert np.array_equal(empty_a, empty_b) and empty_a.any() == empty
    assert len([c for c in caught if c.category is EmptyExpertWarning]) == 2 * empty
    for name in ("expert_params", "variance", "gate_coef", "gate_intercept"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


class _SharperGating(SoftmaxGating):
    """Gate weights of its own (sharper), with the softmax's m_step.

    Its logits are not the linear logits of the softmax: it declares that it
    lacks the ability (and the statistics taken at them).
    """

    provides = SoftmaxGating.provides - {"linear", "statistics"}

    def log_weights(self, X, params):
        return log_softmax(2.0 * (X @ params.gate_coef.T + params.gate_intercept),
                           axis=1)


def test_gates_with_their_own_weights_are_not_fused():
    X, y, w, start = _start(3, _SharperGating(), LinearExperts())
    assert _fusable(start) is not None
    res = run_em(X, y, w, start, max_iter=3, tol=0.0, var_floor=1e-6)
    # the history belongs to the subclass's model, not the plain softmax
    assert res.history[-1] == pytest.approx(w @ res.params.log_density(X, y),
                                            rel=1e-12)


@pytest.mark.parametrize("kw", [
    dict(noise="student_t"), dict(n_shared_experts=1),
])
def test_run_em_refuses_fused_true_where_it_cannot_fuse(kw):
    X, y, _ = make_moe_regression(n_samples=300, n_features=2, n_experts=2,
                                  random_state=0)
    params = MixtureOfExpertsRegressor(2, max_iter=1, random_state=0,
                                       **kw).fit(X, y).params_
    with pytest.raises(ValueError, match="the fused EM (needs|does not support)"):
        run_em(X, y, np.ones(300), params, max_iter=2, tol=0.0, var_floor=1e-6,
               fused=True)


def test_fused_em_keeps_the_gate_when_no_halving_is_accepted(monkeypatch):
    # NewtonProposal.backtrack returning None (every halving rejected; only
    # reachable on pathological objectives, forced here): the fused loop
    # keeps the starting gate of that iteration, as the batch loop does
    # with a gate held fixed (the batch loop's Newton step is a compiled
    # kernel, which the patch does not reach); the full steps are rejected
    # too, so that every iteration keeps its gate
    monkeypatch.setattr(_newton_module.NewtonProposal, "backtrack",
                        lambda self, objective: None)
    monkeypatch.setattr(_newton_module.NewtonProposal, "accepts",
                        lambda self, value, t=1.0: False)
    X, y, w, start = _start(3, SoftmaxGating(), LinearExperts())
    start = start.replace(gate_coef=np.array(
        [[40.0, -30.0, 10.0], [-25.0, 35.0, 0.0], [0.0, 0.0, 0.0]]))
    runs = [run_em(X, y, w, start, max_iter=4, tol=0.0, var_floor=1e-6,
                   fused=True),
            run_em(X, y, w, start.replace(gating=_OwnStepGating()), max_iter=4,
                   tol=0.0, var_floor=1e-6, fused=False)]
    assert_allclose(runs[0].history, runs[1].history, rtol=1e-11)
    assert_allclose(runs[0].params.gate_coef, runs[1].params.gate_coef,
                    rtol=1e-12, atol=1e-12)
    # the first Newton step is rejected: after one iteration the gate has
    # not moved (the normalisation round-trip changes no bit here)
    first = run_em(X, y, w, start, max_iter=1, tol=0.0, var_floor=1e-6,
                   fused=True)
    assert np.array_equal(first.params.gate_coef, start.gate_coef)


def test_fused_em_stops_when_unfused_em_stops():
    X, y, w, start = _start(3, SoftmaxGating(), LinearExperts())
    runs = [run_em(X, y, w, start, max_iter=500, tol=1e-8, var_floor=1e-6,
                   fused=fused) for fused in (True, False)]
    assert runs[0].converged and runs[1].converged
    assert runs[0].n_iter == runs[1].n_iter
    assert_allclose(runs[0].history, runs[1].history, rtol=1e-11)


def test_estimator_with_restarts_same_fused_and_unfused(monkeypatch):
    X, y, _ = make_moe_regression(n_samples=800, n_features=3, n_experts=3,
                                  random_state=2)
    kw = dict(n_init=3, max_iter=200, tol=1e-7, random_state=0)
    fused = MixtureOfExpertsRegressor(3, **kw).fit(X, y)
    monkeypatch.setattr(em_module, "_fusable", lambda params: "not fused")
    unfused = MixtureOfExpertsRegressor(3, **kw).fit(X, y)
    assert fused.n_iter_ == unfused.n_iter_
    assert_allclose(fused.history_, unfused.history_, rtol=1e-11)
    assert np.array_equal(fused.empty_experts_, unfused.empty_experts_)
    for name in ("expert_params", "variance", "gate_coef", "gate_intercept"):
        assert_allclose(getattr(fused.params_, name),
                        getattr(unfused.params_, name), rtol=1e-7, atol=1e-9)
