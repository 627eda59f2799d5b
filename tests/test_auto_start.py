"""init_params="auto": a pool of short EM runs, the best one run on (issue 18).

The reach of the default on the real data sets is tested in
``tests/test_real_data_optima.py``; here: the schedule (a short run continued
is the uninterrupted run), the choice of the best candidate, the candidates'
equivalence of integer weights and repeated rows, and the options around it.
"""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from skmoe import (
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    MultipleOptimaWarning,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe.datasets import load_mcycle, make_moe_regression
from skmoe.solvers import FitSpec, _auto
from skmoe.solvers._em import run_em
from skmoe.solvers._result import FitResult, distinct_optima
from skmoe.solvers._starts import (
    canonical_rows,
    input_cells_start,
    joint_clusters_start,
    random_start,
    regression_clusters_start,
    weighted_kmeans,
)
from skmoe.utils._arrays import as_kernel_array

CANDIDATES = [joint_clusters_start, input_cells_start, regression_clusters_start,
              random_start]


def _data(n=300, d=2, K=3, seed=0):
    X, y, _ = make_moe_regression(n, d, K, random_state=seed)
    return as_kernel_array(X), as_kernel_array(y), as_kernel_array(np.ones(n))


def _spec(K=3, gating=None, seed=0, **kwargs):
    est = MixtureOfExpertsRegressor(K, gating=gating or "softmax")
    return est._spec().replace(rng=check_random_state(seed), var_floor=1e-6,
                               **kwargs)


def test_auto_is_the_default():
    assert MixtureOfExpertsRegressor().init_params == "auto"
    assert MixtureOfExpertsRegressor().n_init == 1
    assert FitSpec(3, None, None).init_params == "auto"


@pytest.mark.parametrize("gating", [
    SoftmaxGating(top_k=2), NormalizedSigmoidGating(top_k=2),
    HierarchicalSoftmaxGating(n_groups=2),
], ids=repr)
def test_models_without_short_runs_start_randomly(gating, capsys):
    # the pool needs the gate's ability "short_runs"; the others fall back to
    # the random start, say so with verbose, and name it in init_params_: the
    # fit is the random start's, bit for bit
    X, y, _ = _data(n=200, K=4)
    assert gating.lacks("short_runs", 4) is not None
    kw = dict(gating=gating, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = MixtureOfExpertsRegressor(4, verbose=1, **kw).fit(X, y)
        out = capsys.readouterr().out
        random = MixtureOfExpertsRegressor(4, init_params="random", **kw).fit(X, y)
    assert default.init_params_ == "random" and random.init_params_ == "random"
    assert out.splitlines()[0].startswith("init_params='auto' needs gating with "
                                          "the ability 'short_runs'")
    assert "candidate" not in out
    assert np.array_equal(default.history_, random.history_)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), "auto"),
    (dict(gating=SoftmaxGating(top_k=2)), "auto"),  # top_k = K is dense
    (dict(gating=SoftmaxGating(schedule="geometric")), "auto"),
    (dict(noise="student_t"), "auto"),
    (dict(init_params="kmeans"), "kmeans"),
    (dict(init_params="random"), "random"),
])
def test_init_params_names_the_start_used(kwargs, expected):
    X, y, _ = _data(n=200, K=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MixtureOfExpertsRegressor(2, max_iter=20, random_state=0,
                                        **kwargs).fit(X, y)
        assert est.init_params_ == expected
        est.set_params(warm_start=True, max_iter=2).fit(X, y)
        assert est.init_params_ == "warm_start"
        given = MixtureOfExpertsRegressor(2, init_params=est.params_,
                                          max_iter=2).fit(X, y)
    assert given.init_params_ == "given"


@pytest.mark.parametrize("make", [joint_clusters_start, input_cells_start,
                                  regression_clusters_start, random_start])
@pytest.mark.parametrize("gating, expected", [
    (SoftmaxGating(schedule="geometric", initial_temperature=7.0),
     {"temperature": 7.0}),
    (SoftmaxGating(top_k=2), {"top_k_smoothing": 2.0}),
    (NormalizedSigmoidGating(top_k=2), {"top_k_smoothing": 2.0}),
    (SoftmaxGating(top_k=2, anneal_iter=0), {}),
    (SoftmaxGating(), {}),
], ids=repr)
def test_every_candidate_starts_where_the_schedule_starts(make, gating, expected):
    # the cluster starts once built their gate without the family's
    # gate_extra: a scheduled temperature started at its target and the
    # smoothing of a top-K selection at 0 (exact), or the short runs raised a
    # KeyError; now every candidate starts in the random start's state
    # (SMOOTHING_START = 2.0, the initial temperature), exactly
    X, y, w = _data()
    spec = _spec(gating=gating)
    params = make(X, y, w, spec)
    assert {k: float(v[0]) for k, v in params.gate_extra.items()} == expected
    assert gating.start_extra(3).keys() == expected.keys()


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("gating", [SoftmaxGating(),
                                    SoftmaxGating(schedule="geometric")])
def test_a_short_run_continued_is_the_uninterrupted_run(fused, gating):
    # the iteration numbers go on (the schedule sees them): the same
    # iterations, so the same bits (no tolerance)
    X, y, w = _data()
    spec = _spec(gating=gating)
    start = random_start(X, y, w, spec)
    kw = dict(max_iter=40, tol=0.0, var_floor=1e-6, fused=fused)
    whole = run_em(X, y, w, start, **kw)
    short = run_em(X, y, w, start, stop_iter=15, **kw)
    assert short.n_iter == 15 and not short.converged
    rest = run_em(X, y, w, short.params, first_iter=16, **kw)
    assert rest.n_iter == 40
    assert rest.history[0] == short.history[-1]
    assert np.array_equal(np.concatenate([short.history, rest.history[1:]]),
                          whole.history)
    assert rest.params.allclose(whole.params, rtol=0, atol=0)


def test_run_on_joins_both_parts():
    X, y, w = _data()
    spec = _spec(max_iter=60, tol=0.0, short_iter=12, n_candidates=3)
    short = _auto.auto_start(X, y, w, spec)
    assert short.n_iter == 12 and short.history.size == 13
    joined = _auto.run_on(X, y, w, short, spec)
    assert joined.n_iter == 60 and joined.history.size == 61
    assert np.array_equal(joined.history[:13], short.history)
    assert np.all(np.diff(joined.history) > -1e-9 * np.abs(joined.history[1:]))
    # a converged short run is the result
    done = FitResult(short.params, 12, True, short.log_likelihood, short.history)
    assert _auto.run_on(X, y, w, done, spec) is done


def test_auto_keeps_the_best_short_run(monkeypatch):
    X, y, w = _data()
    runs = []

    def spy(*args, **kwargs):
        result = run_em(*args, **kwargs)
        runs.append((kwargs.get("stop_iter"), result))
        return result

    monkeypatch.setattr(_auto, "run_em", spy)
    spec = _spec(n_candidates=7, short_iter=5)
    best = _auto.auto_start(X, y, w, spec)
    assert len(runs) == 7 and all(stop == 5 for stop, _ in runs)
    finals = np.array([r.history[-1] for _, r in runs])
    # the first within tol * max(|L|, W) of the highest
    slack = spec.tol * max(abs(finals.max()), len(y))
    first = int(np.flatnonzero(finals >= finals.max() - slack)[0])
    assert best is runs[first][1]
    assert finals[first] >= finals.max() - slack


def test_auto_near_ties_go_to_the_first_candidate(monkeypatch):
    # candidates whose short runs end within the stopping rule's resolution
    # of each other are tied: the first is kept, whatever the round-off
    X, y, w = _data()
    values = iter([-100.0, -100.0 + 2e-5, -99.0, -99.0 + 5e-5])

    def fake(*args, **kwargs):
        v = next(values)
        return FitResult(None, 1, False, v, np.array([v - 1, v]))

    monkeypatch.setattr(_auto, "run_em", fake)
    spec = _spec(n_candidates=4, tol=1e-6)  # slack 1e-6 * 300 = 3e-4
    assert _auto.auto_start(X, y, w, spec).history[-1] == -99.0
    values = iter([-100.0, -100.0 + 2e-5])
    spec = _spec(n_candidates=2, tol=0.0)  # no slack: the highest
    assert _auto.auto_start(X, y, w, spec).history[-1] == -100.0 + 2e-5


def test_candidates_cycle_through_the_kinds(monkeypatch):
    X, y, w = _data()
    calls = []

    def tagged(i, make):
        def start(*args):
            calls.append(i)
            return make(*args)
        return start

    monkeypatch.setattr(_auto, "CANDIDATES", tuple(
        (kind, tagged(i, make)) for i, (kind, make) in enumerate(_auto.CANDIDATES)))
    _auto.auto_start(X, y, w, _spec(n_candidates=7, short_iter=2))
    assert calls == [0, 1, 2, 3, 0, 1, 2]


def test_degenerate_candidates_are_skipped(monkeypatch):
    X, y, w = _data()

    def broken(*args):
        raise _auto.Degenerate("broken on purpose")

    kinds = (("broken", broken),) + _auto.CANDIDATES[:2]  # every third breaks
    monkeypatch.setattr(_auto, "CANDIDATES", kinds)
    result = _auto.auto_start(X, y, w, _spec(n_candidates=6, short_iter=3))
    assert np.isfinite(result.history[-1])
    monkeypatch.setattr(_auto, "CANDIDATES", (("broken", broken),))
    with pytest.raises(_auto.Degenerate, match="all 4 candidate starts"):
        _auto.auto_start(X, y, w, _spec(n_candidates=4))


@pytest.mark.parametrize("make", CANDIDATES)
def test_candidates_integer_weights_equal_shuffled_repeated_rows(make):
    # rows are drawn along the lexicographic order of (X, y), by inverting
    # the cumulative weights, and clusters use weighted means: shuffled rows
    # with integer weights give the start of the repeated rows (as
    # scikit-learn's check_sample_weight_equivalence_on_dense_data builds
    # them), to the round-off of the weighted sums (1e-10, as in
    # tests/test_sample_weight.py)
    X, y, _ = _data(n=200, K=3, seed=2)
    w = np.random.RandomState(1).randint(0, 4, size=len(y))
    Xr, yr = np.repeat(X, w, axis=0), np.repeat(y, w)
    shuffle = np.random.RandomState(2).permutation(len(y))
    a = make(as_kernel_array(X[shuffle]), as_kernel_array(y[shuffle]),
             as_kernel_array(w[shuffle].astype(float)), _spec())
    b = make(as_kernel_array(Xr), as_kernel_array(yr),
             as_kernel_array(np.ones(len(yr))), _spec())
    assert a.allclose(b, rtol=1e-10, atol=1e-10)


def test_weighted_kmeans_weights_equal_shuffled_repeated_rows():
    rng = np.random.RandomState(0)
    Z = rng.standard_normal((100, 3))
    w = rng.randint(0, 3, size=100)
    y = np.zeros(100)
    Zr = np.repeat(Z, w, axis=0)
    b = weighted_kmeans(Zr, np.ones(len(Zr)), 4, np.random.RandomState(5),
                        canonical_rows(Zr, np.zeros(len(Zr))))
    shuffle = rng.permutation(100)
    a = weighted_kmeans(Z[shuffle], w[shuffle].astype(float), 4,
                        np.random.RandomState(5), canonical_rows(Z[shuffle], y))
    unshuffled = np.empty(100, dtype=int)
    unshuffled[shuffle] = a
    assert np.array_equal(np.repeat(unshuffled, w), b)
    # rows of zero weight are never centers; every cluster holds weight
    assert np.all(np.bincount(unshuffled[w > 0], minlength=4) > 0)


def test_weighted_kmeans_finds_separated_clusters():
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    Z = np.vstack([c + rng.standard_normal((50, 2)) for c in centers])
    labels = weighted_kmeans(Z, np.ones(150), 3, np.random.RandomState(0),
                             canonical_rows(Z, np.zeros(150)))
    truth = np.repeat(np.arange(3), 50)
    # a relabelling of the truth
    assert len(set(zip(labels.tolist(), truth.tolist(), strict=True))) == 3


def test_regression_clusters_find_two_crossing_lines():
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, size=400)
    z = rng.randint(0, 2, size=400)
    y = np.where(z == 0, 2 * x, -2 * x) + 0.05 * rng.standard_normal(400)
    X = as_kernel_array(x[:, None])
    spec = _spec(K=2, seed=3)
    params = regression_clusters_start(X, as_kernel_array(y),
                                       as_kernel_array(np.ones(400)), spec)
    slopes = np.sort(params.expert_params[:, 0])
    assert_allclose(slopes, [-2, 2], atol=0.1)


