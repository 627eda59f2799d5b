"""skmoe on Dask: partial_fit under dask-ml's Incremental, grid search on a cluster.

Dask is an optional extra (``pip install skmoe[dask]``, also in ``[test]``);
without it these tests are skipped.
"""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from skmoe import MixtureOfExpertsRegressor, NormalizedSigmoidGating, SoftmaxGating
from skmoe.datasets import make_moe_regression

da = pytest.importorskip("dask.array", reason="dask is an optional extra: "
                         "pip install 'skmoe[dask]'")
distributed = pytest.importorskip("dask.distributed",
                                  reason="dask.distributed is an optional extra: "
                                  "pip install 'skmoe[dask]'")


def _same_params(a, b):
    return all(np.array_equal(getattr(a, name), getattr(b, name))
               for name in ("gate_coef", "gate_intercept", "expert_params",
                            "variance"))


def test_incremental_equals_partial_fit_by_hand():
    wrappers = pytest.importorskip(
        "dask_ml.wrappers", reason="dask-ml is an optional extra: "
        "pip install 'skmoe[dask]'")
    X, y, _ = make_moe_regression(1200, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, random_state=0)
    # blocks in order (no shuffling), so the stream is the same as by hand
    inc = wrappers.Incremental(est, shuffle_blocks=False)
    inc.fit(da.from_array(X, chunks=(300, 2)), da.from_array(y, chunks=300))
    by_hand = MixtureOfExpertsRegressor(2, random_state=0)
    for start in range(0, 1200, 300):
        by_hand.partial_fit(X[start:start + 300], y[start:start + 300])
    assert inc.estimator_.n_batches_ == by_hand.n_batches_ == 4
    assert _same_params(inc.estimator_.params_, by_hand.params_)


@pytest.fixture
def dask_client():
    # Workers are threads of this process (processes=False): a process-based
    # LocalCluster took 17 s to start on the loaded 2-core test machine, the
    # in-process one 0.2 s. The tasks still go through the scheduler and the
    # joblib dask backend exactly as on a multi-machine cluster.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=False, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_grid_search_on_dask_cluster_equals_local(dask_client):
    joblib = pytest.importorskip("joblib")
    X, y, _ = make_moe_regression(300, 2, 2, random_state=0)
    est = MixtureOfExpertsRegressor(2, max_iter=200, random_state=0)
    grid = {"gating": [SoftmaxGating(), SoftmaxGating(temperature=0.5),
                       NormalizedSigmoidGating()]}
    assert len(dask_client.scheduler_info()["workers"]) == 2
    with joblib.parallel_config(backend="dask"):
        remote = GridSearchCV(est, grid, cv=KFold(3), n_jobs=-1).fit(X, y)
    local = GridSearchCV(est, grid, cv=KFold(3), n_jobs=1).fit(X, y)
    # every fit is deterministic (random_state fixed, serial reductions in the
    # kernels), so the scores are bit-for-bit equal wherever they are computed
    keys = [k for k in local.cv_results_ if k.endswith("test_score")]
    assert len(keys) == 6
    for key in keys:
        np.testing.assert_array_equal(remote.cv_results_[key],
                                      local.cv_results_[key])
    assert remote.best_index_ == local.best_index_
    assert _same_params(remote.best_estimator_.params_,
                        local.best_estimator_.params_)
