"""Sample-size studies: reproducible tables and root-n slopes on tiny problems."""

import warnings

import numpy as np
import pytest
from scipy import stats

from skmoe import (
    DegenerateFitWarning,
    EmptyExpertWarning,
    FFNExperts,
    MixtureOfExpertsRegressor,
    MoEParams,
    NormalizedSigmoidGating,
)
from skmoe.convergence import (
    SampleSizeStudy,
    deepseek_estimator,
    deepseek_truth,
    near_true_init,
    paper_study,
    sample_size_study,
)
from skmoe.datasets import make_moe_regression
from skmoe.metrics import voronoi_cells, voronoi_loss

ONE = MoEParams([[0.0]], [0.0], [[2.0, 1.0]], [0.25])
TWO = MoEParams([[2.0], [0.0]], [0.0, 0.0], [[2.0, 1.0], [-1.0, 0.0]],
                [0.25, 0.25])


def test_table_does_not_depend_on_n_jobs():
    kwargs = dict(loss=["D1", "regression"], random_state=3)
    a = sample_size_study(MixtureOfExpertsRegressor(1), ONE, [50, 100], 2,
                          n_jobs=1, **kwargs)
    b = sample_size_study(MixtureOfExpertsRegressor(1), ONE, [50, 100], 2,
                          n_jobs=2, **kwargs)
    assert len(a.table) == 4
    for ra, rb in zip(a.table, b.table, strict=True):
        assert set(ra) == {"n", "replication", "D1", "regression", "n_iter",
                           "converged", "empty_experts", "coinciding",
                           "seconds", "init"}
        for key in ("n", "replication", "D1", "regression", "n_iter", "converged",
                    "empty_experts", "coinciding"):
            assert ra[key] == rb[key]


def test_one_expert_parameter_error_has_root_n_slope():
    # K = 1: the fit is ordinary least squares, the error is O_P(n^-1/2).
    # Seeds fixed (random_state=0). Measured: slope -0.506, 95% bootstrap
    # interval [-0.567, -0.440] (n_boot=1000), i.e. s.e. ~0.032: the
    # tolerance 0.12 is ~3.5 s.e.
    study = sample_size_study(MixtureOfExpertsRegressor(1), ONE,
                              [100, 400, 1600, 6400], 12,
                              loss="parameter_error", n_jobs=1, random_state=0)
    rate = study.rate(n_boot=200, random_state=0)
    assert rate["slope"] == pytest.approx(-0.5, abs=0.12)
    assert rate["ci_low"] < rate["slope"] < rate["ci_high"]
    log_rate = study.rate(scale="log_n_over_n", n_boot=0)
    assert log_rate["slope"] > 0 and np.isnan(log_rate["ci_low"])


def test_exactly_specified_two_experts_d1_has_root_n_slope():
    # exactly specified softmax-gated linear experts started near the truth:
    # D1 = D2 (every cell exact, power 1) is O_P(n^-1/2); random_state=0,
    # 12 replications. Measured: slope -0.500, 95% bootstrap interval
    # [-0.608, -0.404] (s.e. ~0.05): the tolerance 0.15 is 3 s.e.
    study = sample_size_study(MixtureOfExpertsRegressor(2), TWO,
                              [200, 800, 3200], 12, loss="D1", n_jobs=1,
                              random_state=0)
    assert study.rate(n_boot=0)["slope"] == pytest.approx(-0.5, abs=0.15)
    assert all(row["converged"] for row in study.table)


def test_near_true_init_covers_every_true_atom():
    _, _, truth = make_moe_regression(10, 1, 2, random_state=0)
    start = near_true_init(truth, 5, noise=0.0, random_state=0)
    cells, _ = voronoi_cells(start, truth)
    assert all(c.size >= 1 for c in cells) and sum(c.size for c in cells) == 5
    # without noise the split atoms carry exactly the true masses
    assert voronoi_loss(start, truth) < 1e-12
    assert near_true_init(truth, 2, noise=0.0).allclose(truth)
    with pytest.raises(ValueError, match="n_experts >= the true number"):
        near_true_init(truth, 1)


