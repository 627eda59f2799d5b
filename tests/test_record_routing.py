"""record_routing=True: the top-k sets along EM, checked against the parameters."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.diagnostics import (
    expert_utilization,
    router_change_rate,
    router_saturation,
    top_k_experts,
)
from skmoe.solvers._em import _routing_recorder, run_em
from skmoe.utils._arrays import as_kernel_array

# the deliberately short fits (max_iter=1..6, tol=0) do not converge
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")

X, Y, TRUTH = make_moe_regression(200, 1, 3, random_state=0)
W = np.ones(X.shape[0])


@pytest.fixture(scope="module")
def fitted():
    return MixtureOfExpertsRegressor(3, record_routing=True, routing_k=2,
                                     random_state=0).fit(X, Y)


def test_solver_record_equals_top_k_of_the_iterates():
    # EM is deterministic from a given start: the run stopped after m
    # iterations holds the parameters of iteration m of the longer run, so
    # the recorded sets must equal their top-k exactly (integers, no tolerance)
    start = TRUTH.permute([2, 0, 1])
    record = _routing_recorder(X, 3, 2)
    kwargs = dict(max_iter=6, tol=0.0, var_floor=1e-8, record=record)
    long = run_em(X, Y, W, start, **kwargs)
    assert long.routing.shape == (7, X.shape[0], 2)
    assert long.routing.dtype == np.uint8
    for m in (0, 1, 3, 6):
        short = run_em(X, Y, W, start, **{**kwargs, "max_iter": m})
        assert_array_equal(long.routing[m],
                           top_k_experts(short.params.gates(X), 2))


def test_history_is_labelled_like_params(fitted):
    h = fitted.routing_history_
    assert h.shape == (fitted.n_iter_ + 1, X.shape[0], 2)
    assert_array_equal(h[-1], top_k_experts(fitted.predict_gates(X), 2))


def test_start_is_relabelled_to_the_canonical_order(fitted):
    # start from the fitted model with its experts reversed: the fit relabels
    # them back (canonical order), so the recorded start must be the top-k of
    # the un-reversed model, i.e. the solver's labels were mapped
    params = fitted.params_
    est = MixtureOfExpertsRegressor(
        3, init_params=params.permute([2, 1, 0]), max_iter=1, tol=0.0,
        record_routing=True, routing_k=2).fit(X, Y)
    assert_array_equal(est.routing_history_[0],
                       top_k_experts(params.gates(as_kernel_array(X)), 2))


def test_no_record_by_default_and_refit_clears_it(fitted):
    est = MixtureOfExpertsRegressor(3, random_state=0).fit(X, Y)
    assert not hasattr(est, "routing_history_")
    est = clone(fitted).fit(X, Y)
    assert hasattr(est, "routing_history_")
    est.set_params(record_routing=False).fit(X, Y)
    assert not hasattr(est, "routing_history_")


def test_pickle_round_trip(fitted):
    again = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(again.routing_history_, fitted.routing_history_)
    assert again.routing_history_.dtype == fitted.routing_history_.dtype


def test_diagnostics_on_the_record_by_hand(fitted):
    h = fitted.routing_history_
    T, n, k = h.shape
    sets = [[set(h[t, i].tolist()) for i in range(n)] for t in range(T)]
    sat = [np.mean([len(sets[t][i] & sets[-1][i]) / k for i in range(n)])
           for t in range(T)]
    rcr = [np.mean([len(sets[t + 1][i] - sets[t][i]) / k for i in range(n)])
           for t in range(T - 1)]
    assert_allclose(router_saturation(h), sat, rtol=1e-12)
    assert_allclose(router_change_rate(h), rcr, rtol=1e-12)
    counts = np.zeros(3)
    for row in sets[-1]:
        for e in row:
            counts[e] += 1
    shares, index = expert_utilization(h[-1], n_experts=3)
    assert_allclose(shares, counts / counts.sum(), rtol=1e-12)
    assert index == pytest.approx(counts.sum() ** 2 / (3 * np.sum(counts**2)),
                                  rel=1e-12)


def test_shared_experts_record_the_routed_gate():
    est = MixtureOfExpertsRegressor(2, n_shared_experts=1, max_iter=5,
                                    record_routing=True,
                                    random_state=0).fit(X, Y)
    assert est.routing_history_.shape == (est.n_iter_ + 1, X.shape[0], 1)
    assert_array_equal(est.routing_history_[-1, :, 0],
                       est.predict_gates(X).argmax(axis=1))


@pytest.mark.parametrize("params, match", [
    (dict(solver="lbfgs"), "solver='lbfgs'"),
    (dict(routing_k=4), "routing_k=4"),
])
def test_impossible_requests_raise(params, match):
    est = MixtureOfExpertsRegressor(3, record_routing=True, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, Y)


def test_partial_fit_drops_the_routing_record_of_fit():
    # the record belongs to fit's EM iterations; after partial_fit, params_
    # and n_iter_ describe the stream, so a kept record would be stale
    X, y, _ = make_moe_regression(300, 1, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, record_routing=True, max_iter=8,
                                    tol=0.0, random_state=0).fit(X, y)
    assert est.routing_history_.shape == (est.n_iter_ + 1, 300, 1)
    est.partial_fit(X[:100], y[:100])
    assert not hasattr(est, "routing_history_")
