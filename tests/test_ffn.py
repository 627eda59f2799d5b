"""Two-layer FFN experts: derivatives, generalised EM, closed cases, symmetries."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import least_squares

from skmoe import FFNExperts, MixtureOfExpertsRegressor, MoEParams
from skmoe._kernels._ffn import ffn_nls
from skmoe.datasets import make_moe_regression
from skmoe.metrics import match_experts, parameter_error

from .conftest import assert_non_decreasing

ACTIVATIONS = ["tanh", "sigmoid", "relu", "gelu"]

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _data(n=60, d=2, K=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    R = np.ascontiguousarray(rng.dirichlet(np.ones(K), size=n))
    P = rng.standard_normal((K, d + 3))
    return X, y, R, P


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_nls_statistics_by_finite_differences(activation):
    # jte = -1/2 d sse / dtheta and jtj = sum_i R_ik J_ik J_ik^T, with the
    # Jacobian J of predict taken by central differences
    experts = FFNExperts(activation=activation)
    X, y, R, P = _data()
    code = experts._code()
    sse, jte, jtj = ffn_nls(X, y, R, P, code, True)
    assert_allclose(sse, np.sum(R * (y[:, None] - experts.predict(X, P)) ** 2,
                                axis=0), rtol=1e-12)
    h = 1e-6
    K, q = P.shape
    J = np.empty((X.shape[0], K, q))
    fd_sse = np.empty((K, q))
    for j in range(q):
        E = np.zeros_like(P)
        E[:, j] = h
        J[:, :, j] = (experts.predict(X, P + E) - experts.predict(X, P - E)) / (2 * h)
        fd_sse[:, j] = (ffn_nls(X, y, R, P + E, code, False)[0]
                        - ffn_nls(X, y, R, P - E, code, False)[0]) / (2 * h)
    # central differences: truncation O(h^2) ~ 1e-12, round-off ~ eps/h ~
    # 1e-10 relative to O(10) sums (ReLU: no hinge within h of a sample for
    # this seed)
    assert_allclose(jte, -0.5 * fd_sse, rtol=1e-6, atol=1e-7)
    assert_allclose(jtj, np.einsum("ik,ika,ikb->kab", R, J, J), rtol=1e-6,
                    atol=1e-7)


def _ffn_truth(activation, seed, n_features=2, n_experts=2):
    _, _, truth = make_moe_regression(10, n_features, n_experts, experts="ffn",
                                      activation=activation, random_state=seed)
    return truth


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("init_params", ["random", "kmeans"])
def test_generalised_em_never_decreases_the_likelihood(activation, init_params):
    X, y, _ = make_moe_regression(500, 2, 3, experts="ffn", activation=activation,
                                  random_state=1)
    est = MixtureOfExpertsRegressor(
        3, experts=FFNExperts(activation=activation), init_params=init_params,
        tol=0, max_iter=60, random_state=0,
    ).fit(X, y)
    assert est.n_iter_ >= 10
    # every accepted Levenberg-Marquardt step lowers its expert's weighted
    # squared error: a generalised EM, monotone up to round-off
    assert_non_decreasing(est.history_)
    assert est.history_[-1] > est.history_[0]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu"])
def test_one_expert_is_nonlinear_least_squares(activation):
    # K=1: maximum likelihood is weighted nonlinear least squares; compare
    # with scipy's trust-region least squares started independently
    truth = _ffn_truth(activation, seed=2, n_experts=1)
    rng = np.random.RandomState(3)
    X = rng.standard_normal((400, 2))
    y = truth.predict(X) + 0.2 * rng.standard_normal(400)
    w = rng.randint(1, 4, size=400).astype(float)
    experts = FFNExperts(activation=activation)
    est = MixtureOfExpertsRegressor(1, experts=experts, tol=0, max_iter=500,
                                    random_state=0).fit(X, y, sample_weight=w)

    def residuals(theta):
        return np.sqrt(w) * (y - experts.predict(X, theta[None, :])[:, 0])

    start = truth.expert_params[0] + 0.1 * rng.standard_normal(5)
    ref = least_squares(residuals, start, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    ours = experts.canonicalize(est.params_.expert_params)[0]
    theirs = experts.canonicalize(ref.x[None, :])[0]
    # both minimise the same smooth function to round-off: parameters agree
    # to ~sqrt(eps) * condition, far below the 0.2 / sqrt(400) = 0.01
    # statistical error that separates this optimum from any other
    assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    resid = y - est.predict(X)
    assert_allclose(est.params_.variance[0], np.sum(w * resid**2) / w.sum(),
                    rtol=1e-10)
    assert_allclose(np.sum(w * resid**2), 2 * ref.cost, rtol=1e-10)


def test_one_relu_expert_is_a_local_least_squares_minimum():
    # ReLU: the squared error has kinks where the hinge crosses a sample, and
    # scipy's least squares from near the truth stops at one of them, above
    # the EM fit (measured: 33.9534 vs 33.9454). So check local optimality
    # instead: restarted from the EM fit, scipy finds nothing lower.
    truth = _ffn_truth("relu", seed=2, n_experts=1)
    rng = np.random.RandomState(3)
    X = rng.standard_normal((400, 2))
    y = truth.predict(X) + 0.2 * rng.standard_normal(400)
    w = rng.randint(1, 4, size=400).astype(float)
    experts = FFNExperts(activation="relu")
    est = MixtureOfExpertsRegressor(1, experts=experts, tol=0, max_iter=500,
                                    random_state=0).fit(X, y, sample_weight=w)

    def residuals(theta):
        return np.sqrt(w) * (y - experts.predict(X, theta[None, :])[:, 0])

    ours = est.params_.expert_params[0]
    sse = np.sum(residuals(ours) ** 2)
    near_truth = least_squares(residuals, truth.expert_params[0]
                               + 0.1 * rng.standard_normal(5),
                               xtol=1e-15, ftol=1e-15, gtol=1e-15)
    polished = least_squares(residuals, ours, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert sse <= 2 * near_truth.cost * (1 + 1e-12)
    assert 2 * polished.cost >= sse * (1 - 1e-12)
    # the minimisers form a curve (the rescaling symmetry): compare canonically
    assert_allclose(experts.canonicalize(polished.x[None, :]),
                    experts.canonicalize(ours[None, :]), rtol=1e-6, atol=1e-6)


def test_symmetric_parameters_are_the_same_expert_for_the_metrics():
    X = np.random.RandomState(0).standard_normal((50, 2))
    cases = {
        "tanh": lambda P: np.column_stack([-P[:, 0], -P[:, 1:4], P[:, 4]]),
        "sigmoid": lambda P: np.column_stack([-P[:, 0], -P[:, 1:4],
                                              P[:, 4] + P[:, 0]]),
        "relu": lambda P: np.column_stack([3.0 * P[:, 0], P[:, 1:4] / 3.0,
                                           P[:, 4]]),
    }
    for activation, transform in cases.items():
        truth = _ffn_truth(activation, seed=4, n_experts=3)
        other = truth.replace(expert_params=transform(truth.expert_params))
        # a genuine symmetry: the same functions...
        assert_allclose(other.expert_means(X), truth.expert_means(X),
                        rtol=1e-12, atol=1e-12)
        # ...at distance zero for the metrics, also after relabelling
        moved = other.permute([2, 0, 1])
        est_index, true_index = match_experts(moved, truth)
        assert np.array_equal(np.array([2, 0, 1])[est_index], true_index)
        for key, value in parameter_error(moved, truth).items():
            if not key.endswith("index"):
                assert_allclose(value, 0.0, atol=1e-12, err_msg=key)
    # gelu has no such symmetry: a sign flip is another function
    truth = _ffn_truth("gelu", seed=4, n_experts=3)
    flipped = truth.replace(expert_params=cases["tanh"](truth.expert_params))
    assert not np.allclose(flipped.expert_means(X), truth.expert_means(X))
    assert parameter_error(flipped, truth)["expert_coef"].min() > 0.5


def test_relu_free_parameters_account_for_the_rescaling():
    assert FFNExperts(activation="tanh").n_free_params(3) == 6
    assert FFNExperts(activation="relu").n_free_params(3) == 5
    assert FFNExperts(activation="relu", fit_intercept=False).n_free_params(3) == 4
    # pack keeps every free entry for the optimisers
    assert FFNExperts(activation="relu").pack(np.zeros((2, 6))).size == 12


def test_relu_update_stops_only_where_it_cannot_descend():
    # the squared error of a ReLU expert has kinks where a hinge crosses a
    # sample; the update never increases it, and where it stops either the
    # gradient vanishes or a hinge sits on a sample
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((200, 3)), rng.standard_normal(200)
    R = np.ascontiguousarray(rng.dirichlet(np.ones(3), size=200))
    experts = FFNExperts(activation="relu")
    P = experts.init(X, y, R, np.random.RandomState(0))
    for _ in range(300):
        new = experts.m_step(X, y, R, P)
        assert np.all(ffn_nls(X, y, R, new, 2, False)[0]
                      <= ffn_nls(X, y, R, P, 2, False)[0])
        if np.array_equal(new, P):
            break
        P = new
    else:  # pragma: no cover
        pytest.fail("the update did not reach a fixed point")
    _, jte, _ = ffn_nls(X, y, R, P, 2, False)
    hinge = np.abs(X @ P[:, 1:4].T + P[:, 4]).min(axis=0)
    stationary = np.abs(jte).max(axis=1) < 1e-6
    assert np.all(stationary | (hinge < 1e-6))


def test_init_depends_on_weighted_sums_only():
    # integer weights and repeated rows give the same start (and row order
    # does not matter)
    X, y, R, _ = _data(n=80)
    w = np.random.RandomState(1).randint(0, 4, size=80)
    experts = FFNExperts(activation="gelu")
    a = experts.init(X, y, R * w[:, None], np.random.RandomState(2))
    Xr, yr, Rr = np.repeat(X, w, axis=0), np.repeat(y, w), np.repeat(R, w, axis=0)
    b = experts.init(Xr[::-1], yr[::-1], np.ascontiguousarray(Rr[::-1]),
                     np.random.RandomState(2))
    # sums in another order: round-off only, amplified by a few
    # Levenberg-Marquardt steps
    assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_integer_weights_equal_repeated_rows():
    X, y, _ = make_moe_regression(400, 2, 2, experts="ffn", random_state=0)
    w = np.random.RandomState(1).randint(0, 4, size=len(y))
    kw = dict(n_experts=2, experts="ffn", max_iter=30, tol=0, random_state=0)
    a = MixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=w)
    b = MixtureOfExpertsRegressor(**kw).fit(np.repeat(X, w, axis=0),
                                           np.repeat(y, w))
    # weighted sums and sums over repeated rows differ by summation order
    # only; measured after 30 generalised-EM iterations: 7e-13 relative
    for name in ("gate_coef", "gate_intercept", "expert_params", "variance"):
        assert_allclose(getattr(a.params_, name), getattr(b.params_, name),
                        rtol=1e-9, atol=1e-9, err_msg=name)


def test_expert_without_mass_keeps_its_parameters():
    X, y, R, P = _data()
    R[:, 1] = 0.0
    new = FFNExperts().m_step(X, y, np.ascontiguousarray(R), P)
    assert np.array_equal(new[1], P[1])
    assert not np.array_equal(new[0], P[0])


def test_no_intercept_keeps_the_column_at_zero(small_data):
    X, y, _ = small_data
    est = MixtureOfExpertsRegressor(
        2, experts=FFNExperts(fit_intercept=False), random_state=0, max_iter=20
    ).fit(X, y)
    assert np.all(est.params_.expert_params[:, -1] == 0.0)


def test_no_bias_is_the_papers_routed_relu_expert():
    # eta_2 ReLU(eta_1 x) of the DeepSeekMoE paper: a = 4, b = -12, c = e = 0
    experts = FFNExperts(activation="relu", fit_intercept=False, fit_bias=False)
    x = np.array([[-0.5], [0.0], [0.25]])
    assert_allclose(experts.predict(x, np.array([[4.0, -12.0, 0.0, 0.0]])),
                    [[24.0], [0.0], [0.0]], rtol=1e-15)
    # a and b, minus one for the ReLU rescaling: d + 1 - 1
    assert experts.n_free_params(1) == 1 and experts.n_free_params(3) == 3
    assert FFNExperts(fit_bias=False).n_free_params(3) == 5  # a, b, e
    P = np.array([[4.0, -12.0, 0.0, 0.0], [2.0, 3.0, 0.0, 0.0]])
    assert experts.pack(P).tolist() == [4.0, -12.0, 2.0, 3.0]
    assert np.array_equal(experts.unpack(experts.pack(P), 2, 1), P)
    rng = np.random.RandomState(0)
    assert np.all(experts.random_params(2, 3, rng)[:, 3:] == 0.0)
    X, y, R, _ = _data(d=1)
    assert np.all(experts.init(X, y, R, rng)[:, 2:] == 0.0)


@pytest.mark.parametrize("solver", ["em", "lbfgs"])
def test_no_bias_keeps_the_column_at_zero(small_data, solver):
    X, y, _ = small_data
    experts = FFNExperts(activation="relu", fit_intercept=False, fit_bias=False)
    est = MixtureOfExpertsRegressor(2, experts=experts, solver=solver,
                                    random_state=0, max_iter=20).fit(X, y)
    d = X.shape[1]
    assert np.all(est.params_.expert_params[:, d + 1:] == 0.0)
    # the generalised EM stays monotone with the bias held at zero
    if solver == "em":
        assert_non_decreasing(est.history_)


@pytest.mark.parametrize("kwargs, column, match", [
    (dict(fit_intercept=False), -1, "fit_intercept=False.*output intercept e"),
    (dict(fit_bias=False), -2, "fit_bias=False.*bias c"),
])
def test_a_frozen_column_that_is_not_zero_is_refused(kwargs, column, match):
    # a start carrying a value in a column the family does not fit would be
    # held at that value for ever: refused instead
    experts = FFNExperts(activation="relu", **kwargs)
    X, y, R, P = _data()
    P[:, -1 if "fit_bias" in kwargs else -2] = 0.0  # the other frozen column
    P[:, column] = 0.3
    with pytest.raises(ValueError, match=match):
        experts.m_step(X, y, R, P)
    with pytest.raises(ValueError, match=match):
        experts.pack(P)


def test_sigmoid_without_intercept_has_no_sign_flip():
    # sigmoid(-z) = 1 - sigmoid(z): flipping (a, b, c) needs e + a, which an
    # expert without intercept does not have; canonical rows stay in the family
    experts = FFNExperts(activation="sigmoid", fit_intercept=False)
    P = np.array([[-2.0, 1.0, 0.5, 0.0]])
    assert np.array_equal(experts.canonicalize(P), P)
    assert np.all(experts.random_params(2, 4, np.random.RandomState(0))[:, -1] == 0)


def test_activation_is_validated(small_data):
    X, y, _ = small_data
    est = MixtureOfExpertsRegressor(2, experts=FFNExperts(activation="swish"))
    with pytest.raises(ValueError, match="'activation' parameter of FFNExperts"):
        est.fit(X, y)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_ffn_experts(seed):
    # tolerances: about twice the largest error over seeds 0-9 of this exact
    # set-up (n=20000, 2 tanh experts, 2 features, k-means start, n_init=3;
    # all ten recovered the truth), measured after matching with the sign
    # symmetry of tanh: output weight 0.045, input weights 0.069, bias 0.026,
    # intercept 0.046, variance 0.0030 (true 0.09), gate slopes 0.047, gate
    # intercepts 0.015
    TOL = {"expert_output_weight": 0.09, "expert_coef": 0.14, "expert_bias": 0.05,
           "expert_intercept": 0.09, "variance": 0.006, "gate_coef": 0.1,
           "gate_intercept": 0.03}
    X, y, truth = make_moe_regression(20000, 2, 2, experts="ffn",
                                      activation="tanh", random_state=seed)
    est = MixtureOfExpertsRegressor(2, experts="ffn", init_params="kmeans",
                                    n_init=3, random_state=seed).fit(X, y)
    assert est.converged_
    errors = parameter_error(est.params_, truth)
    for block, tol in TOL.items():
        assert errors[block].max() < tol, (block, errors[block])
    # the same errors against a sign-flipped description of the truth
    flipped = truth.replace(expert_params=np.column_stack(
        [-truth.expert_params[:, :-1], truth.expert_params[:, -1]]))
    again = parameter_error(est.params_, flipped)
    for block in TOL:
        assert_allclose(again[block], errors[block], rtol=1e-12)
    assert est.log_likelihood_ >= truth.log_density(X, y).sum() - 1.0


def test_moeparams_with_ffn_experts_checks_the_row_length():
    with pytest.raises(ValueError, match="expert_params must have shape"):
        MoEParams([[0.0]], [0.0], [[1.0, 2.0]], [1.0], experts="ffn")