def test_near_true_init_sigmoid_and_shared():
    _, _, truth = make_moe_regression(10, 1, 2, gating="normalized_sigmoid",
                                      n_shared_experts=1, random_state=0)
    start = near_true_init(truth, 3, n_shared_experts=2, noise=0.0,
                           random_state=0)
    # sigmoid masses split by logit(sigmoid(b) / m); omega split equally
    assert voronoi_loss(start, truth, kind="D1") < 1e-12
    np.testing.assert_allclose(start.shared_weights, [0.5, 0.5])


def test_rate_summary_plot_and_csv(tmp_path):
    rows = [{"n": n, "replication": r, "loss": 3.0 / np.sqrt(n) * (1 + 0.1 * r),
             "n_iter": 1, "converged": True, "seconds": 0.0}
            for n in (100, 400, 1600) for r in range(3)]
    study = SampleSizeStudy(rows, ["loss"])
    # exact power law times a factor common to every n: slope exactly -1/2
    rate = study.rate(n_boot=50, random_state=0)
    assert rate["slope"] == pytest.approx(-0.5, abs=1e-12)
    ns, mean, std = study.summary()
    assert ns.tolist() == [100, 400, 1600] and np.all(std > 0)
    path = tmp_path / "t.csv"
    study.to_csv(path)
    with open(path) as fh:
        header = fh.readline().strip()
    assert header == "n,replication,loss,n_iter,converged,seconds"
    # the study's start is recorded and read back
    rows = [dict(r, init="near_true_authors") for r in rows]
    study = SampleSizeStudy(rows, ["loss"], init="near_true_authors")
    study.to_csv(path)
    back = SampleSizeStudy.read_csv(path)
    assert back.init == "near_true_authors" and back.losses == ["loss"]
    assert back.table == study.table
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = study.plot()
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="loss must be one of"):
        study.rate("other")


