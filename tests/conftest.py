"""Shared fixtures: small generated data sets (session scope)."""

import os

import numpy as np
import pytest

from skmoe.datasets import make_moe_regression

# Seed-sensitivity sweeps: SKMOE_TESTS_SEED=any run the seeded tests with
# another seed (as scikit-learn's SKLEARN_TESTS_GLOBAL_RANDOM_SEED does).
GLOBAL_SEED = int(os.environ.get("SKMOE_TESTS_SEED", "0"))


@pytest.fixture(scope="session")
def small_data():
    """600 rows from a 3-expert softmax/linear model in 2 features."""
    return make_moe_regression(600, 2, 3, random_state=GLOBAL_SEED)


@pytest.fixture
def global_seed():
    return GLOBAL_SEED


@pytest.fixture(autouse=True)
def _seed_numpy_global_rng():
    """Seed NumPy's global generator before every test.

    A fit without ``random_state`` draws its start from NumPy's global
    generator (``check_random_state(None)``); seeding it per test makes such
    fits repeatable, independent of the order and the selection of the tests
    run (one unseeded fit once failed CI by drawing a rare start).
    ``SKMOE_TESTS_SEED`` changes this seed too.
    """
    np.random.seed(GLOBAL_SEED)  # noqa: NPY002 (the generator None draws from)


def assert_non_decreasing(values, rtol=1e-10):
    """Assert a log-likelihood sequence never decreases beyond round-off.

    The tolerance: EM steps are exact ascent steps, so any decrease can only
    come from floating-point summation over n samples, which is bounded by a
    small multiple of n * eps * |L|; rtol=1e-10 of |L| is far above that and
    far below any real decrease.
    """
    values = np.asarray(values)
    drops = values[:-1] - values[1:]
    scale = np.maximum(np.abs(values[:-1]), 1.0)
    assert np.all(drops <= rtol * scale), (drops / scale).max()