def test_auto_fit_history_and_reproducibility():
    X, y, _ = _data()
    est = MixtureOfExpertsRegressor(3, init_params="auto", random_state=0).fit(X, y)
    assert est.history_.size == est.n_iter_ + 1
    assert est.converged_
    assert np.all(np.diff(est.history_) > -1e-9 * np.abs(est.history_[1:]))
    assert est.history_[-1] == est.log_likelihood_
    again = MixtureOfExpertsRegressor(3, init_params="auto", random_state=0).fit(X, y)
    assert np.array_equal(again.history_, est.history_)


def test_auto_verbose_names_the_candidates(capsys):
    X, y, _ = _data(n=100)
    est = MixtureOfExpertsRegressor(2, init_params="auto", verbose=1, max_iter=25,
                                    tol=0.0,
                                    random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    out = capsys.readouterr().out
    for kind, _ in _auto.CANDIDATES:
        assert f": {kind}] iter    1" in out
    assert re.search(r"^iter   2[1-9]", out, flags=re.M)  # the run on


def test_short_runs_take_the_compiled_path(monkeypatch):
    # a small softmax/linear/Gaussian fit: every candidate's short run and the
    # run on (none when the chosen short run converged) are compiled runs;
    # none runs the batch loop or the fused EM
    import skmoe.solvers._em as em

    calls = []
    real = em.run_compiled

    def spy(*args, **kwargs):
        calls.append(kwargs.get("stop_iter"))
        return real(*args, **kwargs)

    monkeypatch.setattr(em, "run_compiled", spy)
    monkeypatch.setattr(em, "FusedSteps", None)  # would raise if used
    monkeypatch.setattr(em, "_Steps", None)
    X, y, _ = _data(n=150, d=1, K=2)
    est = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    assert est.init_params_ == "auto"
    assert calls[:20] == [10] * 20
    assert calls[20:] == ([] if est.n_iter_ <= 10 else [None])
    # and a fit that runs on
    calls.clear()
    with pytest.warns(ConvergenceWarning):  # tol=0: all 15 iterations
        est = MixtureOfExpertsRegressor(2, tol=0.0, max_iter=15,
                                        random_state=0).fit(X, y)
    assert est.n_iter_ == 15 and calls == [10] * 20 + [None]


@pytest.mark.parametrize("kwargs", [
    dict(gating=HierarchicalSoftmaxGating(n_groups=2), n_experts=4),
    dict(gating=SoftmaxGating(top_k=2)),
    dict(gating=SoftmaxGating(learn_temperature=True)),
    dict(gating=SoftmaxGating(schedule="geometric")),
    dict(noise="student_t"),
    dict(n_shared_experts=1),
    dict(experts="polynomial"),
    dict(solver="lbfgs"),
    dict(solver="gd", objective="least_squares"),
])
def test_auto_fits_every_kind_of_model(kwargs):
    X, y, _ = _data(n=200)
    kwargs = {"n_experts": 3, "init_params": "auto", **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        auto = MixtureOfExpertsRegressor(max_iter=60, random_state=0,
                                         **kwargs).fit(X, y)
    assert np.all(np.isfinite(auto.predict(X)))


@pytest.mark.parametrize("init_params", ["kmeans", "auto"])
def test_cluster_starts_of_a_hierarchical_gate(init_params):
    # the k-means start gave the hierarchical gate no group rows (KeyError);
    # ("auto" falls back to the random start for this gate)
    X, y, _ = _data(n=200, K=4)
    est = MixtureOfExpertsRegressor(
        4, gating=HierarchicalSoftmaxGating(n_groups=2), init_params=init_params,
        random_state=0).fit(X, y)
    assert est.params_.gate_extra["group_coef"].shape == (2, 2)


def test_lbfgs_starts_from_the_chosen_short_run(monkeypatch):
    X, y, _ = _data(n=200)
    chosen = []
    real = _auto.auto_start

    def spy(*args, **kwargs):
        chosen.append(real(*args, **kwargs))
        return chosen[-1]

    monkeypatch.setattr(_auto, "auto_start", spy)  # auto_params calls it
    est = MixtureOfExpertsRegressor(3, init_params="auto", solver="lbfgs",
                                    random_state=0).fit(X, y)
    assert len(chosen) == 1
    # the gradient solver's history starts at the short run's end
    assert_allclose(est.history_[0], chosen[0].history[-1], rtol=1e-12)


# ------------------------------------------------------ different optima
def _result(value, converged=True):
    return FitResult(None, 10, converged, value, np.array([value - 5, value]))


def test_distinct_optima_rule():
    # gap = max(1, 100 * tol * max(|L|, W)) = 1 here
    assert distinct_optima([_result(-100.0)], 1e-6, 50.0) is None
    message = distinct_optima([_result(-100.0), _result(-103.0),
                               _result(-103.2), _result(-110.0)], 1e-6, 50.0)
    assert "best log-likelihood -100 was reached by 1 of 4" in message
    assert "others ended at -103, -110 (more than 1 lower)" in message
    # the best reached twice (within the gap): no warning
    assert distinct_optima([_result(-100.0), _result(-100.5),
                            _result(-110.0)], 1e-6, 50.0) is None
    # restarts that did not converge are not optima
    assert distinct_optima([_result(-100.0), _result(-110.0, False)],
                           1e-6, 50.0) is None
    # within the stopping rule's reach: 100 * 1e-3 * 1000 = 100 > 10
    assert distinct_optima([_result(-1000.0), _result(-1010.0)],
                           1e-3, 50.0) is None


def test_warns_when_the_best_optimum_was_reached_once():
    # measured: on mcycle with 4 experts, 6 random starts (random_state=2)
    # end at -550.69 once and at -552.3, -553.9 and -613.3 otherwise
    X, y = load_mcycle(return_X_y=True)
    est = MixtureOfExpertsRegressor(4, init_params="random", n_init=6,
                                    random_state=2)
    with pytest.warns(MultipleOptimaWarning,
                      match=r"best log-likelihood -550\.69\d was reached by 1 of 6"):
        est.fit(X, y)


def test_no_warning_when_restarts_agree():
    X, y = load_mcycle(return_X_y=True)
    est = MixtureOfExpertsRegressor(3, init_params="auto", n_init=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MultipleOptimaWarning)
        est.fit(X, y)


def test_large_data_ranks_the_pool_on_a_subsample(monkeypatch):
    # with POOL_ROWS lowered to 200, 300 rows: the candidates see 200 distinct
    # rows of the data, the chosen parameters start one run on all 300 rows
    X, y, w = _data()
    assert X.shape[0] > 200
    monkeypatch.setattr(_auto, "POOL_ROWS", 200)
    from skmoe.solvers import _em_solver
    monkeypatch.setattr(_em_solver, "POOL_ROWS", 200)
    seen, starts = [], []
    original = _auto.auto_start

    def spy(Xs, ys, ws, spec, **kwargs):
        seen.append(Xs)
        result = original(Xs, ys, ws, spec, **kwargs)
        starts.append(result.params)
        return result

    monkeypatch.setattr(_auto, "auto_start", spy)
    est = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    assert len(seen) == 1 and seen[0].shape == (200, X.shape[1])
    rows = {tuple(r) for r in X}
    assert len({tuple(r) for r in seen[0]}) == 200 and \
        {tuple(r) for r in seen[0]} <= rows
    # the whole-data run starts at the pool's parameters: its history is one
    # run on all rows, monotone, from their log-likelihood on all rows
    again = MixtureOfExpertsRegressor(3, init_params=starts[0], max_iter=300)
    again.fit(X, y)
    assert est.init_params_ == "auto"
    assert est.n_iter_ == again.n_iter_
    assert_allclose(est.history_, again.history_, rtol=1e-12)
    assert np.all(np.diff(est.history_) > -1e-9 * np.abs(est.history_[1:]))
    # the same subsample and pool for the same random_state
    again = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    assert np.array_equal(again.history_, est.history_)


def test_pool_rows_below_and_above_the_threshold():
    spec = _spec()
    assert _auto.pool_rows(_auto.POOL_ROWS, spec) is None
    rows = _auto.pool_rows(_auto.POOL_ROWS + 1, spec)
    assert rows.shape == (_auto.POOL_ROWS,)
    assert np.all(np.diff(rows) > 0) and rows[-1] <= _auto.POOL_ROWS