@pytest.mark.parametrize("kwargs, match", [
    ({"n_grid": []}, "n_grid"),
    ({"n_replications": 0}, "n_replications"),
    ({"init": "kmeans"}, "init"),
    ({"loss": "kl"}, "loss"),
    ({"x_distribution": "beta"}, "x_distribution"),
])
def test_study_validation(kwargs, match):
    args = dict(n_grid=[50], n_replications=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sample_size_study(MixtureOfExpertsRegressor(1), ONE,
                          args.pop("n_grid"), args.pop("n_replications"),
                          n_jobs=1, **args)


# --------------------------------------------------------------- starts
RELU_ROUTED = FFNExperts(activation="relu", fit_intercept=False, fit_bias=False)


@pytest.mark.parametrize("recipe", ["skmoe", "authors"])
def test_near_true_init_never_jitters_a_frozen_column(recipe):
    # experiment (c): routed eta_2 ReLU(eta_1 x) (bias and offset frozen),
    # shared kappa_2 ReLU(kappa_1 x + kappa_0) (offset frozen), pinned gate
    truth = deepseek_truth("c")
    est = deepseek_estimator("c")
    for seed in range(5):
        start = near_true_init(truth, 3, n_shared_experts=2, gating=est.gating,
                               experts=est.experts,
                               shared_experts=est.shared_experts, recipe=recipe,
                               noise=0.3, n_samples=100, random_state=seed)
        assert np.all(start.expert_params[:, 2:] == 0.0)
        assert np.all(start.shared_params[:, 3] == 0.0)
        assert np.all(start.gate_coef[-1] == 0.0) and start.gate_intercept[-1] == 0.0
        # the free columns did move: no fitted row keeps a true row's values
        moved = ~np.isin(start.expert_params[:, :2], truth.expert_params[:, :2])
        assert np.all(moved.any(axis=1))


def test_near_true_init_authors_recipe_by_hand():
    # one scalar draw per atom, added to all its free parameters; no weight
    # split; last fitted atom on the last true atom; every true atom used;
    # variance = true + |N(0, (0.005 n^-0.083... 0.25))|
    _, _, truth = make_moe_regression(10, 2, 3, random_state=0)
    n = 10_000
    for seed in range(20):
        start = near_true_init(truth, 5, recipe="authors", n_samples=n,
                               random_state=seed)
        rows_true = np.hstack([truth.gate_coef, truth.gate_intercept[:, None]])
        rows = np.hstack([start.gate_coef, start.gate_intercept[:, None]])
        # the atom of every fitted row: its expert row minus one scalar
        eta = start.expert_params
        owner = np.array([np.argmin(np.abs(eta[i] - truth.expert_params).sum(1))
                          for i in range(5)])
        assert owner[-1] == 2 and set(owner) == {0, 1, 2}
        d_eta = eta - truth.expert_params[owner]
        assert np.allclose(d_eta, d_eta[:, :1], rtol=0, atol=1e-12)
        d_gate = rows[:-1] - rows_true[owner[:-1]]
        assert np.allclose(d_gate, d_gate[:, :1], rtol=0, atol=1e-12)
        assert np.all(rows[-1] == 0.0)
        # standard deviations 0.005 n^-0.083 (gate), 0.05 n^-0.083 (experts):
        # 6 sd bounds every draw but with probability 2e-9
        assert np.abs(d_gate).max() < 6 * 0.005 * n**-0.083
        assert np.abs(d_eta).max() < 6 * 0.05 * n**-0.083
        d_var = start.variance - truth.variance[owner]
        assert np.all(d_var >= 0) and d_var.max() < 6 * 0.005 * n**-0.25


def test_near_true_init_validation():
    _, _, truth = make_moe_regression(10, 1, 2, random_state=0)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        near_true_init(truth, 3, recipe="authors")
    with pytest.raises(ValueError, match="recipe must be one of"):
        near_true_init(truth, 3, recipe="meteorits")
    with pytest.raises(ValueError, match="gating must be of the truth's family"):
        near_true_init(truth, 3, gating="normalized_sigmoid")


# ---------------------------------------------------- the truth's convention
def test_an_unpinned_truth_for_a_pinned_gate_is_refused():
    # non-zero slopes: no pinned form; losses comparing parameters refuse it
    _, _, truth = make_moe_regression(10, 1, 2, random_state=0,
                                      gating=NormalizedSigmoidGating(pin_last=False))
    truth = truth.replace(gate_coef=np.array([[1.0], [2.0]]))
    est = MixtureOfExpertsRegressor(3, gating=NormalizedSigmoidGating())
    with pytest.raises(ValueError, match=r"true_params.gate_coef\[-1\].*"
                                         r"convention A.2"):
        sample_size_study(est, truth, [50], 1, loss="D3", n_jobs=1)
    # a study of functions only is a misspecified study: allowed
    study = sample_size_study(est.set_params(max_iter=5), truth, [60], 1,
                              loss="regression", n_jobs=1, random_state=0)
    assert len(study.table) == 1


def test_the_printed_truth_of_experiment_c_is_converted_with_a_warning():
    # the printed (c): slopes 0, intercepts (-0.5, 0.5), unpinned; the same
    # distribution under A.2 has intercepts (-0.832, 0)
    printed = deepseek_truth("c").replace(
        gating=NormalizedSigmoidGating(pin_last=False),
        gate_intercept=np.array([-0.5, 0.5]))
    est = deepseek_estimator("c", max_iter=3)
    with pytest.warns(UserWarning, match=r"-> \[-0.83179656575118\d*, 0.0\]"):
        study = sample_size_study(est, printed, [60], 1, loss="D3", n_jobs=1,
                                  random_state=0)
    assert np.isfinite(study.table[0]["D3"])


# ------------------------------------------------------------------ rates
def _study(fun, ns=(100, 300, 1000, 3000), reps=4, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"n": n, "replication": r, "loss": fun(n) * rng.lognormal(0, 0.2)}
            for n in ns for r in range(reps)]
    return SampleSizeStudy(rows, ["loss"])


