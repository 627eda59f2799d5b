"""The Gaussian gate: kernel, identifiability, normal form, EM, recovery, edges.

The contract tests of every registered family (tests/test_gating.py) also run
on ``GaussianGating()`` and two further configurations (tests/_instances.py);
this file tests what is particular to the family.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax
from scipy.stats import multivariate_normal
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    FFNExperts,
    GaussianGating,
    MixtureOfExpertsRegressor,
    MoEParams,
    PolynomialExperts,
)
from skmoe._kernels._gaussian_gate import gaussian_joint_rows, gaussian_log_densities
from skmoe.convergence import near_true_init
from skmoe.datasets import make_moe_regression
from skmoe.gating._gaussian import _BARRIER, _Frame, _from_logits, _logits, _Rep
from skmoe.metrics import match_experts, parameter_error, voronoi_loss

from . import _reference as ref
from .conftest import assert_non_decreasing

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

TYPES = ["full", "diag", "spherical"]


def _params(gating, K=3, d=2, seed=0, gate_scale=3.0):
    fields = gating.random_params(d, K, gate_scale, np.random.RandomState(seed))
    return MoEParams(expert_params=np.zeros((K, d + 1)), variance=np.ones(K),
                     gating=gating, **fields)


def _dense_chol(params):
    """Upper-triangular precision factors (K, d, d), from the stored layout."""
    chol, (K, d) = params.gate_extra["precision_cholesky"], params.gate_coef.shape
    if chol.ndim == 3:
        return np.triu(chol)
    return np.eye(d) * chol.reshape(K, -1)[:, None, :]


def _covariances(params):
    U = _dense_chol(params)
    return np.linalg.inv(U @ np.swapaxes(U, 1, 2))


def _objective(gating, X, R, params):
    return gating.weighted_objective(X, R, params)


def _fit(gating, n, d, K, seed, **kwargs):
    """Data from the family, a fit of ``K`` experts, its monotone history."""
    X, y, truth = make_moe_regression(n, d, K, gating=gating, random_state=seed)
    est = MixtureOfExpertsRegressor(K, gating=gating, **kwargs).fit(X, y)
    assert_non_decreasing(est.history_)
    return X, y, truth, est


# ------------------------------------------------------------------ kernel
@pytest.mark.parametrize("n, d, K", [(1, 1, 1), (7, 1, 2), (50, 3, 3), (200, 4, 5)])
def test_kernel_matches_its_twin_and_scipy(n, d, K):
    rng = np.random.RandomState(n + d + K)
    X = rng.standard_normal((n, d))
    centres = rng.standard_normal((K, d))
    U = np.triu(rng.standard_normal((K, d, d)))
    U[:, np.arange(d), np.arange(d)] = np.exp(0.5 * rng.standard_normal((K, d)))
    # entries below the diagonal are not read: garbage there changes nothing
    U_in = U + np.tril(rng.standard_normal((K, d, d)), -1)
    copies = [a.copy() for a in (X, centres, U_in)]
    out = gaussian_log_densities(X, centres, U_in)
    for a, b in zip((X, centres, U_in), copies, strict=True):
        assert np.array_equal(a, b)  # inputs untouched
    # the same sums in another order: round-off, rtol 1e-12 as in test_kernels
    assert_allclose(out, ref.gaussian_log_densities(X, centres, U_in), rtol=1e-12)
    # scipy forms the covariance and its eigendecomposition; with precision
    # eigenvalues within exp(+-1) and |x - c| < 10 the log-densities are
    # O(10) and agree to ~1e-13 relative (measured 3e-15); 1e-10 fails any
    # wrong factor, sign or transpose
    for k in range(K):
        cov = np.linalg.inv(U[k] @ U[k].T)
        want = multivariate_normal(centres[k], cov).logpdf(X).reshape(n)
        assert_allclose(out[:, k], want, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_log_weights_are_the_normalised_gaussian_densities(covariance_type):
    p = _params(GaussianGating(covariance_type), K=4, d=3)
    X = 50 * np.random.RandomState(0).standard_normal((300, 3))  # far away too
    cov = _covariances(p)
    dens = np.column_stack([
        multivariate_normal(p.gate_coef[k], cov[k]).logpdf(X) for k in range(4)])
    log_g = p.log_gates(X)
    assert np.all(np.isfinite(log_g))
    assert_allclose(np.exp(log_g).sum(axis=1), 1.0, rtol=1e-12)
    # the log-densities reach ~1e5 at |x| = 150: round-off ~1e5 * 1e-16
    assert_allclose(log_g, log_softmax(dens + p.gate_intercept, axis=1),
                    rtol=1e-9, atol=1e-9)


# ------------------------------------------------------- identifiability
@pytest.mark.parametrize("covariance_type", TYPES)
def test_free_parameters_are_the_rank_of_the_gate_jacobian(covariance_type):
    # the gate is a function of (K - 1)(1 + d + q) numbers, fewer than the
    # K (d + q + 1) Gaussian parameters: the Jacobian of the log-weights in
    # the raw parameters has exactly that rank
    gating = GaussianGating(covariance_type)
    K, d = 3, 2
    p = _params(gating, K=K, d=d)
    X = np.random.RandomState(1).standard_normal((200, d))
    chol = p.gate_extra["precision_cholesky"]
    upper = np.triu(np.ones((d, d), dtype=bool)) if chol.ndim == 3 else slice(None)
    raw = [p.gate_coef, chol[:, upper] if chol.ndim == 3 else chol,
           p.gate_intercept]
    sizes = [a.size for a in raw]
    flat = np.concatenate([a.ravel() for a in raw])

    def log_g(v):
        c, ch, b = np.split(v, np.cumsum(sizes)[:-1])
        new = chol.copy()
        if chol.ndim == 3:
            new[:, upper] = ch.reshape(K, -1)
        else:
            new = ch.reshape(chol.shape)
        q = p.replace(gate_coef=c.reshape(K, d), gate_intercept=b,
                      gate_extra={**p.gate_extra, "precision_cholesky": new})
        return gating.log_weights(X, q).ravel()

    h = 1e-5
    J = np.column_stack([(log_g(flat + h * e) - log_g(flat - h * e)) / (2 * h)
                         for e in np.eye(flat.size)])
    sv = np.linalg.svd(J, compute_uv=False)
    # null directions come out at round-off / h ~ 1e-10 (measured <= 2e-9),
    # identified ones at >= 1e-2 of the largest (measured); the cut-off 1e-6
    # lies in a gap of six orders of magnitude
    rank = int(np.sum(sv > 1e-6 * sv[0]))
    assert rank == gating.n_free_params(d, K) == gating.pack(p).size
    assert flat.size - rank == d + gating._quad(d).q + 1


@pytest.mark.parametrize("covariance_type", TYPES)
def test_a_common_quadratic_tilt_changes_the_parameters_not_the_gate(
        covariance_type):
    gating = GaussianGating(covariance_type)
    p = _params(gating, K=3, d=2, seed=3)
    X = np.random.RandomState(0).standard_normal((100, 2))
    quad = gating._quad(2)
    W, alpha = _logits(gating._rep(p), quad)
    eta = np.concatenate([[0.4, -0.7], quad.coefs(0.8 * np.eye(2)[None])[0]])
    rep = _from_logits(W + eta, alpha, quad)  # the same gate, tilted
    tilted = p.replace(gate_coef=rep.centres, gate_intercept=rep.log_prior,
                       gate_extra={**p.gate_extra, "precision_cholesky":
                                   quad.stored_chol(rep.precision)})
    assert np.abs(tilted.gate_coef - p.gate_coef).max() > 0.1
    assert_allclose(tilted.log_gates(X), p.log_gates(X), atol=1e-12)
    # one normal form: normalising the tilted parameters gives p back; the
    # Newton iteration stops at moments within ~1e-12 sd, so the fields
    # agree to ~1e-10
    back = tilted.replace(**gating.normalize(tilted))
    assert back.allclose(p, rtol=1e-8, atol=1e-8)
    assert_allclose(gating.pack(tilted), gating.pack(p), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("K", [1, 3])
def test_normal_form_solves_the_moment_equations(covariance_type, K):
    # the stationarity condition of the normalisation (class Notes): the
    # mixture of the inputs has the reference mean, and its second moments,
    # projected on the covariance structure, are the reference's minus
    # 2 eps sum_k Gamma_k (the barrier)
    gating = GaussianGating(covariance_type)
    X = np.random.RandomState(2).standard_normal((500, 2)) * [1.0, 3.0] + [1, -2]
    w = np.random.RandomState(3).randint(1, 4, size=500).astype(float)
    fields = gating.init(X, w, K, np.random.RandomState(0))
    p = MoEParams(expert_params=np.zeros((K, 3)), variance=np.ones(K),
                  gating=gating, **fields)
    pi, c, G = np.exp(p.gate_intercept), p.gate_coef, _covariances(p)
    assert_allclose(np.logaddexp.reduce(p.gate_intercept), 0.0, atol=1e-14)
    mean = pi @ c
    second = np.einsum("k,kab->ab", pi, G + np.einsum("ka,kb->kab", c, c))
    m, V = p.gate_extra["x_mean"], p.gate_extra["x_covariance"]
    want = V + np.outer(m, m) - 2 * _BARRIER * G.sum(axis=0)
    project = {"full": lambda A: A, "diag": np.diag,
               "spherical": np.trace}[covariance_type]
    # Newton stops at a decrement of 1e-24: ~1e-12 of the input's sd
    assert_allclose(mean, m, atol=1e-10)
    assert_allclose(project(second), project(want), rtol=1e-10, atol=1e-10)
    # the reference is the weighted moments of X (plus reg_covar)
    wm = w @ X / w.sum()
    assert_allclose(m, wm, rtol=1e-12)
    assert_allclose(V, np.cov(X.T, aweights=w, bias=True) + 1e-6 * np.eye(2),
                    rtol=1e-12)


def test_normalising_an_extreme_gate_stays_finite():
    # an expert that dominates only far from the data (negative quadratic
    # logit difference, negligible weight): without the barrier its Gaussian
    # would be infinitely wide (the moment equations have no interior solution
    # in floating point); the barrier keeps it finite
    gating = GaussianGating()
    quad = gating._quad(2)
    W = np.array([[5.3, 5.1, -2.0, -0.3, -4.4],
                  [52.7, 16.6, 13.8, 17.6, -39.9],
                  [0.0, 0.0, 0.0, 0.0, 0.0]])
    alpha = np.array([-8.0, -89.6, 0.0])
    extra = {"x_mean": np.zeros(2), "x_covariance": np.eye(2)}
    fields = gating._normal_fields(W, alpha, extra, _Frame(extra, quad), quad)
    p = MoEParams(expert_params=np.zeros((3, 3)), variance=np.ones(3),
                  gating=gating, **fields)
    assert p._all_finite()
    X = np.random.RandomState(0).standard_normal((50, 2))
    feats = quad.features(X)
    assert_allclose(p.log_gates(X), log_softmax(feats @ W.T + alpha, axis=1),
                    atol=1e-9)


# -------------------------------------------------------- parametrisation
@pytest.mark.parametrize("covariance_type", TYPES)
def test_pack_unpack(covariance_type):
    gating = GaussianGating(covariance_type)
    p = _params(gating, K=4, d=3, seed=1)
    theta = gating.pack(p)
    assert theta.size == gating.n_free_params(3, 4) == 3 * (1 + 3 + gating._quad(3).q)
    # exact round trip of a normalised gate (the contract test), and the
    # identified coordinates survive the normalisation of a moved gate
    assert p.replace(**gating.unpack(theta, p)).allclose(p, rtol=0)
    moved = theta + 0.05 * np.random.RandomState(0).standard_normal(theta.size)
    q = p.replace(**gating.unpack(moved, p))
    assert_allclose(gating.pack(q), moved, rtol=1e-10, atol=1e-10)
    for key in ("x_mean", "x_covariance"):
        assert np.array_equal(q.gate_extra[key], p.gate_extra[key])


@pytest.mark.parametrize("covariance_type", TYPES)
def test_permute_moves_every_per_expert_block(covariance_type):
    gating = GaussianGating(covariance_type)
    p = _params(gating, K=4, d=2, seed=2)
    X = np.random.RandomState(0).standard_normal((100, 2))
    order = np.array([2, 0, 3, 1])
    q = p.permute(order)
    assert_allclose(q.gates(X), p.gates(X)[:, order], atol=1e-12)
    # the normal form does not depend on the labels: the fields move as they are
    assert np.array_equal(q.gate_coef, p.gate_coef[order])
    assert np.array_equal(q.gate_intercept, p.gate_intercept[order])
    assert np.array_equal(q.gate_extra["precision_cholesky"],
                          p.gate_extra["precision_cholesky"][order])
    assert np.array_equal(q.gate_extra["x_covariance"], p.gate_extra["x_covariance"])
    est_index, true_index = match_experts(q, p)
    assert np.array_equal(order[est_index], true_index)
    err = parameter_error(q, p)
    # parameter_error centres the rows (a mean over experts): round-off only
    assert max(err["gate_coef"].max(), err["gate_intercept"].max()) < 1e-14


@pytest.mark.parametrize("covariance_type", TYPES)
def test_grad_by_finite_differences(covariance_type):
    gating = GaussianGating(covariance_type)
    p = _params(gating, K=4, d=3, seed=4, gate_scale=1.0)
    rng = np.random.RandomState(5)
    X = rng.standard_normal((60, 3))
    G = rng.standard_normal((60, 4))
    theta = gating.pack(p)

    def f(t):
        return float(np.sum(G * gating.log_weights(X, p.replace(
            **gating.unpack(t, p)))))

    h = 1e-6
    fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h)
                   for e in np.eye(theta.size)])
    # truncation O(h^2) ~ 1e-12; round-off eps |f| / h ~ 1e-9 plus the
    # normalisation's ~1e-14 in the log-weights / h ~ 1e-8: 1e-6 separates
    # a correct gradient from a wrong one
    assert_allclose(gating.grad(X, p, G), fd, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- the EM
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("joint_proposal", [True, False])
def test_m_step_never_decreases_the_gate_objective(covariance_type,
                                                   joint_proposal):
    gating = GaussianGating(covariance_type, joint_proposal=joint_proposal)
    increased = 0
    for seed in range(10):
        rng = np.random.RandomState(seed)
        K, d, n = 3, 2, 200
        X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d)
        w = rng.randint(1, 3, size=n).astype(float)
        p = MoEParams(expert_params=np.zeros((K, d + 1)), variance=np.ones(K),
                      gating=gating, **gating.init(X, w, K, rng))
        # random responsibilities, sometimes nearly hard, one seed an empty expert
        R = rng.dirichlet(np.full(K, 0.2 if seed % 2 else 1.0), size=n) * w[:, None]
        if seed == 3:
            R[:, 0] = 0.0
        R = np.ascontiguousarray(R)
        values = [_objective(gating, X, R, p)]
        for _ in range(4):
            p = p.replace(**gating.m_step(X, R, p))
            assert p._all_finite()
            values.append(_objective(gating, X, R, p))
        # round-off of a sum of 200 terms (~1e-13 |Q|): 1e-12 |Q|
        assert np.all(np.diff(values) >= -1e-12 * abs(values[0])), (seed, values)
        increased += values[-1] > values[0]
    assert increased == 10


def test_the_joint_update_alone_can_decrease_the_conditional_objective():
    # at the conditional optimum (R from the gate itself) the closed-form
    # update of Xu, Jordan and Hinton moves away and lowers the objective;
    # the M-step rejects it and stays (a fixed point)
    gating = GaussianGating()
    truth = _params(gating, K=3, d=2, seed=0)
    X = np.random.RandomState(0).standard_normal((2000, 2))
    R = np.ascontiguousarray(truth.gates(X))
    best = _objective(gating, X, R, truth)
    quad = gating._quad(2)
    centres, P, log_prior = ref.gaussian_joint_update(X, R, gating.reg_covar, "full")
    classic = truth.replace(gate_coef=centres, gate_intercept=log_prior,
                            gate_extra={**truth.gate_extra, "precision_cholesky":
                                        quad.stored_chol(P)})
    assert _objective(gating, X, R, classic) < best - 1.0
    again = truth.replace(**gating.m_step(X, R, truth))
    assert_allclose(gating.pack(again), gating.pack(truth), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_the_joint_rows_kernel_is_the_closed_form_update(covariance_type):
    # the kernel (whitened inputs, logit rows) against the update in x by
    # NumPy, mapped to the same rows: a few 3x3 solves and sums of 300
    # terms of order one, round-off ~1e-13 relative; 1e-10 separates a
    # correct kernel from one with a wrong term (reg_covar enters at 1e-2)
    gating = GaussianGating(covariance_type, reg_covar=1e-2)
    quad = gating._quad(3)
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 3)) * [0.5, 2.0, 1.0] + [1.0, -2.0, 0.0]
    R = np.ascontiguousarray(rng.dirichlet(np.ones(3), size=300)
                             * rng.uniform(0.5, 2.0, (300, 1)))
    V = np.cov(X.T) + np.diag([0.1, 0.2, 0.3])
    frame = _Frame({"x_mean": X.mean(axis=0) + 0.1, "x_covariance": V}, quad)
    centres, P, log_prior = ref.gaussian_joint_update(X, R, 1e-2, covariance_type)
    want_W, want_alpha = _logits(frame.to_z(_Rep(centres, P, None, log_prior)), quad)
    coef, intercept = np.empty((3, 3 + quad.q)), np.empty(3)
    assert gaussian_joint_rows(frame.inputs(X), R, 1e-2 * frame.A_inv @ frame.A_inv.T,
                               {"full": 0, "diag": 1, "spherical": 2}[covariance_type],
                               coef, intercept)
    assert_allclose(coef, want_W, rtol=1e-10, atol=1e-10)
    assert_allclose(intercept, want_alpha, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_em_is_monotone(covariance_type):
    est = _fit(GaussianGating(covariance_type), 500, 2, 3, seed=1, max_iter=80,
               random_state=0)[3]
    assert est.history_[-1] > est.history_[0]


def test_warm_start_one_iteration_at_a_time_is_monotone():
    gating = GaussianGating("diag")
    X, y, _ = make_moe_regression(400, 2, 3, gating=gating, random_state=4)
    est = MixtureOfExpertsRegressor(3, gating=gating, max_iter=1, warm_start=True,
                                    random_state=0)
    values = [est.fit(X, y).log_likelihood_ for _ in range(15)]
    assert_non_decreasing(values)
    assert values[-1] > values[0]


# --------------------------------------------------------------- recovery
X_TEST = np.random.RandomState(99).standard_normal((5000, 2))

# Largest errors over seeds 0-4 (n=5000, d=2, K=3, gate_scale 3, noise sd
# 0.3, one start; script: these fits with parameter_error): expert slopes,
# expert intercepts, variances, mean gate error on X_TEST, and the Gaussian
# parameters against the truth normalised with the fit's reference moments:
# centres (Euclidean), log-weights, precision factors (largest entry). The
# fit was more likely than the truth in all 15 fits (gain >= 4.9). The
# Gaussian parameters of a low-weight expert are weakly determined (their
# errors agree with the standard errors, |z| <= 2.2, and shrink to < 0.1 at
# n=80000), the gate function much better. Every limit is about twice the
# measured maximum.
MEASURED = {
    #             slopes intercepts variances gate  centres logpi chol
    "full":      (0.045, 0.073, 0.0079, 0.0081, 0.33, 0.14, 0.67),
    "diag":      (0.053, 0.043, 0.0162, 0.0074, 0.12, 0.18, 0.21),
    "spherical": (0.044, 0.101, 0.0070, 0.0078, 0.26, 0.054, 0.19),
}


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_recovery(covariance_type, seed):
    gating = GaussianGating(covariance_type)
    X, y, truth, est = _fit(gating, 5000, 2, 3, seed=seed, random_state=seed)
    p = est.params_
    err = parameter_error(p, truth)
    ei, ti = err["est_index"], err["true_index"]
    limits = 2 * np.array(MEASURED[covariance_type])
    assert err["expert_coef"].max() < limits[0], err["expert_coef"]
    assert err["expert_intercept"].max() < limits[1], err["expert_intercept"]
    assert err["variance"].max() < limits[2], err["variance"]
    gate_err = np.abs(p.gates(X_TEST)[:, ei] - truth.gates(X_TEST)[:, ti])
    assert gate_err.mean() < limits[3]
    assert est.log_likelihood_ > truth.log_density(X, y).sum() - 1.0
    same = truth.replace(gate_extra={**truth.gate_extra,
                                     "x_mean": p.gate_extra["x_mean"],
                                     "x_covariance": p.gate_extra["x_covariance"]})
    same = same.replace(**gating.normalize(same))
    centres = np.linalg.norm(p.gate_coef[ei] - same.gate_coef[ti], axis=1)
    assert centres.max() < limits[4]
    assert np.abs(p.gate_intercept[ei] - same.gate_intercept[ti]).max() < limits[5]
    chol = p.gate_extra["precision_cholesky"]
    true_chol = same.gate_extra["precision_cholesky"]
    assert np.abs(chol[ei] - true_chol[ti]).max() < limits[6]


# ------------------------------------------------------------------ edges
@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_expert_is_weighted_least_squares(covariance_type):
    gating = GaussianGating(covariance_type)
    assert gating.n_free_params(2, 1) == 0
    X, y, _ = make_moe_regression(300, 2, 1, random_state=0)
    w = np.random.RandomState(0).uniform(0.5, 2.0, 300)
    est = MixtureOfExpertsRegressor(1, gating=gating).fit(X, y, sample_weight=w)
    assert np.all(est.predict_gates(X) == 1.0)
    assert est.params_.gating.pack(est.params_).size == 0
    lr = LinearRegression().fit(X, y, sample_weight=w)
    assert_allclose(est.predict(X), lr.predict(X), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_feature(covariance_type):
    gating = GaussianGating(covariance_type)
    X, y, truth, est = _fit(gating, 2000, 1, 2, seed=0, n_init=2, random_state=0)
    # all three structures are the same model in one dimension
    assert gating.n_free_params(1, 2) == 3
    assert est.log_likelihood_ > truth.log_density(X, y).sum() - 1.0


def test_an_expert_with_almost_no_mass_stays_finite():
    gating = GaussianGating(reg_covar=1e-6)
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 2))
    R = rng.dirichlet(np.ones(3), size=300)
    R[:, 1] = 0.0
    R[5, 1] = 1e-300
    R = np.ascontiguousarray(R)
    # the closed-form proposal of an empty expert: its covariance is reg_covar,
    # and the kernel's rows of the proposal are finite
    centres, P, log_prior = ref.gaussian_joint_update(X, R, gating.reg_covar, "full")
    assert np.all(np.isfinite(centres)) and np.all(np.isfinite(log_prior))
    # (its off-diagonal is the 1e-300 row's, ~1e-289: atol 1e-18 = 1e-12 of
    # the diagonal)
    assert_allclose(np.linalg.inv(P[1]), 1e-6 * np.eye(2), rtol=1e-6, atol=1e-18)
    frame = _Frame({"x_mean": X.mean(axis=0), "x_covariance": np.cov(X.T)},
                   gating._quad(2))
    coef, intercept = np.empty((3, 5)), np.empty(3)
    assert gaussian_joint_rows(frame.inputs(X), R, 1e-6 * frame.A_inv @ frame.A_inv.T,
                               0, coef, intercept)
    assert np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))
    p = MoEParams(expert_params=np.zeros((3, 3)), variance=np.ones(3),
                  gating=gating, **gating.init(X, np.ones(300), 3, rng))
    before = gating.weighted_objective(X, R, p)
    for _ in range(5):
        p = p.replace(**gating.m_step(X, R, p))
    assert p._all_finite()
    assert gating.weighted_objective(X, R, p) >= before
    # the empty expert's weight decreases, its gate stays a finite function
    assert p.gates(X)[:, 1].max() < 0.05


def test_a_constant_feature():
    # the input covariance is singular: reg_covar keeps the reference (and the
    # normal form) positive definite
    X, y, _ = make_moe_regression(500, 2, 2, gating=GaussianGating(), random_state=0)
    X[:, 1] = 3.0
    est = MixtureOfExpertsRegressor(2, gating=GaussianGating(), max_iter=30,
                                    random_state=0).fit(X, y)
    assert est.params_._all_finite()
    assert_non_decreasing(est.history_)


# ---------------------------------------------------- the rest of skmoe
@pytest.mark.parametrize("experts", [PolynomialExperts(degree=2),
                                     FFNExperts(activation="tanh")], ids=repr)
def test_other_expert_families(experts):
    gating = GaussianGating("diag")
    X, y, _ = make_moe_regression(600, 2, 2, gating=gating, experts=experts,
                                  random_state=0)
    est = MixtureOfExpertsRegressor(2, gating=gating, experts=experts,
                                    max_iter=40, random_state=0).fit(X, y)
    assert_non_decreasing(est.history_)
    assert est.score(X, y) > 0.5


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_gradient_solvers(solver):
    gating = GaussianGating()
    X, y, _ = make_moe_regression(600, 2, 2, gating=gating, random_state=0)
    # from a random start (the pool's chosen short EM run may already be at
    # the optimum, where the gradient solver has nothing left to gain)
    est = MixtureOfExpertsRegressor(2, gating=gating, solver=solver, max_iter=60,
                                    init_params="random", random_state=0).fit(X, y)
    assert est.params_._all_finite()
    assert est.history_[-1] > est.history_[0]


def test_integer_weights_equal_repeated_rows():
    gating = GaussianGating()
    X, y, _ = make_moe_regression(400, 2, 3, gating=gating, random_state=0)
    w = np.random.RandomState(1).randint(0, 4, size=len(y))
    kw = dict(n_experts=3, gating=gating, max_iter=30, tol=0, random_state=0)
    a = MixtureOfExpertsRegressor(**kw).fit(X, y, sample_weight=w)
    b = MixtureOfExpertsRegressor(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    # sums in another order (~1e-16 each), carried through 30 EM iterations
    # and the normal form's Newton iterations: measured 4.7e-12 relative (the
    # precision factors; 1.6e-14 in the gates); 1e-9 leaves margin and fails
    # any unweighted statistic (which moves the fit by > 1e-3)
    assert a.params_.allclose(b.params_, rtol=1e-9, atol=1e-12)
    assert_allclose(a.predict_gates(X), b.predict_gates(X), atol=1e-12)


def test_n_init_keeps_the_best_start_and_warm_start_continues():
    gating = GaussianGating("spherical")
    X, y, _ = make_moe_regression(600, 2, 3, gating=gating, random_state=2)
    kw = dict(gating=gating, max_iter=15)
    fits = [MixtureOfExpertsRegressor(3, random_state=s, **kw).fit(X, y)
            for s in range(3)]
    best = MixtureOfExpertsRegressor(3, n_init=3, random_state=0, **kw).fit(X, y)
    assert best.log_likelihood_ >= min(f.log_likelihood_ for f in fits)
    warm = MixtureOfExpertsRegressor(3, warm_start=True, random_state=0, **kw)
    first = warm.fit(X, y).log_likelihood_
    assert warm.fit(X, y).history_[0] == pytest.approx(first, rel=1e-12)


def test_standard_errors():
    gating = GaussianGating()
    X, y, _ = make_moe_regression(2000, 2, 3, gating=gating, random_state=0)
    est = MixtureOfExpertsRegressor(3, gating=gating, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SingularInformationWarning
        se = est.standard_errors(X, y)
    # the identified parametrisation: an invertible information
    assert se.information.shape[0] == est.params_.n_free_params()
    assert se.condition_number < 1e6
    assert np.all(np.isfinite(se.gate_coef)) and np.all(se.gate_coef > 0)
    assert np.all(se.gate_extra["precision_cholesky"][:, [0, 0, 1], [0, 1, 1]] > 0)
    # the reference moments are not estimated by the gate
    assert np.all(se.gate_extra["x_mean"] == 0)
    assert np.all(se.gate_extra["x_covariance"] == 0)


def test_grid_search_over_the_covariance_type():
    X, y, _ = make_moe_regression(300, 2, 2, gating=GaussianGating(), random_state=0)
    search = GridSearchCV(
        MixtureOfExpertsRegressor(2, gating=GaussianGating(), max_iter=20,
                                  random_state=0),
        {"gating__covariance_type": TYPES}, cv=2).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert [p["gating__covariance_type"] for p in search.cv_results_["params"]] == TYPES
    assert isinstance(search.best_estimator_.gating_, GaussianGating)


def test_the_name_resolves_and_bad_hyper_parameters_raise():
    X, y, _ = make_moe_regression(100, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, gating="gaussian", max_iter=5).fit(X, y)
    assert isinstance(est.gating_, GaussianGating)
    for bad in (GaussianGating("tied"), GaussianGating(reg_covar=-1.0),
                GaussianGating(joint_proposal="yes")):
        with pytest.raises(InvalidParameterError):
            MixtureOfExpertsRegressor(2, gating=bad).fit(X, y)


def test_what_the_gate_lacks_is_named():
    gating = GaussianGating()
    X, y, truth = make_moe_regression(200, 2, 2, gating=gating, random_state=0)
    # partial_fit is not offered (available_if): the AttributeError is raised
    # from the ability check's ValueError, which names the ability
    with pytest.raises(AttributeError) as info:
        MixtureOfExpertsRegressor(2, gating=gating).partial_fit(X, y)
    assert "'statistics'" in str(info.value.__cause__)
    with pytest.raises(ValueError, match="'atoms'"):
        voronoi_loss(truth, truth)
    with pytest.raises(ValueError, match="'atoms'"):
        near_true_init(truth, 3)
