"""Property-based tests (hypothesis) of the hardening invariants (issue 15).

Inputs are generated from the issue's categories on small data: extreme
scales, degenerate data, bad values and dtypes, hyper-parameters, family x
solver x noise combinations and saturated gates. The properties:

- ``fit`` returns finite parameters, or raises a ``ValueError`` /
  ``TypeError`` whose message names the parameter or input;
- public methods return finite numbers, or ``-inf`` (log-densities) and
  ``+inf`` (information criteria) where that is the exact answer in float64;
- ``history_`` is non-decreasing for every EM family, except the documented
  schedules (a temperature ``schedule`` and the annealed top-K selection,
  checked from the end of their schedule on);
- inputs are never modified in place.

Hypothesis draws seeds and discrete choices only (the arrays come from a
seeded ``RandomState``), with ``derandomize=True``: the examples are the same
on every run. Run time of the module on the 2-core project machine, warm
Numba cache: see the report of issue 15 (about a minute).
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skmoe import (
    FFNExperts,
    HierarchicalSoftmaxGating,
    LinearExperts,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    PolynomialExperts,
    SoftmaxGating,
)
from skmoe.gating._topk import anneal_steps
from skmoe.utils._validation import SCALE_EXPONENT

from .conftest import assert_non_decreasing

M = MixtureOfExpertsRegressor

# Warnings that are correct reports on random small data (each is tested
# where it is raised); any other warning, a RuntimeWarning in particular, is
# an error (filterwarnings = error in pyproject.toml).
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::skmoe.EmptyExpertWarning"),
    pytest.mark.filterwarnings("ignore::skmoe.DegenerateFitWarning"),
    pytest.mark.filterwarnings("ignore::skmoe.NonGaussianInputWarning"),
]


def fast(max_examples):
    """Derandomized settings with few examples (each example fits models)."""
    return settings(max_examples=max_examples, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


SEEDS = st.integers(0, 2**31 - 1)


def _data(seed, n=80, d=2):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    k = (X[:, 0] > 0).astype(int)
    y = np.where(k, 1.0 + 2.0 * X[:, -1], -1.0 - X[:, -1]) + 0.2 * rng.randn(n)
    return X, y


def _frozen(*arrays):
    """Copies to compare with after the calls (inputs never modified)."""
    return [None if a is None else np.array(a, copy=True) for a in arrays]


def _assert_unchanged(originals, arrays):
    for before, after in zip(originals, arrays, strict=True):
        if before is not None:
            numeric = before.dtype.kind in "fc"
            assert np.array_equal(before, np.asarray(after), equal_nan=numeric)


def _params_finite(est):
    p = est.params_
    fields = [p.gate_coef, p.gate_intercept, p.expert_params, p.variance,
              *p.gate_extra.values()]
    if p.n_shared_experts:
        fields += [p.shared_params, p.shared_variance, p.shared_weights]
    if p.noise_df is not None:
        fields.append(p.noise_df)
    assert all(np.all(np.isfinite(f)) for f in fields)
    assert np.all(p.variance > 0)


def _schedule_steps(est):
    """EM iterations taken by a documented schedule of the fitted gate."""
    g = est.gating_
    annealed = (getattr(g, "top_k", None) is not None
                and g.top_k < est.n_experts and g.anneal_iter > 0)
    if annealed or getattr(g, "schedule", None) is not None:
        return anneal_steps(g.anneal_iter, est.max_iter)
    return 0


def _check_fit(est, X, y):
    """The fitted-model properties: finite parameters, monotone EM history,
    finite public methods on the training data, -inf / +inf far away."""
    _params_finite(est)
    likelihood = est.objective == "likelihood"
    if est.solver == "em":
        assert_non_decreasing(est.history_[_schedule_steps(est):])
    frozen = _frozen(X, y)
    assert np.all(np.isfinite(est.predict(X)))
    gates = est.predict_gates(X)
    assert np.all(np.isfinite(gates)) and np.all(gates >= 0)
    np.testing.assert_allclose(gates.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.isfinite(est.predict_experts(X)))
    assert np.isfinite(est.score(X, y))
    if likelihood:
        assert np.all(np.isfinite(est.log_density(X, y)))
        for name in ("bic", "aic", "icl"):
            assert np.isfinite(getattr(est, name)(X, y))
        q = est.predict_quantiles(X[:5], [0.1, 0.5, 0.9])
        assert np.all(np.isfinite(q)) and np.all(np.diff(q, axis=1) >= 0)
        assert np.all(np.isfinite(est.sample_y(X[:5], random_state=0)))
        # far from the data: a density that underflows is -inf, never NaN
        far = est.log_density(X[:5], y[:5] + 1e160)
        assert np.all(far == -np.inf)
        assert est.bic(X[:5], y[:5] + 1e160) == np.inf
        far_x = est.log_density(X[:5] * 1e100, y[:5])
        assert not np.isnan(far_x).any() and np.all(far_x < np.inf)
    far_gates = est.predict_gates(X[:5] * 1e100)
    assert np.all(np.isfinite(far_gates))
    _assert_unchanged(frozen, (X, y))


def _fit_or_named(est, X, y, names, sample_weight=None):
    """Fit; a refusal must be a ValueError/TypeError naming one of ``names``.

    Returns the fitted estimator or None (refused).
    """
    frozen = _frozen(X, y, sample_weight)
    try:
        est.fit(X, y, sample_weight=sample_weight)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert any(re.search(rf"(^|\W){re.escape(n)}(\W|$)", message)
                   for n in names), message
        _assert_unchanged(frozen, (X, y, sample_weight))
        return None
    _assert_unchanged(frozen, (X, y, sample_weight))
    return est


# ----------------------------------------------------------------- scales
EXPERT_FAMILIES = {
    "linear": LinearExperts(),
    "polynomial": PolynomialExperts(degree=2),
    "ffn": FFNExperts(),
}


@fast(14)
@given(seed=SEEDS, x_exp=st.lists(st.sampled_from([-200, -90, -40, 0, 40, 90, 200]),
                                  min_size=2, max_size=2),
       y_exp=st.sampled_from([-200, -90, -20, 0, 20, 90, 200]),
       experts=st.sampled_from(sorted(EXPERT_FAMILIES)))
def test_extreme_scales_fit_or_are_refused_by_name(seed, x_exp, y_exp, experts):
    X, y = _data(seed, n=60)
    X = X * 10.0 ** np.array(x_exp)
    y = y * 10.0**y_exp
    family = EXPERT_FAMILIES[experts]
    degree = family.degree if experts == "polynomial" else 1
    x_max = np.abs(X).max(axis=0)
    bound = 2.0 ** (SCALE_EXPONENT / degree)
    x_out = np.any((x_max > bound) | (x_max < 1 / bound))
    y_out = not 2.0**-SCALE_EXPONENT <= np.abs(y).max() <= 2.0**SCALE_EXPONENT
    est = M(2, experts=family, max_iter=30, random_state=seed)
    fitted = _fit_or_named(est, X, y, ["X", "y"])
    # refused exactly when the data leave the documented range
    assert (fitted is None) == bool(x_out or y_out)
    if fitted is not None:
        _check_fit(fitted, X, y)


# --------------------------------------------------------- degenerate data
DEGENERATE = ["constant_y", "zero_y", "constant_column", "zero_column",
              "duplicated_rows", "exact_line", "few_rows", "two_values",
              "huge_offset", "binary_x"]


def _degenerate(kind, seed):
    X, y = _data(seed, n=40)
    if kind == "constant_y":
        y = np.full_like(y, 0.1 + seed % 7)
    elif kind == "zero_y":
        y = np.zeros_like(y)
    elif kind == "constant_column":
        X[:, 1] = 3.0
    elif kind == "zero_column":
        X[:, 1] = 0.0
    elif kind == "duplicated_rows":
        X, y = np.repeat(X[:5], 8, axis=0), np.repeat(y[:5], 8)
    elif kind == "exact_line":
        y = 2.0 * X[:, 0] - X[:, 1] + 1.0
    elif kind == "few_rows":
        X, y = X[:4], y[:4]
    elif kind == "two_values":
        y = np.where(y > 0, 1.0, -1.0)
    elif kind == "huge_offset":
        y = 1e6 + 1e-3 * y
    elif kind == "binary_x":
        X = (X > 0).astype(float)
    return X, y


@fast(20)
@given(seed=SEEDS, kind=st.sampled_from(DEGENERATE),
       gating=st.sampled_from(["softmax", "normalized_sigmoid"]),
       experts=st.sampled_from(["linear", "ffn"]))
def test_degenerate_data_give_finite_fits(seed, kind, gating, experts):
    X, y = _degenerate(kind, seed)
    est = M(2, gating=gating, experts=experts, max_iter=40, random_state=seed)
    fitted = _fit_or_named(est, X, y, ["X", "y", "n_samples", "n_experts"])
    if fitted is not None:
        _check_fit(fitted, X, y)


# ------------------------------------------------------ bad values, dtypes
def _bad(kind, X, y):
    """(X, y, sample_weight, input named in the message)."""
    n = X.shape[0]
    if kind == "nan_X":
        X = X.copy()
        X[3, 0] = np.nan
        return X, y, None, "X"
    if kind == "inf_X":
        X = X.copy()
        X[0, 1] = np.inf
        return X, y, None, "X"
    if kind == "nan_y":
        y = y.copy()
        y[5] = np.nan
        return X, y, None, "y"
    if kind == "inf_y":
        y = y.copy()
        y[5] = -np.inf
        return X, y, None, "y"
    if kind == "str_X":
        Xs = X.astype(str)  # numeric strings convert; "abc" does not
        Xs[1, 1] = "abc"
        return Xs, y, None, "X"
    if kind == "str_y":
        return X, np.array(["a"] * n), None, "y"
    if kind == "complex_X":
        return X + 1j, y, None, "X"
    if kind == "complex_y":
        return X, y + 1j, None, "y"
    if kind == "ragged_X":
        return [list(r) for r in X[:-1]] + [[1.0]], y, None, "X"
    if kind == "short_y":
        return X, y[:-1], None, "y"
    if kind == "one_d_X":
        return X[:, 0], y, None, "X"
    if kind == "three_d_X":
        return X[:, :, None], y, None, "X"
    if kind == "negative_weight":
        w = np.ones(n)
        w[2] = -1.0
        return X, y, w, "sample_weight"
    if kind == "nan_weight":
        w = np.ones(n)
        w[2] = np.nan
        return X, y, w, "sample_weight"
    if kind == "short_weight":
        return X, y, np.ones(n - 1), "sample_weight"
    if kind == "str_weight":
        return X, y, ["a"] * n, "sample_weight"
    if kind == "zero_weights":
        return X, y, np.zeros(n), "sample_weight"
    raise AssertionError(kind)


BAD = ["nan_X", "inf_X", "nan_y", "inf_y", "str_X", "str_y", "complex_X",
       "complex_y", "ragged_X", "short_y", "one_d_X", "three_d_X",
       "negative_weight", "nan_weight", "short_weight", "str_weight",
       "zero_weights"]


@pytest.fixture(scope="module")
def fitted_model():
    X, y = _data(0)
    return M(2, max_iter=20, random_state=0).fit(X, y), X, y


@fast(25)
@given(seed=SEEDS, kind=st.sampled_from(BAD))
def test_bad_values_are_refused_by_name(seed, kind, fitted_model):
    X, y = _data(seed, n=30)
    Xb, yb, w, name = _bad(kind, X, y)
    frozen = _frozen(*(a if isinstance(a, np.ndarray) else None
                       for a in (Xb, yb, w)))
    names = ["X and y"] if kind == "short_y" else [name]
    if kind == "zero_weights":
        names.append("n_samples")  # "0 samples of non-zero weight"
    with pytest.raises((ValueError, TypeError)) as info:
        M(2, max_iter=5).fit(Xb, yb, sample_weight=w)
    assert any(n in str(info.value) for n in names), str(info.value)
    # the same bad X or y given to the methods of a fitted model
    est, X0, y0 = fitted_model
    if name == "X":
        for method in (est.predict, est.predict_gates):
            with pytest.raises((ValueError, TypeError), match=r"\bX\b"):
                method(Xb)
    elif name == "y" and kind != "short_y":
        for method in (est.log_density, est.bic, est.score):
            with pytest.raises(ValueError, match=r"^y "):
                method(X0[:len(yb)], yb)
    _assert_unchanged(frozen, (Xb, yb, w))


# -------------------------------------------------------- hyper-parameters
INVALID = [
    ({"n_experts": 0}, "n_experts"), ({"n_experts": 2.5}, "n_experts"),
    ({"max_iter": 0}, "max_iter"), ({"tol": -1.0}, "tol"),
    ({"n_init": 0}, "n_init"), ({"reg_var": -1e-6}, "reg_var"),
    ({"init_params": "foo"}, "init_params"), ({"solver": "newton"}, "solver"),
    ({"gating": "softmin"}, "gating"), ({"experts": "cubic"}, "experts"),
    ({"shared_weight": 1.0}, "shared_weight"), ({"noise": "laplace"}, "noise"),
    ({"noise_df": 0.5}, "noise_df"), ({"learning_decay": 0.3}, "learning_decay"),
    ({"routing_k": 0}, "routing_k"),
    ({"record_routing": True, "routing_k": 3}, "routing_k"),
    ({"gating": HierarchicalSoftmaxGating(n_groups=3)}, "n_groups"),
    ({"gating": SoftmaxGating(temperature=-1.0)}, "temperature"),
    ({"gating": SoftmaxGating(top_k=3)}, "top_k"),
    ({"experts": PolynomialExperts(degree=0)}, "degree"),
    ({"noise": "gaussian", "noise_df": 5.0}, "noise_df"),
    ({"objective": "least_squares"}, "objective"),
    ({"noise": "student_t", "solver": "lbfgs"}, "solver"),
    ({"solver": "tensor", "n_experts": 3}, "n_experts"),
    ({"solver": "gd", "n_shared_experts": 1}, "n_shared_experts"),
    ({"record_routing": True, "solver": "lbfgs"}, "solver"),
]


@fast(26)
@given(seed=SEEDS, case=st.sampled_from(INVALID))
def test_invalid_hyper_parameters_are_refused_by_name(seed, case):
    kwargs, name = case
    X, y = _data(seed, n=40)
    kwargs = {"n_experts": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        M(max_iter=5, **kwargs).fit(X, y)


@fast(12)
@given(seed=SEEDS, n_experts=st.integers(1, 4), max_iter=st.integers(1, 40),
       tol=st.sampled_from([0.0, 1e-8, 1e-3, 1.0]),
       reg_var=st.sampled_from([1e-12, 1e-6, 1e-2, 1.0]),
       n_init=st.integers(1, 2),
       init_params=st.sampled_from(["random", "kmeans"]),
       n_shared=st.integers(0, 1))
def test_valid_hyper_parameters_fit(seed, n_experts, max_iter, tol, reg_var, n_init,
                                    init_params, n_shared):
    X, y = _data(seed, n=60)
    est = M(n_experts, max_iter=max_iter, tol=tol, reg_var=reg_var, n_init=n_init,
            init_params=init_params, n_shared_experts=n_shared,
            random_state=seed).fit(X, y)
    _check_fit(est, X, y)
    floor = reg_var * np.var(y)
    assert np.all(est.params_.variance >= floor * (1 - 1e-12))


# ------------------------------------------- family x solver x noise combos
GATES = {
    "softmax": lambda K: SoftmaxGating(),
    "softmax_top1": lambda K: SoftmaxGating(top_k=1, anneal_iter=0),
    "softmax_annealed_top1": lambda K: SoftmaxGating(top_k=1, anneal_iter=5),
    "softmax_tanh": lambda K: SoftmaxGating(activation="tanh"),
    "softmax_learned_temperature": lambda K: SoftmaxGating(learn_temperature=True),
    "softmax_schedule": lambda K: SoftmaxGating(temperature=0.5, schedule="geometric",
                                                anneal_iter=5),
    "normalized_sigmoid": lambda K: NormalizedSigmoidGating(),
    "normalized_sigmoid_top1": lambda K: NormalizedSigmoidGating(top_k=1,
                                                                 anneal_iter=0),
    "hierarchical": lambda K: HierarchicalSoftmaxGating(n_groups=2),
}
EXPERTS = {
    "linear": LinearExperts,
    "polynomial": lambda: PolynomialExperts(degree=2),
    "ffn_tanh": FFNExperts,
    "ffn_sigmoid": lambda: FFNExperts(activation="sigmoid"),
}


@fast(30)
@given(seed=SEEDS, gate=st.sampled_from(sorted(GATES)),
       experts=st.sampled_from(sorted(EXPERTS)),
       solver=st.sampled_from(["em", "em", "lbfgs", "gd", "tensor"]),
       noise=st.sampled_from(["gaussian", "gaussian", "student_t"]),
       objective=st.sampled_from(["likelihood", "likelihood", "least_squares"]))
def test_family_solver_noise_combinations(seed, gate, experts, solver, noise,
                                          objective):
    K = 2
    X, y = _data(seed, n=90, d=3)
    est = M(K, gating=GATES[gate](K), experts=EXPERTS[experts](), solver=solver,
            noise=noise, objective=objective, max_iter=25, random_state=seed)
    names = ["solver", "objective", "noise", "experts", "gating", "init_params"]
    fitted = _fit_or_named(est, X, y, names)
    if fitted is not None:
        _check_fit(fitted, X, y)


# -------------------------------------------------------- saturated gates
@fast(12)
@given(seed=SEEDS, gate=st.sampled_from(sorted(GATES)),
       exponent=st.sampled_from([2, 30, 150, 300, 308]))
def test_saturated_gates_stay_on_the_simplex(seed, gate, exponent):
    X, y = _data(seed, n=60)
    est = M(2, gating=GATES[gate](2), max_iter=10, random_state=seed).fit(X, y)
    p = est.params_
    # the effective slopes (divided by the temperature) of largest magnitude
    # 10**exponent
    tau = p.gating._temperature(p) if isinstance(p.gating, SoftmaxGating) else 1.0
    coef = p.gate_coef / max(np.abs(p.gate_coef / tau).max(), 1e-300) * 10.0**exponent
    if exponent > 300:
        # logits of +-inf from one feature (two overflowing terms of opposite
        # signs would give inf - inf, a logit with no value)
        coef[:, 1:] = 0.0
    extra = dict(p.gate_extra)
    if "group_coef" in extra:
        group = np.zeros_like(extra["group_coef"])
        group[0, 0] = -(10.0**exponent)  # the last group's row is the reference
        extra["group_coef"] = group
    q = p.replace(gate_coef=coef, gate_extra=extra)
    gates = q.gates(X)
    assert np.all(np.isfinite(gates)) and np.all(gates >= 0)
    np.testing.assert_allclose(gates.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.isfinite(q.predict(X)))
    logd = q.log_density(X, y)
    assert not np.isnan(logd).any() and np.all(logd < np.inf)


# ----------------------------------------------------- monotone EM history
@fast(36)
@given(seed=SEEDS, gate=st.sampled_from(sorted(GATES)),
       experts=st.sampled_from(sorted(EXPERTS)),
       noise=st.sampled_from(["gaussian", "gaussian", "student_t"]),
       n_shared=st.sampled_from([0, 0, 0, 1]),
       K=st.sampled_from([2, 4]))
def test_em_history_is_monotone_for_every_family(seed, gate, experts, noise,
                                                 n_shared, K):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((100, 2))
    y = np.sin(3 * X[:, 0]) * 2 + X[:, 1] + 0.3 * rng.randn(100)
    frozen = _frozen(X, y)
    est = M(K, gating=GATES[gate](K), experts=EXPERTS[experts](), noise=noise,
            n_shared_experts=n_shared, max_iter=60, random_state=seed)
    try:
        est.fit(X, y)
    except ValueError as exc:
        # Student-t noise does not take shared experts (named in the message)
        assert "noise" in str(exc) or "shared" in str(exc), str(exc)
        return
    _assert_unchanged(frozen, (X, y))
    assert_non_decreasing(est.history_[_schedule_steps(est):])
    _params_finite(est)


def test_partial_fit_does_not_modify_its_inputs():
    X, y = _data(3, n=120)
    w = np.linspace(0.5, 2.0, 120)
    frozen = _frozen(X, y, w)
    est = M(2, random_state=0)
    for start in range(0, 120, 40):
        est.partial_fit(X[start:start + 40], y[start:start + 40],
                        sample_weight=w[start:start + 40])
    _assert_unchanged(frozen, (X, y, w))
    _params_finite(est)
