"""Sample-size studies: reproducible tables and root-n slopes on tiny problems."""

import numpy as np
import pytest

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe.convergence import SampleSizeStudy, near_true_init, sample_size_study
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
                           "converged", "seconds"}
        for key in ("n", "replication", "D1", "regression", "n_iter", "converged"):
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