def test_rate_intervals():
    study = _study(lambda n: 2 * n**-0.5)
    ns, means, _ = study.summary()
    # the slope is the least-squares slope of log mean on log n
    lr = stats.linregress(np.log(ns), np.log(means))
    boot = study.rate(n_boot=500, random_state=0)
    assert boot["slope"] == pytest.approx(lr.slope, rel=1e-12)
    assert boot["ci_low"] < boot["slope"] < boot["ci_high"]
    assert boot["interval"] == "bootstrap" and boot["n_sizes"] == 4
    # the OLS interval is slope -+ t(0.975, m - 2) * its standard error
    ols = study.rate(interval="ols")
    t = stats.t.ppf(0.975, 2)
    assert ols["ci_low"] == pytest.approx(lr.slope - t * lr.stderr, rel=1e-10)
    assert ols["ci_high"] == pytest.approx(lr.slope + t * lr.stderr, rel=1e-10)
    # n_min keeps the sizes n >= n_min
    high = study.rate(n_min=1000, n_boot=0)
    lr_high = stats.linregress(np.log(ns[2:]), np.log(means[2:]))
    assert high["slope"] == pytest.approx(lr_high.slope, rel=1e-12)
    assert high["n_sizes"] == 2 and np.isnan(high["ci_low"])
    with pytest.raises(ValueError, match="at least two sample sizes"):
        study.rate(n_min=3000)
    with pytest.raises(ValueError, match="interval must be"):
        study.rate(interval="jackknife")


def test_bootstrap_interval_is_scipys_stratified_percentile_interval():
    study = _study(lambda n: np.sqrt(np.log(n) / n), seed=3)
    r = study.rate(scale="log_n_over_n", n_boot=300, random_state=7)
    ns, values = study._by_n("loss")
    x = np.log(np.log(ns) / ns)
    res = stats.bootstrap(
        tuple(values),
        lambda *s: np.polyfit(x, np.log([v.mean() for v in s]), 1)[0],
        n_resamples=300, method="percentile", paired=False, vectorized=False,
        rng=np.random.RandomState(7).randint(0, 2**31 - 1))
    assert r["ci_low"] == pytest.approx(res.confidence_interval.low, rel=1e-12)
    assert r["ci_high"] == pytest.approx(res.confidence_interval.high, rel=1e-12)
    # one replication per size: no bootstrap interval
    single = SampleSizeStudy([row for row in study.table
                              if row["replication"] == 0], ["loss"])
    assert np.isnan(single.rate(n_boot=100)["ci_low"])


def test_save_writes_csv_and_png(tmp_path):
    pytest.importorskip("matplotlib")
    study = _study(lambda n: n**-0.5)
    csv_path, png_path = study.save(tmp_path / "out", "s", scale="log_n")
    assert SampleSizeStudy.read_csv(csv_path).table == study.table
    with open(png_path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_study_records_collapsed_experts_instead_of_warning(tmp_path):
    # experiment (a) fits three routed experts to two true ones: with seed 0
    # the third replication at n = 100 ends with an empty expert (found by
    # running it); the study must record it, not warn once per fit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = paper_study("a", [100, 178], 3, n_jobs=1, random_state=0)
    leaked = [w for w in caught
              if issubclass(w.category, (EmptyExpertWarning,
                                         DegenerateFitWarning))]
    assert leaked == []
    empty = [row["empty_experts"] for row in study.table]
    assert all(isinstance(e, int) and 0 <= e <= 3 for e in empty)
    assert sum(empty) >= 1
    assert all(isinstance(row["coinciding"], bool) for row in study.table)
    path = tmp_path / "a.csv"
    study.to_csv(path)
    back = SampleSizeStudy.read_csv(path)
    assert [r["empty_experts"] for r in back.table] == empty
    assert ([r["coinciding"] for r in back.table]
            == [r["coinciding"] for r in study.table])
    # a table written before the two columns existed still reads
    old = tmp_path / "old.csv"
    old.write_text("n,replication,D1,n_iter,converged,seconds,init\n"
                   "100,0,0.5,12,True,0.1,near_true\n")
    table = SampleSizeStudy.read_csv(old).table
    assert table == [{"n": 100, "replication": 0, "D1": 0.5, "n_iter": 12,
                      "converged": True, "seconds": 0.1, "init": "near_true"}]
